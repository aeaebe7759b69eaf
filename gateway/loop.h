/*
 * loop.h - the main loop, the one janitor timer and deferred work.
 *
 * The main loop runs one libevent pass at a time and, after each pass, runs
 * the deferred list: objects closed during the pass (connections, sessions)
 * are freed there, never inside their own callbacks.
 *
 * The janitor is a single EV_PERSIST timer. Modules register a tick function
 * once; it is called every JANITOR_INTERVAL_MS to look for timeouts in their
 * own lists, instead of arming a timer per object.
 */
#ifndef GW_LOOP_H
#define GW_LOOP_H

#include "gw.h"

#define JANITOR_INTERVAL_MS 200

struct loop_deferred {
	void (*fn)(void *arg);
	void *arg;
	bool queued;
	TAILQ_ENTRY(loop_deferred) link;
};

int loop_init(void) GW_MUSTCHECK;
void loop_shutdown(void);

/* Run until gw.quit is set. */
void loop_run(void);
/* Run what is on the deferred list now (shutdown). */
void loop_run_deferred_once(void);

/* Queue |d| to run after the current loop pass; a no-op if already queued. */
void loop_defer(struct loop_deferred *d, void (*fn)(void *), void *arg);
void loop_defer_cancel(struct loop_deferred *d);

/* Register a function called by the janitor; |now_us| is the monotonic clock. */
void loop_janitor_add(void (*tick)(int64_t now_us));

#endif
