/*
 * api.c - the common path of every REST request (see api.h):
 *
 *   Origin check -> authenticate -> route (404/405) -> role (403)
 *     -> body (415/400) -> handler -> api_reply/api_fail
 *
 * Authentication comes before routing, so that an anonymous client learns
 * nothing about which paths exist. Tokens are accepted in the Authorization
 * header only, never in the URL (they would end up in logs and Referer).
 */
#include "api.h"
#include "validate.h"
#include "../audit.h"
#include "../config.h"
#include "../conn.h"
#include "../log.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TABLES 32
#define MAX_SEGMENTS 8

struct route_table {
	const struct api_route *routes;
	size_t n;
};

static struct route_table tables[MAX_TABLES];
static int ntables;

void
api_register(const struct api_route *routes, size_t n)
{
	if (ntables == MAX_TABLES)
		gw_fatal_check(__FILE__, __LINE__, "free API route table");
	tables[ntables++] = (struct route_table){ routes, n };
}

const char *
api_i64(int64_t v, char buf[24])
{
	snprintf(buf, 24, "%lld", (long long)v);
	return buf;
}

const char *
api_node(void)
{
	return audit_node_name();
}

bool
api_call_gone(const struct api_call *call)
{
	return call->req->conn == NULL || !conn_is_open(call->req->conn);
}

/* --- answering ------------------------------------------------------------ */

static bool
is_read(const struct api_call *call)
{
	return strcmp(call->req->method, "GET") == 0 || strcmp(call->req->method, "HEAD") == 0;
}

static void
call_free(struct api_call *call)
{
	if (call->state != NULL && call->free_state != NULL)
		call->free_state(call->state);
	json_decref(call->body);
	call->magic = 0;
	free(call);
}

void
api_reply_text(struct api_call *call, int status, const char *ctype, const char *text, size_t len)
{
	struct http_request *req = call->req;

	GW_CHECK(call, API_CALL_MAGIC);
	http_add_header(req, "Cache-Control", "no-store");
	http_add_header(req, "X-Content-Type-Options", "nosniff");
	/* Successful changes are in the audit log; refusals are worth a line here too. */
	if (!is_read(call) && call->who.admin_id != 0 && status >= 400)
		log_info("%s %s %s from %s -> %d", call->who.actor, req->method, req->path,
		    req->peer, status);
	else if (!is_read(call) && call->who.admin_id != 0)
		log_debug("%s %s %s from %s -> %d", call->who.actor, req->method, req->path,
		    req->peer, status);
	http_respond(req, status, ctype, text, len);
	call_free(call);
}

void
api_reply_file(struct api_call *call, int status, const char *ctype, int fd, uint64_t offset,
    uint64_t len, http_file_done done, void *arg)
{
	GW_CHECK(call, API_CALL_MAGIC);
	log_debug("%s %s %s from %s -> %d (file)", call->who.actor, call->req->method, call->req->path,
	    call->req->peer, status);
	http_respond_file(call->req, status, ctype, fd, offset, len, done, arg);
	call_free(call);
}

void
api_reply(struct api_call *call, int status, json_t *doc)
{
	/* 12 significant digits: 48.88 stays 48.88, and a millimetre of latitude still shows. */
	char *text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(12));

	api_reply_text(call, status, "application/json", text, strlen(text));
	free(text);
	json_decref(doc);
}

void
api_reply_row(struct api_call *call, PGresult *res, int status)
{
	const char *text;

	if (PQntuples(res) == 0 || (text = db_value(res, 0, 0)) == NULL) {
		api_fail(call, 404, "not found", NULL, NULL);
		return;
	}
	api_reply_text(call, status, "application/json", text, (size_t)PQgetlength(res, 0, 0));
}

void
api_fail(struct api_call *call, int status, const char *error, const char *detail, const char *hint)
{
	json_t *o = json_pack("{s:s}", "error", error);

	/* A refused mutation by a known admin is worth an audit row; anonymous noise is not. */
	if (!is_read(call) && call->who.admin_id != 0 && status >= 400)
		api_audit(call, call->route && call->route->action ? call->route->action : "api.request",
		    status == 403 ? "denied" : "error", 0,
		    json_pack("{s:i, s:s}", "status", status, "error", error));
	json_object_set_new(o, "detail", detail ? json_string(detail) : json_null());
	json_object_set_new(o, "hint", hint ? json_string(hint) : json_null());
	if (status == 401)
		http_add_header(call->req, "WWW-Authenticate", "Bearer realm=\"vssgate\"");
	api_reply(call, status, o);
}

void
api_failf(struct api_call *call, int status, const char *error, const char *hint,
    const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	api_fail(call, status, error, detail, hint);
}

static const struct {
	const char *constraint;
	const char *detail;
} constraint_texts[] = {
	{ "cameras_name_key", "another camera already has this name" },
	{ "sites_name_key", "another site already has this name" },
	{ "authorities_name_key", "another authority already has this name" },
	{ "admins_username_key", "another administrator already has this user name" },
	{ "grants_authority_id_fkey", "grants refer to this authority; revoke them and let them expire, or keep it" },
};

static const char *
constraint_detail(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(constraint_texts); i++)
		if (strcmp(constraint_texts[i].constraint, name) == 0)
			return constraint_texts[i].detail;
	return NULL;
}

void
api_fail_db(struct api_call *call, const char *error)
{
	const struct db_error *e = db_last_error();
	const char *st = e->sqlstate, *known = constraint_detail(e->constraint);

	if (strcmp(st, "23505") == 0)
		api_fail(call, 409, "already exists", known ? known : e->primary, NULL);
	else if (strcmp(st, "23503") == 0 && strcmp(call->req->method, "DELETE") == 0)
		api_fail(call, 409, "still in use", known ? known : e->primary,
		    "remove what refers to it first");
	else if (strcmp(st, "23503") == 0)
		api_fail(call, 422, "unknown reference", e->primary, "check the ids in the document");
	else if (strncmp(st, "23", 2) == 0 || strncmp(st, "22", 2) == 0)
		api_fail(call, 422, "invalid value", e->primary, NULL);
	else if (strcmp(st, "P0001") == 0)
		api_fail(call, 422, "invalid document", e->primary, NULL);
	else if (st[0] == '\0') {
		log_warn("%s %s %s: database: %s", call->who.actor, call->req->method, call->req->path,
		    error);
		api_fail(call, 503, "database unavailable", NULL, "retry in a moment");
	} else {
		log_error("%s %s %s: database error: %s", call->who.actor, call->req->method,
		    call->req->path, error);
		api_fail(call, 500, "internal error", NULL, "the server log has the details");
	}
}

/* --- database ------------------------------------------------------------------ */

struct api_q {
	struct api_call *call;
	api_db_cb cb;
};

static void
on_api_query(void *arg, PGresult *res, const char *error)
{
	struct api_q *q = arg;
	struct api_call *call = q->call;
	api_db_cb cb = q->cb;

	free(q);
	GW_CHECK(call, API_CALL_MAGIC);
	if (error != NULL && (call->db_error == NULL || !call->db_error(call, error)))
		api_fail_db(call, error);
	else if (error == NULL)
		cb(call, res);
}

void
api_query_flags(struct api_call *call, const char *sql, int n, const char *const *params,
    unsigned flags, api_db_cb cb)
{
	struct api_q *q = gw_xcalloc(1, sizeof(*q));

	q->call = call;
	q->cb = cb;
	db_query(sql, n, params, flags, on_api_query, q);
}

void
api_query(struct api_call *call, const char *sql, int n, const char *const *params, api_db_cb cb)
{
	api_query_flags(call, sql, n, params, 0, cb);
}

/* --- audit ---------------------------------------------------------------------- */

void
api_audit(const struct api_call *call, const char *action, const char *outcome, int64_t grant_id,
    json_t *detail)
{
	struct audit_entry e = {
		.actor = call->who.actor[0] ? call->who.actor : "anonymous",
		.action = action, .outcome = outcome, .grant_id = grant_id,
		.peer = call->req->peer, .detail = detail,
	};

	audit_record(&e);
	json_decref(detail);
}

/* --- query strings ----------------------------------------------------------------- */

/* Decode a form-encoded value of |len| bytes; false if malformed, NUL or too long. */
static bool
form_decode(const char *in, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = in[i];
		int hi, lo;

		if (ch == '+') {
			ch = ' ';
		} else if (ch == '%') {
			if (i + 2 >= len || (hi = proto_hexval(in[i + 1])) < 0 || (lo = proto_hexval(in[i + 2])) < 0)
				return false;
			ch = (char)(hi << 4 | lo);
			i += 2;
		}
		if (ch == '\0' || o + 1 >= outlen)
			return false;
		out[o++] = ch;
	}
	out[o] = '\0';
	return true;
}

/* 1: found and decoded into |out|; 0: absent; -1: malformed or longer than |outlen|. */
static int
query_get(const struct api_call *call, const char *name, char *out, size_t outlen)
{
	const char *p = call->req->query;
	size_t nlen = strlen(name);

	while (p != NULL && *p != '\0') {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);

		if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=')
			return form_decode(p + nlen + 1, len - nlen - 1, out, outlen) ? 1 : -1;
		p = amp ? amp + 1 : NULL;
	}
	return 0;
}

bool
api_query_param(const struct api_call *call, const char *name, char *out, size_t outlen)
{
	return query_get(call, name, out, outlen) == 1;
}

static bool
parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (*s == '\0' || strlen(s) > 19)
		return false;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool
api_int_param(struct api_call *call, const char *name, int64_t *out)
{
	char buf[32];
	int rc = query_get(call, name, buf, sizeof(buf));

	*out = 0;
	if (rc == 0 || (rc == 1 && parse_i64(buf, 1, INT64_MAX, out)))
		return true;
	api_failf(call, 400, "invalid query parameter", NULL, "%s must be a positive integer", name);
	return false;
}

bool
api_time_param(struct api_call *call, const char *name, char *text, size_t textlen, int64_t *us,
    bool *present)
{
	int64_t v;

	*present = api_query_param(call, name, text, textlen);
	if (!*present)
		return true;
	if (valid_time(text, &v) < 0) {
		api_failf(call, 400, "invalid query parameter", NULL,
		    "%s must be an RFC 3339 time such as 2026-11-21T10:00:00Z", name);
		return false;
	}
	*us = v;
	return true;
}

bool
api_page(struct api_call *call, int *limit, int64_t *cursor)
{
	char buf[32];
	int64_t v;
	int rc;

	*limit = API_LIMIT_DEFAULT;
	*cursor = 0;
	if ((rc = query_get(call, "limit", buf, sizeof(buf))) != 0) {
		if (rc < 0 || !parse_i64(buf, 1, API_LIMIT_MAX, &v)) {
			api_failf(call, 400, "invalid query parameter", NULL,
			    "limit must be an integer from 1 to %d", API_LIMIT_MAX);
			return false;
		}
		*limit = (int)v;
	}
	if ((rc = query_get(call, "cursor", buf, sizeof(buf))) != 0 &&
	    (rc < 0 || !parse_i64(buf, 0, INT64_MAX, cursor))) {
		api_fail(call, 400, "invalid query parameter", "cursor is not one this server gave",
		    "pass next_cursor from the previous page unchanged");
		return false;
	}
	return true;
}

/* --- routing ------------------------------------------------------------------------ */

/* A {name} segment: a file name of 1 to 64 characters, no dot first, no slash. */
static const char *
name_segment(const char *path, char *name, size_t namelen)
{
	const char *end = path;

	while (proto_is_alnum(*end) || *end == '.' || *end == '-' || *end == '_')
		end++;
	if (end == path || end - path > 64 || (size_t)(end - path) >= namelen || path[0] == '.')
		return NULL;
	memcpy(name, path, (size_t)(end - path));
	name[end - path] = '\0';
	return end;
}

/* Does |path| match |pattern|? Fills *id from an {id} segment, |name| from a {name} one. */
static bool
path_matches(const char *pattern, const char *path, int64_t *id, char *name, size_t namelen)
{
	while (*pattern && *path) {
		if (strncmp(pattern, "{id}", 4) == 0) {
			const char *end = path;
			char buf[24];

			while (*end >= '0' && *end <= '9')
				end++;
			if (end == path || end - path > 18 || path[0] == '0')
				return false;
			memcpy(buf, path, (size_t)(end - path));
			buf[end - path] = '\0';
			*id = strtoll(buf, NULL, 10);
			pattern += 4;
			path = end;
			continue;
		}
		if (strncmp(pattern, "{name}", 6) == 0) {
			if ((path = name_segment(path, name, namelen)) == NULL)
				return false;
			pattern += 6;
			continue;
		}
		if (*pattern != *path)
			return false;
		pattern++, path++;
	}
	return *pattern == '\0' && *path == '\0';
}

static bool
method_matches(const char *route_method, const char *method)
{
	return strcmp(route_method, method) == 0 ||
	    (strcmp(route_method, "GET") == 0 && strcmp(method, "HEAD") == 0);
}

/*
 * Find the route; on a path match with the wrong method, fill |allow|.
 * Returns NULL when nothing matches.
 */
static const struct api_route *
find_route(const char *method, const char *path, int64_t *id, char *name, size_t namelen,
    char *allow, size_t allowlen, bool *path_found)
{
	*path_found = false;
	allow[0] = '\0';
	for (int t = 0; t < ntables; t++)
		for (size_t i = 0; i < tables[t].n; i++) {
			const struct api_route *r = &tables[t].routes[i];
			size_t used = strlen(allow);

			if (!path_matches(r->pattern, path, id, name, namelen))
				continue;
			*path_found = true;
			if (method_matches(r->method, method))
				return r;
			snprintf(allow + used, allowlen - used, "%s%s", used ? ", " : "", r->method);
		}
	return NULL;
}

/* --- authentication ---------------------------------------------------------------------- */

static bool
origin_allowed(const char *origin)
{
	return gw_list_has(gw.cfg->allowed_origins, origin);
}

/*
 * Is |origin| the gateway's own, as the page at /admin/ sends it: the
 * scheme of this connection and the Host the browser asked for? A page of
 * another site has another origin; one that renamed itself to this host
 * (DNS rebinding) reaches the gateway under its own name and cannot read
 * the admin page's token, which lives in that page's sessionStorage.
 */
static bool
own_origin(const struct http_request *req, const char *origin)
{
	return gw.cfg->allow_own_origin && http_is_own_origin(req->conn && req->conn->tls,
	    http_header_get(req, "Host"), origin);
}

/* The CN of a verified client certificate on a TLS connection, if any. */
static bool
client_cert_cn(const struct http_request *req, char *cn, size_t cnlen)
{
	struct ssl_st *ssl = req->conn ? req->conn->ssl : NULL;
	X509 *cert;
	int n;

	if (ssl == NULL || gw.cfg->tls_client_ca_file[0] == '\0')
		return false;
	if ((cert = SSL_get0_peer_certificate(ssl)) == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		return false;
	n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, (int)cnlen);
	return n > 0 && (size_t)n < cnlen;
}

/* Who is calling? false: not authenticated (the reason in |why|). */
static bool
authenticate(struct api_call *call, const char **why)
{
	const char *auth = http_header_get(call->req, "Authorization");
	char cn[128];

	if (auth != NULL) {
		if (strncasecmp(auth, "Bearer ", 7) != 0) {
			*why = "the Authorization header must be \"Bearer <token>\"";
			return false;
		}
		auth += 7;
		while (*auth == ' ')
			auth++;
		if (!auth_bearer(auth, &call->who)) {
			*why = "the token is unknown, expired or revoked";
			return false;
		}
		return true;
	}
	if (client_cert_cn(call->req, cn, sizeof(cn))) {
		if (auth_certificate(cn, &call->who))
			return true;
		*why = "the client certificate names no enabled administrator";
		return false;
	}
	*why = "no credentials";
	return false;
}

/* --- the request path ------------------------------------------------------------------------- */

static bool
json_content_type(const struct http_request *req)
{
	const char *ct = http_header_get(req, "Content-Type");

	return ct != NULL && strncasecmp(ct, "application/json", 16) == 0 &&
	    (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ');
}

/* Parse the body the route wants; false if the call was ended with an error. */
static bool
take_body(struct api_call *call)
{
	struct http_request *req = call->req;
	json_error_t jerr;

	if (call->route->body == BODY_NONE || call->route->body == BODY_RAW)
		return true;
	if (req->body_len == 0) {
		if (call->route->body == BODY_JSON_OPTIONAL)
			return true;
		api_fail(call, 400, "missing body", "this request needs a JSON document",
		    "send Content-Type: application/json and a JSON object");
		return false;
	}
	if (!json_content_type(req)) {
		api_fail(call, 415, "unsupported media type", "the body must be application/json", NULL);
		return false;
	}
	call->body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (call->body == NULL) {
		api_failf(call, 400, "malformed JSON", NULL, "line %d, column %d: %s", jerr.line,
		    jerr.column, jerr.text);
		return false;
	}
	if (!json_is_object(call->body)) {
		api_fail(call, 400, "malformed JSON", "the document must be a JSON object", NULL);
		return false;
	}
	return true;
}

/* After authentication: route, check the role, read the body, run the handler. */
static void
route_call(struct api_call *call)
{
	struct http_request *req = call->req;
	char allow[128];
	bool path_found;

	call->route = find_route(req->method, req->path, &call->id, call->name, sizeof(call->name),
	    allow, sizeof(allow), &path_found);
	if (call->route == NULL && path_found) {
		http_add_header(req, "Allow", allow);
		api_failf(call, 405, "method not allowed", NULL, "%s is not allowed here; allowed: %s",
		    req->method, allow);
		return;
	}
	if (call->route == NULL) {
		api_fail(call, 404, "not found", "no such resource", "see doc/openapi.json");
		return;
	}
	if (call->route->roles != ROLE_PUBLIC && !(call->route->roles & call->who.role)) {
		api_failf(call, 403, "forbidden", NULL, "the %s role may not do this",
		    call->who.role == ROLE_ADMIN ? "admin" :
		    call->who.role == ROLE_OPERATOR ? "operator" : "auditor");
		return;
	}
	if (take_body(call))
		call->route->handler(call);
}

static bool
is_login(const struct http_request *req)
{
	return strcmp(req->path, API_PREFIX "auth/login") == 0;
}

static void
api_handle(struct http_request *req)
{
	struct api_call *call = gw_xcalloc(1, sizeof(*call));
	const char *origin = http_header_get(req, "Origin");
	const char *why = NULL;

	call->magic = API_CALL_MAGIC;
	call->req = req;
	if (origin != NULL && !origin_allowed(origin) && !own_origin(req, origin)) {
		log_info("%s %s from %s refused: cross-site request from origin %.100s", req->method,
		    req->path, req->peer, origin);
		api_fail(call, 403, "cross-site request refused", "this Origin is not allowed",
		    "add it to [api] allowed_origins if a web page must call the API");
		return;
	}
	if (req->query != NULL && (strstr(req->query, "access_token=") || strstr(req->query, "token="))) {
		api_fail(call, 400, "credentials in the URL", "tokens are accepted only in the "
		    "Authorization header", "send Authorization: Bearer <token>");
		return;
	}
	if (!auth_loaded()) {
		/* Before the first load every token would look unknown: say "later", not "no". */
		http_add_header(req, "Retry-After", "1");
		api_fail(call, 503, "starting", "the list of administrators is not loaded yet",
		    "try again in a second");
		return;
	}
	if (!is_login(req) && !authenticate(call, &why)) {
		api_fail(call, 401, "not authenticated", why,
		    "log in with POST /api/v1/auth/login and send Authorization: Bearer <token>");
		return;
	}
	route_call(call);
}

void
api_on_reconnect(void)
{
	auth_reload();
}

void
api_on_ready(void (*loaded)(void))
{
	auth_on_first_load(loaded);
	auth_reload();
	webhook_resume();
}

void
api_init(void)
{
	auth_init();
	admins_init();
	sites_init();
	cameras_init();
	location_init();
	authorities_init();
	grants_init();
	webhook_init();
	sessions_init();
	auditapi_init();
	metrics_init();
	liveview_init();
	exports_init();
	http_route("*", API_PREFIX, true, api_handle);
	http_route("*", "/metrics", false, api_handle);
}

void
api_shutdown(void)
{
	webhook_shutdown();
	grants_shutdown();
	cameras_shutdown();
	auth_shutdown();
	ntables = 0;
}
