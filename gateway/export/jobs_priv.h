/*
 * jobs_priv.h - what jobs.c, jobs_build.c and jobs_db.c share on the I/O
 * thread: the registry of the jobs queued and running on this node.
 */
#ifndef GW_EXPORT_JOBS_PRIV_H
#define GW_EXPORT_JOBS_PRIV_H

#include "gateway/export/jobs.h"
#include "gateway/export/jobs_int.h"

#include <jansson.h>

#define XJOB_MAGIC 0x786a6f62U		/* "xjob" */
#define EXPORT_HELD_MAX 1024		/* cameras held at once */
#define EXPORT_HOLDS_PER_CAMERA 256
#define EXPORT_MAX_ATTEMPTS 3		/* runs interrupted by restarts before the job fails */

enum xjob_state {
	J_QUEUED,			/* waiting for a worker */
	J_PREPARING,			/* its events are being read */
	J_RUNNING,			/* its run is on a thread */
};

/* A job of the registry: queued, preparing or running on this node. */
struct xjob {
	uint32_t magic;
	int64_t id;
	enum xjob_state state;
	int64_t authority_id, grant_id;
	enum export_via via;
	unsigned keep;			/* EFF_KEEP_* the files carry */
	int64_t from_us, to_us;
	int64_t *cameras;
	int ncameras;
	char *actor, *peer, *reason;
	int attempts;			/* runs started, this one included */
	int64_t created_us, started_us;	/* wall clock */
	bool cancel_asked;
	struct xrun *run;		/* J_RUNNING: on a thread */
	TAILQ_ENTRY(xjob) link;
};

TAILQ_HEAD(xjob_list, xjob);

struct xstate {
	bool running, stopping;
	bool ready;			/* the jobs of this node were read from the table */
	bool recovering;
	bool have_signer;
	struct xsigner signer;
	struct xjob_list jobs;		/* in id order */
	int njobs, nrunning, npreparing;
	int64_t held[EXPORT_HELD_MAX];	/* cameras with holds now */
	int nheld;
	int64_t last_expiry_us, last_tell_us;	/* monotonic */
	bool expiring;
	void (*observers[4])(const struct export_status *st);
	int nobservers;
};

extern struct xstate X;

const char *xjob_via_name(enum export_via v);
struct xjob *xjob_find(int64_t id);
/* A new job in the registry (queued); the caller fills it. */
struct xjob *xjob_new(int64_t id);
int xjob_queued(void);
void xjob_update_holds(void);
/* An audit row about |j| (export_id added to |detail|, which is taken). */
void xjob_audit(const struct xjob *j, const char *actor, const char *action, const char *outcome,
    const char *peer, json_t *detail);
/* UPDATE exports SET |set| WHERE id = $1, with |n| more parameters $2... */
void xjob_set_row(int64_t id, const char *set, int n, const char *const *more);
/* The job failed (before or during its run): row, audit, out of the registry. */
void xjob_fail(struct xjob *j, const char *error);
void xjob_tell(const struct xjob *j, const char *state, double fraction, const char *error);
json_t *xjob_levels_json(unsigned keep);
void xjob_dispatch(void);

/* jobs_build.c: what the thread needs, from the model, the recorder and the events; NULL with |why|. */
struct xrun *xrun_build(struct xjob *j, const struct export_events *ev, const struct xsigner *signer,
    char *why, size_t whylen);

/* jobs_db.c */
void xjob_janitor(int64_t now_us);

#endif
