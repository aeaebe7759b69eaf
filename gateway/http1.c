/*
 * http1.c - HTTP/1.1 connections: parse requests with proto/msg, hand them
 * to the router one at a time (pipelined requests wait their turn), write
 * responses with Content-Length, keep the connection alive when allowed.
 *
 *   H1_READ_HEAD --head--> H1_READ_BODY --body--> H1_HANDLING --respond--> H1_READ_HEAD
 *                  \--(no body)-------------------/
 *
 * Deadlines: a head must be whole within [limits] header_timeout of its
 * first byte (conn.c closes, see conn_set_head_pending()); a body within
 * body_timeout of its head plus a second per body_min_rate bytes.
 *
 * Bounds for a peer that pipelines and does not read: no new request is
 * started while more than max_output_bytes of answers wait to be sent, and
 * reading stops while the unprocessed input passes max_header_bytes +
 * max_body_bytes; both resume when the answers have gone out.
 *
 * A peer that closes its side after its requests (shutdown(SHUT_WR), nc -N,
 * health checkers) gets every whole request answered, then the close.
 */
#include "gw.h"
#include "config.h"
#include "conn.h"
#include "http.h"
#include "log.h"
#include "loop.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define H1_MAGIC 0x68317331U	/* "h1s1" */

enum h1_state {
	H1_READ_HEAD,
	H1_READ_BODY,
	H1_HANDLING,
};

struct h1_conn {
	uint32_t magic;
	enum h1_state state;
	struct gw_conn *conn;
	struct msg_parser parser;
	struct msg msg;
	struct http_request *cur;	/* the request being handled */
	size_t body_expected;
	bool keep_alive;
	bool head_only;			/* HEAD: no body in the response */
	bool dispatched;		/* h->cur was handed to the router */
	int64_t body_started_us;	/* H1_READ_BODY: when the head ended */
	struct http_file_body *file;	/* a download being sent, or NULL */
	bool release_waits;		/* the request is done with but its file is still going out */
	struct loop_deferred resume;	/* parse pipelined requests after a response */
};

bool http_try_takeover(struct gw_conn *c, const struct msg *m);
static void h1_on_read(struct gw_conn *c);

/* Bound what a pipelining peer may queue while it waits: stop reading. */
static void
hold_input(struct h1_conn *h)
{
	struct gw_conn *c = h->conn;

	if (evbuffer_get_length(c->in) > (size_t)(gw.cfg->max_header_bytes + gw.cfg->max_body_bytes))
		conn_pause_read(c);
}
extern const struct conn_proto http1_proto;

static struct msg_limits
limits(void)
{
	return (struct msg_limits){
		.max_head = (size_t)gw.cfg->max_header_bytes,
		.max_headers = gw.cfg->max_headers,
		.max_body = (size_t)gw.cfg->max_body_bytes,
	};
}

static void
set_idle_deadline(struct h1_conn *h)
{
	h->conn->deadline_us = gw_mono_us() + gw.cfg->idle_timeout_ms * 1000;
}

/* An error before a request object exists: answer, log once, close. */
static void
reject(struct h1_conn *h, int status, const char *why)
{
	struct gw_conn *c = h->conn;
	char body[160];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"detail\":null,\"hint\":null}", why);

	olog_info(c, "bad request: %s; answering %d and closing", why, status);
	conn_printf(c, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
	    "Connection: close\r\n\r\n%s", status, http_status_text(status), n, body);
	conn_close_after_flush(c, why);
}

/*
 * After a peer's FIN: close once no request is being handled and no whole
 * one is left in the input (an incomplete head or body can never finish).
 */
static void
settle_peer_eof(struct h1_conn *h)
{
	struct gw_conn *c = h->conn;

	if (!c->peer_eof || !conn_is_open(c) || c->proto_data != h || h->state == H1_HANDLING)
		return;
	/* Whole requests held back until the peer reads its answers: on_drained goes on. */
	if (h->state == H1_READ_HEAD && evbuffer_get_length(c->in) > 0 &&
	    conn_out_len(c) > (size_t)gw.cfg->max_output_bytes)
		return;
	conn_close_after_flush(c, "peer closed the connection");
}

static void
resume_cb(void *arg)
{
	struct h1_conn *h = arg;
	struct gw_conn *c = h->conn;

	if (conn_is_open(c) && evbuffer_get_length(c->in) > 0)
		h1_on_read(c);
	if (conn_is_open(c) && c->proto_data == h)
		settle_peer_eof(h);
}

static void
send_head(struct h1_conn *h, struct http_request *req, int status, const char *ctype, uint64_t len)
{
	struct gw_conn *c = req->conn;
	char date[64];

	gw_http_date(gw_wall_us(), date, sizeof(date));
	conn_printf(c, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: vssgate\r\n", status,
	    http_status_text(status), date);
	if (ctype != NULL)
		conn_printf(c, "Content-Type: %s\r\n", ctype);
	for (int i = 0; i < req->nresp_headers; i++)
		conn_printf(c, "%s: %s\r\n", req->resp_headers[i].name, req->resp_headers[i].value);
	conn_printf(c, "Content-Length: %llu\r\n%s\r\n", (unsigned long long)len,
	    h->keep_alive ? "" : "Connection: close\r\n");
}

static void
h1_send(struct http_request *req, int status, const char *ctype, const void *body, size_t len)
{
	struct h1_conn *h = req->proto_data;
	struct gw_conn *c = req->conn;

	GW_CHECK(h, H1_MAGIC);
	send_head(h, req, status, ctype, len);
	if (len > 0 && !h->head_only)
		conn_write(c, body, len);
	olog_debug(c, "%s %s -> %d (%zu bytes, %.1f ms)", req->method, req->path, status, len,
	    (double)(gw_mono_now_us() - req->started_us) / 1000.0);
}

/* --- a file body: one chunk read each time the connection's output drains --------------- */

static void after_response(struct h1_conn *h);

static void
file_done(struct h1_conn *h)
{
	http_file_finish(h->file);
	h->file = NULL;
	if (h->release_waits) {
		h->release_waits = false;
		after_response(h);
	}
}

static void
file_pump(struct h1_conn *h)
{
	struct gw_conn *c = h->conn;
	struct evbuffer_iovec v;
	ssize_t n;

	if (h->file == NULL || !conn_is_open(c))
		return;
	if (h->file->left == 0) {
		if (conn_out_len(c) == 0)
			file_done(h);	/* the last bytes are out */
		return;
	}
	if (conn_out_len(c) >= HTTP_FILE_CHUNK)
		return;
	if (evbuffer_reserve_space(conn_out(c), HTTP_FILE_CHUNK, &v, 1) < 1)
		gw_out_of_memory(HTTP_FILE_CHUNK);
	n = http_file_read(h->file, v.iov_base, v.iov_len);
	if (n <= 0) {
		/* The length was promised in the head: the peer must see a short body. */
		file_done(h);
		conn_close(c, "download: the file could not be read");
		return;
	}
	v.iov_len = (size_t)n;
	evbuffer_commit_space(conn_out(c), &v, 1);
	c->deadline_us = gw_mono_us() + gw.cfg->idle_timeout_ms * 1000;	/* a reader that stops is dropped */
	conn_want_write(c);
}

static void
h1_send_file(struct http_request *req, int status, const char *ctype, struct http_file_body *fb)
{
	struct h1_conn *h = req->proto_data;

	GW_CHECK(h, H1_MAGIC);
	send_head(h, req, status, ctype, fb->len);
	olog_debug(req->conn, "%s %s -> %d (file, %llu bytes)", req->method, req->path, status,
	    (unsigned long long)fb->len);
	if (h->head_only || fb->left == 0) {
		http_file_finish(fb);
		return;
	}
	h->file = fb;
	file_pump(h);
}

/* The answer is out (or its file is): make room for the next request. */
static void
after_response(struct h1_conn *h)
{
	if (!conn_is_open(h->conn))
		return;
	if (!h->keep_alive) {
		conn_close_after_flush(h->conn, "response sent, no keep-alive");
		return;
	}
	h->state = H1_READ_HEAD;
	h->dispatched = false;
	msg_parser_reset(&h->parser);
	set_idle_deadline(h);
	conn_resume_read(h->conn);
	loop_defer(&h->resume, resume_cb, h);
}

/* The request is about to be freed; a file body may still be going out. */
static void
h1_release(struct http_request *req)
{
	struct h1_conn *h = req->proto_data;

	if (h == NULL)
		return;
	GW_CHECK(h, H1_MAGIC);
	h->cur = NULL;
	if (h->file != NULL)
		h->release_waits = true;
	else
		after_response(h);
}

static bool
wants_keep_alive(const struct msg *m)
{
	const struct msg_header *conn = msg_header(m, "Connection");

	if (m->version_minor == 0)
		return conn != NULL && msg_value_has_token(conn->value, "keep-alive");
	return conn == NULL || !msg_value_has_token(conn->value, "close");
}

/* Copy the parsed head into a new request object, or NULL if the target is bad. */
static struct http_request *
build_request(struct h1_conn *h)
{
	const struct msg *m = &h->msg;
	const char *q = memchr(m->target.p, '?', m->target.len);
	size_t plen = q ? (size_t)(q - m->target.p) : m->target.len;
	char *path = gw_xmalloc(plen + 1);
	struct http_request *req;

	if (!http_decode_path(m->target.p, plen, path, plen + 1)) {
		free(path);
		return NULL;
	}
	req = http_request_new(h->conn);
	req->path = path;
	snprintf(req->method, sizeof(req->method), "%.*s", (int)m->method.len, m->method.p);
	req->target = gw_xstrndup(m->target.p, m->target.len);
	if (q)
		req->query = gw_xstrndup(q + 1, m->target.len - plen - 1);
	req->headers = gw_xcalloc((size_t)m->nheaders, sizeof(*req->headers));
	for (int i = 0; i < m->nheaders; i++) {
		req->headers[i].name = gw_xstrndup(m->headers[i].name.p, m->headers[i].name.len);
		req->headers[i].value = gw_xstrndup(m->headers[i].value.p, m->headers[i].value.len);
	}
	req->nheaders = m->nheaders;
	req->proto_data = h;
	req->send = h1_send;
	req->send_file = h1_send_file;
	req->release = h1_release;
	return req;
}

static void
start_request(struct h1_conn *h)
{
	struct gw_conn *c = h->conn;
	const struct msg_header *expect;

	if (h->msg.kind != MSG_REQUEST || h->msg.protocol != MSG_HTTP) {
		reject(h, 400, "not an HTTP request");
		return;
	}
	if (h->msg.chunked) {
		reject(h, 411, "chunked request bodies are not accepted; send Content-Length");
		return;
	}
	if ((h->cur = build_request(h)) == NULL) {
		reject(h, 400, "invalid request target");
		return;
	}
	h->keep_alive = wants_keep_alive(&h->msg) && !gw.shutting_down;
	h->head_only = proto_str_eq(h->msg.method, "HEAD");
	/* h->msg points into c->in: read what is needed before the head is drained. */
	expect = msg_header(&h->msg, "Expect");
	if (expect && !proto_str_ieq(expect->value, "100-continue"))
		expect = NULL;
	evbuffer_drain(c->in, h->msg.head_len);
	h->body_expected = h->msg.content_length;
	if (expect && h->body_expected > 0)
		conn_printf(c, "HTTP/1.1 100 Continue\r\n\r\n");
	h->state = h->body_expected > 0 ? H1_READ_BODY : H1_HANDLING;
	h->body_started_us = gw_mono_us();
	c->deadline_us = h->body_expected > 0 ? h->body_started_us + gw.cfg->body_timeout_ms * 1000 : 0;
}

static void
read_head(struct h1_conn *h)
{
	struct gw_conn *c = h->conn;
	struct msg_limits lim = limits();
	size_t len = evbuffer_get_length(c->in);
	size_t n = GW_MIN(len, lim.max_head + 4);
	const char *p = (const char *)evbuffer_pullup(c->in, (ssize_t)n);
	int rc = msg_parse(&h->parser, p, n, &lim, false, &h->msg);

	if (rc == PROTO_AGAIN) {
		conn_set_head_pending(c, true);
		return;
	}
	conn_set_head_pending(c, false);
	if (rc < 0) {
		reject(h, rc == PROTO_ETOOBIG ? (h->msg.has_content_length &&
		    h->msg.content_length > lim.max_body ? 413 : 431) :
		    rc == PROTO_EVERSION ? 505 : rc == PROTO_EUNSUPPORTED ? 501 : 400,
		    rc == PROTO_ETOOBIG ? "request exceeds a size limit" : proto_strerror(rc));
		return;
	}
	if (http_try_takeover(c, &h->msg))
		return;
	start_request(h);
}

/*
 * The body so far has until body_timeout after the head, plus a second for
 * each body_min_rate bytes received: a slow, steady upload finishes, a
 * trickle does not.
 */
static void
extend_body_deadline(struct h1_conn *h, size_t received)
{
	int64_t earned = gw.cfg->body_min_rate > 0 ?
	    (int64_t)received * 1000000 / gw.cfg->body_min_rate : 0;

	h->conn->deadline_us = h->body_started_us + gw.cfg->body_timeout_ms * 1000 + earned;
}

/* The body is complete: move it into the request. */
static bool
read_body(struct h1_conn *h)
{
	struct http_request *req = h->cur;
	size_t have = evbuffer_get_length(h->conn->in);

	if (have < h->body_expected) {
		extend_body_deadline(h, have);
		return false;
	}
	req->body = gw_xmalloc(h->body_expected + 1);
	evbuffer_remove(h->conn->in, req->body, h->body_expected);
	req->body[h->body_expected] = '\0';
	req->body_len = h->body_expected;
	h->state = H1_HANDLING;
	h->conn->deadline_us = 0;
	return true;
}

static void
h1_on_read(struct gw_conn *c)
{
	struct h1_conn *h = c->proto_data;

	GW_CHECK(h, H1_MAGIC);
	while (conn_is_open(c) && c->proto_data == h && c->state == CONN_ACTIVE) {
		switch (h->state) {
		case H1_READ_HEAD:
			if (evbuffer_get_length(c->in) == 0)
				return;
			if (conn_out_len(c) > (size_t)gw.cfg->max_output_bytes) {
				hold_input(h);	/* on_drained goes on */
				return;
			}
			read_head(h);
			if (c->proto != &http1_proto)
				return;	/* taken over: |h| is gone */
			if (h->state == H1_READ_HEAD)
				return;	/* need more, or rejected */
			break;
		case H1_READ_BODY:
			if (!read_body(h))
				return;
			break;
		case H1_HANDLING:
			if (!h->dispatched) {
				h->dispatched = true;
				http_dispatch(h->cur);	/* may respond at once */
				break;
			}
			hold_input(h);	/* one request at a time */
			return;
		}
	}
}

/* The output drained: the next chunk of a file, or the next pipelined request. */
static void
h1_on_drained(struct gw_conn *c)
{
	struct h1_conn *h = c->proto_data;

	GW_CHECK(h, H1_MAGIC);
	if (h->file != NULL) {
		file_pump(h);
		return;
	}
	if (h->state != H1_READ_HEAD)
		return;
	conn_resume_read(c);
	loop_defer(&h->resume, resume_cb, h);
}

static void
h1_on_peer_eof(struct gw_conn *c)
{
	struct h1_conn *h = c->proto_data;

	GW_CHECK(h, H1_MAGIC);
	settle_peer_eof(h);
}

static void
h1_on_start(struct gw_conn *c)
{
	struct h1_conn *h = gw_xcalloc(1, sizeof(*h));

	h->magic = H1_MAGIC;
	h->conn = c;
	h->state = H1_READ_HEAD;
	c->proto_data = h;
	set_idle_deadline(h);
}

static void
h1_on_close(struct gw_conn *c)
{
	struct h1_conn *h = c->proto_data;

	if (h == NULL)
		return;
	GW_CHECK(h, H1_MAGIC);
	if (h->cur) {
		struct http_request *req = h->cur;

		req->proto_data = NULL;
		http_request_detach(req);
		/*
		 * Closed before the request reached a handler (its body was still
		 * coming): no handler will call http_respond(), so free it here;
		 * detached, http_respond() only frees. It used to leak.
		 */
		if (!h->dispatched)
			http_respond(req, 503, NULL, NULL, 0);
	}
	if (h->file != NULL) {
		/* What is still in the output buffer never reached the peer. */
		size_t unsent = conn_out_len(c);

		h->file->sent -= GW_MIN(h->file->sent, (uint64_t)unsent);
		h->file->failed = h->file->failed || unsent > 0 || h->file->left > 0;
		http_file_finish(h->file);
		h->file = NULL;
	}
	loop_defer_cancel(&h->resume);
	h->magic = 0;
	free(h);
	c->proto_data = NULL;
}

/* Shutting down: an idle connection closes now, a busy one after its response. */
static void
h1_on_shutdown(struct gw_conn *c)
{
	struct h1_conn *h = c->proto_data;

	GW_CHECK(h, H1_MAGIC);
	h->keep_alive = false;
	if (h->state == H1_READ_HEAD)
		conn_close(c, "shutting down");
}

const struct conn_proto http1_proto = {
	.name = "http",
	.on_start = h1_on_start,
	.on_read = h1_on_read,
	.on_drained = h1_on_drained,
	.on_close = h1_on_close,
	.on_shutdown = h1_on_shutdown,
	.on_peer_eof = h1_on_peer_eof,
	.reports_heads = true,
};
