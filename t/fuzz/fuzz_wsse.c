/*
 * fuzz_wsse.c - proto/wsse.c: the input is split at NUL bytes into nonce,
 * Created, digest and password, and the token is verified at a fixed "now".
 *
 * Besides crashes, it aborts when a token verifies without a nonce or a
 * Created inside the window, and when the digest it would accept is not
 * the one wsse_password_digest() computes.
 */
#include "vssgate_build.h"

#include "proto/wsse.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_US 1284623445000000LL
#define WINDOW_US 300000000LL

/* Next NUL-terminated field of at most 127 bytes. */
static const char *
field(const uint8_t **p, const uint8_t *end, char *buf)
{
	size_t n = 0;

	while (*p < end && **p != '\0' && n < 127)
		buf[n++] = (char)*(*p)++;
	buf[n] = '\0';
	while (*p < end && **p != '\0')
		(*p)++;
	if (*p < end)
		(*p)++;
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char nonce[128], created[128], digest[128], password[128], want[WSSE_DIGEST_LEN];
	unsigned char raw[WSSE_NONCE_MAX];
	int64_t created_us = 0;
	enum wsse_result r;
	int n;

	field(&p, end, nonce);
	field(&p, end, created);
	field(&p, end, digest);
	field(&p, end, password);
	r = wsse_verify(nonce, created, digest, password, strlen(password), NOW_US, WINDOW_US,
	    &created_us);
	if (r != WSSE_OK)
		return 0;
	if (nonce[0] == '\0' || created[0] == '\0' || created_us < NOW_US - WINDOW_US ||
	    created_us > NOW_US + WINDOW_US)
		abort();
	n = wsse_decode_nonce(nonce, raw, sizeof(raw));
	if (n <= 0)
		abort();
	wsse_password_digest(raw, (size_t)n, created, password, strlen(password), want);
	if (strcmp(want, digest) != 0)
		abort();
	return 0;
}
