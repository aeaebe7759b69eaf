/*
 * audit.c - writing and verifying the audit log (see audit.h).
 *
 * Verification does not trust the database's own functions: it reads the
 * raw columns in id order, rebuilds the canonical text of each row the same
 * way as audit_canonical() in sql/001_init.sql, and checks that
 *   prev_hash = hash of the previous row, and
 *   hash = sha256(prev_hash || canonical text).
 * A changed row breaks its own hash; a deleted row breaks the prev_hash of
 * the next one. Rows are read in batches, keyed on id.
 */
#include "gw.h"
#include "audit.h"
#include "config.h"
#include "crypto.h"
#include "db.h"
#include "log.h"
#include "loop.h"

#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VERIFY_BATCH "5000"

/*
 * Rows go to the database in batches: one statement for all the rows
 * recorded since the last, at most one every BATCH_SPACING_US and one in
 * flight (the chain's lock
 * serialises writers anyway; 6 400 session starts are one statement, not
 * 6 400). The statement inserts them in the order they were recorded.
 * Spooled rows carry detail.spool_id, which a unique index makes count
 * once however many times the spool is written.
 */
static const char insert_sql[] =
    "INSERT INTO audit_log (node, actor, action, outcome, authority_id, grant_id, camera_id,"
    " session_id, peer, detail)"
    " SELECT $1, r->>'actor', r->>'action', r->>'outcome', nullif((r->>'authority_id')::bigint, 0),"
    "  nullif((r->>'grant_id')::bigint, 0), nullif((r->>'camera_id')::bigint, 0),"
    "  nullif((r->>'session_id')::bigint, 0), r->>'peer', r->'detail'"
    " FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(r, n) ORDER BY n"
    " ON CONFLICT ((detail ->> 'spool_id')) WHERE detail ? 'spool_id' DO NOTHING";

#define BATCH_MAX 2000
#define BATCH_SPACING_US 50000		/* at most one statement every 50 ms */

static char *spool_path;
static json_t *queue;			/* rows recorded, not yet sent, in order */
static json_t *sending;			/* rows of the statement in flight, or NULL */
static struct loop_deferred send_later;
static struct event *send_timer;
static int64_t last_send_us;
static int spooled;
static bool spool_ready;		/* main.c has called audit_flush_spool(): the schema is there */
static bool flushing;			/* the rows of the ".flushing" file are queued */
static size_t flush_left;		/* of which not yet written */

static void send_batch(void *arg);

static void
send_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	gw_time_refresh();
	send_batch(NULL);
}

/* After this loop pass, or BATCH_SPACING_US after the last statement. */
static void
schedule_send(void)
{
	int64_t wait = last_send_us + BATCH_SPACING_US - gw_mono_us();
	struct timeval tv = { 0, (suseconds_t)wait };

	if (wait <= 0 || (send_timer == NULL &&
	    (send_timer = evtimer_new(gw.base, send_timer_cb, NULL)) == NULL)) {
		loop_defer(&send_later, send_batch, NULL);
		return;
	}
	if (!evtimer_pending(send_timer, NULL))
		evtimer_add(send_timer, &tv);
}

const char *
audit_node_name(void)
{
	static char host[256];

	if (gw.cfg->node_name[0] != '\0')
		return gw.cfg->node_name;
	if (host[0] == '\0' && gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "vssgated");
	return host;
}

static char *
flushing_path(void)
{
	return gw_xasprintf("%s.flushing", spool_path);
}

/*
 * A spool whose writing could not start when the database came back (a
 * batch was in flight) is written as soon as it can: meanwhile every new
 * row goes to the spool too, to keep the order.
 */
static void
audit_janitor(int64_t now)
{
	if (spool_ready && spooled > 0 && !flushing && sending == NULL && db_is_up())
		audit_flush_spool();
}

int
audit_init(void)
{
	char *tmp;

	spool_path = gw_xasprintf("%s/audit.spool", gw.cfg->state_dir);
	queue = json_array();
	loop_janitor_add(audit_janitor);
	if (mkdir(gw.cfg->state_dir, 0700) < 0 && errno != EEXIST) {
		log_error("cannot create state directory %s: %s", gw.cfg->state_dir, strerror(errno));
		return -1;
	}
	tmp = flushing_path();
	if (access(spool_path, F_OK) == 0 || access(tmp, F_OK) == 0) {
		spooled = 1;	/* unknown count; flushed once the database is up */
		log_info("audit records spooled by an earlier run will be written to the database");
	}
	free(tmp);
	return 0;
}

void
audit_shutdown(void)
{
	loop_defer_cancel(&send_later);
	if (send_timer != NULL)
		event_free(send_timer);
	send_timer = NULL;
	json_decref(queue);
	json_decref(sending);
	queue = sending = NULL;
	free(spool_path);
	spool_path = NULL;
}

int
audit_pending(void)
{
	return audit_in_flight() + spooled;
}

int
audit_in_flight(void)
{
	return (int)(json_array_size(queue) + (sending ? json_array_size(sending) : 0));
}

/* The row as a JSON object: what goes to the spool, and what the insert reads. */
static json_t *
entry_json(const struct audit_entry *e)
{
	json_t *detail = e->detail ? json_deep_copy(e->detail) : json_object();
	json_t *o = json_object();
	char stamp[40];

	if (json_object_get(detail, "occurred_at") == NULL) {
		gw_format_time(gw_wall_us(), stamp, sizeof(stamp));
		json_object_set_new(detail, "occurred_at", json_string(stamp));
	}
	json_object_set_new(o, "actor", json_string(e->actor));
	json_object_set_new(o, "action", json_string(e->action));
	json_object_set_new(o, "outcome", json_string(e->outcome));
	json_object_set_new(o, "authority_id", json_integer(e->authority_id));
	json_object_set_new(o, "grant_id", json_integer(e->grant_id));
	json_object_set_new(o, "camera_id", json_integer(e->camera_id));
	json_object_set_new(o, "session_id", json_integer(e->session_id));
	if (e->peer)
		json_object_set_new(o, "peer", json_string(e->peer));
	json_object_set_new(o, "detail", detail);
	return o;
}

/* Give a row the id that makes writing it again harmless (see the top). */
static void
mark_spooled(json_t *row)
{
	json_t *detail = json_object_get(row, "detail");
	unsigned char rnd[16];
	char hex[33];

	if (json_object_get(detail, "spool_id") != NULL)
		return;
	if (gw_random(rnd, sizeof(rnd)) < 0)
		return;
	gw_hex(rnd, sizeof(rnd), hex);
	json_object_set_new(detail, "spool_id", json_string(hex));
}

static void
spool_append(json_t *row)
{
	char *line;
	FILE *f;

	mark_spooled(row);
	line = json_dumps(row, JSON_COMPACT);
	f = fopen(spool_path, "a");
	if (f == NULL || fprintf(f, "%s\n", line) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0)
		log_error("audit record lost: cannot write spool %s: %s", spool_path, strerror(errno));
	else
		spooled++;
	if (f)
		fclose(f);
	free(line);
}

/* The database went away under rows not written yet: keep them, in order, on disk. */
static void
spool_unsent(json_t *rows)
{
	size_t i;
	json_t *row;

	json_array_foreach(rows, i, row)
		spool_append(row);
	json_array_clear(rows);
}

/* The spooled rows (at the front of the queue) are written: the ".flushing" file can go. */
static void
flush_progress(size_t written)
{
	char *tmp;

	if (!flushing)
		return;
	flush_left -= GW_MIN(flush_left, written);
	if (flush_left > 0)
		return;
	tmp = flushing_path();
	unlink(tmp);
	free(tmp);
	flushing = false;
	log_info("the spooled audit records are in the database");
	if (spooled > 0)
		audit_flush_spool();
}

static void
on_insert(void *arg, PGresult *res, const char *error)
{
	json_t *rows = sending;

	sending = NULL;
	if (error != NULL && db_last_error()->sqlstate[0] != '\0') {
		log_error("%zu audit records rejected by the database: %s", json_array_size(rows), error);
		flush_progress(json_array_size(rows));
	} else if (error != NULL) {
		/*
		 * Not written, or not known to be: spool them and what came after
		 * (a spooled row is written once, whatever happened). A spool that
		 * was being written stays too, for the next time.
		 */
		spool_unsent(rows);
		spool_unsent(queue);
		flushing = false;
		flush_left = 0;
	} else {
		flush_progress(json_array_size(rows));
	}
	json_decref(rows);
	if (json_array_size(queue) > 0)
		schedule_send();
}

/* Send what is queued, up to BATCH_MAX rows, as one statement. */
static void
send_batch(void *arg)
{
	const char *params[2];
	char *text;

	if (sending != NULL || json_array_size(queue) == 0)
		return;
	if (!db_is_up()) {
		spool_unsent(queue);
		flushing = false;
		flush_left = 0;
		return;
	}
	sending = queue;
	queue = json_array();
	if (json_array_size(sending) > BATCH_MAX) {
		json_t *all = sending;

		sending = json_array();
		for (size_t i = 0; i < json_array_size(all); i++)
			json_array_append(i < BATCH_MAX ? sending : queue, json_array_get(all, i));
		json_decref(all);
	}
	text = json_dumps(sending, JSON_COMPACT);
	last_send_us = gw_mono_us();
	params[0] = audit_node_name();
	params[1] = text;
	db_query(insert_sql, 2, params, DB_Q_PREPARE, on_insert, NULL);
	free(text);
}

static void
enqueue(json_t *row)
{
	json_array_append(queue, row);
	schedule_send();
}

void
audit_record(const struct audit_entry *e)
{
	json_t *row = entry_json(e);

	if (!db_is_up() || spooled > 0)
		spool_append(row);	/* keep the order: older spooled rows go first */
	else
		enqueue(row);
	json_decref(row);
}

/*
 * Move the spool aside (new rows start a new one), queue its rows in front
 * of anything recorded since, and remove it once they are written. A spool
 * left by a crash in the middle of this (the ".flushing" file) goes first;
 * writing a row twice does nothing (spool_id).
 */
void
audit_flush_spool(void)
{
	char *line = NULL, *tmp = flushing_path();
	size_t cap = 0;
	FILE *f;
	int count = 0;

	spool_ready = true;
	if (spooled == 0 || flushing || !db_is_up() || sending != NULL)
		goto out;	/* the janitor tries again */
	if (access(tmp, F_OK) != 0 && rename(spool_path, tmp) < 0) {
		if (errno != ENOENT)
			log_error("cannot move the audit spool aside: %s", strerror(errno));
		spooled = 0;
		goto out;
	}
	f = fopen(tmp, "r");
	while (f && getline(&line, &cap, f) > 0) {
		json_t *row = json_loads(line, 0, NULL);

		if (row == NULL) {
			log_error("skipping an unreadable line of the audit spool");
			continue;
		}
		json_array_insert_new(queue, (size_t)count++, row);
	}
	if (f)
		fclose(f);
	/* Rows recorded from now on queue behind these; a spool file still there goes next. */
	spooled = access(spool_path, F_OK) == 0 ? 1 : 0;
	flushing = true;
	flush_left = (size_t)count;
	log_info("writing %d spooled audit records to the database", count);
	if (count == 0)
		flush_progress(0);
	schedule_send();
out:
	free(line);
	free(tmp);
}

/* --- verification ------------------------------------------------------------ */

struct verify_ctx {
	void (*done)(const struct audit_verify_result *r, void *arg);
	void *arg;
	struct audit_verify_result result;
	unsigned char prev[32];
	size_t prev_len;
	char last_id[24];
};

static const char verify_sql[] =
    "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), node, actor,"
    " action, outcome, coalesce(authority_id::text, '-'), coalesce(grant_id::text, '-'),"
    " coalesce(camera_id::text, '-'), coalesce(session_id::text, '-'), coalesce(peer, '-'),"
    " detail::text, encode(prev_hash, 'hex'), encode(hash, 'hex')"
    " FROM audit_log WHERE id > $1 ORDER BY id LIMIT " VERIFY_BATCH;

static void verify_next(struct verify_ctx *v);

static void
verify_finish(struct verify_ctx *v)
{
	v->done(&v->result, v->arg);
	free(v);
}

static bool
hex_equals(const char *hex, const unsigned char *bin, size_t len)
{
	unsigned char buf[64];

	if (strlen(hex) != 2 * len || len > sizeof(buf))
		return false;
	return gw_unhex(hex, buf, len) == 0 && memcmp(buf, bin, len) == 0;
}

/* Check one row; false (with the result filled) when the chain breaks here. */
static bool
verify_row(struct verify_ctx *v, PGresult *res, int row)
{
	unsigned char want[32], *buf;
	size_t len = 0, off = 0;
	const char *id = PQgetvalue(res, row, 0);

	if (!hex_equals(PQgetvalue(res, row, 12), v->prev, v->prev_len)) {
		v->result.first_bad_id = strtoll(id, NULL, 10);
		snprintf(v->result.why, sizeof(v->result.why),
		    "row %s does not follow the previous row (a row before it was removed or changed)", id);
		return false;
	}
	for (int c = 0; c < 12; c++)
		len += (size_t)PQgetlength(res, row, c) + 1;
	buf = gw_xmalloc(v->prev_len + len);
	memcpy(buf, v->prev, v->prev_len);
	off = v->prev_len;
	for (int c = 0; c < 12; c++) {
		size_t n = (size_t)PQgetlength(res, row, c);

		if (c > 0)
			buf[off++] = '|';
		memcpy(buf + off, PQgetvalue(res, row, c), n);
		off += n;
	}
	crypto_sha256(buf, off, want);
	free(buf);
	if (!hex_equals(PQgetvalue(res, row, 13), want, sizeof(want))) {
		v->result.first_bad_id = strtoll(id, NULL, 10);
		snprintf(v->result.why, sizeof(v->result.why),
		    "row %s was changed after it was written (its hash does not match its content)", id);
		return false;
	}
	memcpy(v->prev, want, sizeof(want));
	v->prev_len = sizeof(want);
	snprintf(v->last_id, sizeof(v->last_id), "%s", id);
	v->result.rows++;
	return true;
}

static void
on_verify_batch(void *arg, PGresult *res, const char *error)
{
	struct verify_ctx *v = arg;
	int n;

	if (error != NULL) {
		v->result.ok = false;
		snprintf(v->result.why, sizeof(v->result.why), "cannot read the audit log: %s", error);
		verify_finish(v);
		return;
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
		if (!verify_row(v, res, i)) {
			v->result.ok = false;
			verify_finish(v);
			return;
		}
	if (n == 0) {
		v->result.ok = true;
		verify_finish(v);
		return;
	}
	verify_next(v);
}

static void
verify_next(struct verify_ctx *v)
{
	const char *params[1] = { v->last_id };

	db_query(verify_sql, 1, params, 0, on_verify_batch, v);
}

void
audit_verify(void (*done)(const struct audit_verify_result *r, void *arg), void *arg)
{
	struct verify_ctx *v = gw_xcalloc(1, sizeof(*v));

	v->done = done;
	v->arg = arg;
	snprintf(v->last_id, sizeof(v->last_id), "0");
	verify_next(v);
}
