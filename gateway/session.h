/*
 * session.h - the registry of live sessions (an authority watching a camera,
 * an ONVIF subscription, ...), whatever the protocol.
 *
 * The registry is what makes grants bite after the fact: on every model
 * change and every janitor tick it asks the policy again for each session,
 * and closes the ones that are no longer allowed (revoked, expired, out of
 * scope), through the owner's close operation. It also keeps the sessions
 * table of the database and the audit log up to date: one row per session,
 * an audit record at start and at end with the bytes sent.
 *
 * Ownership: the protocol module that opened a session owns it. It calls
 * session_end() exactly once when the session is over, for whatever reason
 * (including after the registry asked it to close); from then on the
 * pointer is the registry's, which frees it once its row is final in the
 * database. The owner must not use it after session_end().
 *
 * Rows are written in batches, one statement per janitor tick for all the
 * sessions that opened or ended (and every SESSION_FLUSH_S the bytes of
 * the open ones), so the table follows within a second however many
 * sessions there are. Ids are reserved from the table's sequence ahead of
 * need, so a session has its id (db_id) when it opens: its session.start
 * and session.end audit records name it. A node that starts closes the rows
 * an earlier run of it left open (kill -9, crash, power loss), each with a
 * session.end audit record; so [daemon] node_name must be unique among the
 * nodes that share a database.
 */
#ifndef GW_SESSION_H
#define GW_SESSION_H

#include "gw.h"
#include "model.h"
#include "policy.h"

#define SESSION_MAGIC 0x73657373U	/* "sess" */

struct gw_session;

struct session_ops {
	/* The policy no longer allows the session (or an admin ended it): close it soon. */
	void (*close)(struct gw_session *s, const char *reason);
};

struct gw_session {
	uint32_t magic;
	uint64_t local_id;		/* unique in this process */
	int64_t db_id;			/* sessions.id, reserved ahead; 0 while none was at hand */
	struct gw_principal principal;
	int64_t camera_id;		/* 0: not bound to one camera; the grant alone is checked */
	enum gw_action action;		/* what the session does, re-checked continuously */
	char protocol[16];		/* "rtsp", "onvif" */
	char transport[16];		/* "udp", "tcp", "http", "websocket", "multicast", "tls" */
	char peer[64];
	int64_t started_wall_us;
	uint64_t bytes_sent;		/* counted by the owner (session_add_bytes) */
	const uint64_t *shared;		/* a shared sender's running total, or NULL */
	int64_t footage_from_us;	/* replay: the capture times of what was sent (0: none) */
	int64_t footage_until_us;
	uint64_t shared_base;		/* its value when this session joined */
	const struct session_ops *ops;
	void *owner;
	bool close_requested;
	char ident[96];			/* "S-12 rtsp cam=3 grant=7" */
	/* The row and the audit records, kept by session.c. */
	bool ended;			/* session_end() ran: the owner is gone */
	bool saved;			/* the row is in the table */
	bool in_batch;			/* the statement in flight writes this row */
	bool batch_ends;		/* ... and closes it */
	bool audit_waits_id;		/* the audit records wait for db_id */
	bool audit_no_id;		/* audited without an id (database down) */
	int64_t ended_wall_us;
	char *end_reason;		/* once ended */
	TAILQ_ENTRY(gw_session) link;	/* live list, then ended list */
	TAILQ_ENTRY(gw_session) wait_link;	/* sessions waiting for an id */
};

void session_init(void);
void session_shutdown(void);

/*
 * Open a session (the caller already authorised it). Records it in the
 * database and the audit log. Returns the new session, owned by the caller.
 */
struct gw_session *session_open(const struct gw_principal *p, int64_t camera_id,
    enum gw_action action, const char *protocol, const char *transport, const char *peer,
    const struct session_ops *ops, void *owner);
/* Account bytes sent to the peer (media and control). */
void session_add_bytes(struct gw_session *s, uint64_t n);
/* Recorded footage sent (replay): its first and last capture times, for the session.end record. */
void session_set_footage(struct gw_session *s, int64_t from_us, int64_t until_us);
/*
 * The session's media go out through a sender it shares with others (a
 * multicast group): what the sender sends from now on counts for this
 * session too. |counter| is the sender's running total; it must stay valid
 * until session_unshare_counter() or session_end(). Sharing the same
 * counter again changes nothing.
 */
void session_share_counter(struct gw_session *s, const uint64_t *counter);
/* Before the shared sender goes: fold what it sent into the session's bytes. */
void session_unshare_counter(struct gw_session *s);
/* Bytes sent so far, shared sender included. */
uint64_t session_bytes(const struct gw_session *s);
/* The session is over; |reason| goes to the audit log. The owner lets go of |s|. */
void session_end(struct gw_session *s, const char *reason);

/* Ask the owners of every session to close it (shutdown). */
void session_close_all(const char *reason);
/* Ask the owner of a local session to close it (admin action). Returns false if unknown. */
bool session_request_end(int64_t db_id, const char *reason);

int session_count(void);
/* Rows and ids not yet written (shutdown waits for them while the database is up). */
int session_writes_pending(void);
/* Write what is pending now, without waiting for the next tick (shutdown). */
void session_flush_now(void);
/*
 * Start-up, before any session opens: close the rows an earlier run of this
 * node left open, each with a session.end audit record (a startup query).
 */
void session_recover(void);
/* Visit each open session (do not end sessions from |fn|). */
void session_foreach(void (*fn)(const struct gw_session *s, void *arg), void *arg);
/* Re-check every session against the policy now. */
void session_recheck_all(void);

#endif
