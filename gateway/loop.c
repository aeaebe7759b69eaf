/* loop.c - main loop, janitor and deferred work (see loop.h). */
#include "gw.h"
#include "log.h"
#include "loop.h"

#include <event2/event.h>

#define JANITOR_MAX_TASKS 32

TAILQ_HEAD(deferred_list, loop_deferred);

static struct deferred_list deferred = TAILQ_HEAD_INITIALIZER(deferred);
static struct event *janitor_ev;
static void (*janitor_tasks[JANITOR_MAX_TASKS])(int64_t);
static int janitor_ntasks;

static void
janitor_cb(evutil_socket_t fd, short what, void *arg)
{
	int64_t now;

	gw_time_refresh();
	now = gw_mono_us();
	for (int i = 0; i < janitor_ntasks; i++)
		janitor_tasks[i](now);
}

int
loop_init(void)
{
	struct timeval tv = { 0, JANITOR_INTERVAL_MS * 1000 };

	janitor_ev = event_new(gw.base, -1, EV_PERSIST, janitor_cb, NULL);
	if (janitor_ev == NULL || event_add(janitor_ev, &tv) < 0) {
		log_error("cannot start the janitor timer");
		return -1;
	}
	return 0;
}

void
loop_shutdown(void)
{
	if (janitor_ev)
		event_free(janitor_ev);
	janitor_ev = NULL;
}

void
loop_janitor_add(void (*tick)(int64_t))
{
	if (janitor_ntasks == JANITOR_MAX_TASKS)
		gw_fatal_check(__FILE__, __LINE__, "free janitor slot");
	janitor_tasks[janitor_ntasks++] = tick;
}

void
loop_defer(struct loop_deferred *d, void (*fn)(void *), void *arg)
{
	if (d->queued)
		return;
	d->fn = fn;
	d->arg = arg;
	d->queued = true;
	TAILQ_INSERT_TAIL(&deferred, d, link);
}

void
loop_defer_cancel(struct loop_deferred *d)
{
	if (!d->queued)
		return;
	TAILQ_REMOVE(&deferred, d, link);
	d->queued = false;
}

/* Deferred functions may queue more deferred work; run until none is left. */
static void
run_deferred(void)
{
	struct loop_deferred *d;

	while ((d = TAILQ_FIRST(&deferred)) != NULL) {
		TAILQ_REMOVE(&deferred, d, link);
		d->queued = false;
		d->fn(d->arg);
	}
}

void
loop_run(void)
{
	while (!gw.quit) {
		gw_time_refresh();
		if (event_base_loop(gw.base, EVLOOP_ONCE) < 0) {
			log_error("the event loop failed");
			gw.exit_code = 1;
			break;
		}
		run_deferred();
	}
	run_deferred();
}

void
loop_run_deferred_once(void)
{
	run_deferred();
}
