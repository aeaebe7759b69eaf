/*
 * rtsp_out.c - getting media out.
 *
 * Interleaved (TCP, TLS, the HTTP tunnel's GET side, WebSocket): one writev
 * per wake-up carries every frame that arrived in the loop pass, straight
 * from the shared frame memory of the session's queue. Control bytes
 * (responses, RTCP) wait for a packet boundary and, on a WebSocket, for
 * the end of the binary frame being written, so nothing is ever spliced
 * into the middle of a packet.
 *
 * UDP: one RTP and one RTCP socket for every reader (server_port=P-P+1),
 * sendmmsg over the packets each reader has queued (media/udp.c). If the
 * kernel buffer is full the packets stay queued and the socket's write
 * event resumes them. Each reader is paced: a burst, then at most
 * [rtsp] udp_pace_rate (or four times the camera's rate), because the
 * cached group of pictures a reader starts with (1-2 MB at 4 Mbit/s) sent
 * at line rate overflows a receiver's default socket buffer, and the
 * first keyframe, the one every later frame needs, is what gets lost.
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/conn.h"
#include "gateway/log.h"
#include "gateway/media.h"
#include "gateway/rtsp.h"
#include "gateway/session.h"
#include "gateway/media/udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WRITE_IOV 64
#define WRITE_MAX_BYTES (512 * 1024)
#define UDP_PACE_BURST (32 * 1024)	/* sent at once before the pace holds a reader back */
#define UDP_PACE_MIN_WAIT_US 2000
#define UDP_SNDBUF (4 * 1024 * 1024)

static int udp_rtp_fd = -1, udp_rtcp_fd = -1;
static struct event *udp_rtcp_ev, *udp_write_ev;
static int udp_port;
static bool udp_blocked;

/* --- interleaved writer ------------------------------------------------------------ */

/* Write control bytes now if nothing else is half written. Returns false if blocked or dead. */
static bool
flush_control(struct rtsp_conn *rc)
{
	struct gw_conn *c = rc->conn;
	struct frameq *q = rtsp_conn_queue(rc);

	if (conn_out_len(c) == 0)
		return true;
	if ((rc->wire == WIRE_WEBSOCKET && ws_in_frame(&rc->ws)) || (q && !frameq_at_boundary(q)))
		return true;	/* finish the media unit first */
	if (conn_flush(c) < 0)
		return false;
	return conn_out_len(c) == 0;
}

/* Bytes from the queue, with a WebSocket frame header in front when one is due. */
static int
media_iov(struct rtsp_conn *rc, struct frameq *q, struct iovec *iov)
{
	int off = rc->wire == WIRE_WEBSOCKET ? 1 : 0, n;
	size_t total = 0, cap = WRITE_MAX_BYTES;

	if (rc->wire == WIRE_WEBSOCKET && ws_in_frame(&rc->ws))
		cap = ws_frame_open(&rc->ws, cap);
	n = frameq_iov(q, iov + off, WRITE_IOV - off, cap, rc->session->channels);
	for (int i = off; i < off + n; i++) {
		if (total + iov[i].iov_len > cap) {
			iov[i].iov_len = cap - total;
			n = i - off + 1;
		}
		total += iov[i].iov_len;
	}
	if (off == 0)
		return n;
	ws_frame_open(&rc->ws, total);
	ws_frame_iov(&rc->ws, &iov[0]);
	return n + 1;
}

/* One writev of media. Returns 1 if all of it went, 0 if the socket is full, -1 if dead. */
static int
write_media(struct rtsp_conn *rc, struct frameq *q)
{
	struct iovec iov[WRITE_IOV];
	size_t want = 0, media;
	int n = media_iov(rc, q, iov);
	ssize_t w;

	for (int i = 0; i < n; i++)
		want += iov[i].iov_len;
	if (want == 0)
		return 1;
	w = conn_writev(rc->conn, iov, n);
	if (w < 0)
		return -1;
	media = rc->wire == WIRE_WEBSOCKET ? ws_frame_written(&rc->ws, (size_t)w) : (size_t)w;
	frameq_consumed(q, media);
	if (rc->session && rc->session->gs)
		session_add_bytes(rc->session->gs, (uint64_t)w);
	return (size_t)w == want ? 1 : 0;
}

void
rtsp_write(struct rtsp_conn *rc)
{
	struct gw_conn *c = rc->conn;
	struct frameq *q;

	for (;;) {
		if (!conn_is_open(c))
			return;
		if (!flush_control(rc))
			goto blocked;
		q = rtsp_conn_queue(rc);
		if (q == NULL || !frameq_pending(q)) {
			if (conn_out_len(c) == 0)
				break;
			continue;
		}
		switch (write_media(rc, q)) {
		case -1:
			return;
		case 0:
			goto blocked;
		}
	}
	conn_stop_write(c);
	return;
blocked:
	conn_want_write(c);
}

/* --- UDP -------------------------------------------------------------------------------- */

static void
pace_resume(evutil_socket_t fd, short what, void *arg)
{
	struct rtsp_media_session *s = arg;

	(void)fd;
	(void)what;
	GW_CHECK(s, RTSP_SESSION_MAGIC);
	if (s->state == RS_PLAYING)
		rtsp_udp_wake(s);
}

/* Bytes per second for |s|: the configured pace, or four times its camera's rate. */
static int64_t
pace_rate(const struct rtsp_media_session *s)
{
	struct media_status st;

	media_camera_status(s->camera_id, &st);
	return GW_MAX(gw.cfg->rtsp_udp_pace_rate, (int64_t)(st.bitrate_bps / 2));
}

/* What |s| may send now (> 0), or 0 after arming its timer for when it may. */
static size_t
pace_budget(struct rtsp_media_session *s)
{
	int64_t now = gw_mono_us(), wait_us;
	struct timeval tv;

	if (s->pace_at_us == 0) {
		s->pace_credit = UDP_PACE_BURST;	/* its first send: a full burst */
		s->pace_rate = pace_rate(s);
	} else {
		s->pace_credit = GW_MIN(UDP_PACE_BURST, s->pace_credit + (now - s->pace_at_us) * s->pace_rate / 1000000);
	}
	s->pace_at_us = now;
	if (s->pace_credit > 0)
		return (size_t)s->pace_credit;
	s->pace_rate = pace_rate(s);	/* held back: the camera's rate now */
	wait_us = GW_MAX(UDP_PACE_MIN_WAIT_US, (1500 - s->pace_credit) * 1000000 / s->pace_rate);
	if (s->pace_timer == NULL)
		s->pace_timer = evtimer_new(gw.base, pace_resume, s);
	tv.tv_sec = (time_t)(wait_us / 1000000);
	tv.tv_usec = (suseconds_t)(wait_us % 1000000);
	evtimer_add(s->pace_timer, &tv);
	return 0;
}

void
rtsp_udp_wake(struct rtsp_media_session *s)
{
	struct udp_dest dest = { 0 };
	uint64_t sent = 0;
	size_t cap = 0;		/* 0: no cap */
	bool done;

	if (udp_blocked || s->stream == NULL)
		return;
	if (gw.cfg->rtsp_udp_pace_rate > 0 && (cap = pace_budget(s)) == 0)
		return;		/* its timer resumes it */
	for (int t = 0; t < MEDIA_MAX_TRACKS; t++)
		if (s->tracks[t].kind == RT_UDP) {
			dest.to[t][0] = &s->tracks[t].rtp_to;
			dest.to[t][1] = &s->tracks[t].rtcp_to;
		}
	done = udp_send_queue(&s->stream->q, udp_rtp_fd, &dest, cap, &sent);
	if (s->gs)
		session_add_bytes(s->gs, sent);
	if (!done) {
		udp_blocked = true;
		event_add(udp_write_ev, NULL);
		return;
	}
	if (cap > 0) {
		s->pace_credit -= (int64_t)sent;	/* the last packet may take it below 0 */
		if (frameq_pending(&s->stream->q))
			(void)pace_budget(s);	/* the cap stopped it: arm the timer */
	}
}

void
rtsp_udp_send_rtcp(struct rtsp_media_session *s, int track, const void *pkt, size_t len)
{
	const struct rtsp_track_setup *t = &s->tracks[track];

	if (t->kind != RT_UDP || udp_rtcp_fd < 0)
		return;
	if (sendto(udp_rtcp_fd, pkt, len, MSG_DONTWAIT, (const struct sockaddr *)&t->rtcp_to,
	    udp_addr_len(&t->rtcp_to)) > 0 && s->gs)
		session_add_bytes(s->gs, len);
}

/* The shared socket can take more: resume every UDP reader with something queued. */
static void
udp_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	udp_blocked = false;
	rtsp_sessions_udp_resume();
}

/* RTCP receiver reports from clients keep their UDP sessions alive. */
static void
udp_rtcp_readable(evutil_socket_t fd, short what, void *arg)
{
	uint8_t buf[2048];
	struct sockaddr_storage from;

	(void)what;
	(void)arg;
	for (int i = 0; i < 64; i++) {
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		struct rtsp_media_session *s;

		if (n < 0)
			return;
		if ((s = rtsp_session_by_udp_peer(&from)) != NULL)
			rtsp_session_touch(s);
	}
}

static int
bind_udp(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int size = UDP_SNDBUF;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* --- set-up ------------------------------------------------------------------------------------ */

int
rtsp_udp_server_port(void)
{
	return udp_port;
}

int
rtsp_out_init(void)
{
	udp_port = gw.cfg->rtsp_udp_port;
	if (udp_port == 0)
		return 0;
	udp_rtp_fd = bind_udp(udp_port);
	udp_rtcp_fd = bind_udp(udp_port + 1);
	if (udp_rtp_fd < 0 || udp_rtcp_fd < 0) {
		log_error("cannot bind the RTP/RTCP UDP ports %d-%d: %s", udp_port, udp_port + 1,
		    strerror(errno));
		return -1;
	}
	udp_rtcp_ev = event_new(gw.base, udp_rtcp_fd, EV_READ | EV_PERSIST, udp_rtcp_readable, NULL);
	udp_write_ev = event_new(gw.base, udp_rtp_fd, EV_WRITE, udp_writable, NULL);
	event_add(udp_rtcp_ev, NULL);
	log_info("RTP over UDP on ports %d-%d", udp_port, udp_port + 1);
	return 0;
}

void
rtsp_out_shutdown(void)
{
	if (udp_rtcp_ev)
		event_free(udp_rtcp_ev);
	if (udp_write_ev)
		event_free(udp_write_ev);
	udp_rtcp_ev = udp_write_ev = NULL;
	if (udp_rtp_fd >= 0)
		close(udp_rtp_fd);
	if (udp_rtcp_fd >= 0)
		close(udp_rtcp_fd);
	udp_rtp_fd = udp_rtcp_fd = -1;
}
