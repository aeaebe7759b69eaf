/*
 * auth.c - who may call the API: administrators, their bearer tokens, login
 * with a rate limit, and the token endpoints.
 *
 * Authenticating a request never touches the database: the enabled admins
 * and their live tokens (only the SHA-256 of each token is stored) are kept
 * in memory, in one cache object that is rebuilt from the database and
 * swapped in on NOTIFY vssgate_auth (sql/002_api.sql), after a reconnect
 * and once a minute. Changes made by this process (a login, a revocation)
 * are applied to the cache at once and again on top of any reload that
 * started before they were committed, so a reload never resurrects a
 * revoked token nor loses a fresh one.
 *
 * Passwords are checked with scrypt in a worker thread. An unknown user
 * name costs the same scrypt as a wrong password.
 */
#include "api.h"
#include "validate.h"
#include "../config.h"
#include "../crypto.h"
#include "../log.h"
#include "../loop.h"
#include "../ratelimit.h"
#include "../worker.h"

#include <event2/event.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_PREFIX "vsg_"
#define TOKEN_RANDOM 40			/* characters of crypto_random_token: ~232 bits */
#define TOKEN_LEN (sizeof(TOKEN_PREFIX) - 1 + TOKEN_RANDOM)
#define TOKEN_BUCKETS 4096
#define RL_MAX_ENTRIES 100000
#define RL_WINDOW_US (60 * 1000000LL)
#define WORKER_QUEUE_MAX 64
#define RELOAD_EVERY_US (60 * 1000000LL)

struct admin_rec {
	int64_t id;
	char username[72];
	enum api_role role;
};

struct token_rec {
	unsigned char hash[32];
	int64_t id;
	int64_t admin_id;
	int64_t expires_us;		/* wall clock */
	struct token_rec *next;
};

struct auth_cache {
	struct admin_rec *admins;	/* enabled admins, sorted by id */
	int nadmins;
	struct token_rec *buckets[TOKEN_BUCKETS];
	int ntokens;
};

/* A change made here, replayed on top of reloads that started before it. */
struct local_change {
	uint64_t seq;
	bool add;
	struct token_rec rec;
	TAILQ_ENTRY(local_change) link;
};

static struct auth_cache *cache;
static TAILQ_HEAD(, local_change) changes = TAILQ_HEAD_INITIALIZER(changes);
static uint64_t change_seq;
static bool load_in_flight, load_again;
static void (*first_load_cb)(void);	/* one-shot; cleared before it runs */
static struct event *reload_ev;
static int64_t last_load_us;
static struct login_limit *logins;		/* attempts per address, user name and both */

/* A valid scrypt string for unknown users, so that they cost the same time. */
static const char dummy_hash[] = "scrypt$16384$8$1$00000000000000000000000000000000$"
    "0000000000000000000000000000000000000000000000000000000000000000";

/* --- the cache ------------------------------------------------------------------ */

static unsigned
bucket_of(const unsigned char hash[32])
{
	return ((unsigned)hash[0] << 8 | hash[1]) % TOKEN_BUCKETS;
}

static void
cache_free(struct auth_cache *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < TOKEN_BUCKETS; i++)
		while (c->buckets[i]) {
			struct token_rec *t = c->buckets[i];

			c->buckets[i] = t->next;
			free(t);
		}
	free(c->admins);
	free(c);
}

static void
cache_add(struct auth_cache *c, const struct token_rec *rec)
{
	struct token_rec *t = gw_xmalloc(sizeof(*t));
	unsigned b = bucket_of(rec->hash);

	*t = *rec;
	t->next = c->buckets[b];
	c->buckets[b] = t;
	c->ntokens++;
}

static void
cache_remove(struct auth_cache *c, int64_t token_id)
{
	for (int i = 0; i < TOKEN_BUCKETS; i++)
		for (struct token_rec **pp = &c->buckets[i]; *pp; pp = &(*pp)->next)
			if ((*pp)->id == token_id) {
				struct token_rec *t = *pp;

				*pp = t->next;
				free(t);
				c->ntokens--;
				return;
			}
}

static const struct admin_rec *
admin_by_id(const struct auth_cache *c, int64_t id)
{
	int lo = 0, hi = c->nadmins - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		if (c->admins[mid].id == id)
			return &c->admins[mid];
		if (c->admins[mid].id < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

static void
fill_principal(const struct admin_rec *a, int64_t token_id, struct api_principal *out)
{
	out->admin_id = a->id;
	out->token_id = token_id;
	out->role = a->role;
	snprintf(out->username, sizeof(out->username), "%s", a->username);
	snprintf(out->actor, sizeof(out->actor), "admin:%s", a->username);
}

bool
auth_bearer(const char *token, struct api_principal *out)
{
	unsigned char hash[32];
	const struct token_rec *t;
	const struct admin_rec *a;

	if (cache == NULL || strlen(token) != TOKEN_LEN ||
	    strncmp(token, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1) != 0)
		return false;
	crypto_sha256(token, TOKEN_LEN, hash);
	for (t = cache->buckets[bucket_of(hash)]; t != NULL; t = t->next)
		if (CRYPTO_memcmp(t->hash, hash, sizeof(hash)) == 0)
			break;
	if (t == NULL || t->expires_us <= gw_wall_us() || (a = admin_by_id(cache, t->admin_id)) == NULL)
		return false;
	fill_principal(a, t->id, out);
	return true;
}

bool
auth_certificate(const char *cn, struct api_principal *out)
{
	for (int i = 0; cache != NULL && i < cache->nadmins; i++)
		if (strcmp(cache->admins[i].username, cn) == 0) {
			fill_principal(&cache->admins[i], 0, out);
			return true;
		}
	return false;
}

int
auth_token_count(void)
{
	return cache ? cache->ntokens : 0;
}

static void
record_change(bool add, const struct token_rec *rec)
{
	struct local_change *ch = gw_xcalloc(1, sizeof(*ch));

	ch->seq = ++change_seq;
	ch->add = add;
	ch->rec = *rec;
	TAILQ_INSERT_TAIL(&changes, ch, link);
	if (cache == NULL)
		return;
	if (add)
		cache_add(cache, rec);
	else
		cache_remove(cache, rec->id);
}

void
auth_forget_token(int64_t token_id)
{
	struct token_rec rec = { .id = token_id };

	record_change(false, &rec);
}

/* --- loading ----------------------------------------------------------------------- */

static const char admins_sql[] =
    "SELECT id, username, role FROM admins WHERE disabled_at IS NULL ORDER BY id";
static const char tokens_sql[] =
    "SELECT t.id, encode(t.token_hash, 'hex'), t.admin_id,"
    " (extract(epoch FROM t.expires_at) * 1000000)::bigint"
    " FROM admin_tokens t JOIN admins a ON a.id = t.admin_id"
    " WHERE t.revoked_at IS NULL AND t.expires_at > now() AND a.disabled_at IS NULL";

struct load_ctx {
	struct auth_cache *next;
	uint64_t seq_at_start;
};

static void schedule_reload(void);

static void
load_done(struct load_ctx *ctx, bool ok)
{
	struct local_change *ch, *tmp;

	load_in_flight = false;
	if (ok) {
		TAILQ_FOREACH(ch, &changes, link)
			if (ch->seq > ctx->seq_at_start) {
				if (ch->add)
					cache_add(ctx->next, &ch->rec);
				else
					cache_remove(ctx->next, ch->rec.id);
			}
		/* Changes older than this load are in the database and in the new cache. */
		for (ch = TAILQ_FIRST(&changes); ch != NULL; ch = tmp) {
			tmp = TAILQ_NEXT(ch, link);
			if (ch->seq <= ctx->seq_at_start) {
				TAILQ_REMOVE(&changes, ch, link);
				free(ch);
			}
		}
		cache_free(cache);
		cache = ctx->next;
		log_debug("admin cache loaded: %d admins, %d live tokens", cache->nadmins, cache->ntokens);
		if (first_load_cb != NULL) {
			void (*fn)(void) = first_load_cb;

			first_load_cb = NULL;
			fn();
		}
	} else {
		cache_free(ctx->next);
	}
	free(ctx);
	if (load_again) {
		load_again = false;
		schedule_reload();
	}
}

static void
on_tokens(void *arg, PGresult *res, const char *error)
{
	struct load_ctx *ctx = arg;
	int n;

	if (error != NULL) {
		log_warn("loading admin tokens failed: %s; keeping the previous ones", error);
		load_done(ctx, false);
		return;
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		struct token_rec rec = { 0 };

		rec.id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		rec.admin_id = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		rec.expires_us = strtoll(PQgetvalue(res, i, 3), NULL, 10);
		if (gw_unhex(PQgetvalue(res, i, 1), rec.hash, sizeof(rec.hash)) == 0)
			cache_add(ctx->next, &rec);
	}
	load_done(ctx, true);
}

static void
on_admins(void *arg, PGresult *res, const char *error)
{
	struct load_ctx *ctx = arg;
	int n;

	if (error != NULL) {
		log_warn("loading administrators failed: %s; keeping the previous list", error);
		load_done(ctx, false);
		return;
	}
	n = PQntuples(res);
	ctx->next->admins = gw_xcalloc((size_t)n, sizeof(*ctx->next->admins));
	for (int i = 0; i < n; i++) {
		struct admin_rec *a = &ctx->next->admins[i];

		a->id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		snprintf(a->username, sizeof(a->username), "%s", PQgetvalue(res, i, 1));
		a->role = (enum api_role)valid_role(PQgetvalue(res, i, 2));
	}
	ctx->next->nadmins = n;
	db_query(tokens_sql, 0, NULL, 0, on_tokens, ctx);
}

bool
auth_loaded(void)
{
	return cache != NULL;
}

void
auth_on_first_load(void (*fn)(void))
{
	if (cache != NULL) {
		if (fn != NULL)
			fn();
		return;
	}
	first_load_cb = fn;
}

void
auth_reload(void)
{
	struct load_ctx *ctx;

	if (load_in_flight) {
		load_again = true;
		return;
	}
	load_in_flight = true;
	last_load_us = gw_mono_us();
	ctx = gw_xcalloc(1, sizeof(*ctx));
	ctx->next = gw_xcalloc(1, sizeof(*ctx->next));
	ctx->seq_at_start = change_seq;
	db_query(admins_sql, 0, NULL, 0, on_admins, ctx);
}

static void
reload_cb(evutil_socket_t fd, short what, void *arg)
{
	gw_time_refresh();
	auth_reload();
}

static void
schedule_reload(void)
{
	struct timeval tv = { 0, (suseconds_t)(gw.cfg->model_refresh_delay_ms * 1000) };

	if (!event_pending(reload_ev, EV_TIMEOUT, NULL))
		event_add(reload_ev, &tv);
}

static void
on_auth_notify(const char *payload)
{
	schedule_reload();
}

/* --- janitor: login counts, periodic reload ------------------------------------------------ */

static void
auth_janitor(int64_t now)
{
	login_limit_prune(logins, now);
	/* During an outage the cache stays as it is; the reconnection reloads it (once). */
	if (cache != NULL && now - last_load_us >= RELOAD_EVERY_US && db_is_up())
		auth_reload();
}

/* --- login ---------------------------------------------------------------------------------- */

struct login_job {
	struct worker_job job;
	struct api_call *call;
	char username[72];
	char label[256];
	char password[1025];
	char stored[CRYPTO_HASH_STR_MAX];
	bool found;
	bool ok;
	int64_t admin_id;
	char token[TOKEN_LEN + 1];
	unsigned char hash[32];
};

static void
login_job_free(struct login_job *lj)
{
	OPENSSL_cleanse(lj, sizeof(*lj));
	free(lj);
}

static void
login_state_free(void *state)
{
	login_job_free(state);
}

static void
login_run(struct worker_job *job)
{
	struct login_job *lj = (struct login_job *)job;

	lj->ok = crypto_password_verify(lj->password, lj->found ? lj->stored : dummy_hash) && lj->found;
	OPENSSL_cleanse(lj->password, sizeof(lj->password));
}

static void
on_token_stored(struct api_call *call, PGresult *res)
{
	struct login_job *lj = call->state;
	struct token_rec rec = { .id = strtoll(PQgetvalue(res, 0, 0), NULL, 10),
		.admin_id = lj->admin_id, .expires_us = strtoll(PQgetvalue(res, 0, 2), NULL, 10) };
	json_t *doc;

	memcpy(rec.hash, lj->hash, sizeof(rec.hash));
	record_change(true, &rec);
	doc = json_pack("{s:s, s:I, s:s, s:s}", "token", lj->token, "token_id", (json_int_t)rec.id,
	    "expires_at", PQgetvalue(res, 0, 1), "username", lj->username);
	call->state = NULL;
	login_job_free(lj);
	api_reply(call, 201, doc);
}

static const char token_insert_sql[] =
    "WITH t AS (INSERT INTO admin_tokens (admin_id, token_hash, label, peer, expires_at)"
    "  VALUES ($1, decode($2, 'hex'), $3, $4, now() + $5::bigint * interval '1 millisecond')"
    "  RETURNING id, expires_at),"
    " a AS (INSERT INTO audit_log (node, actor, action, outcome, peer, detail)"
    "  SELECT $6, $7, 'auth.login', 'ok', $4, jsonb_build_object('token_id', t.id) FROM t)"
    " SELECT id, api_ts(expires_at), (extract(epoch FROM expires_at) * 1000000)::bigint FROM t";

/* The password was right: make a token and store its hash. */
static void
issue_token(struct login_job *lj)
{
	struct api_call *call = lj->call;
	char random[TOKEN_RANDOM + 1], hex[65], admin[24], life[24], actor[80];
	const char *params[7] = { api_i64(lj->admin_id, admin), hex, lj->label[0] ? lj->label : NULL,
		call->req->peer, life, api_node(), actor };

	if (crypto_random_token(random, TOKEN_RANDOM) < 0) {
		login_job_free(lj);
		api_fail(call, 500, "internal error", NULL, NULL);
		return;
	}
	snprintf(lj->token, sizeof(lj->token), "%s%s", TOKEN_PREFIX, random);
	OPENSSL_cleanse(random, sizeof(random));
	crypto_sha256(lj->token, TOKEN_LEN, lj->hash);
	gw_hex(lj->hash, sizeof(lj->hash), hex);
	snprintf(life, sizeof(life), "%lld", (long long)gw.cfg->token_lifetime_ms);
	snprintf(actor, sizeof(actor), "admin:%s", lj->username);
	call->state = lj;
	call->free_state = login_state_free;
	api_query(call, token_insert_sql, 7, params, on_token_stored);
}

static void
login_done(struct worker_job *job)
{
	struct login_job *lj = (struct login_job *)job;
	struct api_call *call = lj->call;

	if (api_call_gone(call)) {
		login_job_free(lj);
		api_fail(call, 499, "client went away", NULL, NULL);
		return;
	}
	if (!lj->ok) {
		log_info("login as \"%s\" from %s refused: wrong user name or password", lj->username,
		    call->req->peer);
		api_audit(call, "auth.login", "denied", 0, json_pack("{s:s}", "username", lj->username));
		login_job_free(lj);
		api_fail(call, 401, "invalid credentials", "the user name or the password is wrong",
		    NULL);
		return;
	}
	issue_token(lj);
}

static void
on_admin_row(struct api_call *call, PGresult *res)
{
	struct login_job *lj = call->state;

	call->state = NULL;
	if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 2), "f") == 0) {
		lj->found = true;
		lj->admin_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		snprintf(lj->stored, sizeof(lj->stored), "%s", PQgetvalue(res, 0, 1));
	}
	worker_submit(&lj->job);
}

/*
 * Login attempts (right or wrong: scrypt is costly either way) are limited
 * per address, per user name and per both, with the rule of ratelimit.h:
 * an address over its limit is refused whoever it names, but a user name
 * over its limit is refused only from the addresses that tried it, so no
 * one can lock an administrator out from elsewhere.
 */
static bool
login_rate_ok(struct api_call *call, const char *username)
{
	struct login_limit_cfg cfg = {
		.per_pair = gw.cfg->login_attempts_per_minute, .per_address = gw.cfg->login_attempts_per_minute,
		.per_user = gw.cfg->login_attempts_per_minute, .strict_address = true,
	};
	char addr[64], retry[16];
	int64_t now = gw_mono_us();
	int retry_s = 1;

	ratelimit_peer_address(call->req->peer, addr, sizeof(addr));
	if (login_limit_ask(logins, &cfg, addr, username, now, &retry_s) == LOGIN_CHECK) {
		login_limit_count(logins, addr, username, now);
		return true;
	}
	snprintf(retry, sizeof(retry), "%d", retry_s);
	log_warn("login as \"%s\" from %s refused: more than %d attempts in a minute", username,
	    call->req->peer, gw.cfg->login_attempts_per_minute);
	http_add_header(call->req, "Retry-After", retry);
	api_failf(call, 429, "too many login attempts", "wait before trying again",
	    "at most %d attempts per minute per address and per user name",
	    gw.cfg->login_attempts_per_minute);
	return false;
}

static void
login(struct api_call *call)
{
	const char *username, *password, *label;
	struct valid_error err;
	struct login_job *lj;
	const char *params[1];

	if (valid_login(call->body, &username, &password, &err) < 0) {
		api_fail(call, 422, "invalid document", err.detail, NULL);
		return;
	}
	if (!login_rate_ok(call, username))
		return;
	if (worker_pending() >= WORKER_QUEUE_MAX) {
		api_fail(call, 503, "busy", "too many logins in progress", "retry in a moment");
		return;
	}
	lj = gw_xcalloc(1, sizeof(*lj));
	lj->job.run = login_run;
	lj->job.done = login_done;
	lj->call = call;
	snprintf(lj->username, sizeof(lj->username), "%s", username);
	snprintf(lj->password, sizeof(lj->password), "%s", password);
	label = json_string_value(json_object_get(call->body, "label"));
	snprintf(lj->label, sizeof(lj->label), "%s", label ? label : "");
	call->state = lj;
	call->free_state = login_state_free;
	params[0] = lj->username;
	api_query(call, "SELECT id, password_hash, disabled_at IS NOT NULL FROM admins"
	    " WHERE username = $1", 1, params, on_admin_row);
}

/* --- tokens ----------------------------------------------------------------------------------- */

static void
on_token_revoked(struct api_call *call, PGresult *res)
{
	if (strcmp(PQgetvalue(res, 0, 1), "0") == 0) {
		api_fail(call, 404, "not found", "no such token", NULL);
		return;
	}
	auth_forget_token(call->id);
	api_reply(call, 200, json_pack("{s:I, s:b}", "id", (json_int_t)call->id, "revoked", 1));
}

static const char token_revoke_sql[] =
    "WITH u AS (UPDATE admin_tokens SET revoked_at = now(), revoked_by = $2"
    "  WHERE id = $1 AND revoked_at IS NULL AND ($3::bigint IS NULL OR admin_id = $3)"
    "  RETURNING id),"
    " a AS (INSERT INTO audit_log (node, actor, action, outcome, peer, detail)"
    "  SELECT $4, $5, 'token.revoke', 'ok', $6, jsonb_build_object('token_id', u.id) FROM u)"
    " SELECT (SELECT count(*) FROM u),"
    "  (SELECT count(*) FROM admin_tokens WHERE id = $1 AND ($3::bigint IS NULL OR admin_id = $3))";

/* Admins revoke any token; others only their own (another's is "not found"). */
static void
revoke_token(struct api_call *call, int64_t token_id)
{
	char id[24], by[24], own[24];
	const char *params[6] = { api_i64(token_id, id), api_i64(call->who.admin_id, by),
		call->who.role == ROLE_ADMIN ? NULL : api_i64(call->who.admin_id, own),
		api_node(), call->who.actor, call->req->peer };

	call->id = token_id;
	api_query(call, token_revoke_sql, 6, params, on_token_revoked);
}

static void
token_delete(struct api_call *call)
{
	revoke_token(call, call->id);
}

static void
logout(struct api_call *call)
{
	if (call->who.token_id == 0) {
		api_fail(call, 409, "no token", "this request was authenticated by a client certificate",
		    NULL);
		return;
	}
	revoke_token(call, call->who.token_id);
}

static void
me(struct api_call *call)
{
	api_reply(call, 200, json_pack("{s:I, s:s, s:s, s:o}", "admin_id", (json_int_t)call->who.admin_id,
	    "username", call->who.username, "role",
	    call->who.role == ROLE_ADMIN ? "admin" : call->who.role == ROLE_OPERATOR ? "operator" : "auditor",
	    "token_id", call->who.token_id ? json_integer(call->who.token_id) : json_null()));
}

static const char tokens_list_sql[] =
    "SELECT json_build_object('items', coalesce(json_agg(json_build_object("
    "  'id', t.id, 'username', a.username, 'label', t.label, 'peer', t.peer,"
    "  'created_at', api_ts(t.created_at), 'expires_at', api_ts(t.expires_at),"
    "  'revoked_at', api_ts(t.revoked_at)) ORDER BY t.id), '[]'),"
    " 'next_cursor', CASE WHEN count(*) = $2 THEN max(t.id)::text END)::text"
    " FROM (SELECT * FROM admin_tokens WHERE id > $1 AND ($3::bigint IS NULL OR admin_id = $3)"
    "  ORDER BY id LIMIT $2) t JOIN admins a ON a.id = t.admin_id";

static void
on_tokens_list(struct api_call *call, PGresult *res)
{
	api_reply_row(call, res, 200);
}

static void
tokens_list(struct api_call *call)
{
	char cur[24], lim[24], own[24];
	const char *params[3];
	int64_t cursor;
	int limit;

	if (!api_page(call, &limit, &cursor))
		return;
	params[0] = api_i64(cursor, cur);
	params[1] = api_i64(limit, lim);
	params[2] = call->who.role == ROLE_ADMIN ? NULL : api_i64(call->who.admin_id, own);
	api_query(call, tokens_list_sql, 3, params, on_tokens_list);
}

static const struct api_route routes[] = {
	{ "POST", API_PREFIX "auth/login", ROLE_PUBLIC, BODY_JSON, login, "auth.login" },
	{ "POST", API_PREFIX "auth/logout", ROLES_ANY, BODY_NONE, logout, "auth.logout" },
	{ "GET", API_PREFIX "auth/me", ROLES_ANY, BODY_NONE, me, NULL },
	{ "GET", API_PREFIX "tokens", ROLES_ANY, BODY_NONE, tokens_list, NULL },
	{ "DELETE", API_PREFIX "tokens/{id}", ROLES_ANY, BODY_NONE, token_delete, "token.revoke" },
};

void
auth_init(void)
{
	reload_ev = evtimer_new(gw.base, reload_cb, NULL);
	logins = login_limit_new(RL_WINDOW_US, RL_MAX_ENTRIES);
	db_listen("vssgate_auth", on_auth_notify);
	loop_janitor_add(auth_janitor);
	api_register(routes, ARRAY_SIZE(routes));
}

void
auth_shutdown(void)
{
	struct local_change *ch;

	while ((ch = TAILQ_FIRST(&changes)) != NULL) {
		TAILQ_REMOVE(&changes, ch, link);
		free(ch);
	}
	login_limit_free(logins);
	logins = NULL;
	if (reload_ev)
		event_free(reload_ev);
	reload_ev = NULL;
	cache_free(cache);
	cache = NULL;
}
