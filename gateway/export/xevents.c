/*
 * xevents.c - the events of level 0E (export_events_collect(), see
 * jobs.h): what the gateway itself knows happened to a camera in a range,
 * as ONVIF event messages for the events track of the export.
 *
 *   recording gaps (recording_segments: a segment whose start_reason is not
 *     'next' begins after a gap)
 *       tns1:RecordingHistory/Recording/State  IsRecording false at the end of
 *         the footage before the gap, true where it starts again; Reason is
 *         the start_reason (source, behind, disk_full, parameters, restart, start)
 *       tns1:VideoSource/SignalLoss  State true / false, for a gap whose
 *         reason is the source (it was lost or restarted)
 *   configuration changes of the camera (audit_log camera.create,
 *     camera.update, camera.import_locations)
 *       tns1:Media/ConfigurationChanged  Source Type "Camera", Data Action
 *
 * Each document is built here from numbers and fixed words only, so it is
 * well-formed without escaping. Another source of events (a persisted
 * events table) is one more arm of the query below.
 */
#include "gateway/gw.h"
#include "gateway/db.h"
#include "gateway/export/eff.h"
#include "gateway/export/jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char events_sql[] =
    "WITH s AS (SELECT camera_id, started_at, ended_at, start_reason,"
    "   lag(ended_at) OVER (PARTITION BY camera_id ORDER BY started_at) AS prev_end"
    "  FROM recording_segments WHERE camera_id = ANY ($1::bigint[])"
    "   AND ended_at >= timestamptz 'epoch' + $2::bigint * interval '1 microsecond'"
    "   AND started_at < timestamptz 'epoch' + $3::bigint * interval '1 microsecond'),"
    " ev AS (SELECT camera_id, prev_end AS t, 'stop' AS kind, start_reason AS why FROM s"
    "   WHERE start_reason <> 'next' AND prev_end IS NOT NULL"
    "  UNION ALL SELECT camera_id, started_at, 'start', start_reason FROM s WHERE start_reason <> 'next'"
    "  UNION ALL SELECT camera_id, at, 'config', action FROM audit_log"
    "   WHERE camera_id = ANY ($1::bigint[]) AND outcome = 'ok'"
    "   AND action IN ('camera.create', 'camera.update', 'camera.import_locations')"
    "   AND at >= timestamptz 'epoch' + $2::bigint * interval '1 microsecond'"
    "   AND at < timestamptz 'epoch' + $3::bigint * interval '1 microsecond')"
    " SELECT camera_id, (extract(epoch FROM t) * 1000000)::bigint AS us, kind, why FROM ev"
    " WHERE t >= timestamptz 'epoch' + $2::bigint * interval '1 microsecond'"
    "  AND t < timestamptz 'epoch' + $3::bigint * interval '1 microsecond'"
    " ORDER BY camera_id, us, kind LIMIT " "100000";

struct collect {
	int64_t *cams;
	int ncams;
	export_events_cb cb;
	void *arg;
};

/* The words of a row are the database's; only known ones get through. */
static const char *
known_reason(const char *why)
{
	static const char *const words[] = { "start", "source", "behind", "disk_full", "parameters",
		"restart", "camera.create", "camera.update", "camera.import_locations" };

	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (strcmp(why, words[i]) == 0)
			return words[i];
	return "other";
}

static void
add(struct eff_event **evs, int *n, int *cap, int64_t us, const char *topic, char *source, char *data)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		*evs = gw_xrealloc(*evs, (size_t)*cap * sizeof(**evs));
	}
	(*evs)[(*n)++] = (struct eff_event){ .time_us = us, .topic = topic, .source = source, .data = data };
}

/* The events of one row (one or two), appended. */
static void
row_events(struct eff_event **evs, int *n, int *cap, int64_t cam, int64_t us, const char *kind,
    const char *why)
{
	const char *r = known_reason(why);
	bool stop = strcmp(kind, "stop") == 0;

	if (strcmp(kind, "config") == 0) {
		add(evs, n, cap, us, "tns1:Media/ConfigurationChanged",
		    gw_xasprintf("<tt:SimpleItem Name=\"Type\" Value=\"Camera\"/>"
		    "<tt:SimpleItem Name=\"Token\" Value=\"vs%lld\"/>", (long long)cam),
		    gw_xasprintf("<tt:SimpleItem Name=\"Action\" Value=\"%s\"/>", r));
		return;
	}
	add(evs, n, cap, us, "tns1:RecordingHistory/Recording/State",
	    gw_xasprintf("<tt:SimpleItem Name=\"RecordingToken\" Value=\"rec-%lld\"/>", (long long)cam),
	    gw_xasprintf("<tt:SimpleItem Name=\"IsRecording\" Value=\"%s\"/>"
	    "<tt:SimpleItem Name=\"Reason\" Value=\"%s\"/>", stop ? "false" : "true", r));
	if (strcmp(r, "source") == 0)
		add(evs, n, cap, us, "tns1:VideoSource/SignalLoss",
		    gw_xasprintf("<tt:SimpleItem Name=\"VideoSource\" Value=\"vs%lld\"/>", (long long)cam),
		    gw_xasprintf("<tt:SimpleItem Name=\"State\" Value=\"%s\"/>", stop ? "true" : "false"));
}

static int
cam_index(const struct collect *c, int64_t cam)
{
	for (int i = 0; i < c->ncams; i++)
		if (c->cams[i] == cam)
			return i;
	return -1;
}

static void
on_rows(void *arg, PGresult *res, const char *error)
{
	struct collect *c = arg;
	struct export_events ev = { .ncameras = c->ncams };
	int *cap;

	if (error != NULL) {
		c->cb(c->arg, NULL, error);
		goto out;
	}
	ev.events = gw_xcalloc((size_t)c->ncams, sizeof(*ev.events));
	ev.nevents = gw_xcalloc((size_t)c->ncams, sizeof(*ev.nevents));
	cap = gw_xcalloc((size_t)c->ncams, sizeof(*cap));
	for (int r = 0; r < PQntuples(res); r++) {
		int k = cam_index(c, strtoll(PQgetvalue(res, r, 0), NULL, 10));

		if (k >= 0 && ev.nevents[k] < EFF_MAX_EVENTS - 2)
			row_events(&ev.events[k], &ev.nevents[k], &cap[k], c->cams[k],
			    strtoll(PQgetvalue(res, r, 1), NULL, 10), PQgetvalue(res, r, 2), PQgetvalue(res, r, 3));
	}
	c->cb(c->arg, &ev, NULL);
	for (int k = 0; k < c->ncams; k++) {
		for (int i = 0; i < ev.nevents[k]; i++) {
			free((char *)ev.events[k][i].source);
			free((char *)ev.events[k][i].data);
		}
		free(ev.events[k]);
	}
	free(ev.events);
	free(ev.nevents);
	free(cap);
out:
	free(c->cams);
	free(c);
}

void
export_events_collect(const int64_t *camera_ids, int n, int64_t from_us, int64_t to_us,
    export_events_cb cb, void *arg)
{
	struct collect *c = gw_xcalloc(1, sizeof(*c));
	char from[24], to[24], *cams = gw_xmalloc((size_t)n * 21 + 3);
	const char *p[3] = { cams, from, to };
	size_t len = 1;

	c->cams = gw_xcalloc((size_t)n, sizeof(*c->cams));
	memcpy(c->cams, camera_ids, (size_t)n * sizeof(*c->cams));
	c->ncams = n;
	c->cb = cb;
	c->arg = arg;
	cams[0] = '{';
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(cams + len, (size_t)n * 21 + 3 - len, "%s%lld", i ? "," : "",
		    (long long)camera_ids[i]);
	snprintf(cams + len, (size_t)n * 21 + 3 - len, "}");
	snprintf(from, sizeof(from), "%lld", (long long)from_us);
	snprintf(to, sizeof(to), "%lld", (long long)to_us);
	db_query(events_sql, 3, p, 0, on_rows, c);
	free(cams);
}
