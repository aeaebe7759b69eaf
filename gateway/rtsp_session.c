/*
 * rtsp_session.c - RTSP sessions: creation, lookup, play, keep-alive and
 * timeout, RTCP sender reports, and the link to the session registry that
 * closes them when their grant stops allowing them.
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/conn.h"
#include "gateway/log.h"
#include "gateway/loop.h"
#include "gateway/rtsp.h"
#include "gateway/session.h"
#include "gateway/media/mcast.h"
#include "proto/rtcp.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TAILQ_HEAD(rtsp_session_list, rtsp_media_session);

static struct rtsp_session_list all_sessions = TAILQ_HEAD_INITIALIZER(all_sessions);

static void
registry_close(struct gw_session *gs, const char *reason)
{
	struct rtsp_media_session *s = gs->owner;

	GW_CHECK(s, RTSP_SESSION_MAGIC);
	/* The client must notice: close its connection, which ends the session with it. */
	if (s->rc != NULL)
		rtsp_conn_close(s->rc, reason);
	rtsp_session_end(s, reason);
}

static const struct session_ops registry_ops = {
	.close = registry_close,
};

/* --- the stream's callbacks ---------------------------------------------------------- */

static void
stream_wake(struct media_stream *st)
{
	struct rtsp_media_session *s = st->owner;

	if (s->udp)
		rtsp_udp_wake(s);
	else if (s->rc && !s->rc->conn->want_write)
		rtsp_write(s->rc);
}

static void
stream_gone(struct media_stream *st, const char *why)
{
	rtsp_session_end(st->owner, why);
}

static void send_bye(struct rtsp_media_session *s, int track);

/* A replay sent its last frame: RTCP BYE on every track (ONVIF: the session stays, not paused). */
static void
stream_ended(struct media_stream *st)
{
	struct rtsp_media_session *s = st->owner;

	for (int t = 0; t < media_stream_ntracks(st); t++)
		if (s->track_mask & (1u << t))
			send_bye(s, t);
	stream_wake(st);
}

const struct media_stream_owner_ops rtsp_stream_owner_ops = {
	.wake = stream_wake,
	.gone = stream_gone,
	.ended = stream_ended,
};

/* --- sessions ---------------------------------------------------------------------------- */

struct rtsp_media_session *
rtsp_session_new(struct rtsp_conn *rc, const struct gw_principal *p, const struct rtsp_target *t,
    struct media_stream *stream)
{
	struct rtsp_media_session *s = gw_xcalloc(1, sizeof(*s));
	unsigned char rnd[RTSP_SESSION_ID_LEN / 2];

	if (gw_random(rnd, sizeof(rnd)) < 0) {
		free(s);
		return NULL;
	}
	s->magic = RTSP_SESSION_MAGIC;
	gw_hex(rnd, sizeof(rnd), s->id);
	s->kind = t->kind;
	s->state = RS_READY;
	s->rc = rc;
	s->principal = *p;
	s->peer = rc->conn->peer;
	snprintf(s->peer_str, sizeof(s->peer_str), "%s", rc->conn->peer_str);
	s->camera_id = t->camera_id;
	s->stream = stream;
	stream->owner = s;
	s->started_us = s->last_seen_us = gw_mono_us();
	TAILQ_INSERT_TAIL(&all_sessions, s, link);
	rc->session = s;
	return s;
}

struct rtsp_media_session *
rtsp_session_find(const char *id)
{
	struct rtsp_media_session *s;

	if (strlen(id) != RTSP_SESSION_ID_LEN)
		return NULL;
	TAILQ_FOREACH(s, &all_sessions, link)
		if (!s->ending && gw_streq_ct(s->id, id, RTSP_SESSION_ID_LEN))
			return s;
	return NULL;
}

int
rtsp_session_count_for(int64_t grant_id)
{
	struct rtsp_media_session *s;
	int n = 0;

	TAILQ_FOREACH(s, &all_sessions, link)
		n += !s->ending && s->principal.grant_id == grant_id;
	return n;
}

/* What the registry re-checks: the strongest thing the session receives. */
static enum gw_action
session_action(const struct rtsp_media_session *s)
{
	bool audio = false, meta = false;

	if (s->kind == RSK_REPLAY)
		return ACT_REPLAY;
	for (int i = 0; i < media_stream_ntracks(s->stream); i++) {
		if (!(s->track_mask & (1u << i)))
			continue;
		switch (media_stream_track(s->stream, i)->media) {
		case ADAPTER_VIDEO:
			return ACT_LIVE_VIDEO;
		case ADAPTER_AUDIO:
			audio = true;
			break;
		case ADAPTER_METADATA:
			meta = true;
			break;
		}
	}
	return audio ? ACT_LIVE_AUDIO : meta ? ACT_METADATA : ACT_LIVE_VIDEO;
}

static const char *
transport_name(const struct rtsp_media_session *s)
{
	if (s->mcast || s->tracks[0].kind == RT_MULTICAST)
		return "multicast";
	if (s->udp)
		return "udp";
	if (s->rc == NULL)
		return "tcp";
	switch (s->rc->wire) {
	case WIRE_TUNNEL:
		return "http";
	case WIRE_WEBSOCKET:
		return "websocket";
	default:
		return s->rc->conn->tls ? "tls" : "tcp";
	}
}

static int
play_multicast(struct rtsp_media_session *s, struct media_play_info *info)
{
	struct hub *hub = live_stream_hub(s->stream);
	const char *why = "multicast is for live streams";

	if (s->mcast == NULL && (hub == NULL || (s->mcast = mcast_join(&s->principal, hub, &why)) == NULL)) {
		log_info("%s cam=%lld: no multicast: %s", s->gs ? s->gs->ident : "rtsp",
		    (long long)s->camera_id, why);
		return -1;
	}
	memset(info, 0, sizeof(*info));
	return 0;
}

int
rtsp_session_play(struct rtsp_media_session *s, struct media_play_info *info)
{
	if (s->gs == NULL)
		s->gs = session_open(&s->principal, s->camera_id, session_action(s), "rtsp",
		    transport_name(s), s->peer_str, &registry_ops, s);
	if (s->tracks[0].kind == RT_MULTICAST || s->mcast) {
		if (play_multicast(s, info) < 0)
			return -1;
		if (s->gs)
			session_share_counter(s->gs, mcast_counter(s->mcast));	/* the group's bytes */
	} else {
		media_stream_set_tracks(s->stream, s->track_mask);
		if (media_stream_play(s->stream, info) < 0)
			return -1;
	}
	s->state = RS_PLAYING;
	s->last_sr_us = 0;
	s->sr_sent_mask = 0;
	rtsp_session_touch(s);
	return 0;
}

void
rtsp_session_pause(struct rtsp_media_session *s)
{
	if (s->state == RS_PLAYING && !s->mcast)
		media_stream_pause(s->stream);
	s->state = RS_READY;
	rtsp_session_touch(s);
}

void
rtsp_session_end(struct rtsp_media_session *s, const char *reason)
{
	GW_CHECK(s, RTSP_SESSION_MAGIC);
	if (s->ending)
		return;
	s->ending = true;
	if (s->gs && replay_stream_is(s->stream)) {
		int64_t from, until;

		if (replay_stream_sent(s->stream, &from, &until))
			session_set_footage(s->gs, from, until);
	}
	if (s->gs)
		session_end(s->gs, reason);
	s->gs = NULL;
	media_stream_free(s->stream);
	s->stream = NULL;
	if (s->mcast)
		mcast_leave(s->mcast);
	if (s->rc && s->rc->session == s)
		s->rc->session = NULL;
	TAILQ_REMOVE(&all_sessions, s, link);
	if (s->pace_timer)
		event_free(s->pace_timer);
	s->magic = 0;
	free(s);
}

/*
 * The connection goes away. An interleaved session dies with it; a UDP or
 * multicast session may outlive its control connection (RFC 2326) until
 * TEARDOWN from another connection or its timeout.
 */
void
rtsp_session_detach(struct rtsp_media_session *s)
{
	if ((s->udp || s->mcast) && s->state == RS_PLAYING) {
		s->rc = NULL;
		return;
	}
	s->rc = NULL;
	rtsp_session_end(s, "connection closed");
}

void
rtsp_session_touch(struct rtsp_media_session *s)
{
	s->last_seen_us = gw_mono_us();
}

struct rtsp_media_session *
rtsp_session_by_udp_peer(const struct sockaddr_storage *from)
{
	struct rtsp_media_session *s;
	uint16_t port = from->ss_family == AF_INET ? ((const struct sockaddr_in *)from)->sin_port : 0;

	TAILQ_FOREACH(s, &all_sessions, link) {
		if (!s->udp || s->ending)
			continue;
		for (int t = 0; t < MEDIA_MAX_TRACKS; t++)
			if (s->tracks[t].kind == RT_UDP && gw_same_host(&s->tracks[t].rtcp_to, from) &&
			    ((const struct sockaddr_in *)&s->tracks[t].rtcp_to)->sin_port == port)
				return s;
	}
	return NULL;
}

void
rtsp_sessions_udp_resume(void)
{
	struct rtsp_media_session *s;

	TAILQ_FOREACH(s, &all_sessions, link)
		if (s->udp && s->state == RS_PLAYING && frameq_pending(&s->stream->q))
			rtsp_udp_wake(s);
}

/* --- RTCP sender reports and BYE ------------------------------------------------ */

/* SR + SDES (and BYE): a compound packet of |track|; false when its timeline is unknown. */
static int
build_report(struct rtsp_media_session *s, int track, int64_t now_wall, bool bye, uint8_t *pkt, size_t cap)
{
	struct rtcp_sr sr = { 0 };
	int n, m, k = 0;

	if (!media_stream_rtp_at(s->stream, track, now_wall, &sr.rtp_ts) && !bye)
		return -1;
	sr.ssrc = media_stream_ssrc(s->stream, track);
	/* ONVIF replay without rate control: the SR's NTP and RTP times are zero. */
	sr.ntp = s->stream->sr_zero ? 0 : rtcp_ntp_from_unix_us(now_wall);
	if (s->stream->sr_zero)
		sr.rtp_ts = 0;
	frameq_track_counts(&s->stream->q, track, &sr.packet_count, &sr.octet_count);
	n = rtcp_sr_build(&sr, pkt, cap);
	m = n > 0 ? rtcp_sdes_cname_build(sr.ssrc, "vssgate", pkt + n, cap - (size_t)n) : -1;
	if (m <= 0)
		return -1;
	if (bye && (k = rtcp_bye_build(&sr.ssrc, 1, "end of recording", pkt + n + m, cap - (size_t)(n + m))) <= 0)
		return -1;
	return n + m + k;
}

static void
send_rtcp(struct rtsp_media_session *s, int track, const uint8_t *pkt, int n)
{
	if (s->udp)
		rtsp_udp_send_rtcp(s, track, pkt, (size_t)n);
	else
		frameq_queue_control(&s->stream->q, track, pkt, (size_t)n);
}

static void
send_sender_report(struct rtsp_media_session *s, int track, int64_t now_wall)
{
	uint8_t pkt[128];
	int n = build_report(s, track, now_wall, false, pkt, sizeof(pkt));

	if (n <= 0)
		return;
	s->sr_sent_mask |= 1u << track;
	send_rtcp(s, track, pkt, n);
}

static void
send_bye(struct rtsp_media_session *s, int track)
{
	uint8_t pkt[192];
	int n = build_report(s, track, gw_wall_us(), true, pkt, sizeof(pkt));

	if (n > 0)
		send_rtcp(s, track, pkt, n);
}

/*
 * Every RTSP_SR_INTERVAL_US, and for each track as soon as its timeline is
 * known: players put the tracks in sync from the first SR of each.
 */
static void
maybe_send_reports(struct rtsp_media_session *s, int64_t now)
{
	int64_t wall = gw_wall_us();
	bool due = now - s->last_sr_us >= RTSP_SR_INTERVAL_US;

	if (s->state != RS_PLAYING || s->mcast || s->stream == NULL)
		return;
	if (!due && (s->track_mask & ~s->sr_sent_mask) == 0)
		return;
	if (due)
		s->last_sr_us = now;
	for (int t = 0; t < media_stream_ntracks(s->stream); t++)
		if ((s->track_mask & (1u << t)) && (due || !(s->sr_sent_mask & (1u << t))))
			send_sender_report(s, t, wall);
}

/* --- the janitor ------------------------------------------------------------------ */

static bool
timed_out(const struct rtsp_media_session *s, int64_t now)
{
	/* A playing interleaved session lives as long as its connection. */
	if (s->state == RS_PLAYING && !s->udp && !s->mcast && s->rc != NULL)
		return false;
	return now - s->last_seen_us > gw.cfg->rtsp_session_timeout_ms * 1000;
}

static void
rtsp_session_janitor(int64_t now)
{
	struct rtsp_media_session *s, *next;

	for (s = TAILQ_FIRST(&all_sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, link);
		if (timed_out(s, now)) {
			if (s->rc)
				rtsp_conn_close(s->rc, "session timed out");
			rtsp_session_end(s, "session timed out");
			continue;
		}
		maybe_send_reports(s, now);
	}
}

void
rtsp_sessions_init(void)
{
	loop_janitor_add(rtsp_session_janitor);
}

void
rtsp_sessions_shutdown(void)
{
	struct rtsp_media_session *s;

	while ((s = TAILQ_FIRST(&all_sessions)) != NULL)
		rtsp_session_end(s, "server shutting down");
}
