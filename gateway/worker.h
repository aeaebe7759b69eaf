/*
 * worker.h - a pool of threads for blocking or heavy work, with a completion
 * queue back to the I/O thread.
 *
 * A job is owned by the pool from worker_submit() until its done() callback
 * runs on the I/O thread; done() takes the ownership back (and usually frees
 * the job). run() executes on a worker thread and may only touch the job.
 */
#ifndef GW_WORKER_H
#define GW_WORKER_H

#include "gw.h"

struct worker_job {
	void (*run)(struct worker_job *job);	/* worker thread */
	void (*done)(struct worker_job *job);	/* I/O thread, after run() */
	TAILQ_ENTRY(worker_job) link;
};

int worker_pool_start(int nthreads) GW_MUSTCHECK;
/* Finish queued jobs, join the threads and deliver the remaining completions. */
void worker_pool_stop(void);
void worker_submit(struct worker_job *job);
/* Jobs queued or running, for /metrics. */
int worker_pending(void);

#endif
