/*
 * sessions.c - /api/v1/sessions: who is connected to which camera, since
 * when, how many bytes; and ending a session.
 *
 * The sessions table has the rows of every node; the bytes of the sessions
 * this node serves are taken from the live registry (session.c), which is
 * ahead of the table by up to its flush interval. Ending a session sends
 * NOTIFY vssgate_session '<id>' in the statement that audits the request:
 * the node that serves it (this one or another) closes it, and session.c
 * records the end.
 */
#include "api.h"
#include "../db.h"
#include "../session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
add_live(const struct gw_session *s, void *arg)
{
	json_t *live = arg;
	char id[24];

	if (s->db_id != 0)
		json_object_set_new(live, api_i64(s->db_id, id), json_integer((json_int_t)session_bytes(s)));
}

/* {"<sessions.id>": bytes, ...} for the sessions of this node; allocated. */
static char *
live_counters(void)
{
	json_t *live = json_object();
	char *text;

	session_foreach(add_live, live);
	text = json_dumps(live, JSON_COMPACT);
	json_decref(live);
	return text;
}

static void
on_json(struct api_call *call, PGresult *res)
{
	api_reply_row(call, res, 200);
}

static const char list_sql[] =
    "SELECT json_build_object('items', coalesce(json_agg(api_session_json(s, $3::jsonb) ORDER BY s.id),"
    " '[]'), 'next_cursor', CASE WHEN count(*) = $2 THEN max(s.id)::text END)::text"
    " FROM (SELECT * FROM sessions WHERE id > $1"
    "  AND ($4::boolean IS NULL OR (ended_at IS NULL) = $4)"
    "  AND ($5::bigint IS NULL OR camera_id = $5)"
    "  AND ($6::bigint IS NULL OR authority_id = $6)"
    "  AND ($7::bigint IS NULL OR grant_id = $7)"
    "  ORDER BY id LIMIT $2) s";

/* ?open=true (default), false or all. */
static bool
open_filter(struct api_call *call, const char **out)
{
	char v[8];

	*out = "true";
	if (!api_query_param(call, "open", v, sizeof(v)))
		return true;
	if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
		*out = strcmp(v, "true") == 0 ? "true" : "false";
		return true;
	}
	if (strcmp(v, "all") == 0) {
		*out = NULL;
		return true;
	}
	api_fail(call, 400, "invalid query parameter", "open must be true, false or all", NULL);
	return false;
}

static void
sessions_list(struct api_call *call)
{
	char cur[24], lim[24], cam[24], auth[24], grant[24], *live;
	const char *params[7];
	int64_t cursor, camera, authority, grant_id;
	int limit;

	if (!api_page(call, &limit, &cursor) || !open_filter(call, &params[3]) ||
	    !api_int_param(call, "camera_id", &camera) ||
	    !api_int_param(call, "authority_id", &authority) ||
	    !api_int_param(call, "grant_id", &grant_id))
		return;
	live = live_counters();
	params[0] = api_i64(cursor, cur);
	params[1] = api_i64(limit, lim);
	params[2] = live;
	params[4] = camera ? api_i64(camera, cam) : NULL;
	params[5] = authority ? api_i64(authority, auth) : NULL;
	params[6] = grant_id ? api_i64(grant_id, grant) : NULL;
	api_query(call, list_sql, 7, params, on_json);
	free(live);
}

static void
session_get(struct api_call *call)
{
	char id[24], *live = live_counters();
	const char *params[2] = { api_i64(call->id, id), live };

	api_query(call, "SELECT api_session_json(s, $2::jsonb)::text FROM sessions s WHERE id = $1", 2,
	    params, on_json);
	free(live);
}

static const char end_sql[] =
    "WITH s AS (SELECT * FROM sessions WHERE id = $1),"
    " n AS (SELECT pg_notify('vssgate_session', s.id::text) FROM s WHERE s.ended_at IS NULL),"
    " a AS (INSERT INTO audit_log (node, actor, action, outcome, authority_id, grant_id, camera_id,"
    "   session_id, peer, detail)"
    "  SELECT $2, $3, 'session.end_request', 'ok', s.authority_id, s.grant_id, s.camera_id, s.id, $4,"
    "   jsonb_build_object('reason', $5::text, 'node', s.node) FROM s WHERE s.ended_at IS NULL)"
    " SELECT (SELECT count(*) FROM s), (SELECT ended_at IS NOT NULL FROM s), (SELECT count(*) FROM n)";

static void
on_end(struct api_call *call, PGresult *res)
{
	if (strcmp(PQgetvalue(res, 0, 0), "0") == 0) {
		api_fail(call, 404, "not found", "no session with this id", NULL);
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
		api_fail(call, 409, "already ended", "this session is over", NULL);
		return;
	}
	api_reply(call, 202, json_pack("{s:I, s:b}", "id", (json_int_t)call->id, "ending", 1));
}

static void
session_end_route(struct api_call *call)
{
	char id[24];
	const char *reason = json_string_value(json_object_get(call->body, "reason"));
	const char *params[5] = { api_i64(call->id, id), api_node(), call->who.actor, call->req->peer,
		reason ? reason : "ended by an administrator" };

	if (reason != NULL && (strlen(reason) == 0 || strlen(reason) > 2000)) {
		api_fail(call, 422, "invalid document", "reason: must be 1 to 2000 characters", NULL);
		return;
	}
	api_query(call, end_sql, 5, params, on_end);
}

static const struct api_route routes[] = {
	{ "GET", API_PREFIX "sessions", ROLES_ANY, BODY_NONE, sessions_list, NULL },
	{ "GET", API_PREFIX "sessions/{id}", ROLES_ANY, BODY_NONE, session_get, NULL },
	{ "DELETE", API_PREFIX "sessions/{id}", ROLES_OPS, BODY_JSON_OPTIONAL, session_end_route,
	  "session.end_request" },
};

void
sessions_init(void)
{
	api_register(routes, ARRAY_SIZE(routes));
}
