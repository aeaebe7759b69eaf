/*
 * auditlog.c - /api/v1/audit: query the audit log by time, authority,
 * camera, grant, actor and action; export it as JSON lines; verify its hash
 * chain (audit_verify() in gateway/audit.c recomputes every hash itself and
 * names the first row that breaks the chain). Admins and auditors only.
 */
#include "api.h"
#include "validate.h"
#include "../audit.h"
#include "../log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT_DEFAULT 10000
#define EXPORT_MAX 100000

/* The filters shared by query and export, as SQL parameters $3.. $11. */
struct audit_filter {
	char from[40], to[40], auth[24], cam[24], grant[24], action[128], actor[128], outcome[16];
	char export_id[24];
	const char *p[9];
	bool desc;
};

static bool
time_filter(struct api_call *call, const char *name, char *out, size_t len, const char **param)
{
	int64_t us;
	bool present;

	if (!api_time_param(call, name, out, len, &us, &present))
		return false;
	*param = present ? out : NULL;
	return true;
}

static bool
id_filter(struct api_call *call, const char *name, char *buf, const char **param)
{
	int64_t v;

	if (!api_int_param(call, name, &v))
		return false;
	*param = v ? api_i64(v, buf) : NULL;
	return true;
}

static bool
text_filter(struct api_call *call, const char *name, char *out, size_t len, const char **param)
{
	*param = api_query_param(call, name, out, len) ? out : NULL;
	return true;
}

static bool
read_filter(struct api_call *call, struct audit_filter *f)
{
	char order[8];

	memset(f, 0, sizeof(*f));
	if (api_query_param(call, "order", order, sizeof(order))) {
		if (strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
			api_fail(call, 400, "invalid query parameter", "order must be asc or desc", NULL);
			return false;
		}
		f->desc = strcmp(order, "desc") == 0;
	}
	if (!time_filter(call, "from", f->from, sizeof(f->from), &f->p[0]) ||
	    !time_filter(call, "to", f->to, sizeof(f->to), &f->p[1]) ||
	    !id_filter(call, "authority_id", f->auth, &f->p[2]) ||
	    !id_filter(call, "camera_id", f->cam, &f->p[3]) ||
	    !id_filter(call, "grant_id", f->grant, &f->p[4]))
		return false;
	text_filter(call, "action", f->action, sizeof(f->action), &f->p[5]);
	text_filter(call, "actor", f->actor, sizeof(f->actor), &f->p[6]);
	text_filter(call, "outcome", f->outcome, sizeof(f->outcome), &f->p[7]);
	return id_filter(call, "export_id", f->export_id, &f->p[8]);
}

/*
 * The filtered, paginated rows "a". An action ending in ".*" is a prefix
 * ("grant.*"); the cursor is the last id of the previous page, read in the
 * page's order.
 */
#define FILTERED_ROWS(order, cmp) \
	"(SELECT * FROM audit_log WHERE ($1::bigint = 0 OR id " cmp " $1)" \
	"  AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::timestamptz IS NULL OR at < $4)" \
	"  AND ($5::bigint IS NULL OR authority_id = $5) AND ($6::bigint IS NULL OR camera_id = $6)" \
	"  AND ($7::bigint IS NULL OR grant_id = $7)" \
	"  AND ($8::text IS NULL OR action = $8 OR (right($8, 2) = '.*' AND" \
	"   starts_with(action, left($8, -1))))" \
	"  AND ($9::text IS NULL OR actor = $9) AND ($10::text IS NULL OR outcome = $10)" \
	"  AND ($11::text IS NULL OR detail ->> 'export_id' = $11)" \
	"  ORDER BY id " order " LIMIT $2) a"

static const char *const query_sql[2] = {
	"SELECT json_build_object('items', coalesce(json_agg(api_audit_json(a) ORDER BY a.id), '[]'),"
	" 'next_cursor', CASE WHEN count(*) = $2 THEN max(a.id)::text END)::text FROM "
	FILTERED_ROWS("ASC", ">"),
	"SELECT json_build_object('items', coalesce(json_agg(api_audit_json(a) ORDER BY a.id DESC), '[]'),"
	" 'next_cursor', CASE WHEN count(*) = $2 THEN min(a.id)::text END)::text FROM "
	FILTERED_ROWS("DESC", "<"),
};

static const char export_sql[] =
    "SELECT coalesce(string_agg(api_audit_json(a)::text, E'\\n' ORDER BY a.id) || E'\\n', ''),"
    " count(*), max(a.id) FROM " FILTERED_ROWS("ASC", ">");

static void
run_filtered(struct api_call *call, const char *sql, int limit, int64_t cursor,
    const struct audit_filter *f, api_db_cb cb)
{
	char cur[24], lim[24];
	const char *params[11] = { api_i64(cursor, cur), api_i64(limit, lim) };

	memcpy(&params[2], f->p, sizeof(f->p));
	api_query(call, sql, 11, params, cb);
}

static void
on_query(struct api_call *call, PGresult *res)
{
	api_reply_row(call, res, 200);
}

static void
audit_query(struct api_call *call)
{
	struct audit_filter f;
	int64_t cursor;
	int limit;

	if (!api_page(call, &limit, &cursor) || !read_filter(call, &f))
		return;
	run_filtered(call, query_sql[f.desc], limit, cursor, &f, on_query);
}

static void
on_export(struct api_call *call, PGresult *res)
{
	int limit = (int)(intptr_t)call->state;

	call->state = NULL;
	if (strtol(PQgetvalue(res, 0, 1), NULL, 10) == limit)
		http_add_header(call->req, "X-Next-Cursor", PQgetvalue(res, 0, 2));
	http_add_header(call->req, "Content-Disposition", "attachment; filename=\"audit.jsonl\"");
	api_reply_text(call, 200, "application/x-ndjson", PQgetvalue(res, 0, 0),
	    (size_t)PQgetlength(res, 0, 0));
}

/* JSON lines, oldest first; ?limit= up to EXPORT_MAX, X-Next-Cursor when there is more. */
static void
audit_export(struct api_call *call)
{
	struct audit_filter f;
	char buf[24];
	int64_t cursor = 0, limit = EXPORT_DEFAULT;

	if (!read_filter(call, &f))
		return;
	if ((api_query_param(call, "limit", buf, sizeof(buf)) &&
	    ((limit = strtoll(buf, NULL, 10)) < 1 || limit > EXPORT_MAX)) ||
	    (api_query_param(call, "cursor", buf, sizeof(buf)) && (cursor = strtoll(buf, NULL, 10)) < 0)) {
		api_failf(call, 400, "invalid query parameter", NULL,
		    "limit must be 1 to %d and cursor a value of X-Next-Cursor", EXPORT_MAX);
		return;
	}
	f.desc = false;
	call->state = (void *)(intptr_t)limit;
	call->free_state = NULL;
	run_filtered(call, export_sql, (int)limit, cursor, &f, on_export);
}

static void
on_verified(const struct audit_verify_result *r, void *arg)
{
	struct api_call *call = arg;

	if (!r->ok && r->first_bad_id == 0) {
		api_fail(call, 503, "cannot verify", r->why, "retry when the database is reachable");
		return;
	}
	if (!r->ok)
		log_warn("%s verified the audit log: BROKEN at row %lld: %s", call->who.actor,
		    (long long)r->first_bad_id, r->why);
	api_reply(call, 200, r->ok ? json_pack("{s:b, s:I}", "ok", 1, "rows", (json_int_t)r->rows) :
	    json_pack("{s:b, s:I, s:I, s:s}", "ok", 0, "rows", (json_int_t)r->rows,
		"first_bad_id", (json_int_t)r->first_bad_id, "why", r->why));
}

static void
audit_verify_route(struct api_call *call)
{
	audit_verify(on_verified, call);
}

static const struct api_route routes[] = {
	{ "GET", API_PREFIX "audit", ROLES_AUDIT, BODY_NONE, audit_query, NULL },
	{ "GET", API_PREFIX "audit/export", ROLES_AUDIT, BODY_NONE, audit_export, NULL },
	{ "GET", API_PREFIX "audit/verify", ROLES_AUDIT, BODY_NONE, audit_verify_route, NULL },
};

void
auditapi_init(void)
{
	api_register(routes, ARRAY_SIZE(routes));
}
