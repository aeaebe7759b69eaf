/*
 * jobs.c - export jobs on the I/O thread (see jobs.h): the checks of a
 * request, the registry of jobs queued and running on this node, the
 * dispatch to the export threads, completion, cancellation, the holds on
 * the recorder's segments, progress. The table's life cycle beyond one
 * run (start-up, expiry) is in jobs_db.c.
 *
 * A job of the registry:
 *
 *   J_QUEUED --(a worker free)--> J_PREPARING --(events read, segments found)--> J_RUNNING
 *       |                              |                                           |
 *       `--- cancel: gone at once      `--- cancel: gone when prepared             `--- cancel: the
 *                                                                      thread stops between fragments
 *
 * and leaves the registry when its run is over (done, failed, cancelled).
 */
#include "gateway/gw.h"
#include "gateway/audit.h"
#include "gateway/config.h"
#include "gateway/db.h"
#include "gateway/log.h"
#include "gateway/loop.h"
#include "gateway/model.h"
#include "gateway/media/recorder.h"
#include "gateway/export/jobs.h"
#include "gateway/export/jobs_int.h"
#include "gateway/export/jobs_priv.h"
#include "proto/proto.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct xstate X = { .jobs = TAILQ_HEAD_INITIALIZER(X.jobs) };

static void dispatch(void);

static const char *const via_names[] = { "api", "authority", "onvif" };

const char *
xjob_via_name(enum export_via v)
{
	return (unsigned)v < ARRAY_SIZE(via_names) ? via_names[v] : "api";
}

bool
export_enabled(void)
{
	return X.have_signer;
}

void
export_dir_of(int64_t id, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%lld", gw.cfg->export_dir, (long long)id);
}

bool
export_file_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 64 || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(proto_is_alnum(name[i]) || name[i] == '.' || name[i] == '-' || name[i] == '_'))
			return false;
	return true;
}

/* --- the registry ------------------------------------------------------------------------ */

struct xjob *
xjob_find(int64_t id)
{
	struct xjob *j;

	TAILQ_FOREACH(j, &X.jobs, link)
		if (j->id == id)
			return j;
	return NULL;
}

struct xjob *
xjob_new(int64_t id)
{
	struct xjob *j = gw_xcalloc(1, sizeof(*j));

	j->magic = XJOB_MAGIC;
	j->id = id;
	j->state = J_QUEUED;
	TAILQ_INSERT_TAIL(&X.jobs, j, link);
	X.njobs++;
	return j;
}

static void
xjob_free(struct xjob *j)
{
	TAILQ_REMOVE(&X.jobs, j, link);
	X.njobs--;
	free(j->cameras);
	free(j->actor);
	free(j->peer);
	free(j->reason);
	j->magic = 0;
	free(j);
}

int
xjob_queued(void)
{
	const struct xjob *j;
	int n = 0;

	TAILQ_FOREACH(j, &X.jobs, link)
		n += j->state == J_QUEUED;
	return n;
}

/*
 * Tell the recorder which ranges the jobs still need, per camera: the
 * union of the ranges of every job of the registry that names it. A
 * camera that had holds and has none any more gets an empty set.
 */
void
xjob_update_holds(void)
{
	int64_t cams[EXPORT_HELD_MAX];
	int ncams = 0;
	const struct xjob *j;

	TAILQ_FOREACH(j, &X.jobs, link)
		for (int i = 0; i < j->ncameras; i++) {
			bool seen = false;

			for (int k = 0; k < ncams && !seen; k++)
				seen = cams[k] == j->cameras[i];
			if (!seen && ncams < EXPORT_HELD_MAX)
				cams[ncams++] = j->cameras[i];
		}
	for (int k = 0; k < ncams; k++) {
		struct rec_range r[EXPORT_HOLDS_PER_CAMERA];
		int n = 0;

		TAILQ_FOREACH(j, &X.jobs, link)
			for (int i = 0; i < j->ncameras && n < EXPORT_HOLDS_PER_CAMERA; i++)
				if (j->cameras[i] == cams[k])
					r[n++] = (struct rec_range){ j->from_us, j->to_us };
		recorder_hold(cams[k], r, n);
	}
	for (int k = 0; k < X.nheld; k++) {
		bool still = false;

		for (int i = 0; i < ncams && !still; i++)
			still = cams[i] == X.held[k];
		if (!still)
			recorder_hold(X.held[k], NULL, 0);
	}
	memcpy(X.held, cams, (size_t)ncams * sizeof(cams[0]));
	X.nheld = ncams;
}

/* --- audit ----------------------------------------------------------------------------------- */

void
xjob_audit(const struct xjob *j, const char *actor, const char *action, const char *outcome,
    const char *peer, json_t *detail)
{
	struct audit_entry e = {
		.actor = actor ? actor : "system", .action = action, .outcome = outcome,
		.authority_id = j->authority_id, .grant_id = j->grant_id,
		.camera_id = j->ncameras == 1 ? j->cameras[0] : 0, .peer = peer,
	};

	json_object_set_new(detail, "export_id", json_integer(j->id));
	e.detail = detail;
	audit_record(&e);
	json_decref(detail);
}

/* --- progress ------------------------------------------------------------------------------ */

static double
fraction_of(const struct xjob *j)
{
	return j->run != NULL ? (double)atomic_load(&j->run->progress_ppm) / 1e6 : 0.0;
}

bool
export_progress(int64_t id, double *fraction)
{
	const struct xjob *j = xjob_find(id);

	*fraction = j ? fraction_of(j) : 0;
	return j != NULL;
}

static json_t *
progress_json(const struct xjob *j)
{
	double f = fraction_of(j);
	json_t *o = json_pack("{s:f, s:I, s:I, s:s}", "percent", round(f * 1000) / 10,
	    "bytes", (json_int_t)(j->run ? atomic_load(&j->run->bytes_done) : 0),
	    "bytes_total", (json_int_t)(j->run ? j->run->est_total : 0),
	    "state", j->state == J_RUNNING ? "running" : "queued");
	char eta[40];

	/* The end at the pace so far, once there is a pace to speak of. */
	if (j->state == J_RUNNING && f >= 0.01) {
		int64_t spent = gw_wall_us() - j->started_us;

		gw_format_time(j->started_us + (int64_t)((double)spent / f), eta, sizeof(eta));
		json_object_set_new(o, "eta", json_string(eta));
	} else {
		json_object_set_new(o, "eta", json_null());
	}
	return o;
}

char *
export_live_json(void)
{
	json_t *live = json_object();
	const struct xjob *j;
	char id[24], *text;

	TAILQ_FOREACH(j, &X.jobs, link) {
		snprintf(id, sizeof(id), "%lld", (long long)j->id);
		json_object_set_new(live, id, progress_json(j));
	}
	text = json_dumps(live, JSON_COMPACT);
	json_decref(live);
	return text;
}

void
export_on_status(void (*fn)(const struct export_status *st))
{
	if (X.nobservers < (int)ARRAY_SIZE(X.observers))
		X.observers[X.nobservers++] = fn;
}

void
xjob_tell(const struct xjob *j, const char *state, double fraction, const char *error)
{
	struct export_status st = {
		.id = j->id, .authority_id = j->authority_id, .grant_id = j->grant_id, .via = j->via,
		.state = state, .fraction = fraction, .error = error,
		.camera_ids = j->cameras, .ncameras = j->ncameras,
	};

	for (int i = 0; i < X.nobservers; i++)
		X.observers[i](&st);
}

/* --- the checks of a request ------------------------------------------------------------------ */

static void
refuse(struct export_refusal *why, int status, const char *error, const char *hint,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
refuse(struct export_refusal *why, int status, const char *error, const char *hint,
    const char *fmt, ...)
{
	va_list ap;

	why->status = status;
	why->error = error;
	why->hint = hint;
	va_start(ap, fmt);
	vsnprintf(why->detail, sizeof(why->detail), fmt, ap);
	va_end(ap);
}

static void
footage_window_text(int64_t grant_id, char *out, size_t outlen)
{
	const struct model_grant *g = gw.model ? model_grant(gw.model, grant_id) : NULL;
	char a[40] = "the beginning", b[40] = "now";

	if (g != NULL && g->pg.footage_from_us != INT64_MIN)
		gw_format_time(g->pg.footage_from_us, a, sizeof(a));
	if (g != NULL && g->pg.footage_until_us != INT64_MAX)
		gw_format_time(g->pg.footage_until_us, b, sizeof(b));
	snprintf(out, outlen, "%s to %s", a, b);
}

/* One camera against the grant: 0 and its EFF_KEEP_* bits, or -1 with the refusal. */
static int
check_camera(const struct export_spec *sp, int64_t cam, unsigned *keep, struct export_refusal *why)
{
	struct policy_request rq = { .action = ACT_EXPORT_VIDEO, .now_us = gw_wall_us(),
		.has_footage = true, .footage_start_us = sp->from_us, .footage_end_us = sp->to_us };
	struct policy_decision d = model_authorize(&sp->principal, cam, &rq);
	char window[100];

	if (!d.allow) {
		why->policy = true;
		if (d.reason == POLICY_DENY_FOOTAGE_WINDOW) {
			footage_window_text(sp->principal.grant_id, window, sizeof(window));
			refuse(why, 403, "outside the footage window", "ask for a range inside the window",
			    "the range asked for reaches outside the grant's footage window (%s); it is refused, "
			    "not cut, so that no export is shorter than what was asked for", window);
		} else {
			refuse(why, 403, "not permitted", NULL, "camera %lld: %s", (long long)cam,
			    policy_reason_str(d.reason));
		}
		return -1;
	}
	*keep = EFF_KEEP_VIDEO | EFF_KEEP_AUDIO;
	rq.action = ACT_EXPORT_METADATA;
	if (model_authorize(&sp->principal, cam, &rq).allow)
		*keep |= EFF_KEEP_METADATA;
	rq.action = ACT_EXPORT_EVENTS;
	if (model_authorize(&sp->principal, cam, &rq).allow)
		*keep |= EFF_KEEP_EVENTS;
	return 0;
}

static bool
recorded_here(int64_t cam, int64_t from_us, int64_t to_us)
{
	struct rec_segment *segs;
	int n = recorder_segments(cam, from_us, to_us, &segs);

	free(segs);
	return n > 0;
}

/* The checks that need no database; 0 and the levels the files will carry. */
static int
check_request(const struct export_spec *sp, unsigned *levels, struct export_refusal *why)
{
	unsigned keep, common = EFF_KEEP_VIDEO | EFF_KEEP_AUDIO | EFF_KEEP_METADATA | EFF_KEEP_EVENTS;

	memset(why, 0, sizeof(*why));
	if (!X.have_signer) {
		refuse(why, 503, "exports unavailable", "set [export] sign_key_file and sign_cert_file",
		    "no signing key is configured on this gateway, so it makes no exports");
		return -1;
	}
	if (sp->ncameras < 1 || sp->ncameras > gw.cfg->export_max_cameras) {
		refuse(why, 422, "invalid document", NULL, "name 1 to %d cameras", gw.cfg->export_max_cameras);
		return -1;
	}
	if (sp->to_us <= sp->from_us || sp->to_us - sp->from_us > gw.cfg->export_max_range_ms * 1000) {
		refuse(why, 422, "invalid range", "[export] max_range sets the longest range",
		    "the range must end after it starts and last at most %lld s",
		    (long long)(gw.cfg->export_max_range_ms / 1000));
		return -1;
	}
	if (sp->reason == NULL || sp->reason[strspn(sp->reason, " \t\r\n")] == '\0') {
		refuse(why, 422, "invalid document", NULL, "reason: is required (why, for the audit log)");
		return -1;
	}
	for (int i = 0; i < sp->ncameras; i++) {
		if (check_camera(sp, sp->camera_ids[i], &keep, why) < 0)
			return -1;
		common &= keep;
		if (!recorded_here(sp->camera_ids[i], sp->from_us, sp->to_us)) {
			refuse(why, 422, "nothing recorded", "GET /api/v1/cameras/{id}/recordings lists what is recorded",
			    "camera %lld has no recording on this gateway in the range asked for",
			    (long long)sp->camera_ids[i]);
			return -1;
		}
	}
	if (xjob_queued() >= gw.cfg->export_queue_max) {
		refuse(why, 429, "too many exports waiting", "try again when the queue is shorter",
		    "%d exports are waiting already ([export] queue_max)", gw.cfg->export_queue_max);
		return -1;
	}
	*levels = common;
	return 0;
}

/* --- creating --------------------------------------------------------------------------------------- */

struct create_ctx {
	struct xjob *proto;		/* the job to be, not in the registry yet */
	export_created_cb done;
	void *arg;
};

static void
levels_sql(unsigned keep, char *out, size_t outlen)
{
	snprintf(out, outlen, "{0V%s%s}", keep & EFF_KEEP_METADATA ? ",0M" : "",
	    keep & EFF_KEEP_EVENTS ? ",0E" : "");
}

json_t *
xjob_levels_json(unsigned keep)
{
	json_t *a = json_array();

	json_array_append_new(a, json_string("0V"));
	if (keep & EFF_KEEP_METADATA)
		json_array_append_new(a, json_string("0M"));
	if (keep & EFF_KEEP_EVENTS)
		json_array_append_new(a, json_string("0E"));
	return a;
}

static json_t *
cameras_json(const int64_t *ids, int n)
{
	json_t *a = json_array();

	for (int i = 0; i < n; i++)
		json_array_append_new(a, json_integer(ids[i]));
	return a;
}

static char *
cameras_sql(const int64_t *ids, int n)
{
	size_t cap = (size_t)n * 21 + 3, len = 1;
	char *s = gw_xmalloc(cap);

	s[0] = '{';
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%lld", i ? "," : "", (long long)ids[i]);
	snprintf(s + len, cap - len, "}");
	return s;
}

static void
audit_request(const struct xjob *j)
{
	char a[40], b[40];

	gw_format_time(j->from_us, a, sizeof(a));
	gw_format_time(j->to_us, b, sizeof(b));
	xjob_audit(j, j->actor, "export.request", "ok", j->peer,
	    json_pack("{s:o, s:s, s:s, s:s, s:o, s:s}", "camera_ids", cameras_json(j->cameras, j->ncameras),
	    "from", a, "until", b, "reason", j->reason, "levels", xjob_levels_json(j->keep),
	    "via", xjob_via_name(j->via)));
}

static void
on_inserted(void *arg, PGresult *res, const char *error)
{
	struct create_ctx *cx = arg;
	struct xjob *p = cx->proto, *j;
	struct export_refusal why = { 0 };

	if (error != NULL || PQntuples(res) != 1) {
		log_warn("export for grant %lld not recorded: %s", (long long)p->grant_id,
		    error ? error : "no row");
		refuse(&why, 503, "database unavailable", "retry in a moment",
		    "the export could not be recorded");
		cx->done(cx->arg, 0, &why);
		goto out;
	}
	j = xjob_new(strtoll(PQgetvalue(res, 0, 0), NULL, 10));
	j->authority_id = p->authority_id;
	j->grant_id = p->grant_id;
	j->via = p->via;
	j->keep = p->keep;
	j->from_us = p->from_us;
	j->to_us = p->to_us;
	j->cameras = p->cameras, p->cameras = NULL;
	j->ncameras = p->ncameras;
	j->actor = p->actor, p->actor = NULL;
	j->peer = p->peer, p->peer = NULL;
	j->reason = p->reason, p->reason = NULL;
	j->created_us = gw_wall_us();
	log_info("export %lld asked by %s for %d camera(s): queued", (long long)j->id, j->actor,
	    j->ncameras);
	audit_request(j);
	xjob_update_holds();
	cx->done(cx->arg, j->id, NULL);
	dispatch();
out:
	free(p->cameras);
	free(p->actor);
	free(p->peer);
	free(p->reason);
	free(p);
	free(cx);
}

static void
audit_refusal(const struct export_spec *sp, const struct export_refusal *why)
{
	struct audit_entry e = {
		.actor = sp->actor, .action = "export.request", .outcome = why->policy ? "denied" : "error",
		.authority_id = sp->principal.authority_id, .grant_id = sp->principal.grant_id,
		.camera_id = sp->ncameras == 1 ? sp->camera_ids[0] : 0, .peer = sp->peer,
	};
	json_t *d = json_pack("{s:i, s:s, s:s, s:s}", "status", why->status, "error", why->error,
	    "detail", why->detail, "via", xjob_via_name(sp->via));

	e.detail = d;
	audit_record(&e);
	json_decref(d);
}

void
export_create(const struct export_spec *sp, export_created_cb done, void *arg)
{
	struct export_refusal why;
	struct create_ctx *cx;
	struct xjob *p;
	unsigned keep;
	char a[24], g[24], from[24], to[24], lv[16], *cams;
	const char *params[10];

	if (check_request(sp, &keep, &why) < 0) {
		/* The REST API audits its refusals itself (api_fail); the authorities' paths here. */
		if (sp->via != EXPORT_VIA_API)
			audit_refusal(sp, &why);
		done(arg, 0, &why);
		return;
	}
	p = gw_xcalloc(1, sizeof(*p));
	p->authority_id = sp->principal.authority_id;
	p->grant_id = sp->principal.grant_id;
	p->via = sp->via;
	p->keep = keep;
	p->from_us = sp->from_us;
	p->to_us = sp->to_us;
	p->ncameras = sp->ncameras;
	p->cameras = gw_xcalloc((size_t)sp->ncameras, sizeof(*p->cameras));
	memcpy(p->cameras, sp->camera_ids, (size_t)sp->ncameras * sizeof(*p->cameras));
	p->actor = gw_xstrdup(sp->actor);
	p->peer = gw_xstrdup(sp->peer ? sp->peer : "-");
	p->reason = gw_xstrdup(sp->reason);
	cx = gw_xcalloc(1, sizeof(*cx));
	cx->proto = p;
	cx->done = done;
	cx->arg = arg;
	cams = cameras_sql(sp->camera_ids, sp->ncameras);
	levels_sql(keep, lv, sizeof(lv));
	snprintf(a, sizeof(a), "%lld", (long long)p->authority_id);
	snprintf(g, sizeof(g), "%lld", (long long)p->grant_id);
	snprintf(from, sizeof(from), "%lld", (long long)sp->from_us);
	snprintf(to, sizeof(to), "%lld", (long long)sp->to_us);
	params[0] = audit_node_name(), params[1] = a, params[2] = g, params[3] = p->actor;
	params[4] = xjob_via_name(sp->via), params[5] = p->reason, params[6] = cams;
	params[7] = from, params[8] = to, params[9] = lv;
	db_query("INSERT INTO exports (node, authority_id, grant_id, requested_by, via, reason, camera_ids,"
	    " range_from, range_until, levels) VALUES ($1, $2, $3, $4, $5, $6, $7::bigint[],"
	    " timestamptz 'epoch' + $8::bigint * interval '1 microsecond',"
	    " timestamptz 'epoch' + $9::bigint * interval '1 microsecond', $10::text[]) RETURNING id",
	    10, params, 0, on_inserted, cx);
	free(cams);
}

/* --- running ------------------------------------------------------------------------------------- */

struct row_ctx {
	int64_t id;
	void (*then)(void *arg);
	void *arg;
};

static void
on_row_written(void *arg, PGresult *res, const char *error)
{
	struct row_ctx *rc = arg;

	(void)res;
	if (error != NULL)
		log_warn("export %lld: the exports table was not updated: %s", (long long)rc->id, error);
	if (rc->then != NULL)
		rc->then(rc->arg);
	free(rc);
}

/* UPDATE exports SET <set> WHERE id = $1, with up to 5 more parameters; then |then|, if set. */
static void
set_row_then(int64_t id, const char *set, int n, const char *const *more, void (*then)(void *), void *arg)
{
	char sql[768], ids[24];
	const char *params[6] = { ids };
	struct row_ctx *rc = gw_xcalloc(1, sizeof(*rc));

	rc->id = id;
	rc->then = then;
	rc->arg = arg;
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	snprintf(sql, sizeof(sql), "UPDATE exports SET %s WHERE id = $1", set);
	for (int i = 0; i < n && i < 5; i++)
		params[i + 1] = more[i];
	db_query(sql, n + 1, params, DB_Q_WAIT, on_row_written, rc);
}

void
xjob_set_row(int64_t id, const char *set, int n, const char *const *more)
{
	set_row_then(id, set, n, more, NULL, NULL);
}

/* The job is over here (its run finished, or it never ran): out of the registry. */
static void
job_end(struct xjob *j, const char *state, const char *error)
{
	xjob_tell(j, state, strcmp(state, "done") == 0 ? 1.0 : fraction_of(j), error);
	if (j->run != NULL)
		X.nrunning--;
	xrun_free(j->run);
	j->run = NULL;
	xjob_free(j);
	xjob_update_holds();
	dispatch();
}

void
xjob_fail(struct xjob *j, const char *error)
{
	const char *p[1] = { error };
	char dir[PATH_MAX];

	log_warn("export %lld failed: %s", (long long)j->id, error);
	export_dir_of(j->id, dir, sizeof(dir));
	xpool_remove(dir);	/* what an interrupted run left; a failed run removed its own */
	xjob_set_row(j->id, "state = 'failed', error = $2, finished_at = now()", 1, p);
	xjob_audit(j, NULL, "export.failed", "error", NULL, json_pack("{s:s}", "error", error));
	job_end(j, "failed", error);
}

/* |then| (may be NULL) runs once the row says cancelled. */
static void
job_cancelled(struct xjob *j, void (*then)(void *), void *arg)
{
	log_info("export %lld cancelled", (long long)j->id);
	set_row_then(j->id, "state = 'cancelled', error = 'cancelled', finished_at = now()", 0, NULL, then, arg);
	job_end(j, "cancelled", "cancelled");
}

static void
job_done(struct xjob *j, struct xrun *r)
{
	char *files = json_dumps(r->files, JSON_COMPACT), bytes[24], keep[24];
	const char *p[4] = { files, bytes, r->manifest_sha256, keep };

	snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)r->bytes);
	snprintf(keep, sizeof(keep), "%lld", (long long)gw.cfg->export_keep_ms);
	xjob_set_row(j->id, "state = 'done', error = NULL, finished_at = now(), files = $2::jsonb,"
	    " bytes = $3::bigint, manifest_sha256 = $4,"
	    " expires_at = now() + $5::bigint * interval '1 millisecond'", 4, p);
	log_info("export %lld done: %d file(s), %llu bytes, manifest sha256 %s", (long long)j->id,
	    (int)json_array_size(r->files), (unsigned long long)r->bytes, r->manifest_sha256);
	xjob_audit(j, NULL, "export.finished", "ok", NULL, json_pack("{s:O, s:I, s:s}", "files",
	    r->files, "bytes", (json_int_t)r->bytes, "manifest_sha256", r->manifest_sha256));
	free(files);
	job_end(j, "done", NULL);
}

/* A run came back from its thread. */
static void
on_run_done(struct xrun *r)
{
	struct xjob *j = r->job;

	if (r->remove_only) {
		xrun_free(r);
		return;
	}
	GW_CHECK(j, XJOB_MAGIC);
	if (X.stopping) {
		/* Shutting down: the row stays 'running' and the job is taken up at the next start. */
		X.nrunning--;
		xrun_free(r);
		j->run = NULL;
		xjob_free(j);
		return;
	}
	if (r->ok)
		job_done(j, r);
	else if (r->cancelled || j->cancel_asked)
		job_cancelled(j, NULL, NULL);
	else
		xjob_fail(j, r->error);
}

/* Re-checked when the job starts: the grant may have been revoked while it waited. */
static const char *
still_allowed(const struct xjob *j)
{
	struct gw_principal p = { .grant_id = j->grant_id, .authority_id = j->authority_id };
	struct policy_request rq = { .action = ACT_EXPORT_VIDEO, .now_us = gw_wall_us(),
		.has_footage = true, .footage_start_us = j->from_us, .footage_end_us = j->to_us };

	for (int i = 0; i < j->ncameras; i++) {
		struct policy_decision d = model_authorize(&p, j->cameras[i], &rq);

		if (!d.allow)
			return policy_reason_str(d.reason);
	}
	return NULL;
}

static void
start_run(struct xjob *j, const struct export_events *ev)
{
	char why[200];
	const char *denied;
	struct xrun *r;

	if (j->cancel_asked) {
		job_cancelled(j, NULL, NULL);
		return;
	}
	if ((denied = still_allowed(j)) != NULL) {
		snprintf(why, sizeof(why), "the grant no longer permits this export: %s", denied);
		xjob_fail(j, why);
		return;
	}
	if ((r = xrun_build(j, ev, &X.signer, why, sizeof(why))) == NULL) {
		xjob_fail(j, why);
		return;
	}
	j->run = r;
	j->state = J_RUNNING;
	j->started_us = gw_wall_us();
	j->attempts++;
	X.nrunning++;
	xjob_set_row(j->id, "state = 'running', started_at = now(), attempts = attempts + 1", 0, NULL);
	xjob_audit(j, NULL, "export.start", "ok", NULL, json_pack("{s:i, s:I}", "attempt", j->attempts,
	    "bytes_estimated", (json_int_t)r->est_total));
	log_info("export %lld running (attempt %d, about %llu bytes of recording)", (long long)j->id,
	    j->attempts, (unsigned long long)r->est_total);
	xjob_tell(j, "running", 0, NULL);
	xpool_submit(r);
}

static void
on_events(void *arg, const struct export_events *ev, const char *error)
{
	struct xjob *j;
	char why[300];

	if (X.stopping || (j = xjob_find((int64_t)(intptr_t)arg)) == NULL)
		return;		/* the registry is gone (shutting down) */
	X.npreparing--;
	if (error != NULL) {
		snprintf(why, sizeof(why), "the events of the range could not be read: %s", error);
		xjob_fail(j, why);
		return;
	}
	start_run(j, ev);
}

static void
prepare(struct xjob *j)
{
	j->state = J_PREPARING;
	if (j->keep & EFF_KEEP_EVENTS) {
		X.npreparing++;
		export_events_collect(j->cameras, j->ncameras, j->from_us, j->to_us, on_events,
		    (void *)(intptr_t)j->id);
		return;
	}
	start_run(j, NULL);
}

/* Start queued jobs, oldest first, while a worker is free. */
static void
dispatch(void)
{
	struct xjob *j, *next;

	if (!X.ready || X.stopping)
		return;
	for (j = TAILQ_FIRST(&X.jobs); j != NULL; j = next) {
		next = TAILQ_NEXT(j, link);
		if (X.nrunning + X.npreparing >= gw.cfg->export_workers)
			return;
		if (j->state != J_QUEUED)
			continue;
		if (!X.have_signer) {
			xjob_fail(j, "no signing key is configured ([export] sign_key_file, sign_cert_file)");
			continue;
		}
		prepare(j);
	}
}

void
xjob_dispatch(void)
{
	dispatch();
}

/* --- cancelling ------------------------------------------------------------------------------- */

int
export_cancel(int64_t id, const char *actor, const char *peer, const char *reason, void (*then)(void *),
    void *arg)
{
	struct xjob *j = xjob_find(id);

	if (j == NULL || j->cancel_asked)
		return 1;
	j->cancel_asked = true;
	xjob_audit(j, actor, "export.cancel", "ok", peer, json_pack("{s:s, s:s}", "reason",
	    reason && reason[0] ? reason : "cancelled", "state", j->state == J_RUNNING ? "running" : "queued"));
	if (j->state == J_QUEUED) {
		job_cancelled(j, then, arg);
		return 0;
	}
	if (j->run != NULL)
		atomic_store(&j->run->cancel, true);	/* the thread stops between fragments */
	if (then != NULL)
		then(arg);
	return 0;
}

/* --- one export as the API shows it ------------------------------------------------------------- */

struct get_ctx {
	export_doc_cb cb;
	void *arg;
};

static void
on_got(void *arg, PGresult *res, const char *error)
{
	struct get_ctx *g = arg;
	json_t *doc = NULL;

	if (error == NULL && PQntuples(res) == 1)
		doc = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	g->cb(g->arg, doc, error);
	json_decref(doc);
	free(g);
}

void
export_get(int64_t id, export_doc_cb cb, void *arg)
{
	struct get_ctx *g = gw_xcalloc(1, sizeof(*g));
	char ids[24], *live = export_live_json();
	const char *p[2] = { ids, live };

	g->cb = cb;
	g->arg = arg;
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	db_query("SELECT api_export_json(e, $2::jsonb)::text FROM exports e WHERE id = $1", 2, p, 0,
	    on_got, g);
	free(live);
}

/* --- start and stop ------------------------------------------------------------------------------ */

int
export_init(void)
{
	char why[512] = "";

	X.running = true;
	if (strlen(gw.cfg->export_dir) > XRUN_DIR_MAX - 32) {
		log_error("[export] dir is longer than %d characters", XRUN_DIR_MAX - 32);
		return -1;
	}
	if (gw.cfg->export_sign_key_file[0] == '\0') {
		log_warn("exports are off: no [export] sign_key_file and sign_cert_file are set; "
		    "export requests are refused and waiting exports fail until they are");
	} else if (xsigner_load(gw.cfg->export_sign_key_file, gw.cfg->export_sign_cert_file, &X.signer,
	    why, sizeof(why)) < 0) {
		log_error("exports are off: %s", why);
	} else {
		X.have_signer = true;
		if (why[0] != '\0')
			log_warn("%s", why);
		log_info("exports signed by \"%s\" (RSA %d bits, certificate sha256 %s), written to %s",
		    X.signer.subject, X.signer.bits, X.signer.fingerprint, gw.cfg->export_dir);
	}
	if (xpool_start(gw.cfg->export_workers, on_run_done) < 0) {
		log_error("cannot start the export threads");
		return -1;
	}
	loop_janitor_add(xjob_janitor);
	export_authority_init();
	return 0;
}

void
export_shutdown(void)
{
	struct xjob *j;

	if (!X.running)
		return;
	X.stopping = true;
	TAILQ_FOREACH(j, &X.jobs, link)
		if (j->run != NULL)
			atomic_store(&j->run->cancel, true);
	xpool_stop();		/* delivers the runs back: on_run_done frees them */
	while ((j = TAILQ_FIRST(&X.jobs)) != NULL)
		xjob_free(j);
	if (X.have_signer)
		xsigner_free(&X.signer);
	X.have_signer = false;
	X.running = false;
}
