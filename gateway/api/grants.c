/*
 * grants.c - /api/v1/grants: time-boxed and emergency access for an
 * authority, its credentials, extension and revocation.
 *
 * Creating a grant is one SQL statement (no KDF on this path): the grant,
 * its credential (a random user name and password, the password sealed
 * with the server key), the audit row and, for an emergency grant, the
 * webhook delivery are inserted together or not at all. The answer shows
 * the password once, with ready-to-use URLs; nothing stores or logs it in
 * clear, and no later answer contains it.
 *
 * Revoking updates the grant and writes its audit row in one statement;
 * the NOTIFY trigger makes every node reload its policy model, and the
 * session registry (session.c) closes the live sessions the new model no
 * longer allows. The answer waits until this node's model has the change,
 * and the time from the request to that moment is logged and exported in
 * /metrics (the revocation -> model swap latency).
 */
#include "api.h"
#include "validate.h"
#include "../config.h"
#include "../conn.h"
#include "../crypto.h"
#include "../log.h"
#include "../model.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PASSWORD_CHARS 24		/* ~139 bits from crypto_random_token */
#define USER_SUFFIX_CHARS 6
#define MAX_URLS 1000

struct revocation_stats {
	uint64_t count;
	double sum_ms, max_ms, last_ms;
};

static struct revocation_stats rstats;

/* --- creating ----------------------------------------------------------------------- */

static const char create_sql[] =
    "WITH auth AS (SELECT id FROM authorities WHERE id = $1),"
    " missing AS (SELECT coalesce(array_agg(i ORDER BY i), '{}') AS ids"
    "  FROM unnest($4::bigint[]) i WHERE NOT EXISTS (SELECT 1 FROM cameras c WHERE c.id = i)),"
    " missing_sites AS (SELECT coalesce(array_agg(i ORDER BY i), '{}') AS ids"
    "  FROM unnest($5::bigint[]) i WHERE NOT EXISTS (SELECT 1 FROM sites s WHERE s.id = i)),"
    " g AS (INSERT INTO grants (authority_id, levels, scope_kind, camera_ids, site_ids,"
    "   area_lat, area_lon, area_radius_m, area_polygon, active_from, active_until,"
    "   footage_from, footage_until, reason, emergency, created_by)"
    "  SELECT auth.id, $2::text[], $3, $4::bigint[], $5::bigint[], $6, $7, $8, $9::jsonb,"
    "   coalesce($10::timestamptz, now()),"
    "   coalesce($11::timestamptz, coalesce($10::timestamptz, now()) + $12::bigint * interval '1 microsecond'),"
    "   $13, $14, $15, $16, $17"
    "  FROM auth, missing, missing_sites"
    "  WHERE cardinality(missing.ids) = 0 AND cardinality(missing_sites.ids) = 0 RETURNING *),"
    " c AS (INSERT INTO grant_credentials (grant_id, username, password_enc)"
    "  SELECT g.id, 'g' || g.id || '-' || $18, decode($19, 'hex') FROM g RETURNING username),"
    " w AS (INSERT INTO webhook_deliveries (node, event, grant_id, payload)"
    "  SELECT $20, 'grant.emergency', g.id, jsonb_build_object('event', 'grant.emergency',"
    "   'node', $20::text, 'grant', api_grant_json(ROW(g.*)::grants, NULL))"
    "  FROM g WHERE g.emergency AND $21::boolean RETURNING id, payload),"
    " a AS (INSERT INTO audit_log (node, actor, action, outcome, authority_id, grant_id, peer, detail)"
    "  SELECT $20, $22, 'grant.create', 'ok', g.authority_id, g.id, $23,"
    "   jsonb_build_object('levels', g.levels, 'scope', g.scope_kind, 'camera_ids', g.camera_ids,"
    "    'site_ids', g.site_ids, 'emergency', g.emergency, 'reason', g.reason,"
    "    'active_from', api_ts(g.active_from), 'active_until', api_ts(g.active_until),"
    "    'username', c.username, 'capped', $24::boolean)"
    "  FROM g, c)"
    " SELECT (SELECT count(*) FROM auth), (SELECT ids FROM missing)::text,"
    "  (SELECT ids FROM missing_sites)::text,"
    "  (SELECT api_grant_json(ROW(g.*)::grants, c.username) FROM g, c)::text,"
    "  (SELECT id FROM w), (SELECT payload FROM w)::text";

struct create_state {
	struct grant_doc doc;
	char password[PASSWORD_CHARS + 1];
};

static void
create_state_free(void *p)
{
	struct create_state *cs = p;

	grant_doc_free(&cs->doc);
	OPENSSL_cleanse(cs->password, sizeof(cs->password));
	free(cs);
}

/* "{1,2,3}" */
static char *
id_array_sql(const int64_t *ids, int n)
{
	size_t cap = 3 + (size_t)n * 21, used = 1;
	char *s = gw_xmalloc(cap);

	s[0] = '{';
	for (int i = 0; i < n; i++)
		used += (size_t)snprintf(s + used, cap - used, "%s%lld", i ? "," : "", (long long)ids[i]);
	snprintf(s + used, cap - used, "}");
	return s;
}

static const char *
time_param(bool has, int64_t us, char *buf, size_t len)
{
	if (!has)
		return NULL;
	gw_format_time(us, buf, len);
	/* gw_format_time keeps milliseconds; add the microseconds back. */
	snprintf(buf + 23, len - 23, "%03dZ", (int)(us % 1000));
	return buf;
}

/* --- the URLs handed out ------------------------------------------------------------------- */

static void
listen_port(const struct cfg_listen *l, char *port, size_t len)
{
	const char *colon = l->count > 0 ? strrchr(l->addr[0], ':') : NULL;

	snprintf(port, len, "%s", colon ? colon + 1 : "");
}

/*
 * The host and port the URLs name: [api] public_host, else the local
 * address the request came in on (a listener on 0.0.0.0 gives the address
 * the client reached). Never the Host header: the client chooses it, and a
 * grant's answer is handed on to an authority that would be sent there.
 */
static void
url_host(struct api_call *call, char *host, size_t hostlen, char *port, size_t portlen)
{
	struct gw_conn *c = call->req->conn;
	struct sockaddr_storage local;
	char a[INET6_ADDRSTRLEN] = "localhost";
	bool have = c != NULL && conn_local_addr(c, &local);

	port[0] = '\0';
	if (have && local.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)&local;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(host, hostlen, "[%s]", a);
		snprintf(port, portlen, "%d", ntohs(sin6->sin6_port));
	} else if (have && local.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&local;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(host, hostlen, "%s", a);
		snprintf(port, portlen, "%d", ntohs(sin->sin_port));
	} else {
		snprintf(host, hostlen, "%s", a);
	}
	if (gw.cfg->public_host[0] != '\0')
		snprintf(host, hostlen, "%s", gw.cfg->public_host);
}

/*
 * rtsp://HOST:PORT/cameras/<id> for each camera (and /recordings/<id>, its
 * replay, when the levels replay; none for a grant that only exports), and
 * the ONVIF device service.
 */
static json_t *
credential_urls(struct api_call *call, const int64_t *cams, int ncams, unsigned levels, json_t *creds)
{
	bool tls = call->req->conn && call->req->conn->tls;
	char host[256], port[16], rport[16];
	json_t *urls = json_array();

	url_host(call, host, sizeof(host), port, sizeof(port));
	if (port[0] == '\0')
		listen_port(tls ? &gw.cfg->listen_tls : &gw.cfg->listen_http, port, sizeof(port));
	listen_port(gw.cfg->listen_rtsp.count ? &gw.cfg->listen_rtsp : &gw.cfg->listen_http, rport,
	    sizeof(rport));
	/* An export-only grant (0V, 0M, 0E) has no stream to play: no RTSP URL (its exports: ONVIF, REST). */
	if (!(levels & (LEVEL_1V | LEVEL_1M | LEVEL_3)))
		ncams = 0;
	for (int i = 0; i < ncams && i < MAX_URLS; i++) {
		json_t *u = json_pack("{s:I, s:o}", "camera_id", (json_int_t)cams[i], "url",
		    json_sprintf("rtsp://%s:%s/cameras/%lld", host, rport, (long long)cams[i]));

		if (levels & (LEVEL_1V | LEVEL_1M))
			json_object_set_new(u, "replay_url", json_sprintf("rtsp://%s:%s/recordings/%lld", host,
			    rport, (long long)cams[i]));
		json_array_append_new(urls, u);
	}
	json_object_set_new(creds, "onvif_device_service", json_sprintf("%s://%s%s%s/onvif/device_service",
	    tls ? "https" : "http", host, port[0] ? ":" : "", port));
	return urls;
}

/* The cameras a new grant covers now, from the model (sites and areas resolve here). */
static int64_t *
covered_cameras(const struct grant_doc *d, int *n)
{
	const struct gw_model *m = gw.model;
	struct policy_grant pg = { .scope = d->scope, .camera_ids = d->camera_ids,
		.ncamera_ids = d->ncameras, .site_ids = d->site_ids, .nsite_ids = d->nsites,
		.area_center = { d->lat, d->lon }, .area_radius_m = d->circle ? d->radius_m : 0,
		.area_polygon = d->polygon, .npolygon = d->npolygon };
	int64_t *out;

	*n = 0;
	if (d->scope == SCOPE_CAMERAS) {
		out = gw_xcalloc((size_t)d->ncameras, sizeof(*out));
		memcpy(out, d->camera_ids, (size_t)d->ncameras * sizeof(*out));
		*n = d->ncameras;
		return out;
	}
	out = gw_xcalloc(m ? (size_t)m->ncameras : 1, sizeof(*out));
	for (int i = 0; m != NULL && i < m->ncameras; i++)
		if (policy_grant_covers(&pg, &m->cameras[i].pc))
			out[(*n)++] = m->cameras[i].pc.id;
	return out;
}

static void
reply_created(struct api_call *call, struct create_state *cs, const char *grant_text)
{
	json_t *grant = json_loads(grant_text, 0, NULL), *creds, *doc;
	char *text;
	int ncams;
	int64_t *cams;

	if (grant == NULL) {
		api_fail(call, 500, "internal error", NULL, NULL);
		return;
	}
	cams = covered_cameras(&cs->doc, &ncams);
	creds = json_pack("{s:s, s:s}", "username", json_string_value(json_object_get(grant, "username")),
	    "password", cs->password);
	json_object_set_new(creds, "rtsp_urls", credential_urls(call, cams, ncams, cs->doc.levels, creds));
	doc = json_pack("{s:o, s:o, s:s}", "grant", grant, "credentials", creds, "warning",
	    "the password is shown once, in this answer only; store it now");
	if (cs->doc.capped)
		json_object_set_new(doc, "notes", json_pack("[s]", "active_until was capped to "
		    "[api] max_emergency_duration"));
	free(cams);
	/*
	 * The credentials must work the moment the client reads them: answer
	 * once this node's policy model has the grant (loads are shared by all
	 * the grants created meanwhile).
	 */
	text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(12));
	api_reply_after_grant_sync(call, 201, text,
	    (int64_t)json_integer_value(json_object_get(grant, "id")));
	free(text);
	json_decref(doc);
}

static void
on_created(struct api_call *call, PGresult *res)
{
	struct create_state *cs = call->state;

	if (strcmp(PQgetvalue(res, 0, 0), "0") == 0) {
		api_fail(call, 422, "invalid document", "authority_id: there is no such authority", NULL);
	} else if (strcmp(PQgetvalue(res, 0, 1), "{}") != 0) {
		api_failf(call, 422, "invalid document", "create the cameras first",
		    "camera_ids: unknown camera ids %s", PQgetvalue(res, 0, 1));
	} else if (strcmp(PQgetvalue(res, 0, 2), "{}") != 0) {
		api_failf(call, 422, "invalid document", NULL, "site_ids: unknown site ids %s",
		    PQgetvalue(res, 0, 2));
	} else if (PQgetisnull(res, 0, 3)) {
		api_fail(call, 500, "internal error", "the grant was not created", NULL);
	} else {
		if (!PQgetisnull(res, 0, 4))
			webhook_enqueue(strtoll(PQgetvalue(res, 0, 4), NULL, 10), PQgetvalue(res, 0, 5));
		call->state = NULL;
		reply_created(call, cs, PQgetvalue(res, 0, 3));
		create_state_free(cs);
	}
}

/* Random user name suffix and password, the password sealed as hex. */
static int
make_credentials(struct create_state *cs, char suffix[USER_SUFFIX_CHARS + 1], char **sealed_hex)
{
	unsigned char sealed[PASSWORD_CHARS + CRYPTO_SEAL_OVERHEAD];
	int n;

	if (crypto_random_token(suffix, USER_SUFFIX_CHARS) < 0 ||
	    crypto_random_token(cs->password, PASSWORD_CHARS) < 0 ||
	    (n = crypto_seal(cs->password, PASSWORD_CHARS, sealed)) < 0)
		return -1;
	*sealed_hex = gw_xmalloc(2 * (size_t)n + 1);
	gw_hex(sealed, (size_t)n, *sealed_hex);
	return 0;
}

static void
run_create(struct api_call *call, struct create_state *cs, const char *suffix, const char *sealed)
{
	const struct grant_doc *d = &cs->doc;
	char auth[24], lat[32], lon[32], rad[32], from[40], until[40], dur[24], ffrom[40], funtil[40],
	    by[24];
	char *cams = id_array_sql(d->camera_ids, d->ncameras), *sites = id_array_sql(d->site_ids, d->nsites);
	char *poly = d->npolygon ? grant_polygon_json(d) : NULL;
	const char *params[24] = {
		api_i64(d->authority_id, auth), d->levels_sql,
		d->scope == SCOPE_CAMERAS ? "cameras" : d->scope == SCOPE_SITES ? "sites" : "area",
		cams, sites, NULL, NULL, NULL, poly,
		time_param(d->has_from, d->from_us, from, sizeof(from)),
		time_param(d->has_until, d->until_us, until, sizeof(until)), api_i64(d->duration_us, dur),
		time_param(d->has_footage_from, d->footage_from_us, ffrom, sizeof(ffrom)),
		time_param(d->has_footage_until, d->footage_until_us, funtil, sizeof(funtil)),
		d->reason, d->emergency ? "true" : "false", api_i64(call->who.admin_id, by),
		suffix, sealed, api_node(), gw.cfg->webhook_url[0] ? "true" : "false",
		call->who.actor, call->req->peer, d->capped ? "true" : "false",
	};

	if (d->circle) {
		params[5] = (snprintf(lat, sizeof(lat), "%.9f", d->lat), lat);
		params[6] = (snprintf(lon, sizeof(lon), "%.9f", d->lon), lon);
		params[7] = (snprintf(rad, sizeof(rad), "%.3f", d->radius_m), rad);
	}
	api_query_flags(call, create_sql, 24, params, DB_Q_PREPARE, on_created);
	free(cams);
	free(sites);
	free(poly);
}

static void
grant_create(struct api_call *call)
{
	struct create_state *cs = gw_xcalloc(1, sizeof(*cs));
	struct grant_limits lim = { gw_wall_us(), gw.cfg->max_grant_duration_ms * 1000,
		gw.cfg->max_emergency_duration_ms * 1000 };
	struct valid_error err;
	char suffix[USER_SUFFIX_CHARS + 1], *sealed = NULL;

	if (valid_grant(call->body, &lim, &cs->doc, &err) < 0) {
		create_state_free(cs);
		api_fail(call, 422, "invalid grant", err.detail, "see doc/openapi.json, GrantCreate");
		return;
	}
	if (make_credentials(cs, suffix, &sealed) < 0) {
		create_state_free(cs);
		api_fail(call, 500, "internal error", "cannot make credentials", NULL);
		return;
	}
	call->state = cs;
	call->free_state = create_state_free;
	run_create(call, cs, suffix, sealed);
	free(sealed);
}

/* --- previewing --------------------------------------------------------------------- */

/* What the page shows of a camera an area covers, before the grant exists. */
static json_t *
preview_camera(const struct model_camera *c)
{
	const struct model_site *site = c->pc.site_id ? model_site(gw.model, c->pc.site_id) : NULL;
	json_t *o = json_pack("{s:I, s:s, s:b}", "id", (json_int_t)c->pc.id, "name",
	    c->name ? c->name : "", "enabled", c->pc.enabled);

	json_object_set_new(o, "site", site ? json_string(site->name) : json_null());
	json_object_set_new(o, "latitude", c->pc.has_location ? json_real(c->pc.location.lat) : json_null());
	json_object_set_new(o, "longitude", c->pc.has_location ? json_real(c->pc.location.lon) : json_null());
	json_object_set_new(o, "floor", c->floor ? json_string(c->floor) : json_null());
	return o;
}

/*
 * POST /grants/preview: the cameras a scope covers now, decided by the same
 * policy_grant_covers() as the grant itself will be (sites and areas resolve
 * against the current model). Nothing is written.
 */
static void
grant_preview(struct api_call *call)
{
	struct grant_doc d;
	struct valid_error err;
	json_t *items = json_array(), *unknown = json_array();
	int n;
	int64_t *cams;

	if (valid_grant_scope(call->body, &d, &err) < 0) {
		grant_doc_free(&d);
		json_decref(items);
		json_decref(unknown);
		api_fail(call, 422, "invalid scope", err.detail, "see doc/openapi.json, GrantPreview");
		return;
	}
	cams = covered_cameras(&d, &n);
	for (int i = 0; i < n; i++) {
		const struct model_camera *c = gw.model ? model_camera(gw.model, cams[i]) : NULL;

		json_array_append_new(c ? items : unknown, c ? preview_camera(c) : json_integer(cams[i]));
	}
	free(cams);
	grant_doc_free(&d);
	api_reply(call, 200, json_pack("{s:o, s:I, s:o}", "cameras", items, "count",
	    (json_int_t)json_array_size(items), "unknown_camera_ids", unknown));
}

/* --- reading ---------------------------------------------------------------------------- */

static void
on_json(struct api_call *call, PGresult *res)
{
	api_reply_row(call, res, 200);
}

#define GRANT_JSON "api_grant_json(g, (SELECT username FROM grant_credentials c" \
	" WHERE c.grant_id = g.id ORDER BY c.id LIMIT 1))"

static const char list_sql[] =
    "SELECT json_build_object('items', coalesce(json_agg(" GRANT_JSON " ORDER BY g.id), '[]'),"
    " 'next_cursor', CASE WHEN count(*) = $2 THEN max(g.id)::text END)::text"
    " FROM (SELECT * FROM grants g WHERE id > $1"
    "  AND ($3::bigint IS NULL OR authority_id = $3)"
    "  AND ($4::bigint IS NULL OR $4 = ANY (camera_ids) OR (scope_kind = 'sites' AND"
    "   (SELECT site_id FROM cameras WHERE id = $4) = ANY (site_ids)))"
    "  AND ($5::text IS NULL OR api_grant_state(g) = $5)"
    "  AND ($6::boolean IS NULL OR emergency = $6)"
    "  ORDER BY id LIMIT $2) g";

static bool
state_filter(struct api_call *call, char *state, size_t len, char *emergency, size_t elen,
    const char **sp, const char **ep)
{
	*sp = *ep = NULL;
	if (api_query_param(call, "state", state, len)) {
		if (strcmp(state, "active") && strcmp(state, "pending") && strcmp(state, "expired") &&
		    strcmp(state, "revoked")) {
			api_fail(call, 400, "invalid query parameter",
			    "state must be active, pending, expired or revoked", NULL);
			return false;
		}
		*sp = state;
	}
	if (api_query_param(call, "emergency", emergency, elen)) {
		if (strcmp(emergency, "true") && strcmp(emergency, "false")) {
			api_fail(call, 400, "invalid query parameter", "emergency must be true or false", NULL);
			return false;
		}
		*ep = emergency;
	}
	return true;
}

static void
grants_list(struct api_call *call)
{
	char cur[24], lim[24], auth[24], cam[24], state[16], em[8];
	const char *params[6];
	int64_t cursor, authority, camera;
	int limit;

	if (!api_page(call, &limit, &cursor) || !api_int_param(call, "authority_id", &authority) ||
	    !api_int_param(call, "camera_id", &camera) ||
	    !state_filter(call, state, sizeof(state), em, sizeof(em), &params[4], &params[5]))
		return;
	params[0] = api_i64(cursor, cur);
	params[1] = api_i64(limit, lim);
	params[2] = authority ? api_i64(authority, auth) : NULL;
	params[3] = camera ? api_i64(camera, cam) : NULL;
	api_query(call, list_sql, 6, params, on_json);
}

static void
grant_get(struct api_call *call)
{
	char id[24];
	const char *params[1] = { api_i64(call->id, id) };

	api_query(call, "SELECT " GRANT_JSON "::text FROM grants g WHERE id = $1", 1, params, on_json);
}

/* --- extending ----------------------------------------------------------------------------- */

static const char extend_sql[] =
    "WITH cur AS (SELECT * FROM grants WHERE id = $1),"
    " nv AS (SELECT coalesce($2::timestamptz, cur.active_until + $3::bigint * interval '1 microsecond')"
    "  AS until FROM cur),"
    " u AS (UPDATE grants g SET active_until = nv.until FROM nv"
    "  WHERE g.id = $1 AND g.revoked_at IS NULL AND g.active_until > now() AND nv.until > now()"
    "   AND nv.until > g.active_from AND nv.until - g.active_from <="
    "    CASE WHEN g.emergency THEN $4::bigint ELSE $5::bigint END * interval '1 millisecond'"
    "  RETURNING g.*),"
    " a AS (INSERT INTO audit_log (node, actor, action, outcome, authority_id, grant_id, peer, detail)"
    "  SELECT $6, $7, 'grant.extend', 'ok', u.authority_id, u.id, $8,"
    "   jsonb_build_object('active_until', api_ts(u.active_until),"
    "    'previous_until', api_ts(cur.active_until), 'reason', $9::text) FROM u, cur)"
    " SELECT (SELECT count(*) FROM cur), (SELECT revoked_at IS NOT NULL FROM cur),"
    "  (SELECT active_until <= now() FROM cur),"
    "  (SELECT api_grant_json(ROW(u.*)::grants, (SELECT username FROM grant_credentials c"
    "   WHERE c.grant_id = u.id ORDER BY c.id LIMIT 1)) FROM u)::text";

static void
on_extended(struct api_call *call, PGresult *res)
{
	if (strcmp(PQgetvalue(res, 0, 0), "0") == 0)
		api_fail(call, 404, "not found", "no grant with this id", NULL);
	else if (!PQgetisnull(res, 0, 3))
		api_reply_after_grant_sync(call, 200, PQgetvalue(res, 0, 3), call->id);
	else if (strcmp(PQgetvalue(res, 0, 1), "t") == 0)
		api_fail(call, 409, "grant revoked", "a revoked grant cannot be extended",
		    "create a new grant");
	else if (strcmp(PQgetvalue(res, 0, 2), "t") == 0)
		api_fail(call, 409, "grant ended", "an expired grant cannot be extended",
		    "create a new grant");
	else
		api_fail(call, 422, "invalid extension", "the new active window is not in the future, "
		    "or longer than [api] max_grant_duration (max_emergency_duration for emergency grants)",
		    NULL);
}

static void
grant_extend(struct api_call *call)
{
	struct extend_doc e;
	struct valid_error err;
	char id[24], until[40], by[24], emax[24], max[24];
	const char *params[9];

	if (valid_extend(call->body, gw_wall_us(), &e, &err) < 0) {
		api_fail(call, 422, "invalid extension", err.detail, NULL);
		return;
	}
	params[0] = api_i64(call->id, id);
	params[1] = time_param(e.has_until, e.until_us, until, sizeof(until));
	params[2] = e.has_until ? NULL : api_i64(e.by_us, by);
	params[3] = api_i64(gw.cfg->max_emergency_duration_ms, emax);
	params[4] = api_i64(gw.cfg->max_grant_duration_ms, max);
	params[5] = api_node();
	params[6] = call->who.actor;
	params[7] = call->req->peer;
	params[8] = e.reason;
	api_query(call, extend_sql, 9, params, on_extended);
	extend_doc_free(&e);
}

/* --- revoking ----------------------------------------------------------------------------- */

static const char revoke_sql[] =
    "WITH u AS (UPDATE grants SET revoked_at = now(), revoked_by = $2, revoke_reason = $3"
    "  WHERE id = $1 AND revoked_at IS NULL RETURNING *),"
    " a AS (INSERT INTO audit_log (node, actor, action, outcome, authority_id, grant_id, peer, detail)"
    "  SELECT $4, $5, 'grant.revoke', 'ok', u.authority_id, u.id, $6,"
    "   jsonb_build_object('reason', u.revoke_reason) FROM u)"
    " SELECT (SELECT count(*) FROM grants WHERE id = $1),"
    "  (SELECT api_grant_json(ROW(u.*)::grants, (SELECT username FROM grant_credentials c"
    "   WHERE c.grant_id = u.id ORDER BY c.id LIMIT 1)) FROM u)::text";

struct revoke_wait {
	struct api_call *call;
	char *text;
};

static void
on_revocation_in_model(void *arg, bool ok)
{
	struct revoke_wait *rw = arg;
	struct api_call *call = rw->call;
	double ms = (double)(gw_mono_now_us() - call->req->started_us) / 1000.0;
	const struct model_grant *g = gw.model ? model_grant(gw.model, call->id) : NULL;

	if (ok && (g == NULL || g->pg.revoked_at_us != 0)) {
		rstats.count++;
		rstats.sum_ms += ms;
		rstats.last_ms = ms;
		rstats.max_ms = GW_MAX(rstats.max_ms, ms);
		log_info("grant %lld revoked by %s: policy model %llu denies it %.1f ms after the request",
		    (long long)call->id, call->who.actor,
		    (unsigned long long)(gw.model ? gw.model->generation : 0), ms);
	} else {
		log_warn("grant %lld revoked by %s, but the policy model could not be reloaded yet",
		    (long long)call->id, call->who.actor);
	}
	api_reply_text(call, 200, "application/json", rw->text, strlen(rw->text));
	free(rw->text);
	free(rw);
}

static void
on_revoked(struct api_call *call, PGresult *res)
{
	struct revoke_wait *rw;

	if (strcmp(PQgetvalue(res, 0, 0), "0") == 0) {
		api_fail(call, 404, "not found", "no grant with this id", NULL);
		return;
	}
	if (PQgetisnull(res, 0, 1)) {
		api_fail(call, 409, "already revoked", "this grant was revoked before", NULL);
		return;
	}
	rw = gw_xcalloc(1, sizeof(*rw));
	rw->call = call;
	rw->text = gw_xstrdup(PQgetvalue(res, 0, 1));
	model_sync_grant(call->id, on_revocation_in_model, rw);
}

static void
grant_revoke(struct api_call *call)
{
	struct valid_error err;
	const char *reason = valid_reason(call->body, true, &err);
	char id[24], by[24];
	const char *params[6] = { api_i64(call->id, id), api_i64(call->who.admin_id, by), reason,
		api_node(), call->who.actor, call->req->peer };

	if (reason == NULL) {
		api_fail(call, 422, "invalid document", err.detail, NULL);
		return;
	}
	api_query(call, revoke_sql, 6, params, on_revoked);
}

void
grants_revocation_stats(uint64_t *count, double *sum_ms, double *max_ms, double *last_ms)
{
	*count = rstats.count;
	*sum_ms = rstats.sum_ms;
	*max_ms = rstats.max_ms;
	*last_ms = rstats.last_ms;
}

static const struct api_route routes[] = {
	{ "GET", API_PREFIX "grants", ROLES_ANY, BODY_NONE, grants_list, NULL },
	{ "POST", API_PREFIX "grants", ROLES_OPS, BODY_JSON, grant_create, "grant.create" },
	{ "POST", API_PREFIX "grants/preview", ROLES_ANY, BODY_JSON, grant_preview, NULL },
	{ "GET", API_PREFIX "grants/{id}", ROLES_ANY, BODY_NONE, grant_get, NULL },
	{ "POST", API_PREFIX "grants/{id}/extend", ROLES_OPS, BODY_JSON, grant_extend, "grant.extend" },
	{ "POST", API_PREFIX "grants/{id}/revoke", ROLES_OPS, BODY_JSON, grant_revoke, "grant.revoke" },
};

void
grants_init(void)
{
	api_register(routes, ARRAY_SIZE(routes));
}

void
grants_shutdown(void)
{
}
