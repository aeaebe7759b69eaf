/*
 * snapshot.c - GET /onvif/snapshot/<profile token>: the JPEG that
 * GetSnapshotUri points to.
 *
 * HTTP Digest (or Basic over TLS) identifies the caller; the profile must
 * be one of its view with video, and its grant must permit snapshots
 * (ACT_SNAPSHOT). The picture is the camera's newest keyframe in the hub's
 * GOP cache, depacketized, decoded and encoded to JPEG on a worker thread
 * (snapshot_codec.c). One JPEG per camera is kept and shared by the
 * fetches that follow, until a newer keyframe is cached (or
 * snapshot_max_age passes); fetches that arrive while one is being made
 * wait for it. Asking for the source starts it if it is not running, so
 * the first snapshot of an idle camera waits for it to connect (bounded by
 * describe_timeout); it then idles out like any other source.
 */
#include "gateway/gw.h"
#include "gateway/audit.h"
#include "gateway/authn.h"
#include "gateway/config.h"
#include "gateway/conn.h"
#include "gateway/http.h"
#include "gateway/log.h"
#include "gateway/loop.h"
#include "gateway/worker.h"
#include "gateway/media/hub.h"
#include "gateway/media/snapshot.h"
#include "gateway/media/source.h"
#include "gateway/onvif/onvif.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAP_PATH "/onvif/snapshot/"
#define KEYFRAME_RETRY_US 40000	/* a source that is up but has no whole keyframe cached yet */
#define KEYFRAME_PIECES_MAX 512		/* frames a keyframe may come in (an adapter hands slices over) */

struct snap_jpeg {
	int refcnt;
	size_t len;
	uint8_t data[];
};

struct snap_waiter {
	struct http_request *http;
	int64_t deadline_us;		/* monotonic */
	TAILQ_ENTRY(snap_waiter) link;
};

struct snap_cam {
	int64_t camera_id;
	struct snap_jpeg *jpeg;		/* the last one made, or NULL */
	bool has_key;
	uint16_t key_seq;		/* the keyframe it was made from */
	uint32_t key_ts;
	int64_t made_us;		/* monotonic */
	int64_t used_us;
	struct source_wait *wait;	/* the source is being described */
	bool busy;			/* a lookup or a job is under way */
	int64_t retry_at_us;		/* 0, or when to look for a keyframe again */
	TAILQ_HEAD(, snap_waiter) waiters;
	TAILQ_ENTRY(snap_cam) link;
};

struct snap_job {
	struct worker_job job;
	int64_t camera_id;
	uint16_t key_seq;
	uint32_t key_ts;
	int64_t started_us;
	struct snap_input in;
	struct snap_output out;
};

struct snap_fetch {			/* a request between authentication and the store */
	struct http_request *http;
	struct gw_principal principal;
	char token[72];
};

static TAILQ_HEAD(, snap_cam) cams = TAILQ_HEAD_INITIALIZER(cams);
static int jobs_running;
static bool stopping;
static uint64_t made, shared;

static void lookup(struct snap_cam *sc);

/* --- answering ------------------------------------------------------------------------- */

static void
jpeg_unref(struct snap_jpeg *j)
{
	if (j != NULL && --j->refcnt == 0)
		free(j);
}

static void
answer_all(struct snap_cam *sc, int status, const char *error)
{
	struct snap_waiter *w;

	while ((w = TAILQ_FIRST(&sc->waiters)) != NULL) {
		TAILQ_REMOVE(&sc->waiters, w, link);
		if (status == 200) {
			http_add_header(w->http, "Cache-Control", "no-store");
			http_respond(w->http, 200, "image/jpeg", sc->jpeg->data, sc->jpeg->len);
		} else {
			http_respond_error(w->http, status, error, NULL, NULL);
		}
		free(w);
	}
}

static struct snap_cam *
cam_get(int64_t camera_id)
{
	struct snap_cam *sc;

	TAILQ_FOREACH(sc, &cams, link)
		if (sc->camera_id == camera_id)
			return sc;
	sc = gw_xcalloc(1, sizeof(*sc));
	sc->camera_id = camera_id;
	TAILQ_INIT(&sc->waiters);
	TAILQ_INSERT_TAIL(&cams, sc, link);
	return sc;
}

/* --- making one ------------------------------------------------------------------------- */

static void
job_run(struct worker_job *job)
{
	struct snap_job *j = (struct snap_job *)job;

	snap_encode(&j->in, &j->out);
}

static void
job_done(struct worker_job *job)
{
	struct snap_job *j = (struct snap_job *)job;
	struct snap_cam *sc = cam_get(j->camera_id);

	jobs_running--;
	sc->busy = false;
	if (j->out.jpeg != NULL) {
		jpeg_unref(sc->jpeg);
		sc->jpeg = gw_xmalloc(sizeof(*sc->jpeg) + j->out.len);
		sc->jpeg->refcnt = 1;
		sc->jpeg->len = j->out.len;
		memcpy(sc->jpeg->data, j->out.jpeg, j->out.len);
		sc->has_key = true;
		sc->key_seq = j->key_seq;
		sc->key_ts = j->key_ts;
		sc->made_us = gw_mono_us();
		made++;
		if (j->out.width > 0)
			view_note_picture(j->camera_id, j->out.width, j->out.height);
		log_debug("snapshot of camera %lld: %dx%d, %zu bytes in %.1f ms", (long long)j->camera_id,
		    j->out.width, j->out.height, j->out.len, (double)(gw_mono_now_us() - j->started_us) / 1000.0);
		answer_all(sc, 200, NULL);
	} else {
		log_warn("snapshot of camera %lld failed: %s", (long long)j->camera_id, j->out.why);
		answer_all(sc, 502, "the camera's picture could not be turned into a JPEG");
	}
	free(j->out.jpeg);
	free(j->in.pkts);
	free(j);
}



/* The worker gets its own copy of the keyframe's pieces, back to back. */
static void
start_job(struct snap_cam *sc, struct hub *hub, int track, struct media_frame **pieces, int n)
{
	struct snap_job *j = gw_xcalloc(1, sizeof(*j));
	const struct adapter_track *t = hub_track(hub, track);
	size_t len = 0;

	for (int i = 0; i < n; i++)
		len += pieces[i]->len;
	j->job.run = job_run;
	j->job.done = job_done;
	j->camera_id = sc->camera_id;
	j->key_seq = pieces[0]->first_seq;
	j->key_ts = pieces[0]->rtp_ts;
	j->started_us = gw_mono_now_us();
	snprintf(j->in.encoding, sizeof(j->in.encoding), "%s", t->encoding);
	snprintf(j->in.fmtp, sizeof(j->in.fmtp), "%s", t->fmtp);
	j->in.quality = gw.cfg->onvif_snapshot_quality;
	j->in.pkts = gw_xmalloc(len);
	for (int i = 0; i < n; i++) {
		memcpy(j->in.pkts + j->in.len, pieces[i]->data, pieces[i]->len);
		j->in.len += pieces[i]->len;
	}
	jobs_running++;
	worker_submit(&j->job);
}

static void
unref_all(struct media_frame **pieces, int n)
{
	for (int i = 0; i < n; i++)
		media_frame_unref(pieces[i]);
}

/* The source is described: share the JPEG of its newest keyframe, or make it. */
static void
source_ready(void *arg, struct hub *hub, const char *error)
{
	struct snap_cam *sc = arg;
	struct media_frame *pieces[KEYFRAME_PIECES_MAX];
	bool complete;
	int track, n;

	sc->wait = NULL;
	if (hub == NULL || (track = hub_video_track(hub)) < 0) {
		sc->busy = false;
		answer_all(sc, 503, hub == NULL ? "the camera is not available" : "the camera sends no video");
		return;
	}
	n = hub_keyframe_unit(hub, track, pieces, KEYFRAME_PIECES_MAX, &complete);
	if (n == 0 || !complete) {
		/* None cached yet, or still arriving: the janitor looks again. */
		unref_all(pieces, n);
		sc->retry_at_us = gw_mono_us() + KEYFRAME_RETRY_US;
		return;
	}
	if (sc->jpeg != NULL && sc->has_key && sc->key_seq == pieces[0]->first_seq &&
	    sc->key_ts == pieces[0]->rtp_ts &&
	    gw_mono_us() - sc->made_us <= gw.cfg->onvif_snapshot_max_age_ms * 1000) {
		sc->busy = false;
		shared++;
		answer_all(sc, 200, NULL);
	} else if (jobs_running >= gw.cfg->onvif_snapshot_max_jobs) {
		sc->busy = false;
		answer_all(sc, 503, "too many snapshots are being made; try again");
	} else {
		start_job(sc, hub, track, pieces, n);
	}
	unref_all(pieces, n);
}

static void
lookup(struct snap_cam *sc)
{
	sc->busy = true;
	sc->retry_at_us = 0;
	sc->wait = source_get(sc->camera_id, source_ready, sc);
}

static void
fetch(int64_t camera_id, struct http_request *http)
{
	struct snap_cam *sc = cam_get(camera_id);
	struct snap_waiter *w = gw_xcalloc(1, sizeof(*w));

	w->http = http;
	w->deadline_us = gw_mono_us() + gw.cfg->describe_timeout_ms * 1000;
	TAILQ_INSERT_TAIL(&sc->waiters, w, link);
	sc->used_us = gw_mono_us();
	if (!sc->busy)
		lookup(sc);
}

/* --- the request --------------------------------------------------------------------- */

static void
audit_snapshot(const struct snap_fetch *f, int64_t camera_id)
{
	char actor[96];
	json_t *detail = json_pack("{s:s}", "profile", f->token);
	struct audit_entry e = {
		.actor = actor, .action = "onvif.snapshot", .outcome = "ok",
		.authority_id = f->principal.authority_id, .grant_id = f->principal.grant_id,
		.camera_id = camera_id, .peer = f->http->peer, .detail = detail,
	};

	snprintf(actor, sizeof(actor), "grant:%lld:%s", (long long)f->principal.grant_id,
	    f->principal.username);
	audit_record(&e);
	json_decref(detail);
}

static void
authorized(void *arg, struct authority_store *st, const char *error)
{
	struct snap_fetch *f = arg;
	struct authority_store empty = { .authority_id = f->principal.authority_id };
	struct onvif_view v;
	struct onvif_profile p;
	const struct view_cam *vc;

	/* The store unreadable (database down): the fixed profiles still give their snapshots. */
	if (error != NULL)
		st = &empty;
	if (view_build(&f->principal, &v) < 0) {
		http_respond_error(f->http, 503, "the gateway's storage is unavailable", NULL, NULL);
		free(f);
		return;
	}
	if (!view_profile(&v, st, f->token, &p) || (vc = view_find(&v, p.camera_id)) == NULL) {
		http_respond_error(f->http, 404, "no such profile", NULL, NULL);
	} else if (!(p.cfgs & CFG_BIT(CFG_VIDEO_ENCODER)) || !(vc->caps & CAP_SNAPSHOT)) {
		authn_audit_denied("snapshot", f->http->conn ? f->http->conn->ident : f->http->peer,
		    f->http->peer, &f->principal, p.camera_id, "snapshot",
		    "the grant permits no snapshot of this profile");
		http_respond_error(f->http, 403, "the grant permits no snapshot of this profile", NULL, NULL);
	} else {
		audit_snapshot(f, p.camera_id);
		fetch(p.camera_id, f->http);
	}
	view_free(&v);
	free(f);
}

static bool
token_ok(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
		    (t[i] >= '0' && t[i] <= '9') || t[i] == '_' || t[i] == '-' || t[i] == '.'))
			return false;
	return true;
}

/* Who asks, through the one authenticator: HTTP Digest, or Basic over TLS. */
static bool
authenticate(struct http_request *http, struct gw_principal *p)
{
	struct authn_outcome o;
	struct authn_request ar = {
		.protocol = "snapshot", .method = http->method, .target = http->target,
		.authorization = http_header_get(http, "Authorization"),
		.nauthorization = http_header_get(http, "Authorization") ? 1 : 0,
		.tls = http->conn != NULL && http->conn->tls, .peer = http->peer,
		.ident = http->conn ? http->conn->ident : http->peer,
	};
	char retry[16];

	authn_check(&ar, &o);
	switch (o.result) {
	case AUTHN_OK:
		*p = o.principal;
		return true;
	case AUTHN_MALFORMED:
		http_respond_error(http, 400, "malformed credentials", NULL, NULL);
		return false;
	case AUTHN_LIMITED:
		snprintf(retry, sizeof(retry), "%d", o.retry_after_s);
		http_add_header(http, "Retry-After", retry);
		http_respond_error(http, 429, "too many failed logins", "wait before trying again", NULL);
		return false;
	default:
		authn_http_challenges(http, NULL, o.stale);
		http_respond_error(http, 401, "authentication required", NULL,
		    "HTTP Digest, or Basic over TLS, with the grant's credentials");
		return false;
	}
}

static void
snapshot_get(struct http_request *http)
{
	const char *token = http->path + strlen(SNAP_PATH);
	struct snap_fetch *f;
	struct gw_principal p;

	if (!token_ok(token)) {
		http_respond_error(http, 404, "no such profile", NULL, NULL);
		return;
	}
	if (!authenticate(http, &p))
		return;
	f = gw_xcalloc(1, sizeof(*f));
	f->http = http;
	f->principal = p;
	snprintf(f->token, sizeof(f->token), "%s", token);
	onvif_store_with(p.authority_id, authorized, f);
}

/* --- timeouts, life -------------------------------------------------------------------- */

static void
expire_waiters(struct snap_cam *sc, int64_t now)
{
	struct snap_waiter *w, *next;

	for (w = TAILQ_FIRST(&sc->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, link);
		if (now < w->deadline_us && !stopping)
			continue;
		TAILQ_REMOVE(&sc->waiters, w, link);
		http_respond_error(w->http, 503, "no picture from the camera in time", NULL, NULL);
		free(w);
	}
}

static void
janitor(int64_t now)
{
	struct snap_cam *sc, *next;

	for (sc = TAILQ_FIRST(&cams); sc != NULL; sc = next) {
		next = TAILQ_NEXT(sc, link);
		if (sc->retry_at_us != 0 && now >= sc->retry_at_us && !TAILQ_EMPTY(&sc->waiters))
			lookup(sc);
		expire_waiters(sc, now);
		if (TAILQ_EMPTY(&sc->waiters) && sc->busy && sc->wait != NULL) {
			source_wait_cancel(sc->wait);	/* nobody waits for this source any more */
			sc->wait = NULL;
			sc->busy = false;
		}
		if (TAILQ_EMPTY(&sc->waiters) && sc->retry_at_us != 0 && !sc->wait) {
			sc->retry_at_us = 0;
			sc->busy = false;
		}
		if (!sc->busy && TAILQ_EMPTY(&sc->waiters) &&
		    now - sc->used_us > 10 * gw.cfg->onvif_snapshot_max_age_ms * 1000 + 10000000) {
			TAILQ_REMOVE(&cams, sc, link);
			jpeg_unref(sc->jpeg);
			free(sc);
		}
	}
}

int
onvif_snapshot_init(void)
{
	loop_janitor_add(janitor);
	http_route("GET", SNAP_PATH, true, snapshot_get);
	return 0;
}

void
onvif_snapshot_stop(void)
{
	struct snap_cam *sc;

	stopping = true;
	TAILQ_FOREACH(sc, &cams, link) {
		if (sc->wait != NULL)
			source_wait_cancel(sc->wait);
		sc->wait = NULL;
		expire_waiters(sc, gw_mono_us());
	}
}

void
onvif_snapshot_shutdown(void)
{
	struct snap_cam *sc;

	while ((sc = TAILQ_FIRST(&cams)) != NULL) {
		TAILQ_REMOVE(&cams, sc, link);
		jpeg_unref(sc->jpeg);
		free(sc);
	}
	log_debug("snapshots: %llu made, %llu shared", (unsigned long long)made, (unsigned long long)shared);
}
