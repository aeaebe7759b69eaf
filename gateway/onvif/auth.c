/*
 * auth.c - who is calling: WS-UsernameToken (PasswordDigest, or
 * PasswordText over TLS), HTTP Basic over TLS, and the nonce replay cache.
 * HTTP Digest comes with proto/digest (see auth_has_challenges()).
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

static struct {
	struct nonce_entry *ring;
	int32_t size;
	int32_t head;			/* the slot written next: the oldest entry */
	int32_t *buckets;
	uint32_t mask;
	int64_t floor_us;
	uint64_t replays, floor_refusals;
} nc;

int
auth_init(void)
{
	uint32_t nb = 1;

	nc.size = gw.cfg->onvif_nonce_cache_size;
	while (nb < (uint32_t)nc.size * 2)
		nb <<= 1;
	nc.ring = gw_xcalloc((size_t)nc.size, sizeof(*nc.ring));
	nc.buckets = gw_xmalloc(nb * sizeof(*nc.buckets));
	memset(nc.buckets, 0xff, nb * sizeof(*nc.buckets));
	nc.mask = nb - 1;
	nc.head = 0;
	nc.floor_us = INT64_MIN;
	return 0;
}

void
auth_shutdown(void)
{
	free(nc.ring);
	free(nc.buckets);
	memset(&nc, 0, sizeof(nc));
}

static uint32_t
bucket_of(const unsigned char key[16])
{
	uint32_t h;

	memcpy(&h, key, sizeof(h));	/* the key is a hash already */
	return h & nc.mask;
}

static void
unlink_entry(int32_t idx)
{
	int32_t *pp = &nc.buckets[bucket_of(nc.ring[idx].key)];

	while (*pp != -1 && *pp != idx)
		pp = &nc.ring[*pp].next;
	if (*pp == idx)
		*pp = nc.ring[idx].next;
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

	if (created_us <= nc.floor_us) {
		nc.floor_refusals++;
		return false;
	}
	for (i = nc.buckets[bucket_of(key)]; i != -1; i = nc.ring[i].next)
		if (memcmp(nc.ring[i].key, key, 16) == 0) {
			nc.replays++;
			return false;
		}
	e = &nc.ring[nc.head];
	if (e->used) {
		unlink_entry(nc.head);
		if (e->created_us >= now_us - gw.cfg->onvif_clock_window_ms * 1000 &&
		    e->created_us > nc.floor_us)
			nc.floor_us = e->created_us;
	}
	memcpy(e->key, key, 16);
	e->created_us = created_us;
	e->used = true;
	e->next = nc.buckets[bucket_of(key)];
	nc.buckets[bucket_of(key)] = nc.head;
	nc.head = (nc.head + 1) % nc.size;
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

/* "Basic <base64 user:password>", accepted over TLS only. */
static enum auth_result
check_basic(const char *value, bool tls, struct gw_principal *p, const char **why)
{
	unsigned char dec[512];
	char password[PASSWORD_BUF], user[80];
	const char *b64 = value + 6, *colon;
	size_t plen = 0, ulen, glen;
	int n;
	bool ok;

	while (*b64 == ' ')
		b64++;
	if (!tls) {
		*why = "Basic authentication is only accepted over TLS";
		return AUTH_FAILED_HTTP;
	}
	n = crypto_unbase64(b64, strlen(b64), dec, sizeof(dec) - 1);
	if (n <= 0 || (colon = memchr(dec, ':', (size_t)n)) == NULL ||
	    (ulen = (size_t)(colon - (const char *)dec)) >= sizeof(user)) {
		*why = "malformed Basic credentials";
		return AUTH_FAILED_HTTP;
	}
	memcpy(user, dec, ulen);
	user[ulen] = '\0';
	glen = (size_t)n - ulen - 1;
	ok = open_password(user, password, &plen) && plen == glen &&
	    gw_streq_ct(password, colon + 1, plen);
	OPENSSL_cleanse(password, sizeof(password));
	OPENSSL_cleanse(dec, sizeof(dec));
	if (!ok) {
		*why = "wrong user name or password";
		return AUTH_FAILED_HTTP;
	}
	return principal_of(user, p, why) == AUTH_OK ? AUTH_OK : AUTH_FAILED_HTTP;
}

enum auth_result
auth_http(struct http_request *req, bool tls, struct gw_principal *p, const char **why)
{
	const char *v = http_header_get(req, "Authorization");

	if (v == NULL)
		return AUTH_NONE;
	if (strncasecmp(v, "Basic ", 6) == 0)
		return check_basic(v, tls, p, why);
	*why = "unsupported HTTP authentication scheme";
	return AUTH_FAILED_HTTP;
}

/*
 * HTTP credentials are checked first when both are present (Core: validate
 * HTTP, then WS); a request with a valid HTTP identity and a token must
 * carry the same user in both.
 */
enum auth_result
auth_request(struct onvif_req *r, const char **why)
{
	enum auth_result http = auth_http(r->http, r->tls, &r->principal, why);
	struct gw_principal from_http = r->principal;
	enum auth_result res;

	if (http == AUTH_FAILED_HTTP)
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

bool
auth_has_challenges(void)
{
	return false;	/* HTTP Digest arrives with proto/digest */
}

void
auth_add_challenges(struct http_request *req)
{
	(void)req;
}
