/* crypto.c - server key, sealed secrets, password hashes (see crypto.h). */
#include "gw.h"
#include "crypto.h"
#include "log.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEAL_VERSION 1
#define NONCE_LEN 12
#define TAG_LEN 16
#define SCRYPT_N 16384
#define SCRYPT_R 8
#define SCRYPT_P 1
#define SALT_LEN 16
#define HASH_LEN 32

static unsigned char server_key[CRYPTO_KEY_LEN];
static bool have_key;

void
crypto_set_key(const unsigned char key[CRYPTO_KEY_LEN])
{
	memcpy(server_key, key, CRYPTO_KEY_LEN);
	have_key = true;
}

bool
crypto_has_key(void)
{
	return have_key;
}

void
crypto_forget_key(void)
{
	OPENSSL_cleanse(server_key, sizeof(server_key));
	have_key = false;
}

int
crypto_load_key_file(const char *path, char *why, size_t whylen)
{
	unsigned char key[CRYPTO_KEY_LEN];
	char buf[130];
	size_t n;
	FILE *f = fopen(path, "r");
	int rc = -1;

	if (f == NULL) {
		snprintf(why, whylen, "cannot open secret key file %s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (gw_unhex(buf, key, sizeof(key)) < 0) {
		snprintf(why, whylen, "secret key file %s must hold exactly 64 hex digits", path);
		goto out;
	}
	crypto_set_key(key);
	rc = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

int
crypto_seal(const void *plain, size_t len, unsigned char *out)
{
	EVP_CIPHER_CTX *ctx = NULL;
	int n, total = -1;

	if (!have_key || len > CRYPTO_MAX_SECRET)
		return -1;
	out[0] = SEAL_VERSION;
	if (gw_random(out + 1, NONCE_LEN) < 0 || (ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, server_key, out + 1) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, out, 1) != 1 ||	/* the version is authenticated */
	    EVP_EncryptUpdate(ctx, out + 1 + NONCE_LEN, &n, plain, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, out + 1 + NONCE_LEN + n, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, out + 1 + NONCE_LEN + len) != 1)
		goto out;
	total = (int)(len + CRYPTO_SEAL_OVERHEAD);
out:
	EVP_CIPHER_CTX_free(ctx);
	return total;
}

int
crypto_open(const unsigned char *in, size_t inlen, char *out)
{
	EVP_CIPHER_CTX *ctx = NULL;
	size_t len;
	int n, rc = -1;

	if (!have_key || inlen < CRYPTO_SEAL_OVERHEAD || in[0] != SEAL_VERSION ||
	    inlen > CRYPTO_MAX_SECRET + CRYPTO_SEAL_OVERHEAD)
		return -1;
	len = inlen - CRYPTO_SEAL_OVERHEAD;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, server_key, in + 1) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, in, 1) != 1 ||
	    EVP_DecryptUpdate(ctx, (unsigned char *)out, &n, in + 1 + NONCE_LEN, (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
		(void *)(in + 1 + NONCE_LEN + len)) != 1 ||
	    EVP_DecryptFinal_ex(ctx, (unsigned char *)out + n, &n) != 1) {
		OPENSSL_cleanse(out, len);
		goto out;
	}
	out[len] = '\0';
	rc = (int)len;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int
crypto_open_secret(const unsigned char *sealed, size_t len, char out[CRYPTO_SECRET_BUF])
{
	if (sealed == NULL || len > CRYPTO_SECRET_BUF - 1)
		return -1;
	return crypto_open(sealed, len, out);
}

static int
scrypt(const char *password, const unsigned char *salt, uint64_t N, uint64_t r, uint64_t p,
    unsigned char *out)
{
	return EVP_PBE_scrypt(password, strlen(password), salt, SALT_LEN, N, r, p,
	    64ull * 1024 * 1024, out, HASH_LEN) == 1 ? 0 : -1;
}

int
crypto_password_hash(const char *password, char *out, size_t outlen)
{
	unsigned char salt[SALT_LEN], hash[HASH_LEN];
	char salt_hex[2 * SALT_LEN + 1], hash_hex[2 * HASH_LEN + 1];

	if (gw_random(salt, sizeof(salt)) < 0 || scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, hash) < 0)
		return -1;
	gw_hex(salt, sizeof(salt), salt_hex);
	gw_hex(hash, sizeof(hash), hash_hex);
	OPENSSL_cleanse(hash, sizeof(hash));
	if ((size_t)snprintf(out, outlen, "scrypt$%d$%d$%d$%s$%s", SCRYPT_N, SCRYPT_R, SCRYPT_P,
	    salt_hex, hash_hex) >= outlen)
		return -1;
	return 0;
}

bool
crypto_password_verify(const char *password, const char *stored)
{
	unsigned long long N, r, p;
	char salt_hex[2 * SALT_LEN + 1], hash_hex[2 * HASH_LEN + 1];
	unsigned char salt[SALT_LEN], want[HASH_LEN], got[HASH_LEN];
	bool ok;

	if (sscanf(stored, "scrypt$%llu$%llu$%llu$%32[0-9a-f]$%64[0-9a-f]", &N, &r, &p, salt_hex,
	    hash_hex) != 5)
		return false;
	if (N < 1024 || N > (1u << 20) || r == 0 || r > 32 || p == 0 || p > 16)
		return false;
	if (gw_unhex(salt_hex, salt, sizeof(salt)) < 0 || gw_unhex(hash_hex, want, sizeof(want)) < 0)
		return false;
	if (scrypt(password, salt, N, r, p, got) < 0)
		return false;
	ok = CRYPTO_memcmp(got, want, HASH_LEN) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return ok;
}

int
crypto_random_token(char *out, size_t chars)
{
	static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char rnd[256];

	if (chars > sizeof(rnd) || gw_random(rnd, chars) < 0)
		return -1;
	/* 56 symbols; 256 % 56 bias is small enough for 5.8 bits per character. */
	for (size_t i = 0; i < chars; i++)
		out[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
	out[chars] = '\0';
	OPENSSL_cleanse(rnd, sizeof(rnd));
	return 0;
}

void
crypto_sha256(const void *data, size_t len, unsigned char out[32])
{
	unsigned int n = 32;

	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

size_t
crypto_base64(const void *in, size_t len, char *out)
{
	return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

static bool
is_base64_digit(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '+' || c == '/';
}

int
crypto_unbase64(const char *in, size_t len, unsigned char *out, size_t outcap)
{
	int n, pad = 0;

	if (len % 4 != 0 || 3 * (len / 4) > outcap)
		return -1;
	if (len > 0 && in[len - 1] == '=')
		pad++;
	if (len > 1 && in[len - 2] == '=')
		pad++;
	/*
	 * EVP_DecodeBlock() reads '=' anywhere as a zero digit ("Zg=A", "====")
	 * and trims blanks around the input, which then makes the padding count
	 * above wrong: only the alphabet may come before the final '='s.
	 */
	for (size_t i = 0; i < len - (size_t)pad; i++)
		if (!is_base64_digit(in[i]))
			return -1;
	n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	if (n < 0)
		return -1;
	return n - pad;
}
