/*
 * wsse.c - UsernameToken digests (see wsse.h).
 */
#include "base64.h"
#include "soap.h"
#include "wsse.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

int
wsse_decode_nonce(const char *b64, unsigned char *out, size_t outlen)
{
	int n = base64_decode(b64, strlen(b64), out, outlen);

	return n == 0 ? PROTO_EBADMSG : n;
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
		base64_encode(md, mdlen, out, WSSE_DIGEST_LEN);
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
