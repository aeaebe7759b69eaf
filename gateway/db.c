/*
 * db.c - asynchronous PostgreSQL (see db.h).
 *
 * Each pooled connection is a small state machine:
 *
 *   DBC_WAIT_RETRY --(timer)--> DBC_CONNECTING --(PQconnectPoll ok)--> DBC_READY
 *   DBC_READY --(send query)--> DBC_BUSY --(all results read)--> DBC_READY
 *   any --(error, timeout)--> DBC_WAIT_RETRY (backoff with jitter)
 *
 * libpq is driven by socket readiness: PQconnectPoll while connecting,
 * PQflush until the query is sent, then PQconsumeInput / PQisBusy /
 * PQgetResult. The socket is fetched again after each connect step, because
 * libpq may open a new one (several hosts, SSL retry).
 *
 * Reconnecting: a server that answers (the connection is refused, it is
 * starting up or shutting down) is retried at least every
 * DB_ANSWERED_RETRY_MAX_MS, because it is about to be back and trying costs
 * nothing; only attempts that get no answer at all (they time out) back off
 * up to [database] reconnect_max_delay. The first connection that gets
 * through calls the others back at once, so the pool is whole again
 * within a moment of the server's return.
 */
#include "gw.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "loop.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_POOL_SIZE   4
#define DB_MAX_LISTEN  8
#define DB_MAX_PREPARED 64
#define DB_ANSWERED_RETRY_MAX_MS 1000	/* longest delay while the server answers attempts */
#define DB_ANSWER_US (1000 * 1000)	/* an attempt that failed faster than this got an answer */

enum dbc_state {
	DBC_OFF,		/* not started (pool member before the gate opens) */
	DBC_WAIT_RETRY,		/* disconnected; reconnect at retry_at_us */
	DBC_CONNECTING,
	DBC_READY,
	DBC_BUSY,
};

struct db_req {
	char *sql;
	int nparams;
	char *params[DB_MAX_PARAMS];
	unsigned flags;
	db_result_cb cb;
	void *arg;
	bool internal;		/* LISTEN set-up of one connection */
	bool preparing;		/* DB_Q_PREPARE: the PREPARE is in flight, the query follows */
	uint64_t key;		/* DB_Q_PREPARE: hash of the SQL text, names the statement */
	int64_t sent_us;
	PGresult *result;	/* last result so far */
	char *error;		/* first error so far */
	struct db_error fields;	/* of the first server error */
	TAILQ_ENTRY(db_req) link;
};

TAILQ_HEAD(req_list, db_req);

struct db_conn {
	int index;
	enum dbc_state state;
	PGconn *pg;
	int fd;
	struct event *ev_read;
	struct event *ev_write;
	struct db_req *cur;
	struct db_req *setup;		/* internal request sent before any queued one */
	int64_t since_us;		/* entered the current state */
	int64_t retry_at_us;
	int64_t backoff_ms;
	uint64_t prepared[DB_MAX_PREPARED];	/* statements prepared on this connection */
	int nprepared;
	char ident[16];
};

struct listen_entry {
	char *channel;
	void (*cb)(const char *payload);
};

static struct db_conn pool[DB_POOL_SIZE];
static struct req_list queue = TAILQ_HEAD_INITIALIZER(queue);
static struct req_list failing = TAILQ_HEAD_INITIALIZER(failing);
static struct loop_deferred fail_deferred;
static struct listen_entry listens[DB_MAX_LISTEN];
static int nlistens;
static void (*connect_hook)(bool first);
static bool gate_open;
static bool ever_connected;
static bool outage_logged;
static int64_t down_since_us;
static uint64_t stat_queries, stat_errors;
static const struct db_error no_error;
static const struct db_error *current_error = &no_error;
static double stat_total_ms, stat_max_ms;

static void conn_event_cb(evutil_socket_t fd, short what, void *arg);
static void kick(void);

/* --- requests ----------------------------------------------------------- */

static void
req_free(struct db_req *r)
{
	free(r->sql);
	for (int i = 0; i < r->nparams; i++)
		free(r->params[i]);
	PQclear(r->result);
	free(r->error);
	free(r);
}

/* Deliver and free. A cancelled request has cb == NULL. */
static void
req_finish(struct db_req *r, const char *error)
{
	if (error != NULL || r->error != NULL)
		stat_errors++;
	current_error = r->error ? &r->fields : &no_error;
	if (r->cb)
		r->cb(r->arg, r->error || error ? NULL : r->result,
		    r->error ? r->error : error);
	current_error = &no_error;
	req_free(r);
}

static void
run_failing(void *arg)
{
	struct db_req *r;

	while ((r = TAILQ_FIRST(&failing)) != NULL) {
		TAILQ_REMOVE(&failing, r, link);
		req_finish(r, r->error ? r->error : "database unavailable");
	}
}

/* Fail |r| after this loop pass, never inside the caller's stack. */
static void
req_fail_later(struct db_req *r, const char *why)
{
	if (r->error == NULL)
		r->error = gw_xstrdup(why);
	TAILQ_INSERT_TAIL(&failing, r, link);
	loop_defer(&fail_deferred, run_failing, NULL);
}

struct db_req *
db_query(const char *sql, int nparams, const char *const *params, unsigned flags,
    db_result_cb cb, void *arg)
{
	struct db_req *r = gw_xcalloc(1, sizeof(*r));

	r->sql = gw_xstrdup(sql);
	r->flags = flags;
	r->cb = cb;
	r->arg = arg;
	if (nparams > DB_MAX_PARAMS) {
		req_fail_later(r, "too many query parameters");
		return r;
	}
	r->nparams = nparams;
	for (int i = 0; i < nparams; i++)
		r->params[i] = params[i] ? gw_xstrdup(params[i]) : NULL;
	if (gate_open && !db_is_up() && !(flags & DB_Q_WAIT)) {
		req_fail_later(r, "database unavailable");
		return r;
	}
	TAILQ_INSERT_TAIL(&queue, r, link);
	kick();
	return r;
}

void
db_cancel(struct db_req *req)
{
	if (req)
		req->cb = NULL;
}

const struct db_error *
db_last_error(void)
{
	return current_error;
}

const char *
db_value(PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}

/* --- connection state ------------------------------------------------------ */

static int
up_count(void)
{
	int n = 0;

	for (int i = 0; i < DB_POOL_SIZE; i++)
		n += pool[i].state == DBC_READY || pool[i].state == DBC_BUSY;
	return n;
}

bool
db_is_up(void)
{
	return up_count() > 0;
}

int64_t
db_down_since_us(void)
{
	return db_is_up() ? 0 : down_since_us;
}

static void
clean_error(const char *msg, char *out, size_t outlen)
{
	size_t n;

	snprintf(out, outlen, "%s", msg && *msg ? msg : "unknown error");
	n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
	for (char *p = out; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

static void
set_state(struct db_conn *dc, enum dbc_state st)
{
	dc->state = st;
	dc->since_us = gw_mono_us();
}

static void
drop_events(struct db_conn *dc)
{
	if (dc->ev_read)
		event_free(dc->ev_read);
	if (dc->ev_write)
		event_free(dc->ev_write);
	dc->ev_read = dc->ev_write = NULL;
	dc->fd = -1;
}

/* Fail the requests that cannot wait for the database to come back. */
static void
fail_queued_on_outage(void)
{
	struct db_req *r, *next;

	for (r = TAILQ_FIRST(&queue); r != NULL; r = next) {
		next = TAILQ_NEXT(r, link);
		if ((r->flags & DB_Q_WAIT) || !gate_open)
			continue;
		TAILQ_REMOVE(&queue, r, link);
		req_fail_later(r, "database unavailable");
	}
}

/* |answered|: the failed attempt got an answer from the server side (see the top). */
static int64_t
next_backoff(struct db_conn *dc, bool answered)
{
	const struct gw_config *cfg = gw.cfg;
	int64_t b = dc->backoff_ms ? dc->backoff_ms * 2 : cfg->db_reconnect_min_ms;
	uint32_t rnd = 0;

	b = GW_MIN(b, cfg->db_reconnect_max_ms);
	if (answered)
		b = GW_MIN(b, GW_MAX((int64_t)DB_ANSWERED_RETRY_MAX_MS, cfg->db_reconnect_min_ms));
	dc->backoff_ms = b;
	if (gw_random(&rnd, sizeof(rnd)) < 0)
		rnd = 0;
	return b + (int64_t)(rnd % (uint32_t)(b / 4 + 1));
}

/* The connection failed or broke: fail its query, close, schedule a retry. */
static void
conn_lost(struct db_conn *dc, const char *why)
{
	bool was_up = dc->state == DBC_READY || dc->state == DBC_BUSY;
	bool answered = was_up || gw_mono_us() - dc->since_us < DB_ANSWER_US;
	char msg[256];

	clean_error(why, msg, sizeof(msg));
	if (dc->cur) {
		struct db_req *r = dc->cur;

		dc->cur = NULL;
		if (r->internal)
			req_free(r);
		else
			req_finish(r, "database connection lost during the query");
	}
	if (dc->setup) {
		req_free(dc->setup);
		dc->setup = NULL;
	}
	drop_events(dc);
	PQfinish(dc->pg);
	dc->pg = NULL;
	dc->nprepared = 0;
	set_state(dc, DBC_WAIT_RETRY);
	dc->retry_at_us = gw_mono_us() + next_backoff(dc, answered) * 1000;

	if (up_count() > 0 || gw.shutting_down) {
		log_debug("database connection %d closed: %s", dc->index, msg);
		return;
	}
	if (!outage_logged) {
		outage_logged = true;
		down_since_us = gw_mono_us();
		if (was_up || ever_connected)
			log_warn("database connection lost: %s; retrying with backoff", msg);
		else
			log_warn("cannot connect to the database: %s; retrying with backoff", msg);
	} else {
		log_debug("database connection %d attempt failed: %s", dc->index, msg);
	}
	fail_queued_on_outage();
}

static void
arm(struct db_conn *dc, bool want_read, bool want_write)
{
	int fd = PQsocket(dc->pg);

	if (fd != dc->fd) {
		drop_events(dc);
		dc->fd = fd;
		dc->ev_read = event_new(gw.base, fd, EV_READ | EV_PERSIST, conn_event_cb, dc);
		dc->ev_write = event_new(gw.base, fd, EV_WRITE | EV_PERSIST, conn_event_cb, dc);
	}
	if (want_read)
		event_add(dc->ev_read, NULL);
	else
		event_del(dc->ev_read);
	if (want_write)
		event_add(dc->ev_write, NULL);
	else
		event_del(dc->ev_write);
}

/* Server NOTICEs (e.g. "relation already exists, skipping") go to the debug log. */
static void
notice_to_log(void *arg, const char *message)
{
	char msg[256];

	clean_error(message, msg, sizeof(msg));
	log_debug("database notice: %s", msg);
}

static void
start_connect(struct db_conn *dc)
{
	dc->pg = PQconnectStart(gw.cfg->db_conninfo);
	if (dc->pg != NULL)
		PQsetNoticeProcessor(dc->pg, notice_to_log, NULL);
	set_state(dc, DBC_CONNECTING);
	dc->fd = -1;
	if (dc->pg == NULL) {
		conn_lost(dc, "out of memory");
		return;
	}
	if (PQstatus(dc->pg) == CONNECTION_BAD) {
		conn_lost(dc, PQerrorMessage(dc->pg));
		return;
	}
	arm(dc, false, true);
}

static struct db_req *
make_listen_req(void)
{
	struct db_req *r = gw_xcalloc(1, sizeof(*r));
	size_t cap = 64;

	for (int i = 0; i < nlistens; i++)
		cap += strlen(listens[i].channel) + 16;
	r->sql = gw_xcalloc(1, cap);
	for (int i = 0; i < nlistens; i++) {
		size_t used = strlen(r->sql);
		snprintf(r->sql + used, cap - used, "LISTEN \"%s\";", listens[i].channel);
	}
	r->flags = DB_Q_MULTI;
	r->internal = true;
	return r;
}

/* The server is back: the connections waiting out a backoff try again now. */
static void
recall_waiting(void)
{
	for (int i = 0; i < DB_POOL_SIZE; i++)
		if (pool[i].state == DBC_WAIT_RETRY) {
			pool[i].retry_at_us = gw_mono_us();
			pool[i].backoff_ms = 0;
		}
}

static void
connected(struct db_conn *dc)
{
	bool first = !ever_connected;
	bool recovering = outage_logged && up_count() == 0;

	PQsetnonblocking(dc->pg, 1);
	dc->nprepared = 0;
	set_state(dc, DBC_READY);
	dc->backoff_ms = 0;
	arm(dc, true, false);
	if (recovering) {
		log_info("database connection restored after %.1f s",
		    (double)(gw_mono_us() - down_since_us) / 1e6);
		recall_waiting();
	}
	outage_logged = false;
	ever_connected = true;
	if (dc->index == 0) {
		if (nlistens > 0)
			dc->setup = make_listen_req();
		if (connect_hook)
			connect_hook(first);
	}
	kick();
}

static void
poll_connect(struct db_conn *dc)
{
	switch (PQconnectPoll(dc->pg)) {
	case PGRES_POLLING_READING:
		arm(dc, true, false);
		break;
	case PGRES_POLLING_WRITING:
		arm(dc, false, true);
		break;
	case PGRES_POLLING_OK:
		connected(dc);
		break;
	default:
		conn_lost(dc, PQerrorMessage(dc->pg));
	}
}

/* --- queries ---------------------------------------------------------------- */

static bool
eligible(const struct db_conn *dc, const struct db_req *r)
{
	if (!gate_open)
		return dc->index == 0 && (r->flags & DB_Q_STARTUP);
	return true;
}

static uint64_t
sql_key(const char *sql)
{
	uint64_t h = 14695981039346656037ull;

	for (const char *p = sql; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return h;
}

static bool
is_prepared(const struct db_conn *dc, uint64_t key)
{
	for (int i = 0; i < dc->nprepared; i++)
		if (dc->prepared[i] == key)
			return true;
	return false;
}

/*
 * DB_Q_PREPARE: run by name when this connection prepared the statement,
 * else prepare it first (on_readable sends the query when that is done).
 * Saves the planning of big statements on hot paths (grant creation).
 */
static int
send_prepared(struct db_conn *dc, struct db_req *r)
{
	char name[24];

	r->key = sql_key(r->sql);
	snprintf(name, sizeof(name), "vsg_%016llx", (unsigned long long)r->key);
	if (is_prepared(dc, r->key))
		return PQsendQueryPrepared(dc->pg, name, r->nparams, (const char *const *)r->params,
		    NULL, NULL, 0);
	if (dc->nprepared == DB_MAX_PREPARED)
		return PQsendQueryParams(dc->pg, r->sql, r->nparams, NULL,
		    (const char *const *)r->params, NULL, NULL, 0);
	r->preparing = true;
	return PQsendPrepare(dc->pg, name, r->sql, r->nparams, NULL);
}

static void
send_req(struct db_conn *dc, struct db_req *r)
{
	int ok;

	dc->cur = r;
	r->sent_us = gw_mono_now_us();
	set_state(dc, DBC_BUSY);
	if (r->flags & DB_Q_MULTI)
		ok = PQsendQuery(dc->pg, r->sql);
	else if (r->flags & DB_Q_PREPARE)
		ok = send_prepared(dc, r);
	else
		ok = PQsendQueryParams(dc->pg, r->sql, r->nparams, NULL,
		    (const char *const *)r->params, NULL, NULL, 0);
	if (!ok) {
		conn_lost(dc, PQerrorMessage(dc->pg));
		return;
	}
	arm(dc, true, PQflush(dc->pg) == 1);
}

static void
kick(void)
{
	for (int i = 0; i < DB_POOL_SIZE; i++) {
		struct db_conn *dc = &pool[i];
		struct db_req *r;

		if (dc->state != DBC_READY)
			continue;
		if (dc->setup) {
			r = dc->setup;
			dc->setup = NULL;
			send_req(dc, r);
			continue;
		}
		TAILQ_FOREACH(r, &queue, link)
			if (eligible(dc, r))
				break;
		if (r == NULL)
			continue;
		TAILQ_REMOVE(&queue, r, link);
		send_req(dc, r);
	}
}

static void
finish_current(struct db_conn *dc)
{
	struct db_req *r = dc->cur;
	double ms = (double)(gw_mono_now_us() - r->sent_us) / 1000.0;

	dc->cur = NULL;
	set_state(dc, DBC_READY);
	if (r->internal) {
		if (r->error)
			log_error("database set-up failed: %s", r->error);
		req_free(r);
		return;
	}
	stat_queries++;
	stat_total_ms += ms;
	stat_max_ms = GW_MAX(stat_max_ms, ms);
	req_finish(r, NULL);
}

static void
copy_field(PGresult *res, int field, char *out, size_t outlen)
{
	const char *v = PQresultErrorField(res, field);

	snprintf(out, outlen, "%s", v ? v : "");
}

static void
collect_result(struct db_req *r, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	char msg[512];

	if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
		if (r->error == NULL) {
			clean_error(PQresultErrorMessage(res), msg, sizeof(msg));
			r->error = gw_xstrdup(msg);
			copy_field(res, PG_DIAG_SQLSTATE, r->fields.sqlstate, sizeof(r->fields.sqlstate));
			copy_field(res, PG_DIAG_MESSAGE_PRIMARY, r->fields.primary,
			    sizeof(r->fields.primary));
			copy_field(res, PG_DIAG_CONSTRAINT_NAME, r->fields.constraint,
			    sizeof(r->fields.constraint));
		}
		PQclear(res);
		return;
	}
	PQclear(r->result);
	r->result = res;
}

static void
dispatch_notifies(struct db_conn *dc)
{
	PGnotify *n;

	while ((n = PQnotifies(dc->pg)) != NULL) {
		for (int i = 0; i < nlistens; i++)
			if (strcmp(listens[i].channel, n->relname) == 0)
				listens[i].cb(n->extra);
		PQfreemem(n);
	}
}

/* The PREPARE of dc->cur succeeded: remember it and send the query itself. */
static void
prepared_now_run(struct db_conn *dc)
{
	struct db_req *r = dc->cur;

	r->preparing = false;
	PQclear(r->result);
	r->result = NULL;
	dc->prepared[dc->nprepared++] = r->key;
	dc->cur = NULL;
	send_req(dc, r);
}

static void
on_readable(struct db_conn *dc)
{
	PGresult *res;

	if (!PQconsumeInput(dc->pg)) {
		conn_lost(dc, PQerrorMessage(dc->pg));
		return;
	}
	while (dc->cur && !PQisBusy(dc->pg)) {
		res = PQgetResult(dc->pg);
		if (res == NULL && dc->cur->preparing && dc->cur->error == NULL) {
			prepared_now_run(dc);
			break;
		}
		if (res == NULL) {
			finish_current(dc);
			break;
		}
		collect_result(dc->cur, res);
	}
	dispatch_notifies(dc);
	kick();
}

static void
conn_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn *dc = arg;

	gw_time_refresh();
	if (dc->state == DBC_CONNECTING) {
		poll_connect(dc);
		return;
	}
	if (dc->pg == NULL)
		return;
	if (what & EV_WRITE) {
		int f = PQflush(dc->pg);

		if (f < 0) {
			conn_lost(dc, PQerrorMessage(dc->pg));
			return;
		}
		arm(dc, true, f == 1);
	}
	if (what & EV_READ)
		on_readable(dc);
}

/* --- janitor ----------------------------------------------------------------- */

static void
db_janitor(int64_t now)
{
	const struct gw_config *cfg = gw.cfg;

	for (int i = 0; i < DB_POOL_SIZE; i++) {
		struct db_conn *dc = &pool[i];
		char msg[128];

		switch (dc->state) {
		case DBC_WAIT_RETRY:
			if (now >= dc->retry_at_us && !gw.shutting_down)
				start_connect(dc);
			break;
		case DBC_CONNECTING:
			if (now - dc->since_us > cfg->db_connect_timeout_ms * 1000)
				conn_lost(dc, "connection attempt timed out");
			break;
		case DBC_BUSY:
			if (now - dc->since_us > cfg->db_query_timeout_ms * 1000) {
				snprintf(msg, sizeof(msg), "query timed out after %lld ms",
				    (long long)cfg->db_query_timeout_ms);
				log_warn("database %s; resetting the connection", msg);
				if (dc->cur && !dc->cur->internal) {
					struct db_req *r = dc->cur;

					dc->cur = NULL;
					req_finish(r, msg);
				}
				conn_lost(dc, msg);
			}
			break;
		default:
			break;
		}
	}
}

/* --- public set-up ----------------------------------------------------------- */

void
db_set_connect_hook(void (*hook)(bool first))
{
	connect_hook = hook;
}

void
db_listen(const char *channel, void (*cb)(const char *payload))
{
	if (nlistens == DB_MAX_LISTEN)
		gw_fatal_check(__FILE__, __LINE__, "free LISTEN slot");
	listens[nlistens].channel = gw_xstrdup(channel);
	listens[nlistens].cb = cb;
	nlistens++;
}

int
db_init(void)
{
	for (int i = 0; i < DB_POOL_SIZE; i++) {
		pool[i].index = i;
		pool[i].fd = -1;
		snprintf(pool[i].ident, sizeof(pool[i].ident), "db-%d", i);
		set_state(&pool[i], DBC_OFF);
	}
	loop_janitor_add(db_janitor);
	start_connect(&pool[0]);
	return 0;
}

void
db_open(void)
{
	gate_open = true;
	for (int i = 1; i < DB_POOL_SIZE; i++)
		if (pool[i].state == DBC_OFF)
			start_connect(&pool[i]);
	kick();
}

void
db_shutdown(void)
{
	struct db_req *r;

	for (int i = 0; i < DB_POOL_SIZE; i++) {
		struct db_conn *dc = &pool[i];

		if (dc->cur) {
			r = dc->cur;
			dc->cur = NULL;
			if (r->internal)
				req_free(r);
			else
				req_finish(r, "shutting down");
		}
		if (dc->setup)
			req_free(dc->setup);
		dc->setup = NULL;
		drop_events(dc);
		PQfinish(dc->pg);
		dc->pg = NULL;
		dc->state = DBC_OFF;
	}
	while ((r = TAILQ_FIRST(&queue)) != NULL) {
		TAILQ_REMOVE(&queue, r, link);
		req_finish(r, "shutting down");
	}
	run_failing(NULL);
	loop_defer_cancel(&fail_deferred);
	for (int i = 0; i < nlistens; i++)
		free(listens[i].channel);
	nlistens = 0;
}

void
db_stats(uint64_t *queries, uint64_t *errors, double *avg_ms, double *max_ms)
{
	*queries = stat_queries;
	*errors = stat_errors;
	*avg_ms = stat_queries ? stat_total_ms / (double)stat_queries : 0;
	*max_ms = stat_max_ms;
}
