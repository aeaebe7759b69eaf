/*
 * status.c - GET /healthz (no authentication: it reveals counts, never
 * names or secrets). 200 when the database is reachable and the policy
 * model is loaded, 503 otherwise, with the same JSON body.
 */
#include "gw.h"
#include "config.h"
#include "conn.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "migrate.h"
#include "model.h"
#include "status.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int schema_version;

void
status_set_schema_version(int version)
{
	schema_version = version;
}

static json_t *
status_json(bool *healthy)
{
	const struct gw_model *m = gw.model;
	bool stale = model_policy_stale();
	json_t *o;

	*healthy = db_is_up() && m != NULL && !gw.shutting_down;
	o = json_pack("{s:s, s:s, s:s, s:I, s:i}",
	    "status", *healthy ? "ok" : gw.shutting_down ? "stopping" : "degraded",
	    "version", PACKAGE_VERSION,
	    "node", gw.cfg->node_name[0] ? gw.cfg->node_name : "",
	    "uptime_s", (json_int_t)((gw_wall_us() - gw.started_at) / 1000000),
	    "connections", conn_count());
	json_object_set_new(o, "database", json_pack("{s:b, s:i, s:i}",
	    "up", db_is_up(), "schema_version", schema_version,
	    "known_schema_version", migrate_known_version()));
	json_object_set_new(o, "policy", m == NULL ? json_pack("{s:b}", "loaded", 0) :
	    json_pack("{s:b, s:b, s:I, s:i, s:i, s:i, s:i}", "loaded", 1, "stale", stale,
		"generation", (json_int_t)m->generation, "cameras", m->ncameras,
		"authorities", m->nauthorities, "grants", m->ngrants,
		"credentials", m->ncredentials));
	return o;
}

static void
healthz(struct http_request *req)
{
	bool healthy;
	json_t *o = status_json(&healthy);
	char *text = json_dumps(o, JSON_COMPACT);

	http_add_header(req, "Cache-Control", "no-store");
	http_respond(req, healthy ? 200 : 503, "application/json", text, strlen(text));
	free(text);
	json_decref(o);
}

void
status_log_ready(void)
{
	const struct gw_model *m = gw.model;

	log_info("vssgated %s ready: database schema %d, %d cameras, %d grants; listening on %d "
	    "rtsp, %d http, %d tls addresses", PACKAGE_VERSION, schema_version,
	    m ? m->ncameras : 0, m ? m->ngrants : 0, gw.cfg->listen_rtsp.count,
	    gw.cfg->listen_http.count, gw.cfg->listen_tls.count);
}

void
status_init(void)
{
	http_route("GET", "/healthz", false, healthz);
}
