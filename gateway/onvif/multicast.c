/*
 * multicast.c - StartMulticastStreaming and StopMulticastStreaming (Media2
 * and Media v1): RTP of a profile's camera to the group configured on the
 * camera, without an RTSP session, until the authority stops it, deletes
 * the profile, or its grant no longer allows it.
 *
 * A started multicast is keyed by authority and profile token (profiles
 * belong to the authority), holds one reference on the camera's shared
 * sender (mcast_join, which RTSP multicast sessions share too) and
 * is a session in the registry: revocation and expiry stop it, and its
 * start and end go to the audit log like any other viewing.
 *
 * States: MC_STARTING (the camera's source is being started; the SOAP
 * request is parked until it is known), MC_STREAMING, MC_FAILED (the
 * start failed; answered and freed after the current loop pass, because
 * the source may report at once, inside source_get()).
 *
 * Ownership: this file owns every struct onvif_mcast; the registry session
 * is ended exactly once, in mcast_end().
 */
#include "gateway/gw.h"
#include "gateway/http.h"
#include "gateway/log.h"
#include "gateway/loop.h"
#include "gateway/session.h"
#include "gateway/media/mcast.h"
#include "gateway/media/source.h"
#include "gateway/onvif/onvif.h"
#include "gateway/onvif/media2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MCAST_MAGIC 0x6d636173U		/* "mcas" */

enum mcast_state {
	MC_STARTING,
	MC_STREAMING,
	MC_FAILED,
};

struct onvif_mcast {
	uint32_t magic;
	enum mcast_state state;
	int64_t authority_id;
	char token[48];
	int64_t camera_id;
	struct gw_principal principal;	/* who started it */
	struct source_wait *wait;	/* MC_STARTING */
	struct onvif_req *parked;	/* MC_STARTING: the Start request, answered when the source is known */
	struct mcast_group *group;	/* MC_STREAMING: one reference */
	struct gw_session *session;
	struct loop_deferred fail;	/* MC_FAILED */
	bool not_permitted;		/* MC_FAILED: the grant does not cover every track */
	char why[128];			/* MC_FAILED */
	TAILQ_ENTRY(onvif_mcast) link;
};

static TAILQ_HEAD(, onvif_mcast) mcasts = TAILQ_HEAD_INITIALIZER(mcasts);

static const char *
response_tag(const struct onvif_req *r, bool start)
{
	bool v1 = r->path_svc == SVC_MEDIA1 || strcmp(r->msg.op_ns, NS_TRT) == 0;

	if (start)
		return v1 ? "trt:StartMulticastStreamingResponse" : "tr2:StartMulticastStreamingResponse";
	return v1 ? "trt:StopMulticastStreamingResponse" : "tr2:StopMulticastStreamingResponse";
}

static struct onvif_mcast *
find(int64_t authority_id, const char *token)
{
	struct onvif_mcast *m;

	TAILQ_FOREACH(m, &mcasts, link)
		if (m->authority_id == authority_id && strcmp(m->token, token) == 0)
			return m;
	return NULL;
}

/* The one way out: answers a parked Start with |fault| (if any), drops everything, frees |m|. */
static void
mcast_end(struct onvif_mcast *m, const char *reason, const char *fault)
{
	GW_CHECK(m, MCAST_MAGIC);
	TAILQ_REMOVE(&mcasts, m, link);
	loop_defer_cancel(&m->fail);
	if (m->wait != NULL)
		source_wait_cancel(m->wait);
	if (m->parked != NULL)
		onvif_fault(m->parked, 0, "env:Receiver", "ter:Action", "ter:IncompleteConfiguration",
		    fault ? fault : reason);
	session_unshare_counter(m->session);	/* before the group may go */
	if (m->group != NULL)
		mcast_leave(m->group);
	session_end(m->session, reason);
	m->magic = 0;
	free(m);
}

static void
session_close(struct gw_session *s, const char *reason)
{
	mcast_end(s->owner, reason, NULL);
}

static const struct session_ops mcast_session_ops = { .close = session_close };

static void
finish_failed(void *arg)
{
	struct onvif_mcast *m = arg;
	struct onvif_req *r = m->parked;

	GW_CHECK(m, MCAST_MAGIC);
	olog_info(m->session, "multicast not started: %s", m->why);
	if (m->not_permitted) {
		m->parked = NULL;
		onvif_fault_not_authorized(r, m->why);
		mcast_end(m, "multicast not permitted", NULL);
	} else {
		mcast_end(m, "multicast not started", m->why);
	}
}

static void
source_ready(void *arg, struct hub *hub, const char *error)
{
	struct onvif_mcast *m = arg;
	struct onvif_req *r = m->parked;
	const char *why = error ? error : "the camera's source is unavailable";

	GW_CHECK(m, MCAST_MAGIC);
	m->wait = NULL;
	if (hub != NULL && !mcast_allowed(&m->principal, hub)) {
		m->not_permitted = true;
		why = "the group would carry tracks this grant does not cover";
	} else if (hub != NULL && (m->group = mcast_join(&m->principal, hub, &why)) != NULL) {
		m->state = MC_STREAMING;
		m->parked = NULL;
		session_share_counter(m->session, mcast_counter(m->group));	/* the group's bytes */
		olog_info(m->session, "multicast started by profile %s", m->token);
		m2_empty_reply(r, response_tag(r, true));
		return;
	}
	/* Not here: this may run inside source_get(), which start_cont() still returns from. */
	m->state = MC_FAILED;
	snprintf(m->why, sizeof(m->why), "%s", why);
	loop_defer(&m->fail, finish_failed, m);
}

static void
start_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	struct onvif_profile p;
	const struct view_cam *vc = m2_stream_profile(r, v, st, &p);
	struct onvif_mcast *m;

	if (vc == NULL)
		return;
	if ((m = find(r->principal.authority_id, p.token)) != NULL && m->state == MC_STREAMING) {
		m2_empty_reply(r, response_tag(r, true));	/* already started: nothing changes */
		return;
	}
	if (m != NULL) {
		onvif_fault(r, 0, "env:Receiver", "ter:Action", "ter:IncompleteConfiguration",
		    "the multicast of this profile is starting or has just failed");
		return;
	}
	/* The session below is for live video: without it the registry would close it at once. */
	if (!(vc->caps & CAP_VIDEO)) {
		onvif_fault_not_authorized(r, "the group carries video, which this grant does not cover");
		return;
	}
	if (vc->cam->multicast_group == NULL || vc->cam->multicast_port == 0) {
		onvif_fault(r, 0, "env:Receiver", "ter:Action", "ter:IncompleteConfiguration",
		    "the camera has no multicast group");
		return;
	}
	m = gw_xcalloc(1, sizeof(*m));
	m->magic = MCAST_MAGIC;
	m->state = MC_STARTING;
	m->authority_id = r->principal.authority_id;
	snprintf(m->token, sizeof(m->token), "%s", p.token);
	m->camera_id = p.camera_id;
	m->principal = r->principal;
	m->parked = r;
	m->session = session_open(&r->principal, p.camera_id, ACT_LIVE_VIDEO, "onvif", "multicast",
	    r->http->peer, &mcast_session_ops, m);
	TAILQ_INSERT_TAIL(&mcasts, m, link);
	/* NULL when source_ready ran at once. */
	m->wait = source_get(p.camera_id, source_ready, m);
}

static void
stop_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	struct onvif_profile p;
	struct onvif_mcast *m;

	if (m2_stream_profile(r, v, st, &p) == NULL)
		return;
	if ((m = find(r->principal.authority_id, p.token)) != NULL)
		mcast_end(m, "multicast stopped", "the multicast was stopped");
	/* Stopping what is not started changes nothing: not a fault. */
	m2_empty_reply(r, response_tag(r, false));
}

void
m2_start_multicast(struct onvif_req *r)
{
	onvif_with_view(r, start_cont);
}

void
m2_stop_multicast(struct onvif_req *r)
{
	onvif_with_view(r, stop_cont);
}

void
onvif_mcast_profile_deleted(int64_t authority_id, const char *token)
{
	struct onvif_mcast *m = find(authority_id, token);

	if (m != NULL)
		mcast_end(m, "profile deleted", "the profile was deleted");
}

void
onvif_mcast_shutdown(void)
{
	while (!TAILQ_EMPTY(&mcasts))
		mcast_end(TAILQ_FIRST(&mcasts), "shutting down", "the gateway is shutting down");
}
