/*
 * auth.c - who is calling: WS-UsernameToken (PasswordDigest, or
 * PasswordText over TLS), HTTP Digest (SHA-256 and MD5, qop=auth), HTTP
 * Basic over TLS, and the replay caches of both.
 *
 * Principals are grant credentials (model_principal). Credentials of a
 * grant that is revoked, expired or not yet active fail like wrong ones.
 * The password is opened with the server key only for the comparison and
 * wiped afterwards; it never reaches a log line or a fault.
 *
 * The replay cache remembers a key of (user, nonce) for every accepted
 * UsernameToken in a ring of nonce_cache_size entries with a hash index.
 * When the ring is full, the oldest entry is forgotten and the cache
 * raises a floor to its Created time if that is still inside the clock
 * window: from then on a token created at or before the floor is refused,
 * so a forgotten nonce can never be replayed. Clients send a fresh Created
 * with every request, so the floor only bites a replay or a client whose
 * clock is far behind while the cache overflows.
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/conn.h"
#include "gateway/crypto.h"
#include "gateway/http.h"
#include "gateway/log.h"
#include "gateway/model.h"
#include "onvif.h"
#include "proto/digest.h"
#include "proto/wsse.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PASSWORD_BUF (CRYPTO_MAX_SECRET + CRYPTO_SEAL_OVERHEAD + 1)

struct nonce_entry {
	unsigned char key[16];
	int64_t created_us;
	int32_t next;			/* next entry in the same bucket, -1 at the end */
	bool used;
};

/* The key of the HTTP Digest nonces (drawn at start-up, never leaves the process). */
static unsigned char nonce_key_secret[32];

static struct {
	struct nonce_entry *ring;
	int32_t size;
	int32_t head;			/* the slot written next: the oldest entry */
	int32_t *buckets;
	uint32_t mask;
	int64_t floor_us;
	uint64_t replays, floor_refusals;
} utc;

int
onvif_auth_init(void)
{
	uint32_t nb = 1;

	utc.size = gw.cfg->onvif_nonce_cache_size;
	while (nb < (uint32_t)utc.size * 2)
		nb <<= 1;
	utc.ring = gw_xcalloc((size_t)utc.size, sizeof(*utc.ring));
	utc.buckets = gw_xmalloc(nb * sizeof(*utc.buckets));
	memset(utc.buckets, 0xff, nb * sizeof(*utc.buckets));
	utc.mask = nb - 1;
	utc.head = 0;
	utc.floor_us = INT64_MIN;
	return gw_random(nonce_key_secret, sizeof(nonce_key_secret));
}

void
onvif_auth_shutdown(void)
{
	free(utc.ring);
	free(utc.buckets);
	memset(&utc, 0, sizeof(utc));
}

static uint32_t
bucket_of(const unsigned char key[16])
{
	uint32_t h;

	memcpy(&h, key, sizeof(h));	/* the key is a hash already */
	return h & utc.mask;
}

static void
unlink_entry(int32_t idx)
{
	int32_t *pp = &utc.buckets[bucket_of(utc.ring[idx].key)];

	while (*pp != -1 && *pp != idx)
		pp = &utc.ring[*pp].next;
	if (*pp == idx)
		*pp = utc.ring[idx].next;
}

static void
nonce_key(const char *username, const char *nonce_b64, unsigned char key[16])
{
	unsigned char h[32];
	char buf[2 * SOAP_UT_FIELD_MAX + 2];
	int n = snprintf(buf, sizeof(buf), "%s%c%s", username, '\0', nonce_b64);

	crypto_sha256(buf, (size_t)n, h);
	memcpy(key, h, 16);
}

/* false when the token must be refused as a replay (or as possibly one). */
static bool
nonce_fresh(const unsigned char key[16], int64_t created_us, int64_t now_us)
{
	int32_t i;
	struct nonce_entry *e;

	if (created_us <= utc.floor_us) {
		utc.floor_refusals++;
		return false;
	}
	for (i = utc.buckets[bucket_of(key)]; i != -1; i = utc.ring[i].next)
		if (memcmp(utc.ring[i].key, key, 16) == 0) {
			utc.replays++;
			return false;
		}
	e = &utc.ring[utc.head];
	if (e->used) {
		unlink_entry(utc.head);
		if (e->created_us >= now_us - gw.cfg->onvif_clock_window_ms * 1000 &&
		    e->created_us > utc.floor_us)
			utc.floor_us = e->created_us;
	}
	memcpy(e->key, key, 16);
	e->created_us = created_us;
	e->used = true;
	e->next = utc.buckets[bucket_of(key)];
	utc.buckets[bucket_of(key)] = utc.head;
	utc.head = (utc.head + 1) % utc.size;
	return true;
}

/* --- credentials ------------------------------------------------------------- */

/* The grant password of |username| in clear into |out| (PASSWORD_BUF bytes), or false. */
static bool
open_password(const char *username, char *out, size_t *len)
{
	const struct model_credential *c = gw.model ? model_credential(gw.model, username) : NULL;
	int n;

	if (c == NULL || c->password_enc_len > PASSWORD_BUF - 1 ||
	    (n = crypto_open(c->password_enc, c->password_enc_len, out)) < 0)
		return false;
	*len = (size_t)n;
	return true;
}

/* The credentials are right: is their grant alive, and who is it? */
static enum auth_result
principal_of(const char *username, struct gw_principal *p, const char **why)
{
	const struct model_grant *g;
	enum policy_reason state;

	if (gw.model == NULL || !model_principal(gw.model, username, p)) {
		*why = "unknown user";
		return AUTH_FAILED;
	}
	if (model_policy_stale()) {
		*why = "the policy could not be refreshed for too long";
		return AUTH_FAILED;
	}
	g = model_grant(gw.model, p->grant_id);
	state = g ? policy_grant_time_state(&g->pg, gw_wall_us()) : POLICY_DENY_NO_GRANT;
	if (state != POLICY_ALLOW) {
		*why = policy_reason_str(state);
		return AUTH_FAILED;
	}
	return AUTH_OK;
}

/* PasswordText: only where the channel is encrypted, and still with a nonce and Created. */
static enum wsse_result
verify_text(const struct soap_username_token *ut, const char *password, size_t plen, bool tls,
    int64_t window_us, int64_t *created_us)
{
	int64_t now = gw_wall_us();

	if (!tls)
		return WSSE_MISMATCH;
	if (ut->nonce[0] == '\0' || ut->created[0] == '\0')
		return WSSE_MISSING_NONCE;
	if (wsse_parse_created(ut->created, created_us) < 0)
		return WSSE_BAD_CREATED;
	if (*created_us < now - window_us || *created_us > now + window_us)
		return WSSE_STALE;
	return strlen(ut->password) == plen && gw_streq_ct(ut->password, password, plen) ? WSSE_OK :
	    WSSE_MISMATCH;
}

static enum auth_result
check_username_token(struct onvif_req *r, const char **why)
{
	const struct soap_username_token *ut = &r->msg.ut;
	char password[PASSWORD_BUF];
	size_t plen = 0;
	int64_t created_us = 0, window_us = gw.cfg->onvif_clock_window_ms * 1000;
	enum wsse_result res;
	bool known;
	unsigned char key[16];

	if (ut->malformed) {
		*why = "malformed UsernameToken";
		return AUTH_FAILED;
	}
	known = open_password(ut->username, password, &plen);
	if (!known) {
		/* Same work for an unknown user as for a wrong password: no timing oracle. */
		snprintf(password, sizeof(password), "%s", "-");
		plen = 1;
	}
	if (ut->password_digest)
		res = wsse_verify(ut->nonce, ut->created, ut->password, password, plen, gw_wall_us(),
		    window_us, &created_us);
	else
		res = verify_text(ut, password, plen, r->tls, window_us, &created_us);
	OPENSSL_cleanse(password, sizeof(password));
	if (res != WSSE_OK || !known) {
		*why = !known ? "unknown user" : wsse_strerror(res);
		return AUTH_FAILED;
	}
	nonce_key(ut->username, ut->nonce, key);
	if (!nonce_fresh(key, created_us, gw_wall_us())) {
		*why = "replayed nonce";
		return AUTH_FAILED;
	}
	return principal_of(ut->username, &r->principal, why);
}

/* --- HTTP Digest and Basic -------------------------------------------------------- */

/*
 * Digest nonces are stateless: hex of (issue time, random, HMAC of both
 * with a key drawn at start-up), so any connection may answer any nonce
 * this process issued, until nonce_lifetime. The nc a nonce was last used
 * with is remembered (a small ring like the UsernameToken cache) so a
 * response cannot be replayed; a nonce that fell out of it is answered
 * stale=true and the client simply retries with a new one.
 */
#define NONCE_RAW 16
#define NONCE_MAC 16
#define NC_TABLE 4096

static struct nc_entry {
	unsigned char key[16];
	uint32_t nc;
	int64_t issued_us;
	bool used;
} nc_table[NC_TABLE];
/* Nonces issued at or before this were forgotten (overwritten): they count as stale. */
static int64_t nc_floor_us = INT64_MIN;

static void
nonce_mac(const unsigned char raw[NONCE_RAW], unsigned char mac[NONCE_MAC])
{
	unsigned char buf[NONCE_RAW + sizeof(nonce_key_secret)], h[32];

	memcpy(buf, nonce_key_secret, sizeof(nonce_key_secret));
	memcpy(buf + sizeof(nonce_key_secret), raw, NONCE_RAW);
	crypto_sha256(buf, sizeof(buf), h);
	memcpy(mac, h, NONCE_MAC);
	OPENSSL_cleanse(buf, sizeof(buf));
}

static void
make_nonce(char out[2 * (NONCE_RAW + NONCE_MAC) + 1])
{
	unsigned char raw[NONCE_RAW + NONCE_MAC];
	int64_t now = gw_mono_us();

	memcpy(raw, &now, sizeof(now));
	if (gw_random(raw + 8, NONCE_RAW - 8) < 0)
		memset(raw + 8, 0, NONCE_RAW - 8);
	nonce_mac(raw, raw + NONCE_RAW);
	gw_hex(raw, sizeof(raw), out);
}

/* 1: ours and fresh, 0: ours but stale, -1: not ours. |issued| gets its time. */
static int
check_nonce(const char *nonce, int64_t *issued)
{
	unsigned char raw[NONCE_RAW + NONCE_MAC], mac[NONCE_MAC];

	if (strlen(nonce) != 2 * sizeof(raw) || gw_unhex(nonce, raw, sizeof(raw)) < 0)
		return -1;
	nonce_mac(raw, mac);
	if (!gw_streq_ct(mac, raw + NONCE_RAW, NONCE_MAC))
		return -1;
	memcpy(issued, raw, sizeof(*issued));
	return gw_mono_us() - *issued <= gw.cfg->rtsp_nonce_lifetime_ms * 1000 ? 1 : 0;
}

/*
 * Is |nc| above the last count seen with this nonce? A direct-mapped table:
 * a nonce that lost its slot raises the floor, so it can never start over.
 */
static enum auth_result
nc_check(const char *nonce, int64_t issued, const char *nc_hex)
{
	unsigned char h[32];
	uint32_t nc = (uint32_t)strtoul(nc_hex, NULL, 16), slot;
	struct nc_entry *e;

	crypto_sha256(nonce, strlen(nonce), h);
	memcpy(&slot, h, sizeof(slot));
	e = &nc_table[slot % NC_TABLE];
	if (e->used && memcmp(e->key, h, sizeof(e->key)) == 0) {
		if (nc <= e->nc)
			return AUTH_FAILED_HTTP;
		e->nc = nc;
		return AUTH_OK;
	}
	if (issued <= nc_floor_us)
		return AUTH_STALE_HTTP;
	if (e->used && e->issued_us > nc_floor_us)
		nc_floor_us = e->issued_us;
	memcpy(e->key, h, sizeof(e->key));
	e->nc = nc;
	e->issued_us = issued;
	e->used = true;
	return nc >= 1 ? AUTH_OK : AUTH_FAILED_HTTP;
}

void
onvif_auth_challenges(struct http_request *req, bool stale)
{
	bool tls = req->conn != NULL && req->conn->tls;
	char nonce[2 * (NONCE_RAW + NONCE_MAC) + 1], value[512];
	static const enum digest_algo algos[] = { DIGEST_SHA256, DIGEST_MD5 };

	make_nonce(nonce);
	/* SHA-256 first (RFC 7616 order of preference), MD5 for FFmpeg and older clients. */
	for (size_t i = 0; i < ARRAY_SIZE(algos); i++)
		if (digest_challenge_format(gw.cfg->realm, nonce, NULL, algos[i], stale, value,
		    sizeof(value)) > 0)
			http_add_header(req, "WWW-Authenticate", value);
	/* Basic last, and only where the password cannot be read on the way. */
	if (tls && digest_basic_challenge_format(gw.cfg->realm, value, sizeof(value)) > 0)
		http_add_header(req, "WWW-Authenticate", value);
}

bool
onvif_auth_has_challenges(void)
{
	return true;
}

static enum auth_result
check_digest(const struct http_request *req, const struct digest_credentials *c,
    struct gw_principal *p, const char **why)
{
	char password[PASSWORD_BUF];
	size_t plen = 0;
	bool known, ok;
	int64_t issued = 0;
	enum auth_result nc = AUTH_OK;
	int fresh;

	if (strcmp(c->realm, gw.cfg->realm) != 0 || strcmp(c->uri, req->target) != 0 ||
	    (c->algo != DIGEST_MD5 && c->algo != DIGEST_SHA256)) {
		*why = "the Digest response is not for this realm, request or algorithm";
		return AUTH_FAILED_HTTP;
	}
	if ((fresh = check_nonce(c->nonce, &issued)) <= 0) {
		*why = fresh == 0 ? "stale Digest nonce" : "a Digest nonce we did not issue";
		return fresh == 0 ? AUTH_STALE_HTTP : AUTH_FAILED_HTTP;
	}
	known = open_password(c->username, password, &plen);
	if (!known)
		snprintf(password, sizeof(password), "-");	/* the same work for a user we do not know */
	ok = digest_verify_password(c, req->method, password);
	OPENSSL_cleanse(password, sizeof(password));
	if (!ok || !known) {
		*why = "wrong user name or password";
		return AUTH_FAILED_HTTP;
	}
	/* Without qop there is no count: such a response could be replayed, so it is refused. */
	nc = c->qop == DIGEST_QOP_AUTH ? nc_check(c->nonce, issued, c->nc) : AUTH_FAILED_HTTP;
	if (nc != AUTH_OK) {
		*why = nc == AUTH_STALE_HTTP ? "forgotten Digest nonce" : "replayed Digest response or no qop";
		return nc;
	}
	return principal_of(c->username, p, why) == AUTH_OK ? AUTH_OK : AUTH_FAILED_HTTP;
}

static enum auth_result
check_basic(const struct digest_credentials *c, bool tls, struct gw_principal *p, const char **why)
{
	char password[PASSWORD_BUF];
	size_t plen = 0;
	bool ok;

	if (!tls) {
		*why = "Basic authentication is only accepted over TLS";
		return AUTH_FAILED_HTTP;
	}
	ok = open_password(c->username, password, &plen) && digest_verify_password(c, "GET", password);
	OPENSSL_cleanse(password, sizeof(password));
	if (!ok) {
		*why = "wrong user name or password";
		return AUTH_FAILED_HTTP;
	}
	return principal_of(c->username, p, why) == AUTH_OK ? AUTH_OK : AUTH_FAILED_HTTP;
}

enum auth_result
onvif_auth_http(struct http_request *req, bool tls, struct gw_principal *p, const char **why)
{
	const char *v = http_header_get(req, "Authorization");
	struct digest_credentials c;
	enum auth_result res;

	if (v == NULL)
		return AUTH_NONE;
	if (digest_parse_authorization(v, strlen(v), &c) < 0) {
		*why = "malformed or unsupported Authorization header";
		OPENSSL_cleanse(&c, sizeof(c));
		return AUTH_FAILED_HTTP;
	}
	res = c.scheme == DIGEST_SCHEME_BASIC ? check_basic(&c, tls, p, why) : check_digest(req, &c, p, why);
	OPENSSL_cleanse(&c, sizeof(c));
	return res;
}

/*
 * HTTP credentials are checked first when both are present (Core: validate
 * HTTP, then WS); a request with a valid HTTP identity and a token must
 * carry the same user in both.
 */
enum auth_result
onvif_auth_request(struct onvif_req *r, const char **why)
{
	enum auth_result http = onvif_auth_http(r->http, r->tls, &r->principal, why);
	struct gw_principal from_http = r->principal;
	enum auth_result res;

	if (http == AUTH_FAILED_HTTP || http == AUTH_STALE_HTTP)
		return http;
	if (!r->msg.ut.present) {
		r->authenticated = http == AUTH_OK;
		return http;
	}
	res = check_username_token(r, why);
	if (res == AUTH_OK && http == AUTH_OK && from_http.credential_id != r->principal.credential_id) {
		*why = "HTTP and WS-Security credentials name different users";
		res = AUTH_FAILED;
	}
	r->authenticated = res == AUTH_OK;
	return res;
}
