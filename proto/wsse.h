/*
 * wsse.h - the WS-Security UsernameToken profile as ONVIF uses it:
 *
 *   PasswordDigest = Base64(SHA-1(nonce || Created || password))
 *
 * where nonce is the decoded bytes of the Nonce element and Created is the
 * text of the Created element exactly as sent. A token without both a
 * nonce and a Created time is refused (ONVIF Core requires both), so a
 * digest can never be replayed outside the clock window, and inside it
 * the caller's nonce cache catches it.
 *
 * Return convention (proto/proto.h): 0 or bytes on success, PROTO_E* codes
 * otherwise. Nothing here allocates, logs or looks at a clock: the caller
 * passes "now".
 */
#ifndef PROTO_WSSE_H
#define PROTO_WSSE_H

#include "proto.h"

#define WSSE_NONCE_MAX 64		/* raw bytes; ONVIF clients send 16 or 20 */
#define WSSE_DIGEST_LEN 29		/* 28 base64 characters and a NUL */

/* Decode a base64 Nonce. Returns its length, PROTO_EBADMSG or PROTO_ETOOBIG. */
int wsse_decode_nonce(const char *b64, unsigned char *out, size_t outlen);

/* Created as microseconds since 1970 UTC; a zone (Z or offset) is required. */
int wsse_parse_created(const char *created, int64_t *unix_us);

/* The expected digest for these inputs, base64, NUL-terminated. */
void wsse_password_digest(const unsigned char *nonce, size_t nonce_len, const char *created,
    const char *password, size_t password_len, char out[WSSE_DIGEST_LEN]);

enum wsse_result {
	WSSE_OK = 0,
	WSSE_MISSING_NONCE = -20,	/* no Nonce, or no Created */
	WSSE_BAD_NONCE = -21,		/* not base64, or too long */
	WSSE_BAD_CREATED = -22,		/* not an xs:dateTime with a zone */
	WSSE_STALE = -23,		/* Created outside the clock window */
	WSSE_MISMATCH = -24,		/* the digest is not the one the password gives */
};

/*
 * Check one token against the password: fields, clock window
 * (|created_us| gets the parsed time for the caller's replay cache), then
 * the digest, compared in constant time. |window_us| applies both ways
 * (a client clock ahead of ours is as stale as one behind).
 */
enum wsse_result wsse_verify(const char *nonce_b64, const char *created, const char *digest_b64,
    const char *password, size_t password_len, int64_t now_us, int64_t window_us,
    int64_t *created_us);

const char *wsse_strerror(enum wsse_result r);

#endif
