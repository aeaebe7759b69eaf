/*
 * migrate.h - numbered, forward-only schema migrations (sql/NNN_name.sql,
 * embedded at build time). Each pending migration runs in its own
 * transaction under an advisory lock and is recorded in schema_version, so
 * several nodes starting at once apply each migration exactly once.
 */
#ifndef GW_MIGRATE_H
#define GW_MIGRATE_H

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration migrations[];
extern const int n_migrations;

enum migrate_result {
	MIGRATE_OK,		/* schema is current */
	MIGRATE_RETRY,		/* connection problem; try again on reconnect */
	MIGRATE_FATAL,		/* a migration failed, or the schema is newer than we know */
};

/* The newest schema version this binary knows. */
int migrate_known_version(void);

/* Bring the schema up to date on the start-up connection; |done| is called once. */
void migrate_run(void (*done)(enum migrate_result res));

/* Check only (on reconnect): FATAL if the schema is newer than we know. */
void migrate_check(void (*done)(enum migrate_result res));

#endif
