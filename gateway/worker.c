/*
 * worker.c - thread pool (see worker.h).
 *
 * Two lists under one mutex: |todo| (jobs waiting for a thread) and |done|
 * (jobs whose run() finished). A finished job wakes the loop with
 * event_active(), which libevent makes thread-safe once evthread_use_pthreads()
 * has been called (main.c does it before creating the base).
 */
#include "gw.h"
#include "log.h"
#include "worker.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>

TAILQ_HEAD(job_list, worker_job);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct job_list todo = TAILQ_HEAD_INITIALIZER(todo);
static struct job_list done = TAILQ_HEAD_INITIALIZER(done);
static pthread_t *threads;
static int nthreads_started;
static bool stopping;
static int pending;
static struct event *done_ev;

static void *
worker_main(void *arg)
{
	struct worker_job *job;

	pthread_mutex_lock(&lock);
	for (;;) {
		while (TAILQ_EMPTY(&todo) && !stopping)
			pthread_cond_wait(&wake, &lock);
		job = TAILQ_FIRST(&todo);
		if (job == NULL)
			break;
		TAILQ_REMOVE(&todo, job, link);
		pthread_mutex_unlock(&lock);

		job->run(job);

		pthread_mutex_lock(&lock);
		TAILQ_INSERT_TAIL(&done, job, link);
		event_active(done_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* Runs on the I/O thread: hand each finished job back to its owner. */
static void
deliver_completions(evutil_socket_t fd, short what, void *arg)
{
	struct job_list ready = TAILQ_HEAD_INITIALIZER(ready);
	struct worker_job *job;

	pthread_mutex_lock(&lock);
	TAILQ_CONCAT(&ready, &done, link);
	pthread_mutex_unlock(&lock);
	while ((job = TAILQ_FIRST(&ready)) != NULL) {
		TAILQ_REMOVE(&ready, job, link);
		pending--;
		job->done(job);
	}
}

int
worker_pool_start(int nthreads)
{
	done_ev = event_new(gw.base, -1, 0, deliver_completions, NULL);
	if (done_ev == NULL)
		return -1;
	threads = gw_xcalloc((size_t)nthreads, sizeof(*threads));
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&threads[i], NULL, worker_main, NULL) != 0) {
			log_error("cannot start worker thread %d", i);
			worker_pool_stop();
			return -1;
		}
		nthreads_started++;
	}
	return 0;
}

void
worker_pool_stop(void)
{
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < nthreads_started; i++)
		pthread_join(threads[i], NULL);
	nthreads_started = 0;
	free(threads);
	threads = NULL;
	if (done_ev) {
		deliver_completions(-1, 0, NULL);
		event_free(done_ev);
		done_ev = NULL;
	}
}

void
worker_submit(struct worker_job *job)
{
	pending++;
	pthread_mutex_lock(&lock);
	TAILQ_INSERT_TAIL(&todo, job, link);
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
}

int
worker_pending(void)
{
	return pending;
}
