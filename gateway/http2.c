/*
 * http2.c - HTTP/2 connections with nghttp2 (server side), shaped like
 * nghttp2's examples/libevent-server.c: bytes from c->in go to
 * nghttp2_session_mem_recv(), frames to send go through send_callback into
 * c->out. Each stream becomes a struct http_request for the router shared
 * with HTTP/1.1; req->send submits the response with a data provider.
 *
 * Re-entrancy: nghttp2 must not be asked to send from inside its own
 * callbacks, and a handler may answer at once (inside on_frame_recv) or
 * later (a database callback). So answering only submits the response and
 * queues one deferred "send" per connection that runs after the loop pass.
 *
 * Ownership: streams belong to their struct h2_conn and are freed when
 * nghttp2 closes them (or with the connection). A request handed to the
 * router belongs to the HTTP layer; stream->req and req->proto_data point
 * at each other until either side goes away, and each side clears the
 * other's pointer then.
 *
 * Limits (everything the peer controls): concurrent streams (SETTINGS, and
 * nghttp2 refuses more), header bytes and count per stream (431), body
 * bytes (413), window sizes (our SETTINGS), bytes buffered for a slow
 * reader (sending pauses), the rate of stream resets, CONTINUATION frames
 * and SETTINGS (nghttp2 options), and the idle time without streams.
 *
 * Output for a peer that does not read (or keeps its windows at zero):
 * each stream's answer is buffered once (stream->resp, which nghttp2
 * reads as the window allows) and frames wait in c->out only up to half of
 * [limits] max_output_bytes. Once the unsent answers of a connection pass
 * max_output_bytes, its further complete requests are held, not
 * dispatched, until the peer has taken enough; so a connection holds at
 * most about max_output_bytes of answers, whatever its streams do. Reading
 * goes on meanwhile (WINDOW_UPDATE frames must get through).
 */
#include "gw.h"
#include "config.h"
#include "conn.h"
#include "http.h"
#include "log.h"
#include "loop.h"

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define H2_MAGIC 0x68327332U		/* "h2s2" */
#define H2_STREAM_MAGIC 0x68327374U	/* "h2st" */
#define H2_OUT_HIGH_WATER_MAX (1024 * 1024)	/* stop producing frames above this */
#define H2_WINDOW (1024 * 1024)		/* per-stream receive window we announce */
#define H2_MAX_RESP_HEADERS (HTTP_MAX_RESP_HEADERS + 4)

struct h2_stream {
	uint32_t magic;
	int32_t id;
	struct h2_conn *h;
	struct http_request *req;	/* built at begin_headers; NULL once answered */
	bool dispatched;		/* handed to the router */
	bool held;			/* complete, waiting in h->held until answers drain */
	bool rejected;			/* answered with an error before dispatch */
	int reject_status;
	size_t header_bytes;
	int nheaders_cap;
	struct evbuffer *body;		/* request body so far */
	char *resp;			/* response body, read by the data provider */
	size_t resp_len, resp_off;
	struct http_file_body *file;	/* or a file body (a download), read in chunks */
	char *chunk;			/* HTTP_FILE_CHUNK bytes of it */
	size_t chunk_len, chunk_off;
	TAILQ_ENTRY(h2_stream) link;
	TAILQ_ENTRY(h2_stream) held_link;
};

TAILQ_HEAD(h2_stream_list, h2_stream);

struct h2_conn {
	uint32_t magic;
	struct gw_conn *conn;
	nghttp2_session *session;
	struct h2_stream_list streams;
	struct h2_stream_list held;	/* complete requests not dispatched yet (output bound) */
	size_t resp_unsent;		/* answer bytes of all streams not yet taken by nghttp2 */
	int nstreams;
	bool in_recv;			/* inside nghttp2_session_mem_recv() */
	bool goaway_sent;
	struct loop_deferred send_later;
};

static void h2_send_now(struct h2_conn *h);

/* --- helpers --------------------------------------------------------------- */

/*
 * The connection closes after idle_timeout without a byte from the peer,
 * streams open or not: a client that opens streams and never finishes them
 * must not hold them forever.
 */
static void
set_idle_deadline(struct h2_conn *h)
{
	h->conn->deadline_us = gw_mono_us() + gw.cfg->idle_timeout_ms * 1000;
}

static void
send_later_cb(void *arg)
{
	struct h2_conn *h = arg;

	GW_CHECK(h, H2_MAGIC);
	h2_send_now(h);
}

static void
schedule_send(struct h2_conn *h)
{
	loop_defer(&h->send_later, send_later_cb, h);
}

static struct h2_stream *
stream_get(struct h2_conn *h, int32_t id)
{
	struct h2_stream *s = nghttp2_session_get_stream_user_data(h->session, id);

	if (s != NULL)
		GW_CHECK(s, H2_STREAM_MAGIC);
	return s;
}

/* Break the link between a stream and its request, from either side. */
static void
unlink_request(struct h2_stream *s)
{
	if (s->req != NULL) {
		s->req->proto_data = NULL;
		s->req = NULL;
	}
}

static void
stream_free(struct h2_stream *s)
{
	struct h2_conn *h = s->h;

	if (s->req != NULL && !s->dispatched) {
		/* Never reached the router: the HTTP layer does not know it; free it here. */
		struct http_request *req = s->req;

		unlink_request(s);
		http_request_detach(req);
		http_respond(req, 499, NULL, NULL, 0);
	} else if (s->req != NULL) {
		/* A handler still owns it; its answer goes nowhere (the stream is gone). */
		struct http_request *req = s->req;

		unlink_request(s);
		http_request_detach(req);
	}
	TAILQ_REMOVE(&h->streams, s, link);
	if (s->held)
		TAILQ_REMOVE(&h->held, s, held_link);
	h->nstreams--;
	h->resp_unsent -= s->resp_len - s->resp_off;
	if (s->file != NULL) {
		/* What nghttp2 had not framed yet never went out. */
		s->file->sent -= GW_MIN(s->file->sent, (uint64_t)(s->chunk_len - s->chunk_off));
		s->file->failed = s->file->failed || s->chunk_off < s->chunk_len || s->file->left > 0;
		http_file_finish(s->file);
	}
	free(s->chunk);
	evbuffer_free(s->body);
	free(s->resp);
	s->magic = 0;
	free(s);
}

/* --- answering ------------------------------------------------------------- */

static ssize_t
read_body_cb(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
    uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
	struct h2_stream *s = source->ptr;
	size_t n;

	GW_CHECK(s, H2_STREAM_MAGIC);
	n = GW_MIN(length, s->resp_len - s->resp_off);
	if (n > 0)
		memcpy(buf, s->resp + s->resp_off, n);
	s->resp_off += n;
	s->h->resp_unsent -= n;
	if (s->resp_off == s->resp_len)
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* The data provider of a file body: a chunk read at a time, framed from memory. */
static ssize_t
read_file_cb(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
    uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
	struct h2_stream *s = source->ptr;
	size_t n;

	GW_CHECK(s, H2_STREAM_MAGIC);
	if (s->chunk_off == s->chunk_len && s->file->left > 0) {
		ssize_t got;

		if (s->chunk == NULL)
			s->chunk = gw_xmalloc(HTTP_FILE_CHUNK);
		if ((got = http_file_read(s->file, s->chunk, HTTP_FILE_CHUNK)) <= 0)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;	/* resets the stream */
		s->chunk_len = (size_t)got;
		s->chunk_off = 0;
	}
	n = GW_MIN(length, s->chunk_len - s->chunk_off);
	memcpy(buf, s->chunk + s->chunk_off, n);
	s->chunk_off += n;
	if (s->chunk_off == s->chunk_len && s->file->left == 0)
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static nghttp2_nv
make_nv(const char *name, const char *value)
{
	return (nghttp2_nv){ (uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value),
		NGHTTP2_NV_FLAG_NONE };
}

/* The pseudo-header, the headers and the length of a response, into |nva|; returns how many. */
static size_t
response_nv(nghttp2_nv *nva, size_t cap, char *status_str, char *len_str, int status,
    const char *ctype, struct http_header *hdrs, int nhdrs, uint64_t len)
{
	size_t n = 0;

	snprintf(status_str, 8, "%d", status);
	snprintf(len_str, 24, "%llu", (unsigned long long)len);
	nva[n++] = make_nv(":status", status_str);
	nva[n++] = make_nv("server", "vssgate");
	if (ctype != NULL)
		nva[n++] = make_nv("content-type", ctype);
	nva[n++] = make_nv("content-length", len_str);
	for (int i = 0; i < nhdrs && n < cap; i++) {
		for (char *p = hdrs[i].name; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		nva[n++] = make_nv(hdrs[i].name, hdrs[i].value);
	}
	return n;
}

/*
 * Submit a response on |s|. Header names are lower-cased in place (HTTP/2
 * requires it). |body| is copied. Returns -1 if nghttp2 refused it (stream
 * already closed).
 */
static int
submit_response(struct h2_stream *s, int status, const char *ctype, struct http_header *hdrs,
    int nhdrs, const void *body, size_t len, bool head_only)
{
	nghttp2_nv nva[H2_MAX_RESP_HEADERS];
	nghttp2_data_provider prd = { .source.ptr = s, .read_callback = read_body_cb };
	char status_str[8], len_str[24];
	size_t n = response_nv(nva, ARRAY_SIZE(nva), status_str, len_str, status, ctype, hdrs, nhdrs,
	    len);

	s->h->resp_unsent -= s->resp_len - s->resp_off;
	free(s->resp);
	s->resp = NULL;
	s->resp_len = s->resp_off = 0;
	if (len > 0 && !head_only) {
		s->resp = gw_xmalloc(len);
		memcpy(s->resp, body, len);
		s->resp_len = len;
		s->h->resp_unsent += len;
	}
	return nghttp2_submit_response(s->h->session, s->id, nva, n,
	    s->resp_len > 0 ? &prd : NULL) == 0 ? 0 : -1;
}

/* req->send_file for HTTP/2: the stream keeps |fb| until it closes. */
static void
h2_send_file(struct http_request *req, int status, const char *ctype, struct http_file_body *fb)
{
	struct h2_stream *s = req->proto_data;
	nghttp2_nv nva[H2_MAX_RESP_HEADERS];
	nghttp2_data_provider prd = { .read_callback = read_file_cb };
	char status_str[8], len_str[24];
	size_t n;

	if (s == NULL || s->file != NULL) {
		fb->failed = true;
		http_file_finish(fb);
		return;
	}
	GW_CHECK(s, H2_STREAM_MAGIC);
	n = response_nv(nva, ARRAY_SIZE(nva), status_str, len_str, status, ctype, req->resp_headers,
	    req->nresp_headers, fb->len);
	prd.source.ptr = s;
	if (fb->left > 0)
		s->file = fb;
	else
		http_file_finish(fb);
	if (nghttp2_submit_response(s->h->session, s->id, nva, n, s->file ? &prd : NULL) != 0)
		olog_debug(s->h->conn, "stream %d: response dropped (stream closed)", s->id);
	olog_debug(s->h->conn, "stream %d: %s %s -> %d (file, %llu bytes)", s->id, req->method,
	    req->path, status, (unsigned long long)fb->len);
	schedule_send(s->h);
}

/* req->send for HTTP/2. */
static void
h2_send(struct http_request *req, int status, const char *ctype, const void *body, size_t len)
{
	struct h2_stream *s = req->proto_data;

	if (s == NULL)
		return;		/* the stream was reset or closed meanwhile */
	GW_CHECK(s, H2_STREAM_MAGIC);
	if (submit_response(s, status, ctype, req->resp_headers, req->nresp_headers, body, len,
	    strcmp(req->method, "HEAD") == 0) < 0)
		olog_debug(s->h->conn, "stream %d: response dropped (stream closed)", s->id);
	olog_debug(s->h->conn, "stream %d: %s %s -> %d (%zu bytes, %.1f ms)", s->id, req->method,
	    req->path, status, len, (double)(gw_mono_now_us() - req->started_us) / 1000.0);
	schedule_send(s->h);
}

static void
h2_release(struct http_request *req)
{
	struct h2_stream *s = req->proto_data;

	if (s == NULL)
		return;
	GW_CHECK(s, H2_STREAM_MAGIC);
	s->req = NULL;
	req->proto_data = NULL;
}

/* An error found before the request reached the router: answer it here. */
static void
reject_stream(struct h2_stream *s, int status, const char *why)
{
	char body[160];
	int n;

	if (s->rejected || s->dispatched)
		return;
	s->rejected = true;
	n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"detail\":null,\"hint\":null}", why);
	olog_info(s->h->conn, "stream %d: bad request: %s; answering %d", s->id, why, status);
	if (submit_response(s, status, "application/json", NULL, 0, body, (size_t)n, false) < 0)
		nghttp2_submit_rst_stream(s->h->session, NGHTTP2_FLAG_NONE, s->id,
		    NGHTTP2_INTERNAL_ERROR);
	schedule_send(s->h);
}

/* --- building the request ---------------------------------------------------- */

static void
add_header(struct h2_stream *s, const char *name, size_t nlen, const char *value, size_t vlen)
{
	struct http_request *req = s->req;

	if (req->nheaders == s->nheaders_cap) {
		s->nheaders_cap = s->nheaders_cap ? 2 * s->nheaders_cap : 8;
		req->headers = gw_xrealloc(req->headers, (size_t)s->nheaders_cap * sizeof(*req->headers));
	}
	req->headers[req->nheaders].name = gw_xstrndup(name, nlen);
	req->headers[req->nheaders].value = gw_xstrndup(value, vlen);
	req->nheaders++;
}

/* The path pseudo-header: split the query off and decode the path. */
static bool
set_target(struct http_request *req, const char *value, size_t vlen)
{
	const char *q = memchr(value, '?', vlen);
	size_t plen = q ? (size_t)(q - value) : vlen;

	if (req->target != NULL)
		return false;	/* duplicate :path; nghttp2 also refuses it */
	req->target = gw_xstrndup(value, vlen);
	req->path = gw_xmalloc(plen + 1);
	if (!http_decode_path(value, plen, req->path, plen + 1))
		return false;
	if (q)
		req->query = gw_xstrndup(q + 1, vlen - plen - 1);
	return true;
}

static int
on_header_cb(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
    size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
	struct h2_conn *h = user_data;
	struct h2_stream *s;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;	/* trailers are ignored */
	if ((s = stream_get(h, frame->hd.stream_id)) == NULL || s->rejected)
		return 0;
	s->header_bytes += namelen + valuelen + 32;	/* as SETTINGS_MAX_HEADER_LIST_SIZE counts */
	if (s->header_bytes > (size_t)gw.cfg->max_header_bytes ||
	    s->req->nheaders >= gw.cfg->max_headers) {
		reject_stream(s, 431, "request exceeds a size limit");
		return 0;
	}
	if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
		if (valuelen >= sizeof(s->req->method))
			reject_stream(s, 501, "unsupported method");
		else
			memcpy(s->req->method, value, valuelen), s->req->method[valuelen] = '\0';
	} else if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
		if (!set_target(s->req, (const char *)value, valuelen))
			reject_stream(s, 400, "invalid request target");
	} else if (namelen == 10 && memcmp(name, ":authority", 10) == 0) {
		add_header(s, "host", 4, (const char *)value, valuelen);
	} else if (namelen > 0 && name[0] != ':') {
		add_header(s, (const char *)name, namelen, (const char *)value, valuelen);
	}
	return 0;
}

static int
on_begin_headers_cb(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct h2_conn *h = user_data;
	struct h2_stream *s;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	s = gw_xcalloc(1, sizeof(*s));
	s->magic = H2_STREAM_MAGIC;
	s->id = frame->hd.stream_id;
	s->h = h;
	s->body = evbuffer_new();
	s->req = http_request_new(h->conn);
	s->req->http2 = true;
	s->req->stream_id = s->id;
	s->req->proto_data = s;
	s->req->send = h2_send;
	s->req->send_file = h2_send_file;
	s->req->release = h2_release;
	TAILQ_INSERT_TAIL(&h->streams, s, link);
	h->nstreams++;
	nghttp2_session_set_stream_user_data(session, s->id, s);
	return 0;
}

static int
on_data_chunk_cb(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data,
    size_t len, void *user_data)
{
	struct h2_conn *h = user_data;
	struct h2_stream *s = stream_get(h, stream_id);

	if (s == NULL || s->rejected || s->dispatched)
		return 0;
	if (evbuffer_get_length(s->body) + len > (size_t)gw.cfg->max_body_bytes) {
		reject_stream(s, 413, "request body exceeds max_body_bytes");
		return 0;
	}
	evbuffer_add(s->body, data, len);
	return 0;
}

static bool
answers_over_bound(const struct h2_conn *h)
{
	return h->resp_unsent > (size_t)gw.cfg->max_output_bytes;
}

/* The request is complete (END_STREAM seen): hand it to the router, or hold it. */
static void
dispatch_stream(struct h2_stream *s)
{
	struct http_request *req = s->req;
	size_t len = evbuffer_get_length(s->body);

	if (s->rejected || s->dispatched || req == NULL)
		return;
	if (answers_over_bound(s->h)) {
		if (!s->held) {
			s->held = true;
			TAILQ_INSERT_TAIL(&s->h->held, s, held_link);
		}
		return;
	}
	if (req->method[0] == '\0' || req->path == NULL) {
		reject_stream(s, 400, "missing :method or :path");
		return;
	}
	if (len > 0) {
		req->body = gw_xmalloc(len + 1);
		evbuffer_remove(s->body, req->body, len);
		req->body[len] = '\0';
		req->body_len = len;
	}
	s->dispatched = true;
	http_dispatch(req);	/* may answer at once: h2_send only submits */
}

static int
on_frame_recv_cb(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct h2_conn *h = user_data;
	struct h2_stream *s;

	if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
		return 0;
	if ((s = stream_get(h, frame->hd.stream_id)) == NULL)
		return 0;
	if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
		const char *cl = http_header_get(s->req, "content-length");

		if (cl != NULL && strtoull(cl, NULL, 10) > (unsigned long long)gw.cfg->max_body_bytes)
			reject_stream(s, 413, "request body exceeds max_body_bytes");
	}
	if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
		dispatch_stream(s);
	return 0;
}

static int
on_stream_close_cb(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
    void *user_data)
{
	struct h2_conn *h = user_data;
	struct h2_stream *s = stream_get(h, stream_id);

	if (s == NULL)
		return 0;
	if (error_code != NGHTTP2_NO_ERROR)
		olog_debug(h->conn, "stream %d closed: %s", stream_id,
		    nghttp2_http2_strerror(error_code));
	nghttp2_session_set_stream_user_data(session, stream_id, NULL);
	stream_free(s);
	return 0;
}

/* One log line for each protocol error we answer: GOAWAY or RST_STREAM with an error code. */
static int
on_frame_send_cb(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct h2_conn *h = user_data;

	if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR)
		olog_info(h->conn, "HTTP/2 protocol error: %s; sending GOAWAY and closing",
		    nghttp2_http2_strerror(frame->goaway.error_code));
	else if (frame->hd.type == NGHTTP2_RST_STREAM && frame->rst_stream.error_code != NGHTTP2_CANCEL)
		olog_info(h->conn, "stream %d reset: %s", frame->hd.stream_id,
		    nghttp2_http2_strerror(frame->rst_stream.error_code));
	return 0;
}

/* Held requests go to the router once the connection's answers have drained. */
static void
dispatch_held(struct h2_conn *h)
{
	struct h2_stream *s;

	while (!answers_over_bound(h) && (s = TAILQ_FIRST(&h->held)) != NULL) {
		TAILQ_REMOVE(&h->held, s, held_link);
		s->held = false;
		dispatch_stream(s);
	}
}

/* Frames wait in c->out only up to here, below the bound at which conn.c stops reading. */
static size_t
out_high_water(void)
{
	return GW_MIN((size_t)H2_OUT_HIGH_WATER_MAX, (size_t)gw.cfg->max_output_bytes / 2);
}

static ssize_t
send_cb(nghttp2_session *session, const uint8_t *data, size_t length, int flags, void *user_data)
{
	struct h2_conn *h = user_data;

	if (conn_out_len(h->conn) >= out_high_water())
		return NGHTTP2_ERR_WOULDBLOCK;	/* resumed by on_drained */
	evbuffer_add(conn_out(h->conn), data, length);
	return (ssize_t)length;
}

/* --- the session ----------------------------------------------------------------- */

/* Produce what nghttp2 has to send, write it, and close when both sides are done. */
static void
h2_send_now(struct h2_conn *h)
{
	struct gw_conn *c = h->conn;
	int rv;

	if (!conn_is_open(c) || c->state == CONN_CLOSING || h->in_recv)
		return;
	if ((rv = nghttp2_session_send(h->session)) != 0) {
		olog_info(c, "HTTP/2 send failed: %s; closing", nghttp2_strerror(rv));
		conn_close(c, "HTTP/2 send failed");
		return;
	}
	if (conn_out_len(c) > 0 && conn_flush(c) < 0)
		return;
	if (!TAILQ_EMPTY(&h->held) && !answers_over_bound(h)) {
		dispatch_held(h);	/* answers submitted now go out on the next pass */
		schedule_send(h);
	}
	if (!nghttp2_session_want_read(h->session) && !nghttp2_session_want_write(h->session))
		conn_close_after_flush(c, h->goaway_sent ? "shutting down" : "HTTP/2 session ended");
}

/* Feed what arrived to nghttp2, chunk by chunk, without copying it first. */
static void
h2_on_read(struct gw_conn *c)
{
	struct h2_conn *h = c->proto_data;
	struct evbuffer_iovec v;
	ssize_t rv;

	GW_CHECK(h, H2_MAGIC);
	set_idle_deadline(h);
	while (conn_is_open(c) && c->state == CONN_ACTIVE && evbuffer_get_length(c->in) > 0) {
		if (evbuffer_peek(c->in, -1, NULL, &v, 1) < 1)
			break;
		h->in_recv = true;
		rv = nghttp2_session_mem_recv(h->session, v.iov_base, v.iov_len);
		h->in_recv = false;
		if (rv < 0) {
			olog_info(c, "HTTP/2 protocol error: %s; closing", nghttp2_strerror((int)rv));
			evbuffer_drain(c->in, evbuffer_get_length(c->in));
			h2_send_now(h);	/* the GOAWAY nghttp2 queued */
			conn_close_after_flush(c, "HTTP/2 protocol error");
			return;
		}
		evbuffer_drain(c->in, (size_t)rv);
	}
	h2_send_now(h);
}

static void
h2_on_drained(struct gw_conn *c)
{
	struct h2_conn *h = c->proto_data;

	GW_CHECK(h, H2_MAGIC);
	if (nghttp2_session_want_write(h->session))
		schedule_send(h);
}

static nghttp2_session_callbacks *
make_callbacks(void)
{
	nghttp2_session_callbacks *cbs;

	if (nghttp2_session_callbacks_new(&cbs) != 0)
		return NULL;
	nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers_cb);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header_cb);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_cb);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv_cb);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close_cb);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send_cb);
	return cbs;
}

static nghttp2_option *
make_options(void)
{
	nghttp2_option *opt;

	if (nghttp2_option_new(&opt) != 0)
		return NULL;
	/* Bound what a peer can make us do without sending a request. */
	nghttp2_option_set_max_settings(opt, 32);
	nghttp2_option_set_max_outbound_ack(opt, 1000);
	nghttp2_option_set_max_continuations(opt, 8);
	nghttp2_option_set_stream_reset_rate_limit(opt, 1000, 100);
	nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
	return opt;
}

static int
start_session(struct h2_conn *h)
{
	nghttp2_session_callbacks *cbs = make_callbacks();
	nghttp2_option *opt = make_options();
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, (uint32_t)gw.cfg->h2_max_concurrent_streams },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)gw.cfg->max_header_bytes },
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
	};
	int rc = -1;

	if (cbs == NULL || opt == NULL ||
	    nghttp2_session_server_new2(&h->session, cbs, h, opt) != 0)
		goto out;
	if (nghttp2_submit_settings(h->session, NGHTTP2_FLAG_NONE, iv, ARRAY_SIZE(iv)) != 0)
		goto out;
	rc = 0;
out:
	if (cbs)
		nghttp2_session_callbacks_del(cbs);
	if (opt)
		nghttp2_option_del(opt);
	return rc;
}

static void
h2_on_start(struct gw_conn *c)
{
	struct h2_conn *h = gw_xcalloc(1, sizeof(*h));

	h->magic = H2_MAGIC;
	h->conn = c;
	TAILQ_INIT(&h->streams);
	TAILQ_INIT(&h->held);
	c->proto_data = h;
	if (start_session(h) < 0) {
		olog_error(c, "cannot start an HTTP/2 session; closing");
		conn_close(c, "HTTP/2 set-up failed");
		return;
	}
	set_idle_deadline(h);
	schedule_send(h);	/* our SETTINGS */
}

static void
h2_on_close(struct gw_conn *c)
{
	struct h2_conn *h = c->proto_data;
	struct h2_stream *s;

	if (h == NULL)
		return;
	GW_CHECK(h, H2_MAGIC);
	while ((s = TAILQ_FIRST(&h->streams)) != NULL)
		stream_free(s);		/* detaches requests still with a handler */
	loop_defer_cancel(&h->send_later);
	nghttp2_session_del(h->session);
	h->magic = 0;
	free(h);
	c->proto_data = NULL;
}

/* Graceful shutdown: GOAWAY with the last stream we took; close when they are done. */
static void
h2_on_shutdown(struct gw_conn *c)
{
	struct h2_conn *h = c->proto_data;

	GW_CHECK(h, H2_MAGIC);
	if (h->goaway_sent)
		return;
	h->goaway_sent = true;
	nghttp2_submit_goaway(h->session, NGHTTP2_FLAG_NONE,
	    nghttp2_session_get_last_proc_stream_id(h->session), NGHTTP2_NO_ERROR, NULL, 0);
	h2_send_now(h);
}

const struct conn_proto http2_proto = {
	.name = "h2",
	.on_start = h2_on_start,
	.on_read = h2_on_read,
	.on_drained = h2_on_drained,
	.on_close = h2_on_close,
	.on_shutdown = h2_on_shutdown,
};
