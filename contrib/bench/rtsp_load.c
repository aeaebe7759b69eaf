/*
 * rtsp_load.c - an RTSP load client: many readers of one stream in one
 * process, to measure the gateway as gst-rtsp-server was measured.
 *
 *   rtsp_load -u rtsp://127.0.0.1:8554/cameras/1 -U user -P pass -n 800 -d 30
 *             [-t tcp|http|ws] [-p GATEWAY_PID] [-r RAMP_MS] [-S PORT:FILE]
 *             [-C FIRST:COUNT] [-R FROM:UNTIL [-F] [-f FPS]]
 *
 * With -C, the URL's last path segment is replaced, reader by reader, by
 * the camera ids FIRST, FIRST+1, ... FIRST+COUNT-1, FIRST, ... (many
 * sources, a few readers each).
 *
 * Transports: tcp (RTSP with interleaved RTP), http (the RTSP-over-HTTP
 * tunnel: a GET carrying responses and media, a POST carrying base64
 * requests; the URL's port is then the HTTP port), ws (RTSP over WebSocket
 * on /rtsp-over-websocket, subprotocol rtsp.onvif.org).
 *
 * Each reader: DESCRIBE (Digest), SETUP every track (interleaved), PLAY,
 * then reads until the end. Per reader it records the time from PLAY to the
 * first packet and to the first video keyframe, packets, bytes and lost
 * packets (sequence gaps). With -p it samples the gateway's CPU time and
 * RSS over the steady part of the run.
 *
 * With -S PORT:FILE it is also the camera (bench_cam.c): it serves FILE
 * (H.264, Annex B with access unit delimiters) on 127.0.0.1:PORT, for the
 * gateway to pull, and reports the delay the gateway adds per packet: from
 * the camera's write of a packet to its arrival on each reader's socket,
 * as the kernel timed it (SO_TIMESTAMPNS), not when this process got round
 * to reading it: with a hundred sockets to read, our own turns would
 * otherwise be counted as the gateway's. A reader's read that spans
 * several of the gateway's writes carries the last one's time, which errs
 * against the gateway.
 *
 * With -R FROM:UNTIL (Unix times) it replays /recordings/<id> as ONVIF
 * Streaming asks: Require: onvif-replay on SETUP and PLAY, reader i from
 * Range: clock=FROM + (UNTIL - FROM) * i / N, in real time; with -F as
 * fast as the connection drains (Rate-Control: no) over Range: clock=
 * FROM-UNTIL. Per reader it reads the 0xABAC extension's capture times:
 * the recorded seconds received per wall second, the frames that came
 * more than two nominal intervals (-f FPS, 25) after the one before
 * (late, at 1x) and the holes of more than two intervals in the capture
 * times themselves (gaps in what was sent).
 *
 * It prints one "key: value" per line, for scripts.
 */
#include "vssgate_build.h"
#include "bench_cam.h"
#include "proto/digest.h"
#include "proto/msg.h"
#include "proto/rtsp_hdr.h"
#include "proto/sdp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF (256 * 1024)
#define MAX_TRACKS 4
#define LAT_SLOTS 4096			/* payload fingerprints remembered for the latency match */

enum wire {
	W_TCP,
	W_HTTP,
	W_WS,
};

enum rstate {
	R_CONNECTING,
	R_HANDSHAKE,			/* http/ws: waiting for the HTTP answer */
	R_DESCRIBE,
	R_SETUP,
	R_PLAY,
	R_PLAYING,
	R_DEAD,
};

struct reader {
	char path[1100];		/* this reader's request path */
	int fd;
	int post_fd;			/* http: the tunnel's request side */
	enum rstate state;
	uint64_t ws_left;		/* ws: payload bytes left in the server's frame */
	uint8_t wsh[10];
	int wshn;
	int64_t rx_us;			/* -S: kernel arrival time of the last read (realtime) */
	int64_t t_play_wall;		/* -S: when PLAY was sent (realtime) */
	int cseq;
	bool authed;
	struct digest_challenge chal;
	uint32_t nc;
	char session[80];
	char controls[MAX_TRACKS][1600];
	int ntracks, setup_next;
	int video_channel;
	uint8_t *buf;
	size_t len;
	int64_t t_connect, t_play, t_first_pkt, t_first_key, t_last;
	uint32_t last_video_ts;
	bool have_video_ts;
	uint64_t packets, bytes, lost;
	bool have_seq[MAX_TRACKS];
	uint16_t next_seq[MAX_TRACKS];
	/* -R: the replay, by the video frames' 0xABAC capture times */
	double replay_start;		/* the clock time asked for */
	uint32_t unit_ts;		/* RTP timestamp of the frame being received */
	bool have_unit;
	double first_cap, last_cap;	/* capture times, seconds */
	double min_cap, max_cap;
	int64_t t_last_unit, max_interval_us;
	uint64_t units, late_units;
	double *caps;			/* every frame's capture time, for the holes (B frames come out of order) */
	size_t ncaps, capcaps;
};

static const char *opt_url, *opt_user = "", *opt_pass = "", *opt_serve, *opt_transport = "tcp";
static int opt_n = 100, opt_duration = 20, opt_ramp_ms = 2, opt_pid;
static enum wire opt_wire = W_TCP;
static double opt_replay_from, opt_replay_until, opt_fps = 25;
static bool opt_replay, opt_fast;
static long opt_cam_first, opt_cam_count;
static uint64_t cookie_seq;
static char host[256], path[1024];
static int port;
static struct reader *readers;
static int nreaders;
static int epfd;

/* Latency: payload fingerprint -> when our camera wrote it. */
struct lat_slot {
	uint64_t fp;
	uint32_t ts;			/* RTP timestamp the camera gave it */
	int64_t t;
};
static struct lat_slot lat_ring[LAT_SLOTS];
static double *lat_samples;
static size_t nlat, caplat;
/*
 * The gateway rebases RTP timestamps by a constant: learn it by vote, then
 * count only packets whose timestamps agree, so that a payload that repeats
 * (a test pattern) is not taken for another.
 */
#define OFFSET_VOTES 400
static uint32_t offset_votes[OFFSET_VOTES];
static int noffset_votes;
static bool have_offset;
static uint32_t ts_offset;

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
die(const char *msg)
{
	fprintf(stderr, "rtsp_load: %s\n", msg);
	exit(2);
}

static void
parse_url(const char *url, char *h, size_t hlen, int *p, char *pth, size_t plen)
{
	struct rtsp_url u;

	if (rtsp_url_parse(url, strlen(url), 0, &u) < 0 || !u.has_authority)
		die("bad URL");
	snprintf(h, hlen, "%.*s", (int)u.host.len, u.host.p);
	*p = u.has_port ? u.port : 554;
	snprintf(pth, plen, "%.*s", (int)u.path.len, u.path.p);
}

static int
connect_to(const char *h, int p, bool blocking)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)p) };
	int fd = socket(AF_INET, SOCK_STREAM | (blocking ? 0 : SOCK_NONBLOCK), 0), one = 1;

	if (fd < 0 || inet_pton(AF_INET, h, &sin.sin_addr) != 1)
		die("socket or address");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 && errno != EINPROGRESS)
		die("connect");
	return fd;
}

/* --- requests ------------------------------------------------------------------- */

static void
write_fd(struct reader *r, int fd, const void *data, size_t n)
{
	const char *req = data;
	size_t off = 0;

	while (off < n) {
		ssize_t w = write(fd, req + off, n - off);

		if (w < 0 && errno == EAGAIN)
			continue;	/* requests are small; the socket has room */
		if (w <= 0) {
			r->state = R_DEAD;
			return;
		}
		off += (size_t)w;
	}
}

/* A request on the reader's wire: as it is, base64 on the tunnel's POST, or a masked frame. */
static void
send_all(struct reader *r, const char *req)
{
	size_t n = strlen(req);

	if (opt_wire == W_TCP) {
		write_fd(r, r->fd, req, n);
	} else if (opt_wire == W_HTTP) {
		char *b64 = malloc(4 * ((n + 2) / 3) + 1);

		EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)req, (int)n);
		write_fd(r, r->post_fd, b64, strlen(b64));
		free(b64);
	} else {
		uint8_t *f = malloc(n + 8);
		const uint8_t mask[4] = { 0x11, 0x22, 0x33, 0x44 };
		size_t h = 2;

		f[0] = 0x82;
		if (n < 126) {
			f[1] = (uint8_t)(0x80 | n);
		} else {
			f[1] = 0x80 | 126;
			f[2] = (uint8_t)(n >> 8);
			f[3] = (uint8_t)n;
			h = 4;
		}
		memcpy(f + h, mask, 4);
		for (size_t i = 0; i < n; i++)
			f[h + 4 + i] = (uint8_t)(req[i] ^ mask[i & 3]);
		write_fd(r, r->fd, f, h + 4 + n);
		free(f);
	}
}

/* The HTTP request that opens the tunnel or the WebSocket. */
static void
send_handshake(struct reader *r)
{
	char req[1400];

	if (opt_wire == W_HTTP) {
		snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nx-sessioncookie: load%llu\r\n"
		    "Accept: application/x-rtsp-tunnelled\r\n\r\n", r->path, (unsigned long long)++cookie_seq);
		write_fd(r, r->fd, req, strlen(req));
		snprintf(req, sizeof(req), "POST %s HTTP/1.0\r\nx-sessioncookie: load%llu\r\n"
		    "Content-Type: application/x-rtsp-tunnelled\r\nContent-Length: 32767\r\n\r\n", r->path,
		    (unsigned long long)cookie_seq);
		write_fd(r, r->post_fd, req, strlen(req));
	} else {
		snprintf(req, sizeof(req), "GET /rtsp-over-websocket HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
		    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: rtsp.onvif.org\r\n\r\n", host);
		write_fd(r, r->fd, req, strlen(req));
	}
	r->state = R_HANDSHAKE;
}

static void
request(struct reader *r, const char *method, const char *uri, const char *extra)
{
	char req[5000], auth[1100] = "";

	if (r->authed) {
		char value[1000];

		if (digest_authorization_format(&r->chal, opt_user, opt_pass, method, uri, ++r->nc,
		    "0a4f113b6c7d8e9f", value, sizeof(value)) < 0)
			die("digest");
		if ((size_t)snprintf(auth, sizeof(auth), "Authorization: %s\r\n", value) >= sizeof(auth))
			die("authorization too long");
	}
	if ((size_t)snprintf(req, sizeof(req), "%s %s RTSP/1.0\r\nCSeq: %d\r\n%s%s%s%s\r\n", method, uri,
	    ++r->cseq, auth, r->session[0] ? "Session: " : "", r->session, r->session[0] ? "\r\n" : "") >=
	    sizeof(req))
		die("request too long");
	if (extra) {
		size_t n = strlen(req) - 2;

		snprintf(req + n, sizeof(req) - n, "%s\r\n", extra);
	}
	send_all(r, req);
}

static const char *
url_of(const struct reader *r)
{
	static char u[1400];

	if ((size_t)snprintf(u, sizeof(u), "rtsp://%s:%d%s", host, port, r->path) >= sizeof(u))
		die("URL too long");
	return u;
}

/* RFC 2326 clock time of a Unix time, to the millisecond: 20261207T010203.000Z */
static void
clock_str(double t, char *out, size_t len)
{
	time_t s = (time_t)t;
	struct tm tm;
	size_t n;

	gmtime_r(&s, &tm);
	n = strftime(out, len, "%Y%m%dT%H%M%S", &tm);
	snprintf(out + n, len - n, ".%03dZ", (int)((t - (double)s) * 1000) % 1000);
}

static void
next_step(struct reader *r)
{
	char tr[120];

	switch (r->state) {
	case R_DESCRIBE:
		request(r, "DESCRIBE", url_of(r), "Accept: application/sdp\r\n");
		break;
	case R_SETUP:
		snprintf(tr, sizeof(tr), "Transport: RTP/AVP/TCP;unicast;interleaved=%d-%d\r\n%s",
		    2 * r->setup_next, 2 * r->setup_next + 1, opt_replay ? "Require: onvif-replay\r\n" : "");
		request(r, "SETUP", r->controls[r->setup_next], tr);
		break;
	case R_PLAY:
		r->t_play = now_us();
		r->t_play_wall = bench_wall_us();
		if (opt_replay) {
			char range[200], from[40], until[40] = "";

			clock_str(r->replay_start, from, sizeof(from));
			if (opt_fast)
				clock_str(opt_replay_until, until, sizeof(until));
			snprintf(range, sizeof(range), "Require: onvif-replay\r\nRange: clock=%s-%s\r\n%s", from,
			    until, opt_fast ? "Rate-Control: no\r\n" : "");
			request(r, "PLAY", url_of(r), range);
		} else {
			request(r, "PLAY", url_of(r), "Range: npt=0.000-\r\n");
		}
		break;
	default:
		break;
	}
}

/* --- responses ------------------------------------------------------------------- */

static void
take_challenge(struct reader *r, const struct msg *m)
{
	digest_challenge_init(&r->chal);
	for (int i = 0; i < m->nheaders; i++)
		if (proto_str_ieq(m->headers[i].name, "WWW-Authenticate"))
			digest_challenge_pick(m->headers[i].value.p, m->headers[i].value.len, 0, &r->chal);
	r->authed = r->chal.scheme == DIGEST_SCHEME_DIGEST;
}

static void
take_sdp(struct reader *r, const struct msg *m, const char *body, size_t len)
{
	static struct sdp sdp;
	char base[1500];

	if (!msg_header_copy(m, "Content-Base", base, sizeof(base)) &&
	    (size_t)snprintf(base, sizeof(base), "%s/", url_of(r)) >= sizeof(base))
		die("URL too long");
	if (sdp_parse(body, len, 65536, &sdp) < 0)
		die("bad SDP");
	r->ntracks = 0;
	for (int i = 0; i < sdp.nmedia && r->ntracks < MAX_TRACKS; i++) {
		struct proto_str c = sdp.media[i].control;

		if (proto_str_ieq(sdp.media[i].type, "video") && r->video_channel < 0)
			r->video_channel = 2 * r->ntracks;
		int n = c.len > 7 && strncmp(c.p, "rtsp://", 7) == 0 ?
		    snprintf(r->controls[r->ntracks], sizeof(r->controls[0]), "%.*s", (int)c.len, c.p) :
		    snprintf(r->controls[r->ntracks], sizeof(r->controls[0]), "%s%.*s", base, (int)c.len, c.p);

		if (n < 0 || (size_t)n >= sizeof(r->controls[0]))
			die("control URL too long");
		r->ntracks++;
	}
}

static void
on_response(struct reader *r, const struct msg *m, const char *body, size_t blen)
{
	const struct msg_header *s;

	if (m->status == 401 && !r->authed) {
		take_challenge(r, m);
		next_step(r);
		return;
	}
	if (m->status != 200) {
		fprintf(stderr, "rtsp_load: reader got %d\n", m->status);
		r->state = R_DEAD;
		return;
	}
	switch (r->state) {
	case R_DESCRIBE:
		take_sdp(r, m, body, blen);
		r->state = R_SETUP;
		break;
	case R_SETUP:
		if ((s = msg_header(m, "Session")) != NULL) {
			size_t n = 0;

			while (n < s->value.len && s->value.p[n] != ';' && n < sizeof(r->session) - 1)
				n++;
			memcpy(r->session, s->value.p, n);
			r->session[n] = '\0';
		}
		if (++r->setup_next == r->ntracks)
			r->state = R_PLAY;
		break;
	case R_PLAY:
		r->state = R_PLAYING;
		return;
	default:
		return;
	}
	next_step(r);
}

/* --- media -------------------------------------------------------------------------- */

static bool
is_keyframe_payload(const uint8_t *p, size_t len)
{
	uint8_t t;

	if (len < 2)
		return false;
	t = p[0] & 0x1f;
	if (t == 28)
		return (p[1] & 0x80) && (p[1] & 0x1f) == 5;
	if (t == 24)
		return len > 3 && ((p[3] & 0x1f) == 7 || (p[3] & 0x1f) == 5);
	return t == 5 || t == 7;
}

static uint64_t
fingerprint(const uint8_t *p, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len && i < 64; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h ^ len;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
vote_offset(uint32_t off)
{
	int best = 0, run = 0;

	offset_votes[noffset_votes++] = off;
	if (noffset_votes < OFFSET_VOTES)
		return;
	qsort(offset_votes, OFFSET_VOTES, sizeof(uint32_t), cmp_u32);
	for (int i = 0; i < OFFSET_VOTES; i++) {
		run = i > 0 && offset_votes[i] == offset_votes[i - 1] ? run + 1 : 1;
		if (run > best)
			best = run, ts_offset = offset_votes[i];
	}
	have_offset = true;
	fprintf(stderr, "rtsp_load: RTP timestamp offset %u (%d of %d votes)\n", ts_offset, best, OFFSET_VOTES);
}

/* bench_cam calls this just before it writes a packet. */
static void
latency_sent(const uint8_t *payload, size_t len, uint32_t ts, int64_t sent_us)
{
	uint64_t fp = fingerprint(payload, len);
	struct lat_slot *s = &lat_ring[fp % LAT_SLOTS];

	s->fp = fp;
	s->ts = ts;
	s->t = sent_us;
}

/*
 * Only packets the camera sent after the reader's PLAY count: those before
 * are the GOP the gateway keeps for a joining reader (timed by the first
 * keyframe figures), not relay delay.
 */
static void
latency_sample(const struct reader *r, const uint8_t *payload, size_t len, uint32_t ts, int64_t t)
{
	uint64_t fp = fingerprint(payload, len);
	struct lat_slot *s = &lat_ring[fp % LAT_SLOTS];

	if (s->fp != fp || s->t < r->t_play_wall)
		return;
	if (!have_offset) {
		vote_offset(ts - s->ts);
		return;
	}
	if (ts - s->ts != ts_offset || t < s->t)
		return;
	if (nlat == caplat) {
		caplat = caplat ? 2 * caplat : 65536;
		lat_samples = realloc(lat_samples, caplat * sizeof(*lat_samples));
	}
	lat_samples[nlat++] = (double)(t - s->t) / 1000.0;
}

/* The 0xABAC extension of a video packet: NTP capture time, then C E D T flags. */
static void
on_replay_ext(struct reader *r, const uint8_t *x, int64_t t)
{
	uint64_t ntp = 0;
	double cap, nominal_us = 1e6 / opt_fps;

	for (int i = 0; i < 8; i++)
		ntp = ntp << 8 | x[i];
	cap = (double)(ntp >> 32) - 2208988800.0 + (double)(ntp & 0xffffffffu) / 4294967296.0;
	if (r->have_unit && r->last_video_ts == r->unit_ts)
		return;			/* the same frame's next packet */
	if (r->have_unit) {
		if ((double)(t - r->t_last_unit) > 2 * nominal_us)
			r->late_units++;
		if (t - r->t_last_unit > r->max_interval_us)
			r->max_interval_us = t - r->t_last_unit;
	} else {
		r->first_cap = cap;
	}
	r->have_unit = true;
	r->unit_ts = r->last_video_ts;
	r->last_cap = cap;
	if (cap > r->max_cap || r->units == 0)
		r->max_cap = cap;
	if (r->units == 0 || cap < r->min_cap)
		r->min_cap = cap;
	r->t_last_unit = t;
	r->units++;
	if (r->ncaps == r->capcaps) {
		r->capcaps = r->capcaps ? 2 * r->capcaps : 1024;
		if ((r->caps = realloc(r->caps, r->capcaps * sizeof(*r->caps))) == NULL)
			die("out of memory");
	}
	r->caps[r->ncaps++] = cap;
}

static void
on_rtp(struct reader *r, int channel, const uint8_t *p, size_t len, int64_t t)
{
	int track = channel / 2;
	uint16_t seq;
	size_t hl;

	if (channel & 1 || len < 12 || track >= MAX_TRACKS)
		return;
	seq = (uint16_t)(p[2] << 8 | p[3]);
	if (r->have_seq[track] && seq != r->next_seq[track])
		r->lost += (uint16_t)(seq - r->next_seq[track]);
	r->have_seq[track] = true;
	r->next_seq[track] = (uint16_t)(seq + 1);
	r->packets++;
	r->t_last = t;
	if (r->t_first_pkt == 0)
		r->t_first_pkt = t;
	if (channel == r->video_channel) {
		r->last_video_ts = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
		r->have_video_ts = true;
	}
	hl = 12 + 4u * (p[0] & 15);
	if (p[0] & 0x10) {		/* a header extension: 0xABAC is the replay's */
		size_t words;

		if (hl + 4 > len)
			return;
		words = (size_t)(p[hl + 2] << 8 | p[hl + 3]);
		if (opt_replay && channel == r->video_channel && p[hl] == 0xab && p[hl + 1] == 0xac && words >= 3 &&
		    hl + 16 <= len)
			on_replay_ext(r, p + hl + 4, t);
		hl += 4 + 4 * words;
	}
	if (hl >= len)
		return;
	if (channel == r->video_channel && r->t_first_key == 0 && is_keyframe_payload(p + hl, len - hl))
		r->t_first_key = t;
	if (opt_serve && channel == r->video_channel && r->rx_us != 0)
		latency_sample(r, p + hl, len - hl, r->last_video_ts, r->rx_us);
}

/* Consume what is buffered: interleaved frames and responses. */
static void
parse_input(struct reader *r, int64_t t)
{
	struct msg_limits lim = { 16384, 64, 65536 };
	size_t off = 0;

	while (off < r->len && r->state != R_DEAD) {
		struct msg_parser mp = { 0 };
		struct msg m;
		int rc;

		if (r->buf[off] == '$') {
			size_t flen;

			if (r->len - off < 4)
				break;
			flen = (size_t)(r->buf[off + 2] << 8 | r->buf[off + 3]);
			if (r->len - off < 4 + flen)
				break;
			r->bytes += 4 + flen;
			on_rtp(r, r->buf[off + 1], r->buf + off + 4, flen, t);
			off += 4 + flen;
			continue;
		}
		rc = msg_parse(&mp, (const char *)r->buf + off, r->len - off, &lim, false, &m);
		if (rc == PROTO_AGAIN)
			break;
		if (rc < 0 || r->len - off < m.head_len + m.content_length) {
			if (rc < 0)
				r->state = R_DEAD;
			break;
		}
		on_response(r, &m, (const char *)r->buf + off + m.head_len, m.content_length);
		off += m.head_len + m.content_length;
	}
	memmove(r->buf, r->buf + off, r->len - off);
	r->len -= off;
}

/* WebSocket frames from the server (never masked): their payload is the RTSP stream. */
static void
ws_feed(struct reader *r, const uint8_t *p, size_t n, int64_t t)
{
	while (n > 0 && r->state != R_DEAD) {
		if (r->ws_left == 0) {
			size_t need;

			r->wsh[r->wshn++] = *p++, n--;
			need = r->wshn < 2 ? 2 : (r->wsh[1] & 127) == 126 ? 4 : (r->wsh[1] & 127) == 127 ? 10 : 2;
			if ((size_t)r->wshn < need)
				continue;
			r->ws_left = need == 2 ? (r->wsh[1] & 127u) : 0;
			for (size_t i = 2; i < need; i++)
				r->ws_left = r->ws_left << 8 | r->wsh[i];
			r->wshn = 0;
			continue;
		}
		size_t take = n < r->ws_left ? n : (size_t)r->ws_left;

		if (take > RBUF - r->len)
			take = RBUF - r->len;
		memcpy(r->buf + r->len, p, take);
		r->len += take;
		r->ws_left -= take;
		p += take;
		n -= take;
		parse_input(r, t);
		if (r->len == RBUF)
			r->len = 0;	/* a message larger than our buffer: give up on it */
	}
}

/* http/ws: the HTTP answer head is in r->buf; what follows it is the stream. */
static void
finish_handshake(struct reader *r, int64_t t)
{
	uint8_t *end = memmem(r->buf, r->len, "\r\n\r\n", 4);
	size_t head, rest;

	if (end == NULL)
		return;
	if (r->len < 12 || (memcmp(r->buf + 9, "200", 3) != 0 && memcmp(r->buf + 9, "101", 3) != 0)) {
		r->state = R_DEAD;
		return;
	}
	head = (size_t)(end - r->buf) + 4;
	rest = r->len - head;
	r->state = R_DESCRIBE;
	next_step(r);
	if (opt_wire == W_WS) {
		uint8_t tmp[RBUF];

		memcpy(tmp, r->buf + head, rest);
		r->len = 0;
		ws_feed(r, tmp, rest, t);
	} else {
		memmove(r->buf, r->buf + head, rest);
		r->len = rest;
		parse_input(r, t);
	}
}

/* read(), and with -S the kernel's arrival time of what was read. */
static ssize_t
read_timed(struct reader *r, uint8_t *buf, size_t len)
{
	union {
		char space[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl) };
	ssize_t n;

	if (!opt_serve)
		return read(r->fd, buf, len);
	n = recvmsg(r->fd, &mh, 0);
	r->rx_us = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); n > 0 && c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			r->rx_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
		}
	return n;
}

static void
on_readable(struct reader *r)
{
	static uint8_t tmp[RBUF];

	for (;;) {
		bool ws = opt_wire == W_WS && r->state != R_HANDSHAKE;
		ssize_t n = ws ? read_timed(r, tmp, sizeof(tmp)) : read_timed(r, r->buf + r->len, RBUF - r->len);
		int64_t t = now_us();

		if (n > 0) {
			if (ws) {
				ws_feed(r, tmp, (size_t)n, t);
				continue;
			}
			r->len += (size_t)n;
			if (r->state == R_HANDSHAKE)
				finish_handshake(r, t);
			else
				parse_input(r, t);
			if (r->len == RBUF)
				r->len = 0;	/* a response larger than our buffer: give up on it */
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			r->state = R_DEAD;
		return;
	}
}

/* --- the run ------------------------------------------------------------------------ */

static void
start_reader(struct reader *r)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET };

	memset(r, 0, sizeof(*r));
	snprintf(r->path, sizeof(r->path), "%s", path);
	if (opt_cam_count > 0) {
		char *slash = strrchr(r->path, '/');

		if (slash)
			snprintf(slash + 1, sizeof(r->path) - (size_t)(slash + 1 - r->path), "%ld",
			    opt_cam_first + (nreaders % opt_cam_count));
	}
	r->video_channel = -1;
	r->replay_start = opt_replay_from + (opt_replay_until - opt_replay_from) * (double)(r - readers) / opt_n;
	r->buf = malloc(RBUF);
	r->fd = connect_to(host, port, false);
	if (opt_wire == W_HTTP)
		r->post_fd = connect_to(host, port, true);
	if (opt_serve) {
		int one = 1;

		setsockopt(r->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	}
	r->state = R_CONNECTING;
	r->t_connect = now_us();
	ev.data.ptr = r;
	epoll_ctl(epfd, EPOLL_CTL_ADD, r->fd, &ev);
}

static void
on_event(struct reader *r, uint32_t events)
{
	if (r->state == R_CONNECTING && (events & EPOLLOUT)) {
		if (opt_wire != W_TCP) {
			send_handshake(r);
		} else {
			r->state = R_DESCRIBE;
			next_step(r);
		}
	}
	if (events & EPOLLIN)
		on_readable(r);
	if (events & (EPOLLERR | EPOLLHUP))
		r->state = R_DEAD;
}

static void
proc_sample(int pid, double *cpu_s, long *rss_kb)
{
	char p[64], buf[2048];
	FILE *f;
	unsigned long ut = 0, st = 0;

	snprintf(p, sizeof(p), "/proc/%d/stat", pid);
	if ((f = fopen(p, "r")) != NULL) {
		if (fgets(buf, sizeof(buf), f)) {
			char *c = strrchr(buf, ')');

			if (c)
				sscanf(c + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
		}
		fclose(f);
	}
	*cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	snprintf(p, sizeof(p), "/proc/%d/status", pid);
	*rss_kb = 0;
	if ((f = fopen(p, "r")) != NULL) {
		while (fgets(buf, sizeof(buf), f))
			if (sscanf(buf, "VmRSS: %ld", rss_kb) == 1)
				break;
		fclose(f);
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
percentile(double *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return v[(size_t)((double)(n - 1) * p)];
}

/* -R: recorded seconds per wall second (from PLAY to the last frame), late frames, gaps. */
static void
report_replay(void)
{
	double rec_s = 0, x_min = 1e18, x_sum = 0;
	uint64_t units = 0, late = 0, gaps = 0;
	int64_t max_interval = 0;
	int n = 0;

	for (int i = 0; i < nreaders; i++) {
		struct reader *r = &readers[i];
		double wall = (double)(r->t_last_unit - r->t_play) / 1e6, rec = r->max_cap - r->min_cap;

		units += r->units;
		late += r->late_units;
		/* A hole: sorted, two frames' capture times more than two nominal intervals apart. */
		qsort(r->caps, r->ncaps, sizeof(double), cmp_double);
		for (size_t k = 1; k < r->ncaps; k++)
			gaps += (r->caps[k] - r->caps[k - 1]) * opt_fps > 2;
		max_interval = r->max_interval_us > max_interval ? r->max_interval_us : max_interval;
		if (r->units < 2 || wall <= 0)
			continue;
		rec_s += rec;
		x_sum += rec / wall;
		x_min = rec / wall < x_min ? rec / wall : x_min;
		n++;
	}
	printf("replay_readers_with_frames: %d\nreplay_frames: %llu\nreplay_recorded_s: %.1f\n", n,
	    (unsigned long long)units, rec_s);
	printf("replay_x_realtime_avg: %.2f\nreplay_x_realtime_min: %.2f\n", n ? x_sum / n : 0, n ? x_min : 0);
	printf("replay_max_frame_interval_ms: %.1f\n", (double)max_interval / 1000);
	printf("replay_late_frames: %llu\nreplay_capture_gaps: %llu\n", (unsigned long long)late,
	    (unsigned long long)gaps);
}

static void
report(double cpu0, double cpu1, double secs, long rss0, long rss1, long rss_idle)
{
	double *key = calloc((size_t)nreaders, sizeof(double)), *first = calloc((size_t)nreaders, sizeof(double));
	double min_rate = 1e18, sum_rate = 0, behind_ms = 0;
	uint64_t lost = 0, packets = 0;
	int playing = 0, nk = 0, nf = 0;
	uint32_t newest = 0;
	bool have_newest = false;

	/* The freshest video timestamp any reader has: how far behind is the slowest? */
	for (int i = 0; i < nreaders; i++)
		if (readers[i].have_video_ts &&
		    (!have_newest || (int32_t)(readers[i].last_video_ts - newest) > 0))
			newest = readers[i].last_video_ts, have_newest = true;
	for (int i = 0; i < nreaders; i++) {
		struct reader *r = &readers[i];
		double rate, span;

		playing += r->state == R_PLAYING;
		lost += r->lost;
		packets += r->packets;
		if (r->have_video_ts && (double)(int32_t)(newest - r->last_video_ts) / 90.0 > behind_ms)
			behind_ms = (double)(int32_t)(newest - r->last_video_ts) / 90.0;
		/* Over the reader's own time: readers start one after the other. */
		span = r->t_first_pkt ? (double)(r->t_last - r->t_first_pkt) / 1e6 : 0;
		rate = span > 0 ? (double)r->bytes * 8 / span : 0;
		sum_rate += rate;
		min_rate = rate < min_rate ? rate : min_rate;
		if (r->t_first_key)
			key[nk++] = (double)(r->t_first_key - r->t_play) / 1000.0;
		if (r->t_first_pkt)
			first[nf++] = (double)(r->t_first_pkt - r->t_play) / 1000.0;
	}
	printf("readers: %d\nplaying_at_end: %d\npackets: %llu\nlost_packets: %llu\n", opt_n, playing,
	    (unsigned long long)packets, (unsigned long long)lost);
	printf("rate_avg_mbps: %.3f\nrate_min_mbps: %.3f\n", sum_rate / opt_n / 1e6, min_rate / 1e6);
	if (opt_cam_count == 0)	/* readers of different cameras do not share a clock */
		printf("slowest_reader_behind_ms: %.1f\n", behind_ms);
	printf("first_packet_ms_p50: %.1f\nfirst_packet_ms_p99: %.1f\n", percentile(first, (size_t)nf, 0.5),
	    percentile(first, (size_t)nf, 0.99));
	printf("first_keyframe_ms_p50: %.1f\nfirst_keyframe_ms_p99: %.1f\n", percentile(key, (size_t)nk, 0.5),
	    percentile(key, (size_t)nk, 0.99));
	if (opt_replay)
		report_replay();
	if (opt_serve)
		printf("camera_packets_refused: %llu\n", (unsigned long long)cam_packets_refused());
	if (opt_serve)
		printf("added_latency_ms_p50: %.2f\nadded_latency_ms_p90: %.2f\nadded_latency_ms_p99: %.2f\n"
		    "added_latency_ms_p99.9: %.2f\nlatency_samples: %zu\n",
		    percentile(lat_samples, nlat, 0.5), percentile(lat_samples, nlat, 0.9),
		    percentile(lat_samples, nlat, 0.99), percentile(lat_samples, nlat, 0.999), nlat);
	if (opt_pid) {
		printf("gateway_cpu_percent: %.1f\n", 100.0 * (cpu1 - cpu0) / secs);
		printf("gateway_rss_kb: %ld\ngateway_rss_idle_kb: %ld\n", rss1, rss_idle);
		printf("gateway_kib_per_reader: %.2f\n", (double)(rss1 - rss_idle) / opt_n);
	}
	(void)rss0;
	free(key);
	free(first);
}

static void
run(void)
{
	struct epoll_event evs[256];
	int64_t start = now_us(), end = start + (int64_t)opt_duration * 1000000, next_start = start;
	int64_t steady = start + (int64_t)opt_duration * 1000000 / 3;
	double cpu0 = 0, cpu1 = 0;
	long rss0 = 0, rss1 = 0, rss_idle = 0;
	int started = 0;
	bool measured = false;

	if (opt_pid)
		proc_sample(opt_pid, &cpu0, &rss_idle);
	if (opt_serve) {
		char file[1024];
		int cam_port;

		if (sscanf(opt_serve, "%d:%1023s", &cam_port, file) != 2)
			die("-S takes PORT:FILE");
		cam_start(epfd, cam_port, file, 25, latency_sent);
	}
	while (now_us() < end) {
		int n, timeout = 5;

		while (started < opt_n && now_us() >= next_start) {
			start_reader(&readers[nreaders++]);
			started++;
			next_start += opt_ramp_ms * 1000;
		}
		if (!measured && opt_pid && now_us() >= steady && started == opt_n) {
			proc_sample(opt_pid, &cpu0, &rss0);
			steady = now_us();
			measured = true;
		}
		n = epoll_wait(epfd, evs, 256, timeout);
		for (int i = 0; i < n; i++) {
			if (cam_owns(evs[i].data.ptr))
				cam_on_event(evs[i].data.ptr, evs[i].events);
			else
				on_event(evs[i].data.ptr, evs[i].events);
		}
	}
	if (opt_pid)
		proc_sample(opt_pid, &cpu1, &rss1);
	report(cpu0, cpu1, (double)(now_us() - steady) / 1e6, rss0, rss1, rss_idle);
}

int
main(int argc, char **argv)
{
	struct rlimit rl = { 65536, 65536 };
	int c;

	while ((c = getopt(argc, argv, "u:U:P:n:d:t:p:r:S:C:R:Ff:")) != -1) {
		switch (c) {
		case 'u': opt_url = optarg; break;
		case 'U': opt_user = optarg; break;
		case 'P': opt_pass = optarg; break;
		case 'n': opt_n = atoi(optarg); break;
		case 'd': opt_duration = atoi(optarg); break;
		case 't': opt_transport = optarg; break;
		case 'p': opt_pid = atoi(optarg); break;
		case 'r': opt_ramp_ms = atoi(optarg); break;
		case 'S': opt_serve = optarg; break;
		case 'R':
			if (sscanf(optarg, "%lf:%lf", &opt_replay_from, &opt_replay_until) != 2 ||
			    opt_replay_until < opt_replay_from)
				die("-R takes FROM:UNTIL (Unix times)");
			opt_replay = true;
			break;
		case 'F': opt_fast = true; break;
		case 'f': opt_fps = atof(optarg); break;
		case 'C':
			if (sscanf(optarg, "%ld:%ld", &opt_cam_first, &opt_cam_count) != 2 || opt_cam_count <= 0)
				die("-C takes FIRST:COUNT");
			break;
		default: die("usage: rtsp_load -u URL -U USER -P PASS [-n N] [-d SECONDS] [-p PID] [-S PORT:FILE] [-R FROM:UNTIL [-F] [-f FPS]]");
		}
	}
	if (opt_url == NULL || opt_n <= 0)
		die("give -u URL and -n N");
	if (strcmp(opt_transport, "http") == 0)
		opt_wire = W_HTTP;
	else if (strcmp(opt_transport, "ws") == 0)
		opt_wire = W_WS;
	else if (strcmp(opt_transport, "tcp") != 0)
		die("-t takes tcp, http or ws");
	setrlimit(RLIMIT_NOFILE, &rl);
	parse_url(opt_url, host, sizeof(host), &port, path, sizeof(path));
	readers = calloc((size_t)opt_n + 1, sizeof(*readers));
	epfd = epoll_create1(0);
	run();
	return 0;
}
