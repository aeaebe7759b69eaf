/*
 * test_msg.c - proto/msg.c: HTTP/1.x and RTSP/1.0 heads and interleaved
 * frames.
 *
 * One table of messages. Each is parsed all at once, then again split at
 * every byte with the same parser object (the resume path), and the
 * well-formed ones byte by byte: every way of feeding must give the same
 * answer. Frames, pipelining, limits and the lookup helpers follow.
 */
#include "vssgate_build.h"

#include "proto/msg.h"
#include "t/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct msg_limits lim_default = { 8192, 64, 1 << 20 };
static const struct msg_limits lim_small = { 256, 8, 100 };

/* Inputs with a NUL byte in them, for their sizeof. */
#define NUL_IN_VALUE "GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n"
#define NUL_IN_TARGET "GET /\0 HTTP/1.1\r\n\r\n"
#define FRAME_THEN_MSG "$\x01\x00\x02hiOPTIONS * RTSP/1.0\r\n\r\n"

#define HEAD 1			/* want: the whole head consumed */
#define NO_CL (-1)		/* content_length: no Content-Length header */

static const struct msg_case {
	const char *name;
	const char *head;		/* what msg_parse must consume (or the whole input on error) */
	size_t len;			/* length of head when it holds a NUL; 0: strlen */
	const char *rest;		/* what follows: a body, the next message */
	const struct msg_limits *lim;	/* NULL: lim_default */
	int want;			/* HEAD or a PROTO_E* code */
	enum msg_kind kind;
	enum msg_protocol protocol;
	int minor;			/* the major version is always 1 */
	const char *method;		/* request */
	const char *target;		/* request */
	int status;			/* response */
	const char *reason;		/* response */
	int nheaders;
	long long content_length;	/* NO_CL when absent */
	bool chunked;
} cases[] = {
	/* requests and responses */
	{ .name = "HTTP/1.1 GET", .head = "GET /onvif/device_service HTTP/1.1\r\nHost: gw.example\r\n"
	  "User-Agent: t\r\n\r\n", .want = HEAD, .kind = MSG_REQUEST, .protocol = MSG_HTTP, .minor = 1,
	  .method = "GET", .target = "/onvif/device_service", .nheaders = 2, .content_length = NO_CL },
	{ .name = "HTTP/1.0 GET with bare LF line ends", .head = "GET /healthz HTTP/1.0\nHost: a\n\n",
	  .want = HEAD, .kind = MSG_REQUEST, .protocol = MSG_HTTP, .minor = 0, .method = "GET",
	  .target = "/healthz", .nheaders = 1, .content_length = NO_CL },
	{ .name = "RTSP/1.0 OPTIONS *", .head = "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n", .want = HEAD,
	  .kind = MSG_REQUEST, .protocol = MSG_RTSP, .minor = 0, .method = "OPTIONS", .target = "*",
	  .nheaders = 1, .content_length = NO_CL },
	{ .name = "RTSP/1.0 SETUP with Transport", .head = "SETUP rtsp://gw.example:8554/cam/7/trackID=0 RTSP/1.0\r\n"
	  "CSeq: 3\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nAuthorization: Digest username=\"pp-a\"\r\n\r\n",
	  .want = HEAD, .kind = MSG_REQUEST, .protocol = MSG_RTSP, .minor = 0, .method = "SETUP",
	  .target = "rtsp://gw.example:8554/cam/7/trackID=0", .nheaders = 3, .content_length = NO_CL },
	{ .name = "HTTP/1.1 POST with a body", .head = "POST /api/v1/grants HTTP/1.1\r\nHost: a\r\n"
	  "Content-Type: application/json\r\nContent-Length: 13\r\n\r\n", .rest = "{\"levels\":[]}",
	  .want = HEAD, .kind = MSG_REQUEST, .protocol = MSG_HTTP, .minor = 1, .method = "POST",
	  .target = "/api/v1/grants", .nheaders = 3, .content_length = 13 },
	{ .name = "RTSP/1.0 200 OK with a body", .head = "RTSP/1.0 200 OK\r\nCSeq: 2\r\nSession: 12345678;timeout=60\r\n"
	  "Content-Type: application/sdp\r\nContent-Length: 6\r\n\r\n", .rest = "v=0\r\n\n", .want = HEAD,
	  .kind = MSG_RESPONSE, .protocol = MSG_RTSP, .minor = 0, .status = 200, .reason = "OK",
	  .nheaders = 4, .content_length = 6 },
	{ .name = "HTTP/1.1 401 Unauthorized", .head = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest "
	  "realm=\"vssgate\", qop=\"auth\", nonce=\"abc\"\r\nContent-Length: 0\r\n\r\n", .want = HEAD,
	  .kind = MSG_RESPONSE, .protocol = MSG_HTTP, .minor = 1, .status = 401, .reason = "Unauthorized",
	  .nheaders = 2, .content_length = 0 },
	{ .name = "a response with an empty reason", .head = "RTSP/1.0 454 \r\nCSeq: 9\r\n\r\n", .want = HEAD,
	  .kind = MSG_RESPONSE, .protocol = MSG_RTSP, .status = 454, .reason = "", .nheaders = 1,
	  .content_length = NO_CL },
	{ .name = "a header with an empty value, a tab and UTF-8", .head = "GET / HTTP/1.1\r\nX-Empty:\r\n"
	  "X-Tab: a\tb\r\nX-Name: Pr\xc3\xa9" "fecture\r\n\r\n", .want = HEAD, .kind = MSG_REQUEST,
	  .protocol = MSG_HTTP, .minor = 1, .method = "GET", .target = "/", .nheaders = 3, .content_length = NO_CL },

	/* Content-Length */
	{ .name = "Content-Length with blanks around it", .head = "POST / HTTP/1.1\r\nContent-Length:  42 \r\n\r\n",
	  .want = HEAD, .kind = MSG_REQUEST, .protocol = MSG_HTTP, .minor = 1, .method = "POST", .target = "/",
	  .nheaders = 1, .content_length = 42 },
	{ .name = "Content-Length twice with the same value", .head = "POST / HTTP/1.1\r\nContent-Length: 5\r\n"
	  "content-length: 5\r\n\r\n", .rest = "hello", .want = HEAD, .kind = MSG_REQUEST, .protocol = MSG_HTTP,
	  .minor = 1, .method = "POST", .target = "/", .nheaders = 2, .content_length = 5 },
	{ .name = "Content-Length at max_body", .head = "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n",
	  .lim = &lim_small, .want = HEAD, .kind = MSG_REQUEST, .protocol = MSG_HTTP, .minor = 1,
	  .method = "POST", .target = "/", .nheaders = 1, .content_length = 100 },
	{ .name = "Content-Length above max_body", .head = "POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n",
	  .lim = &lim_small, .want = PROTO_ETOOBIG },
	{ .name = "Content-Length twice with different values", .head = "POST / HTTP/1.1\r\nContent-Length: 5\r\n"
	  "Content-Length: 6\r\n\r\n", .want = PROTO_EBADMSG },
	{ .name = "Content-Length with a letter", .head = "POST / HTTP/1.1\r\nContent-Length: 5a\r\n\r\n",
	  .want = PROTO_EBADMSG },
	{ .name = "Content-Length negative", .head = "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
	  .want = PROTO_EBADMSG },
	{ .name = "Content-Length with a plus sign", .head = "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
	  .want = PROTO_EBADMSG },
	{ .name = "Content-Length empty", .head = "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n",
	  .want = PROTO_EBADMSG },
	{ .name = "Content-Length as a list", .head = "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n",
	  .want = PROTO_EBADMSG },
	{ .name = "Content-Length of 13 digits", .head = "POST / HTTP/1.1\r\nContent-Length: 1000000000000\r\n\r\n",
	  .want = PROTO_EBADMSG },

	/* Transfer-Encoding */
	{ .name = "HTTP chunked", .head = "POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
	  .rest = "5\r\nhello\r\n0\r\n\r\n", .want = HEAD, .kind = MSG_REQUEST, .protocol = MSG_HTTP, .minor = 1,
	  .method = "POST", .target = "/upload", .nheaders = 1, .content_length = NO_CL, .chunked = true },
	{ .name = "HTTP chunked, any case", .head = "POST / HTTP/1.1\r\ntransfer-encoding: Chunked\r\n\r\n",
	  .want = HEAD, .kind = MSG_REQUEST, .protocol = MSG_HTTP, .minor = 1, .method = "POST", .target = "/",
	  .nheaders = 1, .content_length = NO_CL, .chunked = true },
	{ .name = "chunked and then Content-Length", .head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	  "Content-Length: 5\r\n\r\n", .want = PROTO_EBADMSG },
	{ .name = "Content-Length and then chunked", .head = "POST / HTTP/1.1\r\nContent-Length: 5\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", .want = PROTO_EBADMSG },
	{ .name = "chunked in RTSP", .head = "ANNOUNCE rtsp://a/ RTSP/1.0\r\nCSeq: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
	  .want = PROTO_EUNSUPPORTED },
	{ .name = "a Transfer-Encoding other than chunked", .head = "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	  .want = PROTO_EUNSUPPORTED },
	{ .name = "Transfer-Encoding: chunked twice", .head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", .want = PROTO_EUNSUPPORTED },

	/* bytes that must not be there */
	{ .name = "obsolete line folding with a space", .head = "GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n",
	  .want = PROTO_EBADMSG },
	{ .name = "obsolete line folding with a tab", .head = "GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n",
	  .want = PROTO_EBADMSG },
	{ .name = "a NUL in a header value", .head = NUL_IN_VALUE, .len = sizeof(NUL_IN_VALUE) - 1,
	  .want = PROTO_EBADMSG },
	{ .name = "a NUL in the target", .head = NUL_IN_TARGET, .len = sizeof(NUL_IN_TARGET) - 1, .want = PROTO_EBADMSG },
	{ .name = "a control character in a header value", .head = "GET / HTTP/1.1\r\nX-A: a\x01" "b\r\n\r\n",
	  .want = PROTO_EBADMSG },
	{ .name = "DEL in a header value", .head = "GET / HTTP/1.1\r\nX-A: a\x7f\r\n\r\n", .want = PROTO_EBADMSG },
	{ .name = "a bare CR inside a line", .head = "GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", .want = PROTO_EBADMSG },
	{ .name = "an escape in the request line", .head = "GET /\x1b[2J HTTP/1.1\r\n\r\n", .want = PROTO_EBADMSG },

	/* versions */
	{ .name = "HTTP/2.0 request", .head = "GET / HTTP/2.0\r\n\r\n", .want = PROTO_EVERSION },
	{ .name = "HTTP/0.9 request", .head = "GET / HTTP/0.9\r\n\r\n", .want = PROTO_EVERSION },
	{ .name = "RTSP/2.0 request", .head = "OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\n", .want = PROTO_EVERSION },
	{ .name = "HTTP/2.0 response", .head = "HTTP/2.0 200 OK\r\n\r\n", .want = PROTO_EVERSION },
	{ .name = "RTSP/2.0 response", .head = "RTSP/2.0 200 OK\r\nCSeq: 1\r\n\r\n", .want = PROTO_EVERSION },
	{ .name = "a two-digit minor version", .head = "GET / HTTP/1.10\r\n\r\n", .want = PROTO_EBADMSG },
	{ .name = "a version without minor", .head = "GET / HTTP/1\r\n\r\n", .want = PROTO_EBADMSG },
	{ .name = "another protocol", .head = "INVITE sip:a@b SIP/2.0\r\n\r\n", .want = PROTO_EBADMSG },
	{ .name = "a lower-case protocol name", .head = "GET / http/1.1\r\n\r\n", .want = PROTO_EBADMSG },

	/* start line and header syntax */
	{ .name = "two spaces after the method", .head = "GET  / HTTP/1.1\r\n\r\n", .want = PROTO_EBADMSG },
	{ .name = "a fourth word in the request line", .head = "GET / HTTP/1.1 x\r\n\r\n", .want = PROTO_EBADMSG },
	{ .name = "a request line without target", .head = "GET HTTP/1.1\r\n\r\n", .want = PROTO_EBADMSG },
	{ .name = "a method with a bad character", .head = "GE(T / HTTP/1.1\r\n\r\n", .want = PROTO_EBADMSG },
	{ .name = "a method longer than 32 characters", .head = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA / HTTP/1.1\r\n\r\n",
	  .want = PROTO_EBADMSG },
	{ .name = "a leading empty line", .head = "\r\nGET / HTTP/1.1\r\n\r\n", .want = PROTO_EBADMSG },
	{ .name = "a status with a letter", .head = "RTSP/1.0 2x0 OK\r\n\r\n", .want = PROTO_EBADMSG },
	{ .name = "a status of two digits", .head = "RTSP/1.0 20 OK\r\n\r\n", .want = PROTO_EBADMSG },
	{ .name = "a status line without the space before the reason", .head = "RTSP/1.0 200\r\n\r\n",
	  .want = PROTO_EBADMSG },
	{ .name = "a header line without colon", .head = "GET / HTTP/1.1\r\nHost\r\n\r\n", .want = PROTO_EBADMSG },
	{ .name = "a header with an empty name", .head = "GET / HTTP/1.1\r\n: v\r\n\r\n", .want = PROTO_EBADMSG },
	{ .name = "a blank before the colon", .head = "GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n",
	  .want = PROTO_EBADMSG },
	{ .name = "a header name with a bad character", .head = "GET / HTTP/1.1\r\nX(A): v\r\n\r\n",
	  .want = PROTO_EBADMSG },

	/* limits */
	{ .name = "max_headers headers", .head = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n"
	  "F: 6\r\nG: 7\r\nH: 8\r\n\r\n", .lim = &lim_small, .want = HEAD, .kind = MSG_REQUEST,
	  .protocol = MSG_HTTP, .minor = 1, .method = "GET", .target = "/", .nheaders = 8, .content_length = NO_CL },
	{ .name = "max_headers + 1 headers", .head = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n"
	  "F: 6\r\nG: 7\r\nH: 8\r\nI: 9\r\n\r\n", .lim = &lim_small, .want = PROTO_ETOOBIG },
	{ .name = "a complete head over max_head", .head = "GET / HTTP/1.1\r\nX-Pad: "
	  "................................................................................................"
	  "................................................................................................"
	  "................................................................\r\n\r\n", .lim = &lim_small,
	  .want = PROTO_ETOOBIG },
	{ .name = "an unfinished head over max_head", .head = "GET / HTTP/1.1\r\nX-Pad: "
	  "................................................................................................"
	  "................................................................................................"
	  "................................................................", .lim = &lim_small,
	  .want = PROTO_ETOOBIG },
	{ .name = "'$' is not a frame when frames are not allowed", .head = FRAME_THEN_MSG,
	  .len = sizeof(FRAME_THEN_MSG) - 1, .want = PROTO_EBADMSG },
};

static const struct msg_limits *
limits_of(const struct msg_case *c)
{
	return c->lim ? c->lim : &lim_default;
}

static size_t
head_len(const struct msg_case *c)
{
	return c->len ? c->len : strlen(c->head);
}

/* The case's bytes in a buffer of exactly their size, so that ASan sees any overread. */
static char *
input(const struct msg_case *c, size_t *len)
{
	size_t hl = head_len(c), rl = c->rest ? strlen(c->rest) : 0;
	char *buf = malloc(hl + rl);

	memcpy(buf, c->head, hl);
	if (rl)
		memcpy(buf + hl, c->rest, rl);
	*len = hl + rl;
	return buf;
}

static bool
str_is(struct proto_str s, const char *want)
{
	return want ? proto_str_eq(s, want) : s.len == 0;
}

/* Does |m| hold what the case says? Names the first difference in a diag line. */
static bool
matches(const struct msg_case *c, const struct msg *m)
{
	const char *bad = NULL;

	if (m->kind != c->kind)
		bad = "kind";
	else if (m->protocol != c->protocol || m->version_major != 1 || m->version_minor != c->minor)
		bad = "protocol or version";
	else if (c->kind == MSG_REQUEST && (!str_is(m->method, c->method) || !str_is(m->target, c->target)))
		bad = "method or target";
	else if (c->kind == MSG_RESPONSE && (m->status != c->status || !str_is(m->reason, c->reason)))
		bad = "status or reason";
	else if (m->nheaders != c->nheaders)
		bad = "number of headers";
	else if (m->has_content_length != (c->content_length != NO_CL) ||
	    (m->has_content_length && (long long)m->content_length != c->content_length))
		bad = "content length";
	else if (m->chunked != c->chunked)
		bad = "chunked";
	else if (m->head_len != head_len(c))
		bad = "head_len";
	if (bad)
		diag("%s differs", bad);
	return bad == NULL;
}

static int
want_rc(const struct msg_case *c)
{
	return c->want == HEAD ? (int)head_len(c) : c->want;
}

static void
test_all_at_once(const struct msg_case *c)
{
	struct msg_parser p = { 0 };
	struct msg m;
	size_t len;
	char *buf = input(c, &len);
	int rc = msg_parse(&p, buf, len, limits_of(c), false, &m);

	if (c->want == HEAD) {
		if (!ok(rc == want_rc(c) && matches(c, &m),
		    "%s: parsed, head of %d bytes", c->name, want_rc(c)))
			diag("rc %d (%s)", rc, proto_strerror(rc));
	} else if (!ok(rc == c->want, "%s: %s", c->name, proto_strerror(c->want))) {
		diag("rc %d (%s)", rc, proto_strerror(rc));
	}
	free(buf);
}

/* The first |k| bytes, then all of them, with the same parser: same answer for every k. */
static void
test_split_anywhere(const struct msg_case *c)
{
	size_t len;
	char *full = input(c, &len);
	int bad_k = -1, bad_rc = 0;

	for (size_t k = 0; k <= len && bad_k < 0; k++) {
		struct msg_parser p = { 0 };
		struct msg m;
		char *part = malloc(k ? k : 1);
		int rc;

		memcpy(part, full, k);
		rc = msg_parse(&p, part, k, limits_of(c), false, &m);
		if (rc == PROTO_AGAIN)
			rc = msg_parse(&p, full, len, limits_of(c), false, &m);
		if (rc != want_rc(c) || (c->want == HEAD && !matches(c, &m))) {
			bad_k = (int)k;
			bad_rc = rc;
		}
		free(part);	/* after matches(): m may point into it */
	}
	if (!ok(bad_k < 0, "%s: split at any byte, same answer", c->name))
		diag("split after %d bytes: rc %d", bad_k, bad_rc);
	free(full);
}

/* One byte more per call: PROTO_AGAIN until the head is complete; scanned keeps up. */
static void
test_byte_by_byte(const struct msg_case *c)
{
	struct msg_parser p = { 0 };
	struct msg m;
	size_t len, k, hl = head_len(c);
	char *full = input(c, &len);
	int rc = PROTO_AGAIN;
	bool scanned_ok = true, same = false;

	for (k = 1; k <= len && rc == PROTO_AGAIN; k++) {
		char *part = malloc(k);

		memcpy(part, full, k);
		rc = msg_parse(&p, part, k, limits_of(c), false, &m);
		if (rc == PROTO_AGAIN && p.scanned != k)
			scanned_ok = false;
		if (rc != PROTO_AGAIN)
			same = matches(c, &m);	/* before free(): m points into part */
		free(part);
	}
	if (!ok(rc == (int)hl && k - 1 == hl && scanned_ok, "%s: byte by byte, PROTO_AGAIN until byte %zu",
	    c->name, hl))
		diag("rc %d after %zu bytes, scanned %s", rc, k - 1, scanned_ok ? "kept" : "lost");
	ok(same, "%s: byte by byte gives the same message as all at once", c->name);
	free(full);
}

/* --- frames and streams -------------------------------------------------------- */

static void
test_frames(void)
{
	static const char stream[] = "$\x00\x00\x04" "\x80\x60\x00\x01"
	    "RTSP/1.0 200 OK\r\nCSeq: 4\r\n\r\n"
	    "$\x01\x00\x02" "\x81\xc8";
	struct msg_parser p = { 0 };
	struct msg m;
	size_t off = 0, len = sizeof(stream) - 1;
	int rc;

	rc = msg_parse(&p, stream, len, &lim_default, true, &m);
	ok(rc == 4 && m.kind == MSG_FRAME && m.channel == 0 && m.frame_len == 4,
	    "a '$' frame header: 4 bytes, channel 0, length 4");
	off = 4 + m.frame_len;
	msg_parser_reset(&p);
	rc = msg_parse(&p, stream + off, len - off, &lim_default, true, &m);
	ok(rc > 0 && m.kind == MSG_RESPONSE && m.status == 200,
	    "after the frame's payload, an RTSP response");
	off += (size_t)rc;
	msg_parser_reset(&p);
	rc = msg_parse(&p, stream + off, len - off, &lim_default, true, &m);
	ok(rc == 4 && m.kind == MSG_FRAME && m.channel == 1 && m.frame_len == 2 && off + 4 + 2 == len,
	    "then an RTCP frame on channel 1 that ends the stream");

	is_int(msg_parse(&p, "$", 1, &lim_default, true, &m), PROTO_AGAIN, "'$' alone: need more");
	is_int(msg_parse(&p, "$\x00\x00", 3, &lim_default, true, &m), PROTO_AGAIN,
	    "3 bytes of a frame header: need more");
	rc = msg_parse(&p, "$\x05\xff\xff", 4, &lim_default, true, &m);
	ok(rc == 4 && m.channel == 5 && m.frame_len == 65535, "the largest frame: channel 5, 65535 bytes");
	is_int(msg_parse(&p, "$\x00\x00\x04", 4, &lim_default, false, &m), PROTO_AGAIN,
	    "frames not allowed: '$' starts an (unfinished) head, not a frame");
	msg_parser_reset(&p);
	rc = msg_parse(&p, "OPTIONS * RTSP/1.0\r\n\r\n", 22, &lim_default, true, &m);
	ok(rc == 22 && m.kind == MSG_REQUEST, "frames allowed: a message not starting with '$' is a message");
}

static void
test_pipelined(void)
{
	static const char stream[] =
	    "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
	    "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
	    "GET /c HTTP/1.0\r\n\r\n";
	struct msg_parser p = { 0 };
	struct msg m;
	size_t off = 0, len = sizeof(stream) - 1;
	char targets[64] = "", body[8] = "";

	while (off < len) {
		int rc = msg_parse(&p, stream + off, len - off, &lim_default, false, &m);
		size_t used = strlen(targets);

		if (rc < 0)
			break;
		snprintf(targets + used, sizeof(targets) - used, "%.*s ", (int)m.target.len, m.target.p);
		if (m.content_length)
			snprintf(body, sizeof(body), "%.*s", (int)m.content_length, stream + off + rc);
		off += (size_t)rc + m.content_length;
		msg_parser_reset(&p);
	}
	is_str(targets, "/a /b /c ", "three pipelined requests come out in order");
	is_str(body, "abc", "the body of the middle one sits right after its head");
	ok(off == len, "and together they use the whole buffer");
}

/* The server's step: whole units only, a frame's data need not be contiguous. */
static void
test_next_unit(void)
{
	static const char stream[] =
	    "$\x01\x00\x03xyz"
	    "SET_PARAMETER rtsp://h/a RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 4\r\n\r\nab:c"
	    "OPTIONS * RTSP/1.0\r\nCSeq: 3\r\n\r\n";
	struct msg_parser p = { 0 };
	struct msg m;
	size_t len = sizeof(stream) - 1, head, unit = 0, off = 0;
	int rc;

	ok(msg_next_unit(&p, stream, 3, 3, &lim_default, &m, &unit) == PROTO_AGAIN,
	    "three bytes of a frame header: wait");
	ok(msg_next_unit(&p, stream, 4, 6, &lim_default, &m, &unit) == PROTO_AGAIN,
	    "a frame whose data is not all in: wait");
	rc = msg_next_unit(&p, stream, 4, 7, &lim_default, &m, &unit);
	ok(rc == 0 && m.kind == MSG_FRAME && unit == 7, "its data in, not contiguous: a 7-byte unit");
	off = unit;
	head = (size_t)(strstr(stream + off, "\r\n\r\n") + 4 - (stream + off));
	ok(msg_next_unit(&p, stream + off, head + 3, head + 3, &lim_default, &m, &unit) == PROTO_AGAIN,
	    "a request whose body is one byte short: wait");
	rc = msg_next_unit(&p, stream + off, len - off, len - off, &lim_default, &m, &unit);
	ok(rc == 0 && m.kind == MSG_REQUEST && unit == head + 4, "then the request and its body");
	off += unit;
	rc = msg_next_unit(&p, stream + off, len - off, len - off, &lim_default, &m, &unit);
	ok(rc == 0 && off + unit == len, "and the last one ends the stream");
	ok(msg_next_unit(&p, "GARBAGE\r\n\r\n", 11, 11, &lim_default, &m, &unit) < 0 &&
	    msg_next_unit(&p, "GARBAGE\r\n\r\n", 11, 11, &lim_default, &m, &unit) != PROTO_AGAIN,
	    "a malformed head is the parser's error, not a wait");
}

static char *
padded_head(size_t total, bool complete)
{
	static const char start[] = "GET / HTTP/1.1\r\nX-Pad: ", end[] = "\r\n\r\n";
	char *buf = malloc(total);
	size_t pad = total - (sizeof(start) - 1) - (sizeof(end) - 1);

	memcpy(buf, start, sizeof(start) - 1);
	memset(buf + sizeof(start) - 1, 'p', pad);
	memcpy(buf + total - (sizeof(end) - 1), complete ? end : "pppp", sizeof(end) - 1);
	return buf;
}

static void
test_head_size_limit(void)
{
	struct msg_parser p = { 0 };
	struct msg m;
	size_t max = lim_small.max_head;
	char *at = padded_head(max, true), *over = padded_head(max + 1, true);
	char *open_at = padded_head(max, false), *open_over = padded_head(max + 1, false);

	is_int(msg_parse(&p, at, max, &lim_small, false, &m), (int)max,
	    "a head of exactly max_head bytes parses");
	msg_parser_reset(&p);
	is_int(msg_parse(&p, over, max + 1, &lim_small, false, &m), PROTO_ETOOBIG,
	    "a head of max_head + 1 bytes is too big");
	msg_parser_reset(&p);
	is_int(msg_parse(&p, open_at, max, &lim_small, false, &m), PROTO_AGAIN,
	    "max_head bytes without the end of the head: need more");
	is_int(msg_parse(&p, open_over, max + 1, &lim_small, false, &m), PROTO_ETOOBIG,
	    "one more byte and still no end: too big");
	free(at);
	free(over);
	free(open_at);
	free(open_over);
}

/* --- lookups ------------------------------------------------------------------- */

static void
test_lookups(void)
{
	static const char head[] = "GET / HTTP/1.1\r\nHost: gw.example\r\nVia: 1.1 a\r\nvia: 1.1 b\r\n"
	    "X-Empty:\r\nConnection: Upgrade,  keep-alive ,,x\r\nX-Four: abcd\r\n\r\n";
	struct msg_parser p = { 0 };
	struct msg m;
	const struct msg_header *h;
	char out[8];
	struct proto_str conn;

	if (!ok(msg_parse(&p, head, sizeof(head) - 1, &lim_default, false, &m) == (int)sizeof(head) - 1,
	    "a head for the lookups parses"))
		return;
	h = msg_header(&m, "HOST");
	ok(h && proto_str_eq(h->value, "gw.example"), "msg_header is case-insensitive");
	ok(msg_header(&m, "Hos") == NULL && msg_header(&m, "Hosts") == NULL,
	    "msg_header does not match a prefix or a longer name");
	h = msg_header(&m, "via");
	ok(h && proto_str_eq(h->value, "1.1 a"), "msg_header returns the first of repeated headers");
	is_int(msg_header_count(&m, "VIA"), 2, "msg_header_count counts repeated headers in any case");
	is_int(msg_header_count(&m, "X-Missing"), 0, "msg_header_count of an absent header is 0");

	ok(msg_header_copy(&m, "x-four", out, 5) && strcmp(out, "abcd") == 0,
	    "msg_header_copy fits 4 bytes and the NUL into 5");
	ok(!msg_header_copy(&m, "x-four", out, 4),
	    "msg_header_copy refuses 4 bytes into 4 (no room for the NUL)");
	ok(msg_header_copy(&m, "X-Empty", out, 1) && out[0] == '\0', "msg_header_copy of an empty value");
	ok(!msg_header_copy(&m, "X-Missing", out, sizeof(out)),
	    "msg_header_copy of an absent header is false");

	conn = msg_header(&m, "Connection")->value;
	ok(msg_value_has_token(conn, "keep-alive"),
	    "msg_value_has_token finds a token with blanks around it");
	ok(msg_value_has_token(conn, "UPGRADE"), "msg_value_has_token is case-insensitive");
	ok(msg_value_has_token(conn, "x"), "msg_value_has_token finds the token after an empty item");
	ok(!msg_value_has_token(conn, "keep") && !msg_value_has_token(conn, "alive"),
	    "msg_value_has_token does not match part of a token");
	ok(!msg_value_has_token(msg_header(&m, "X-Empty")->value, "close"),
	    "msg_value_has_token on an empty value is false");
}

int
main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		test_all_at_once(&cases[i]);
		test_split_anywhere(&cases[i]);
		if (cases[i].want == HEAD)
			test_byte_by_byte(&cases[i]);
	}
	test_frames();
	test_pipelined();
	test_next_unit();
	test_head_size_limit();
	test_lookups();
	return done_testing();
}
