/*
 * digest.h - HTTP and RTSP authentication: Digest (RFC 7616, and the
 * RFC 2069 form without qop) and Basic (RFC 7617).
 *
 * Server side: digest_parse_authorization() reads an Authorization header
 * (it runs before anyone is authenticated, so it is strict and bounded:
 * every field has a limit, a repeated parameter is an error, unknown
 * parameters are skipped after their syntax is checked);
 * digest_ha1()/digest_response()/digest_verify() compute and check the
 * response from the password or from a stored HA1;
 * digest_challenge_format() writes a WWW-Authenticate challenge (realm
 * first, nonce second: live555 reads them with a fixed pattern). Send one
 * challenge per algorithm, each in its own WWW-Authenticate header; the
 * server picks the order (FFmpeg, GStreamer and live555 take the last
 * Digest challenge and know only MD5, Python's urllib takes the first).
 *
 * What stays with the caller: the realm must be ours, the nonce one we
 * issued and still fresh, nc must grow, the uri must be the request's
 * target, the algorithm one we offered; Basic only over TLS.
 *
 * Client side (the RTSP source adapter): digest_challenge_pick() keeps the
 * best challenge of the WWW-Authenticate headers of a 401, and
 * digest_authorization_format() answers it.
 *
 * Return convention (proto/proto.h):
 *   parsers      0 (digest_challenge_pick(): 1 when it replaced *best), or
 *                PROTO_EBADMSG (syntax, a missing or repeated field),
 *                PROTO_ETOOBIG (a field over its limit), PROTO_EUNSUPPORTED
 *                (another scheme, algorithm, qop=auth-int, userhash)
 *   computing    0, PROTO_EBADMSG (an HA1 of the wrong length), PROTO_ENOMEM
 *   formatters   bytes written (the output is NUL-terminated), PROTO_ETOOBIG,
 *                or PROTO_EBADMSG (a control character in a caller string)
 *
 * Hashes come from OpenSSL's EVP (libcrypto; no I/O). Nothing here allocates
 * except OpenSSL's digest context, freed before returning. Passwords are
 * only in the caller's memory and in struct digest_credentials (Basic):
 * clear it (OPENSSL_cleanse) when done.
 */
#ifndef PROTO_DIGEST_H
#define PROTO_DIGEST_H

#include "proto.h"

#define DIGEST_HEADER_MAX	4096	/* a whole header value */
#define DIGEST_USERNAME_MAX	128
#define DIGEST_PASSWORD_MAX	128	/* Basic */
#define DIGEST_REALM_MAX	128
#define DIGEST_NONCE_MAX	128
#define DIGEST_CNONCE_MAX	128
#define DIGEST_OPAQUE_MAX	128
#define DIGEST_URI_MAX		1024
#define DIGEST_PARAM_MAX	1024	/* the value of a parameter we skip */
#define DIGEST_HEX_MAX		64	/* SHA-256 in hex */

enum digest_scheme {
	DIGEST_SCHEME_NONE,
	DIGEST_SCHEME_BASIC,
	DIGEST_SCHEME_DIGEST,
};

enum digest_algo {
	DIGEST_MD5,
	DIGEST_MD5_SESS,
	DIGEST_SHA256,
	DIGEST_SHA256_SESS,
};

enum digest_qop {
	DIGEST_QOP_NONE,		/* RFC 2069 form */
	DIGEST_QOP_AUTH,
};

/* An Authorization header. Strings are NUL-terminated, unescaped copies. */
struct digest_credentials {
	enum digest_scheme scheme;
	enum digest_algo algo;		/* MD5 when absent */
	enum digest_qop qop;
	char username[DIGEST_USERNAME_MAX + 1];
	char password[DIGEST_PASSWORD_MAX + 1];	/* Basic only */
	char realm[DIGEST_REALM_MAX + 1];
	char nonce[DIGEST_NONCE_MAX + 1];
	char uri[DIGEST_URI_MAX + 1];
	char response[DIGEST_HEX_MAX + 1];	/* lowercased hex */
	char cnonce[DIGEST_CNONCE_MAX + 1];
	char opaque[DIGEST_OPAQUE_MAX + 1];
	char nc[9];			/* 8 hex digits, with qop */
	bool has_opaque;
};

int digest_parse_authorization(const char *value, size_t len, struct digest_credentials *out);

const char *digest_algo_name(enum digest_algo a);	/* "MD5", "SHA-256-sess"... */

/* H(username:realm:password) in lowercase hex, for |algo|'s hash (the
 * -sess variants give the same base HA1; the session part needs the
 * nonces and is done by digest_response()). */
int digest_ha1(enum digest_algo algo, const char *username, const char *realm,
    const char *password, char out[DIGEST_HEX_MAX + 1]);
/* The response |c| should carry for |method| ("GET", "DESCRIBE"...), from a
 * base HA1 in hex (as digest_ha1() gives it, or stored). */
int digest_response(const struct digest_credentials *c, const char *method, const char *ha1_hex,
    char out[DIGEST_HEX_MAX + 1]);
/* digest_response() compared in constant time with c->response. */
bool digest_verify(const struct digest_credentials *c, const char *method, const char *ha1_hex);
/* The same from the password, with c->username and c->realm (check the
 * realm is ours first); Basic credentials are compared with the password
 * in constant time. */
bool digest_verify_password(const struct digest_credentials *c, const char *method,
    const char *password);

/* Digest realm="..", nonce="..", qop="auth", opaque="..", algorithm=..[, stale=true]
 * (opaque may be NULL). */
int digest_challenge_format(const char *realm, const char *nonce, const char *opaque,
    enum digest_algo algo, bool stale, char *out, size_t outlen);
/* Basic realm=".." */
int digest_basic_challenge_format(const char *realm, char *out, size_t outlen);
/* The header lines of a 401: "WWW-Authenticate: Digest ...\r\n" for each of
 * the |nalgos| algorithms in order, then Basic when |allow_basic| (TLS). */
int digest_challenges_format(const char *realm, const char *nonce, const char *opaque,
    const enum digest_algo *algos, int nalgos, bool stale, bool allow_basic, char *out,
    size_t outlen);

/* --- client side ------------------------------------------------------ */

#define DIGEST_ALLOW_BASIC	0x1u	/* the caller's connection is TLS */

struct digest_challenge {
	enum digest_scheme scheme;	/* NONE until one was picked */
	enum digest_algo algo;
	bool qop_auth;			/* qop offered, "auth" among its options */
	bool stale;
	bool has_opaque;
	char realm[DIGEST_REALM_MAX + 1];
	char nonce[DIGEST_NONCE_MAX + 1];
	char opaque[DIGEST_OPAQUE_MAX + 1];
};

void digest_challenge_init(struct digest_challenge *best);
/*
 * Reads one WWW-Authenticate value, which may hold several challenges
 * ("Digest ..., Basic realm=.."), and keeps in *best the strongest usable
 * one seen so far: Digest SHA-256, SHA-256-sess, MD5, MD5-sess, then Basic
 * (only with DIGEST_ALLOW_BASIC). Challenges we cannot answer (other
 * schemes and algorithms, qop without "auth", no nonce) are skipped.
 */
int digest_challenge_pick(const char *value, size_t len, unsigned flags,
    struct digest_challenge *best);
/*
 * The Authorization value answering |c|: Basic, or Digest for |method| and
 * |uri| with qop=auth (nc, and a cnonce the caller drew at random) when
 * the challenge offered it, else the RFC 2069 form.
 */
int digest_authorization_format(const struct digest_challenge *c, const char *username,
    const char *password, const char *method, const char *uri, uint32_t nc, const char *cnonce,
    char *out, size_t outlen);

#endif
