/*
 * session.c - the registry of live sessions (see session.h).
 *
 * Ids. sessions.id values are reserved from the table's sequence in blocks
 * (the id pool: from the first session on, refilled when half used, bigger
 * when it ran dry), so that a session has its id the moment it opens. A session that opens when the
 * pool is empty waits for the next block with its audit records (a few
 * milliseconds); while the database is down it is audited at once without
 * an id, with detail.local_session pairing its start and end, and its row
 * gets an id once the database is back.
 *
 * Rows. Nothing is written per session: after a loop pass in which
 * sessions opened or ended, one statement (a batch) inserts the new rows
 * (with their end if they are already over) and closes the ended ones;
 * every SESSION_FLUSH_S one also updates the bytes of the open rows.
 * Batches are BATCH_SPACING_US apart at least, and at most one is in
 * flight: what changes meanwhile goes into the next, so a crowd of
 * sessions or a slow database makes bigger batches, not a queue. A batch
 * that fails for want of the database is sent again; one the server
 * refuses is logged and dropped (it would block every later one).
 *
 *   open --(batch)--> saved --(end)--> ended --(batch)--> freed
 *     \--(end)--> ended, unsaved --(batch: insert with its end)--> freed
 *
 * An ended session stays in the `ended` list, owned by the registry, until
 * its row is final. Shutdown waits for the last batch (main.c); rows that
 * could not be written (kill -9, the database down) are closed by the next
 * start of this node (session_recover), with a session.end audit record.
 *
 * Admins on any node end a session with NOTIFY vssgate_session '<sessions.id>'.
 */
#include "gw.h"
#include "audit.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "loop.h"
#include "model.h"
#include "session.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SESSION_FLUSH_S 5
#define BATCH_SPACING_US 50000		/* at most one batch every 50 ms: sessions share statements */
#define BATCH_MAX 10000			/* rows per statement */
#define ID_POOL_MIN 256
#define ID_POOL_MAX 4096

TAILQ_HEAD(session_list, gw_session);
TAILQ_HEAD(wait_list, gw_session);

/* The statement in flight: which sessions it writes. */
struct session_batch {
	struct gw_session **rows;
	int nrows;
};

static struct session_list sessions = TAILQ_HEAD_INITIALIZER(sessions);
static struct session_list ended = TAILQ_HEAD_INITIALIZER(ended);
static struct wait_list waiting = TAILQ_HEAD_INITIALIZER(waiting);
static int nsessions, nended;
static uint64_t next_local_id = 1;
static int64_t last_bytes_us;
static bool batch_in_flight;
static bool rows_changed;		/* a session opened or ended since the last batch was built */
static struct loop_deferred batch_later;
static struct event *batch_timer;
static int64_t last_batch_us;
static int64_t *id_pool;		/* reserved ids: id_pool[id_head .. id_head + id_count) */
static size_t id_head, id_count, id_target = ID_POOL_MIN;
static bool ids_in_flight;
static bool registry_started;		/* session_recover() ran: the schema is there */
static bool ids_wanted;			/* a session opened: keep ids at hand from now on */

static void request_ids(void);
static void send_batch(bool bytes);

static void
batch_later_cb(void *arg)
{
	send_batch(false);
}

static void
batch_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	gw_time_refresh();
	send_batch(false);
}

/*
 * Write what changed after this loop pass, or, if a batch went less than
 * BATCH_SPACING_US ago, when that is over: one session alone is written at
 * once, a crowd shares a statement every 50 ms.
 */
static void
schedule_batch(void)
{
	int64_t wait = last_batch_us + BATCH_SPACING_US - gw_mono_us();
	struct timeval tv = { 0, (suseconds_t)wait };

	if (wait <= 0) {
		loop_defer(&batch_later, batch_later_cb, NULL);
		return;
	}
	if (batch_timer == NULL && (batch_timer = evtimer_new(gw.base, batch_timer_cb, NULL)) == NULL) {
		loop_defer(&batch_later, batch_later_cb, NULL);
		return;
	}
	if (!evtimer_pending(batch_timer, NULL))
		evtimer_add(batch_timer, &tv);
}

/* Something for the table (a session opened or ended, an id came). */
static void
rows_touched(void)
{
	rows_changed = true;
	schedule_batch();
}

static const char *
node_name(void)
{
	return audit_node_name();
}

/* --- audit records ----------------------------------------------------------- */

static void
audit_session(const struct gw_session *s, const char *action, const char *reason)
{
	char actor[96], stamp[40], local[300];
	json_t *detail = json_pack("{s:s, s:s, s:s}", "protocol", s->protocol,
	    "transport", s->transport, "action", policy_action_str(s->action));
	/* A session audited once without its id stays so: its records pair by local_session. */
	struct audit_entry e = {
		.actor = actor, .action = action, .outcome = "ok",
		.authority_id = s->principal.authority_id, .grant_id = s->principal.grant_id,
		.camera_id = s->camera_id, .session_id = s->audit_no_id ? 0 : s->db_id, .peer = s->peer,
		.detail = detail,
	};

	snprintf(actor, sizeof(actor), "grant:%lld:%s", (long long)s->principal.grant_id,
	    s->principal.username);
	/* When it happened, which may be before this record is written (waiting for an id). */
	gw_format_time(reason ? s->ended_wall_us : s->started_wall_us, stamp, sizeof(stamp));
	json_object_set_new(detail, "occurred_at", json_string(stamp));
	if (s->audit_no_id) {
		snprintf(local, sizeof(local), "%s:%llu", node_name(), (unsigned long long)s->local_id);
		json_object_set_new(detail, "local_session", json_string(local));
	}
	if (reason) {
		json_object_set_new(detail, "reason", json_string(reason));
		json_object_set_new(detail, "bytes_sent", json_integer((json_int_t)session_bytes(s)));
		json_object_set_new(detail, "duration_s",
		    json_real((double)(s->ended_wall_us - s->started_wall_us) / 1e6));
		if (s->footage_from_us != 0) {
			char from[40], until[40];

			gw_format_time(s->footage_from_us, from, sizeof(from));
			gw_format_time(s->footage_until_us, until, sizeof(until));
			json_object_set_new(detail, "footage", json_pack("{s:s, s:s}", "from", from, "until", until));
		}
	}
	audit_record(&e);
	json_decref(detail);
}

/* The id came (or will not come for a while): write what waited for it, in order. */
static void
release_audit(struct gw_session *s)
{
	TAILQ_REMOVE(&waiting, s, wait_link);
	s->audit_waits_id = false;
	s->audit_no_id = s->db_id == 0;
	audit_session(s, "session.start", NULL);
	if (s->ended)
		audit_session(s, "session.end", s->end_reason);
}

/* --- the id pool ---------------------------------------------------------------- */

static int64_t
take_id(void)
{
	int64_t id = 0;

	if (id_count > 0) {
		id = id_pool[id_head++];
		id_count--;
	}
	if (id_count < id_target / 2)
		request_ids();
	return id;
}

static void
give_waiting_ids(void)
{
	struct gw_session *s;

	while ((s = TAILQ_FIRST(&waiting)) != NULL) {
		if (s->db_id == 0 && (s->db_id = take_id()) == 0)
			break;
		release_audit(s);
	}
}

static void
on_ids(void *arg, PGresult *res, const char *error)
{
	struct gw_session *s;
	int n;

	ids_in_flight = false;
	if (error != NULL) {
		log_warn("reserving session ids failed: %s", error);
		/* Without the database, do not hold the audit records back: they go to the spool. */
		while ((s = TAILQ_FIRST(&waiting)) != NULL)
			release_audit(s);
		return;
	}
	n = PQntuples(res);
	if (id_head > 0)
		memmove(id_pool, id_pool + id_head, id_count * sizeof(*id_pool));
	id_head = 0;
	id_pool = gw_xrealloc(id_pool, (id_count + (size_t)n) * sizeof(*id_pool));
	for (int i = 0; i < n; i++)
		id_pool[id_count++] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
	give_waiting_ids();
	rows_touched();		/* rows that waited for their ids */
}

static void
request_ids(void)
{
	char n[24];
	const char *params[1] = { n };

	/* Not before the start-up sequence is past the migrations (see session_recover). */
	if (ids_in_flight || !registry_started || !ids_wanted || !db_is_up() || id_count >= id_target)
		return;
	ids_in_flight = true;
	snprintf(n, sizeof(n), "%zu", id_target - id_count);
	db_query("SELECT nextval(pg_get_serial_sequence('sessions', 'id')) FROM generate_series(1, $1::int)",
	    1, params, DB_Q_STARTUP, on_ids, NULL);
}

/* --- opening and ending --------------------------------------------------------------- */

struct gw_session *
session_open(const struct gw_principal *p, int64_t camera_id, enum gw_action action,
    const char *protocol, const char *transport, const char *peer,
    const struct session_ops *ops, void *owner)
{
	struct gw_session *s = gw_xcalloc(1, sizeof(*s));

	s->magic = SESSION_MAGIC;
	s->local_id = next_local_id++;
	s->principal = *p;
	s->camera_id = camera_id;
	s->action = action;
	snprintf(s->protocol, sizeof(s->protocol), "%s", protocol);
	snprintf(s->transport, sizeof(s->transport), "%s", transport);
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	/* A session bound to no camera (event subscription) sees the grant's cameras. */
	if (camera_id != 0)
		snprintf(s->ident, sizeof(s->ident), "S-%llu %s cam=%lld grant=%lld",
		    (unsigned long long)s->local_id, protocol, (long long)camera_id, (long long)p->grant_id);
	else
		snprintf(s->ident, sizeof(s->ident), "S-%llu %s %s grant=%lld",
		    (unsigned long long)s->local_id, protocol, policy_action_str(action),
		    (long long)p->grant_id);
	s->started_wall_us = gw_wall_us();
	s->ops = ops;
	s->owner = owner;
	TAILQ_INSERT_TAIL(&sessions, s, link);
	nsessions++;
	ids_wanted = true;
	s->db_id = take_id();
	if (s->db_id == 0 && db_is_up()) {
		s->audit_waits_id = true;	/* the next block of ids is on its way */
		TAILQ_INSERT_TAIL(&waiting, s, wait_link);
		if (id_target < ID_POOL_MAX)
			id_target *= 2;		/* it ran dry: keep more at hand */
		request_ids();
	} else {
		s->audit_no_id = s->db_id == 0;
		audit_session(s, "session.start", NULL);
	}
	olog_info(s, "started for %s from %s over %s", p->username, peer, transport);
	rows_touched();
	return s;
}

void
session_add_bytes(struct gw_session *s, uint64_t n)
{
	s->bytes_sent += n;
}

void
session_share_counter(struct gw_session *s, const uint64_t *counter)
{
	if (s->shared == counter)
		return;
	session_unshare_counter(s);
	s->shared = counter;
	s->shared_base = counter ? *counter : 0;
}

void
session_unshare_counter(struct gw_session *s)
{
	if (s->shared == NULL)
		return;
	s->bytes_sent += *s->shared - s->shared_base;
	s->shared = NULL;
}

uint64_t
session_bytes(const struct gw_session *s)
{
	return s->bytes_sent + (s->shared ? *s->shared - s->shared_base : 0);
}

static void
session_free(struct gw_session *s)
{
	TAILQ_REMOVE(&ended, s, link);
	nended--;
	free(s->end_reason);
	s->magic = 0;
	free(s);
}

void
session_set_footage(struct gw_session *s, int64_t from_us, int64_t until_us)
{
	s->footage_from_us = from_us;
	s->footage_until_us = until_us;
}

void
session_end(struct gw_session *s, const char *reason)
{
	GW_CHECK(s, SESSION_MAGIC);
	session_unshare_counter(s);
	TAILQ_REMOVE(&sessions, s, link);
	nsessions--;
	s->ended = true;
	s->ended_wall_us = gw_wall_us();
	s->end_reason = gw_xstrdup(reason);
	s->ops = NULL;
	s->owner = NULL;
	TAILQ_INSERT_TAIL(&ended, s, link);
	nended++;
	if (!s->audit_waits_id)
		audit_session(s, "session.end", reason);
	olog_info(s, "ended: %s (%llu bytes sent)", reason, (unsigned long long)s->bytes_sent);
	rows_touched();
}

/* --- batches ---------------------------------------------------------------------------- */

static const char batch_sql[] =
    "WITH ins AS (INSERT INTO sessions AS s (id, node, grant_id, credential_id, authority_id, camera_id,"
    "   protocol, transport, peer, started_at, ended_at, bytes_sent, end_reason, seen_at)"
    "  SELECT r.id, $1, (SELECT id FROM grants WHERE id = r.g),"
    "   (SELECT id FROM grant_credentials WHERE id = r.c), (SELECT id FROM authorities WHERE id = r.a),"
    "   (SELECT id FROM cameras WHERE id = r.cam), r.p, r.t, r.peer, r.s, r.e, r.b, r.why, now()"
    "  FROM json_to_recordset($2::json) AS r(id bigint, g bigint, c bigint, a bigint, cam bigint,"
    "   p text, t text, peer text, s timestamptz, e timestamptz, b bigint, why text)"
    "  ON CONFLICT (id) DO UPDATE SET ended_at = EXCLUDED.ended_at, bytes_sent = EXCLUDED.bytes_sent,"
    "   end_reason = EXCLUDED.end_reason, seen_at = EXCLUDED.seen_at WHERE s.ended_at IS NULL"
    "  RETURNING 1),"
    " upd AS (UPDATE sessions s SET bytes_sent = greatest(s.bytes_sent, r.b), ended_at = r.e,"
    "   end_reason = r.why, seen_at = now()"
    "  FROM json_to_recordset($3::json) AS r(id bigint, b bigint, e timestamptz, why text)"
    "  WHERE s.id = r.id AND s.ended_at IS NULL RETURNING 1)"
    " SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM upd)";

/*
 * The batch's two arrays are written as JSON text directly: thousands of
 * rows as jansson objects would cost megabytes for a moment every time.
 * Strings are escaped; bytes outside ASCII become '?' (peers, protocols and
 * transports are ASCII; a reason is for people), so the text is always
 * valid for PostgreSQL's JSON parser.
 */
static void
put_json_string(struct evbuffer *b, const char *str)
{
	evbuffer_add(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
		if (*p == '"' || *p == '\\')
			evbuffer_add_printf(b, "\\%c", *p);
		else if (*p < 0x20)
			evbuffer_add_printf(b, "\\u%04x", *p);
		else
			evbuffer_add(b, *p < 0x80 ? (const char *)p : "?", 1);
	}
	evbuffer_add(b, "\"", 1);
}

static void
put_time(struct evbuffer *b, bool have, int64_t wall_us)
{
	char stamp[40];

	if (!have) {
		evbuffer_add(b, "null", 4);
		return;
	}
	gw_format_time(wall_us, stamp, sizeof(stamp));
	put_json_string(b, stamp);
}

static void
put_reason(struct evbuffer *b, const struct gw_session *s)
{
	if (s->ended)
		put_json_string(b, s->end_reason ? s->end_reason : "");
	else
		evbuffer_add(b, "null", 4);
}

static void
insert_item(struct evbuffer *b, const struct gw_session *s)
{
	evbuffer_add_printf(b, "%s{\"id\":%lld,\"g\":%lld,\"c\":%lld,\"a\":%lld,\"cam\":", evbuffer_get_length(b) > 1 ?
	    "," : "", (long long)s->db_id, (long long)s->principal.grant_id,
	    (long long)s->principal.credential_id, (long long)s->principal.authority_id);
	if (s->camera_id != 0)
		evbuffer_add_printf(b, "%lld", (long long)s->camera_id);
	else
		evbuffer_add(b, "null", 4);
	evbuffer_add(b, ",\"p\":", 5);
	put_json_string(b, s->protocol);
	evbuffer_add(b, ",\"t\":", 5);
	put_json_string(b, s->transport);
	evbuffer_add(b, ",\"peer\":", 8);
	put_json_string(b, s->peer);
	evbuffer_add(b, ",\"s\":", 5);
	put_time(b, true, s->started_wall_us);
	evbuffer_add(b, ",\"e\":", 5);
	put_time(b, s->ended, s->ended_wall_us);
	evbuffer_add_printf(b, ",\"b\":%llu,\"why\":", (unsigned long long)session_bytes(s));
	put_reason(b, s);
	evbuffer_add(b, "}", 1);
}

static void
update_item(struct evbuffer *b, const struct gw_session *s)
{
	evbuffer_add_printf(b, "%s{\"id\":%lld,\"b\":%llu,\"e\":", evbuffer_get_length(b) > 1 ? "," : "",
	    (long long)s->db_id, (unsigned long long)session_bytes(s));
	put_time(b, s->ended, s->ended_wall_us);
	evbuffer_add(b, ",\"why\":", 7);
	put_reason(b, s);
	evbuffer_add(b, "}", 1);
}

/* Add |s| to the batch if its row needs writing; |bytes|: the periodic byte update is due. */
static void
batch_add(struct session_batch *b, struct evbuffer *ins, struct evbuffer *upd, struct gw_session *s,
    bool bytes)
{
	if (s->in_batch || s->audit_waits_id || b->nrows == BATCH_MAX)
		return;
	/* Audited without an id while the database was down: its row gets one now. */
	if (s->db_id == 0 && (s->db_id = take_id()) == 0)
		return;
	if (!s->saved)
		insert_item(ins, s);
	else if (s->ended || bytes)
		update_item(upd, s);
	else
		return;
	s->in_batch = true;
	s->batch_ends = s->ended;
	b->rows[b->nrows++] = s;
}

static void
on_batch(void *arg, PGresult *res, const char *error)
{
	struct session_batch *b = arg;
	bool refused = error != NULL && db_last_error()->sqlstate[0] != '\0';

	batch_in_flight = false;
	if (refused)
		log_error("the database refused %d session rows; they are dropped: %s", b->nrows, error);
	else if (error != NULL)
		log_warn("writing %d session rows failed: %s; retrying", b->nrows, error);
	for (int i = 0; i < b->nrows; i++) {
		struct gw_session *s = b->rows[i];

		s->in_batch = false;
		if (error != NULL && !refused)
			continue;
		s->saved = true;
		if (s->batch_ends)
			session_free(s);
	}
	free(b->rows);
	free(b);
	if (rows_changed)
		schedule_batch();
}

/* A text of |b|, NUL-terminated (freed by the caller). */
static char *
buffer_text(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *t = gw_xmalloc(n + 1);

	evbuffer_remove(b, t, n);
	t[n] = '\0';
	return t;
}

/* One statement for everything the table does not know yet. */
static void
send_batch(bool bytes)
{
	struct session_batch *b;
	struct evbuffer *ins, *upd;
	struct gw_session *s;
	char *ins_text, *upd_text;
	const char *params[3];

	if (batch_in_flight || !db_is_up() || nsessions + nended == 0)
		return;
	rows_changed = false;
	b = gw_xcalloc(1, sizeof(*b));
	b->rows = gw_xcalloc((size_t)GW_MIN(nsessions + nended, BATCH_MAX), sizeof(*b->rows));
	ins = gw_xevbuffer_new();
	upd = gw_xevbuffer_new();
	evbuffer_add(ins, "[", 1);
	evbuffer_add(upd, "[", 1);
	TAILQ_FOREACH(s, &ended, link)
		batch_add(b, ins, upd, s, false);
	TAILQ_FOREACH(s, &sessions, link)
		batch_add(b, ins, upd, s, bytes);
	evbuffer_add(ins, "]", 1);
	evbuffer_add(upd, "]", 1);
	if (b->nrows == BATCH_MAX)
		rows_changed = true;	/* more than one statement's worth: the next goes on */
	ins_text = buffer_text(ins);
	upd_text = buffer_text(upd);
	evbuffer_free(ins);
	evbuffer_free(upd);
	if (b->nrows == 0) {
		free(b->rows);
		free(b);
	} else {
		params[0] = node_name();
		params[1] = ins_text;
		params[2] = upd_text;
		batch_in_flight = true;
		last_batch_us = gw_mono_us();
		db_query(batch_sql, 3, params, DB_Q_PREPARE, on_batch, b);
	}
	free(ins_text);
	free(upd_text);
}

int
session_writes_pending(void)
{
	struct gw_session *s;
	int n = nended + (batch_in_flight ? 1 : 0) + (ids_in_flight ? 1 : 0);

	TAILQ_FOREACH(s, &sessions, link)
		n += s->db_id != 0 && !s->saved;
	return n;
}

void
session_flush_now(void)
{
	give_waiting_ids();
	send_batch(true);
}

/* --- after a crash ------------------------------------------------------------------------ */

/*
 * The rows an earlier run of this node left open: closed at the last time
 * that run wrote them (seen_at), each with its session.end audit record, in
 * one statement. Runs before this run opens any session.
 */
static const char recover_sql[] =
    "WITH stale AS (UPDATE sessions SET ended_at = greatest(started_at, coalesce(seen_at, started_at)),"
    "   end_reason = $2 WHERE node = $1 AND ended_at IS NULL RETURNING *),"
    " a AS (INSERT INTO audit_log (node, actor, action, outcome, authority_id, grant_id, camera_id,"
    "   session_id, peer, detail)"
    "  SELECT $1, 'grant:' || coalesce(s.grant_id::text, '-') || ':' || coalesce((SELECT username"
    "   FROM grant_credentials c WHERE c.id = s.credential_id), '-'), 'session.end', 'ok',"
    "   s.authority_id, s.grant_id, s.camera_id, s.id, s.peer,"
    "   jsonb_build_object('protocol', s.protocol, 'transport', s.transport, 'reason', s.end_reason,"
    "    'bytes_sent', s.bytes_sent, 'duration_s',"
    "    round(extract(epoch FROM s.ended_at - s.started_at)::numeric, 3),"
    "    'occurred_at', to_char(s.ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"
    "  FROM stale s ORDER BY s.id)"
    " SELECT count(*) FROM stale";

static void
on_recovered(void *arg, PGresult *res, const char *error)
{
	if (error != NULL) {
		log_warn("closing the session rows of an earlier run failed: %s", error);
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "0") != 0)
		log_warn("closed %s session rows left open by an earlier run of node \"%s\" "
		    "(it ended without closing them: killed or crashed)", PQgetvalue(res, 0, 0), node_name());
}

void
session_recover(void)
{
	const char *params[2] = { node_name(),
		"node restarted: the session ended with the previous run of the node" };

	db_query(recover_sql, 2, params, DB_Q_STARTUP | DB_Q_WAIT, on_recovered, NULL);
	registry_started = true;
	request_ids();
}

/* --- the registry's view ---------------------------------------------------------------------- */

/* An owner's close may end other sessions too (they move to the ended list): skip those. */
static void
request_close(struct gw_session *s, const char *reason)
{
	if (s->close_requested || s->ended)
		return;
	s->close_requested = true;
	olog_info(s, "closing: %s", reason);
	s->ops->close(s, reason);
}

/* Closing goes through the owner, which may end the session at once: walk safely. */
void
session_close_all(const char *reason)
{
	struct gw_session *s, *next;

	for (s = TAILQ_FIRST(&sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, link);
		request_close(s, reason);
	}
}

bool
session_request_end(int64_t db_id, const char *reason)
{
	struct gw_session *s;

	TAILQ_FOREACH(s, &sessions, link)
		if (s->db_id == db_id) {
			request_close(s, reason);
			return true;
		}
	return false;
}

int
session_count(void)
{
	return nsessions;
}

void
session_foreach(void (*fn)(const struct gw_session *s, void *arg), void *arg)
{
	struct gw_session *s;

	TAILQ_FOREACH(s, &sessions, link)
		fn(s, arg);
}

/*
 * A session not bound to one camera (camera_id 0, an ONVIF event
 * subscription) lives as long as its grant is alive and holds a level that
 * permits its action (model_authorize_grant); what it may see of each
 * camera is checked by its owner message by message.
 */
/* Closing goes through the owner, which may end the session at once: walk safely. */
void
session_recheck_all(void)
{
	struct gw_session *s, *next;
	struct policy_request req = { .now_us = gw_wall_us() };

	for (s = TAILQ_FIRST(&sessions); s != NULL; s = next) {
		struct policy_decision d;

		next = TAILQ_NEXT(s, link);
		if (s->close_requested || s->ended)
			continue;
		req.action = s->action;
		d = s->camera_id == 0 ? model_authorize_grant(&s->principal, &req) :
		    model_authorize(&s->principal, s->camera_id, &req);
		if (!d.allow)
			request_close(s, policy_reason_str(d.reason));
	}
}

static void
session_janitor(int64_t now)
{
	bool bytes = now - last_bytes_us >= SESSION_FLUSH_S * 1000000LL;

	session_recheck_all();
	if (bytes && !batch_in_flight)
		last_bytes_us = now;
	if (id_count < id_target / 2)
		request_ids();
	send_batch(bytes);
}

static void
on_end_notify(const char *payload)
{
	int64_t id = strtoll(payload, NULL, 10);

	if (id > 0)
		session_request_end(id, "ended by an administrator");
}

void
session_init(void)
{
	model_on_change(session_recheck_all);
	loop_janitor_add(session_janitor);
	db_listen("vssgate_session", on_end_notify);
}

void
session_shutdown(void)
{
	struct gw_session *s;

	/* Owners ended their sessions when their connections closed; rows not written wait for the next start. */
	while ((s = TAILQ_FIRST(&sessions)) != NULL) {
		TAILQ_REMOVE(&sessions, s, link);
		nsessions--;
		free(s);
	}
	while ((s = TAILQ_FIRST(&ended)) != NULL)
		session_free(s);
	loop_defer_cancel(&batch_later);
	if (batch_timer != NULL)
		event_free(batch_timer);
	batch_timer = NULL;
	free(id_pool);
	id_pool = NULL;
	id_head = id_count = 0;
}
