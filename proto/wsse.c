/*
 * wsse.c - UsernameToken digests (see wsse.h).
 *
 * The strict base64 decoder below only serves the nonce; proto/base64 (on
 * the proto branch) replaces it once that is merged.
 */
#include "soap.h"
#include "wsse.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Whole quanta only, '=' only as padding of the last one. */
static int
b64_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	size_t o = 0, pad = 0;

	if (len == 0 || len % 4 != 0)
		return PROTO_EBADMSG;
	if (in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	if ((len / 4) * 3 - pad > outlen)
		return PROTO_ETOOBIG;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		bool last = i + 4 == len;

		for (int k = 0; k < 4; k++) {
			bool padded = last && k >= 4 - (int)pad;

			v[k] = padded ? 0 : b64_value(in[i + k]);
			if (v[k] < 0)
				return PROTO_EBADMSG;
		}
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (!last || pad < 2)
			out[o++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		if (!last || pad < 1)
			out[o++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
	}
	return (int)o;
}

static void
b64_encode(const unsigned char *in, size_t len, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0) |
		    (i + 2 < len ? in[i + 2] : 0);

		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < len ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? tab[v & 63] : '=';
	}
	out[o] = '\0';
}

int
wsse_decode_nonce(const char *b64, unsigned char *out, size_t outlen)
{
	return b64_decode(b64, strlen(b64), out, outlen);
}

int
wsse_parse_created(const char *created, int64_t *unix_us)
{
	return soap_parse_datetime(created, unix_us);
}

void
wsse_password_digest(const unsigned char *nonce, size_t nonce_len, const char *created,
    const char *password, size_t password_len, char out[WSSE_DIGEST_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	/* SHA-1 because the profile says so; the nonce and clock window do the rest. */
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, nonce, nonce_len) != 1 ||
	    EVP_DigestUpdate(ctx, created, strlen(created)) != 1 ||
	    EVP_DigestUpdate(ctx, password, password_len) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 20) {
		/* No digest: an empty string never matches a received one. */
		out[0] = '\0';
	} else {
		b64_encode(md, mdlen, out);
	}
	EVP_MD_CTX_free(ctx);
	OPENSSL_cleanse(md, sizeof(md));
}

enum wsse_result
wsse_verify(const char *nonce_b64, const char *created, const char *digest_b64,
    const char *password, size_t password_len, int64_t now_us, int64_t window_us,
    int64_t *created_us)
{
	unsigned char nonce[WSSE_NONCE_MAX];
	char want[WSSE_DIGEST_LEN] = { 0 };
	int nlen;
	bool same;

	if (nonce_b64[0] == '\0' || created[0] == '\0')
		return WSSE_MISSING_NONCE;
	if ((nlen = wsse_decode_nonce(nonce_b64, nonce, sizeof(nonce))) <= 0)
		return WSSE_BAD_NONCE;
	if (wsse_parse_created(created, created_us) < 0)
		return WSSE_BAD_CREATED;
	if (*created_us < now_us - window_us || *created_us > now_us + window_us)
		return WSSE_STALE;
	wsse_password_digest(nonce, (size_t)nlen, created, password, password_len, want);
	same = strlen(digest_b64) == WSSE_DIGEST_LEN - 1 &&
	    CRYPTO_memcmp(want, digest_b64, WSSE_DIGEST_LEN - 1) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	return same ? WSSE_OK : WSSE_MISMATCH;
}

const char *
wsse_strerror(enum wsse_result r)
{
	switch (r) {
	case WSSE_OK:
		return "valid";
	case WSSE_MISSING_NONCE:
		return "the token has no nonce or no creation time";
	case WSSE_BAD_NONCE:
		return "the nonce is not valid base64 or too long";
	case WSSE_BAD_CREATED:
		return "the creation time is not a date and time with a zone";
	case WSSE_STALE:
		return "the creation time is outside the clock window";
	case WSSE_MISMATCH:
		return "the password digest does not match";
	}
	return "unknown";
}
