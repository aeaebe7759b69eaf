/*
 * recorder.c - the recorder's I/O-thread half (see recorder.h): one hub
 * reader per recorded camera, the hand-over of its frames to the writer
 * thread within [recorder] queue_max, the catalog of segments, and the
 * recording_segments rows.
 *
 * A recorded camera moves through
 *
 *   R_STARTING (waiting for its source's tracks) --> R_READING
 *        ^                                              |
 *        `---- the hub went away, or the source failed --'  (retried by the janitor)
 *
 * Rows are written in batches: the writer reports each open segment once
 * a second and each closed or deleted one once; the janitor sends what
 * changed in one statement per tick.
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/db.h"
#include "gateway/log.h"
#include "gateway/loop.h"
#include "gateway/model.h"
#include "gateway/media/hub.h"
#include "gateway/media/rec_int.h"
#include "gateway/media/recorder.h"
#include "gateway/media/replay.h"
#include "gateway/media/source.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RCAM_MAGIC 0x7263616dU		/* "rcam" */
#define RETRY_US 2000000
#define FLUSH_EVERY_US 1000000

static const char *const reason_names[REC_REASON_COUNT] = {
	[REC_START] = "start", [REC_NEXT] = "next", [REC_SOURCE] = "source", [REC_BEHIND] = "behind",
	[REC_DISK_FULL] = "disk_full", [REC_PARAMETERS] = "parameters", [REC_RESTART] = "restart",
};

enum rcam_state {
	R_IDLE,				/* not reading: waiting to (re)start */
	R_STARTING,			/* the source is being described */
	R_READING,
};

/* A segment in the catalog, and whether its row must be written. */
struct cseg {
	struct rec_segment s;
	bool dirty;
};

struct rcam {
	uint32_t magic;
	int64_t camera_id;
	enum rcam_state state;
	bool wanted;			/* the model says: record it */
	int64_t retention_ms;
	struct source_wait *wait;
	struct hub_reader *reader;
	struct frameq q;
	int64_t inflight;		/* frame bytes handed to the writer, not yet done with */
	int64_t retry_at_us;
	bool disk_full;
	uint64_t gaps, dropped;
	struct cseg *segs;		/* sorted by start */
	int nsegs, cap;
	TAILQ_ENTRY(rcam) link;
};

TAILQ_HEAD(rcam_list, rcam);

static struct {
	bool running;
	struct rcam_list cams;
	int64_t last_flush_us;
	uint64_t bytes_written;
	struct recw_cfg cfg;		/* as last sent to the writer */
	bool recovered;
	struct json_t *deleted;		/* paths of pruned segments whose rows must go */
} R = { .cams = TAILQ_HEAD_INITIALIZER(R.cams) };

static void rcam_start(struct rcam *c);

const char *
rec_reason_str(enum rec_reason r)
{
	return (unsigned)r < REC_REASON_COUNT ? reason_names[r] : "start";
}

static const char *
node_name(void)
{
	static char host[256];

	if (gw.cfg->node_name[0] != '\0')
		return gw.cfg->node_name;
	if (host[0] == '\0' && gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "vssgated");
	return host;
}

/* --- cameras -------------------------------------------------------------------------------------- */

static struct rcam *
rcam_find(int64_t camera_id)
{
	struct rcam *c;

	TAILQ_FOREACH(c, &R.cams, link)
		if (c->camera_id == camera_id)
			return c;
	return NULL;
}

static void queue_wake(struct frameq *q);

static const struct frameq_ops queue_ops = { .wake = queue_wake };

static struct rcam *
rcam_get(int64_t camera_id)
{
	struct rcam *c = rcam_find(camera_id);

	if (c != NULL)
		return c;
	c = gw_xcalloc(1, sizeof(*c));
	c->magic = RCAM_MAGIC;
	c->camera_id = camera_id;
	frameq_init(&c->q, (size_t)gw.cfg->recorder_queue_max, &queue_ops, c);
	TAILQ_INSERT_TAIL(&R.cams, c, link);
	return c;
}

static void
post_one(struct recw_msg *m)
{
	struct recw_list l = TAILQ_HEAD_INITIALIZER(l);

	TAILQ_INSERT_TAIL(&l, m, link);
	recw_post(&l);
}

/* Move what is queued to the writer, as far as the camera's budget allows. */
static void
hand_over(struct rcam *c)
{
	struct recw_list l = TAILQ_HEAD_INITIALIZER(l);
	struct media_frame *f;
	unsigned flags;

	while ((f = frameq_peek(&c->q, &flags)) != NULL &&
	    c->inflight + (int64_t)f->len <= gw.cfg->recorder_queue_max) {
		struct recw_msg *m = recw_msg_new(RW_FRAME, c->camera_id);

		media_frame_ref(f);
		m->frame = f;
		m->flags = flags;
		c->inflight += f->len;
		TAILQ_INSERT_TAIL(&l, m, link);
		frameq_pop(&c->q);
	}
	recw_post(&l);
}

static void
queue_wake(struct frameq *q)
{
	hand_over(q->owner);
}

static void
reader_stop(struct rcam *c)
{
	hub_reader_free(c->reader);
	c->reader = NULL;
	frameq_clear(&c->q);
	frameq_init(&c->q, (size_t)gw.cfg->recorder_queue_max, &queue_ops, c);
	source_wait_cancel(c->wait);
	c->wait = NULL;
	if (c->state != R_IDLE)
		post_one(recw_msg_new(RW_STOP, c->camera_id));
	c->state = R_IDLE;
}

static void
reader_gone(struct hub_reader *r, const char *why)
{
	struct rcam *c = hub_reader_owner(r);

	GW_CHECK(c, RCAM_MAGIC);
	log_info("cam=%lld: recording stops: %s", (long long)c->camera_id, why);
	hub_reader_free(r);
	c->reader = NULL;
	reader_stop(c);
	c->retry_at_us = gw_mono_us() + RETRY_US;
}

static const struct hub_reader_ops reader_ops = { .gone = reader_gone };

static struct recw_msg *
camera_message(const struct rcam *c, const struct hub *hub)
{
	struct recw_msg *m = recw_msg_new(RW_CAMERA, c->camera_id);

	m->retention_ms = c->retention_ms;
	m->ntracks = hub_ntracks(hub);
	m->tracks = gw_xcalloc((size_t)GW_MAX(m->ntracks, 1), sizeof(*m->tracks));
	for (int i = 0; i < m->ntracks; i++)
		m->tracks[i] = *hub_track(hub, i);
	return m;
}

static void
source_ready(void *arg, struct hub *hub, const char *error)
{
	struct rcam *c = arg;

	GW_CHECK(c, RCAM_MAGIC);
	c->wait = NULL;
	if (hub == NULL) {
		log_debug("cam=%lld: no recording yet: %s", (long long)c->camera_id, error);
		c->state = R_IDLE;
		c->retry_at_us = gw_mono_us() + RETRY_US;
		return;
	}
	post_one(camera_message(c, hub));
	frameq_set_tracks(&c->q, (1u << hub_ntracks(hub)) - 1, hub_video_track(hub));
	c->reader = hub_reader_new(hub, &c->q, &reader_ops, c);
	c->state = R_READING;
	hub_reader_play(c->reader, NULL);	/* from the cached GOP: nothing of the keyframe is lost */
	log_info("cam=%lld: recording", (long long)c->camera_id);
}

static void
rcam_start(struct rcam *c)
{
	c->state = R_STARTING;
	c->wait = source_get(c->camera_id, source_ready, c);
}

/* --- the catalog ----------------------------------------------------------------------------- */

static struct cseg *
cseg_find(struct rcam *c, const char *path)
{
	for (int i = c->nsegs - 1; i >= 0; i--)
		if (strcmp(c->segs[i].s.path, path) == 0)
			return &c->segs[i];
	return NULL;
}

static struct cseg *
cseg_add(struct rcam *c, const struct rec_segment *s)
{
	int at;

	if (c->nsegs == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->segs = gw_xrealloc(c->segs, (size_t)c->cap * sizeof(*c->segs));
	}
	for (at = c->nsegs; at > 0 && c->segs[at - 1].s.start_wall_us > s->start_wall_us; at--)
		;
	memmove(&c->segs[at + 1], &c->segs[at], (size_t)(c->nsegs - at) * sizeof(*c->segs));
	c->segs[at].s = *s;
	c->nsegs++;
	return &c->segs[at];
}

static void
cseg_remove(struct rcam *c, struct cseg *cs)
{
	int i = (int)(cs - c->segs);

	memmove(&c->segs[i], &c->segs[i + 1], (size_t)(c->nsegs - i - 1) * sizeof(*c->segs));
	c->nsegs--;
}

static void
on_segment(struct rcam *c, const struct rec_segment *s)
{
	struct cseg *cs = cseg_find(c, s->path);
	bool live = s->open || (cs != NULL && cs->s.open);	/* not one found at start-up */

	if (live)
		R.bytes_written += s->bytes - GW_MIN(s->bytes, cs ? cs->s.bytes : 0);
	if (cs == NULL) {
		cs = cseg_add(c, s);
	} else {
		enum rec_reason keep = cs->s.reason;

		cs->s = *s;
		cs->s.reason = keep;	/* the reason a segment began does not change */
	}
	cs->dirty = true;
}

static void
on_pruned(struct rcam *c, const struct rec_segment *s)
{
	struct cseg *cs = cseg_find(c, s->path);

	if (cs != NULL)
		cseg_remove(c, cs);
	if (R.deleted == NULL)
		R.deleted = json_array();
	json_array_append_new(R.deleted, json_string(s->path));
}

void
recorder_notice(struct recn *n)
{
	struct rcam *c = n->camera_id ? rcam_get(n->camera_id) : NULL;

	switch (n->kind) {
	case RN_SEGMENT:
		on_segment(c, &n->seg);
		replay_recorded(c->camera_id);	/* a replay at the live edge goes on */
		break;
	case RN_PRUNED:
		on_pruned(c, &n->seg);
		break;
	case RN_DRAINED:
		c->inflight = GW_MAX(0, c->inflight - (int64_t)n->bytes);
		hand_over(c);
		break;
	case RN_DISK_FULL:
		c->disk_full = true;
		break;
	case RN_DISK_OK:
		c->disk_full = false;
		break;
	case RN_GAP:
		c->gaps++;
		break;
	case RN_RECOVERED:
		R.recovered = true;
		break;
	}
	free(n);
}

/* --- rows ---------------------------------------------------------------------------------------- */

static void
on_rows_written(void *arg, PGresult *res, const char *error)
{
	(void)arg;
	(void)res;
	if (error != NULL)
		log_warn("updating the recording_segments table failed: %s", error);
}

static json_t *
dirty_rows(void)
{
	json_t *rows = json_array();
	struct rcam *c;

	TAILQ_FOREACH(c, &R.cams, link)
		for (int i = 0; i < c->nsegs; i++) {
			struct cseg *cs = &c->segs[i];

			if (!cs->dirty)
				continue;
			cs->dirty = false;
			json_array_append_new(rows, json_pack("{s:I, s:s, s:I, s:I, s:I, s:s, s:b}",
			    "camera_id", (json_int_t)c->camera_id, "path", cs->s.path,
			    "started_us", (json_int_t)cs->s.start_wall_us, "ended_us",
			    (json_int_t)GW_MAX(cs->s.end_wall_us, cs->s.start_wall_us),
			    "bytes", (json_int_t)cs->s.bytes, "reason", rec_reason_str(cs->s.reason),
			    "closed", !cs->s.open));
		}
	return rows;
}

/* Every changed segment in one statement: what other nodes and the API read. */
static void
flush_rows(void)
{
	json_t *rows;
	char *text;
	const char *params[2];

	if (!db_is_up())
		return;
	rows = dirty_rows();
	if (json_array_size(rows) > 0) {
		text = json_dumps(rows, JSON_COMPACT);
		params[0] = node_name();
		params[1] = text;
		db_query("INSERT INTO recording_segments AS s (camera_id, node, path, started_at, ended_at, bytes,"
		    " start_reason, closed)"
		    " SELECT r.camera_id, $1, r.path, to_timestamp(r.started_us / 1e6), to_timestamp(r.ended_us / 1e6),"
		    " r.bytes, r.reason, r.closed FROM json_to_recordset($2::json) AS r(camera_id bigint, path text,"
		    " started_us bigint, ended_us bigint, bytes bigint, reason text, closed boolean)"
		    " WHERE EXISTS (SELECT 1 FROM cameras WHERE id = r.camera_id)"
		    " ON CONFLICT (node, path) DO UPDATE SET ended_at = excluded.ended_at, bytes = excluded.bytes,"
		    " closed = excluded.closed", 2, params, 0, on_rows_written, NULL);
		free(text);
	}
	json_decref(rows);
	if (R.deleted != NULL) {
		text = json_dumps(R.deleted, JSON_COMPACT);
		params[0] = node_name();
		params[1] = text;
		db_query("DELETE FROM recording_segments WHERE node = $1 AND path IN"
		    " (SELECT json_array_elements_text($2::json))", 2, params, 0, on_rows_written, NULL);
		free(text);
		json_decref(R.deleted);
		R.deleted = NULL;
	}
}

/* After the start-up check: rows of this node whose files are gone go too. */
static void
forget_missing_rows(void)
{
	json_t *paths = json_array();
	struct rcam *c;
	char *text;
	const char *params[2];

	TAILQ_FOREACH(c, &R.cams, link)
		for (int i = 0; i < c->nsegs; i++)
			json_array_append_new(paths, json_string(c->segs[i].s.path));
	text = json_dumps(paths, JSON_COMPACT);
	params[0] = node_name();
	params[1] = text;
	db_query("DELETE FROM recording_segments WHERE node = $1 AND path NOT IN"
	    " (SELECT json_array_elements_text($2::json))", 2, params, DB_Q_WAIT, on_rows_written, NULL);
	free(text);
	json_decref(paths);
}

/* --- the model and the janitor ----------------------------------------------------------------------- */

static void
config_changed(void)
{
	struct recw_cfg now;
	struct recw_msg *m;

	recw_config_of(gw.cfg, &now);
	if (memcmp(&now, &R.cfg, sizeof(now)) == 0)
		return;
	R.cfg = now;
	m = recw_msg_new(RW_CONFIG, 0);
	m->cfg = now;
	post_one(m);
}

static void
model_changed(void)
{
	const struct gw_model *m = gw.model;
	struct rcam *c;

	TAILQ_FOREACH(c, &R.cams, link) {
		const struct model_camera *cam = model_camera(m, c->camera_id);
		int64_t keep = cam ? cam->retention_ms : 0;

		c->wanted = cam != NULL && cam->record && cam->pc.enabled;
		if (keep != c->retention_ms) {
			struct recw_msg *msg = recw_msg_new(RW_RETENTION, c->camera_id);

			c->retention_ms = msg->retention_ms = keep;
			post_one(msg);
		}
	}
	for (int i = 0; i < m->ncameras; i++)
		if (m->cameras[i].record && m->cameras[i].pc.enabled)
			rcam_get(m->cameras[i].pc.id)->wanted = true;
}

static void
recorder_janitor(int64_t now)
{
	struct rcam *c;

	if (!R.running)
		return;
	config_changed();
	TAILQ_FOREACH(c, &R.cams, link) {
		if (!c->wanted && c->state != R_IDLE) {
			log_info("cam=%lld: recording switched off", (long long)c->camera_id);
			reader_stop(c);
		} else if (c->wanted && c->state == R_IDLE && now >= c->retry_at_us && gw.model != NULL) {
			c->retention_ms = model_camera(gw.model, c->camera_id) ?
			    model_camera(gw.model, c->camera_id)->retention_ms : 0;
			rcam_start(c);
		}
	}
	if (R.recovered) {
		R.recovered = false;
		forget_missing_rows();
	}
	if (now - R.last_flush_us >= FLUSH_EVERY_US) {
		R.last_flush_us = now;
		flush_rows();
	}
}

/* --- questions ---------------------------------------------------------------------------------------- */

int
recorder_segments(int64_t camera_id, int64_t from_us, int64_t to_us, struct rec_segment **out)
{
	struct rcam *c = rcam_find(camera_id);
	int n = 0;

	*out = NULL;
	if (c == NULL || c->nsegs == 0)
		return 0;
	*out = gw_xcalloc((size_t)c->nsegs, sizeof(**out));
	for (int i = 0; i < c->nsegs; i++) {
		const struct rec_segment *s = &c->segs[i].s;

		if (s->end_wall_us >= from_us && s->start_wall_us < to_us)
			(*out)[n++] = *s;
	}
	return n;
}

static bool
span_of(const struct rcam *c, int64_t *from_us, int64_t *to_us)
{
	if (c == NULL || c->nsegs == 0)
		return false;
	*from_us = c->segs[0].s.start_wall_us;
	*to_us = c->segs[0].s.end_wall_us;
	for (int i = 0; i < c->nsegs; i++)
		*to_us = GW_MAX(*to_us, c->segs[i].s.end_wall_us);
	return true;
}

bool
recorder_span(int64_t camera_id, int64_t *from_us, int64_t *to_us)
{
	return span_of(rcam_find(camera_id), from_us, to_us);
}

void
recorder_path(const struct rec_segment *s, bool index, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s%s", gw.cfg->recorder_dir, s->path, index ? ".idx" : "");
}

static void
status_of(const struct rcam *c, struct recorder_status *out)
{
	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return;
	out->recording = c->state == R_READING && !c->disk_full;
	out->disk_full = c->disk_full;
	out->gaps = c->gaps;
	out->dropped_frames = c->q.stats.frames_dropped;
	out->segments = c->nsegs;
	for (int i = 0; i < c->nsegs; i++)
		out->bytes += c->segs[i].s.bytes;
	(void)span_of(c, &out->oldest_us, &out->newest_us);
}

void
recorder_camera_status(int64_t camera_id, struct recorder_status *out)
{
	status_of(rcam_find(camera_id), out);
}

void
recorder_totals(struct recorder_totals *out)
{
	struct rcam *c;

	memset(out, 0, sizeof(*out));
	out->bytes_written = R.bytes_written;
	out->budget_bytes = gw.cfg->recorder_max_bytes;
	TAILQ_FOREACH(c, &R.cams, link) {
		struct recorder_status st;

		status_of(c, &st);	/* not by id: one pass over the cameras */
		out->cameras += st.recording;
		out->bytes_stored += st.bytes;
		out->segments += st.segments;
		out->gaps += st.gaps;
		out->dropped_frames += st.dropped_frames;
		out->disk_full |= st.disk_full;
	}
}

/* --- evidence holds -------------------------------------------------------------------------------- */

void
recorder_hold(int64_t camera_id, const struct rec_range *ranges, int n)
{
	struct recw_msg *m;

	if (!R.running)
		return;
	m = recw_msg_new(RW_HOLD, camera_id);
	m->nholds = n;
	if (n > 0) {
		m->holds = gw_xcalloc((size_t)n, sizeof(*m->holds));
		memcpy(m->holds, ranges, (size_t)n * sizeof(*m->holds));
	}
	post_one(m);
}

void
recorder_holds_known(void)
{
	if (R.running)
		post_one(recw_msg_new(RW_HOLDS_KNOWN, 0));
}

/* --- start and stop ---------------------------------------------------------------------------------- */

int
recorder_init(void)
{
	recw_config_of(gw.cfg, &R.cfg);
	if (recw_start() < 0)
		return -1;
	R.running = true;
	model_on_change(model_changed);
	loop_janitor_add(recorder_janitor);
	return 0;
}

void
recorder_shutdown(void)
{
	struct rcam *c;

	if (!R.running)
		return;
	TAILQ_FOREACH(c, &R.cams, link)
		if (c->state != R_IDLE)
			reader_stop(c);
	recw_stop();		/* delivers its last notices: the rows are flushed below */
	flush_rows();
	R.running = false;
	while ((c = TAILQ_FIRST(&R.cams)) != NULL) {
		TAILQ_REMOVE(&R.cams, c, link);
		frameq_clear(&c->q);
		free(c->segs);
		c->magic = 0;
		free(c);
	}
	json_decref(R.deleted);
	R.deleted = NULL;
}

/* --- what is being recorded (for ONVIF recording search) --------------------------------------------- */

/*
 * The tracks the recorder is recording now: those of the hub its reader
 * reads, which is what it told the writer to store. Returns how many went
 * to |out| (at most |max|), 0 when the camera is not being read.
 */
int
recorder_tracks(int64_t camera_id, struct adapter_track *out, int max)
{
	struct rcam *c = rcam_find(camera_id);
	const struct hub *hub;
	int n;

	if (c == NULL || c->reader == NULL || (hub = hub_reader_hub(c->reader)) == NULL)
		return 0;
	n = GW_MIN(hub_ntracks(hub), max);
	for (int i = 0; i < n; i++)
		out[i] = *hub_track(hub, i);
	return n;
}
