/*
 * evstore.c - the camera events FindEvents finds besides the recording's
 * own history: what the events service publishes about a recorded camera
 * (tns1:VideoSource/SignalLoss, tns1:Media/ConfigurationChanged), kept in
 * camera_events (sql/015_camera_events.sql).
 *
 * Events are queued here as they are published and written once a second
 * in one statement; while the database is away they wait, up to
 * PENDING_MAX (then the oldest go, counted and logged once). Rows older
 * than their camera's retention are deleted once a minute.
 *
 * ActiveConnections is not kept: it says who watches the live relay of
 * this node, not what happened to the camera or its footage.
 */
#include "gateway/gw.h"
#include "gateway/audit.h"
#include "gateway/config.h"
#include "gateway/db.h"
#include "gateway/log.h"
#include "gateway/loop.h"
#include "gateway/model.h"
#include "onvif.h"
#include "events.h"
#include "search.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLUSH_EVERY_US 1000000
#define PRUNE_EVERY_US (60 * 1000000LL)
#define PENDING_MAX 10000

static struct {
	bool running;
	bool active;			/* some camera is recorded */
	json_t *pending;		/* rows not yet sent */
	int64_t last_flush_us, last_prune_us;
	uint64_t dropped;
	bool dropped_logged;
} E;

bool
evstore_active(void)
{
	return E.running && E.active;
}

static void
model_changed(void)
{
	const struct gw_model *m = gw.model;

	E.active = false;
	for (int i = 0; m != NULL && i < m->ncameras && !E.active; i++)
		E.active = m->cameras[i].record && m->cameras[i].pc.enabled;
}

static const char *
need_of(unsigned caps)
{
	if (caps & CAP_VIDEO)
		return "video";
	if (caps & CAP_AUDIO)
		return "audio";
	return caps & CAP_METADATA ? "metadata" : "events";
}

static bool
kept_topic(enum ev_topic t)
{
	return t == TOPIC_SIGNAL_LOSS || t == TOPIC_CONFIGURATION_CHANGED;
}

void
evstore_note(const struct ev_msg *m)
{
	const struct model_camera *cam;
	char *message;

	if (!evstore_active() || m->camera_id == 0 || !kept_topic(m->topic) || gw.model == NULL ||
	    (cam = model_camera(gw.model, m->camera_id)) == NULL || !cam->record)
		return;
	if (json_array_size(E.pending) >= PENDING_MAX) {
		json_array_remove(E.pending, 0);
		E.dropped++;
		if (!E.dropped_logged)
			log_warn("camera events: %d wait for the database; the oldest are dropped", PENDING_MAX);
		E.dropped_logged = true;
	}
	message = gw_xstrndup(m->xml + m->msg_off, m->msg_len);
	json_array_append_new(E.pending, json_pack("{s:I, s:I, s:s, s:s, s:s}",
	    "camera_id", (json_int_t)m->camera_id, "at_us", (json_int_t)gw_wall_us(),
	    "topic", pullpoint_topic_path(m->topic), "need", need_of(m->need_caps), "message", message));
	free(message);
}

/* --- writing --------------------------------------------------------------------------------- */

/* A batch that failed goes back in front of what came since (within the bound). */
static void
on_written(void *arg, PGresult *res, const char *error)
{
	json_t *batch = arg;

	(void)res;
	if (error != NULL && E.running) {
		log_warn("writing %zu camera events failed: %s; they are kept to try again",
		    json_array_size(batch), error);
		json_array_extend(batch, E.pending);
		while (json_array_size(batch) > PENDING_MAX)
			json_array_remove(batch, 0);
		json_decref(E.pending);
		E.pending = json_incref(batch);
	}
	json_decref(batch);
}

static void
flush(void)
{
	json_t *batch = E.pending;
	char *text;
	const char *params[2];

	if (json_array_size(batch) == 0 || !db_is_up())
		return;
	E.pending = json_array();
	text = json_dumps(batch, JSON_COMPACT);
	params[0] = audit_node_name();
	params[1] = text;
	db_query("INSERT INTO camera_events (camera_id, node, at, topic, need, message)"
	    " SELECT r.camera_id, $1, timestamptz 'epoch' + r.at_us * interval '1 microsecond', r.topic, r.need,"
	    " r.message FROM json_to_recordset($2::json) AS r(camera_id bigint, at_us bigint, topic text,"
	    " need text, message text) WHERE EXISTS (SELECT 1 FROM cameras WHERE id = r.camera_id)",
	    2, params, 0, on_written, batch);
	free(text);
}

static void
on_pruned(void *arg, PGresult *res, const char *error)
{
	(void)arg;
	if (error != NULL)
		log_warn("deleting old camera events failed: %s", error);
	else if (atoi(PQcmdTuples(res)) > 0)
		log_debug("camera events: %s older than their camera's retention deleted", PQcmdTuples(res));
}

/* Rows of this node older than their camera's retention ([recorder] retention by default). */
static void
prune(void)
{
	char retention[48];
	const char *params[2];

	if (!db_is_up())
		return;
	snprintf(retention, sizeof(retention), "%lld milliseconds", (long long)gw.cfg->recorder_retention_ms);
	params[0] = audit_node_name();
	params[1] = retention;
	db_query("DELETE FROM camera_events e USING cameras c WHERE e.camera_id = c.id AND e.node = $1"
	    " AND e.at < now() - COALESCE(c.retention, $2::interval)", 2, params, 0, on_pruned, NULL);
}

static void
janitor(int64_t now)
{
	if (!E.running)
		return;
	if (now - E.last_flush_us >= FLUSH_EVERY_US || gw.shutting_down) {
		E.last_flush_us = now;
		flush();
	}
	if (now - E.last_prune_us >= PRUNE_EVERY_US && E.active) {
		E.last_prune_us = now;
		prune();
	}
}

int
evstore_init(void)
{
	E.pending = json_array();
	E.running = true;
	E.last_prune_us = gw_mono_us();
	model_on_change(model_changed);
	model_changed();
	loop_janitor_add(janitor);
	return 0;
}

void
evstore_shutdown(void)
{
	if (!E.running)
		return;
	flush();
	E.running = false;
	if (E.dropped > 0)
		log_info("camera events: %llu dropped while the database was away", (unsigned long long)E.dropped);
	json_decref(E.pending);
	E.pending = NULL;
}
