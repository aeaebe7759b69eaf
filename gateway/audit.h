/*
 * audit.h - the append-only, hash-chained audit log.
 *
 * audit_record() queues one row; the rows of a loop pass go to the
 * database in one statement, in order, and the database trigger chains
 * them (sql/001_init.sql, 014_robust.sql). While the database is
 * unreachable, rows are appended to <state_dir>/audit.spool (one JSON
 * object per line, fsync'd) and written to the database, in order, once it
 * is back; a spooled row keeps the time of the event in detail.occurred_at
 * and is written once (detail.spool_id), even if the writing is cut by a
 * crash and done again.
 */
#ifndef GW_AUDIT_H
#define GW_AUDIT_H

#include "gw.h"

struct json_t;

struct audit_entry {
	const char *actor;		/* "admin:alice", "grant:17:user", "system" */
	const char *action;		/* "session.start", "grant.create", ... */
	const char *outcome;		/* "ok", "denied", "error" */
	int64_t authority_id;		/* 0 = none */
	int64_t grant_id;
	int64_t camera_id;
	int64_t session_id;
	const char *peer;		/* NULL = none */
	struct json_t *detail;		/* borrowed; NULL = {} */
};

int audit_init(void) GW_MUSTCHECK;
/* The node column of rows written by this process ([daemon] node_name or the host name). */
const char *audit_node_name(void);
void audit_shutdown(void);
void audit_record(const struct audit_entry *e);
/* The database is back: write the spool. */
void audit_flush_spool(void);
/* Rows waiting (in memory or spooled), for /metrics and shutdown. */
int audit_pending(void);
/* Rows in memory, not yet in the database (what a shutdown can still write). */
int audit_in_flight(void);

struct audit_verify_result {
	bool ok;
	int64_t rows;
	int64_t first_bad_id;		/* 0 when ok */
	char why[200];
};

/* Recompute the chain of the whole log; |done| runs once on the I/O thread. */
void audit_verify(void (*done)(const struct audit_verify_result *r, void *arg), void *arg);

#endif
