/*
 * metrics.c - GET /metrics in the Prometheus text format (version 0.0.4),
 * for any authenticated role (a scraper uses a token of its own).
 *
 * Everything comes from counters the modules already keep: connections
 * (conn.c), sessions (session.c), media totals (media.h), the policy model
 * (grants by state, cameras), the database (db_stats), the worker queue,
 * the audit spool, HTTP answers by class, webhooks, admin tokens and the
 * revocation -> model latency measured by grants.c.
 */
#include "api.h"
#include "../audit.h"
#include "../conn.h"
#include "../db.h"
#include "../media.h"
#include "../media/recorder.h"
#include "../model.h"
#include "../session.h"
#include "../worker.h"

#include <event2/buffer.h>
#include <string.h>

static void
metric(struct evbuffer *out, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
gauge(struct evbuffer *out, const char *name, const char *help, double v)
{
	metric(out, name, "gauge", help);
	evbuffer_add_printf(out, "%s %.17g\n", name, v);
}

static void
counter(struct evbuffer *out, const char *name, const char *help, uint64_t v)
{
	metric(out, name, "counter", help);
	evbuffer_add_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

static void
grants_by_state(struct evbuffer *out, const struct gw_model *m)
{
	int n[4] = { 0 };
	int64_t now = gw_wall_us();
	static const char *const names[4] = { "active", "pending", "expired", "revoked" };

	for (int i = 0; m != NULL && i < m->ngrants; i++) {
		const struct policy_grant *g = &m->grants[i].pg;

		if (g->revoked_at_us != 0)
			n[3]++;
		else if (now < g->active_from_us)
			n[1]++;
		else if (now >= g->active_until_us)
			n[2]++;
		else
			n[0]++;
	}
	metric(out, "vssgate_grants", "gauge",
	    "Grants in the policy model by state (ended more than 7 days ago: not loaded).");
	for (int i = 0; i < 4; i++)
		evbuffer_add_printf(out, "vssgate_grants{state=\"%s\"} %d\n", names[i], n[i]);
}

static void
media_metrics(struct evbuffer *out)
{
	struct media_totals t;

	media_totals(&t);
	metric(out, "vssgate_sources", "gauge", "Camera sources by state on this node.");
	evbuffer_add_printf(out, "vssgate_sources{state=\"active\"} %d\n", t.sources_active);
	evbuffer_add_printf(out, "vssgate_sources{state=\"online\"} %d\n", t.sources_online);
	gauge(out, "vssgate_readers", "Live media readers on this node.", t.readers);
	counter(out, "vssgate_media_bytes_sent_total", "Media bytes sent to readers.", t.bytes_out);
	counter(out, "vssgate_media_frames_received_total", "Frames received from sources.", t.frames_in);
	counter(out, "vssgate_media_frames_dropped_total", "Frames skipped for slow readers.",
	    t.frames_dropped);
}

static void
recorder_metrics(struct evbuffer *out)
{
	struct recorder_totals t;

	recorder_totals(&t);
	gauge(out, "vssgate_recorder_cameras", "Cameras being recorded on this node now.", t.cameras);
	counter(out, "vssgate_recorder_bytes_written_total", "Bytes the recorder wrote since start.",
	    t.bytes_written);
	gauge(out, "vssgate_recorder_bytes_stored", "Bytes of footage on this node's disk.",
	    (double)t.bytes_stored);
	gauge(out, "vssgate_recorder_budget_bytes", "[recorder] max_bytes (0: no budget).",
	    (double)t.budget_bytes);
	gauge(out, "vssgate_recorder_segments", "Segment files of footage on this node.", t.segments);
	counter(out, "vssgate_recorder_gaps_total", "Gaps in the recordings since start (source lost, "
	    "disk behind or full, new parameters).", t.gaps);
	counter(out, "vssgate_recorder_frames_dropped_total", "Frames the recorder had to drop (the disk "
	    "did not keep up).", t.dropped_frames);
	gauge(out, "vssgate_recorder_disk_full", "1 while recording is paused by a full disk.", t.disk_full);
}

static void
db_metrics(struct evbuffer *out)
{
	uint64_t queries, errors;
	double avg, max;

	db_stats(&queries, &errors, &avg, &max);
	gauge(out, "vssgate_database_up", "1 when the database is reachable.", db_is_up());
	counter(out, "vssgate_database_queries_total", "Queries answered by the database.", queries);
	counter(out, "vssgate_database_errors_total", "Queries that failed.", errors);
	gauge(out, "vssgate_database_query_seconds_avg", "Mean query round trip since start.", avg / 1e3);
	gauge(out, "vssgate_database_query_seconds_max", "Longest query round trip since start.",
	    max / 1e3);
}

static void
http_metrics(struct evbuffer *out)
{
	uint64_t counts[6];

	http_stats(counts);
	metric(out, "vssgate_http_responses_total", "counter", "HTTP answers sent, by status class.");
	for (int i = 1; i < 6; i++)
		evbuffer_add_printf(out, "vssgate_http_responses_total{class=\"%dxx\"} %llu\n", i,
		    (unsigned long long)counts[i]);
}

static void
revocation_metrics(struct evbuffer *out)
{
	uint64_t count;
	double sum, max, last;

	grants_revocation_stats(&count, &sum, &max, &last);
	metric(out, "vssgate_revocation_model_seconds", "summary",
	    "From a revocation request to the local policy model denying the grant.");
	evbuffer_add_printf(out, "vssgate_revocation_model_seconds_sum %.6f\n", sum / 1e3);
	evbuffer_add_printf(out, "vssgate_revocation_model_seconds_count %llu\n",
	    (unsigned long long)count);
	gauge(out, "vssgate_revocation_model_seconds_max", "Longest revocation -> model latency.",
	    max / 1e3);
}

static void
metrics(struct api_call *call)
{
	const struct gw_model *m = gw.model;
	struct evbuffer *out = evbuffer_new();

	gauge(out, "vssgate_up", "Always 1: the daemon answers.", 1);
	gauge(out, "vssgate_uptime_seconds", "Seconds since the daemon started.",
	    (double)(gw_wall_us() - gw.started_at) / 1e6);
	gauge(out, "vssgate_connections", "Open client connections (all protocols).", conn_count());
	gauge(out, "vssgate_sessions", "Live sessions on this node.", session_count());
	gauge(out, "vssgate_session_rows_pending", "Session rows (and id reservations) not yet written to the "
	    "sessions table.", session_writes_pending());
	media_metrics(out);
	recorder_metrics(out);
	grants_by_state(out, m);
	gauge(out, "vssgate_cameras", "Cameras in the policy model.", m ? m->ncameras : 0);
	gauge(out, "vssgate_policy_generation", "Generation of the policy model in use.",
	    m ? (double)m->generation : 0);
	db_metrics(out);
	gauge(out, "vssgate_worker_queue", "Jobs queued or running on worker threads.", worker_pending());
	gauge(out, "vssgate_audit_pending", "Audit records not yet in the database.", audit_pending());
	gauge(out, "vssgate_webhook_pending", "Webhook deliveries not yet acknowledged.",
	    webhook_pending());
	gauge(out, "vssgate_admin_tokens", "Live admin tokens in the cache.", auth_token_count());
	http_metrics(out);
	revocation_metrics(out);
	api_reply_text(call, 200, "text/plain; version=0.0.4; charset=utf-8",
	    (const char *)evbuffer_pullup(out, -1), evbuffer_get_length(out));
	evbuffer_free(out);
}

static const struct api_route routes[] = {
	{ "GET", "/metrics", ROLES_ANY, BODY_NONE, metrics, NULL },
};

void
metrics_init(void)
{
	api_register(routes, ARRAY_SIZE(routes));
}
