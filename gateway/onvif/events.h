/*
 * events.h - what events.c (subscriptions, messages) and events_ops.c (the
 * SOAP operations of the Event service) share.
 */
#ifndef GW_ONVIF_EVENTS_H
#define GW_ONVIF_EVENTS_H

#include "gateway/loop.h"
#include "onvif.h"

/* One rendered wsnt:NotificationMessage, shared by the queues that hold it. */
struct ev_msg {
	int refcnt;
	enum ev_topic topic;
	int64_t camera_id;		/* 0: about no camera */
	int64_t authority_id;		/* 0: for anyone who sees the camera */
	unsigned need_caps;		/* CAP_* the subscriber's levels must give */
	unsigned deny_caps;		/* CAP_* that hide it (the metadata-only twin of a video message) */
	size_t msg_off, msg_len;	/* the tt:Message inside xml, for content filters */
	size_t len;
	char xml[];
};

struct cam_state {
	int64_t camera_id;
	bool seen;
	bool online;
	int readers;
};

struct pullpoint {
	uint32_t magic;
	char id[33];			/* 128 random bits, hex: the last segment of its address */
	struct gw_principal principal;
	struct gw_session *session;
	unsigned topics;		/* 1 << enum ev_topic */
	void *content;			/* compiled XPath of the message content filter, or NULL */
	int64_t created_us;		/* wall clock */
	int64_t termination_us;		/* wall clock */
	struct ev_msg **queue;		/* ring of cap entries */
	int head, count, cap;
	uint64_t dropped;
	struct onvif_req *parked;	/* a PullMessages waiting for messages */
	int parked_limit;
	int64_t parked_deadline_us;	/* monotonic */
	struct loop_deferred answer;
	bool closing;
	TAILQ_ENTRY(pullpoint) link;
};

const char *pullpoint_topic_path(enum ev_topic t);
struct pullpoint *pullpoint_create(const struct onvif_req *r, unsigned topics, void *content,
    int64_t termination_us, bool changed_only, const char **why);
/* The subscription of r->subscription owned by r's principal, or NULL. */
struct pullpoint *pullpoint_find(const struct onvif_req *r);
void pullpoint_end(struct pullpoint *pp, const char *reason);
/* Is a PullMessages already waiting on |pp| (from a client still connected)? */
bool pullpoint_busy(struct pullpoint *pp);
void pullpoint_pull(struct pullpoint *pp, struct onvif_req *r, int64_t timeout_us, int limit);
/* Queue the current state of the property topics again (SetSynchronizationPoint). */
void pullpoint_resync(struct pullpoint *pp);

#endif
