/*
 * events.c - the Event service (tev): PullPoint subscriptions.
 *
 * A subscription belongs to the grant credentials that created it; its
 * address (/onvif/events_service/pullpoint/<128-bit random id>) is useless
 * to anyone else, and it is a session in gateway/session.h (not bound to a
 * camera), so a grant that is revoked or expires, or loses its event
 * level, ends it within a janitor tick.
 *
 * Messages are rendered once (struct ev_msg, reference-counted) and queued
 * by reference on every subscription that may see them: the authority's
 * own profile changes, and what happens to cameras its grant covers with a
 * level that permits events (1M or 3), cut further to what its levels show
 * (video profiles only to video levels). Queues are bounded: the oldest
 * message goes first. Subscriptions are bounded in total and per
 * principal, and expire at their termination time (janitor).
 *
 * PullMessages never blocks the loop: without messages the request is
 * parked on its subscription and answered when a message arrives (after the
 * loop pass that queued it, so simultaneous messages go out together) or
 * at its timeout.
 *
 * Topics: tns1:Media/ProfileChanged, tns1:Media/ConfigurationChanged,
 * tns1:Monitoring/Profile/ActiveConnections (property) and
 * tns1:VideoSource/SignalLoss (property: a camera's source goes offline or
 * comes back), the last two from polling the hub's camera status, and
 * tns1:Monitoring/AsynchronousOperationStatus (property: the progress of an
 * authority's ExportRecordedData, for that authority alone). What
 * concerns a recorded camera also goes to evstore.c for Recording Search,
 * so the status is polled while a camera is recorded, subscribers or not.
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/conn.h"
#include "gateway/http.h"
#include "gateway/log.h"
#include "gateway/loop.h"
#include "gateway/media.h"
#include "gateway/session.h"
#include "onvif.h"
#include "events.h"
#include "search.h"

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PULLPOINT_MAGIC 0x70756c6cU	/* "pull" */
#define MAX_MESSAGE_LIMIT 1000
#define CONTENT_FILTER_MAX 1024

static const char *const topic_paths[TOPIC_COUNT] = {
	"Media/ProfileChanged",
	"Media/ConfigurationChanged",
	"Monitoring/Profile/ActiveConnections",
	"VideoSource/SignalLoss",
	"Monitoring/AsynchronousOperationStatus",
};

static TAILQ_HEAD(, pullpoint) pullpoints = TAILQ_HEAD_INITIALIZER(pullpoints);
static int npullpoints;
static int64_t last_poll_us;
static struct cam_state *states;	/* last polled status per camera, sorted by id */
static int nstates;
static uint64_t messages_made, messages_dropped;

const char *
pullpoint_topic_path(enum ev_topic t)
{
	return topic_paths[t];
}

/* --- messages ------------------------------------------------------------------------------ */

static void
msg_unref(struct ev_msg *m)
{
	if (m != NULL && --m->refcnt == 0)
		free(m);
}

/* A message from its rendered tt:Message (Source and Data written by the caller). */
static struct ev_msg *
msg_new(enum ev_topic topic, const char *property_op, const struct xmlw *body)
{
	static const char tail[] = "</wsnt:Message></wsnt:NotificationMessage>";
	struct xmlw w;
	struct ev_msg *m;
	char now[40];
	size_t start;

	onvif_now(now, sizeof(now));
	xmlw_init(&w);
	xmlw_lit(&w, "<wsnt:NotificationMessage><wsnt:Topic Dialect=\""
	    "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet\">tns1:");
	xmlw_lit(&w, topic_paths[topic]);
	xmlw_lit(&w, "</wsnt:Topic><wsnt:Message>");
	start = w.len;
	xmlw_open_attr(&w, "tt:Message", "UtcTime", now);
	if (property_op != NULL)
		xmlw_attr(&w, "PropertyOperation", property_op);
	xmlw_lit(&w, ">");
	xmlw_lit(&w, body->p);
	xmlw_lit(&w, "</tt:Message>");
	xmlw_lit(&w, tail);
	if (xmlw_result(&w) < 0)
		gw_out_of_memory(w.cap);
	m = gw_xcalloc(1, sizeof(*m) + w.len + 1);
	memcpy(m->xml, w.p, w.len + 1);
	m->len = w.len;
	m->msg_off = start;
	m->msg_len = w.len - start - (sizeof(tail) - 1);
	xmlw_free(&w);
	m->refcnt = 1;
	m->topic = topic;
	messages_made++;
	return m;
}

static void
simple_item(struct xmlw *w, const char *name, const char *value)
{
	xmlw_open_attr(w, "tt:SimpleItem", "Name", name);
	xmlw_attr(w, "Value", value);
	xmlw_lit(w, "/>");
}

/* --- visibility and filters --------------------------------------------------------------- */

static bool
visible(const struct pullpoint *pp, const struct ev_msg *m)
{
	struct policy_request req = { .action = ACT_EVENTS, .now_us = gw_wall_us() };
	unsigned caps;

	if (m->authority_id != 0 && m->authority_id != pp->principal.authority_id)
		return false;
	if (m->camera_id == 0)
		return true;
	if (!model_authorize(&pp->principal, m->camera_id, &req).allow)
		return false;
	caps = model_caps(&pp->principal);
	return (caps & m->need_caps) == m->need_caps && (caps & m->deny_caps) == 0;
}

/* Evaluate the subscription's message content filter on the message (tt:Message). */
static bool
content_matches(const struct pullpoint *pp, const struct ev_msg *m)
{
	static const char open[] = "<w xmlns:tt=\"" NS_TT "\" xmlns:tns1=\"" NS_TNS1 "\">";
	char *text;
	size_t n = strlen(open) + m->msg_len + 5;
	xmlDoc *doc;
	xmlXPathContext *ctx;
	xmlXPathObject *res;
	bool hit = false;

	if (pp->content == NULL)
		return true;
	text = gw_xmalloc(n);
	snprintf(text, n, "%s%.*s</w>", open, (int)m->msg_len, m->xml + m->msg_off);
	doc = xmlReadMemory(text, (int)strlen(text), NULL, "UTF-8", XML_PARSE_NONET | XML_PARSE_NOERROR |
	    XML_PARSE_NOWARNING);
	free(text);
	if (doc == NULL)
		return false;
	ctx = xmlXPathNewContext(doc);
	if (ctx != NULL) {
		xmlXPathRegisterNs(ctx, BAD_CAST "tt", BAD_CAST NS_TT);
		xmlXPathRegisterNs(ctx, BAD_CAST "tns1", BAD_CAST NS_TNS1);
		xmlXPathRegisterNs(ctx, BAD_CAST "wsnt", BAD_CAST NS_WSNT);
		ctx->node = xmlDocGetRootElement(doc);
		res = xmlXPathCompiledEval(pp->content, ctx);
		hit = res != NULL && xmlXPathCastToBoolean(res);
		xmlXPathFreeObject(res);
		xmlXPathFreeContext(ctx);
	}
	xmlFreeDoc(doc);
	return hit;
}

static bool
wanted(const struct pullpoint *pp, const struct ev_msg *m)
{
	return (pp->topics & (1u << m->topic)) && visible(pp, m) && content_matches(pp, m);
}

/* --- queues and pulls --------------------------------------------------------------------- */

static void
enqueue(struct pullpoint *pp, struct ev_msg *m)
{
	int cap = gw.cfg->onvif_event_queue_max;

	if (pp->cap < cap && pp->count == pp->cap) {
		/* Grow in place of the ring; it only grows while nothing has wrapped. */
		int ncap = GW_MIN(cap, pp->cap ? pp->cap * 2 : 8);
		struct ev_msg **q = gw_xcalloc((size_t)ncap, sizeof(*q));

		for (int i = 0; i < pp->count; i++)
			q[i] = pp->queue[(pp->head + i) % pp->cap];
		free(pp->queue);
		pp->queue = q;
		pp->cap = ncap;
		pp->head = 0;
	}
	if (pp->count == pp->cap) {
		msg_unref(pp->queue[pp->head]);		/* full: the oldest goes */
		pp->head = (pp->head + 1) % pp->cap;
		pp->count--;
		pp->dropped++;
		messages_dropped++;
	}
	m->refcnt++;
	pp->queue[(pp->head + pp->count) % pp->cap] = m;
	pp->count++;
}

static void
write_times(struct xmlw *w, const struct pullpoint *pp, const char *prefix)
{
	char now[40], term[40];

	onvif_now(now, sizeof(now));
	soap_format_datetime(pp->termination_us, term, sizeof(term));
	xmlw_fmt(w, "<%s:CurrentTime>", prefix);
	xmlw_esc(w, now);
	xmlw_fmt(w, "</%s:CurrentTime><%s:TerminationTime>", prefix, prefix);
	xmlw_esc(w, term);
	xmlw_fmt(w, "</%s:TerminationTime>", prefix);
}

/* Answer a PullMessages with up to |limit| queued messages. */
static void
answer_pull(struct pullpoint *pp, struct onvif_req *r, int limit)
{
	int n = GW_MIN(limit, pp->count);

	xmlw_lit(&r->out, "<tev:PullMessagesResponse>");
	write_times(&r->out, pp, "tev");
	for (int i = 0; i < n; i++) {
		struct ev_msg *m = pp->queue[pp->head];

		xmlw_lit(&r->out, m->xml);
		msg_unref(m);
		pp->head = (pp->head + 1) % pp->cap;
		pp->count--;
	}
	xmlw_lit(&r->out, "</tev:PullMessagesResponse>");
	r->reply_action = "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesResponse";
	if (r->http->conn != NULL)
		session_add_bytes(pp->session, r->out.len);
	onvif_reply(r);
}

static void
answer_parked(void *arg)
{
	struct pullpoint *pp = arg;
	struct onvif_req *r = pp->parked;

	GW_CHECK(pp, PULLPOINT_MAGIC);
	if (r == NULL)
		return;
	pp->parked = NULL;
	answer_pull(pp, r, pp->parked_limit);
}

static void
deliver(struct ev_msg *m)
{
	struct pullpoint *pp;

	evstore_note(m);	/* kept for Recording Search when it concerns a recorded camera */
	TAILQ_FOREACH(pp, &pullpoints, link) {
		if (pp->closing || !wanted(pp, m))
			continue;
		enqueue(pp, m);
		if (pp->parked != NULL)
			loop_defer(&pp->answer, answer_parked, pp);
	}
	msg_unref(m);
}

/* --- producers -------------------------------------------------------------------------- */

void
onvif_events_profile_changed(int64_t authority_id, const char *profile_token)
{
	struct xmlw body;
	struct ev_msg *m;

	if (npullpoints == 0)
		return;
	xmlw_init(&body);
	xmlw_lit(&body, "<tt:Source>");
	simple_item(&body, "Token", profile_token);
	xmlw_lit(&body, "</tt:Source>");
	m = msg_new(TOPIC_PROFILE_CHANGED, NULL, &body);
	xmlw_free(&body);
	m->authority_id = authority_id;
	deliver(m);
}

void
onvif_events_operation_status(int64_t authority_id, const char *token, const char *operation,
    const char *service, double progress, const char *error, bool initialized)
{
	struct xmlw body;
	struct ev_msg *m;
	char p[16];

	if (npullpoints == 0)
		return;
	snprintf(p, sizeof(p), "%.3f", progress);
	xmlw_init(&body);
	xmlw_lit(&body, "<tt:Source>");
	simple_item(&body, "Token", token);
	simple_item(&body, "OperationName", operation);
	simple_item(&body, "ServiceName", service);
	xmlw_lit(&body, "</tt:Source><tt:Data>");
	simple_item(&body, "Progress", p);
	if (error != NULL) {
		xmlw_lit(&body, "<tt:ElementItem Name=\"Error\"><env:Fault><env:Code><env:Value>env:Receiver"
		    "</env:Value></env:Code><env:Reason><env:Text xml:lang=\"en\">");
		xmlw_esc(&body, error);
		xmlw_lit(&body, "</env:Text></env:Reason></env:Fault></tt:ElementItem>");
	}
	xmlw_lit(&body, "</tt:Data>");
	m = msg_new(TOPIC_OPERATION_STATUS, initialized ? "Initialized" : "Changed", &body);
	xmlw_free(&body);
	m->authority_id = authority_id;
	deliver(m);
}

static unsigned
caps_for_cfg(enum cfg_kind k)
{
	switch (k) {
	case CFG_VIDEO_SOURCE:
	case CFG_VIDEO_ENCODER:
		return CAP_VIDEO;
	case CFG_AUDIO_SOURCE:
	case CFG_AUDIO_ENCODER:
		return CAP_AUDIO;
	default:
		return CAP_METADATA;
	}
}

void
onvif_events_configuration_changed(int64_t camera_id, enum cfg_kind kind, const char *token)
{
	struct xmlw body;
	struct ev_msg *m;

	if (npullpoints == 0 && !evstore_active())
		return;
	xmlw_init(&body);
	xmlw_lit(&body, "<tt:Source>");
	simple_item(&body, "Token", token);
	simple_item(&body, "Type", onvif_cfg_kind_name(kind));
	xmlw_lit(&body, "</tt:Source>");
	m = msg_new(TOPIC_CONFIGURATION_CHANGED, NULL, &body);
	xmlw_free(&body);
	m->camera_id = camera_id;
	m->need_caps = caps_for_cfg(kind);
	deliver(m);
}

/*
 * ActiveConnections of a camera's profile: one entry per reader on this
 * node, each receiving the source's bit rate. Video principals see it on
 * cam<id>, metadata-only ones on cam<id>_meta.
 */
static struct ev_msg *
active_connections(int64_t camera_id, bool meta, const char *op, int readers, double bps)
{
	struct xmlw body;
	struct ev_msg *m;
	char token[48];

	view_token(meta ? TOK_META_PROFILE : TOK_PROFILE, camera_id, token, sizeof(token));
	xmlw_init(&body);
	xmlw_lit(&body, "<tt:Source>");
	simple_item(&body, "Profile", token);
	xmlw_lit(&body, "</tt:Source><tt:Data><tt:ElementItem Name=\"Status\"><tt:ProfileStatus>");
	for (int i = 0; i < readers && i < 64; i++)
		xmlw_fmt(&body, "<tt:ActiveConnections><tt:CurrentBitrate>%.0f</tt:CurrentBitrate>"
		    "<tt:CurrentFps>0</tt:CurrentFps></tt:ActiveConnections>", bps / 1000.0);
	xmlw_lit(&body, "</tt:ProfileStatus></tt:ElementItem></tt:Data>");
	m = msg_new(TOPIC_ACTIVE_CONNECTIONS, op, &body);
	xmlw_free(&body);
	m->camera_id = camera_id;
	m->need_caps = meta ? CAP_METADATA : CAP_VIDEO;
	m->deny_caps = meta ? CAP_VIDEO : 0;
	return m;
}

static struct ev_msg *
signal_loss(int64_t camera_id, const char *op, bool lost)
{
	struct xmlw body;
	struct ev_msg *m;
	char token[48];

	view_token(TOK_VIDEO_SOURCE, camera_id, token, sizeof(token));
	xmlw_init(&body);
	xmlw_lit(&body, "<tt:Source>");
	simple_item(&body, "VideoSource", token);
	xmlw_lit(&body, "</tt:Source><tt:Data>");
	simple_item(&body, "State", lost ? "true" : "false");
	xmlw_lit(&body, "</tt:Data>");
	m = msg_new(TOPIC_SIGNAL_LOSS, op, &body);
	xmlw_free(&body);
	m->camera_id = camera_id;
	return m;
}

/* --- status polling ------------------------------------------------------------------------ */

static struct cam_state *
state_of(int64_t id, bool create)
{
	int lo = 0, hi = nstates - 1, at;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;

		if (states[mid].camera_id == id)
			return &states[mid];
		if (states[mid].camera_id < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	if (!create)
		return NULL;
	at = lo;
	states = gw_xrealloc(states, (size_t)(nstates + 1) * sizeof(*states));
	memmove(&states[at + 1], &states[at], (size_t)(nstates - at) * sizeof(*states));
	memset(&states[at], 0, sizeof(*states));
	states[at].camera_id = id;
	nstates++;
	return &states[at];
}

/* Compare each camera's status with the last poll; announce what changed. */
static void
poll_status(void)
{
	const struct gw_model *m = gw.model;

	for (int i = 0; m != NULL && i < m->ncameras; i++) {
		int64_t id = m->cameras[i].pc.id;
		struct media_status st;
		struct cam_state *cs;

		media_camera_status(id, &st);
		cs = state_of(id, st.active);
		if (cs == NULL)
			continue;
		if (!cs->seen) {
			/* A source that just started: nobody read it before, its signal is news only if lost later. */
			cs->seen = true;
			cs->online = st.online;
		}
		if (st.active && st.online != cs->online)
			deliver(signal_loss(id, "Changed", !st.online));
		if (st.readers != cs->readers) {
			deliver(active_connections(id, false, "Changed", st.readers, st.bitrate_bps));
			deliver(active_connections(id, true, "Changed", st.readers, st.bitrate_bps));
		}
		cs->online = st.active ? st.online : cs->online;
		cs->readers = st.readers;
	}
}

/*
 * Property topics start with their current state (unless the subscriber
 * asked for changes only), for the cameras the subscriber sees.
 */
static void
initial_properties(struct pullpoint *pp)
{
	struct onvif_view v;

	if (view_build(&pp->principal, &v) < 0)
		return;
	for (int i = 0; i < v.ncams; i++) {
		int64_t id = v.cams[i].cam->pc.id;
		struct media_status st;
		struct ev_msg *msgs[3];

		if (!(v.cams[i].caps & CAP_EVENTS))
			continue;
		media_camera_status(id, &st);
		msgs[0] = active_connections(id, false, "Initialized", st.readers, st.bitrate_bps);
		msgs[1] = active_connections(id, true, "Initialized", st.readers, st.bitrate_bps);
		msgs[2] = st.active ? signal_loss(id, "Initialized", !st.online) : NULL;
		for (size_t k = 0; k < ARRAY_SIZE(msgs); k++) {
			if (msgs[k] != NULL && wanted(pp, msgs[k]))
				enqueue(pp, msgs[k]);
			msg_unref(msgs[k]);
		}
	}
	view_free(&v);
}

/* --- subscriptions ------------------------------------------------------------------------ */

struct pullpoint *
pullpoint_find(const struct onvif_req *r)
{
	struct pullpoint *pp;

	TAILQ_FOREACH(pp, &pullpoints, link)
		if (!pp->closing && strcmp(pp->id, r->subscription) == 0 &&
		    pp->principal.credential_id == r->principal.credential_id)
			return pp;
	return NULL;
}

/* End a subscription: its waiting pull gets a fault, its session ends, it is freed. */
void
pullpoint_end(struct pullpoint *pp, const char *reason)
{
	struct onvif_req *r = pp->parked;

	GW_CHECK(pp, PULLPOINT_MAGIC);
	pp->closing = true;
	pp->parked = NULL;
	if (r != NULL)
		onvif_fault(r, 0, "env:Sender", "wsrf-rw:ResourceUnknownFault", NULL, reason);
	TAILQ_REMOVE(&pullpoints, pp, link);
	npullpoints--;
	loop_defer_cancel(&pp->answer);
	while (pp->count > 0) {
		msg_unref(pp->queue[pp->head]);
		pp->head = (pp->head + 1) % pp->cap;
		pp->count--;
	}
	free(pp->queue);
	if (pp->content != NULL)
		xmlXPathFreeCompExpr(pp->content);
	if (pp->session != NULL)
		session_end(pp->session, reason);
	if (npullpoints == 0 && !evstore_active()) {
		free(states);
		states = NULL;
		nstates = 0;
	}
	pp->magic = 0;
	free(pp);
}

static void
session_close(struct gw_session *s, const char *reason)
{
	struct pullpoint *pp = s->owner;

	GW_CHECK(pp, PULLPOINT_MAGIC);
	pullpoint_end(pp, reason);
}

static const struct session_ops pullpoint_session_ops = { .close = session_close };

static int
count_for(const struct gw_principal *p)
{
	struct pullpoint *pp;
	int n = 0;

	TAILQ_FOREACH(pp, &pullpoints, link)
		n += pp->principal.credential_id == p->credential_id;
	return n;
}

/*
 * A new subscription with |topics| and |content|, or NULL with |why| when
 * the limits are reached. Takes |content|.
 */
struct pullpoint *
pullpoint_create(const struct onvif_req *r, unsigned topics, void *content, int64_t termination_us,
    bool changed_only, const char **why)
{
	struct pullpoint *pp;
	unsigned char rnd[16];

	if (npullpoints >= gw.cfg->onvif_max_subscriptions ||
	    count_for(&r->principal) >= gw.cfg->onvif_max_subscriptions_per_principal ||
	    gw_random(rnd, sizeof(rnd)) < 0) {
		*why = "no more subscriptions for these credentials";
		if (content != NULL)
			xmlXPathFreeCompExpr(content);
		return NULL;
	}
	pp = gw_xcalloc(1, sizeof(*pp));
	pp->magic = PULLPOINT_MAGIC;
	gw_hex(rnd, sizeof(rnd), pp->id);
	pp->principal = r->principal;
	pp->topics = topics;
	pp->content = content;
	pp->created_us = gw_wall_us();
	pp->termination_us = termination_us;
	TAILQ_INSERT_TAIL(&pullpoints, pp, link);
	npullpoints++;
	pp->session = session_open(&r->principal, 0, ACT_EVENTS, "onvif", r->tls ? "tls" : "http",
	    r->http->peer, &pullpoint_session_ops, pp);
	if (!changed_only)
		initial_properties(pp);
	return pp;
}

void
pullpoint_resync(struct pullpoint *pp)
{
	initial_properties(pp);
	if (pp->parked != NULL && pp->count > 0)
		loop_defer(&pp->answer, answer_parked, pp);
}

/* PullMessages: answer now, or park until a message or the timeout. */
void
pullpoint_pull(struct pullpoint *pp, struct onvif_req *r, int64_t timeout_us, int limit)
{
	int64_t until = gw_wall_us() + timeout_us;

	limit = GW_MAX(1, GW_MIN(limit, MAX_MESSAGE_LIMIT));
	/* Alive at least as long as the client may wait for this answer. */
	if (pp->termination_us < until)
		pp->termination_us = until;
	if (pp->count > 0 || timeout_us == 0) {
		answer_pull(pp, r, limit);
		return;
	}
	pp->parked = r;
	pp->parked_limit = limit;
	pp->parked_deadline_us = gw_mono_us() + timeout_us;
}

bool
pullpoint_busy(struct pullpoint *pp)
{
	struct onvif_req *old = pp->parked;

	if (old == NULL)
		return false;
	if (old->http->conn != NULL && conn_is_open(old->http->conn))
		return true;
	/* The client that waited went away: its pull is over, a new one may take its place. */
	pp->parked = NULL;
	onvif_fault(old, 0, "env:Receiver", "ter:Action", NULL, "the client went away");
	return false;
}

static void
janitor(int64_t now)
{
	struct pullpoint *pp, *next;
	int64_t wall = gw_wall_us();

	for (pp = TAILQ_FIRST(&pullpoints); pp != NULL; pp = next) {
		struct onvif_req *r = pp->parked;

		next = TAILQ_NEXT(pp, link);
		if (r != NULL && (now >= pp->parked_deadline_us || gw.shutting_down ||
		    r->http->conn == NULL || !conn_is_open(r->http->conn))) {
			pp->parked = NULL;
			answer_pull(pp, r, pp->parked_limit);
		}
		if (pp->parked == NULL && wall >= pp->termination_us)
			pullpoint_end(pp, "subscription expired");
	}
	if ((npullpoints > 0 || evstore_active()) && now - last_poll_us >= gw.cfg->onvif_status_poll_ms * 1000) {
		last_poll_us = now;
		poll_status();
	}
}

int
onvif_events_init(void)
{
	loop_janitor_add(janitor);
	return 0;
}

void
onvif_events_shutdown(void)
{
	struct pullpoint *pp;

	while ((pp = TAILQ_FIRST(&pullpoints)) != NULL)
		pullpoint_end(pp, "the gateway is shutting down");
	log_debug("events: %llu messages made, %llu dropped from full queues",
	    (unsigned long long)messages_made, (unsigned long long)messages_dropped);
}
