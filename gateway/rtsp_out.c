/*
 * rtsp_out.c - getting media out.
 *
 * Interleaved (TCP, TLS, the HTTP tunnel's GET side, WebSocket): one writev
 * per wake-up carries every frame that arrived in the loop pass, straight
 * from the shared frame memory. Control bytes (responses, RTCP) wait for a
 * packet boundary and, on a WebSocket, for the end of the binary frame being
 * written, so nothing is ever spliced into the middle of a packet.
 *
 * UDP: one RTP and one RTCP socket for every reader (server_port=P-P+1),
 * sendmmsg over the packets each reader has queued. If the kernel buffer is
 * full the packets stay queued and the socket's write event resumes them.
 *
 * Multicast: one sender per camera group, fed by one hub reader; RTSP
 * sessions that chose multicast and ONVIF StartMulticastStreaming share it.
 */
#include "gw.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "media.h"
#include "model.h"
#include "rtsp.h"
#include "session.h"

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
#define UDP_BATCH 64
#define UDP_SNDBUF (4 * 1024 * 1024)

/* RTP and RTCP destination of each track; |sent| (optional) counts the bytes that went. */
struct udp_dest {
	const struct sockaddr_storage *to[HUB_MAX_TRACKS][2];
	uint64_t *sent;
};

struct rtsp_mcast {
	int64_t camera_id;
	struct sockaddr_storage addrs[HUB_MAX_TRACKS][2];
	struct udp_dest dest;
	char group[64];
	int port, ttl;
	int refs;
	uint64_t sent;			/* bytes sent to the group, for its sessions' accounts */
	struct hub_reader *reader;
	TAILQ_ENTRY(rtsp_mcast) link;
};

TAILQ_HEAD(mcast_list, rtsp_mcast);

static int udp_rtp_fd = -1, udp_rtcp_fd = -1, mcast_fd = -1;
static struct event *udp_rtcp_ev, *udp_write_ev;
static int udp_port;
static struct mcast_list mcasts = TAILQ_HEAD_INITIALIZER(mcasts);
static bool udp_blocked;

/* --- WebSocket frames ----------------------------------------------------------- */

/* A final binary frame from the server (never masked). Returns the header length. */
int
rtsp_ws_frame_header(uint8_t hdr[10], uint64_t len)
{
	hdr[0] = 0x82;
	if (len < 126) {
		hdr[1] = (uint8_t)len;
		return 2;
	}
	if (len < 65536) {
		hdr[1] = 126;
		hdr[2] = (uint8_t)(len >> 8);
		hdr[3] = (uint8_t)len;
		return 4;
	}
	hdr[1] = 127;
	for (int i = 0; i < 8; i++)
		hdr[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return 10;
}

/* --- interleaved writer ------------------------------------------------------------ */

/* Write control bytes now if nothing else is half written. Returns false if blocked or dead. */
static bool
flush_control(struct rtsp_conn *rc)
{
	struct gw_conn *c = rc->conn;
	struct hub_reader *r = rc->session ? rc->session->reader : NULL;

	if (conn_out_len(c) == 0)
		return true;
	if (rc->ws_left > 0 || (r && !hub_reader_at_boundary(r)))
		return true;	/* finish the media unit first */
	if (conn_flush(c) < 0)
		return false;
	return conn_out_len(c) == 0;
}

/* Bytes from the media iovec, with a WebSocket frame header in front when one is due. */
static int
media_iov(struct rtsp_conn *rc, struct hub_reader *r, struct iovec *iov, size_t *media_bytes)
{
	int off = rc->wire == WIRE_WEBSOCKET ? 1 : 0, n;
	size_t total = 0, cap = WRITE_MAX_BYTES;

	if (rc->wire == WIRE_WEBSOCKET && rc->ws_left > 0)
		cap = (size_t)GW_MIN(rc->ws_left, (uint64_t)WRITE_MAX_BYTES);
	n = hub_reader_iov(r, iov + off, WRITE_IOV - off, cap, rc->session->channels, NULL);
	for (int i = off; i < off + n; i++) {
		if (total + iov[i].iov_len > cap) {
			iov[i].iov_len = cap - total;
			n = i - off + 1;
		}
		total += iov[i].iov_len;
	}
	*media_bytes = total;
	if (off == 0)
		return n;
	if (rc->ws_left == 0 && rc->ws_hdr_sent == rc->ws_hdr_len) {
		rc->ws_hdr_len = (uint8_t)rtsp_ws_frame_header(rc->ws_hdr, total);
		rc->ws_hdr_sent = 0;
		rc->ws_left = total;
	}
	iov[0].iov_base = rc->ws_hdr + rc->ws_hdr_sent;
	iov[0].iov_len = rc->ws_hdr_len - rc->ws_hdr_sent;
	return n + 1;
}

/* Account |w| written bytes: first the WebSocket header, then media. */
static void
media_written(struct rtsp_conn *rc, struct hub_reader *r, size_t w)
{
	if (rc->wire == WIRE_WEBSOCKET) {
		size_t h = GW_MIN(w, (size_t)(rc->ws_hdr_len - rc->ws_hdr_sent));

		rc->ws_hdr_sent = (uint8_t)(rc->ws_hdr_sent + h);
		w -= h;
		rc->ws_left -= w;
	}
	hub_reader_consumed(r, w);
}

/* One writev of media. Returns 1 if all of it went, 0 if the socket is full, -1 if dead. */
static int
write_media(struct rtsp_conn *rc, struct hub_reader *r)
{
	struct iovec iov[WRITE_IOV];
	size_t media, want = 0;
	int n = media_iov(rc, r, iov, &media);
	ssize_t w;

	for (int i = 0; i < n; i++)
		want += iov[i].iov_len;
	if (want == 0)
		return 1;
	w = conn_writev(rc->conn, iov, n);
	if (w < 0)
		return -1;
	media_written(rc, r, (size_t)w);
	if (rc->session && rc->session->gs)
		session_add_bytes(rc->session->gs, (uint64_t)w);
	return (size_t)w == want ? 1 : 0;
}

void
rtsp_write(struct rtsp_conn *rc)
{
	struct gw_conn *c = rc->conn;
	struct hub_reader *r;

	for (;;) {
		if (!conn_is_open(c))
			return;
		if (!flush_control(rc))
			goto blocked;
		r = rc->session && rc->session->state == RS_PLAYING && !rc->session->udp &&
		    !rc->session->mcast ? rc->session->reader : NULL;
		if (r == NULL || !hub_reader_pending(r)) {
			if (conn_out_len(c) == 0)
				break;
			continue;
		}
		switch (write_media(rc, r)) {
		case -1:
			return;
		case 0:
			goto blocked;
		}
	}
	/* Everything went: no need to hear from the socket until there is more. */
	if (c->want_write) {
		c->want_write = false;
		event_del(c->ev_write);
	}
	return;
blocked:
	conn_want_write(c);
}

static void
tcp_reader_wake(struct hub_reader *r)
{
	struct rtsp_media_session *s = hub_reader_owner(r);

	if (s->rc && !s->rc->conn->want_write)
		rtsp_write(s->rc);
}

static void
reader_gone(struct hub_reader *r, const char *why)
{
	struct rtsp_media_session *s = hub_reader_owner(r);

	rtsp_session_end(s, why);
}

const struct hub_reader_ops rtsp_tcp_reader_ops = {
	.wake = tcp_reader_wake,
	.gone = reader_gone,
};

/* --- UDP -------------------------------------------------------------------------------- */

static socklen_t
addr_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* Send what |r| has queued, packet by packet, in batches. False when the socket is full. */
static bool
udp_send_queue(struct hub_reader *r, int fd, const struct udp_dest *dest, struct gw_session *gs)
{
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	static const uint8_t chans[HUB_MAX_TRACKS] = { 0, 2, 4, 6 };

	while (hub_reader_pending(r)) {
		struct iovec raw[UDP_BATCH * 2];
		int n = hub_reader_iov(r, raw, UDP_BATCH * 2, WRITE_MAX_BYTES, chans, NULL);
		int npkts = 0, sent;
		size_t consumed = 0;

		/* Each iovec from the hub covers whole packets with their '$' prefixes: split them. */
		for (int i = 0; i < n && npkts < UDP_BATCH; i++) {
			uint8_t *p = raw[i].iov_base;
			size_t left = raw[i].iov_len;

			while (left >= 4 && npkts < UDP_BATCH) {
				size_t plen = 4 + ((size_t)p[2] << 8 | p[3]);
				const struct sockaddr_storage *to = dest->to[(p[1] >> 1) % HUB_MAX_TRACKS][p[1] & 1];

				if (plen > left)
					break;
				if (to == NULL) {	/* a track this destination does not take */
					p += plen;
					left -= plen;
					continue;
				}
				iov[npkts].iov_base = p + 4;
				iov[npkts].iov_len = plen - 4;
				memset(&msgs[npkts], 0, sizeof(msgs[npkts]));
				msgs[npkts].msg_hdr.msg_iov = &iov[npkts];
				msgs[npkts].msg_hdr.msg_iovlen = 1;
				msgs[npkts].msg_hdr.msg_name = (void *)to;
				msgs[npkts].msg_hdr.msg_namelen = addr_len(to);
				npkts++;
				p += plen;
				left -= plen;
			}
			if (left > 0)
				break;
		}
		if (npkts == 0)
			return true;
		sent = sendmmsg(fd, msgs, (unsigned)npkts, MSG_DONTWAIT);
		if (sent < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
				return false;
			sent = npkts;	/* unreachable peer and the like: the packets are lost */
		}
		for (int i = 0; i < sent; i++)
			consumed += 4 + iov[i].iov_len;
		hub_reader_consumed(r, consumed);
		if (gs)
			session_add_bytes(gs, consumed);
		if (dest->sent)
			*dest->sent += consumed;
		if (sent < npkts)
			return false;
	}
	return true;
}

static void
udp_reader_wake(struct hub_reader *r)
{
	struct rtsp_media_session *s = hub_reader_owner(r);
	struct udp_dest dest = { 0 };

	if (udp_blocked)
		return;
	for (int t = 0; t < HUB_MAX_TRACKS; t++)
		if (s->tracks[t].kind == RT_UDP) {
			dest.to[t][0] = &s->tracks[t].rtp_to;
			dest.to[t][1] = &s->tracks[t].rtcp_to;
		}
	if (!udp_send_queue(r, udp_rtp_fd, &dest, s->gs)) {
		udp_blocked = true;
		event_add(udp_write_ev, NULL);
	}
}

void
rtsp_udp_wake(struct hub_reader *r)
{
	udp_reader_wake(r);
}

const struct hub_reader_ops rtsp_udp_reader_ops = {
	.wake = udp_reader_wake,
	.gone = reader_gone,
};

void
rtsp_udp_send_rtcp(struct rtsp_media_session *s, int track, const void *pkt, size_t len)
{
	const struct rtsp_track_setup *t = &s->tracks[track];

	if (t->kind != RT_UDP || udp_rtcp_fd < 0)
		return;
	if (sendto(udp_rtcp_fd, pkt, len, MSG_DONTWAIT, (const struct sockaddr *)&t->rtcp_to,
	    addr_len(&t->rtcp_to)) > 0 && s->gs)
		session_add_bytes(s->gs, len);
}

/* The shared socket can take more: resume every UDP reader with something queued. */
static void
udp_writable(evutil_socket_t fd, short what, void *arg)
{
	udp_blocked = false;
	rtsp_sessions_udp_resume();
}

/* RTCP receiver reports from clients keep their UDP sessions alive. */
static void
udp_rtcp_readable(evutil_socket_t fd, short what, void *arg)
{
	uint8_t buf[2048];
	struct sockaddr_storage from;

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

/* --- multicast ---------------------------------------------------------------------------- */

/*
 * Multicast is best effort: what the kernel will not take now is dropped.
 * A group starts at the next keyframe, not with the GOP cache: a burst of
 * the past would overflow its receivers' socket buffers.
 */
static void
mcast_wake(struct hub_reader *r)
{
	struct rtsp_mcast *m = hub_reader_owner(r);

	if (!udp_send_queue(r, mcast_fd, &m->dest, NULL))
		hub_reader_discard(r);
}

static void
mcast_gone(struct hub_reader *r, const char *why)
{
	struct rtsp_mcast *m = hub_reader_owner(r);

	m->reader = NULL;
}

static const struct hub_reader_ops mcast_reader_ops = {
	.wake = mcast_wake,
	.gone = mcast_gone,
};

int
media_mcast_slot(struct hub_source *src, int track)
{
	const struct adapter_track *t = hub_source_track(src, track);

	/* The first track of each kind has the slot ONVIF configurations name. */
	for (int i = 0; i < track; i++)
		if (hub_source_track(src, i)->media == t->media)
			return 3 + track;
	return t->media == ADAPTER_VIDEO ? 0 : t->media == ADAPTER_AUDIO ? 1 : 2;
}

/*
 * A group carries every track of the camera to whoever joins it on the
 * network, so only a principal that may receive every track may start it
 * or share it; others stream unicast.
 */
bool
media_mcast_allowed(const struct gw_principal *p, int64_t camera_id, struct hub_source *src)
{
	for (int i = 0; i < hub_source_ntracks(src); i++) {
		struct policy_request req = { .action = rtsp_track_action(hub_source_track(src, i)),
		    .now_us = gw_wall_us() };

		if (!model_authorize(p, camera_id, &req).allow)
			return false;
	}
	return true;
}

/* The group's destinations, track by track: port + 2 * slot (RTP) and the next port (RTCP). */
static bool
set_destinations(struct rtsp_mcast *m, struct hub_source *src)
{
	for (int t = 0; t < hub_source_ntracks(src); t++)
		for (int k = 0; k < 2; k++) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&m->addrs[t][k];

			sin->sin_family = AF_INET;
			sin->sin_port = htons((uint16_t)(m->port + 2 * media_mcast_slot(src, t) + k));
			if (inet_pton(AF_INET, m->group, &sin->sin_addr) != 1)
				return false;
			m->dest.to[t][k] = &m->addrs[t][k];
		}
	return true;
}

struct rtsp_mcast *
media_mcast_join(const struct gw_principal *p, int64_t camera_id, struct hub_source *src,
    const char **why)
{
	const struct model_camera *cam = model_camera(gw.model, camera_id);
	struct rtsp_mcast *m;

	if (!media_mcast_allowed(p, camera_id, src)) {
		*why = "a multicast group carries every track of the camera; the grant does not cover them all";
		return NULL;
	}
	TAILQ_FOREACH(m, &mcasts, link)
		if (m->camera_id == camera_id && m->reader) {
			m->refs++;
			return m;
		}
	if (cam == NULL || cam->multicast_group == NULL || cam->multicast_port == 0) {
		*why = "no multicast group is configured for this camera";
		return NULL;
	}
	if (mcast_fd < 0) {
		*why = "multicast is not available";
		return NULL;
	}
	m = gw_xcalloc(1, sizeof(*m));
	m->camera_id = camera_id;
	snprintf(m->group, sizeof(m->group), "%s", cam->multicast_group);
	m->port = cam->multicast_port;
	m->ttl = gw.cfg->rtsp_multicast_ttl;
	if (!set_destinations(m, src)) {
		free(m);
		*why = "the camera's multicast group is not an IPv4 address";
		return NULL;
	}
	m->refs = 1;
	m->dest.sent = &m->sent;
	m->reader = hub_reader_new(src, (1u << hub_source_ntracks(src)) - 1, 0, &mcast_reader_ops, m);
	setsockopt(mcast_fd, IPPROTO_IP, IP_MULTICAST_TTL, &m->ttl, sizeof(m->ttl));
	hub_reader_play_live(m->reader);
	TAILQ_INSERT_TAIL(&mcasts, m, link);
	log_info("multicast of cam=%lld started on %s:%d", (long long)m->camera_id, m->group, m->port);
	return m;
}

const uint64_t *
media_mcast_counter(const struct rtsp_mcast *m)
{
	return &m->sent;
}

void
media_mcast_leave(struct rtsp_mcast *m)
{
	if (--m->refs > 0)
		return;
	log_info("multicast of cam=%lld stopped", (long long)m->camera_id);
	hub_reader_free(m->reader);
	TAILQ_REMOVE(&mcasts, m, link);
	free(m);
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
	mcast_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (mcast_fd >= 0) {
		int size = UDP_SNDBUF;

		/* Room for a cached GOP sent at once when a group starts. */
		setsockopt(mcast_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	}
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
	if (mcast_fd >= 0)
		close(mcast_fd);
	udp_rtp_fd = udp_rtcp_fd = mcast_fd = -1;
}
