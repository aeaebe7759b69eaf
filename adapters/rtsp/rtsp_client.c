/*
 * rtsp_client.c - the "rtsp" and "rtsp_udp" adapters: our own RTSP client
 * on the event loop, pulling one camera or VMS stream.
 *
 *   RC_CONNECTING -> RC_OPTIONS -> RC_DESCRIBE -> RC_SETUP (per track)
 *     -> RC_PLAY -> RC_PLAYING (keep-alive every timeout/2, RTCP RR every 5 s)
 *
 * Any failure (refused, timeout, error status, connection lost, no data)
 * goes to the core with adapter_source_failed(); the core closes the
 * adapter and opens it again with backoff, and readers stay attached.
 *
 * Media passes through: the RTP payloads of an access unit (by timestamp
 * and marker bit) go to the core as they came, with the keyframe flag read
 * from the NAL unit types; a keyframe without in-band parameter sets gets
 * the SDP's SPS/PPS (and VPS) in front, so a reader can start on it.
 */
#include "vssgate_build.h"
#include "adapters/adapter.h"
#include "proto/digest.h"
#include "proto/msg.h"
#include "proto/rtcp.h"
#include "proto/rtp.h"
#include "proto/rtsp_hdr.h"
#include "proto/sdp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RC_TICK_MS 500
#define RC_RR_INTERVAL_US 5000000
#define RC_READ_CHUNK 65536		/* one recv() while playing (libevent's own is 4 KiB) */
#define RC_READ_ROUNDS 4		/* at most this many of them a callback: others get a turn */
#define RC_MAX_HEAD 16384
#define RC_MAX_BODY 65536
#define RC_MAX_AU (4 * 1024 * 1024)
#define RC_MAX_PAYLOADS 4096
#define RC_MAX_UNAUTH 2

enum rc_state {
	RC_CONNECTING,
	RC_OPTIONS,
	RC_DESCRIBE,
	RC_SETUP,
	RC_PLAY,
	RC_PLAYING,
	RC_FAILED,
};

enum rc_kind {
	K_H264,
	K_H265,
	K_JPEG,
	K_AAC,
	K_G711,
	K_META,
};

struct rc_track {
	enum rc_kind kind;
	struct adapter_track desc;
	char control[512];		/* absolute URL */
	int src_pt;
	uint8_t channel;		/* interleaved RTP channel; RTCP is +1 */
	int udp_fd[2];			/* rtsp_udp: RTP and RTCP sockets */
	struct event *udp_ev[2];
	struct sockaddr_in server_rtcp;
	/* access-unit assembly */
	bool in_unit, broken, key, has_params, discont;
	bool sent_head;			/* part of this unit already went to the core */
	bool have_slice;		/* a picture slice of this unit has arrived */
	uint32_t unit_ts;
	bool have_seq;
	uint16_t next_seq;
	uint8_t *buf;
	size_t len, cap;
	size_t off[RC_MAX_PAYLOADS + 3];
	int npay;
	/* parameter sets from the SDP, for keyframes that lack them */
	uint8_t ps[3][SDP_PS_MAX];
	size_t ps_len[3];
	int nps;
	/* RTCP */
	uint32_t ssrc;			/* the source's, from RTP */
	bool have_sr;
	int64_t sr_src_us;		/* the last SR's time on the source's clock */
	uint32_t sr_rtp;
	uint32_t sr_ntp_mid;		/* middle 32 bits of the last SR, for RR LSR */
	int64_t sr_arrival_us;
	uint32_t received, expected_base;
	uint16_t max_seq;
	uint32_t cycles;
};

struct rc {
	struct adapter_source *src;
	struct event_base *base;
	enum rc_state state;
	bool udp;
	int64_t timeout_us;		/* no answer or no media this long: the source failed */
	char ident[96];
	char url[1024];			/* request URL, without credentials */
	char base_url[1024];		/* Content-Base or the URL */
	char host[256];
	int port;
	char *user, *pass;		/* NULL when none */
	struct bufferevent *bev;
	struct event *tick;
	struct msg_parser parser;
	uint32_t cseq;
	uint32_t waiting_cseq;		/* 0: no request outstanding */
	int64_t sent_us;
	int unauthorized;
	struct digest_challenge chal;
	bool have_chal;
	uint32_t nc;
	char session[RTSP_SESSION_ID_MAX + 1];
	unsigned timeout_s;
	bool use_get_parameter;
	int64_t last_keepalive_us, last_data_us, last_rr_us;
	struct rc_track tracks[ADAPTER_MAX_TRACKS];
	int ntracks;
	int setup_index;
	uint32_t rr_ssrc;
	/*
	 * Our wall clock minus the source's SR clock, one for all tracks: a
	 * camera's clock may be hours off, and tracks timed against different
	 * clocks would come out of sync at the players.
	 */
	bool have_clock;
	int64_t clock_offset_us;
};

static struct evdns_base *dns_base;

/* --- small things ------------------------------------------------------------ */

static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void fail(struct rc *rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Report once; the core closes us after this loop pass. */
static void
fail(struct rc *rc, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (rc->state == RC_FAILED)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	rc->state = RC_FAILED;
	if (rc->bev)
		bufferevent_disable(rc->bev, EV_READ);
	adapter_source_failed(rc->src, why);
}

/* --- requests --------------------------------------------------------------------- */

static void
add_authorization(struct rc *rc, struct evbuffer *out, const char *method, const char *url)
{
	char header[1400], cnonce[17];
	unsigned char rnd[8];

	if (!rc->have_chal || rc->user == NULL)
		return;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return;
	for (int i = 0; i < 8; i++)
		snprintf(cnonce + 2 * i, 3, "%02x", rnd[i]);
	if (digest_authorization_format(&rc->chal, rc->user, rc->pass ? rc->pass : "", method, url,
	    ++rc->nc, cnonce, header, sizeof(header)) > 0)
		evbuffer_add_printf(out, "Authorization: %s\r\n", header);
	OPENSSL_cleanse(header, sizeof(header));
}

static void
send_request(struct rc *rc, const char *method, const char *url, const char *extra)
{
	struct evbuffer *out = bufferevent_get_output(rc->bev);

	rc->cseq++;
	evbuffer_add_printf(out, "%s %s RTSP/1.0\r\nCSeq: %u\r\nUser-Agent: vssgate\r\n", method, url,
	    rc->cseq);
	if (rc->session[0] != '\0')
		evbuffer_add_printf(out, "Session: %s\r\n", rc->session);
	add_authorization(rc, out, method, url);
	if (extra)
		evbuffer_add(out, extra, strlen(extra));
	evbuffer_add(out, "\r\n", 2);
	rc->waiting_cseq = rc->cseq;
	rc->sent_us = mono_us();
}

static void send_setup(struct rc *rc);

static void
send_describe(struct rc *rc)
{
	rc->state = RC_DESCRIBE;
	send_request(rc, "DESCRIBE", rc->url, "Accept: application/sdp\r\n");
}

static void
send_play(struct rc *rc)
{
	rc->state = RC_PLAY;
	send_request(rc, "PLAY", rc->base_url, "Range: npt=0.000-\r\n");
}

static void
send_keepalive(struct rc *rc)
{
	rc->last_keepalive_us = mono_us();
	send_request(rc, rc->use_get_parameter ? "GET_PARAMETER" : "OPTIONS", rc->base_url, NULL);
}

/* --- the SDP -> tracks ------------------------------------------------------------ */

/* The absolute URL of a track's control attribute (RFC 2326 C.1.1). False if too long. */
static bool
resolve_control(const struct rc *rc, struct proto_str ctl, char *out, size_t outlen)
{
	size_t blen = strlen(rc->base_url);
	int n;

	if (ctl.len == 0 || (ctl.len == 1 && ctl.p[0] == '*'))
		n = snprintf(out, outlen, "%s", rc->base_url);
	else if (ctl.len > 7 && (strncasecmp(ctl.p, "rtsp://", 7) == 0 || strncasecmp(ctl.p, "rtsps://", 8) == 0))
		n = snprintf(out, outlen, "%.*s", (int)ctl.len, ctl.p);
	else
		n = snprintf(out, outlen, "%s%s%.*s", rc->base_url,
		    blen > 0 && rc->base_url[blen - 1] == '/' ? "" : "/", (int)ctl.len, ctl.p);
	return n > 0 && (size_t)n < outlen;
}

/* Which of our kinds this media is, from its rtpmap (or static payload type). */
static int
media_kind(const struct sdp_media *m, const struct sdp_rtpmap *map, int pt)
{
	const char *names[] = { "H264", "H265", "JPEG", "MPEG4-GENERIC", "PCMU", "PCMA",
	    "vnd.onvif.metadata", "vnd.onvif.metadata+gzip", "vnd.onvif.metadata.gzip" };
	static const int kinds[] = { K_H264, K_H265, K_JPEG, K_AAC, K_G711, K_G711, K_META, K_META,
	    K_META };

	if (map == NULL)
		return pt == 0 || pt == 8 ? K_G711 : pt == 26 ? K_JPEG : -1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (proto_str_ieq(map->encoding, names[i]))
			return kinds[i];
	(void)m;
	return -1;
}

static void
learn_param_sets(struct rc_track *t, struct proto_str fmtp)
{
	struct sdp_h264 h4;
	struct sdp_h265 h5;

	if (t->kind == K_H264 && sdp_h264_fmtp_parse(fmtp, &h4) == 0) {
		memcpy(t->ps[0], h4.sps, h4.sps_len);
		t->ps_len[0] = h4.sps_len;
		memcpy(t->ps[1], h4.pps, h4.pps_len);
		t->ps_len[1] = h4.pps_len;
		t->nps = h4.sps_len && h4.pps_len ? 2 : 0;
	} else if (t->kind == K_H265 && sdp_h265_fmtp_parse(fmtp, &h5) == 0) {
		memcpy(t->ps[0], h5.vps, h5.vps_len);
		t->ps_len[0] = h5.vps_len;
		memcpy(t->ps[1], h5.sps, h5.sps_len);
		t->ps_len[1] = h5.sps_len;
		memcpy(t->ps[2], h5.pps, h5.pps_len);
		t->ps_len[2] = h5.pps_len;
		t->nps = h5.vps_len && h5.sps_len && h5.pps_len ? 3 : 0;
	}
}

static void
add_track(struct rc *rc, const struct sdp_media *m, int kind, const struct sdp_rtpmap *map, int pt)
{
	struct rc_track *t = &rc->tracks[rc->ntracks];
	struct proto_str fmtp = { "", 0 };

	memset(t, 0, sizeof(*t));
	t->kind = (enum rc_kind)kind;
	t->src_pt = pt;
	t->udp_fd[0] = t->udp_fd[1] = -1;
	t->desc.media = kind == K_META ? ADAPTER_METADATA : kind >= K_AAC ? ADAPTER_AUDIO : ADAPTER_VIDEO;
	t->desc.payload_type = pt;
	t->desc.clock_rate = map ? (int)map->clock_rate : pt == 26 ? 90000 : 8000;
	t->desc.channels = t->desc.media == ADAPTER_AUDIO ? (map && map->channels ? (int)map->channels : 1) : 0;
	if (map)
		snprintf(t->desc.encoding, sizeof(t->desc.encoding), "%.*s", (int)map->encoding.len,
		    map->encoding.p);
	else
		snprintf(t->desc.encoding, sizeof(t->desc.encoding), "%s",
		    pt == 0 ? "PCMU" : pt == 8 ? "PCMA" : "JPEG");
	if (sdp_media_fmtp(m, pt, &fmtp))
		snprintf(t->desc.fmtp, sizeof(t->desc.fmtp), "%.*s", (int)fmtp.len, fmtp.p);
	learn_param_sets(t, fmtp);
	if (!resolve_control(rc, m->control, t->control, sizeof(t->control)))
		return;		/* a control URL we cannot hold: skip the track */
	t->channel = (uint8_t)(2 * rc->ntracks);
	rc->ntracks++;
}

static int
tracks_from_sdp(struct rc *rc, const char *body, size_t len)
{
	struct sdp *sdp = calloc(1, sizeof(*sdp));
	int rc_parse;

	if (sdp == NULL)
		return -1;
	rc_parse = sdp_parse(body, len, RC_MAX_BODY, sdp);
	for (int i = 0; rc_parse == 0 && i < sdp->nmedia && rc->ntracks < ADAPTER_MAX_TRACKS; i++) {
		const struct sdp_media *m = &sdp->media[i];
		int pt, kind;
		const struct sdp_rtpmap *map;

		if (!m->rtp || m->nfmts == 0 || m->dir == SDP_SENDONLY)
			continue;	/* a backchannel is not for us */
		pt = m->fmts[0];
		map = sdp_media_rtpmap(m, pt);
		if ((kind = media_kind(m, map, pt)) >= 0)
			add_track(rc, m, kind, map, pt);
	}
	free(sdp);
	return rc_parse < 0 ? -1 : rc->ntracks;
}

/* --- SETUP ----------------------------------------------------------------------------- */

static int
bind_udp_pair(int fds[2], uint16_t *port)
{
	for (int attempt = 0; attempt < 32; attempt++) {
		uint16_t p = 0;
		struct sockaddr_in sin = { .sin_family = AF_INET };

		if (RAND_bytes((unsigned char *)&p, sizeof(p)) != 1)
			return -1;
		p = (uint16_t)(20000 + (p % 20000) * 2);	/* even, 20000..59998 */
		for (int k = 0; k < 2; k++) {
			fds[k] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			sin.sin_port = htons((uint16_t)(p + k));
			if (fds[k] < 0 || bind(fds[k], (struct sockaddr *)&sin, sizeof(sin)) < 0) {
				if (fds[k] >= 0)
					close(fds[k]);
				if (k == 1)
					close(fds[0]);
				fds[0] = fds[1] = -1;
				break;
			}
		}
		if (fds[0] >= 0) {
			*port = p;
			return 0;
		}
	}
	return -1;
}

static void udp_readable(evutil_socket_t fd, short what, void *arg);

static void
send_setup(struct rc *rc)
{
	struct rc_track *t = &rc->tracks[rc->setup_index];
	char tr[160];
	uint16_t port;

	rc->state = RC_SETUP;
	if (rc->udp) {
		if (bind_udp_pair(t->udp_fd, &port) < 0) {
			fail(rc, "cannot bind local UDP ports for RTP");
			return;
		}
		for (int k = 0; k < 2; k++) {
			t->udp_ev[k] = event_new(rc->base, t->udp_fd[k], EV_READ | EV_PERSIST, udp_readable, rc);
			event_add(t->udp_ev[k], NULL);
		}
		snprintf(tr, sizeof(tr), "Transport: RTP/AVP;unicast;client_port=%u-%u\r\n", port, port + 1);
	} else {
		snprintf(tr, sizeof(tr), "Transport: RTP/AVP/TCP;unicast;interleaved=%u-%u\r\n", t->channel,
		    t->channel + 1);
	}
	send_request(rc, "SETUP", t->control, tr);
}

/* --- media in ------------------------------------------------------------------------------- */

static uint8_t
nal_type(enum rc_kind k, const uint8_t *p)
{
	return k == K_H264 ? (uint8_t)(p[0] & 0x1f) : (uint8_t)((p[0] >> 1) & 0x3f);
}

/* Does this payload carry a keyframe slice or parameter sets? (single, aggregate, fragment) */
static void
inspect_payload(struct rc_track *t, const uint8_t *p, size_t len)
{
	uint8_t type;

	if (len < 2 || (t->kind != K_H264 && t->kind != K_H265))
		return;
	type = nal_type(t->kind, p);
	if (t->kind == K_H264) {
		if (type == 28 || type == 29)	/* FU-A/B: the real type is in the FU header */
			type = p[1] & 0x1f;
		else if (type == 24 && len > 3)	/* STAP-A: look at the first unit */
			type = p[3] & 0x1f;
		t->key |= type == 5;
		t->has_params |= type == 7;
		t->have_slice |= type >= 1 && type <= 5;
		return;
	}
	if (type == 49 && len > 2)
		type = p[2] & 0x3f;
	else if (type == 48 && len > 4)
		type = (p[4] >> 1) & 0x3f;
	t->key |= type >= 16 && type <= 21;
	t->has_params |= type == 32 || type == 33;
	t->have_slice |= type <= 31;
}

static void
unit_reset(struct rc_track *t)
{
	t->in_unit = false;
	t->broken = false;
	t->key = false;
	t->has_params = false;
	t->sent_head = false;
	t->have_slice = false;
	t->len = 0;
	t->npay = 0;
}

static bool
unit_append(struct rc_track *t, const uint8_t *p, size_t len)
{
	if (t->npay >= RC_MAX_PAYLOADS || t->len + len > RC_MAX_AU)
		return false;
	if (t->len + len > t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 65536;
		uint8_t *nb;

		while (ncap < t->len + len)
			ncap *= 2;
		if ((nb = realloc(t->buf, ncap)) == NULL)
			return false;
		t->buf = nb;
		t->cap = ncap;
	}
	memcpy(t->buf + t->len, p, len);
	t->off[t->npay++] = t->len;
	t->len += len;
	return true;
}

static int64_t
capture_time(const struct rc *rc, const struct rc_track *t, uint32_t ts)
{
	if (!t->have_sr || !rc->have_clock || t->desc.clock_rate <= 0)
		return 0;
	return t->sr_src_us + rc->clock_offset_us +
	    (int64_t)(int32_t)(ts - t->sr_rtp) * 1000000 / t->desc.clock_rate;
}

/*
 * Hand the unit (or, with |partial|, what has arrived of it) to the core,
 * with parameter sets in front of a bare keyframe. A partial piece leaves
 * the unit open; the marker bit comes with the last piece.
 */
static void
unit_emit(struct rc *rc, int index, bool partial)
{
	struct rc_track *t = &rc->tracks[index];
	struct iovec iov[RC_MAX_PAYLOADS + 3];
	struct adapter_frame f = { .track = index, .rtp_ts = t->unit_ts, .partial = partial };
	int n = 0;

	if (!t->in_unit || t->broken || t->npay == 0) {
		if (!partial) {
			t->discont |= t->broken;
			unit_reset(t);
		}
		return;
	}
	f.keyframe = !t->sent_head && (t->key || (t->kind != K_H264 && t->kind != K_H265));
	if (f.keyframe && t->key && !t->has_params)
		for (int i = 0; i < t->nps; i++)
			iov[n++] = (struct iovec){ t->ps[i], t->ps_len[i] };
	for (int i = 0; i < t->npay; i++)
		iov[n++] = (struct iovec){ t->buf + t->off[i],
		    (i + 1 < t->npay ? t->off[i + 1] : t->len) - t->off[i] };
	f.npayloads = n;
	f.payloads = iov;
	f.discontinuity = t->discont;
	f.capture_wall_us = capture_time(rc, t, t->unit_ts);
	t->discont = false;
	if (partial) {
		t->sent_head = true;
		t->len = 0;
		t->npay = 0;
	} else {
		unit_reset(t);
	}
	adapter_source_frame(rc->src, &f);
}

/*
 * The end of what the socket had: pass on the video that arrived so far
 * rather than hold it until the unit's last packet. The head of a unit is
 * held until its first picture slice is in, so that a keyframe is known as
 * one from its first piece (delimiters, SEI and parameter sets come first).
 */
static void
flush_partial_units(struct rc *rc)
{
	for (int i = 0; i < rc->ntracks && rc->state == RC_PLAYING; i++) {
		struct rc_track *t = &rc->tracks[i];

		if (t->kind != K_H264 && t->kind != K_H265 && t->kind != K_JPEG)
			continue;
		if (t->in_unit && t->npay > 0 && (t->sent_head || t->have_slice || t->kind == K_JPEG))
			unit_emit(rc, i, true);
	}
}

static void
count_seq(struct rc_track *t, uint16_t seq)
{
	if (t->received == 0) {
		t->expected_base = seq;
		t->max_seq = seq;
	} else if ((int16_t)(seq - t->max_seq) > 0) {
		if (seq < t->max_seq)
			t->cycles += 65536;
		t->max_seq = seq;
	}
	t->received++;
}

static void
on_rtp(struct rc *rc, int index, const uint8_t *pkt, size_t len)
{
	struct rc_track *t = &rc->tracks[index];
	struct rtp_hdr h;
	bool ends_unit;

	if (rtp_parse(pkt, len, &h) < 0 || h.pt != t->src_pt)
		return;
	rc->last_data_us = mono_us();
	t->ssrc = h.ssrc;
	count_seq(t, h.seq);
	if (t->have_seq && h.seq != t->next_seq) {
		if ((int16_t)(h.seq - t->next_seq) < 0)
			return;		/* late or duplicate: too late to use */
		t->broken = t->in_unit;	/* a loss inside this unit spoils it */
		t->discont = true;
	}
	t->have_seq = true;
	t->next_seq = (uint16_t)(h.seq + 1);
	if (t->in_unit && h.ts != t->unit_ts)
		unit_emit(rc, index, false);	/* the marker of the last unit was lost */
	if (!t->in_unit) {
		t->in_unit = true;
		t->unit_ts = h.ts;
	}
	inspect_payload(t, h.payload, h.payload_len);
	if (!unit_append(t, h.payload, h.payload_len))
		t->broken = true;
	ends_unit = h.marker || t->kind == K_AAC || t->kind == K_G711;
	if (ends_unit)
		unit_emit(rc, index, false);
}

/*
 * An SR is sent at the time it names, so its arrival gives the source
 * clock's offset from ours. Keep that offset while it stays within a
 * second (network delay must not jitter the timeline); take a new one when
 * the source's clock was stepped.
 */
#define RC_CLOCK_STEP_US 1000000

static void
sync_clock(struct rc *rc, int64_t src_us)
{
	int64_t offset = wall_us() - src_us;

	if (rc->have_clock && llabs(offset - rc->clock_offset_us) <= RC_CLOCK_STEP_US)
		return;
	rc->have_clock = true;
	rc->clock_offset_us = offset;
}

static void
on_rtcp(struct rc *rc, int index, const uint8_t *pkt, size_t len)
{
	struct rc_track *t = &rc->tracks[index];
	struct rtcp_iter it;
	struct rtcp_pkt p;
	struct rtcp_sr sr;

	rc->last_data_us = mono_us();
	rtcp_iter_init(&it, pkt, len);
	while (rtcp_iter_next(&it, &p) > 0) {
		if (p.type != RTCP_SR || rtcp_sr_parse(&p, &sr) < 0 || (t->ssrc != 0 && sr.ssrc != t->ssrc))
			continue;
		t->have_sr = true;
		t->sr_src_us = rtcp_ntp_to_unix_us(sr.ntp);
		sync_clock(rc, t->sr_src_us);
		t->sr_rtp = sr.rtp_ts;
		t->sr_ntp_mid = rtcp_ntp_short(sr.ntp);
		t->sr_arrival_us = mono_us();
	}
}

static void
send_receiver_reports(struct rc *rc)
{
	uint8_t pkt[128], frame[132];

	for (int i = 0; i < rc->ntracks; i++) {
		struct rc_track *t = &rc->tracks[i];
		struct rtcp_rr rr = { .ssrc = rc->rr_ssrc, .nblocks = 1 };
		int n, m;

		if (t->received == 0)
			continue;
		rr.blocks[0] = (struct rtcp_report_block){ .ssrc = t->ssrc,
		    .ext_highest_seq = t->cycles + t->max_seq,
		    .lsr = t->have_sr ? t->sr_ntp_mid : 0,
		    .dlsr = t->have_sr ? rtcp_dlsr_from_us(mono_us() - t->sr_arrival_us) : 0 };
		n = rtcp_rr_build(&rr, pkt, sizeof(pkt));
		m = n > 0 ? rtcp_sdes_cname_build(rc->rr_ssrc, "vssgate", pkt + n, sizeof(pkt) - (size_t)n) : -1;
		if (m <= 0)
			continue;
		n += m;
		if (rc->udp) {
			sendto(t->udp_fd[1], pkt, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&t->server_rtcp,
			    sizeof(t->server_rtcp));
		} else {
			frame[0] = '$';
			frame[1] = (uint8_t)(t->channel + 1);
			frame[2] = (uint8_t)(n >> 8);
			frame[3] = (uint8_t)n;
			memcpy(frame + 4, pkt, (size_t)n);
			bufferevent_write(rc->bev, frame, (size_t)n + 4);
		}
	}
}

static void
udp_readable(evutil_socket_t fd, short what, void *arg)
{
	struct rc *rc = arg;
	uint8_t buf[65536];

	for (int k = 0; k < 64 && rc->state != RC_FAILED; k++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n <= 0)
			break;
		for (int i = 0; i < rc->ntracks; i++) {
			if (fd == rc->tracks[i].udp_fd[0])
				on_rtp(rc, i, buf, (size_t)n);
			else if (fd == rc->tracks[i].udp_fd[1])
				on_rtcp(rc, i, buf, (size_t)n);
		}
	}
	flush_partial_units(rc);
}

/* --- responses ------------------------------------------------------------------------- */

static bool
response_header(const struct msg *m, const char *name, char *out, size_t outlen)
{
	return msg_header_copy(m, name, out, outlen);
}

static bool
handle_unauthorized(struct rc *rc, const struct msg *m)
{
	digest_challenge_init(&rc->chal);
	for (int i = 0; i < m->nheaders; i++) {
		const struct msg_header *h = &m->headers[i];

		if (proto_str_ieq(h->name, "WWW-Authenticate"))
			digest_challenge_pick(h->value.p, h->value.len, 0, &rc->chal);
	}
	rc->have_chal = rc->chal.scheme == DIGEST_SCHEME_DIGEST;
	if (!rc->have_chal || rc->user == NULL || ++rc->unauthorized > RC_MAX_UNAUTH) {
		fail(rc, rc->user ? "the source refused our credentials" :
		    "the source wants credentials and none are configured");
		return false;
	}
	rc->nc = 0;
	return true;
}

static void
after_options(struct rc *rc, const struct msg *m)
{
	const struct msg_header *pub = msg_header(m, "Public");

	rc->use_get_parameter = pub && msg_value_has_token(pub->value, "GET_PARAMETER");
	send_describe(rc);
}

static void
after_describe(struct rc *rc, const struct msg *m, const char *body, size_t blen)
{
	struct adapter_track descs[ADAPTER_MAX_TRACKS];
	char base[1024];

	if (response_header(m, "Content-Base", base, sizeof(base)) ||
	    response_header(m, "Content-Location", base, sizeof(base)))
		snprintf(rc->base_url, sizeof(rc->base_url), "%s", base);
	if (tracks_from_sdp(rc, body, blen) <= 0) {
		fail(rc, "the source describes no stream we can relay");
		return;
	}
	for (int i = 0; i < rc->ntracks; i++)
		descs[i] = rc->tracks[i].desc;
	adapter_source_described(rc->src, descs, rc->ntracks);
	if (rc->state == RC_FAILED)
		return;
	rc->setup_index = 0;
	send_setup(rc);
}

static void
after_setup(struct rc *rc, const struct msg *m)
{
	const struct msg_header *sh = msg_header(m, "Session"), *th = msg_header(m, "Transport");
	struct rtsp_session s;
	struct rtsp_transport tr;
	struct rc_track *t = &rc->tracks[rc->setup_index];

	if (sh == NULL || rtsp_session_parse(sh->value.p, sh->value.len, &s) < 0) {
		fail(rc, "SETUP answer without a valid Session");
		return;
	}
	snprintf(rc->session, sizeof(rc->session), "%s", s.id);
	rc->timeout_s = s.timeout;
	if (th && rtsp_transport_parse(th->value.p, th->value.len,
	    RTSP_TR_TCP | RTSP_TR_UDP, &tr) == 0) {
		if (!rc->udp && tr.has_interleaved)
			t->channel = (uint8_t)tr.interleaved.rtp;
		if (rc->udp && tr.has_server_port) {
			t->server_rtcp.sin_family = AF_INET;
			t->server_rtcp.sin_port = htons(tr.server_port.rtcp);
			inet_pton(AF_INET, rc->host, &t->server_rtcp.sin_addr);
		}
	}
	if (++rc->setup_index < rc->ntracks)
		send_setup(rc);
	else
		send_play(rc);
}

static void
handle_response(struct rc *rc, const struct msg *m, const char *body, size_t blen)
{
	const struct msg_header *cs = msg_header(m, "CSeq");
	uint32_t cseq = 0;
	bool keepalive = rc->state == RC_PLAYING;

	if (cs == NULL || rtsp_cseq_parse(cs->value.p, cs->value.len, &cseq) < 0 ||
	    cseq != rc->waiting_cseq)
		return;		/* not the answer we wait for */
	rc->waiting_cseq = 0;
	if (m->status == 401 && !keepalive) {
		if (!handle_unauthorized(rc, m))
			return;
		switch (rc->state) {
		case RC_OPTIONS: send_request(rc, "OPTIONS", rc->url, NULL); break;
		case RC_DESCRIBE: send_describe(rc); break;
		case RC_SETUP: send_setup(rc); break;
		case RC_PLAY: send_play(rc); break;
		default: break;
		}
		return;
	}
	if (keepalive)
		return;		/* any answer keeps the session alive */
	if (m->status != 200 && !(rc->state == RC_OPTIONS)) {
		fail(rc, "the source answered %d to %s", m->status,
		    rc->state == RC_DESCRIBE ? "DESCRIBE" : rc->state == RC_SETUP ? "SETUP" : "PLAY");
		return;
	}
	switch (rc->state) {
	case RC_OPTIONS: after_options(rc, m); break;
	case RC_DESCRIBE: after_describe(rc, m, body, blen); break;
	case RC_SETUP: after_setup(rc, m); break;
	case RC_PLAY:
		rc->state = RC_PLAYING;
		rc->last_data_us = rc->last_keepalive_us = rc->last_rr_us = mono_us();
		break;
	default: break;
	}
}

/* --- the TCP stream --------------------------------------------------------------------- */

static void
on_frame(struct rc *rc, unsigned channel, const uint8_t *p, size_t len)
{
	for (int i = 0; i < rc->ntracks; i++) {
		if (channel == rc->tracks[i].channel)
			on_rtp(rc, i, p, len);
		else if (channel == rc->tracks[i].channel + 1u)
			on_rtcp(rc, i, p, len);
	}
}

/* One unit from the input; false when more bytes are needed or the source failed. */
static bool
read_one(struct rc *rc, struct evbuffer *in)
{
	struct msg_limits lim = { RC_MAX_HEAD, 64, RC_MAX_BODY };
	size_t len = evbuffer_get_length(in), n = len < RC_MAX_HEAD + RC_MAX_BODY ? len : RC_MAX_HEAD + RC_MAX_BODY;
	const char *p = (const char *)evbuffer_pullup(in, (ssize_t)n);
	struct msg m;
	int r;

	if (len == 0)
		return false;
	r = msg_parse(&rc->parser, p, n, &lim, true, &m);
	if (r == PROTO_AGAIN)
		return false;
	if (r < 0 || (m.kind == MSG_REQUEST)) {
		fail(rc, "the source sent something that is not RTSP (%s)", r < 0 ? proto_strerror(r) : "a request");
		return false;
	}
	if (m.kind == MSG_FRAME) {
		if (len < 4 + m.frame_len)
			return false;
		p = (const char *)evbuffer_pullup(in, (ssize_t)(4 + m.frame_len));
		on_frame(rc, m.channel, (const uint8_t *)p + 4, m.frame_len);
		evbuffer_drain(in, 4 + m.frame_len);
	} else {
		if (len < m.head_len + m.content_length)
			return false;
		p = (const char *)evbuffer_pullup(in, (ssize_t)(m.head_len + m.content_length));
		msg_parse(&rc->parser, p, m.head_len, &lim, false, &m);
		handle_response(rc, &m, p + m.head_len, m.content_length);
		evbuffer_drain(in, m.head_len + m.content_length);
	}
	msg_parser_reset(&rc->parser);
	return rc->state != RC_FAILED;
}

/*
 * libevent 2.1 reads at most 4 KiB a callback, and a 1080p frame is 20 to
 * 100 KiB: the readers would be woken, one write each, for every 4 KiB.
 * Take what the socket holds now, so that they are woken once for it. End of
 * file is left for the bufferevent's next read to report (a reset that
 * recv() takes here shows there as end of file: the source is lost either
 * way). The
 * bufferevent keeps its input's tail frozen between its own reads; it is
 * thawed here for ours, as the bufferevent does for its. (The socket is
 * plain TCP: there is no TLS layer that a recv() would go around.)
 */
static void
read_rest(struct rc *rc, struct evbuffer *in)
{
	evutil_socket_t fd = bufferevent_getfd(rc->bev);

	evbuffer_unfreeze(in, 0);
	for (int i = 0; i < RC_READ_ROUNDS; i++) {
		struct evbuffer_iovec v;
		ssize_t n;

		if (evbuffer_reserve_space(in, RC_READ_CHUNK, &v, 1) != 1)
			break;
		n = recv(fd, v.iov_base, RC_READ_CHUNK, MSG_DONTWAIT);	/* one extent of at least that */
		if (n <= 0)
			break;
		v.iov_len = (size_t)n;
		evbuffer_commit_space(in, &v, 1);
		if (n < RC_READ_CHUNK)
			break;
	}
	evbuffer_freeze(in, 0);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct rc *rc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (rc->state == RC_PLAYING)
		read_rest(rc, in);
	while (rc->state != RC_FAILED && read_one(rc, in))
		;
	flush_partial_units(rc);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct rc *rc = arg;

	if (what & BEV_EVENT_CONNECTED) {
		int one = 1;

		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		rc->state = RC_OPTIONS;
		send_request(rc, "OPTIONS", rc->url, NULL);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		int dns = bufferevent_socket_get_dns_error(bev);

		fail(rc, "connection to the source failed: %s",
		    dns ? evutil_gai_strerror(dns) : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	} else if (what & BEV_EVENT_EOF) {
		fail(rc, "the source closed the connection");
	}
}

/* --- timers -------------------------------------------------------------------------------- */

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct rc *rc = arg;
	int64_t now = mono_us();

	if (rc->state == RC_FAILED)
		return;
	if (rc->waiting_cseq && now - rc->sent_us > rc->timeout_us) {
		fail(rc, "the source did not answer within %.1f s", (double)rc->timeout_us / 1e6);
		return;
	}
	if (rc->state != RC_PLAYING)
		return;
	if (now - rc->last_data_us > rc->timeout_us) {
		fail(rc, "no media from the source for %.1f s", (double)rc->timeout_us / 1e6);
		return;
	}
	if (!rc->waiting_cseq && now - rc->last_keepalive_us > (int64_t)(rc->timeout_s ? rc->timeout_s : 60) * 500000)
		send_keepalive(rc);
	if (now - rc->last_rr_us > RC_RR_INTERVAL_US) {
		rc->last_rr_us = now;
		send_receiver_reports(rc);
	}
}

/* --- ops ------------------------------------------------------------------------------------- */

static int
parse_uri(struct rc *rc, const struct adapter_params *p)
{
	struct rtsp_url u;

	if (rtsp_url_parse(p->uri, strlen(p->uri), RTSP_URL_ALLOW_USERINFO, &u) < 0 || !u.has_authority ||
	    u.tls || u.host.len == 0 || u.host.len >= sizeof(rc->host))
		return -1;
	snprintf(rc->host, sizeof(rc->host), "%.*s", (int)u.host.len, u.host.p);
	rc->port = u.has_port ? u.port : 554;
	/* Credentials go in Authorization headers, never in request URLs. */
	snprintf(rc->url, sizeof(rc->url), "rtsp://%s%s%s:%d%.*s%s%.*s", strchr(rc->host, ':') ? "[" : "",
	    rc->host, strchr(rc->host, ':') ? "]" : "", rc->port, (int)u.path.len, u.path.p,
	    u.query.len ? "?" : "", (int)u.query.len, u.query.p);
	if (p->username) {
		rc->user = strdup(p->username);
		rc->pass = strdup(p->password ? p->password : "");
	} else if (u.user.len > 0) {
		rc->user = strndup(u.user.p, u.user.len);
		rc->pass = strndup(u.password.p, u.password.len);
	}
	snprintf(rc->base_url, sizeof(rc->base_url), "%s", rc->url);
	return 0;
}

static void rc_close(void *state);

static int
rc_open_kind(struct adapter_source *src, const struct adapter_params *p, void **state, bool udp)
{
	struct rc *rc = calloc(1, sizeof(*rc));
	struct timeval tick = { 0, RC_TICK_MS * 1000 };

	if (rc == NULL) {
		adapter_source_failed(src, "out of memory");
		return -1;
	}
	*state = rc;
	rc->src = src;
	rc->base = p->base;
	rc->udp = udp;
	rc->timeout_us = p->timeout_us > 0 ? p->timeout_us : 10000000;
	snprintf(rc->ident, sizeof(rc->ident), "%s", p->ident);
	RAND_bytes((unsigned char *)&rc->rr_ssrc, sizeof(rc->rr_ssrc));
	if (parse_uri(rc, p) < 0) {
		adapter_source_failed(src, "the source URI is not an rtsp:// URL");
		return -1;
	}
	if (dns_base == NULL)
		dns_base = evdns_base_new(p->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	rc->tick = event_new(p->base, -1, EV_PERSIST, on_tick, rc);
	event_add(rc->tick, &tick);
	rc->bev = bufferevent_socket_new(p->base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(rc->bev, on_read, NULL, on_event, rc);
	bufferevent_enable(rc->bev, EV_READ | EV_WRITE);
	rc->state = RC_CONNECTING;
	rc->sent_us = mono_us();
	rc->waiting_cseq = UINT32_MAX;	/* the connection itself is awaited */
	if (bufferevent_socket_connect_hostname(rc->bev, dns_base, AF_INET, rc->host, rc->port) < 0) {
		adapter_source_failed(src, "cannot start connecting to the source");
		return -1;
	}
	return 0;
}

static int
rc_open(struct adapter_source *src, const struct adapter_params *p, void **state)
{
	return rc_open_kind(src, p, state, false);
}

static int
rc_open_udp(struct adapter_source *src, const struct adapter_params *p, void **state)
{
	return rc_open_kind(src, p, state, true);
}

/* A last TEARDOWN, written straight to the socket: we are not staying to read the answer. */
static void
say_goodbye(struct rc *rc)
{
	char req[1400];
	int n;

	if (rc->session[0] == '\0' || rc->bev == NULL || bufferevent_getfd(rc->bev) < 0)
		return;
	n = snprintf(req, sizeof(req), "TEARDOWN %s RTSP/1.0\r\nCSeq: %u\r\nSession: %s\r\n"
	    "User-Agent: vssgate\r\n\r\n", rc->base_url, rc->cseq + 1, rc->session);
	if (n > 0 && (size_t)n < sizeof(req))
		(void)!send(bufferevent_getfd(rc->bev), req, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void
rc_close(void *state)
{
	struct rc *rc = state;

	if (rc == NULL)
		return;
	if (rc->state == RC_PLAYING)
		say_goodbye(rc);
	if (rc->bev)
		bufferevent_free(rc->bev);
	if (rc->tick)
		event_free(rc->tick);
	for (int i = 0; i < rc->ntracks; i++) {
		struct rc_track *t = &rc->tracks[i];

		for (int k = 0; k < 2; k++) {
			if (t->udp_ev[k])
				event_free(t->udp_ev[k]);
			if (t->udp_fd[k] >= 0)
				close(t->udp_fd[k]);
		}
		free(t->buf);
	}
	if (rc->pass) {
		OPENSSL_cleanse(rc->pass, strlen(rc->pass));
		free(rc->pass);
	}
	free(rc->user);
	OPENSSL_cleanse(&rc->chal, sizeof(rc->chal));
	free(rc);
}

const struct adapter_ops rtsp_adapter_ops = {
	.name = "rtsp",
	.open = rc_open,
	.close = rc_close,
};

const struct adapter_ops rtsp_udp_adapter_ops = {
	.name = "rtsp_udp",
	.open = rc_open_udp,
	.close = rc_close,
};
