/*
 * session.c - the registry of live sessions (see session.h).
 *
 * Database rows: inserted at open (the id comes back asynchronously), bytes
 * flushed every SESSION_FLUSH_S seconds, closed at end. A session that ends
 * before its insert returned leaves its end in the insert's context, and
 * the insert's callback closes the row. Admins on any node end a session
 * with NOTIFY vssgate_session '<sessions.id>'.
 */
#include "gw.h"
#include "audit.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "loop.h"
#include "model.h"
#include "session.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SESSION_FLUSH_S 5

TAILQ_HEAD(session_list, gw_session);

/* Owned by the database callback once the session has ended. */
struct session_insert {
	struct gw_session *session;	/* NULL once the session ended */
	bool ended;
	uint64_t bytes;
	char reason[128];
};

static struct session_list sessions = TAILQ_HEAD_INITIALIZER(sessions);
static int nsessions;
static uint64_t next_local_id = 1;
static int64_t last_flush_us;

static const char *
node_name(void)
{
	static char host[256];

	if (gw.cfg->node_name[0] != '\0')
		return gw.cfg->node_name;
	if (host[0] == '\0' && gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "vssgated");
	return host;
}

static void
log_db_error(void *arg, PGresult *res, const char *error)
{
	if (error)
		log_warn("updating the sessions table failed: %s", error);
}

static void
write_end_row(int64_t db_id, uint64_t bytes, const char *reason)
{
	char id[24], b[24];
	const char *params[3] = { id, b, reason };

	snprintf(id, sizeof(id), "%lld", (long long)db_id);
	snprintf(b, sizeof(b), "%llu", (unsigned long long)bytes);
	db_query("UPDATE sessions SET ended_at = now(), bytes_sent = $2, end_reason = $3 WHERE id = $1",
	    3, params, DB_Q_WAIT, log_db_error, NULL);
}

static void
on_inserted(void *arg, PGresult *res, const char *error)
{
	struct session_insert *ins = arg;
	int64_t id;

	if (error != NULL) {
		log_warn("recording a session in the database failed: %s", error);
	} else {
		id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		if (ins->ended)
			write_end_row(id, ins->bytes, ins->reason);
		else
			ins->session->db_id = id;
	}
	if (ins->session)
		ins->session->insert = NULL;
	free(ins);
}

static void
insert_row(struct gw_session *s)
{
	struct session_insert *ins = gw_xcalloc(1, sizeof(*ins));
	char grant[24], cred[24], auth[24], cam[24];
	/* camera_id 0: a session not bound to one camera (an event subscription). */
	const char *params[8] = { node_name(), grant, cred, auth, s->camera_id ? cam : NULL,
	    s->protocol, s->transport, s->peer };

	snprintf(grant, sizeof(grant), "%lld", (long long)s->principal.grant_id);
	snprintf(cred, sizeof(cred), "%lld", (long long)s->principal.credential_id);
	snprintf(auth, sizeof(auth), "%lld", (long long)s->principal.authority_id);
	snprintf(cam, sizeof(cam), "%lld", (long long)s->camera_id);
	ins->session = s;
	s->insert = ins;
	db_query("INSERT INTO sessions (node, grant_id, credential_id, authority_id, camera_id, protocol,"
	    " transport, peer) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
	    8, params, 0, on_inserted, ins);
}

static void
audit_session(const struct gw_session *s, const char *action, const char *reason)
{
	char actor[96];
	json_t *detail = json_pack("{s:s, s:s, s:s}", "protocol", s->protocol,
	    "transport", s->transport, "action", policy_action_str(s->action));
	struct audit_entry e = {
		.actor = actor, .action = action, .outcome = "ok",
		.authority_id = s->principal.authority_id, .grant_id = s->principal.grant_id,
		.camera_id = s->camera_id, .session_id = s->db_id, .peer = s->peer,
		.detail = detail,
	};

	snprintf(actor, sizeof(actor), "grant:%lld:%s", (long long)s->principal.grant_id,
	    s->principal.username);
	if (reason) {
		json_object_set_new(detail, "reason", json_string(reason));
		json_object_set_new(detail, "bytes_sent", json_integer((json_int_t)s->bytes_sent));
		json_object_set_new(detail, "duration_s",
		    json_real((double)(gw_wall_us() - s->started_wall_us) / 1e6));
	}
	audit_record(&e);
	json_decref(detail);
}

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
	snprintf(s->ident, sizeof(s->ident), "S-%llu %s cam=%lld grant=%lld",
	    (unsigned long long)s->local_id, protocol, (long long)camera_id, (long long)p->grant_id);
	s->started_wall_us = gw_wall_us();
	s->ops = ops;
	s->owner = owner;
	TAILQ_INSERT_TAIL(&sessions, s, link);
	nsessions++;
	insert_row(s);
	audit_session(s, "session.start", NULL);
	olog_info(s, "started for %s from %s over %s", p->username, peer, transport);
	return s;
}

void
session_add_bytes(struct gw_session *s, uint64_t n)
{
	s->bytes_sent += n;
}

void
session_end(struct gw_session *s, const char *reason)
{
	GW_CHECK(s, SESSION_MAGIC);
	TAILQ_REMOVE(&sessions, s, link);
	nsessions--;
	audit_session(s, "session.end", reason);
	olog_info(s, "ended: %s (%llu bytes sent)", reason, (unsigned long long)s->bytes_sent);
	if (s->db_id != 0) {
		write_end_row(s->db_id, s->bytes_sent, reason);
	} else if (s->insert != NULL) {
		s->insert->session = NULL;
		s->insert->ended = true;
		s->insert->bytes = s->bytes_sent;
		snprintf(s->insert->reason, sizeof(s->insert->reason), "%s", reason);
	}
	s->magic = 0;
	free(s);
}

static void
request_close(struct gw_session *s, const char *reason)
{
	if (s->close_requested)
		return;
	s->close_requested = true;
	olog_info(s, "closing: %s", reason);
	s->ops->close(s, reason);
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
		if (s->close_requested)
			continue;
		req.action = s->action;
		d = s->camera_id == 0 ? model_authorize_grant(&s->principal, &req) :
		    model_authorize(&s->principal, s->camera_id, &req);
		if (!d.allow)
			request_close(s, policy_reason_str(d.reason));
	}
}

/* Bytes of open sessions, so that other nodes and the API see them grow. */
static void
flush_bytes(void)
{
	struct gw_session *s;
	json_t *ids = json_array(), *bytes = json_array();
	char *a, *b;
	const char *params[2];

	TAILQ_FOREACH(s, &sessions, link)
		if (s->db_id != 0) {
			json_array_append_new(ids, json_integer(s->db_id));
			json_array_append_new(bytes, json_integer((json_int_t)s->bytes_sent));
		}
	if (json_array_size(ids) > 0 && db_is_up()) {
		a = json_dumps(ids, JSON_COMPACT);
		b = json_dumps(bytes, JSON_COMPACT);
		params[0] = a;
		params[1] = b;
		db_query("UPDATE sessions s SET bytes_sent = u.b FROM"
		    " (SELECT unnest(ARRAY(SELECT json_array_elements_text($1::json)::bigint)) AS id,"
		    "         unnest(ARRAY(SELECT json_array_elements_text($2::json)::bigint)) AS b) u"
		    " WHERE s.id = u.id", 2, params, 0, log_db_error, NULL);
		free(a);
		free(b);
	}
	json_decref(ids);
	json_decref(bytes);
}

static void
session_janitor(int64_t now)
{
	session_recheck_all();
	if (now - last_flush_us >= SESSION_FLUSH_S * 1000000LL) {
		last_flush_us = now;
		flush_bytes();
	}
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
	/* Owners end their sessions when their connections close. */
}
