/* fuzz_base64.c - the one-shot and incremental decoders must agree at any split. */
#include "proto/base64.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static uint8_t a[BASE64_DECODED_MAX(8192)], b[BASE64_DECODED_MAX(8192)];
	static char enc[BASE64_ENCODED_LEN(8192) + 1];
	struct base64_dec st;
	size_t split, got = 0;
	int whole, r1, r2;

	if (n < 1 || n > 8192)
		return 0;
	split = d[0] % n;
	d++, n--;
	base64_dec_init(&st);
	whole = base64_dec_push(&st, (const char *)d, n, a, sizeof(a));
	base64_dec_init(&st);
	r1 = base64_dec_push(&st, (const char *)d, split, b, sizeof(b));
	r2 = r1 < 0 ? r1 : base64_dec_push(&st, (const char *)d + split, n - split, b + r1,
	    sizeof(b) - (size_t)r1);
	if ((whole < 0) != (r2 < 0))
		abort();	/* a split changed the verdict */
	if (whole >= 0) {
		got = (size_t)r1 + (size_t)r2;
		if (got != (size_t)whole || memcmp(a, b, got) != 0)
			abort();	/* a split changed the bytes */
	}
	/* Encoding any bytes and decoding them gives them back. */
	if (base64_encode(d, n, enc, sizeof(enc)) < 0)
		abort();
	if (base64_decode(enc, strlen(enc), a, sizeof(a)) != (int)n || memcmp(a, d, n) != 0)
		abort();
	base64_decode((const char *)d, n, b, sizeof(b));
	return 0;
}
