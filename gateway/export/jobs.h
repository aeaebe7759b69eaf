/*
 * jobs.h - signed evidence exports as jobs: who may ask for one, the queue,
 * the worker threads that write them, progress, cancellation, a restart in
 * the middle, the files kept for [export] keep, and the chain of custody
 * in the audit log. What asks: the REST API (api/exports.c, an
 * administrator for an authority), the authorities' endpoint
 * (authority.c) and ONVIF Recording Control (onvif/recording.c).
 *
 * An export names one grant (the authority's), cameras, a range [from,
 * until) and a reason. It is checked against that grant's policy when it
 * is asked for: every camera in scope, the range inside the footage
 * window (a range that reaches outside it is refused, not clipped: the
 * range is part of the evidence's record, and a shorter file than the one
 * asked for must never look like it), level 0V at least. The grant's
 * levels decide what the files carry: 0V video and audio, 0M also the
 * metadata track, 0E also the events (export_events_collect()).
 *
 * The result, under [export] dir/<id>/:
 *   camera-<cam>.mp4     one signed EFF file per camera (eff.h)
 *   camera-<cam>.json    its sidecar
 *   manifest.json        the export's record: files with size and SHA-256,
 *                        range, grant, authority, reason, who asked, the
 *                        exporter, the time, the signer's certificate
 *   manifest.json.sig    RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 20) over
 *                        manifest.json's bytes, with the exports' key
 *   signer.pem           the signing certificate and its chain
 * Files appear under their names only when written whole; the row says
 * 'done' only once all of them are there, so nothing half-written is
 * offered.
 *
 *   queued --(a worker is free)--> running --> done --([export] keep)--> expired
 *      \                              \-----> failed | cancelled
 *       `--(cancel)--> cancelled
 *
 * A job found 'running' at start-up was interrupted by the restart: it is
 * queued again (its partial files removed), or marked failed when it was
 * interrupted twice. Segments a queued or running export needs are held
 * against the recorder's retention (recorder_hold()).
 *
 * Threads: everything here is for the I/O thread; the files are written on
 * the export's own threads ([export] workers), which touch only their job.
 * Return convention: gateway/ (see gw.h).
 */
#ifndef GW_EXPORT_JOBS_H
#define GW_EXPORT_JOBS_H

#include "gateway/gw.h"
#include "gateway/model.h"
#include "gateway/policy.h"

struct json_t;

#define EXPORT_MAX_CAMERAS 256
#define EXPORT_TOKEN_PREFIX "export-"	/* ONVIF OperationToken: "export-<id>" */

enum export_via {
	EXPORT_VIA_API,			/* an administrator, for an authority */
	EXPORT_VIA_AUTHORITY,		/* the authority, on its endpoint */
	EXPORT_VIA_ONVIF,		/* the authority, ExportRecordedData */
};

/* What is asked for. The strings and the array are the caller's. */
struct export_spec {
	struct gw_principal principal;	/* the grant it is made under (an admin's: grant and authority only) */
	enum export_via via;
	const char *actor;		/* "admin:alice", "grant:17:u1234" */
	const char *peer;
	const char *reason;
	const int64_t *camera_ids;
	int ncameras;
	int64_t from_us, to_us;		/* [from, to), wall clock */
};

/* Why a request is refused: an HTTP status, the API's error, detail and hint. */
struct export_refusal {
	int status;			/* 403, 404, 409, 422, 429, 503 */
	const char *error;
	char detail[320];
	const char *hint;
	bool policy;			/* a policy denial (ONVIF: ter:NotAuthorized) */
};

/*
 * Create the export: the checks above, then the row and its audit record
 * (export.request), then the queue. |done| runs later, once, with the new
 * export's id, or with 0 and the refusal.
 */
typedef void (*export_created_cb)(void *arg, int64_t id, const struct export_refusal *why);
void export_create(const struct export_spec *sp, export_created_cb done, void *arg);

/*
 * Cancel export |id| if it is queued or running on this node: returns 0
 * (cancelled now if queued; a running one stops between fragments), 1
 * when it is not waiting or running here (finished, failed or unknown).
 * Audited as export.cancel by |actor|. On 0, |then| (may be NULL) runs
 * once the table says what became of it (cancelled, or still running
 * until its thread stops), so that a read after it sees that; on 1 it is
 * not called.
 */
int export_cancel(int64_t id, const char *actor, const char *peer, const char *reason,
    void (*then)(void *arg), void *arg);

/*
 * One export as the API shows it (api_export_json with this node's live
 * progress), or NULL when there is none: |cb| gets a borrowed document,
 * valid during the call, or an error text when the database cannot say.
 */
typedef void (*export_doc_cb)(void *arg, struct json_t *doc, const char *error);
void export_get(int64_t id, export_doc_cb cb, void *arg);

/* {"<id>": {"percent", "bytes", "bytes_total", "eta"}} of the jobs running here; allocated. */
char *export_live_json(void);
/* The progress of export |id| running here, 0..1; false when it is not running here. */
bool export_progress(int64_t id, double *fraction);

/*
 * What happens to exports, for those who tell others (ONVIF's
 * AsynchronousOperationStatus events): each change of state and, while
 * one runs, its progress once a second. |st| is valid during the call.
 */
struct export_status {
	int64_t id, authority_id, grant_id;
	enum export_via via;
	const char *state;		/* "running", "done", "failed", "cancelled" */
	double fraction;		/* 0..1 */
	const char *error;		/* failed: why; else NULL */
	const int64_t *camera_ids;
	int ncameras;
};
void export_on_status(void (*fn)(const struct export_status *st));

/* The folder of export |id|'s files, "<[export] dir>/<id>". */
void export_dir_of(int64_t id, char *out, size_t outlen);
/* Is this a file name an export writes (no path, no dot file)? */
bool export_file_name_ok(const char *name);

/* Delete the finished exports whose expires_at has come at the next janitor pass (not in 10 s). */
void export_expire_soon(void);

/* May exports be made (a signing key is loaded)? */
bool export_enabled(void);

int export_init(void) GW_MUSTCHECK;
/* authority.c: the routes of /authority/v1/exports (export_init() calls it). */
void export_authority_init(void);
/* The database is ready (start-up, and after each reconnection): take up the jobs of this node. */
void export_on_ready(void);
/* Stop: running jobs are cancelled, their threads joined; they stay 'running' in the table
 * and are taken up at the next start. */
void export_shutdown(void);

/* --- the events of level 0E (xevents.c) --------------------------------------------------- */

/*
 * The events of |camera_ids| in [from, to), for the 0E track and the
 * sidecars. Today: the recording gaps of recording_segments (the recording
 * stopped and started again, with the reason; a lost source also as
 * tns1:VideoSource/SignalLoss) and the configuration changes of the camera
 * in the audit log. Other authorities' sessions are not events of the
 * camera and are never included. A persisted events table (camera events
 * of the hand-over work) is one more source for this one function.
 *
 * |cb| gets, per camera in the order asked, an array of events in time
 * order (borrowed for the call; its strings too), or an error text.
 */
struct eff_event;
struct export_events {
	int ncameras;
	struct eff_event **events;	/* [camera] */
	int *nevents;
};
typedef void (*export_events_cb)(void *arg, const struct export_events *ev, const char *error);
void export_events_collect(const int64_t *camera_ids, int n, int64_t from_us, int64_t to_us,
    export_events_cb cb, void *arg);

#endif
