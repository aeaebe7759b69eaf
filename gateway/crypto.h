/*
 * crypto.h - the server key and what it protects, and admin password hashes.
 *
 * Sealed secrets (grant passwords, source credentials) are
 *   version(1) | nonce(12) | AES-256-GCM ciphertext | tag(16)
 * with the server key from [security] secret_key_file. Admin passwords are
 * hashed with scrypt into a self-describing string
 *   scrypt$N$r$p$<salt hex>$<hash hex>
 * so the parameters can be raised later without breaking old hashes.
 */
#ifndef GW_CRYPTO_H
#define GW_CRYPTO_H

#include "gw.h"

#define CRYPTO_KEY_LEN 32
#define CRYPTO_SEAL_OVERHEAD (1 + 12 + 16)
#define CRYPTO_MAX_SECRET 1024
#define CRYPTO_HASH_STR_MAX 200

/* Read the key file (64 hex digits, optional trailing newline). */
int crypto_load_key_file(const char *path, char *why, size_t whylen) GW_MUSTCHECK;
void crypto_set_key(const unsigned char key[CRYPTO_KEY_LEN]);
bool crypto_has_key(void);
void crypto_forget_key(void);

/* |out| must have len + CRYPTO_SEAL_OVERHEAD bytes. Returns the sealed length or -1. */
int crypto_seal(const void *plain, size_t len, unsigned char *out) GW_MUSTCHECK;
/* |out| must have inlen bytes; the plain text is NUL-terminated. Returns its length or -1. */
int crypto_open(const unsigned char *in, size_t inlen, char *out) GW_MUSTCHECK;

/*
 * A sealed secret of the model (a grant password, a source password) in
 * clear into |out|, NUL-terminated: one size of buffer for them all, wiped
 * by the caller with OPENSSL_cleanse() as soon as it is used. Returns the
 * length, or -1 when it cannot be opened (too long, wrong key, tampered).
 */
#define CRYPTO_SECRET_BUF (CRYPTO_MAX_SECRET + CRYPTO_SEAL_OVERHEAD + 1)
int crypto_open_secret(const unsigned char *sealed, size_t len, char out[CRYPTO_SECRET_BUF])
    GW_MUSTCHECK;

/* Slow (tens of milliseconds): call from a worker thread on the request path. */
int crypto_password_hash(const char *password, char *out, size_t outlen) GW_MUSTCHECK;
bool crypto_password_verify(const char *password, const char *stored);

/* Random printable secrets: base32-like, no ambiguous characters. */
int crypto_random_token(char *out, size_t chars) GW_MUSTCHECK;

/* SHA-256 of |len| bytes into 32 bytes. */
void crypto_sha256(const void *data, size_t len, unsigned char out[32]);

/* Standard base64, NUL-terminated; |out| needs 4*((len+2)/3)+1 bytes. */
size_t crypto_base64(const void *in, size_t len, char *out);
/* Returns decoded length or -1; |out| needs 3*(len/4) bytes. */
int crypto_unbase64(const char *in, size_t len, unsigned char *out, size_t outcap);

#endif
