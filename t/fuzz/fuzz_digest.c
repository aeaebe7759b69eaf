/*
 * fuzz_digest.c - the Authorization parser (it runs before authentication)
 * and the client's challenge picker. A picked challenge is answered, and
 * our answer must parse and verify.
 */
#include "proto/digest.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void
server(const char *v, size_t n)
{
	static struct digest_credentials c;
	char resp[DIGEST_HEX_MAX + 1];
	const char *ha1;

	if (digest_parse_authorization(v, n, &c) != 0 || c.scheme != DIGEST_SCHEME_DIGEST)
		return;
	if (strlen(c.username) > DIGEST_USERNAME_MAX || strlen(c.uri) > DIGEST_URI_MAX)
		abort();
	ha1 = c.algo == DIGEST_SHA256 || c.algo == DIGEST_SHA256_SESS ?
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" :
	    "0123456789abcdef0123456789abcdef";
	if (digest_response(&c, "DESCRIBE", ha1, resp) != 0)
		abort();
	digest_verify(&c, "DESCRIBE", ha1);
	digest_verify_password(&c, "DESCRIBE", "secret");
}

static void
client(const char *v, size_t n)
{
	static struct digest_credentials back;
	static char out[4096];
	struct digest_challenge best;
	char ha1[DIGEST_HEX_MAX + 1];
	int len;

	digest_challenge_init(&best);
	if (digest_challenge_pick(v, n, DIGEST_ALLOW_BASIC, &best) <= 0)
		return;
	len = digest_authorization_format(&best, "user", "pass word", "PLAY", "rtsp://h/cameras/1",
	    7, "c0ffee", out, sizeof(out));
	if (len < 0)
		return;	/* too long for the buffer */
	if (digest_parse_authorization(out, (size_t)len, &back) != 0)
		abort();
	if (back.scheme == DIGEST_SCHEME_DIGEST) {
		digest_ha1(back.algo, "user", best.realm, "pass word", ha1);
		if (!digest_verify(&back, "PLAY", ha1))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	server((const char *)d, n);
	client((const char *)d, n);
	return 0;
}
