/*
 * search_events.c - FindEvents: the recording events of the principal's
 * recordings over a stretch of time, in time order (descending when
 * EndPoint is before StartPoint), read from PostgreSQL page by page.
 *
 * The events are the gateway's own:
 *
 *   tns1:RecordingHistory/Recording/State   IsRecording: recording switched
 *       on or off for the camera (a segment that starts for 'start' or
 *       'restart', the end of the last one when the camera is no longer
 *       recorded);
 *   tns1:RecordingHistory/Track/State       IsDataPresent, per track: the
 *       two ends of every gap, with its Reason (the start_reason of the
 *       segment after it: source, behind, disk_full, parameters, ...);
 *
 * derived from recording_segments where footage is not contiguous with
 * what came before (the partial index of 015), and what the events
 * service published about the camera (evstore.c: VideoSource/SignalLoss,
 * Media/ConfigurationChanged), for principals whose levels show events.
 * IncludeStartState adds, at StartPoint, the state of both properties.
 *
 * The search range is cut to the grant's footage window and to now, so
 * nothing outside them is ever reported. A page of rows at a time is read
 * while the session wants results (search_session.c); the page query
 * waits for the database when it is away (DB_Q_WAIT), and the session
 * says "Searching" meanwhile.
 *
 *   FE_START_STATE --> FE_PAGES --> FE_DONE
 *   (IncludeStartState)   (a page of PAGE_ROWS rows at a time; fewer: done)
 */
#include "gateway/gw.h"
#include "gateway/db.h"
#include "gateway/log.h"
#include "proto/searchfilter.h"
#include "onvif.h"
#include "search.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EV_SEARCH_MAGIC 0x65767372U	/* "evsr" */
#define PAGE_ROWS 200
#define PAGE_ROWS_TEXT "200"
#define DIALECT_ITEM_FILTER "http://www.onvif.org/ver10/tev/messageContentFilter/ItemFilter"
#define DIALECT_XPATH "http://www.w3.org/TR/1999/REC-xpath-19991116"
#define TOPIC_DIALECT "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet"

enum st_topic {
	ST_RECORDING_STATE,
	ST_TRACK_STATE,
	ST_SIGNAL_LOSS,
	ST_CONFIGURATION,
	ST_COUNT,
};

static const char *const topic_paths[ST_COUNT] = {
	"RecordingHistory/Recording/State",
	"RecordingHistory/Track/State",
	"VideoSource/SignalLoss",
	"Media/ConfigurationChanged",
};

#define HISTORY_TOPICS ((1u << ST_RECORDING_STATE) | (1u << ST_TRACK_STATE))
#define CAMERA_TOPICS ((1u << ST_SIGNAL_LOSS) | (1u << ST_CONFIGURATION))

enum fe_phase {
	FE_START_STATE,
	FE_PAGES,
	FE_DONE,
};

/* A recording of the scope as it was when the search began. */
struct fe_cam {
	int64_t camera_id;
	char token[REC_TOKEN_LEN];
	bool recorded;
	char tracks[REC_MAX_TRACKS][16];	/* the tokens the principal sees */
	int ntracks;
};

struct fe_key {
	int64_t at_us, camera_id, id;
	int src, kind;
};

struct fe {
	uint32_t magic;
	struct search *s;
	struct fe_cam *cams;
	int ncams;
	char *cam_array;		/* "{1,2,3}" */
	int64_t lo_us, hi_us;		/* the range, cut to the footage window and to now */
	bool backward;
	unsigned topics;		/* 1 << enum st_topic */
	bool camera_events;		/* the principal's levels show events: camera_events rows too */
	struct sf_filter *content;	/* NULL: every message */
	enum fe_phase phase;
	struct db_req *q;		/* in flight, or NULL */
	struct fe_key cursor;		/* the last row handed on */
};

/* --- the SQL ---------------------------------------------------------------------------------- */

/*
 * The rows of events in [$2, $3] (microseconds) for the cameras $1 after
 * (or before) the key $4..$8: segments after a gap (kind 1: footage
 * begins), the segment before each of them and the last one if closed
 * (kind 0: footage ends; reason: why the next began, NULL if none yet),
 * and camera_events ($9: whether to read them).
 */
#define EVENTS_SQL(cmp, dir) \
	"WITH lim AS (SELECT timestamptz 'epoch' + $2::bigint * interval '1 microsecond' AS lo," \
	" timestamptz 'epoch' + $3::bigint * interval '1 microsecond' AS hi)," \
	" cams AS (SELECT unnest($1::bigint[]) AS camera_id)," \
	" g AS (SELECT s.id, s.camera_id, s.started_at, s.start_reason FROM recording_segments s, lim" \
	" WHERE s.camera_id = ANY($1::bigint[]) AND s.start_reason <> 'next'" \
	" AND s.started_at BETWEEN lim.lo AND lim.hi" \
	" UNION ALL SELECT x.* FROM cams, lim, LATERAL (SELECT s.id, s.camera_id, s.started_at, s.start_reason" \
	" FROM recording_segments s WHERE s.camera_id = cams.camera_id AND s.start_reason <> 'next'" \
	" AND s.started_at > lim.hi ORDER BY s.started_at LIMIT 1) x)," \
	" ev AS (SELECT g.started_at AS at, g.camera_id, 0 AS src, g.id, 1 AS kind, g.start_reason AS reason," \
	" NULL::text AS topic, NULL::text AS message, NULL::text AS need FROM g" \
	" UNION ALL SELECT p.ended_at, p.camera_id, 0, p.id, 0, g.start_reason, NULL, NULL, NULL FROM g," \
	" LATERAL (SELECT s.id, s.camera_id, s.ended_at FROM recording_segments s" \
	" WHERE s.camera_id = g.camera_id AND s.started_at < g.started_at ORDER BY s.started_at DESC LIMIT 1) p" \
	" UNION ALL SELECT l.ended_at, l.camera_id, 0, l.id, 0, NULL, NULL, NULL, NULL FROM cams," \
	" LATERAL (SELECT s.id, s.camera_id, s.ended_at, s.closed FROM recording_segments s" \
	" WHERE s.camera_id = cams.camera_id ORDER BY s.started_at DESC LIMIT 1) l WHERE l.closed" \
	" UNION ALL SELECT e.at, e.camera_id, 1, e.id, 0, NULL, e.topic, e.message, e.need" \
	" FROM camera_events e, lim WHERE $9::boolean AND e.camera_id = ANY($1::bigint[])" \
	" AND e.at BETWEEN lim.lo AND lim.hi)," \
	" k AS (SELECT (extract(epoch FROM at) * 1000000)::bigint AS at_us, camera_id, src, id, kind, reason," \
	" topic, message, need FROM ev)" \
	" SELECT at_us, camera_id, src, id, kind, reason, topic, message, need FROM k" \
	" WHERE at_us BETWEEN $2::bigint AND $3::bigint" \
	" AND (at_us, camera_id, src, id, kind) " cmp " ($4::bigint, $5::bigint, $6::int, $7::bigint, $8::int)" \
	" ORDER BY at_us " dir ", camera_id " dir ", src " dir ", id " dir ", kind " dir \
	" LIMIT " PAGE_ROWS_TEXT

static const char forward_sql[] = EVENTS_SQL(">", "ASC");
static const char backward_sql[] = EVENTS_SQL("<", "DESC");

/* Per camera: the last segment begun at or before $2, and why the one after it began. */
static const char start_state_sql[] =
    "SELECT c.camera_id, s.id IS NOT NULL, (extract(epoch FROM s.ended_at) * 1000000)::bigint, s.closed,"
    " n.start_reason FROM unnest($1::bigint[]) AS c(camera_id)"
    " LEFT JOIN LATERAL (SELECT id, started_at, ended_at, closed FROM recording_segments s"
    " WHERE s.camera_id = c.camera_id AND s.started_at <= timestamptz 'epoch' + $2::bigint * interval"
    " '1 microsecond' ORDER BY started_at DESC LIMIT 1) s ON true"
    " LEFT JOIN LATERAL (SELECT start_reason FROM recording_segments n WHERE n.camera_id = c.camera_id"
    " AND n.started_at > s.started_at ORDER BY started_at LIMIT 1) n ON true ORDER BY c.camera_id";

/* --- results ------------------------------------------------------------------------------------ */

static const struct fe_cam *
cam_of(const struct fe *e, int64_t camera_id)
{
	for (int i = 0; i < e->ncams; i++)
		if (e->cams[i].camera_id == camera_id)
			return &e->cams[i];
	return NULL;
}

static void
simple_item(struct xmlw *w, const char *name, const char *value)
{
	xmlw_open_attr(w, "tt:SimpleItem", "Name", name);
	xmlw_attr(w, "Value", value);
	xmlw_lit(w, "/>");
}

/* A tt:Result around a rendered tt:Message, if the content filter keeps it. */
static void
add_result(struct fe *e, const struct fe_cam *c, const char *track, int64_t at_us, const char *topic,
    const char *message, unsigned need_caps, bool start_state)
{
	struct xmlw w;
	char t[40];

	if (e->s->exhausted || (e->content != NULL && !search_filter_match_xml(e->content, message)))
		return;
	soap_format_datetime(at_us, t, sizeof(t));
	xmlw_init(&w);
	xmlw_lit(&w, "<tt:Result>");
	xmlw_el(&w, "tt:RecordingToken", c->token);
	xmlw_el(&w, "tt:TrackToken", track);
	xmlw_el(&w, "tt:Time", t);
	xmlw_lit(&w, "<tt:Event><wsnt:Topic Dialect=\"" TOPIC_DIALECT "\">tns1:");
	xmlw_esc(&w, topic);
	xmlw_lit(&w, "</wsnt:Topic><wsnt:Message>");
	xmlw_lit(&w, message);
	xmlw_lit(&w, "</wsnt:Message></tt:Event>");
	xmlw_lit(&w, start_state ? "<tt:StartStateEvent>true</tt:StartStateEvent>" :
	    "<tt:StartStateEvent>false</tt:StartStateEvent>");
	xmlw_lit(&w, "</tt:Result>");
	if (xmlw_result(&w) >= 0)
		search_add(e->s, c->camera_id, need_caps, gw_xstrdup(w.p));
	xmlw_free(&w);
}

/* A RecordingHistory event: Recording/State (|track| NULL) or Track/State of |track|. */
static void
add_history(struct fe *e, const struct fe_cam *c, const char *track, int64_t at_us, bool state,
    const char *reason, bool start_state)
{
	enum st_topic topic = track == NULL ? ST_RECORDING_STATE : ST_TRACK_STATE;
	struct xmlw m;
	char t[40];

	if (!(e->topics & (1u << topic)))
		return;
	soap_format_datetime(at_us, t, sizeof(t));
	xmlw_init(&m);
	xmlw_open_attr(&m, "tt:Message", "UtcTime", t);
	xmlw_attr(&m, "PropertyOperation", start_state ? "Initialized" : "Changed");
	xmlw_lit(&m, "><tt:Source>");
	simple_item(&m, "RecordingToken", c->token);
	if (track != NULL)
		simple_item(&m, "Track", track);
	xmlw_lit(&m, "</tt:Source><tt:Data>");
	simple_item(&m, track == NULL ? "IsRecording" : "IsDataPresent", state ? "true" : "false");
	if (reason != NULL)
		simple_item(&m, "Reason", reason);
	xmlw_lit(&m, "</tt:Data></tt:Message>");
	if (xmlw_result(&m) >= 0)
		add_result(e, c, track != NULL ? track : c->ntracks ? c->tracks[0] : "", at_us, topic_paths[topic],
		    m.p, 0, start_state);
	xmlw_free(&m);
}

static void
add_tracks(struct fe *e, const struct fe_cam *c, int64_t at_us, bool present, const char *reason,
    bool start_state)
{
	for (int i = 0; i < c->ntracks; i++)
		add_history(e, c, c->tracks[i], at_us, present, reason, start_state);
}

static bool
stops_recording(const char *reason)
{
	return reason != NULL && (strcmp(reason, "start") == 0 || strcmp(reason, "restart") == 0);
}

static unsigned
caps_of_need(const char *need)
{
	if (strcmp(need, "video") == 0)
		return CAP_EVENTS | CAP_VIDEO;
	if (strcmp(need, "audio") == 0)
		return CAP_EVENTS | CAP_AUDIO;
	if (strcmp(need, "metadata") == 0)
		return CAP_EVENTS | CAP_METADATA;
	return CAP_EVENTS;
}

static int
topic_index(const char *path)
{
	for (int i = 0; i < ST_COUNT; i++)
		if (strcmp(topic_paths[i], path) == 0)
			return i;
	return -1;
}

/* A kept message is one element of ours, tt:Message, before it goes into an answer as markup. */
static bool
is_message(const char *m)
{
	size_t n = strlen(m);

	return strncmp(m, "<tt:Message ", 12) == 0 && n > 25 && strcmp(m + n - 13, "</tt:Message>") == 0;
}

/* One row of a page: the events it stands for, in their order. */
static void
row_events(struct fe *e, PGresult *res, int i)
{
	int64_t at = strtoll(PQgetvalue(res, i, 0), NULL, 10);
	const struct fe_cam *c = cam_of(e, strtoll(PQgetvalue(res, i, 1), NULL, 10));
	const char *reason = PQgetisnull(res, i, 5) ? NULL : PQgetvalue(res, i, 5);
	int topic;

	if (c == NULL)
		return;
	if (atoi(PQgetvalue(res, i, 2)) == 1) {
		topic = topic_index(PQgetvalue(res, i, 6));
		if (topic >= 0 && (e->topics & (1u << topic)) && is_message(PQgetvalue(res, i, 7)))
			add_result(e, c, c->ntracks ? c->tracks[0] : "", at, topic_paths[topic], PQgetvalue(res, i, 7),
			    caps_of_need(PQgetvalue(res, i, 8)), false);
		return;
	}
	if (atoi(PQgetvalue(res, i, 4)) == 1) {		/* footage begins after a gap */
		if (stops_recording(reason))
			add_history(e, c, NULL, at, true, reason, false);
		add_tracks(e, c, at, true, reason, false);
		return;
	}
	add_tracks(e, c, at, false, reason, false);	/* footage ends */
	if (stops_recording(reason) || (reason == NULL && !c->recorded))
		add_history(e, c, NULL, at, false, reason, false);
}

/* --- the queries --------------------------------------------------------------------------------- */

static void pump(struct search *s);

/* The database failed the search: a waiting request learns it, the session ends. */
static void
search_failed(struct fe *e, const char *error)
{
	struct search *s = e->s;
	struct onvif_req *r = s->parked;

	log_warn("onvif %s: FindEvents failed: %s", s->token, error);
	s->parked = NULL;
	if (r != NULL)
		onvif_fault(r, 0, "env:Receiver", "ter:Action", NULL, "the search failed: the database did not answer");
	search_end(s, "the database failed the search");
}

static void
on_page(void *arg, PGresult *res, const char *error)
{
	struct fe *e = arg;
	int n;

	GW_CHECK(e, EV_SEARCH_MAGIC);
	e->q = NULL;
	if (error != NULL) {
		search_failed(e, error);
		return;
	}
	n = PQntuples(res);
	for (int i = 0; i < n && !e->s->exhausted; i++) {
		row_events(e, res, i);
		e->cursor = (struct fe_key){
			.at_us = strtoll(PQgetvalue(res, i, 0), NULL, 10),
			.camera_id = strtoll(PQgetvalue(res, i, 1), NULL, 10),
			.src = atoi(PQgetvalue(res, i, 2)),
			.id = strtoll(PQgetvalue(res, i, 3), NULL, 10),
			.kind = atoi(PQgetvalue(res, i, 4)),
		};
		e->s->reached_us = e->cursor.at_us;
	}
	if (n < PAGE_ROWS) {
		e->phase = FE_DONE;
		e->s->exhausted = true;
		e->s->reached_us = e->s->end_us;
	}
	search_progress(e->s);
	pump(e->s);
}

static void
query_page(struct fe *e)
{
	char p[8][24];
	const char *params[9] = {
		e->cam_array, p[0], p[1], p[2], p[3], p[4], p[5], p[6], e->camera_events ? "true" : "false",
	};

	snprintf(p[0], sizeof(p[0]), "%lld", (long long)e->lo_us);
	snprintf(p[1], sizeof(p[1]), "%lld", (long long)e->hi_us);
	snprintf(p[2], sizeof(p[2]), "%lld", (long long)e->cursor.at_us);
	snprintf(p[3], sizeof(p[3]), "%lld", (long long)e->cursor.camera_id);
	snprintf(p[4], sizeof(p[4]), "%d", e->cursor.src);
	snprintf(p[5], sizeof(p[5]), "%lld", (long long)e->cursor.id);
	snprintf(p[6], sizeof(p[6]), "%d", e->cursor.kind);
	e->q = db_query(e->backward ? backward_sql : forward_sql, 9, params, DB_Q_WAIT, on_page, e);
}

/* The state at the start point of one camera, from its last segment begun by then. */
static void
start_state_of(struct fe *e, PGresult *res, int i, int64_t at)
{
	const struct fe_cam *c = cam_of(e, strtoll(PQgetvalue(res, i, 0), NULL, 10));
	bool has = strcmp(PQgetvalue(res, i, 1), "t") == 0, data = false, recording = false;
	const char *next = PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4);

	if (c == NULL)
		return;
	if (has && (strcmp(PQgetvalue(res, i, 3), "f") == 0 || at <= strtoll(PQgetvalue(res, i, 2), NULL, 10))) {
		data = recording = true;
	} else if (has) {
		recording = next != NULL ? !stops_recording(next) : c->recorded;
	}
	add_history(e, c, NULL, at, recording, NULL, true);
	add_tracks(e, c, at, data, NULL, true);
}

static void
on_start_state(void *arg, PGresult *res, const char *error)
{
	struct fe *e = arg;
	int64_t at;

	GW_CHECK(e, EV_SEARCH_MAGIC);
	e->q = NULL;
	if (error != NULL) {
		search_failed(e, error);
		return;
	}
	at = e->backward ? e->hi_us : e->lo_us;
	for (int i = 0; i < PQntuples(res); i++)
		start_state_of(e, res, i, at);
	e->phase = FE_PAGES;
	search_progress(e->s);
	pump(e->s);
}

static void
query_start_state(struct fe *e)
{
	char at[24];
	const char *params[2] = { e->cam_array, at };

	snprintf(at, sizeof(at), "%lld", (long long)(e->backward ? e->hi_us : e->lo_us));
	e->q = db_query(start_state_sql, 2, params, DB_Q_WAIT, on_start_state, e);
}

/* Read on while the session wants more and nothing is in flight. */
static void
pump(struct search *s)
{
	struct fe *e = s->kind_state;

	GW_CHECK(e, EV_SEARCH_MAGIC);
	if (e->q != NULL || s->exhausted || s->count >= search_wanted(s))
		return;
	switch (e->phase) {
	case FE_START_STATE:
		query_start_state(e);
		break;
	case FE_PAGES:
		query_page(e);
		break;
	case FE_DONE:
		s->exhausted = true;
		search_progress(s);
		break;
	}
}

static void
release(struct search *s)
{
	struct fe *e = s->kind_state;

	GW_CHECK(e, EV_SEARCH_MAGIC);
	if (e->q != NULL)
		db_cancel(e->q);
	sf_free(e->content);
	free(e->cams);
	free(e->cam_array);
	e->magic = 0;
	free(e);
	s->kind_state = NULL;
}

static const struct search_ops events_ops = { pump, release };

/* --- FindEvents ------------------------------------------------------------------------------------ */

/* The SearchFilter: its topic expressions (ANDed) and message content; false after a fault. */
static bool
read_filter(struct onvif_req *r, struct fe *e)
{
	xmlNode *filter = onvif_arg(r, "SearchFilter");
	const char *fault = NULL, *why = "";
	char dialect[160], text[2100];

	e->topics = (1u << ST_COUNT) - 1;
	for (xmlNode *c = soap_first_element(filter); c != NULL; c = soap_next_element(c)) {
		if (soap_is(c, NULL, "TopicExpression")) {
			e->topics &= onvif_topic_filter(c, topic_paths, ST_COUNT, &fault);
		} else if (soap_is(c, NULL, "MessageContent")) {
			snprintf(dialect, sizeof(dialect), "%s", DIALECT_ITEM_FILTER);
			soap_attr(c, NULL, "Dialect", dialect, sizeof(dialect));
			if ((strcmp(dialect, DIALECT_ITEM_FILTER) != 0 && strcmp(dialect, DIALECT_SEARCH_FILTER) != 0 &&
			    strcmp(dialect, DIALECT_XPATH) != 0) || !soap_text(c, text, sizeof(text)) ||
			    e->content != NULL || search_filter_parse(text, &e->content, &why) < 0)
				fault = "message content";
		}
		if (fault != NULL) {
			onvif_fault(r, 0, "env:Sender", "ter:InvalidArgVal", "ter:InvalidFilterFault",
			    why[0] ? why : "the search filter is not understood");
			return false;
		}
	}
	return true;
}

/* StartPoint, EndPoint: the range, its direction, cut to the grant's footage window and to now. */
static bool
read_range(struct onvif_req *r, const struct onvif_view *v, struct search *s, struct fe *e)
{
	char text[64];
	int64_t start, end, wlo, whi;
	bool has_end;

	if (!onvif_arg_text(r, "StartPoint", text, sizeof(text)) || soap_parse_datetime(text, &start) < 0) {
		onvif_fault_arg(r, "ter:InvalidArgs", "StartPoint is missing or not an xs:dateTime with its zone");
		return false;
	}
	has_end = onvif_arg_text(r, "EndPoint", text, sizeof(text));
	if (has_end && soap_parse_datetime(text, &end) < 0) {
		onvif_fault_arg(r, "ter:InvalidArgs", "EndPoint is not an xs:dateTime with its zone");
		return false;
	}
	if (!has_end)
		end = GW_MAX(start, gw_wall_us());
	e->backward = end < start;
	s->start_us = start;
	s->end_us = end;
	s->reached_us = start;
	e->lo_us = GW_MIN(start, end);
	e->hi_us = GW_MAX(start, end);
	if (rec_window(v, &wlo, &whi)) {
		e->lo_us = GW_MAX(e->lo_us, wlo);
		e->hi_us = GW_MIN(e->hi_us, whi);
	} else {
		e->hi_us = e->lo_us - 1;	/* an empty window: nothing to find */
	}
	return true;
}

static void
take_cams(struct fe *e, const struct recording *recs, int n)
{
	size_t len = 3, off = 0;

	e->cams = gw_xcalloc((size_t)GW_MAX(n, 1), sizeof(*e->cams));
	for (int i = 0; i < n; i++) {
		struct fe_cam *c = &e->cams[e->ncams++];

		c->camera_id = recs[i].vc->cam->pc.id;
		snprintf(c->token, sizeof(c->token), "%s", recs[i].token);
		c->recorded = recs[i].recorded;
		for (int k = 0; k < recs[i].ntracks; k++)
			snprintf(c->tracks[c->ntracks++], sizeof(c->tracks[0]), "%s", recs[i].tracks[k].token);
		len += 21;
	}
	e->cam_array = gw_xmalloc(len);
	e->cam_array[off++] = '{';
	for (int i = 0; i < e->ncams; i++)
		off += (size_t)snprintf(e->cam_array + off, len - off, "%s%lld", i ? "," : "",
		    (long long)e->cams[i].camera_id);
	snprintf(e->cam_array + off, len - off, "}");
}

static void
find_events_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	struct fe *e = gw_xcalloc(1, sizeof(*e));
	struct search tmp = { 0 }, *s;
	struct recording *recs = NULL;
	int64_t keepalive, max_matches;
	char inc[8] = "false";
	const char *why;
	int n = 0;

	(void)st;
	e->magic = EV_SEARCH_MAGIC;
	if (!search_find_args(r, &keepalive, &max_matches) || !read_range(r, v, &tmp, e) || !read_filter(r, e) ||
	    !search_scope(r, v, &recs, &n))
		goto fail;
	if ((s = search_new(r, SEARCH_EVENTS, keepalive, max_matches, &events_ops, &why)) == NULL) {
		onvif_fault(r, 0, "env:Receiver", "ter:Action", "ter:ResourceProblem", why);
		goto fail;
	}
	s->start_us = tmp.start_us;
	s->end_us = tmp.end_us;
	s->reached_us = tmp.reached_us;
	take_cams(e, recs, n);
	free(recs);
	e->s = s;
	e->camera_events = (view_caps(v) & CAP_EVENTS) && (e->topics & CAMERA_TOPICS);
	onvif_arg_text(r, "IncludeStartState", inc, sizeof(inc));
	e->phase = strcmp(inc, "true") == 0 || strcmp(inc, "1") == 0 ? FE_START_STATE : FE_PAGES;
	if (e->ncams == 0 || e->lo_us > e->hi_us || e->topics == 0)
		e->phase = FE_DONE;
	e->cursor.at_us = e->backward ? e->hi_us + 1 : e->lo_us - 1;
	s->kind_state = e;
	search_reply_token(r, "tse:FindEventsResponse", s);
	pump(s);
	return;
fail:
	sf_free(e->content);
	free(recs);
	free(e);
}

void
search_find_events(struct onvif_req *r)
{
	onvif_with_view(r, find_events_cont);
}
