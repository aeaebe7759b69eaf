/*
 * migrate.c - schema migrations (see migrate.h).
 *
 * One step per query, all on the start-up connection (DB_Q_STARTUP, before
 * the gate opens), so that BEGIN ... COMMIT stays on one connection:
 *
 *   MIG_BEGIN -> MIG_LOCK -> MIG_TABLE -> MIG_VERSION
 *     -> (nothing pending) MIG_ROLLBACK -> done
 *     -> MIG_APPLY -> MIG_RECORD -> MIG_COMMIT -> MIG_BEGIN (next one)
 */
#include "gw.h"
#include "db.h"
#include "log.h"
#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>

#define MIGRATE_LOCK_KEY "72671001"

enum mig_step {
	MIG_BEGIN,
	MIG_LOCK,
	MIG_TABLE,
	MIG_VERSION,
	MIG_APPLY,
	MIG_RECORD,
	MIG_COMMIT,
	MIG_ROLLBACK,
	MIG_DONE,
};

static struct {
	enum mig_step step;
	int current;			/* version in the database */
	const struct migration *pending;
	bool check_only;
	enum migrate_result result;
	void (*done)(enum migrate_result res);
} mig;

static void step(void);

int
migrate_known_version(void)
{
	return n_migrations > 0 ? migrations[n_migrations - 1].version : 0;
}

static const struct migration *
next_pending(int current)
{
	for (int i = 0; i < n_migrations; i++)
		if (migrations[i].version > current)
			return &migrations[i];
	return NULL;
}

static void
finish(enum migrate_result res)
{
	mig.step = MIG_DONE;
	mig.done(res);
}

static void
on_result(void *arg, PGresult *res, const char *error)
{
	if (error != NULL) {
		/* A broken connection is retried; an SQL error in a migration is not. */
		bool fatal = mig.step == MIG_APPLY || mig.step == MIG_RECORD;

		if (fatal)
			log_error("migration %03d_%s failed: %s", mig.pending->version,
			    mig.pending->name, error);
		else
			log_warn("schema check failed: %s", error);
		if (mig.step == MIG_ROLLBACK && mig.result == MIGRATE_FATAL) {
			finish(MIGRATE_FATAL);
			return;
		}
		if (fatal && db_is_up()) {
			mig.result = MIGRATE_FATAL;
			mig.step = MIG_ROLLBACK;
			step();
			return;
		}
		finish(MIGRATE_RETRY);
		return;
	}
	switch (mig.step) {
	case MIG_VERSION:
		mig.current = atoi(PQgetvalue(res, 0, 0));
		if (mig.current > migrate_known_version()) {
			if (mig.check_only) {
				log_error("the database schema is now version %d, newer than this vssgated "
				    "knows (%d); stopping", mig.current, migrate_known_version());
				finish(MIGRATE_FATAL);
				return;
			}
			log_error("the database schema is version %d, newer than this vssgated knows (%d); "
			    "refusing to run", mig.current, migrate_known_version());
			mig.result = MIGRATE_FATAL;
			mig.step = MIG_ROLLBACK;
		} else if (mig.check_only) {
			finish(MIGRATE_OK);
			return;
		} else if ((mig.pending = next_pending(mig.current)) == NULL) {
			mig.result = MIGRATE_OK;
			mig.step = MIG_ROLLBACK;
		} else {
			log_info("applying migration %03d_%s", mig.pending->version, mig.pending->name);
			mig.step = MIG_APPLY;
		}
		break;
	case MIG_COMMIT:
		log_info("schema is now at version %d", mig.pending->version);
		mig.step = MIG_BEGIN;
		break;
	case MIG_ROLLBACK:
		finish(mig.result);
		return;
	default:
		mig.step++;
	}
	step();
}

static void
send(const char *sql, int nparams, const char *const *params, unsigned flags)
{
	db_query(sql, nparams, params, DB_Q_STARTUP | DB_Q_WAIT | flags, on_result, NULL);
}

static void
step(void)
{
	char version[16];
	const char *params[2];

	switch (mig.step) {
	case MIG_BEGIN:
		send("BEGIN", 0, NULL, 0);
		break;
	case MIG_LOCK:
		send("SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")", 0, NULL, 0);
		break;
	case MIG_TABLE:
		send("CREATE TABLE IF NOT EXISTS schema_version ("
		    " version integer PRIMARY KEY,"
		    " name text NOT NULL,"
		    " applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL, 0);
		break;
	case MIG_VERSION:
		send("SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL, 0);
		break;
	case MIG_APPLY:
		send(mig.pending->sql, 0, NULL, DB_Q_MULTI);
		break;
	case MIG_RECORD:
		snprintf(version, sizeof(version), "%d", mig.pending->version);
		params[0] = version;
		params[1] = mig.pending->name;
		send("INSERT INTO schema_version (version, name) VALUES ($1, $2)", 2, params, 0);
		break;
	case MIG_COMMIT:
		send("COMMIT", 0, NULL, 0);
		break;
	case MIG_ROLLBACK:
		send("ROLLBACK", 0, NULL, 0);
		break;
	case MIG_DONE:
		break;
	}
}

/*
 * The check runs after the gate opened, when queries may go to any pooled
 * connection: it is a single statement outside any transaction.
 */
static void
start(void (*done)(enum migrate_result), bool check_only)
{
	mig.step = check_only ? MIG_VERSION : MIG_BEGIN;
	mig.done = done;
	mig.check_only = check_only;
	mig.pending = NULL;
	mig.result = MIGRATE_OK;
	step();
}

void
migrate_run(void (*done)(enum migrate_result res))
{
	start(done, false);
}

void
migrate_check(void (*done)(enum migrate_result res))
{
	start(done, true);
}
