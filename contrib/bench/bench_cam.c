/*
 * bench_cam.c - the benchmark's own camera (see bench_cam.h).
 *
 * A camera on the same machine as the gateway cannot be a fair reference:
 * its encoder competes for the cores, and where it is read directly as
 * well, the order in which it writes to its two clients is counted as the
 * gateway's delay. This one replays a pre-encoded file, one access unit a
 * frame period, each RTP packet written on its own as a camera does, and
 * notes the time of every write.
 *
 * One client at a time (the gateway); a new connection replaces the old.
 * It answers OPTIONS, DESCRIBE, SETUP (interleaved only), PLAY, TEARDOWN
 * and any keep-alive with 200; RTCP from the client is read and ignored.
 */
#include "vssgate_build.h"
#include "bench_cam.h"
#include "proto/msg.h"
#include "proto/pay.h"
#include "proto/rtp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define CAM_MAX_REQUEST 16384
#define CAM_PT 96
#define CAM_SSRC 0x5eb0c0deu
#define CAM_SESSION "5EB0C0DE"

enum cam_state {
	CAM_IDLE,			/* no client */
	CAM_READY,			/* a client, not playing */
	CAM_PLAYING,
};

/* The three things in epoll; data.ptr points at one of them. */
struct cam_handle {
	int fd;
};

static struct {
	enum cam_state state;
	struct cam_handle listener, client, timer;
	int epfd, fps;
	cam_sent_fn sent;
	uint8_t *data;			/* the whole file */
	size_t *au_off, *au_len;	/* access units, after their delimiter */
	size_t nau, next_au;
	uint32_t ts;
	uint16_t seq;
	char req[CAM_MAX_REQUEST];
	size_t req_len;
	struct pay pay;			/* one for the stream: it remembers the parameter sets */
	uint64_t refused;
} cam;

static void
cam_die(const char *what)
{
	fprintf(stderr, "rtsp_load: camera: %s\n", what);
	exit(2);
}

int64_t
bench_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* --- the file ---------------------------------------------------------------------- */

/* Length of the start code at |i| (3 or 4), or 0. */
static size_t
start_code_at(const uint8_t *p, size_t len, size_t i)
{
	if (i + 3 <= len && p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1)
		return 3;
	if (i + 4 <= len && p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 0 && p[i + 3] == 1)
		return 4;
	return 0;
}

/* An access unit runs from after one delimiter NAL unit (type 9, 2 bytes) to the next. */
static void
index_access_units(size_t len)
{
	size_t cap = 0, start = 0;
	bool open = false;

	for (size_t i = 0; i + 4 < len; i++) {
		size_t sc = start_code_at(cam.data, len, i);

		if (sc == 0 || (cam.data[i + sc] & 0x1f) != 9)
			continue;
		if (open) {
			if (cam.nau == cap) {
				cap = cap ? 2 * cap : 4096;
				cam.au_off = realloc(cam.au_off, cap * sizeof(size_t));
				cam.au_len = realloc(cam.au_len, cap * sizeof(size_t));
				if (cam.au_off == NULL || cam.au_len == NULL)
					cam_die("out of memory");
			}
			cam.au_off[cam.nau] = start;
			cam.au_len[cam.nau++] = i - start;
		}
		start = i + sc + 2;
		open = true;
		i += sc;
	}
	if (cam.nau == 0)
		cam_die("no access unit delimiters in the file (make it with -bsf:v h264_metadata=aud=insert)");
}

static void
load_file(const char *file)
{
	FILE *f = fopen(file, "rb");
	long len;

	if (f == NULL || fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) < 0)
		cam_die("cannot read the file");
	cam.data = malloc((size_t)len);
	if (cam.data == NULL || fread(cam.data, 1, (size_t)len, f) != (size_t)len)
		cam_die("cannot read the file");
	fclose(f);
	index_access_units((size_t)len);
}

/* --- media ----------------------------------------------------------------------------- */

/* One interleaved RTP packet, one write, as a camera sends them. */
static void
send_packet(const uint8_t *payload, size_t len, bool last)
{
	struct rtp_hdr h = { .marker = last, .pt = CAM_PT, .seq = cam.seq++, .ts = cam.ts, .ssrc = CAM_SSRC };
	uint8_t head[4 + 12];
	struct iovec iov[2] = { { head, sizeof(head) }, { (void *)payload, len } };
	size_t want = sizeof(head) + len;

	head[0] = '$';
	head[1] = 0;
	head[2] = (uint8_t)((12 + len) >> 8);
	head[3] = (uint8_t)(12 + len);
	rtp_build(&h, head + 4, 12);
	cam.sent(payload, len, cam.ts, bench_wall_us());
	if (writev(cam.client.fd, iov, 2) != (ssize_t)want)
		cam.refused++;	/* a benchmark camera does not queue: count it */
}

static void
send_access_unit(void)
{
	uint8_t buf[PAY_MAX_PAYLOAD_DEFAULT];
	bool last = false;
	int n;

	if (pay_begin(&cam.pay, cam.data + cam.au_off[cam.next_au], cam.au_len[cam.next_au]) == 0)
		while ((n = pay_next(&cam.pay, buf, sizeof(buf), &last)) > 0)
			send_packet(buf, (size_t)n, last);
	cam.next_au = (cam.next_au + 1) % cam.nau;
	cam.ts += 90000u / (unsigned)cam.fps;
}

static void
on_tick(void)
{
	uint64_t expirations = 0;

	if (read(cam.timer.fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	/* Late ticks send what is due, as a camera's encoder would have produced it. */
	while (cam.state == CAM_PLAYING && expirations-- > 0)
		send_access_unit();
}

static void
start_pacing(void)
{
	long period_ns = 1000000000L / cam.fps;
	struct itimerspec its = { { period_ns / 1000000000L, period_ns % 1000000000L },
	    { 0, 1000000 } };

	timerfd_settime(cam.timer.fd, 0, &its, NULL);
}

static void
stop_pacing(void)
{
	struct itimerspec off = { { 0, 0 }, { 0, 0 } };

	timerfd_settime(cam.timer.fd, 0, &off, NULL);
}

/* --- requests --------------------------------------------------------------------------- */

static void
reply(const struct msg *m, const char *extra, const char *body)
{
	char cseq[32] = "0", out[4096];
	size_t blen = body ? strlen(body) : 0;
	int n;

	msg_header_copy(m, "CSeq", cseq, sizeof(cseq));
	n = snprintf(out, sizeof(out), "RTSP/1.0 200 OK\r\nCSeq: %s\r\n%sContent-Length: %zu\r\n\r\n%s", cseq,
	    extra, blen, body ? body : "");
	if (n > 0 && write(cam.client.fd, out, (size_t)n) != n)
		cam_die("cannot answer the gateway");
}

static void
on_request(const struct msg *m)
{
	char extra[1024];
	static const char sdp[] =
	    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=rtsp_load camera\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
	    "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\n"
	    "a=control:track1\r\n";

	if (proto_str_eq(m->method, "DESCRIBE")) {
		snprintf(extra, sizeof(extra), "Content-Type: application/sdp\r\nContent-Base: %.*s/\r\n",
		    (int)m->target.len, m->target.p);
		reply(m, extra, sdp);
	} else if (proto_str_eq(m->method, "SETUP")) {
		reply(m, "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nSession: " CAM_SESSION ";timeout=60\r\n",
		    NULL);
		cam.state = CAM_READY;
	} else if (proto_str_eq(m->method, "PLAY")) {
		reply(m, "Session: " CAM_SESSION "\r\nRange: npt=0.000-\r\n", NULL);
		cam.state = CAM_PLAYING;
		start_pacing();
	} else if (proto_str_eq(m->method, "TEARDOWN")) {
		reply(m, "Session: " CAM_SESSION "\r\n", NULL);
		cam.state = CAM_READY;
		stop_pacing();
	} else {
		reply(m, "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER\r\n", NULL);
	}
}

/* Requests and the client's interleaved RTCP, skipped. Returns bytes used, 0 for more. */
static size_t
parse_one(const char *p, size_t len)
{
	struct msg_limits lim = { CAM_MAX_REQUEST, 64, 4096 };
	struct msg_parser mp = { 0 };
	struct msg m;
	int rc;

	if (p[0] == '$') {
		size_t flen = len >= 4 ? (size_t)((uint8_t)p[2] << 8 | (uint8_t)p[3]) : 0;

		return len >= 4 && len >= 4 + flen ? 4 + flen : 0;
	}
	rc = msg_parse(&mp, p, len, &lim, true, &m);
	if (rc == PROTO_AGAIN || (rc >= 0 && len < m.head_len + m.content_length))
		return 0;
	if (rc < 0)
		cam_die("the gateway sent something that is not RTSP");
	on_request(&m);
	return m.head_len + m.content_length;
}

static void
drop_client(void)
{
	stop_pacing();
	if (cam.client.fd >= 0)
		close(cam.client.fd);
	cam.client.fd = -1;
	cam.req_len = 0;
	cam.state = CAM_IDLE;
}

static void
on_client_readable(void)
{
	for (;;) {
		ssize_t n = read(cam.client.fd, cam.req + cam.req_len, sizeof(cam.req) - cam.req_len);
		size_t off = 0, used;

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			drop_client();
			return;
		}
		if (n < 0)
			return;
		cam.req_len += (size_t)n;
		while (off < cam.req_len && (used = parse_one(cam.req + off, cam.req_len - off)) > 0)
			off += used;
		memmove(cam.req, cam.req + off, cam.req_len - off);
		cam.req_len -= off;
		if (cam.req_len == sizeof(cam.req))
			cam_die("a request larger than 16 KiB");
	}
}

static void
on_accept(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &cam.client };
	int fd = accept4(cam.listener.fd, NULL, NULL, SOCK_NONBLOCK), one = 1;

	if (fd < 0)
		return;
	if (cam.client.fd >= 0)
		drop_client();
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	cam.client.fd = fd;
	cam.state = CAM_READY;
	epoll_ctl(cam.epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* --- the interface ------------------------------------------------------------------------- */

void
cam_start(int epfd, int port, const char *file, int fps, cam_sent_fn sent)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = &cam.listener };
	struct epoll_event tev = { .events = EPOLLIN, .data.ptr = &cam.timer };
	int one = 1;

	load_file(file);
	if (pay_init(&cam.pay, &pay_h264_ops, &(struct pay_config){ .insert_ps = true }) < 0)
		cam_die("cannot set up the H.264 packetizer");
	cam.epfd = epfd;
	cam.fps = fps;
	cam.sent = sent;
	cam.client.fd = -1;
	cam.listener.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	cam.timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	if (cam.listener.fd < 0 || cam.timer.fd < 0)
		cam_die("socket or timer");
	setsockopt(cam.listener.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(cam.listener.fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(cam.listener.fd, 4) < 0)
		cam_die("cannot listen on the port");
	epoll_ctl(epfd, EPOLL_CTL_ADD, cam.listener.fd, &lev);
	epoll_ctl(epfd, EPOLL_CTL_ADD, cam.timer.fd, &tev);
	fprintf(stderr, "rtsp_load: camera on 127.0.0.1:%d, %zu access units at %d/s\n", port, cam.nau, fps);
}

bool
cam_owns(const void *ptr)
{
	return ptr == &cam.listener || ptr == &cam.client || ptr == &cam.timer;
}

void
cam_on_event(void *ptr, uint32_t events)
{
	if (ptr == &cam.listener)
		on_accept();
	else if (ptr == &cam.timer)
		on_tick();
	else if (ptr == &cam.client && cam.client.fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		on_client_readable();
}

uint64_t
cam_packets_refused(void)
{
	return cam.refused;
}
