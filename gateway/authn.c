/*
 * authn.c - the one authenticator of grant credentials (see authn.h).
 *
 * A check goes: read the credentials (MALFORMED) -> ask the limiter
 * (LIMITED, or a held retry) -> the credential itself (Digest, Basic, or a
 * UsernameToken) -> is its grant there -> count and log what failed.
 */
#include "gateway/gw.h"
#include "gateway/audit.h"
#include "gateway/authn.h"
#include "gateway/config.h"
#include "gateway/conn.h"
#include "gateway/crypto.h"
#include "gateway/http.h"
#include "gateway/log.h"
#include "gateway/loop.h"
#include "gateway/ratelimit.h"
#include "proto/digest.h"
#include "proto/soap.h"
#include "proto/wsse.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LIMIT_MAX_KEYS 100000		/* addresses, users and pairs counted at once */
#define NC_WAYS 8			/* the nonce-count table is 8-way set-associative */
#define NONCE_RAW 24			/* issued (8), connection (8), random (8) */
#define NONCE_MAC 16
#define NONCE_HEX (2 * (NONCE_RAW + NONCE_MAC))
#define MAX_ALGOS 4

/* What one credential check found, before it is counted and logged. */
enum verdict {
	V_OK,
	V_WRONG,			/* a wrong password or an unknown user: counted */
	V_REFUSED,			/* right or not, it cannot be taken (a dead grant, a stale
					 * Created): logged, not counted */
	V_RETRY,			/* nothing was tried: a fresh challenge */
	V_MALFORMED,
};

struct nc_entry {
	unsigned char key[16];
	int64_t issued_us;
	uint32_t nc;
	bool used;
};

struct ut_entry {
	unsigned char key[16];
	int64_t created_us;
	int32_t next;			/* next entry in the same bucket, -1 at the end */
	bool used;
};

static struct {
	unsigned char nonce_key[32];	/* drawn at start-up, never leaves the process */
	unsigned char dummy_sealed[64];	/* a sealed password for unknown users: the same work */
	int dummy_len;
	struct login_limit *limit;
	struct nc_entry *nc;		/* nc_sets x NC_WAYS */
	uint32_t nc_sets;
	int64_t nc_floor_us;		/* nonces issued at or before this and not in the table are stale */
	struct ut_entry *ut;		/* ring of accepted UsernameTokens */
	int32_t ut_size, ut_head;
	int32_t *ut_buckets;
	uint32_t ut_mask;
	int64_t ut_floor_us;
	int64_t window_start_us;	/* of the failures logged one by one */
	int logged;
	uint64_t skipped, skipped_denials;
	char skipped_protocol[16];
} A;

/* --- nonces ---------------------------------------------------------------------- */

static void
nonce_mac(const unsigned char raw[NONCE_RAW], unsigned char mac[NONCE_MAC])
{
	unsigned char buf[NONCE_RAW + sizeof(A.nonce_key)], h[32];

	memcpy(buf, A.nonce_key, sizeof(A.nonce_key));
	memcpy(buf + sizeof(A.nonce_key), raw, NONCE_RAW);
	crypto_sha256(buf, sizeof(buf), h);
	memcpy(mac, h, NONCE_MAC);
	OPENSSL_cleanse(buf, sizeof(buf));
}

static uint64_t
conn_id(struct authn_conn *c)
{
	if (c == NULL)
		return 0;
	while (c->id == 0 && gw_random(&c->id, sizeof(c->id)) == 0)
		;
	return c->id;
}

static bool
nonce_stale(int64_t issued_us)
{
	return gw_mono_us() - issued_us > gw.cfg->auth_nonce_lifetime_ms * 1000;
}

/*
 * After a failure a connection is challenged with its last nonce (kept as
 * its parts; the text is made again) unless it is stale, so that a
 * client's retry of the same wrong password repeats its response; every
 * other challenge has a fresh nonce.
 */
static void
make_nonce(struct authn_conn *c, bool fresh, char out[NONCE_HEX + 1])
{
	unsigned char raw[NONCE_RAW + NONCE_MAC];
	int64_t issued = gw_mono_us();
	uint64_t id = conn_id(c), rnd = 0;
	bool keep = c != NULL && c->keep_nonce && c->nonce_issued_us != 0 && !fresh &&
	    !nonce_stale(c->nonce_issued_us);

	if (c != NULL)
		c->keep_nonce = false;
	if (keep) {
		issued = c->nonce_issued_us;
		rnd = c->nonce_rnd;
	} else if (gw_random(&rnd, sizeof(rnd)) < 0) {
		rnd = (uint64_t)gw_mono_now_us();
	}
	if (c != NULL) {
		c->nonce_issued_us = issued;
		c->nonce_rnd = rnd;
	}
	memcpy(raw, &issued, 8);
	memcpy(raw + 8, &id, 8);
	memcpy(raw + 16, &rnd, 8);
	nonce_mac(raw, raw + NONCE_RAW);
	gw_hex(raw, sizeof(raw), out);
}

/* 1: ours and fresh, 0: ours but stale, -1: not ours. */
static int
check_nonce(const char *nonce, int64_t *issued, uint64_t *conn)
{
	unsigned char raw[NONCE_RAW + NONCE_MAC], mac[NONCE_MAC];

	if (strlen(nonce) != NONCE_HEX || gw_unhex(nonce, raw, sizeof(raw)) < 0)
		return -1;
	nonce_mac(raw, mac);
	if (!gw_streq_ct(mac, raw + NONCE_RAW, NONCE_MAC))
		return -1;
	memcpy(issued, raw, 8);
	memcpy(conn, raw + 8, 8);
	return nonce_stale(*issued) ? 0 : 1;
}

/* --- nonce counts ------------------------------------------------------------------ */

enum nc_verdict { NC_OK, NC_REPLAY, NC_FORGOTTEN };

static struct nc_entry *
nc_slot(struct nc_entry *set, const unsigned char key[16], int64_t issued, int64_t now)
{
	struct nc_entry *victim = NULL;
	int64_t lifetime = gw.cfg->auth_nonce_lifetime_ms * 1000;

	for (int i = 0; i < NC_WAYS; i++) {
		struct nc_entry *e = &set[i];

		if (!e->used || now - e->issued_us > lifetime)
			return e;	/* free, or its nonce is stale anyway */
		if (victim == NULL || e->issued_us < victim->issued_us)
			victim = e;
	}
	/* The oldest goes; no nonce issued before it can be told from a replay any more. */
	if (victim->issued_us > A.nc_floor_us)
		A.nc_floor_us = victim->issued_us;
	(void)key;
	(void)issued;
	return victim;
}

/* Is |nc| above the last count seen with this nonce? */
static enum nc_verdict
nc_check(const char *nonce, int64_t issued, const char *nc_hex)
{
	unsigned char h[32];
	uint32_t nc = (uint32_t)strtoul(nc_hex, NULL, 16), set;
	struct nc_entry *s, *e;

	crypto_sha256(nonce, strlen(nonce), h);
	memcpy(&set, h + 16, sizeof(set));
	s = &A.nc[(set % A.nc_sets) * NC_WAYS];
	for (int i = 0; i < NC_WAYS; i++)
		if (s[i].used && memcmp(s[i].key, h, 16) == 0) {
			if (nc <= s[i].nc)
				return NC_REPLAY;
			s[i].nc = nc;
			return NC_OK;
		}
	if (issued <= A.nc_floor_us)
		return NC_FORGOTTEN;
	if (nc < 1)
		return NC_REPLAY;
	e = nc_slot(s, h, issued, gw_mono_us());
	memcpy(e->key, h, 16);
	e->nc = nc;
	e->issued_us = issued;
	e->used = true;
	return NC_OK;
}

/* --- the UsernameToken replay cache -------------------------------------------------- */

static uint32_t
ut_bucket(const unsigned char key[16])
{
	uint32_t h;

	memcpy(&h, key, sizeof(h));	/* the key is a hash already */
	return h & A.ut_mask;
}

static void
ut_unlink(int32_t idx)
{
	int32_t *pp = &A.ut_buckets[ut_bucket(A.ut[idx].key)];

	while (*pp != -1 && *pp != idx)
		pp = &A.ut[*pp].next;
	if (*pp == idx)
		*pp = A.ut[idx].next;
}

/*
 * A replay repeats the nonce's bytes and the Created time (the digest
 * covers both), whatever base64 spelling it is sent in; a client that keeps
 * its nonce and sends a fresh Created (libonvif) is not replaying.
 */
static void
ut_key(const char *user, const unsigned char *nonce, size_t nlen, int64_t created_us,
    unsigned char key[16])
{
	unsigned char buf[SOAP_UT_FIELD_MAX + 1 + WSSE_NONCE_MAX + 8], h[32];
	size_t ulen = strnlen(user, SOAP_UT_FIELD_MAX), n = 0;

	memcpy(buf, user, ulen);
	n = ulen;
	buf[n++] = '\0';
	memcpy(buf + n, nonce, nlen);
	n += nlen;
	memcpy(buf + n, &created_us, 8);
	n += 8;
	crypto_sha256(buf, n, h);
	memcpy(key, h, 16);
}

/* false when the token must be refused as a replay (or as possibly one). */
static bool
ut_fresh(const unsigned char key[16], int64_t created_us, int64_t now_us)
{
	struct ut_entry *e;

	if (created_us <= A.ut_floor_us)
		return false;
	for (int32_t i = A.ut_buckets[ut_bucket(key)]; i != -1; i = A.ut[i].next)
		if (memcmp(A.ut[i].key, key, 16) == 0)
			return false;
	e = &A.ut[A.ut_head];
	if (e->used) {
		/* Forgetting a token inside the clock window: refuse everything up to it from now on. */
		ut_unlink(A.ut_head);
		if (e->created_us >= now_us - gw.cfg->auth_clock_window_ms * 1000 && e->created_us > A.ut_floor_us)
			A.ut_floor_us = e->created_us;
	}
	memcpy(e->key, key, 16);
	e->created_us = created_us;
	e->used = true;
	e->next = A.ut_buckets[ut_bucket(key)];
	A.ut_buckets[ut_bucket(key)] = A.ut_head;
	A.ut_head = (A.ut_head + 1) % A.ut_size;
	return true;
}

/* --- credentials ------------------------------------------------------------------------ */

/*
 * The grant password of |username| in clear; for a user we do not know, a
 * dummy one opened the same way, so both cost the same. *known says which.
 */
static void
open_password(const char *username, char out[CRYPTO_SECRET_BUF], bool *known)
{
	const struct model_credential *c = gw.model ? model_credential(gw.model, username) : NULL;

	*known = c != NULL && crypto_open_secret(c->password_enc, c->password_enc_len, out) >= 0;
	if (!*known && crypto_open_secret(A.dummy_sealed, (size_t)A.dummy_len, out) < 0)
		snprintf(out, CRYPTO_SECRET_BUF, "-");
}

/* The grant behind a right password: is it there, and alive (any level may list)? */
static enum verdict
principal_of(const char *username, struct gw_principal *p, const char **why)
{
	struct policy_request req = { .action = ACT_LIST_CAMERAS, .now_us = gw_wall_us() };
	struct policy_decision d;

	if (gw.model == NULL || !model_principal(gw.model, username, p)) {
		*why = "unknown user";
		return V_WRONG;		/* a credential without its grant is an unknown user */
	}
	d = model_authorize_grant(p, &req);
	if (!d.allow) {
		*why = policy_reason_str(d.reason);
		return V_REFUSED;
	}
	return V_OK;
}

/* --- Digest and Basic ---------------------------------------------------------------------- */

static bool
uri_matches(const struct authn_request *rq, const char *uri)
{
	return rq->uri_ok ? rq->uri_ok(uri, rq->uri_arg) : strcmp(uri, rq->target) == 0;
}

/*
 * A response that does not fit this request but was made with the
 * password for another one (another method, or another uri): only our
 * nonce can be in it, so a match proves the client knows the password.
 */
static bool
made_for_another_request(const struct authn_request *rq, const struct digest_credentials *c,
    const char *ha1)
{
	static const char *const only_this[] = { NULL };
	const char *const *methods = rq->other_methods ? rq->other_methods : only_this;
	bool same_uri = uri_matches(rq, c->uri);

	if (!same_uri && digest_verify(c, rq->method, ha1))
		return true;
	for (; *methods != NULL; methods++)
		if (strcmp(*methods, rq->method) != 0 && digest_verify(c, *methods, ha1))
			return true;
	return false;
}

static enum verdict
check_basic(const struct authn_request *rq, const struct digest_credentials *c, const char **why)
{
	char password[CRYPTO_SECRET_BUF];
	bool known, ok;

	if (!rq->tls) {
		*why = "Basic authentication is only accepted over TLS";
		return V_RETRY;
	}
	open_password(c->username, password, &known);
	ok = digest_verify_password(c, rq->method, password) && known;
	OPENSSL_cleanse(password, sizeof(password));
	if (!ok)
		*why = "wrong user name or password";
	return ok ? V_OK : V_WRONG;
}

/* Is this response for a challenge of ours, and may its form be taken here? */
static enum verdict
digest_preconditions(const struct authn_request *rq, const struct digest_credentials *c,
    int64_t *issued, bool *stale, const char **why)
{
	uint64_t bound = 0;
	int fresh;

	if (strcmp(c->realm, gw.cfg->realm) != 0 || (c->algo != DIGEST_MD5 && c->algo != DIGEST_SHA256)) {
		*why = "the Digest response is not for our realm or algorithms";
		return V_RETRY;
	}
	if ((fresh = check_nonce(c->nonce, issued, &bound)) <= 0) {
		*why = fresh == 0 ? "stale Digest nonce" : "a Digest nonce we did not issue";
		*stale = fresh == 0;
		return V_RETRY;
	}
	if (c->qop == DIGEST_QOP_NONE && (!rq->allow_rfc2069 || rq->conn == NULL ||
	    bound != rq->conn->id || rq->conn->used_qop)) {
		*why = "a Digest response without qop, where only qop=auth is taken";
		return V_RETRY;
	}
	return V_OK;
}

static enum verdict
check_digest(const struct authn_request *rq, const struct digest_credentials *c, bool *stale,
    const char **why)
{
	char password[CRYPTO_SECRET_BUF], ha1[DIGEST_HEX_MAX + 1];
	enum verdict v;
	int64_t issued = 0;
	bool known;

	if ((v = digest_preconditions(rq, c, &issued, stale, why)) != V_OK)
		return v;
	open_password(c->username, password, &known);
	v = V_WRONG;
	*why = "wrong user name or password";
	if (digest_ha1(c->algo, c->username, c->realm, password, ha1) == 0) {
		if (uri_matches(rq, c->uri) && digest_verify(c, rq->method, ha1))
			v = known ? V_OK : V_WRONG;
		else if (made_for_another_request(rq, c, ha1) && known)
			v = V_RETRY, *why = "a response made for another request";
	}
	OPENSSL_cleanse(password, sizeof(password));
	OPENSSL_cleanse(ha1, sizeof(ha1));
	if (v != V_OK || c->qop == DIGEST_QOP_NONE)
		return v;
	switch (nc_check(c->nonce, issued, c->nc)) {
	case NC_REPLAY:
		*why = "a repeated Digest nonce count";
		return V_RETRY;
	case NC_FORGOTTEN:
		*why = "a Digest nonce too old to be told from a replay";
		*stale = true;
		return V_RETRY;
	default:
		if (rq->conn)
			rq->conn->used_qop = true;
		return V_OK;
	}
}

/* --- WS-UsernameToken ---------------------------------------------------------------------- */

/* PasswordText: only where the channel is encrypted, and still with a nonce and Created. */
static enum wsse_result
verify_text(const struct soap_username_token *ut, const char *password, bool tls,
    int64_t *created_us)
{
	int64_t now = gw_wall_us(), window = gw.cfg->auth_clock_window_ms * 1000;
	size_t plen = strlen(password);

	if (ut->nonce[0] == '\0' || ut->created[0] == '\0')
		return WSSE_MISSING_NONCE;
	if (wsse_parse_created(ut->created, created_us) < 0)
		return WSSE_BAD_CREATED;
	if (*created_us < now - window || *created_us > now + window)
		return WSSE_STALE;
	if (!tls)
		return WSSE_MISMATCH;
	return strlen(ut->password) == plen && gw_streq_ct(ut->password, password, plen) ? WSSE_OK :
	    WSSE_MISMATCH;
}

static enum verdict
check_token(const struct authn_request *rq, const char **why)
{
	const struct soap_username_token *ut = rq->ut;
	char password[CRYPTO_SECRET_BUF];
	unsigned char nonce[WSSE_NONCE_MAX], key[16];
	int64_t created_us = 0;
	enum wsse_result res;
	int nlen;
	bool known;

	open_password(ut->username, password, &known);
	if (ut->password_digest)
		res = wsse_verify(ut->nonce, ut->created, ut->password, password, strlen(password),
		    gw_wall_us(), gw.cfg->auth_clock_window_ms * 1000, &created_us);
	else
		res = verify_text(ut, password, rq->tls, &created_us);
	OPENSSL_cleanse(password, sizeof(password));
	if (res == WSSE_MISMATCH || (res == WSSE_OK && !known)) {
		*why = !known ? "unknown user" : wsse_strerror(res);
		return V_WRONG;
	}
	if (res != WSSE_OK) {
		*why = wsse_strerror(res);
		return V_REFUSED;	/* a clock or a token out of shape, not a guess */
	}
	nlen = wsse_decode_nonce(ut->nonce, nonce, sizeof(nonce));
	ut_key(ut->username, nonce, nlen > 0 ? (size_t)nlen : 0, created_us, key);
	if (!ut_fresh(key, created_us, gw_wall_us())) {
		*why = "replayed nonce";
		return V_REFUSED;
	}
	return V_OK;
}

/* --- counting, logging, auditing --------------------------------------------------------- */

static void
audit_failure(const struct authn_request *rq, const char *user, const char *why)
{
	char actor[96];
	json_t *detail = json_pack("{s:s, s:s}", "protocol", rq->protocol, "reason", why);
	struct audit_entry e = {
		.actor = actor, .action = "auth.failed", .outcome = "denied", .peer = rq->peer,
		.detail = detail,
	};

	/* The user name a client claims is not a secret; passwords and nonces never go here. */
	snprintf(actor, sizeof(actor), "user:%.64s", user[0] ? user : "-");
	audit_record(&e);
	json_decref(detail);
}

static void
flush_summary(int64_t now)
{
	json_t *detail;
	struct audit_entry e = { .actor = "vssgate", .action = "auth.failed", .outcome = "denied" };

	if (now - A.window_start_us < 1000000)
		return;
	if (A.skipped > 0) {
		log_warn("%llu more failed %s logins in the last second were not logged one by one",
		    (unsigned long long)A.skipped, A.skipped_protocol);
		detail = json_pack("{s:I}", "failures_not_listed", (json_int_t)A.skipped);
		e.detail = detail;
		audit_record(&e);
		json_decref(detail);
	}
	if (A.skipped_denials > 0) {
		log_warn("%llu more access denials in the last second were not logged one by one",
		    (unsigned long long)A.skipped_denials);
		detail = json_pack("{s:I}", "denials_not_listed", (json_int_t)A.skipped_denials);
		e.action = "access.denied";
		e.detail = detail;
		audit_record(&e);
		json_decref(detail);
	}
	A.window_start_us = now;
	A.logged = 0;
	A.skipped = A.skipped_denials = 0;
}

/* May one more failure or denial be logged and audited one by one in this second? */
static bool
may_record(void)
{
	flush_summary(gw_mono_us());
	if (A.logged >= gw.cfg->auth_failures_logged_per_second)
		return false;
	A.logged++;
	return true;
}

static void
display_name(const char *protocol, char out[16])
{
	snprintf(out, 16, "%s", strcmp(protocol, "rtsp") == 0 ? "RTSP" :
	    strcmp(protocol, "onvif") == 0 ? "ONVIF" : protocol);
}

/*
 * Log and audit a failure, within the rate. A refusal of the limiter
 * (nothing was checked) is audited the same way, but its log line is the
 * one warning per address of log_refusal().
 */
static void
record_failure(const struct authn_request *rq, const char *user, const char *why, bool checked)
{
	if (rq->conn != NULL && rq->conn->failure_logged)
		return;		/* a client looping on one connection is logged once */
	if (!may_record()) {
		A.skipped++;
		display_name(rq->protocol, A.skipped_protocol);
		return;
	}
	if (rq->conn != NULL)
		rq->conn->failure_logged = true;
	if (checked)
		log_msg(LOG_LVL_INFO, rq->ident, "authentication failed for user \"%.64s\": %s", user, why);
	else
		log_debug("%s: login of user \"%.64s\" refused: %s", rq->ident, user, why);
	audit_failure(rq, user, why);
}

static void
log_refusal(const struct authn_request *rq, const char *addr, int retry_s)
{
	char name[16];

	if (!login_limit_first_refusal(A.limit, addr, gw_mono_us()))
		return;
	display_name(rq->protocol, name);
	log_msg(LOG_LVL_WARN, rq->ident, "refusing %s logins from %s for %d s: %d failed in a minute "
	    "(or the user, or more addresses than can be counted, failed too often)", name, addr,
	    retry_s, gw.cfg->auth_failures_per_address);
}

static const struct login_limit_cfg *
limit_cfg(void)
{
	static struct login_limit_cfg c;

	c = (struct login_limit_cfg){
		.per_pair = gw.cfg->auth_failures_per_user_and_address,
		.per_address = gw.cfg->auth_failures_per_address,
		.per_user = gw.cfg->auth_failures_per_user,
	};
	return &c;
}

/* A failure on a connection: the last allowed in a row closes it. */
static enum authn_result
failed_on_conn(const struct authn_request *rq, const char *user)
{
	if (rq->conn != NULL)
		rq->conn->keep_nonce = true;
	if (rq->conn == NULL || ++rq->conn->failures_in_row < gw.cfg->auth_failures_per_connection)
		return AUTHN_FAILED;
	log_msg(LOG_LVL_INFO, rq->ident, "%d failed logins in a row, the last as user \"%.64s\"; closing",
	    rq->conn->failures_in_row, user);
	return AUTHN_CLOSE;
}

/* --- the check ---------------------------------------------------------------------------- */

struct creds {
	bool http, token;
	struct digest_credentials dc;
	const char *user;
	uint64_t fingerprint;		/* of the user and the response or token digest */
};

static uint64_t
creds_fingerprint(const struct creds *cr, const struct authn_request *rq)
{
	unsigned char h[32];
	char buf[2 * SOAP_UT_FIELD_MAX + DIGEST_USERNAME_MAX + DIGEST_HEX_MAX + DIGEST_PASSWORD_MAX + 4];
	uint64_t v;
	int n = snprintf(buf, sizeof(buf), "%s\n%s\n%s\n%s", cr->user,
	    cr->http ? cr->dc.response : "", cr->http ? cr->dc.password : "",
	    cr->token ? rq->ut->password : "");

	crypto_sha256(buf, (size_t)GW_MIN((size_t)GW_MAX(n, 0), sizeof(buf) - 1), h);
	OPENSSL_cleanse(buf, sizeof(buf));
	memcpy(&v, h, sizeof(v));
	return v | 1;	/* never 0, which means "none" */
}

/* The very response this connection already failed with: a client's retry, not a new guess. */
static bool
repeated_failure(const struct authn_request *rq, const struct creds *cr)
{
	return rq->conn != NULL && rq->conn->last_wrong == cr->fingerprint;
}

static enum verdict
read_creds(const struct authn_request *rq, struct creds *cr, const char **why)
{
	memset(cr, 0, sizeof(*cr));
	cr->user = "";
	if (rq->authorization != NULL) {
		size_t len = rq->authorization_len ? rq->authorization_len : strlen(rq->authorization);

		if (rq->nauthorization != 1 || digest_parse_authorization(rq->authorization, len, &cr->dc) < 0) {
			*why = "malformed or unsupported Authorization header";
			return V_MALFORMED;
		}
		cr->http = true;
		cr->user = cr->dc.username;
	}
	if (rq->ut != NULL && rq->ut->present) {
		if (rq->ut->malformed) {
			*why = "malformed UsernameToken";
			return V_MALFORMED;
		}
		cr->token = true;
		cr->user = rq->ut->username;
	}
	return V_OK;
}

/*
 * HTTP credentials are checked first when both are present (ONVIF Core:
 * validate HTTP, then WS); then both must name the same user.
 */
static enum verdict
check_creds(const struct authn_request *rq, struct creds *cr, struct authn_outcome *out)
{
	enum verdict v = V_OK;

	if (cr->http) {
		out->http = true;
		v = cr->dc.scheme == DIGEST_SCHEME_BASIC ? check_basic(rq, &cr->dc, &out->why) :
		    check_digest(rq, &cr->dc, &out->stale, &out->why);
		if (v != V_OK)
			return v;
		out->http = !cr->token;
		if (cr->token && strcmp(cr->dc.username, rq->ut->username) != 0) {
			out->why = "HTTP and WS-Security credentials name different users";
			return V_WRONG;
		}
	}
	if (v == V_OK && cr->token)
		v = check_token(rq, &out->why);
	if (v == V_OK)
		v = principal_of(cr->user, &out->principal, &out->why);
	return v;
}

static enum authn_result
settle(const struct authn_request *rq, enum verdict v, const char *user, uint64_t fingerprint,
    const char *addr, struct authn_outcome *out)
{
	switch (v) {
	case V_OK:
		if (rq->conn)
			rq->conn->failures_in_row = 0;
		return AUTHN_OK;
	case V_RETRY:
		log_debug("%s: a fresh challenge for user \"%.64s\": %s", rq->ident, user, out->why);
		return AUTHN_CHALLENGE;
	case V_MALFORMED:
		log_msg(LOG_LVL_INFO, rq->ident, "refused: %s", out->why);
		return AUTHN_MALFORMED;
	case V_WRONG:
		login_limit_count(A.limit, addr, user, gw_mono_us());
		if (rq->conn)
			rq->conn->last_wrong = fingerprint;
		/* fall through */
	default:
		record_failure(rq, user, out->why, true);
		return failed_on_conn(rq, user);
	}
}

void
authn_check(const struct authn_request *rq, struct authn_outcome *out)
{
	char addr[64];
	struct creds cr;
	enum verdict v;

	memset(out, 0, sizeof(*out));
	if (rq->authorization == NULL && (rq->ut == NULL || !rq->ut->present)) {
		out->result = AUTHN_NONE;
		return;
	}
	ratelimit_peer_address(rq->peer, addr, sizeof(addr));
	v = read_creds(rq, &cr, &out->why);
	out->http = rq->authorization != NULL && !cr.token;
	if (v == V_OK)
		cr.fingerprint = creds_fingerprint(&cr, rq);
	if (v == V_OK && repeated_failure(rq, &cr)) {
		out->why = "the same wrong response again";
		out->result = failed_on_conn(rq, cr.user);
		goto out;
	}
	if (v == V_OK) {
		switch (login_limit_ask(A.limit, limit_cfg(), addr, cr.user, gw_mono_us(), &out->retry_after_s)) {
		case LOGIN_REFUSE:
			log_refusal(rq, addr, out->retry_after_s);
			out->why = "too many failed logins";
			record_failure(rq, cr.user, out->why, false);
			out->result = AUTHN_LIMITED;
			goto out;
		default:
			v = check_creds(rq, &cr, out);
		}
	}
	out->result = settle(rq, v, cr.user, cr.fingerprint, addr, out);
out:
	OPENSSL_cleanse(&cr, sizeof(cr));
}

/* --- challenges ---------------------------------------------------------------------------- */

/* [auth] digest_algorithms: "MD5, SHA-256, MD5" -> the challenges in that order. */
static int
algorithms(enum digest_algo out[MAX_ALGOS])
{
	const char *p = gw.cfg->auth_digest_algorithms;
	int n = 0;

	while (*p && n < MAX_ALGOS) {
		size_t len;

		p += strspn(p, " ,");
		len = strcspn(p, " ,");
		if (len == 3 && strncasecmp(p, "MD5", 3) == 0)
			out[n++] = DIGEST_MD5;
		else if (len == 7 && strncasecmp(p, "SHA-256", 7) == 0)
			out[n++] = DIGEST_SHA256;
		p += len;
	}
	if (n == 0)
		out[n++] = DIGEST_MD5;
	return n;
}

int
authn_challenge_lines(struct authn_conn *conn, bool tls, bool stale, char *out, size_t outlen)
{
	char nonce[NONCE_HEX + 1];
	enum digest_algo algos[MAX_ALGOS];
	int n = algorithms(algos);

	make_nonce(conn, stale, nonce);
	n = digest_challenges_format(gw.cfg->realm, nonce, NULL, algos, n, stale, tls, out, outlen);
	return n < 0 ? -1 : n;
}

void
authn_http_challenges(struct http_request *req, struct authn_conn *conn, bool stale)
{
	char nonce[NONCE_HEX + 1], value[512];
	enum digest_algo algos[MAX_ALGOS];
	int n = algorithms(algos);
	bool tls = req->conn != NULL && req->conn->tls;

	make_nonce(conn, stale, nonce);
	for (int i = 0; i < n; i++)
		if (digest_challenge_format(gw.cfg->realm, nonce, NULL, algos[i], stale, value,
		    sizeof(value)) > 0)
			http_add_header(req, "WWW-Authenticate", value);
	/* Basic last, and only where the password cannot be read on the way. */
	if (tls && digest_basic_challenge_format(gw.cfg->realm, value, sizeof(value)) > 0)
		http_add_header(req, "WWW-Authenticate", value);
}

/* --- denials ---------------------------------------------------------------------------------- */

void
authn_audit_denied(const char *protocol, const char *ident, const char *peer,
    const struct gw_principal *p, int64_t camera_id, const char *what, const char *why)
{
	char actor[96];
	json_t *detail;
	struct audit_entry e = {
		.actor = actor, .action = "access.denied", .outcome = "denied",
		.authority_id = p->authority_id, .grant_id = p->grant_id, .camera_id = camera_id,
		.peer = peer,
	};

	if (!may_record()) {
		A.skipped_denials++;
		return;
	}
	detail = json_pack("{s:s, s:s, s:s}", "protocol", protocol, "request", what, "reason", why);
	e.detail = detail;
	snprintf(actor, sizeof(actor), "grant:%lld:%s", (long long)p->grant_id, p->username);
	audit_record(&e);
	json_decref(detail);
	log_msg(LOG_LVL_INFO, ident, "%s cam=%lld refused for %s: %s", what, (long long)camera_id,
	    p->username, why);
}

/* --- set-up ------------------------------------------------------------------------------------ */

static void
authn_janitor(int64_t now)
{
	login_limit_prune(A.limit, now);
	flush_summary(now);
}

static int
ut_cache_init(void)
{
	uint32_t nb = 1;

	A.ut_size = gw.cfg->auth_token_cache_size;
	while (nb < (uint32_t)A.ut_size * 2)
		nb <<= 1;
	A.ut = gw_xcalloc((size_t)A.ut_size, sizeof(*A.ut));
	A.ut_buckets = gw_xmalloc(nb * sizeof(*A.ut_buckets));
	memset(A.ut_buckets, 0xff, nb * sizeof(*A.ut_buckets));
	A.ut_mask = nb - 1;
	A.ut_floor_us = INT64_MIN;
	return 0;
}

int
authn_init(void)
{
	char dummy[33];
	unsigned char rnd[16];

	if (gw_random(A.nonce_key, sizeof(A.nonce_key)) < 0 || gw_random(rnd, sizeof(rnd)) < 0)
		return -1;
	gw_hex(rnd, sizeof(rnd), dummy);
	A.dummy_len = crypto_has_key() ? crypto_seal(dummy, strlen(dummy), A.dummy_sealed) : -1;
	OPENSSL_cleanse(dummy, sizeof(dummy));
	A.limit = login_limit_new(gw.cfg->auth_failure_window_ms * 1000, LIMIT_MAX_KEYS);
	A.nc_sets = (uint32_t)GW_MAX(1, gw.cfg->auth_nonce_count_slots / NC_WAYS);
	A.nc = gw_xcalloc((size_t)A.nc_sets * NC_WAYS, sizeof(*A.nc));
	A.nc_floor_us = INT64_MIN;
	loop_janitor_add(authn_janitor);
	return ut_cache_init();
}

void
authn_shutdown(void)
{
	login_limit_free(A.limit);
	free(A.nc);
	free(A.ut);
	free(A.ut_buckets);
	OPENSSL_cleanse(&A, sizeof(A));
	memset(&A, 0, sizeof(A));
}
