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
 * (including after the registry asked it to close); session_end() frees it.
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
	int64_t db_id;			/* sessions.id; 0 until the insert returned */
	struct gw_principal principal;
	int64_t camera_id;		/* 0: not bound to one camera; the grant alone is checked */
	enum gw_action action;		/* what the session does, re-checked continuously */
	char protocol[16];		/* "rtsp", "onvif" */
	char transport[16];		/* "udp", "tcp", "http", "websocket", "multicast", "tls" */
	char peer[64];
	int64_t started_wall_us;
	uint64_t bytes_sent;
	const struct session_ops *ops;
	void *owner;
	bool close_requested;
	struct session_insert *insert;	/* database insert in flight, or NULL */
	char ident[96];			/* "S-12 rtsp cam=3 grant=7" */
	TAILQ_ENTRY(gw_session) link;
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
/* The session is over; |reason| goes to the audit log. Frees |s|. */
void session_end(struct gw_session *s, const char *reason);

/* Ask the owner of a local session to close it (admin action). Returns false if unknown. */
bool session_request_end(int64_t db_id, const char *reason);

int session_count(void);
/* Visit each open session (do not end sessions from |fn|). */
void session_foreach(void (*fn)(const struct gw_session *s, void *arg), void *arg);
/* Re-check every session against the policy now. */
void session_recheck_all(void);

#endif
