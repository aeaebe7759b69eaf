/*
 * liveview.c - POST /api/v1/cameras/{id}/live-view: an administrator (or
 * operator) watches a camera in the admin page.
 *
 * The gateway has one way to let someone watch: a grant. So a live view is a
 * short grant of level 1V on that one camera, for the built-in authority
 * LIVE_VIEW_AUTHORITY (created on first use), with fresh credentials, made
 * in one statement with its audit row ("camera.live_view", naming the
 * admin). The player then logs in over RTSP over WebSocket with those
 * credentials like any authority's player, so every request is checked
 * against the policy, the session shows in /sessions and the audit log, and
 * revoking or letting the grant expire ends it. The page extends the grant
 * while the view stays open ([web] live_view_duration at a time) and revokes
 * it when the view closes.
 *
 * The password is in this answer only, as for any grant.
 */
#include "api.h"
#include "../config.h"
#include "../crypto.h"
#include "../model.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIEW_PASSWORD_CHARS 24
#define VIEW_SUFFIX_CHARS 6

static const char view_sql[] =
    "WITH cam AS (SELECT id FROM cameras WHERE id = $1),"
    " auth AS (INSERT INTO authorities (name, kind) SELECT $2, 'internal' FROM cam"
    "  ON CONFLICT (name) DO UPDATE SET kind = authorities.kind RETURNING id),"
    " g AS (INSERT INTO grants (authority_id, levels, scope_kind, camera_ids, active_from,"
    "   active_until, reason, created_by)"
    "  SELECT auth.id, '{1V}', 'cameras', ARRAY[cam.id], now(),"
    "   now() + $3::bigint * interval '1 millisecond', $4, $5 FROM auth, cam RETURNING *),"
    " c AS (INSERT INTO grant_credentials (grant_id, username, password_enc)"
    "  SELECT g.id, 'v' || g.id || '-' || $6, decode($7, 'hex') FROM g RETURNING username),"
    " a AS (INSERT INTO audit_log (node, actor, action, outcome, authority_id, grant_id, camera_id,"
    "   peer, detail)"
    "  SELECT $8, $9, 'camera.live_view', 'ok', g.authority_id, g.id, $1, $10,"
    "   jsonb_build_object('active_until', api_ts(g.active_until), 'username', c.username)"
    "  FROM g, c)"
    " SELECT (SELECT count(*) FROM cam),"
    "  (SELECT api_grant_json(ROW(g.*)::grants, c.username) FROM g, c)::text";

struct view_state {
	char password[VIEW_PASSWORD_CHARS + 1];
};

static void
view_state_free(void *p)
{
	struct view_state *vs = p;

	OPENSSL_cleanse(vs->password, sizeof(vs->password));
	free(vs);
}

static void
on_view_created(struct api_call *call, PGresult *res)
{
	struct view_state *vs = call->state;
	json_t *grant, *doc;
	char *text;

	if (strcmp(PQgetvalue(res, 0, 0), "0") == 0 || PQgetisnull(res, 0, 1)) {
		api_fail(call, 404, "not found", "no camera with this id", NULL);
		return;
	}
	if ((grant = json_loads(PQgetvalue(res, 0, 1), 0, NULL)) == NULL) {
		api_fail(call, 500, "internal error", NULL, NULL);
		return;
	}
	/* The statement's own snapshot does not see an authority it created: name it here. */
	json_object_set_new(grant, "authority", json_string(LIVE_VIEW_AUTHORITY));
	doc = json_pack("{s:O, s:s, s:s, s:s, s:o, s:O}", "grant", grant, "username",
	    json_string_value(json_object_get(grant, "username")), "password", vs->password,
	    "websocket_path", "/rtsp-over-websocket", "rtsp_path",
	    json_sprintf("/cameras/%lld", (long long)call->id), "active_until",
	    json_object_get(grant, "active_until"));
	text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(12));
	/* The player logs in at once: answer when this node's model has the grant. */
	api_reply_after_grant_sync(call, 201, text,
	    (int64_t)json_integer_value(json_object_get(grant, "id")));
	OPENSSL_cleanse(text, strlen(text));
	free(text);
	json_decref(doc);
	json_decref(grant);
}

static void
live_view_create(struct api_call *call)
{
	struct view_state *vs = gw_xcalloc(1, sizeof(*vs));
	unsigned char sealed[VIEW_PASSWORD_CHARS + CRYPTO_SEAL_OVERHEAD];
	char suffix[VIEW_SUFFIX_CHARS + 1], hex[2 * sizeof(sealed) + 1], id[24], ms[24], by[24];
	char reason[160];
	const char *params[10];
	int n;

	if (crypto_random_token(suffix, VIEW_SUFFIX_CHARS) < 0 ||
	    crypto_random_token(vs->password, VIEW_PASSWORD_CHARS) < 0 ||
	    (n = crypto_seal(vs->password, VIEW_PASSWORD_CHARS, sealed)) < 0) {
		view_state_free(vs);
		api_fail(call, 500, "internal error", "cannot make credentials", NULL);
		return;
	}
	gw_hex(sealed, (size_t)n, hex);
	snprintf(reason, sizeof(reason), "live view in the admin page by %s", call->who.actor);
	call->state = vs;
	call->free_state = view_state_free;
	params[0] = api_i64(call->id, id);
	params[1] = LIVE_VIEW_AUTHORITY;
	params[2] = api_i64(gw.cfg->web_live_view_duration_ms, ms);
	params[3] = reason;
	params[4] = api_i64(call->who.admin_id, by);
	params[5] = suffix;
	params[6] = hex;
	params[7] = api_node();
	params[8] = call->who.actor;
	params[9] = call->req->peer;
	api_query(call, view_sql, 10, params, on_view_created);
}

static const struct api_route routes[] = {
	{ "POST", API_PREFIX "cameras/{id}/live-view", ROLES_OPS, BODY_NONE, live_view_create,
	  "camera.live_view" },
};

void
liveview_init(void)
{
	api_register(routes, ARRAY_SIZE(routes));
}
