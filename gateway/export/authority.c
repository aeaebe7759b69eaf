/*
 * authority.c - the authorities' own way to signed exports, over HTTPS
 * (and the plain listeners, like the ONVIF services) with a grant's
 * credentials: HTTP Digest, or Basic over TLS, through the one
 * authenticator (authn.h).
 *
 *   POST /authority/v1/exports                    {camera_ids, from, until, reason}  202
 *   GET  /authority/v1/exports                    this authority's exports, newest first
 *   GET  /authority/v1/exports/<id>               one, with its progress
 *   POST /authority/v1/exports/<id>/cancel        {reason}
 *   GET  /authority/v1/exports/<id>/files/<name>  a file: Range, If-Range, ETag, Repr-Digest
 *
 * The policy on every request: the grant must be alive with an export
 * level (0V, 0M or 0E); an export is seen only by its own authority
 * (another's answers 404, as one that does not exist), and shown,
 * cancelled or downloaded only while the asking grant still permits it:
 * every camera, the range inside its footage window, and the levels the
 * files carry.
 */
#include "gateway/gw.h"
#include "gateway/authn.h"
#include "gateway/config.h"
#include "gateway/conn.h"
#include "gateway/db.h"
#include "gateway/http.h"
#include "gateway/log.h"
#include "gateway/model.h"
#include "gateway/api/validate.h"
#include "gateway/export/download.h"
#include "gateway/export/jobs.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_PREFIX "/authority/v1/exports"
#define LIST_MAX 100
#define AREQ_MAGIC 0x61726571U		/* "areq" */

enum aroute {
	AR_LIST,			/* GET  /exports */
	AR_CREATE,			/* POST /exports */
	AR_SHOW,			/* GET  /exports/<id> */
	AR_CANCEL,			/* POST /exports/<id>/cancel */
	AR_FILE,			/* GET  /exports/<id>/files/<name> */
};

/* One request, from its authentication to its answer (which frees it). */
struct areq {
	uint32_t magic;
	struct http_request *http;
	enum aroute route;
	int64_t id;
	char name[72];
	struct gw_principal who;
	bool created;			/* answer 202: the export was just asked for */
	char actor[112];
	char ident[160];
};

static void
answer_error(struct areq *a, int status, const char *error, const char *detail, const char *hint)
{
	/* 401 is the first half of every Digest exchange, 403 is logged as a denial, 404 says nothing. */
	if (status >= 400 && status != 401 && status != 403 && status != 404)
		log_info("%s %s %s -> %d: %s", a->ident, a->http->method, a->http->path, status,
		    detail ? detail : error);
	http_add_header(a->http, "Cache-Control", "no-store");
	http_respond_error(a->http, status, error, detail, hint);
	a->magic = 0;
	free(a);
}

static void
answer_json(struct areq *a, int status, json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT);

	http_add_header(a->http, "Cache-Control", "no-store");
	http_respond(a->http, status, "application/json", text, strlen(text));
	free(text);
	json_decref(doc);
	a->magic = 0;
	free(a);
}

/* --- the path ------------------------------------------------------------------------------- */

static bool
parse_id(const char **p, int64_t *id)
{
	const char *s = *p;
	int64_t v = 0;
	int n = 0;

	if (*s < '1' || *s > '9')
		return false;
	while (*s >= '0' && *s <= '9' && n < 18)
		v = v * 10 + (*s++ - '0'), n++;
	if (*s >= '0' && *s <= '9')
		return false;
	*id = v;
	*p = s;
	return true;
}

static bool
parse_route(struct areq *a)
{
	const char *p = a->http->path + strlen(AUTH_PREFIX);
	bool get = strcmp(a->http->method, "GET") == 0 || strcmp(a->http->method, "HEAD") == 0;
	bool post = strcmp(a->http->method, "POST") == 0;

	if (*p == '\0' || strcmp(p, "/") == 0) {
		a->route = post ? AR_CREATE : AR_LIST;
		return post || get;
	}
	if (*p++ != '/' || !parse_id(&p, &a->id))
		return false;
	if (*p == '\0') {
		a->route = AR_SHOW;
		return get;
	}
	if (strcmp(p, "/cancel") == 0) {
		a->route = AR_CANCEL;
		return post;
	}
	if (strncmp(p, "/files/", 7) == 0 && strlen(p + 7) < sizeof(a->name) && export_file_name_ok(p + 7)) {
		snprintf(a->name, sizeof(a->name), "%s", p + 7);
		a->route = AR_FILE;
		return get;
	}
	return false;
}

/* --- who asks, and may they ------------------------------------------------------------------ */

static bool
authenticate(struct areq *a)
{
	struct http_request *h = a->http;
	const char *authz = http_header_get(h, "Authorization");
	struct authn_request ar = {
		.protocol = "export", .method = h->method, .target = h->target,
		.authorization = authz, .nauthorization = authz ? 1 : 0,
		.tls = h->conn != NULL && h->conn->tls, .peer = h->peer,
		.ident = h->conn ? h->conn->ident : h->peer,
	};
	struct authn_outcome o;
	char retry[16];

	authn_check(&ar, &o);
	switch (o.result) {
	case AUTHN_OK:
		a->who = o.principal;
		snprintf(a->actor, sizeof(a->actor), "grant:%lld:%s", (long long)a->who.grant_id,
		    a->who.username);
		snprintf(a->ident, sizeof(a->ident), "%s export %s", ar.ident, a->who.username);
		return true;
	case AUTHN_MALFORMED:
		answer_error(a, 400, "malformed credentials", NULL, NULL);
		return false;
	case AUTHN_LIMITED:
		snprintf(retry, sizeof(retry), "%d", o.retry_after_s);
		http_add_header(h, "Retry-After", retry);
		answer_error(a, 429, "too many failed logins", NULL, "wait before trying again");
		return false;
	default:
		authn_http_challenges(h, NULL, o.stale);
		answer_error(a, 401, "authentication required", NULL,
		    "HTTP Digest, or Basic over TLS, with the grant's credentials");
		return false;
	}
}

static void
deny(struct areq *a, int64_t camera_id, const char *why)
{
	authn_audit_denied("export", a->ident, a->http->peer, &a->who, camera_id, "export", why);
	answer_error(a, 403, "not permitted", why, NULL);
}

/* The grant is alive and has an export level. */
static bool
may_export(struct areq *a)
{
	struct policy_request rq = { .action = ACT_EXPORT_VIDEO, .now_us = gw_wall_us() };
	struct policy_decision d = model_authorize_grant(&a->who, &rq);

	if (d.allow)
		return true;
	deny(a, 0, d.reason == POLICY_DENY_LEVEL ? "the grant has no export level (0V, 0M or 0E)" :
	    policy_reason_str(d.reason));
	return false;
}

static int64_t
parse_time(json_t *doc, const char *key)
{
	int64_t us = 0;
	const char *s = json_string_value(json_object_get(doc, key));

	return s != NULL && valid_time(s, &us) == 0 ? us : 0;
}

/*
 * The export belongs to this authority (else false, answered 404) and the
 * grant permits all of it now (else false, answered 403).
 */
static bool
may_see(struct areq *a, json_t *doc)
{
	struct policy_request rq = { .now_us = gw_wall_us(), .has_footage = true,
		.footage_start_us = parse_time(doc, "from"), .footage_end_us = parse_time(doc, "until") };
	json_t *cams = json_object_get(doc, "camera_ids"), *levels = json_object_get(doc, "levels"), *v;
	size_t i, k;

	if (json_integer_value(json_object_get(doc, "authority_id")) != a->who.authority_id) {
		answer_error(a, 404, "not found", "no export with this id", NULL);
		return false;
	}
	json_array_foreach(cams, i, v) {
		for (k = 0; k < json_array_size(levels); k++) {
			const char *l = json_string_value(json_array_get(levels, k));
			struct policy_decision d;
			char why[160];

			rq.action = strcmp(l ? l : "", "0M") == 0 ? ACT_EXPORT_METADATA :
			    strcmp(l ? l : "", "0E") == 0 ? ACT_EXPORT_EVENTS : ACT_EXPORT_VIDEO;
			d = model_authorize(&a->who, json_integer_value(v), &rq);
			if (d.allow)
				continue;
			snprintf(why, sizeof(why), "camera %lld, level %s: %s", (long long)json_integer_value(v),
			    l ? l : "?", policy_reason_str(d.reason));
			deny(a, json_integer_value(v), why);
			return false;
		}
	}
	return true;
}

/* What an authority is shown of an export: the API's document, with the files' URLs. */
static json_t *
for_authority(json_t *doc)
{
	json_t *out = json_deep_copy(doc), *files = json_object_get(out, "files"), *f;
	size_t i;
	char url[160];

	json_object_del(out, "node");
	json_array_foreach(files, i, f) {
		snprintf(url, sizeof(url), AUTH_PREFIX "/%lld/files/%s",
		    (long long)json_integer_value(json_object_get(out, "id")),
		    json_string_value(json_object_get(f, "name")));
		json_object_set_new(f, "url", json_string(url));
	}
	return out;
}

/* --- the routes --------------------------------------------------------------------------------- */

static void on_doc(void *arg, json_t *doc, const char *error);

static void
show_again(void *arg)
{
	struct areq *a = arg;

	export_get(a->id, on_doc, a);
}

static void
on_doc(void *arg, json_t *doc, const char *error)
{
	struct areq *a = arg;
	struct export_send s;

	GW_CHECK(a, AREQ_MAGIC);
	if (doc == NULL) {
		if (error != NULL)
			answer_error(a, 503, "database unavailable", NULL, "retry in a moment");
		else
			answer_error(a, 404, "not found", "no export with this id", NULL);
		return;
	}
	if (!may_see(a, doc))
		return;
	switch (a->route) {
	case AR_CANCEL:
		a->route = AR_SHOW;
		if (export_cancel(a->id, a->actor, a->http->peer, "cancelled by the authority", show_again, a) != 0)
			answer_error(a, 409, "not running", "the export is over: there is nothing to cancel", NULL);
		return;
	case AR_FILE:
		if (export_prepare_file(a->http, doc, a->name, a->actor, &s) < 0) {
			answer_error(a, s.status, s.error, s.detail, s.hint);
			return;
		}
		if (s.status == 200 || s.status == 206)
			http_respond_file(a->http, s.status, s.ctype, s.fd, s.offset, s.len, export_download_done,
			    s.dl);
		else
			http_respond(a->http, s.status, NULL, NULL, 0);
		a->magic = 0;
		free(a);
		return;
	default:
		answer_json(a, a->created ? 202 : 200, for_authority(doc));
		return;
	}
}

static void
on_list(void *arg, PGresult *res, const char *error)
{
	struct areq *a = arg;
	json_t *doc, *items, *out = json_array(), *e;
	size_t i;

	GW_CHECK(a, AREQ_MAGIC);
	if (error != NULL || PQntuples(res) != 1 ||
	    (doc = json_loads(PQgetvalue(res, 0, 0), 0, NULL)) == NULL) {
		json_decref(out);
		answer_error(a, 503, "database unavailable", NULL, "retry in a moment");
		return;
	}
	items = json_object_get(doc, "items");
	json_array_foreach(items, i, e)
		json_array_append_new(out, for_authority(e));
	json_decref(doc);
	answer_json(a, 200, json_pack("{s:o}", "items", out));
}

static void
list(struct areq *a)
{
	char auth[24], lim[24], *live = export_live_json();
	const char *p[3] = { auth, lim, live };

	snprintf(auth, sizeof(auth), "%lld", (long long)a->who.authority_id);
	snprintf(lim, sizeof(lim), "%d", LIST_MAX);
	db_query("SELECT json_build_object('items', coalesce(json_agg(api_export_json(e, $3::jsonb)"
	    " ORDER BY e.id DESC), '[]'))::text FROM (SELECT * FROM exports WHERE authority_id = $1"
	    " ORDER BY id DESC LIMIT $2) e", 3, p, 0, on_list, a);
	free(live);
}

static void
on_created(void *arg, int64_t id, const struct export_refusal *why)
{
	struct areq *a = arg;
	char loc[64];

	GW_CHECK(a, AREQ_MAGIC);
	if (id == 0) {
		answer_error(a, why->status, why->error, why->detail, why->hint);
		return;
	}
	snprintf(loc, sizeof(loc), AUTH_PREFIX "/%lld", (long long)id);
	http_add_header(a->http, "Location", loc);
	a->id = id;
	a->route = AR_SHOW;
	a->created = true;
	export_get(id, on_doc, a);
}

static void
create(struct areq *a)
{
	struct export_doc d;
	struct valid_error err;
	struct export_spec sp = { .principal = a->who, .via = EXPORT_VIA_AUTHORITY, .actor = a->actor,
		.peer = a->http->peer };
	json_t *body = a->http->body ? json_loadb(a->http->body, a->http->body_len, JSON_REJECT_DUPLICATES,
	    NULL) : NULL;

	if (!json_is_object(body)) {
		json_decref(body);
		answer_error(a, 400, "malformed JSON", "the body must be a JSON object", NULL);
		return;
	}
	if (valid_export(body, false, &d, &err) < 0) {
		json_decref(body);
		export_doc_free(&d);
		answer_error(a, 422, "invalid document", err.detail, NULL);
		return;
	}
	json_decref(body);
	sp.reason = d.reason;
	sp.camera_ids = d.camera_ids;
	sp.ncameras = d.ncameras;
	sp.from_us = d.from_us;
	sp.to_us = d.until_us;
	export_create(&sp, on_created, a);	/* copies what it keeps */
	export_doc_free(&d);
}

static void
authority_request(struct http_request *http)
{
	struct areq *a = gw_xcalloc(1, sizeof(*a));

	a->magic = AREQ_MAGIC;
	a->http = http;
	snprintf(a->ident, sizeof(a->ident), "%s export", http->conn ? http->conn->ident : http->peer);
	if (!parse_route(a)) {
		answer_error(a, 404, "not found", NULL, "see the README, \"Exports\"");
		return;
	}
	if (!authenticate(a) || !may_export(a))
		return;
	switch (a->route) {
	case AR_LIST:
		list(a);
		break;
	case AR_CREATE:
		create(a);
		break;
	default:
		export_get(a->id, on_doc, a);
		break;
	}
}

void
export_authority_init(void)
{
	http_route("*", AUTH_PREFIX, true, authority_request);
}
