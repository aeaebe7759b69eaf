/*
 * rtsp_server.c - RTSP connections: requests in (one at a time, like the
 * clients send them), responses out, interleaved frames from the client
 * (RTCP receiver reports) taken as keep-alives.
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/conn.h"
#include "gateway/http.h"
#include "gateway/log.h"
#include "gateway/rtsp.h"
#include "gateway/session.h"
#include "gateway/media/source.h"
#include "proto/rtsp_hdr.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
rtsp_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 413: return "Request Entity Too Large";
	case 414: return "Request-URI Too Large";
	case 453: return "Not Enough Bandwidth";
	case 454: return "Session Not Found";
	case 455: return "Method Not Valid in This State";
	case 457: return "Invalid Range";
	case 459: return "Aggregate Operation Not Allowed";
	case 461: return "Unsupported Transport";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "RTSP Version Not Supported";
	case 551: return "Option not supported";
	default: return "Unknown";
	}
}

struct rtsp_conn *
rtsp_conn_new(struct gw_conn *conn, enum rtsp_wire wire)
{
	struct rtsp_conn *rc = gw_xcalloc(1, sizeof(*rc));

	rc->magic = RTSP_CONN_MAGIC;
	rc->wire = wire;
	rc->conn = conn;
	rc->in = wire == WIRE_TCP ? conn->in : NULL;
	base64_dec_init(&rc->b64);
	return rc;
}

/*
 * Where decoded requests go (the tunnel's POST bodies, WebSocket messages).
 * Made when a request comes and freed once it is parsed: a reader that
 * plays keeps no input buffer.
 */
struct evbuffer *
rtsp_conn_input(struct rtsp_conn *rc)
{
	if (rc->in == NULL)
		rc->in = gw_xevbuffer_new();
	return rc->in;
}

static void
request_free(struct rtsp_request *req)
{
	if (req == NULL)
		return;
	free(req->pending);
	free(req->headers);
	free(req);
}

void
rtsp_conn_free(struct rtsp_conn *rc)
{
	GW_CHECK(rc, RTSP_CONN_MAGIC);
	source_wait_cancel(rc->wait);
	rc->wait = NULL;
	replay_wait_cancel(rc->rwait);
	rc->rwait = NULL;
	if (rc->seek_wait && rc->session != NULL && rc->session->stream != NULL)
		replay_stream_cancel_seek(rc->session->stream);
	request_free(rc->req);
	if (rc->session)
		rtsp_session_detach(rc->session);
	if (rc->wire == WIRE_TUNNEL)
		rtsp_tunnel_unlink(rc);
	if (rc->wire != WIRE_TCP && rc->in != NULL)
		evbuffer_free(rc->in);
	if (rc->wire == WIRE_WEBSOCKET)
		ws_release(&rc->ws);
	rc->magic = 0;
	free(rc);
}

struct frameq *
rtsp_conn_queue(const struct rtsp_conn *rc)
{
	const struct rtsp_media_session *s = rc->session;

	if (s == NULL || s->state != RS_PLAYING || s->udp || s->mcast || s->stream == NULL)
		return NULL;
	return &s->stream->q;
}

void
rtsp_conn_close(struct rtsp_conn *rc, const char *reason)
{
	if (rc->post_conn)
		conn_close(rc->post_conn, reason);
	/*
	 * A WebSocket peer is told why in a close frame (RFC 6455 5.5.1, 1008:
	 * the gateway's policy ended it), so that a web player can say so; not
	 * in the middle of a media packet, whose rest will never come.
	 */
	if (rc->wire == WIRE_WEBSOCKET && (rtsp_conn_queue(rc) == NULL ||
	    frameq_at_boundary(rtsp_conn_queue(rc))))
		ws_send_close(&rc->ws, WS_CLOSE_POLICY, reason);
	conn_close_after_flush(rc->conn, reason);
}

/* Control bytes: a WebSocket carries them in a binary frame of their own. */
void
rtsp_send(struct rtsp_conn *rc, const void *data, size_t len)
{
	struct gw_conn *c = rc->conn;

	if (!conn_is_open(c))
		return;
	if (rc->wire == WIRE_WEBSOCKET)
		ws_send_binary(&rc->ws, data, len);
	else
		evbuffer_add(conn_out(c), data, len);
	if (rc->session && rc->session->gs)
		session_add_bytes(rc->session->gs, len);
	rtsp_write(rc);
}

void
rtsp_reply(struct rtsp_conn *rc, const struct rtsp_request *req, int status,
    const char *extra_headers, const char *ctype, const void *body, size_t len)
{
	struct evbuffer *b = evbuffer_new();
	char date[64];
	size_t n;

	gw_http_date(gw_wall_us(), date, sizeof(date));
	evbuffer_add_printf(b, "RTSP/1.0 %d %s\r\n", status, rtsp_status_text(status));
	if (req != NULL && req->cseq >= 0)
		evbuffer_add_printf(b, "CSeq: %lld\r\n", (long long)req->cseq);
	evbuffer_add_printf(b, "Date: %s\r\nServer: vssgate\r\n", date);
	if (extra_headers)
		evbuffer_add(b, extra_headers, strlen(extra_headers));
	if (ctype)
		evbuffer_add_printf(b, "Content-Type: %s\r\n", ctype);
	if (len > 0 || ctype)
		evbuffer_add_printf(b, "Content-Length: %zu\r\n", len);
	evbuffer_add(b, "\r\n", 2);
	if (len > 0)
		evbuffer_add(b, body, len);
	n = evbuffer_get_length(b);
	rtsp_send(rc, evbuffer_pullup(b, (ssize_t)n), n);
	evbuffer_free(b);
	/* Method and status only: a request URL may carry credentials. */
	if (req != NULL && req->method[0] != '\0')
		olog_debug(rc->conn, "%s -> %d", req->method, status);
}

/* A request that cannot be understood: answer, log once, close. */
static void
reject(struct rtsp_conn *rc, int status, int64_t cseq, const char *why)
{
	struct rtsp_request stub = { .cseq = cseq };

	olog_info(rc->conn, "bad RTSP request: %s; answering %d and closing", why, status);
	rtsp_reply(rc, &stub, status, "Connection: close\r\n", NULL, NULL, 0);
	rtsp_conn_close(rc, why);
}

static int64_t
parse_cseq(const struct msg *m)
{
	const struct msg_header *h = msg_header(m, "CSeq");
	int64_t v = 0;

	if (h == NULL || h->value.len == 0 || h->value.len > 9 || msg_header_count(m, "CSeq") != 1)
		return -1;
	for (size_t i = 0; i < h->value.len; i++) {
		if (h->value.p[i] < '0' || h->value.p[i] > '9')
			return -1;
		v = v * 10 + (h->value.p[i] - '0');
	}
	return v;
}

/* The Session header value up to ';'. Returns false if it is malformed or repeated. */
static bool
parse_session_header(const struct msg *m, struct rtsp_request *req)
{
	const struct msg_header *h = msg_header(m, "Session");
	size_t n;

	if (h == NULL)
		return true;
	if (msg_header_count(m, "Session") != 1)
		return false;
	for (n = 0; n < h->value.len && h->value.p[n] != ';'; n++)
		;
	if (n == 0 || n > RTSP_SESSION_ID_LEN)
		return n == 0 ? false : (req->session_id[0] = '\0', req->has_session = true, true);
	memcpy(req->session_id, h->value.p, n);
	req->session_id[n] = '\0';
	req->has_session = true;
	return true;
}

/*
 * Some players put the camera's credentials in the request line
 * (rtsp://user:pass@host/...). They are cut out before anything else sees
 * the URL (a log line, Content-Base, RTP-Info): credentials count only in
 * the Authorization header. True when something was cut.
 */
static bool
strip_userinfo(char *url)
{
	struct rtsp_url u;
	char *scheme_end = strstr(url, "://"), *at;

	if (scheme_end == NULL || rtsp_url_parse(url, strlen(url), RTSP_URL_ALLOW_USERINFO, &u) < 0 ||
	    (u.user.len == 0 && u.password.len == 0))
		return false;
	at = strchr(scheme_end + 3, '@');
	if (at == NULL || (strchr(scheme_end + 3, '/') != NULL && strchr(scheme_end + 3, '/') < at))
		return false;
	memmove(scheme_end + 3, at + 1, strlen(at + 1) + 1);
	return true;
}

/* Copy a complete request out of the input so that it can outlive the buffer. */
static struct rtsp_request *
take_request(struct rtsp_conn *rc, const char *p, const struct msg *m, const struct msg_limits *lim)
{
	struct rtsp_request *req = gw_xcalloc(1, sizeof(*req));
	struct msg_parser parser = { 0 };
	size_t total = m->head_len + m->content_length;

	req->headers = gw_xmalloc(total + 1);
	memcpy(req->headers, p, total);
	req->headers[total] = '\0';
	/* Parse the copy again so every pointer in req->msg points into it. */
	if (msg_parse(&parser, req->headers, m->head_len, lim, false, &req->msg) < 0) {
		request_free(req);
		return NULL;
	}
	snprintf(req->method, sizeof(req->method), "%.*s", (int)m->method.len, m->method.p);
	snprintf(req->url, sizeof(req->url), "%.*s", (int)m->target.len, m->target.p);
	if (strip_userinfo(req->url))
		olog_info(rc->conn, "%s: credentials in the request URL were ignored", req->method);
	req->cseq = parse_cseq(&req->msg);
	return req;
}

static struct msg_limits
limits(void)
{
	return (struct msg_limits){
		.max_head = (size_t)gw.cfg->max_header_bytes,
		.max_headers = gw.cfg->max_headers,
		.max_body = RTSP_MAX_BODY,
	};
}

/* One unit from the input. Returns true to go on, false to wait for bytes or stop. */
static bool
process_one(struct rtsp_conn *rc)
{
	struct msg_limits lim = limits();
	size_t len = rc->in ? evbuffer_get_length(rc->in) : 0, n = GW_MIN(len, lim.max_head + 4 + RTSP_MAX_BODY);
	const char *p;
	struct rtsp_request *req;
	struct msg m;
	size_t unit;
	int rc_parse;

	if (len == 0)
		return false;
	p = (const char *)evbuffer_pullup(rc->in, (ssize_t)n);
	rc_parse = msg_next_unit(&rc->parser, p, n, len, &lim, &m, &unit);
	if (rc_parse == PROTO_AGAIN)
		return false;
	if (rc_parse < 0) {
		reject(rc, rc_parse == PROTO_EVERSION ? 505 : rc_parse == PROTO_ETOOBIG ? 413 : 400, -1,
		    rc_parse == PROTO_ETOOBIG ? "request exceeds a size limit" : proto_strerror(rc_parse));
		return false;
	}
	if (m.kind == MSG_FRAME) {
		/* RTCP from the client (receiver reports): proof of life. */
		evbuffer_drain(rc->in, unit);
		if (rc->session)
			rtsp_session_touch(rc->session);
		return true;
	}
	if (m.kind != MSG_REQUEST || m.protocol != MSG_RTSP) {
		reject(rc, 400, -1, "not an RTSP request");
		return false;
	}
	req = take_request(rc, p, &m, &lim);
	evbuffer_drain(rc->in, unit);
	if (req == NULL || req->cseq < 0) {
		reject(rc, 400, -1, req ? "missing or invalid CSeq" : "malformed request");
		request_free(req);
		return false;
	}
	if (!parse_session_header(&req->msg, req)) {
		reject(rc, 400, req->cseq, "malformed or repeated Session header");
		request_free(req);
		return false;
	}
	rc->req = req;
	rtsp_handle(rc, req);
	if (rc->req_state == REQ_IDLE) {
		request_free(rc->req);
		rc->req = NULL;
	}
	return conn_is_open(rc->conn);
}

void
rtsp_conn_process(struct rtsp_conn *rc)
{
	GW_CHECK(rc, RTSP_CONN_MAGIC);
	while (rc->req_state == REQ_IDLE && conn_is_open(rc->conn) && rc->conn->state == CONN_ACTIVE &&
	    process_one(rc))
		;
	if (rc->in == NULL)
		return;	/* a nested call (a request finished at once) has freed it */
	/* Keep what an impatient client queues bounded while a request waits. */
	if (evbuffer_get_length(rc->in) > (size_t)(gw.cfg->max_header_bytes + RTSP_MAX_BODY) * 4) {
		olog_info(rc->conn, "too much unprocessed input; closing");
		rtsp_conn_close(rc, "input flood");
	} else if (rc->wire != WIRE_TCP && evbuffer_get_length(rc->in) == 0) {
		evbuffer_free(rc->in);
		rc->in = NULL;
	}
}

void
rtsp_request_done(struct rtsp_conn *rc)
{
	rc->req_state = REQ_IDLE;
	request_free(rc->req);
	rc->req = NULL;
	rtsp_conn_process(rc);
	/* The peer closed its side after this request (see tcp_on_peer_eof). */
	if (rc->wire == WIRE_TCP && rc->conn->peer_eof && rc->req_state == REQ_IDLE)
		rtsp_conn_close(rc, "peer closed the connection");
}

/* --- the plain (or TLS) RTSP connection ---------------------------------------- */

static void
tcp_on_start(struct gw_conn *c)
{
	struct rtsp_conn *rc = rtsp_conn_new(c, WIRE_TCP);

	c->proto_data = rc;
	conn_set_ident(c, c->tls ? "rtsps" : "rtsp");
	c->deadline_us = gw_mono_us() + gw.cfg->idle_timeout_ms * 1000;
}

static void
tcp_on_read(struct gw_conn *c)
{
	struct rtsp_conn *rc = c->proto_data;

	GW_CHECK(rc, RTSP_CONN_MAGIC);
	/* Idle connections without a session time out; with one, the session's timeout rules. */
	c->deadline_us = rc->session ? 0 : gw_mono_us() + gw.cfg->idle_timeout_ms * 1000;
	rtsp_conn_process(rc);
	/* Bytes left while no request is being handled: part of a head (header_timeout). */
	if (conn_is_open(c))
		conn_set_head_pending(c, rc->req_state == REQ_IDLE && rc->in != NULL &&
		    evbuffer_get_length(rc->in) > 0);
}

/* FIN after the last request (ffmpeg's TEARDOWN): answer it, then close. */
static void
tcp_on_peer_eof(struct gw_conn *c)
{
	struct rtsp_conn *rc = c->proto_data;

	GW_CHECK(rc, RTSP_CONN_MAGIC);
	if (rc->req_state == REQ_IDLE)
		rtsp_conn_close(rc, "peer closed the connection");
}

static void
tcp_on_writable(struct gw_conn *c)
{
	rtsp_write(c->proto_data);
}

static void
tcp_on_close(struct gw_conn *c)
{
	if (c->proto_data)
		rtsp_conn_free(c->proto_data);
	c->proto_data = NULL;
}

static void
tcp_on_shutdown(struct gw_conn *c)
{
	struct rtsp_conn *rc = c->proto_data;

	if (rc->session)
		rtsp_session_end(rc->session, "server shutting down");
	rtsp_conn_close(rc, "shutting down");
}

const struct conn_proto rtsp_tcp_proto = {
	.name = "rtsp",
	.on_start = tcp_on_start,
	.on_read = tcp_on_read,
	.on_writable = tcp_on_writable,
	.on_close = tcp_on_close,
	.on_shutdown = tcp_on_shutdown,
	.on_peer_eof = tcp_on_peer_eof,
	.reports_heads = true,
};

/* --- set-up ------------------------------------------------------------------------------ */

int
rtsp_init(void)
{
	if (rtsp_out_init() < 0)
		return -1;
	rtsp_sessions_init();
	rtsp_tunnel_init();
	conn_register_proto(CONN_KIND_RTSP, &rtsp_tcp_proto);
	http_register_takeover(rtsp_http_takeover);
	return 0;
}

void
rtsp_shutdown(void)
{
	rtsp_sessions_shutdown();
	rtsp_out_shutdown();
}
