/*
 * exports.c - /api/v1/exports: an administrator asks for a signed export
 * for an authority, under one of its grants and with a reason; lists and
 * shows them with their progress; cancels; deletes the files before
 * [export] keep; downloads them (gateway/export/ does the work).
 *
 *   POST   /api/v1/exports                       admin, operator  {grant_id, camera_ids, from, until, reason}
 *   GET    /api/v1/exports                       any role         ?state= ?authority_id= ?grant_id= ?camera_id=
 *   GET    /api/v1/exports/{id}                  any role
 *   POST   /api/v1/exports/{id}/cancel           admin, operator  {reason}
 *   DELETE /api/v1/exports/{id}                  admin            {reason}: the files go now
 *   GET    /api/v1/exports/{id}/files/{name}     any role         Range, If-Range, If-None-Match
 *
 * The export is checked against the grant exactly as the authority's own
 * request would be (jobs.h): the administrator cannot give an authority
 * more than its grant.
 */
#include "api.h"
#include "validate.h"
#include "../audit.h"
#include "../log.h"
#include "../model.h"
#include "../export/download.h"
#include "../export/jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const states[] = { "queued", "running", "done", "failed", "cancelled", "expired" };

static void
on_json(struct api_call *call, PGresult *res)
{
	api_reply_row(call, res, 200);
}

/* --- create ------------------------------------------------------------------------------ */

static void
reply_created(void *arg, json_t *doc, const char *error)
{
	struct api_call *call = arg;
	char loc[64];

	if (doc == NULL) {
		api_fail(call, 503, "database unavailable", error, "GET the export again in a moment");
		return;
	}
	snprintf(loc, sizeof(loc), API_PREFIX "exports/%lld",
	    (long long)json_integer_value(json_object_get(doc, "id")));
	http_add_header(call->req, "Location", loc);
	api_reply(call, 202, json_incref(doc));
}

static void
on_created(void *arg, int64_t id, const struct export_refusal *why)
{
	struct api_call *call = arg;

	if (id == 0) {
		api_fail(call, why->status, why->error, why->detail, why->hint);
		return;
	}
	export_get(id, reply_created, call);
}

static void
export_create_route(struct api_call *call)
{
	struct export_doc d;
	struct valid_error err;
	const struct model_grant *g;
	struct export_spec sp = { .via = EXPORT_VIA_API };

	if (valid_export(call->body, true, &d, &err) < 0) {
		api_fail(call, 422, "invalid document", err.detail, NULL);
		export_doc_free(&d);
		return;
	}
	if (gw.model == NULL || (g = model_grant(gw.model, d.grant_id)) == NULL) {
		api_failf(call, 422, "unknown grant", "an export is made under a grant of the authority",
		    "no grant %lld is in force or recently ended", (long long)d.grant_id);
		export_doc_free(&d);
		return;
	}
	sp.principal.grant_id = g->pg.id;
	sp.principal.authority_id = g->pg.authority_id;
	sp.actor = call->who.actor;
	sp.peer = call->req->peer;
	sp.reason = d.reason;
	sp.camera_ids = d.camera_ids;
	sp.ncameras = d.ncameras;
	sp.from_us = d.from_us;
	sp.to_us = d.until_us;
	export_create(&sp, on_created, call);	/* copies what it keeps */
	export_doc_free(&d);
}

/* --- read ------------------------------------------------------------------------------------ */

static const char list_sql[] =
    "SELECT json_build_object('items', coalesce(json_agg(api_export_json(e, $3::jsonb) ORDER BY e.id DESC),"
    " '[]'), 'next_cursor', CASE WHEN count(*) = $2 THEN min(e.id)::text END)::text"
    " FROM (SELECT * FROM exports WHERE ($1::bigint = 0 OR id < $1)"
    "  AND ($4::text IS NULL OR state = $4)"
    "  AND ($5::bigint IS NULL OR authority_id = $5)"
    "  AND ($6::bigint IS NULL OR grant_id = $6)"
    "  AND ($7::bigint IS NULL OR $7 = ANY (camera_ids))"
    "  ORDER BY id DESC LIMIT $2) e";

static bool
state_filter(struct api_call *call, char *buf, size_t len, const char **out)
{
	*out = NULL;
	if (!api_query_param(call, "state", buf, len))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(states); i++)
		if (strcmp(buf, states[i]) == 0) {
			*out = states[i];
			return true;
		}
	api_fail(call, 400, "invalid query parameter",
	    "state must be queued, running, done, failed, cancelled or expired", NULL);
	return false;
}

/* Newest first: the cursor is the smallest id of the previous page. */
static void
exports_list(struct api_call *call)
{
	char cur[24], lim[24], st[16], a[24], g[24], c[24], *live;
	const char *params[7];
	int64_t cursor, authority, grant, camera;
	int limit;

	if (!api_page(call, &limit, &cursor) || !state_filter(call, st, sizeof(st), &params[3]) ||
	    !api_int_param(call, "authority_id", &authority) || !api_int_param(call, "grant_id", &grant) ||
	    !api_int_param(call, "camera_id", &camera))
		return;
	live = export_live_json();
	params[0] = api_i64(cursor, cur);
	params[1] = api_i64(limit, lim);
	params[2] = live;
	params[4] = authority ? api_i64(authority, a) : NULL;
	params[5] = grant ? api_i64(grant, g) : NULL;
	params[6] = camera ? api_i64(camera, c) : NULL;
	api_query(call, list_sql, 7, params, on_json);
	free(live);
}

static void
export_show(struct api_call *call)
{
	char id[24], *live = export_live_json();
	const char *params[2] = { api_i64(call->id, id), live };

	api_query(call, "SELECT api_export_json(e, $2::jsonb)::text FROM exports e WHERE id = $1", 2,
	    params, on_json);
	free(live);
}

/* --- cancel and delete ---------------------------------------------------------------------------- */

static void
after_cancel(void *arg, json_t *doc, const char *error)
{
	struct api_call *call = arg;

	if (doc == NULL) {
		api_fail(call, error ? 503 : 404, error ? "database unavailable" : "not found", error, NULL);
		return;
	}
	api_reply(call, 202, json_incref(doc));
}

static void
show_cancelled(void *arg)
{
	struct api_call *call = arg;

	export_get(call->id, after_cancel, call);
}

static void
cancel_answer(void *arg, json_t *doc, const char *error)
{
	struct api_call *call = arg;
	struct valid_error err;
	const char *reason, *state;

	if (doc == NULL) {
		api_fail(call, error ? 503 : 404, error ? "database unavailable" : "not found",
		    error ? error : "no export with this id", NULL);
		return;
	}
	reason = call->body ? valid_reason(call->body, false, &err) : "";
	if (reason == NULL) {
		api_fail(call, 422, "invalid document", err.detail, NULL);
		return;
	}
	if (export_cancel(call->id, call->who.actor, call->req->peer, reason, show_cancelled, call) != 0) {
		state = json_string_value(json_object_get(doc, "state"));
		api_failf(call, 409, "not running", NULL, "the export is %s: there is nothing to cancel",
		    state ? state : "over");
	}
}

static void
export_cancel_route(struct api_call *call)
{
	export_get(call->id, cancel_answer, call);
}

static void
on_delete(struct api_call *call, PGresult *res)
{
	if (PQntuples(res) == 0) {
		api_fail(call, 409, "not deletable", "only a finished export's files can be deleted",
		    "cancel an export that is still running");
		return;
	}
	export_expire_soon();
	api_reply(call, 202, json_pack("{s:I, s:b}", "id", (json_int_t)call->id, "deleting", 1));
}

static void
export_delete_route(struct api_call *call)
{
	struct valid_error err;
	const char *reason = call->body ? valid_reason(call->body, true, &err) : NULL;
	char id[24];
	const char *params[5];

	if (reason == NULL) {
		api_fail(call, 422, "invalid document", call->body ? err.detail :
		    "reason: is required (why the files go before [export] keep)", NULL);
		return;
	}
	params[0] = api_i64(call->id, id), params[1] = api_node(), params[2] = call->who.actor;
	params[3] = call->req->peer, params[4] = reason;
	api_query(call, "WITH e AS (UPDATE exports SET expires_at = now() WHERE id = $1 AND state = 'done'"
	    "  RETURNING *),"
	    " a AS (INSERT INTO audit_log (node, actor, action, outcome, authority_id, grant_id, peer, detail)"
	    "  SELECT $2, $3, 'export.delete_request', 'ok', e.authority_id, e.grant_id, $4,"
	    "   jsonb_build_object('export_id', e.id, 'reason', $5::text) FROM e)"
	    " SELECT id FROM e", 5, params, on_delete);
}

/* --- download ------------------------------------------------------------------------------------- */

static void
send_file(void *arg, json_t *doc, const char *error)
{
	struct api_call *call = arg;
	struct export_send s;

	if (doc == NULL) {
		api_fail(call, error ? 503 : 404, error ? "database unavailable" : "not found",
		    error ? error : "no export with this id", NULL);
		return;
	}
	if (export_prepare_file(call->req, doc, call->name, call->who.actor, &s) < 0) {
		api_fail(call, s.status, s.error, s.detail, s.hint);
		return;
	}
	if (s.status == 304 || s.status == 416) {
		api_reply_text(call, s.status, NULL, NULL, 0);
		return;
	}
	api_reply_file(call, s.status, s.ctype, s.fd, s.offset, s.len, export_download_done, s.dl);
}

static void
export_file_route(struct api_call *call)
{
	export_get(call->id, send_file, call);
}

static const struct api_route routes[] = {
	{ "POST", API_PREFIX "exports", ROLES_OPS, BODY_JSON, export_create_route, "export.request" },
	{ "GET", API_PREFIX "exports", ROLES_ANY, BODY_NONE, exports_list, NULL },
	{ "GET", API_PREFIX "exports/{id}", ROLES_ANY, BODY_NONE, export_show, NULL },
	{ "DELETE", API_PREFIX "exports/{id}", ROLE_ADMIN, BODY_JSON_OPTIONAL, export_delete_route,
	  "export.delete_request" },
	{ "POST", API_PREFIX "exports/{id}/cancel", ROLES_OPS, BODY_JSON_OPTIONAL, export_cancel_route,
	  "export.cancel" },
	{ "GET", API_PREFIX "exports/{id}/files/{name}", ROLES_ANY, BODY_NONE, export_file_route, NULL },
};

void
exports_init(void)
{
	api_register(routes, ARRAY_SIZE(routes));
}
