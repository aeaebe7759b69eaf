/*
 * rtsp_tunnel.c - RTSP over HTTP (the GET/POST tunnel) and RTSP over
 * WebSocket, taken over from the HTTP/1.1 server before routing, so both
 * work on every listener, on the same port as the web services.
 *
 * Tunnel: a GET with x-sessioncookie becomes the output side (responses and
 * media); a POST with the same cookie, from the same address, on another
 * connection, becomes the input side, its body a stream of base64 RTSP
 * requests. The header checks are strict because this is where other
 * servers broke: exactly one cookie header, bounded and printable; a POST
 * can only join a GET that is waiting for one.
 *
 * WebSocket: a GET upgrade on /rtsp-over-websocket with subprotocol
 * rtsp.onvif.org (or "binary", as Axis clients ask); wslay parses the
 * client's frames; the server's frames are written by rtsp_out.c.
 */
#include "gw.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "loop.h"
#include "rtsp.h"
#include "../proto/wsframe.h"

#include <event2/buffer.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#define WS_PATH "/rtsp-over-websocket"
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_MAX_MESSAGE 65536
#define TUNNEL_MIME "application/x-rtsp-tunnelled"

TAILQ_HEAD(tunnel_list, rtsp_conn);

static struct tunnel_list tunnels = TAILQ_HEAD_INITIALIZER(tunnels);

static void
http_error(struct gw_conn *c, int status, const char *reason, const char *why)
{
	olog_info(c, "refused: %s", why);
	conn_printf(c, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status, reason);
	conn_close_after_flush(c, why);
}

/* The single value of a header that must appear once; NULL if absent or repeated. */
static bool
single_header(const struct msg *m, const char *name, char *out, size_t outlen)
{
	return msg_header_count(m, name) == 1 && msg_header_copy(m, name, out, outlen);
}

static bool
valid_cookie(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return false;
	return true;
}

/* --- the tunnel's GET side ----------------------------------------------------------- */

static void
get_on_read(struct gw_conn *c)
{
	/* The client has nothing to say on this side; what it sends is dropped. */
	evbuffer_drain(c->in, evbuffer_get_length(c->in));
	conn_release_input(c);
}

static void
get_on_writable(struct gw_conn *c)
{
	rtsp_write(c->proto_data);
}

static void
get_on_close(struct gw_conn *c)
{
	if (c->proto_data)
		rtsp_conn_free(c->proto_data);
	c->proto_data = NULL;
}

static void
tunnel_on_shutdown(struct gw_conn *c)
{
	struct rtsp_conn *rc = c->proto_data;

	if (rc && rc->session)
		rtsp_session_end(rc->session, "server shutting down");
	conn_close_after_flush(c, "shutting down");
}

static const struct conn_proto tunnel_get_proto = {
	.name = "rtsp-http",
	.on_read = get_on_read,
	.on_writable = get_on_writable,
	.on_close = get_on_close,
	.on_shutdown = tunnel_on_shutdown,
};

/* --- the tunnel's POST side ---------------------------------------------------------------- */

static void
post_on_read(struct gw_conn *c)
{
	struct rtsp_conn *rc = c->proto_data;
	uint8_t out[BASE64_DECODED_MAX(16384)];

	if (rc == NULL) {
		conn_close(c, "tunnel gone");
		return;
	}
	while (evbuffer_get_length(c->in) > 0) {
		size_t n = GW_MIN(evbuffer_get_length(c->in), (size_t)16384);
		const char *p = (const char *)evbuffer_pullup(c->in, (ssize_t)n);
		int d = base64_dec_push(&rc->b64, p, n, out, sizeof(out));

		if (d < 0) {
			olog_info(c, "tunnel body is not base64; closing the tunnel");
			rtsp_conn_close(rc, "bad tunnel body");
			return;
		}
		evbuffer_drain(c->in, n);
		evbuffer_add(rtsp_conn_input(rc), out, (size_t)d);
	}
	conn_release_input(c);
	rtsp_conn_process(rc);
}

static void
post_on_close(struct gw_conn *c)
{
	struct rtsp_conn *rc = c->proto_data;

	if (rc != NULL && rc->post_conn == c)
		rc->post_conn = NULL;
	c->proto_data = NULL;
}

static const struct conn_proto tunnel_post_proto = {
	.name = "rtsp-http-post",
	.on_read = post_on_read,
	.on_close = post_on_close,
};

void
rtsp_tunnel_unlink(struct rtsp_conn *rc)
{
	if (rc->cookie[0] != '\0') {
		TAILQ_REMOVE(&tunnels, rc, tunnel_link);
		rc->cookie[0] = '\0';
	}
	if (rc->post_conn) {
		rc->post_conn->proto_data = NULL;
		conn_close(rc->post_conn, "tunnel closed");
		rc->post_conn = NULL;
	}
}

static struct rtsp_conn *
tunnel_find(const char *cookie)
{
	struct rtsp_conn *rc;

	TAILQ_FOREACH(rc, &tunnels, tunnel_link)
		if (strcmp(rc->cookie, cookie) == 0)
			return rc;
	return NULL;
}

/*
 * A POST that arrived before its GET (clients open both at once, and either
 * may be read first): it waits, its body buffered, until the GET with its
 * cookie comes from the same host, or TUNNEL_POST_WAIT_US passes.
 */
#define TUNNEL_POST_WAIT_US 2000000
#define TUNNEL_MAX_WAITING 64

struct waiting_post {
	struct gw_conn *conn;
	char cookie[65];
	int64_t deadline_us;
	TAILQ_ENTRY(waiting_post) link;
};

TAILQ_HEAD(waiting_list, waiting_post);

static struct waiting_list waiting_posts = TAILQ_HEAD_INITIALIZER(waiting_posts);
static int nwaiting;

static void attach_post(struct rtsp_conn *rc, struct gw_conn *c);

static void
wait_on_read(struct gw_conn *c)
{
	/* Keep the body for the tunnel; bounded like any request input. */
	if (evbuffer_get_length(c->in) > (size_t)gw.cfg->max_header_bytes)
		conn_close(c, "tunnel POST body before its GET");
}

static void
wait_on_close(struct gw_conn *c)
{
	struct waiting_post *w = c->proto_data;

	if (w == NULL)
		return;
	TAILQ_REMOVE(&waiting_posts, w, link);
	nwaiting--;
	free(w);
	c->proto_data = NULL;
}

static const struct conn_proto tunnel_wait_proto = {
	.name = "rtsp-http-post",
	.on_read = wait_on_read,
	.on_close = wait_on_close,
};

/* A GET registered |rc|: the POST that came first joins it now. */
static void
join_waiting_post(struct rtsp_conn *rc)
{
	struct waiting_post *w;

	TAILQ_FOREACH(w, &waiting_posts, link) {
		struct gw_conn *c = w->conn;

		if (strcmp(w->cookie, rc->cookie) != 0 || !gw_same_host(&rc->conn->peer, &c->peer))
			continue;
		attach_post(rc, c);	/* frees |w| through wait_on_close */
		return;
	}
}

static void
tunnel_janitor(int64_t now)
{
	struct waiting_post *w, *next;

	for (w = TAILQ_FIRST(&waiting_posts); w != NULL; w = next) {
		next = TAILQ_NEXT(w, link);
		if (now >= w->deadline_us && w->conn->state == CONN_ACTIVE)
			http_error(w->conn, 404, "Not Found", "no tunnel GET came for this cookie");
	}
}

static bool
start_tunnel_get(struct gw_conn *c, const struct msg *m, const char *cookie)
{
	struct rtsp_conn *rc;

	if (tunnel_find(cookie) != NULL) {
		http_error(c, 409, "Conflict", "tunnel cookie already in use");
		return true;
	}
	evbuffer_drain(c->in, m->head_len);
	conn_printf(c, "HTTP/1.0 200 OK\r\nServer: vssgate\r\nConnection: close\r\n"
	    "Cache-Control: no-store\r\nPragma: no-cache\r\nContent-Type: " TUNNEL_MIME "\r\n\r\n");
	rc = rtsp_conn_new(c, WIRE_TUNNEL);
	snprintf(rc->cookie, sizeof(rc->cookie), "%s", cookie);
	TAILQ_INSERT_TAIL(&tunnels, rc, tunnel_link);
	conn_set_proto(c, &tunnel_get_proto, rc);
	conn_release_input(c);	/* nothing more comes in on this side */
	c->deadline_us = gw_mono_us() + gw.cfg->idle_timeout_ms * 1000;
	join_waiting_post(rc);
	return true;
}

/* |c| becomes the request side of |rc|; what it already sent is processed. */
static void
attach_post(struct rtsp_conn *rc, struct gw_conn *c)
{
	rc->post_conn = c;
	base64_dec_init(&rc->b64);
	conn_set_proto(c, &tunnel_post_proto, rc);
	rc->conn->deadline_us = 0;
	if (evbuffer_get_length(c->in) > 0)
		post_on_read(c);
}

static void
wait_for_get(struct gw_conn *c, const char *cookie)
{
	struct waiting_post *w;

	if (nwaiting >= TUNNEL_MAX_WAITING) {
		http_error(c, 503, "Service Unavailable", "too many tunnel POSTs wait for their GET");
		return;
	}
	w = gw_xcalloc(1, sizeof(*w));
	w->conn = c;
	snprintf(w->cookie, sizeof(w->cookie), "%s", cookie);
	w->deadline_us = gw_mono_us() + TUNNEL_POST_WAIT_US;
	TAILQ_INSERT_TAIL(&waiting_posts, w, link);
	nwaiting++;
	conn_set_proto(c, &tunnel_wait_proto, w);
}

static bool
start_tunnel_post(struct gw_conn *c, const struct msg *m, const char *cookie)
{
	struct rtsp_conn *rc = tunnel_find(cookie);

	if (rc != NULL && (rc->conn == c || !gw_same_host(&rc->conn->peer, &c->peer))) {
		http_error(c, 404, "Not Found", "no tunnel waits for this cookie from this address");
		return true;
	}
	if (rc != NULL && rc->post_conn != NULL) {
		http_error(c, 409, "Conflict", "the tunnel already has its POST connection");
		return true;
	}
	/* Content-Length is a placeholder (32767...): the body is an endless stream. */
	evbuffer_drain(c->in, m->head_len);
	if (rc == NULL)
		wait_for_get(c, cookie);
	else
		attach_post(rc, c);
	return true;
}

/* --- WebSocket ------------------------------------------------------------------------------- */

/* wslay reads only whole frames, so that it is never left holding half of one. */
static ssize_t
ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
	struct rtsp_conn *rc = user;
	int n = rc->ws_feed == 0 ? 0 : evbuffer_remove(rc->conn->in, buf, GW_MIN(len, rc->ws_feed));

	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	rc->ws_feed -= (size_t)n;
	return n;
}

static ssize_t
ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
	struct rtsp_conn *rc = user;

	evbuffer_add(conn_out(rc->conn), data, len);
	return (ssize_t)len;
}

static void
ws_on_message(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
    void *user)
{
	struct rtsp_conn *rc = user;

	if (arg->opcode == WSLAY_BINARY_FRAME || arg->opcode == WSLAY_TEXT_FRAME)
		evbuffer_add(rtsp_conn_input(rc), arg->msg, arg->msg_length);
	else if (arg->opcode == WSLAY_CONNECTION_CLOSE)
		conn_close_after_flush(rc->conn, "WebSocket closed by the client");	/* no close frame of ours */
}

static const struct wslay_event_callbacks ws_callbacks = {
	.recv_callback = ws_recv,
	.send_callback = ws_send,
	.on_msg_recv_callback = ws_on_message,
};

/*
 * The whole frames that have arrived, and whether a fragmented message is
 * open after them. Returns false on a frame that breaks the protocol or the
 * size limit.
 */
static bool
ws_count_frames(struct rtsp_conn *rc)
{
	struct evbuffer *in = rc->conn->in;
	size_t avail = evbuffer_get_length(in), at = 0;
	const uint8_t *p = evbuffer_pullup(in, (ssize_t)avail);
	struct ws_frame_span s;
	int r = 0;

	while (at < avail && (r = ws_frame_span(p + at, avail - at, WS_MAX_MESSAGE, &s)) == 0) {
		if (s.opcode < 8)	/* control frames may come between fragments */
			rc->ws_fragmented = !s.fin;
		at += s.len;
	}
	rc->ws_feed = at;
	return at == avail || r == PROTO_AGAIN;
}

/*
 * A wslay context is about 8 KiB (its frame input buffer among it), more
 * than the rest of a reader. RTSP clients speak on the WebSocket only to
 * set up and keep alive, so the context lives only while input is parsed
 * and is freed once nothing is half-read or waiting to be sent.
 */
static bool
ws_wake(struct rtsp_conn *rc)
{
	if (rc->ws != NULL)
		return true;
	if (wslay_event_context_server_init(&rc->ws, &ws_callbacks, rc) != 0)
		return false;
	wslay_event_config_set_max_recv_msg_length(rc->ws, WS_MAX_MESSAGE);
	return true;
}

static void
ws_sleep_if_idle(struct rtsp_conn *rc)
{
	if (rc->ws == NULL || rc->ws_feed > 0 || rc->ws_fragmented || wslay_event_want_write(rc->ws) ||
	    !wslay_event_want_read(rc->ws))
		return;
	wslay_event_context_free(rc->ws);
	rc->ws = NULL;
}

static void
ws_on_read(struct gw_conn *c)
{
	struct rtsp_conn *rc = c->proto_data;

	GW_CHECK(rc, RTSP_CONN_MAGIC);
	if (!ws_count_frames(rc)) {
		olog_info(c, "WebSocket frame too large or malformed; closing");
		conn_close(c, "WebSocket protocol error");
		return;
	}
	if (rc->ws_feed == 0)
		return;		/* the rest of a frame is still on its way */
	if (!ws_wake(rc)) {
		conn_close(c, "out of memory");
		return;
	}
	if (wslay_event_recv(rc->ws) != 0) {
		olog_info(c, "WebSocket protocol error; closing");
		conn_close(c, "WebSocket protocol error");
		return;
	}
	rtsp_conn_process(rc);
	wslay_event_send(rc->ws);
	rtsp_write(rc);
	if (!wslay_event_want_read(rc->ws) && !wslay_event_want_write(rc->ws)) {
		conn_close_after_flush(c, "WebSocket closed");
		return;
	}
	ws_sleep_if_idle(rc);
}

static void
ws_on_close(struct gw_conn *c)
{
	struct rtsp_conn *rc = c->proto_data;

	if (rc == NULL)
		return;
	if (rc->ws != NULL)
		wslay_event_context_free(rc->ws);
	rtsp_conn_free(rc);
	c->proto_data = NULL;
}

static const struct conn_proto ws_proto = {
	.name = "rtsp-ws",
	.on_read = ws_on_read,
	.on_writable = get_on_writable,
	.on_close = ws_on_close,
	.on_shutdown = tunnel_on_shutdown,
};

/* Pick rtsp.onvif.org, else binary, from Sec-WebSocket-Protocol. */
static const char *
ws_subprotocol(const struct msg *m)
{
	const struct msg_header *h = msg_header(m, "Sec-WebSocket-Protocol");

	if (h == NULL)
		return NULL;
	if (msg_value_has_token(h->value, "rtsp.onvif.org"))
		return "rtsp.onvif.org";
	if (msg_value_has_token(h->value, "binary"))
		return "binary";
	return NULL;
}

static void
ws_accept_key(const char *key, char out[64])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	char buf[128];

	snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);
	EVP_Digest(buf, strlen(buf), digest, &dlen, EVP_sha1(), NULL);
	base64_encode(digest, dlen, out, 64);
}

static bool
start_websocket(struct gw_conn *c, const struct msg *m)
{
	char key[64], version[8], accept[64];
	const char *proto = ws_subprotocol(m);
	struct rtsp_conn *rc;

	if (!single_header(m, "Sec-WebSocket-Key", key, sizeof(key)) || strlen(key) != 24 ||
	    !single_header(m, "Sec-WebSocket-Version", version, sizeof(version)) ||
	    strcmp(version, "13") != 0) {
		http_error(c, 400, "Bad Request", "invalid WebSocket handshake");
		return true;
	}
	if (proto == NULL) {
		http_error(c, 400, "Bad Request", "WebSocket subprotocol must be rtsp.onvif.org or binary");
		return true;
	}
	ws_accept_key(key, accept);
	evbuffer_drain(c->in, m->head_len);
	conn_printf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
	    accept, proto);
	rc = rtsp_conn_new(c, WIRE_WEBSOCKET);
	conn_set_proto(c, &ws_proto, rc);
	c->deadline_us = gw_mono_us() + gw.cfg->idle_timeout_ms * 1000;
	if (evbuffer_get_length(c->in) > 0)
		ws_on_read(c);
	return true;
}

/* --- the takeover hook ----------------------------------------------------------------------- */

static bool
is_websocket_upgrade(const struct msg *m)
{
	const struct msg_header *up = msg_header(m, "Upgrade");
	const struct msg_header *co = msg_header(m, "Connection");

	return up && co && msg_value_has_token(up->value, "websocket") &&
	    msg_value_has_token(co->value, "upgrade");
}

bool
rtsp_http_takeover(struct gw_conn *c, const struct msg *m)
{
	char cookie[80];
	bool get = proto_str_eq(m->method, "GET"), post = proto_str_eq(m->method, "POST");
	int ncookies = msg_header_count(m, "x-sessioncookie");

	if (get && is_websocket_upgrade(m) && proto_str_eq(m->target, WS_PATH))
		return start_websocket(c, m);
	if (ncookies == 0 || (!get && !post))
		return false;
	if (ncookies > 1 || !single_header(m, "x-sessioncookie", cookie, sizeof(cookie)) ||
	    !valid_cookie(cookie)) {
		http_error(c, 400, "Bad Request", "invalid or repeated x-sessioncookie");
		return true;
	}
	if (msg_header_count(m, "Accept") > 1 || msg_header_count(m, "Content-Type") > 1) {
		http_error(c, 400, "Bad Request", "repeated Accept or Content-Type in a tunnel request");
		return true;
	}
	return get ? start_tunnel_get(c, m, cookie) : start_tunnel_post(c, m, cookie);
}

void
rtsp_tunnel_init(void)
{
	loop_janitor_add(tunnel_janitor);
}
