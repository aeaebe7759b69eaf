/*
 * db.h - asynchronous PostgreSQL on the event loop (libpq non-blocking).
 *
 * A small pool of connections shares one FIFO queue of queries. Each query
 * has a callback that is called exactly once: with the result, or with an
 * error text (database down, query failed, timed out, shutting down), unless
 * the owner cancelled it first with db_cancel().
 *
 * Start-up gate: until db_open() is called only connection 0 exists and only
 * queries flagged DB_Q_STARTUP are sent, in order, on it. Migrations rely on
 * this to run BEGIN ... COMMIT as separate queries on one connection. Other
 * queries wait in the queue until the gate opens.
 *
 * Outages are logged once when they start and once when they end.
 */
#ifndef GW_DB_H
#define GW_DB_H

#include "gw.h"

#include <libpq-fe.h>

#define DB_MAX_PARAMS 32

enum db_flags {
	DB_Q_STARTUP = 0x01,	/* may run before db_open(); goes to connection 0 */
	DB_Q_MULTI = 0x02,	/* several statements, no parameters (simple protocol) */
	DB_Q_WAIT = 0x04,	/* while the database is down, wait instead of failing */
	DB_Q_PREPARE = 0x08,	/* hot statement: prepared once per connection, then run by name */
};

struct db_req;

/*
 * |res| is the result (of the last statement for DB_Q_MULTI), owned by db.c
 * and cleared after the callback returns; NULL when |error| is set.
 */
typedef void (*db_result_cb)(void *arg, PGresult *res, const char *error);

int db_init(void) GW_MUSTCHECK;
void db_shutdown(void);

/* Called on the I/O thread each time connection 0 (re)connects; |first| on the first time. */
void db_set_connect_hook(void (*hook)(bool first));
/* Subscribe to a NOTIFY channel (LISTEN is re-sent after each reconnect). */
void db_listen(const char *channel, void (*cb)(const char *payload));

/* Open the gate: start the rest of the pool and release queued queries. */
void db_open(void);

/*
 * Queue a query. |params| are text values (NULL = SQL NULL), copied.
 * Returns a handle for db_cancel(). The callback never runs inside
 * db_query(): a query that fails at once (database down) is answered after
 * the current loop pass.
 */
struct db_req *db_query(const char *sql, int nparams, const char *const *params,
    unsigned flags, db_result_cb cb, void *arg);
/* The owner went away: the callback will not be called. */
void db_cancel(struct db_req *req);

bool db_is_up(void);
/* Monotonic time the current outage started, or 0 when the database is up. */
int64_t db_down_since_us(void);
/* Round-trip statistics for /metrics. */
void db_stats(uint64_t *queries, uint64_t *errors, double *avg_ms, double *max_ms);

/*
 * While a callback runs with |error| set because the server refused the
 * query: the SQLSTATE and fields of that error, so that callers can tell a
 * unique violation from a check violation without reading (translated)
 * message text. Empty strings when the error did not come from the server
 * (connection lost, timeout). Only valid inside the callback.
 */
struct db_error {
	char sqlstate[6];
	char primary[256];		/* primary message, without "ERROR:" */
	char constraint[64];		/* name of the violated constraint, if any */
};
const struct db_error *db_last_error(void);

/* Shorthand for reading a text column; NULL for SQL NULL. */
const char *db_value(PGresult *res, int row, int col);

#endif
