/*
 * rtsp_methods.c - what each RTSP method does, who may do it, and the SDP.
 *
 * The method table says which methods need credentials and which a
 * session; Public is derived from it. Credentials are checked by the one
 * authenticator (authn.h) with the grant's credentials, and DESCRIBE,
 * SETUP and PLAY are authorised by the policy (model_authorize), each
 * time. A camera that does not exist and a camera the grant does not
 * cover get the same answer.
 */
#include "gateway/gw.h"
#include "gateway/authn.h"
#include "gateway/config.h"
#include "gateway/conn.h"
#include "gateway/log.h"
#include "gateway/model.h"
#include "gateway/rtsp.h"
#include "gateway/media/mcast.h"
#include "gateway/media/replay.h"
#include "gateway/media/source.h"
#include "proto/rtsp_hdr.h"
#include "proto/sdp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define M_AUTH    0x01u			/* the request must carry the grant's credentials */
#define M_TARGET  0x02u			/* the URL must name a camera */
#define M_SESSION 0x04u			/* a Session header naming a session of the caller */

struct rtsp_method {
	const char *name;
	unsigned flags;
	void (*handler)(struct rtsp_conn *rc, struct rtsp_request *req, const struct rtsp_target *t,
	    const struct gw_principal *p);
};

/* Each kind of session: the path its URLs start with and the feature tags it takes. */
struct rtsp_kind {
	const char *prefix;
	const char *const *features;	/* what a client may Require */
};

static const char *const live_features[] = { NULL };
static const char *const replay_features[] = { "onvif-replay", NULL };

static const struct rtsp_kind kinds[RSK_COUNT] = {
	[RSK_LIVE] = { "/cameras/", live_features },
	[RSK_REPLAY] = { "/recordings/", replay_features },
};

/* --- small helpers ---------------------------------------------------------------- */

static void
reply(struct rtsp_conn *rc, struct rtsp_request *req, int status, const char *headers)
{
	rtsp_reply(rc, req, status, headers, NULL, NULL, 0);
}

static const char *
header_value(const struct rtsp_request *req, const char *name, size_t *len)
{
	const struct msg_header *h = msg_header(&req->msg, name);

	if (h == NULL)
		return NULL;
	*len = h->value.len;
	return h->value.p;
}

/* A replay URL's "start=<clock>&end=<clock>" (other keys are left alone). 0, or 400. */
static int
parse_replay_query(struct proto_str q, struct rtsp_target *t)
{
	const char *p = q.p, *end;

	if (q.len == 0)
		return 0;	/* no query (its pointer may be NULL) */
	end = q.p + q.len;
	while (end > p && end[-1] == '/')
		end--;	/* the slash a client puts after the Content-Base before a track's name */
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p)), *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));

		if (eq != NULL && (eq - p == 5 || eq - p == 3) &&
		    (memcmp(p, "start", 5) == 0 || memcmp(p, "end", 3) == 0)) {
			bool is_start = eq - p == 5;
			int64_t us;

			if (rtsp_clock_parse(eq + 1, (size_t)(stop - eq - 1), &us) < 0)
				return 400;
			if (is_start) {
				t->has_start = true;
				t->start_us = us;
			} else {
				t->has_end = true;
				t->end_us = us;
			}
		}
		p = stop + (amp ? 1 : 0);
	}
	return t->has_start && t->has_end && t->end_us <= t->start_us ? 400 : 0;
}

/* "<prefix><id>" with an optional control suffix. Returns 0, or the status to answer. */
static int
parse_target(const char *url, struct rtsp_target *t)
{
	struct rtsp_url u;
	int64_t id = 0;
	int rc = rtsp_url_parse(url, strlen(url), RTSP_URL_ALLOW_USERINFO, &u);

	if (rc < 0)
		return 400;
	for (int k = 0; k < RSK_COUNT; k++) {
		size_t plen = strlen(kinds[k].prefix);

		if (u.path.len <= plen || memcmp(u.path.p, kinds[k].prefix, plen) != 0 ||
		    u.path.len - plen > 18)
			continue;
		for (size_t i = plen; i < u.path.len; i++) {
			if (u.path.p[i] < '0' || u.path.p[i] > '9')
				return 404;
			id = id * 10 + (u.path.p[i] - '0');
		}
		*t = (struct rtsp_target){ .kind = (enum rtsp_session_kind)k, .camera_id = id,
		    .track = u.control == RTSP_CONTROL_NONE ? -1 : (int)u.track };
		if (id <= 0)
			return 404;
		return t->kind == RSK_REPLAY ? parse_replay_query(u.query, t) : 0;
	}
	return 404;
}

static struct policy_decision
decide(const struct gw_principal *p, int64_t camera_id, enum gw_action action)
{
	struct policy_request pr = { .action = action, .now_us = gw_wall_us() };

	return model_authorize(p, camera_id, &pr);
}

static void
audit_denied(struct rtsp_conn *rc, const struct rtsp_request *req, const struct gw_principal *p,
    int64_t camera_id, const char *why)
{
	authn_audit_denied("rtsp", rc->conn->ident, rc->conn->peer_str, p, camera_id, req->method, why);
}

/* --- authentication ------------------------------------------------------------------- */

static const char *const signed_methods[] = { "OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE",
	"TEARDOWN", "GET_PARAMETER", "SET_PARAMETER", NULL };

/*
 * live555 signs SETUP, PLAY and TEARDOWN with uri= set to the Content-Base
 * (the camera's URL), not the request's: any URL that names the same
 * camera will do, its response still binds the method and that URL.
 */
static bool
same_camera(const char *cred_uri, void *arg)
{
	const struct rtsp_target *want = arg;
	struct rtsp_target t;

	return parse_target(cred_uri, &t) == 0 && t.kind == want->kind && t.camera_id == want->camera_id;
}

/* A 401 with fresh challenges; |closing|: the connection closes after it, and says so. */
static void
challenge(struct rtsp_conn *rc, struct rtsp_request *req, bool stale, bool closing)
{
	static const char close_line[] = "Connection: close\r\n";
	char headers[1600];
	int n = authn_challenge_lines(&rc->authn, rc->conn->tls, stale, headers,
	    sizeof(headers) - sizeof(close_line));

	if (n < 0)
		n = 0;	/* a realm too long for the header: a bare 401 */
	if (closing)
		memcpy(headers + n, close_line, sizeof(close_line));
	else
		headers[n] = '\0';
	reply(rc, req, 401, headers);
}

static void
refuse_limited(struct rtsp_conn *rc, struct rtsp_request *req, int retry_s)
{
	char headers[64];

	snprintf(headers, sizeof(headers), "Retry-After: %d\r\nConnection: close\r\n", retry_s);
	reply(rc, req, 503, headers);
	rtsp_conn_close(rc, "too many failed logins");
}

/* Returns true with |p| filled; otherwise it has answered (401, 400 or 503). */
static bool
authenticate(struct rtsp_conn *rc, struct rtsp_request *req, const struct rtsp_target *t,
    struct gw_principal *p)
{
	size_t len = 0;
	struct authn_outcome o;
	struct authn_request ar = {
		.protocol = "rtsp", .method = req->method, .target = req->url,
		.uri_ok = same_camera, .uri_arg = (void *)t, .other_methods = signed_methods,
		.authorization = header_value(req, "Authorization", &len), .authorization_len = len,
		.nauthorization = msg_header_count(&req->msg, "Authorization"),
		.tls = rc->conn->tls, .allow_rfc2069 = true, .peer = rc->conn->peer_str,
		.ident = rc->conn->ident, .conn = &rc->authn,
	};

	authn_check(&ar, &o);
	switch (o.result) {
	case AUTHN_OK:
		*p = o.principal;
		return true;
	case AUTHN_MALFORMED:
		reply(rc, req, 400, NULL);
		return false;
	case AUTHN_LIMITED:
		refuse_limited(rc, req, o.retry_after_s);
		return false;
	case AUTHN_CLOSE:
		challenge(rc, req, false, true);
		rtsp_conn_close(rc, "too many failed logins");
		return false;
	default:
		challenge(rc, req, o.stale, false);
		return false;
	}
}

/* --- sessions of a request -------------------------------------------------------------- */

/*
 * The session named in the request, if this connection may use it: an
 * interleaved session only from its own connection; a UDP session also from
 * another connection of the same principal from the same address.
 */
static struct rtsp_media_session *
own_session(struct rtsp_conn *rc, const struct rtsp_request *req, const struct gw_principal *p)
{
	struct rtsp_media_session *s;

	if (!req->has_session || (s = rtsp_session_find(req->session_id)) == NULL)
		return NULL;
	if (s->rc == rc)
		return s;
	/* A UDP session may be driven from another connection of its principal, from its host. */
	if (!(s->udp || s->mcast) || p == NULL || p->credential_id != s->principal.credential_id ||
	    !gw_same_host(&s->peer, &rc->conn->peer))
		return NULL;
	if (s->rc == NULL && rc->session == NULL) {
		s->rc = rc;
		rc->session = s;
	}
	return s;
}

static void
session_header(const struct rtsp_media_session *s, char *out, size_t outlen)
{
	snprintf(out, outlen, "Session: %s;timeout=%lld\r\n", s->id,
	    (long long)(gw.cfg->rtsp_session_timeout_ms / 1000));
}

/* --- OPTIONS, GET_PARAMETER, SET_PARAMETER ---------------------------------------------- */

static void
do_options(struct rtsp_conn *rc, struct rtsp_request *req, const struct rtsp_target *t,
    const struct gw_principal *p)
{
	struct rtsp_media_session *s = req->has_session ? own_session(rc, req, NULL) : NULL;
	char headers[200];

	(void)t;
	(void)p;
	if (s)
		rtsp_session_touch(s);
	snprintf(headers, sizeof(headers), "Public: %s\r\n", rtsp_public_methods());
	reply(rc, req, 200, headers);
}

static void
do_keepalive(struct rtsp_conn *rc, struct rtsp_request *req, const struct rtsp_target *t,
    const struct gw_principal *p)
{
	struct rtsp_media_session *s = NULL;
	char sh[96];

	(void)t;
	(void)p;
	if (req->has_session && (s = own_session(rc, req, NULL)) == NULL) {
		reply(rc, req, 454, NULL);
		return;
	}
	if (s == NULL) {
		reply(rc, req, 200, NULL);
		return;
	}
	rtsp_session_touch(s);
	session_header(s, sh, sizeof(sh));
	reply(rc, req, 200, sh);
}

/* --- what a DESCRIBE or SETUP is about: a live hub or a recording ------------------------------ */

struct feed {
	enum rtsp_session_kind kind;
	struct hub *hub;		/* RSK_LIVE */
	struct replay_desc *desc;	/* RSK_REPLAY */
};

static int
feed_ntracks(const struct feed *f)
{
	return f->kind == RSK_LIVE ? hub_ntracks(f->hub) : replay_desc_ntracks(f->desc);
}

static const struct adapter_track *
feed_track(const struct feed *f, int i)
{
	return f->kind == RSK_LIVE ? hub_track(f->hub, i) : replay_desc_track(f->desc, i);
}

/* What receiving a track of this kind is, for the policy: replay is its own level, metadata is metadata. */
static enum gw_action
track_action(enum rtsp_session_kind kind, const struct adapter_track *t)
{
	if (kind == RSK_REPLAY && t->media != ADAPTER_METADATA)
		return ACT_REPLAY;
	return media_track_action(t);
}

/* --- DESCRIBE ---------------------------------------------------------------------------- */

/* Tracks of |f| the principal may receive, as a bit mask. */
static unsigned
allowed_tracks(const struct gw_principal *p, int64_t camera_id, const struct feed *f)
{
	unsigned mask = 0;

	for (int i = 0; i < feed_ntracks(f); i++)
		if (decide(p, camera_id, track_action(f->kind, feed_track(f, i))).allow)
			mask |= 1u << i;
	return mask;
}

static bool
any_media_allowed(const struct gw_principal *p, const struct rtsp_target *t, struct policy_decision *d)
{
	static const enum gw_action live[] = { ACT_LIVE_VIDEO, ACT_LIVE_AUDIO, ACT_METADATA, ACT_COUNT };
	static const enum gw_action replay[] = { ACT_REPLAY, ACT_METADATA, ACT_COUNT };
	const enum gw_action *actions = t->kind == RSK_REPLAY ? replay : live;

	for (size_t i = 0; actions[i] != ACT_COUNT; i++) {
		*d = decide(p, t->camera_id, actions[i]);
		if (d->allow)
			return true;
	}
	*d = decide(p, t->camera_id, actions[0]);
	return false;
}

static const char *
media_name(enum adapter_media m)
{
	return m == ADAPTER_VIDEO ? "video" : m == ADAPTER_AUDIO ? "audio" : "application";
}

/* ONVIF's TrackReference of a replayed track: VIDEO001, AUDIO001, METADATA001 (by kind, in order). */
static void
track_token(const struct feed *f, int i, char *out, size_t outlen)
{
	enum adapter_media m = feed_track(f, i)->media;
	int rank = 1;

	for (int k = 0; k < i; k++)
		rank += feed_track(f, k)->media == m;
	snprintf(out, outlen, "%s%03d", m == ADAPTER_VIDEO ? "VIDEO" : m == ADAPTER_AUDIO ? "AUDIO" : "METADATA",
	    rank);
}

/*
 * A replay's a=range: the URL's span as npt (players then know its
 * length), else the recording's span as clock, open while it grows.
 */
static void
replay_range(const struct rtsp_target *t, char *out, size_t outlen)
{
	struct rtsp_range r = { .unit = RTSP_RANGE_CLOCK };
	int64_t from, to;
	bool recording;

	out[0] = '\0';
	if (t->has_start && t->has_end) {
		r = (struct rtsp_range){ .unit = RTSP_RANGE_NPT, .has_start = true, .has_end = true,
		    .end = t->end_us - t->start_us };
	} else if (replay_span(t->camera_id, &from, &to, &recording)) {
		r.has_start = true;
		r.start = t->has_start ? GW_MAX(t->start_us, from) : from;
		r.has_end = !recording || t->has_end;
		r.end = t->has_end ? t->end_us : to;
	} else {
		return;
	}
	if (rtsp_range_format(&r, out, outlen) < 0)
		out[0] = '\0';
}

/* The SDP of the tracks in |mask|; returns its length, or -1. */
static int
describe_sdp(const struct feed *f, unsigned mask, const struct rtsp_target *t, char *out, size_t outlen)
{
	const struct model_camera *cam = model_camera(gw.model, t->camera_id);
	struct sdp_build_media media[MEDIA_MAX_TRACKS];
	char tokens[MEDIA_MAX_TRACKS][24], range[128];
	struct sdp_build b = {
		.session_id = (uint64_t)gw_wall_us() / 1000, .session_version = 1,
		.session_name = cam && cam->name ? cam->name : "camera", .media = media,
	};

	if (f->kind == RSK_REPLAY) {
		replay_range(t, range, sizeof(range));
		b.range = range[0] ? range : NULL;
	}
	for (int i = 0; i < feed_ntracks(f); i++) {
		const struct adapter_track *tr = feed_track(f, i);

		if (!(mask & (1u << i)))
			continue;
		if (f->kind == RSK_REPLAY)
			track_token(f, i, tokens[i], sizeof(tokens[i]));
		media[b.nmedia++] = (struct sdp_build_media){
			.type = media_name(tr->media), .pt = tr->payload_type, .encoding = tr->encoding,
			.clock_rate = (uint32_t)tr->clock_rate, .channels = (unsigned)tr->channels,
			.fmtp = tr->fmtp[0] ? tr->fmtp : NULL, .track = (unsigned)i, .dir = SDP_RECVONLY,
			.onvif_track = f->kind == RSK_REPLAY ? tokens[i] : NULL,
		};
	}
	return sdp_build(&b, out, outlen);
}

static void
describe_feed(struct rtsp_conn *rc, struct rtsp_request *req, const struct feed *f,
    const struct gw_principal *p, const struct rtsp_target *t)
{
	unsigned mask = allowed_tracks(p, t->camera_id, f);
	char headers[700], sdp[8192];
	int n;

	if (mask == 0) {
		audit_denied(rc, req, p, t->camera_id, "no track of this camera is permitted");
		reply(rc, req, 403, NULL);
		return;
	}
	if ((n = describe_sdp(f, mask, t, sdp, sizeof(sdp))) < 0) {
		olog_warn(rc->conn, "cannot describe cam=%lld: %s", (long long)t->camera_id, proto_strerror(n));
		reply(rc, req, 500, NULL);
		return;
	}
	snprintf(headers, sizeof(headers), "Content-Base: %.500s%s\r\n", req->url,
	    req->url[strlen(req->url) - 1] == '/' ? "" : "/");
	rtsp_reply(rc, req, 200, headers, "application/sdp", sdp, (size_t)n);
}

/* --- SETUP -------------------------------------------------------------------------------- */

static unsigned
transports_for(const struct rtsp_conn *rc)
{
	if (rc->wire != WIRE_TCP)
		return RTSP_TR_TCP;
	return RTSP_TR_TCP | RTSP_TR_UDP_MULTICAST | (rtsp_udp_server_port() ? RTSP_TR_UDP : 0);
}

static bool
channel_taken(const struct rtsp_media_session *s, int track, uint8_t ch)
{
	for (int i = 0; i < MEDIA_MAX_TRACKS; i++)
		if (i != track && s->tracks[i].kind == RT_INTERLEAVED &&
		    (s->tracks[i].channel == ch || s->tracks[i].channel + 1 == ch ||
		     s->tracks[i].channel == ch + 1))
			return true;
	return false;
}

static bool
udp_destination(struct rtsp_conn *rc, const struct rtsp_transport *t, struct rtsp_track_setup *ts)
{
	struct sockaddr_in *rtp = (struct sockaddr_in *)&ts->rtp_to;
	struct sockaddr_in *rtcp = (struct sockaddr_in *)&ts->rtcp_to;
	const struct sockaddr_in *peer = (const struct sockaddr_in *)&rc->conn->peer;
	struct in_addr dest;

	if (peer->sin_family != AF_INET || !t->has_client_port)
		return false;
	/* Media only ever goes back to the client itself: no reflection to third parties. */
	if (t->destination[0] != '\0' &&
	    (inet_pton(AF_INET, t->destination, &dest) != 1 || dest.s_addr != peer->sin_addr.s_addr))
		return false;
	memset(ts, 0, sizeof(*ts));
	ts->kind = RT_UDP;
	rtp->sin_family = rtcp->sin_family = AF_INET;
	rtp->sin_addr = rtcp->sin_addr = peer->sin_addr;
	rtp->sin_port = htons(t->client_port.rtp);
	rtcp->sin_port = htons(t->client_port.rtcp);
	ts->addr_len = sizeof(struct sockaddr_in);
	return true;
}

static int
setup_interleaved(struct rtsp_media_session *s, int track, struct rtsp_transport *t)
{
	struct rtsp_track_setup *ts = &s->tracks[track];
	uint8_t ch = t->has_interleaved ? (uint8_t)t->interleaved.rtp : (uint8_t)(2 * track);

	if (ch == 255 || channel_taken(s, track, ch))
		return 461;
	memset(ts, 0, sizeof(*ts));
	ts->kind = RT_INTERLEAVED;
	ts->channel = ch;
	s->channels[track] = ch;
	t->has_interleaved = true;
	t->interleaved.rtp = ch;
	t->interleaved.rtcp = (uint16_t)(ch + 1);
	return 0;
}

static int
setup_multicast(struct rtsp_media_session *s, int track, struct rtsp_transport *t)
{
	const struct model_camera *cam = model_camera(gw.model, s->camera_id);
	struct hub *hub = live_stream_hub(s->stream);

	if (cam == NULL || cam->multicast_group == NULL || cam->multicast_port == 0 || hub == NULL)
		return 461;
	memset(&s->tracks[track], 0, sizeof(s->tracks[track]));
	s->tracks[track].kind = RT_MULTICAST;
	snprintf(t->destination, sizeof(t->destination), "%s", cam->multicast_group);
	t->has_port = true;
	t->port.rtp = (uint16_t)(cam->multicast_port + 2 * mcast_slot(hub, track));
	t->port.rtcp = (uint16_t)(t->port.rtp + 1);
	t->has_ttl = true;
	t->ttl = (uint8_t)gw.cfg->rtsp_multicast_ttl;
	t->has_client_port = false;
	return 0;
}

/* Configure |track| of |s| from the client's Transport; fills the reply's Transport. */
static int
setup_track(struct rtsp_conn *rc, struct rtsp_media_session *s, int track, struct rtsp_transport *t,
    char *reply_tr, size_t len)
{
	bool want_udp = t->lower == RTSP_LOWER_UDP && !t->multicast;
	int status = 0;

	for (int i = 0; i < MEDIA_MAX_TRACKS; i++)
		if (i != track && s->tracks[i].kind != RT_NONE &&
		    (s->tracks[i].kind == RT_UDP) != want_udp)
			return 461;	/* one session, one kind of transport */
	if (t->lower == RTSP_LOWER_TCP) {
		status = setup_interleaved(s, track, t);
	} else if (!t->multicast) {
		if (!udp_destination(rc, t, &s->tracks[track]))
			return 461;
		s->udp = true;
		t->has_server_port = true;
		t->server_port.rtp = (uint16_t)rtsp_udp_server_port();
		t->server_port.rtcp = (uint16_t)(rtsp_udp_server_port() + 1);
		t->destination[0] = '\0';
	} else {
		status = setup_multicast(s, track, t);
	}
	if (status != 0)
		return status;
	t->has_ssrc = true;
	t->ssrc = media_stream_ssrc(s->stream, track);
	s->track_mask |= 1u << track;
	return rtsp_transport_format(t, reply_tr, len) < 0 ? 500 : 0;
}

/* Where npt 0 of a replay session is, and the URL's end. */
static void
replay_origin(struct rtsp_media_session *s, const struct rtsp_target *t)
{
	int64_t from = 0, to;
	bool recording;

	if (!replay_span(t->camera_id, &from, &to, &recording))
		from = gw_wall_us();
	s->origin_us = t->has_start ? t->start_us : from;
	s->has_url_end = t->has_end;
	s->url_end_us = t->end_us;
}

/* The session a SETUP adds a track to, made if need be; NULL when it has answered. */
static struct rtsp_media_session *
setup_session(struct rtsp_conn *rc, struct rtsp_request *req, const struct feed *f,
    const struct gw_principal *p, const struct rtsp_target *t)
{
	struct rtsp_media_session *s = req->has_session ? own_session(rc, req, p) : NULL;
	struct media_stream *st;

	if (req->has_session && s == NULL) {
		reply(rc, req, 454, NULL);
		return NULL;
	}
	if (s != NULL && (s->camera_id != t->camera_id || s->kind != t->kind || s->state == RS_PLAYING)) {
		reply(rc, req, s->state == RS_PLAYING ? 455 : 459, NULL);
		return NULL;
	}
	if (s != NULL)
		return s;
	if (rc->session != NULL) {
		reply(rc, req, 455, NULL);	/* one session per connection */
		return NULL;
	}
	if (rtsp_session_count_for(p->grant_id) >= gw.cfg->rtsp_max_sessions_per_principal) {
		olog_info(rc->conn, "SETUP refused: %s has %d sessions already", p->username,
		    gw.cfg->rtsp_max_sessions_per_principal);
		reply(rc, req, 453, NULL);
		return NULL;
	}
	st = f->kind == RSK_LIVE ? live_stream_open(f->hub, &rtsp_stream_owner_ops, NULL) :
	    replay_stream_open(f->desc, &rtsp_stream_owner_ops, NULL);
	if ((s = rtsp_session_new(rc, p, t, st)) == NULL) {
		media_stream_free(st);
		reply(rc, req, 500, NULL);
		return NULL;
	}
	if (f->kind == RSK_REPLAY)
		replay_origin(s, t);
	return s;
}

static void
setup_feed(struct rtsp_conn *rc, struct rtsp_request *req, const struct feed *f,
    const struct gw_principal *p, const struct rtsp_target *target)
{
	struct rtsp_target t = *target;
	struct rtsp_transport tr;
	struct rtsp_media_session *s;
	struct policy_decision d;
	char trs[400], headers[600], sh[96];
	size_t len;
	const char *v = header_value(req, "Transport", &len);
	int rcode;

	if (t.track < 0 && feed_ntracks(f) == 1)
		t.track = 0;
	if (t.track < 0 || t.track >= feed_ntracks(f)) {
		reply(rc, req, t.track < 0 ? 459 : 404, NULL);
		return;
	}
	d = decide(p, t.camera_id, track_action(f->kind, feed_track(f, t.track)));
	if (!d.allow) {
		audit_denied(rc, req, p, t.camera_id, policy_reason_str(d.reason));
		reply(rc, req, 403, NULL);
		return;
	}
	if (v == NULL || (rcode = rtsp_transport_parse(v, len, transports_for(rc), &tr)) < 0) {
		reply(rc, req, v == NULL || rcode == PROTO_EUNSUPPORTED ? 461 : 400, NULL);
		return;
	}
	if ((s = setup_session(rc, req, f, p, &t)) == NULL)
		return;
	if ((rcode = setup_track(rc, s, t.track, &tr, trs, sizeof(trs))) != 0) {
		reply(rc, req, rcode, NULL);
		return;
	}
	rtsp_session_touch(s);
	session_header(s, sh, sizeof(sh));
	snprintf(headers, sizeof(headers), "Transport: %s\r\n%s", trs, sh);
	reply(rc, req, 200, headers);
}

/* --- waiting for the source or the recording ---------------------------------------------------- */

struct pending {
	struct gw_principal principal;
	struct rtsp_target target;
};

static void
feed_ready(struct rtsp_conn *rc, const struct feed *f)
{
	struct rtsp_request *req = rc->req;
	struct pending *pd = req->pending;

	if (strcmp(req->method, "DESCRIBE") == 0)
		describe_feed(rc, req, f, &pd->principal, &pd->target);
	else
		setup_feed(rc, req, f, &pd->principal, &pd->target);
	rtsp_request_done(rc);
}

static void
source_ready(void *arg, struct hub *hub, const char *error)
{
	struct rtsp_conn *rc = arg;
	struct rtsp_request *req = rc->req;
	struct pending *pd = req->pending;
	struct feed f = { .kind = RSK_LIVE, .hub = hub };

	rc->wait = NULL;
	if (error != NULL) {
		olog_info(rc->conn, "%s cam=%lld: source unavailable: %s", req->method,
		    (long long)pd->target.camera_id, error);
		reply(rc, req, 503, NULL);
		rtsp_request_done(rc);
		return;
	}
	feed_ready(rc, &f);
}

static void
recording_ready(void *arg, struct replay_desc *d, const char *error)
{
	struct rtsp_conn *rc = arg;
	struct rtsp_request *req = rc->req;
	struct pending *pd = req->pending;
	struct feed f = { .kind = RSK_REPLAY, .desc = d };

	rc->rwait = NULL;
	if (d == NULL) {
		olog_info(rc->conn, "%s cam=%lld: no replay: %s", req->method, (long long)pd->target.camera_id,
		    error);
		reply(rc, req, 404, NULL);
		rtsp_request_done(rc);
		return;
	}
	feed_ready(rc, &f);
}

/* Get the camera's source or recording, then go on with DESCRIBE or SETUP (maybe at once). */
static void
with_feed(struct rtsp_conn *rc, struct rtsp_request *req, const struct gw_principal *p,
    const struct rtsp_target *t)
{
	struct pending *pd = gw_xcalloc(1, sizeof(*pd));

	pd->principal = *p;
	pd->target = *t;
	req->pending = pd;
	rc->req_state = REQ_WAITING;
	if (t->kind == RSK_REPLAY)
		rc->rwait = replay_describe(t->camera_id, recording_ready, rc);
	else
		rc->wait = source_get(t->camera_id, source_ready, rc);
}

static void
do_describe(struct rtsp_conn *rc, struct rtsp_request *req, const struct rtsp_target *t,
    const struct gw_principal *p)
{
	struct policy_decision d;

	if (!any_media_allowed(p, t, &d)) {
		audit_denied(rc, req, p, t->camera_id, policy_reason_str(d.reason));
		reply(rc, req, 403, NULL);
		return;
	}
	with_feed(rc, req, p, t);
}

static void
do_setup(struct rtsp_conn *rc, struct rtsp_request *req, const struct rtsp_target *t,
    const struct gw_principal *p)
{
	with_feed(rc, req, p, t);
}


/* --- PLAY, PAUSE, TEARDOWN ---------------------------------------------------------------------------- */

static void
rtp_info(const struct rtsp_request *req, const struct rtsp_media_session *s,
    const struct media_play_info *info, char *out, size_t outlen)
{
	struct rtsp_rtpinfo streams[MEDIA_MAX_TRACKS];
	char urls[MEDIA_MAX_TRACKS][600];
	int n = 0;
	size_t base = strlen(req->url);
	bool slash = base > 0 && req->url[base - 1] == '/';

	out[0] = '\0';
	for (int i = 0; i < MEDIA_MAX_TRACKS; i++) {
		if (!(s->track_mask & (1u << i)))
			continue;
		snprintf(urls[n], sizeof(urls[n]), "%s%strackID=%d", req->url, slash ? "" : "/", i);
		streams[n] = (struct rtsp_rtpinfo){ .url = urls[n], .has_seq = info->valid[i],
		    .has_rtptime = info->valid[i], .seq = info->seq[i], .rtptime = info->rtp_ts[i] };
		n++;
	}
	if (n > 0 && rtsp_rtpinfo_format(streams, n, out + 10, outlen - 12) > 0) {
		memcpy(out, "RTP-Info: ", 10);
		strncat(out, "\r\n", outlen - strlen(out) - 1);
	} else {
		out[0] = '\0';
	}
}

static bool
session_still_allowed(struct rtsp_conn *rc, struct rtsp_request *req, struct rtsp_media_session *s,
    const struct gw_principal *p)
{
	for (int i = 0; i < media_stream_ntracks(s->stream); i++) {
		struct policy_decision d;

		if (!(s->track_mask & (1u << i)))
			continue;
		d = decide(p, s->camera_id, track_action(s->kind, media_stream_track(s->stream, i)));
		if (!d.allow) {
			audit_denied(rc, req, p, s->camera_id, policy_reason_str(d.reason));
			return false;
		}
	}
	return true;
}

/* --- PLAY of a replay -------------------------------------------------------------------------------- */

/* The replay headers of a PLAY, with what it asks for. Returns 0, or the status to answer. */
static int
replay_request_of(const struct rtsp_request *req, const struct rtsp_media_session *s,
    const struct gw_principal *p, struct replay_request *rq, bool *npt)
{
	struct rtsp_range range;
	struct rtsp_frames frames = { .mode = RTSP_FRAMES_ALL };
	size_t len;
	const char *v;

	*rq = (struct replay_request){ .scale_milli = 1000, .speed_milli = 1000, .rate_control = true,
	    .grant_id = p->grant_id,
	    .cseq = (uint8_t)(req->cseq & 0xff), .has_start = true, .start_us = s->origin_us,
	    .has_end = s->has_url_end, .end_us = s->url_end_us };
	*npt = false;
	if ((v = header_value(req, "Scale", &len)) && rtsp_scale_parse(v, len, &rq->scale_milli) < 0)
		return 400;
	if ((v = header_value(req, "Speed", &len)) &&
	    (rtsp_scale_parse(v, len, &rq->speed_milli) < 0 || rq->speed_milli < 0))
		return 400;	/* RFC 2326: delivered this much faster (GStreamer asks so for rates other than 1) */
	if ((v = header_value(req, "Rate-Control", &len)) && rtsp_yesno_parse(v, len, &rq->rate_control) < 0)
		return 400;
	if ((v = header_value(req, "Frames", &len)) && rtsp_frames_parse(v, len, &frames) < 0)
		return 400;
	rq->frames = frames.mode == RTSP_FRAMES_INTRA ? REPLAY_FRAMES_INTRA :
	    frames.mode == RTSP_FRAMES_PREDICTED ? REPLAY_FRAMES_PREDICTED : REPLAY_FRAMES_ALL;
	rq->intra_interval_ms = frames.interval_ms;
	if ((v = header_value(req, "Range", &len)) == NULL)
		return 0;
	if (rtsp_range_parse(v, len, &range) < 0)
		return 457;
	if (range.unit == RTSP_RANGE_NPT) {
		/* npt=0 is the start of the presentation: the URL's start, else the footage's. */
		*npt = true;
		if (range.start_now)
			rq->start_us = gw_wall_us();
		else if (range.has_start)
			rq->start_us = s->origin_us + range.start;
		if (range.has_end) {
			rq->has_end = true;
			rq->end_us = s->origin_us + range.end;
		}
	} else {
		rq->has_start = range.has_start;
		rq->start_us = range.start;
		if (range.has_end) {
			rq->has_end = true;
			rq->end_us = range.end;
		}
	}
	if (rq->has_start && rq->has_end && (rq->scale_milli < 0 ? rq->end_us > rq->start_us :
	    rq->end_us < rq->start_us))
		return 457;	/* a closed range goes the way Scale says */
	return 0;
}

struct play_wait {
	struct replay_request rq;
	bool npt;			/* answer the Range in npt, as it was asked */
	bool has_range;
};

/* The PLAY answer of a replay: Range as it starts, Scale, Rate-Control, Frames, RTP-Info. */
static void
replay_answer(struct rtsp_conn *rc, struct rtsp_request *req, struct rtsp_media_session *s,
    const struct play_wait *pw, int64_t start_us, const struct media_play_info *info)
{
	struct rtsp_range r = { .unit = pw->npt ? RTSP_RANGE_NPT : RTSP_RANGE_CLOCK, .has_start = true,
	    .start = start_us, .has_end = pw->rq.has_end, .end = pw->rq.end_us };
	char headers[2600], sh[96], ri[2000], range[128], scale[24], speed[40] = "";

	if (pw->npt) {
		r.start = GW_MAX(0, start_us - s->origin_us);
		r.end = GW_MAX(r.start, pw->rq.end_us - s->origin_us);
	}
	if (rtsp_range_format(&r, range, sizeof(range)) < 0)
		snprintf(range, sizeof(range), "npt=now-");
	if (rtsp_scale_format(pw->rq.scale_milli, scale, sizeof(scale)) < 0)
		snprintf(scale, sizeof(scale), "1.0");
	if (pw->rq.speed_milli != 1000) {
		memcpy(speed, "Speed: ", 7);
		if (rtsp_scale_format(pw->rq.speed_milli, speed + 7, sizeof(speed) - 9) > 0)
			strcat(speed, "\r\n");
		else
			speed[0] = '\0';
	}
	session_header(s, sh, sizeof(sh));
	rtp_info(req, s, info, ri, sizeof(ri));
	snprintf(headers, sizeof(headers), "Range: %s\r\nScale: %s\r\n%sRate-Control: %s\r\n%s%s", range, scale,
	    speed, pw->rq.rate_control ? "yes" : "no", ri, sh);
	reply(rc, req, 200, headers);
}

static int
replay_status_code(enum replay_status st)
{
	switch (st) {
	case REPLAY_OK:
		return 200;
	case REPLAY_OUTSIDE_WINDOW:
		return 403;
	case REPLAY_NO_FOOTAGE:
		return 457;
	case REPLAY_BAD_REQUEST:
		return 400;
	default:
		return 500;
	}
}

static void
replay_refused(struct rtsp_conn *rc, struct rtsp_request *req, struct rtsp_media_session *s,
    enum replay_status st)
{
	if (st == REPLAY_OUTSIDE_WINDOW)
		audit_denied(rc, req, &s->principal, s->camera_id,
		    "requested footage is outside the grant's footage window");
	reply(rc, req, replay_status_code(st), NULL);
}

static void
replay_play_now(struct rtsp_conn *rc, struct rtsp_request *req, struct rtsp_media_session *s,
    const struct play_wait *pw, int64_t start_us)
{
	struct media_play_info info;

	if (rtsp_session_play(s, &info) < 0) {
		reply(rc, req, 455, NULL);
		return;
	}
	replay_answer(rc, req, s, pw, start_us, &info);
	rtsp_write(rc);
}

static void
replay_seeked(void *arg, enum replay_status st, const struct replay_position *pos)
{
	struct rtsp_conn *rc = arg;
	struct rtsp_request *req = rc->req;
	struct play_wait *pw = req->pending;
	struct rtsp_media_session *s = rc->session;

	rc->seek_wait = false;
	if (s == NULL) {
		reply(rc, req, 454, NULL);
	} else if (st != REPLAY_OK) {
		replay_refused(rc, req, s, st);
	} else {
		replay_play_now(rc, req, s, pw, pos->start_us);
	}
	rtsp_request_done(rc);
}

/*
 * A replay PLAY: a new position (Range, or the first PLAY) is found by
 * the stream first and answered when found; a PLAY after PAUSE without
 * Range resumes where it stopped.
 */
static void
play_replay(struct rtsp_conn *rc, struct rtsp_request *req, struct rtsp_media_session *s,
    const struct gw_principal *p)
{
	struct play_wait pw = { 0 }, *pending;
	enum replay_status st;
	size_t len;
	int status;

	pw.has_range = header_value(req, "Range", &len) != NULL;
	if ((status = replay_request_of(req, s, p, &pw.rq, &pw.npt)) != 0) {
		reply(rc, req, status, NULL);
		return;
	}
	if (!pw.has_range && s->replay_played && header_value(req, "Scale", &len) == NULL &&
	    header_value(req, "Speed", &len) == NULL && header_value(req, "Rate-Control", &len) == NULL &&
	    header_value(req, "Frames", &len) == NULL) {
		pw.rq = s->replay_rq;
		replay_play_now(rc, req, s, &pw, replay_stream_position(s->stream));
		return;
	}
	pending = gw_xmalloc(sizeof(*pending));
	*pending = pw;
	st = replay_stream_seek(s->stream, &pw.rq, replay_seeked, rc);
	if (st != REPLAY_OK) {
		free(pending);
		replay_refused(rc, req, s, st);
		return;
	}
	s->replay_played = true;
	s->replay_rq = pw.rq;
	req->pending = pending;
	rc->req_state = REQ_WAITING;
	rc->seek_wait = true;
}

static void
do_play(struct rtsp_conn *rc, struct rtsp_request *req, const struct rtsp_target *t,
    const struct gw_principal *p)
{
	struct rtsp_media_session *s = own_session(rc, req, p);
	struct media_play_info info;
	char headers[2400], sh[96], ri[2000];

	(void)t;
	if (s == NULL || s->principal.credential_id != p->credential_id) {
		reply(rc, req, 454, NULL);
		return;
	}
	if (!session_still_allowed(rc, req, s, p)) {
		reply(rc, req, 403, NULL);
		return;
	}
	if (s->kind == RSK_REPLAY) {
		if (s->track_mask == 0) {
			reply(rc, req, 455, NULL);
			return;
		}
		play_replay(rc, req, s, p);
		return;
	}
	if (s->track_mask == 0 || rtsp_session_play(s, &info) < 0) {
		reply(rc, req, s->track_mask == 0 ? 455 : 461, NULL);
		return;
	}
	session_header(s, sh, sizeof(sh));
	rtp_info(req, s, &info, ri, sizeof(ri));
	snprintf(headers, sizeof(headers), "Range: npt=now-\r\n%s%s", ri, sh);
	reply(rc, req, 200, headers);
	rtsp_write(rc);
}

static void
do_pause(struct rtsp_conn *rc, struct rtsp_request *req, const struct rtsp_target *t,
    const struct gw_principal *p)
{
	struct rtsp_media_session *s = own_session(rc, req, NULL);
	char sh[96];

	(void)t;
	(void)p;
	if (s == NULL) {
		reply(rc, req, 454, NULL);
		return;
	}
	rtsp_session_pause(s);
	session_header(s, sh, sizeof(sh));
	reply(rc, req, 200, sh);
}

static void
do_teardown(struct rtsp_conn *rc, struct rtsp_request *req, const struct rtsp_target *t,
    const struct gw_principal *p)
{
	struct rtsp_media_session *s = own_session(rc, req, p);

	(void)t;
	if (s == NULL) {
		reply(rc, req, 454, NULL);
		return;
	}
	rtsp_session_end(s, "teardown");
	reply(rc, req, 200, NULL);
}

/* --- the method table and dispatch ---------------------------------------------------------- */

static const struct rtsp_method methods[] = {
	{ "OPTIONS", 0, do_options },
	{ "DESCRIBE", M_AUTH | M_TARGET, do_describe },
	{ "SETUP", M_AUTH | M_TARGET, do_setup },
	{ "PLAY", M_AUTH | M_TARGET | M_SESSION, do_play },
	{ "PAUSE", M_SESSION, do_pause },
	{ "TEARDOWN", M_AUTH | M_TARGET | M_SESSION, do_teardown },
	{ "GET_PARAMETER", 0, do_keepalive },
	{ "SET_PARAMETER", 0, do_keepalive },
};

const char *
rtsp_public_methods(void)
{
	static char list[160];

	if (list[0] == '\0')
		for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			    methods[i].name);
	return list;
}

static const struct rtsp_method *
find_method(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}

/* Feature tags the client requires must all be ones this kind of session takes. */
static bool
check_require(struct rtsp_conn *rc, struct rtsp_request *req, const char *const *features)
{
	struct rtsp_unsupported u;
	char headers[RTSP_UNSUPPORTED_MAX + 32];

	rtsp_unsupported_init(&u);
	for (int i = 0; i < req->msg.nheaders; i++) {
		const struct msg_header *h = &req->msg.headers[i];

		if (!proto_str_ieq(h->name, "Require") && !proto_str_ieq(h->name, "Proxy-Require"))
			continue;
		if (rtsp_require_check(h->value.p, h->value.len, features, &u) < 0) {
			reply(rc, req, 400, NULL);
			return false;
		}
	}
	if (u.count == 0)
		return true;
	snprintf(headers, sizeof(headers), "Unsupported: %s\r\n", u.text);
	reply(rc, req, 551, headers);
	return false;
}

void
rtsp_handle(struct rtsp_conn *rc, struct rtsp_request *req)
{
	const struct rtsp_method *m = find_method(req->method);
	struct rtsp_target t = { .kind = RSK_LIVE, .track = -1 };
	struct gw_principal p = { 0 };
	bool has_target = false;
	char allow[200];
	int status = 404;

	if (m == NULL) {
		snprintf(allow, sizeof(allow), "Allow: %s\r\n", rtsp_public_methods());
		reply(rc, req, 405, allow);
		return;
	}
	if (strcmp(req->url, "*") != 0 && (status = parse_target(req->url, &t)) == 0)
		has_target = true;
	if (!check_require(rc, req, has_target ? kinds[t.kind].features : live_features))
		return;
	if ((m->flags & M_TARGET) && !has_target) {
		reply(rc, req, strcmp(req->url, "*") == 0 ? 400 : status, NULL);
		return;
	}
	if ((m->flags & M_SESSION) && !req->has_session) {
		reply(rc, req, 454, NULL);
		return;
	}
	if ((m->flags & M_AUTH) && !authenticate(rc, req, &t, &p))
		return;
	m->handler(rc, req, &t, (m->flags & M_AUTH) ? &p : NULL);
}
