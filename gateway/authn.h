/*
 * authn.h - who is asking, for every protocol that takes a grant's
 * credentials: RTSP (and so the HTTP tunnel and WebSocket), the ONVIF
 * services (HTTP Digest and WS-UsernameToken), snapshots, and whatever
 * comes later (replay, export downloads). One Digest server, one nonce
 * scheme, one failed-login limiter and one audit trail for all of them.
 *
 * Digest (RFC 7616, and RFC 2069 where a client knows nothing else).
 * Nonces are stateless: hex of (issue time, the connection they were
 * issued on, random bits, an HMAC of all that under a key drawn at
 * start-up), valid for [auth] nonce_lifetime on any connection. A response
 * with qop=auth must carry a nonce count above the last one seen with its
 * nonce (a table of [auth] nonce_count_slots nonces; one that fell out of
 * it is answered stale=true). A response without qop (GStreamer, live555)
 * has no count: it is taken only over RTSP, only on the connection its
 * nonce was issued to, and only from a client that has not used qop on
 * it. Basic only over TLS. The challenges are one per entry of [auth]
 * digest_algorithms, all with the same nonce.
 *
 * WS-UsernameToken: PasswordDigest, or PasswordText over TLS; Nonce and
 * Created required, Created within [auth] clock_window; the nonce must be
 * canonical base64, and a (user, nonce, Created) seen before is a replay.
 *
 * Failed logins (a wrong password, an unknown user) are limited per
 * (address, user name), per address and per user name, for all protocols
 * together (ratelimit.h, struct login_limit): an address cannot guess a
 * password over ONVIF around the limit of RTSP. After a wrong password a
 * connection is challenged with the same nonce again, so a player that
 * retries the wrong password on it sends the same response again: that
 * repeat is answered, and counted once (any other challenge has a fresh
 * nonce: media-stream-library starts its nonce count over at each one).
 * Failures in a row on one connection close it at [auth]
 * failures_per_connection.
 *
 * A response that is right but was made for another request of the same
 * client (media-stream-library sends each request with the previous
 * one's Authorization first), or repeats a nonce count, proves nothing
 * and costs nothing: the client gets a fresh challenge.
 *
 * Every failure and every refusal is logged and audited (auth.failed) one
 * by one up to [auth] failures_logged_per_second, then summed up once a
 * second. Policy denials (access.denied) go through authn_audit_denied().
 * No password, response or nonce ever reaches a log line or an answer.
 *
 * Threads: I/O thread. Return convention: gateway/ (see gw.h).
 */
#ifndef GW_AUTHN_H
#define GW_AUTHN_H

#include "gateway/gw.h"
#include "gateway/model.h"

struct soap_username_token;
struct http_request;

/* What authn keeps of a connection (embedded in the protocol's state, zeroed). */
struct authn_conn {
	uint64_t id;			/* drawn at the first challenge; binds RFC 2069 nonces */
	int64_t nonce_issued_us;	/* the connection's nonce: 0 until the first challenge */
	uint64_t nonce_rnd;
	uint64_t last_wrong;		/* a hash of the last wrong response, 0: none */
	bool keep_nonce;		/* the next challenge repeats the nonce (after a failure) */
	int failures_in_row;
	bool failure_logged;		/* one "authentication failed" line per connection */
	bool used_qop;			/* the client showed it can count: no RFC 2069 from it */
};

enum authn_result {
	AUTHN_OK,
	AUTHN_NONE,			/* no credentials: answer with a challenge */
	AUTHN_CHALLENGE,		/* nothing was tried (a stale or foreign nonce, another
					 * request's response, a replayed count): a fresh challenge */
	AUTHN_FAILED,			/* wrong credentials, counted: a challenge or a fault */
	AUTHN_CLOSE,			/* AUTHN_FAILED, and the connection failed too often: close it */
	AUTHN_LIMITED,			/* too many failures: refused unchecked, retry_after_s */
	AUTHN_MALFORMED,		/* the credentials cannot be read: 400 */
};

/* One request's credentials, as its protocol received them. */
struct authn_request {
	const char *protocol;		/* "rtsp", "onvif", "snapshot": logs and audit */
	const char *method;		/* the request method, for Digest */
	const char *target;		/* the request URI as sent */
	/* Digest uri= must be |target|; or, when set, satisfy this (RTSP: the same camera). */
	bool (*uri_ok)(const char *cred_uri, void *arg);
	void *uri_arg;
	/* Methods whose responses "for another request" prove the password (RTSP). */
	const char *const *other_methods;
	const char *authorization;	/* the Authorization header, or NULL */
	size_t authorization_len;	/* its length; 0: it is NUL-terminated */
	int nauthorization;		/* how many there were (more than one is malformed) */
	const struct soap_username_token *ut;	/* WS-Security, or NULL */
	bool tls;
	bool allow_rfc2069;		/* RTSP only */
	const char *peer;		/* "10.0.0.5:4410" */
	const char *ident;		/* log prefix of the connection */
	struct authn_conn *conn;	/* per-connection state, or NULL */
};

struct authn_outcome {
	enum authn_result result;
	struct gw_principal principal;	/* AUTHN_OK */
	bool stale;			/* challenge with stale=true */
	bool http;			/* the HTTP credentials (not a UsernameToken) decided: an
					 * HTTP service answers 401 with challenges */
	int retry_after_s;		/* AUTHN_LIMITED */
	const char *why;		/* for the log only; never sent */
};

int authn_init(void) GW_MUSTCHECK;
void authn_shutdown(void);

/* Check |req|'s credentials, count and audit the outcome. */
void authn_check(const struct authn_request *req, struct authn_outcome *out);

/*
 * The WWW-Authenticate header lines of a 401 ("WWW-Authenticate: ...\r\n"
 * each), with a fresh nonce bound to |conn| (may be NULL), Basic too over
 * TLS. Returns the length, or -1 when |outlen| is too small.
 */
int authn_challenge_lines(struct authn_conn *conn, bool tls, bool stale, char *out, size_t outlen);
/* The same challenges as headers of an HTTP response. */
void authn_http_challenges(struct http_request *req, struct authn_conn *conn, bool stale);

/*
 * A policy denial of an authenticated principal (access.denied): one log
 * line and one audit record, bounded in rate like failed logins.
 */
void authn_audit_denied(const char *protocol, const char *ident, const char *peer,
    const struct gw_principal *p, int64_t camera_id, const char *what, const char *why);

#endif
