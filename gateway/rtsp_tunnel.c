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
 * rtsp.onvif.org (or "binary", as Axis clients ask), through gateway/ws.c;
 * each message the client sends is RTSP input, and the server's frames
 * are written by rtsp_out.c.
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/conn.h"
#include "gateway/http.h"
#include "gateway/log.h"
#include "gateway/loop.h"
#include "gateway/rtsp.h"
#include "gateway/ws.h"

#include <event2/buffer.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WS_PATH "/rtsp-over-websocket"
#define TUNNEL_MIME "application/x-rtsp-tunnelled"

TAILQ_HEAD(tunnel_list, rtsp_conn);

static struct tunnel_list tunnels = TAILQ_HEAD_INITIALIZER(tunnels);

/* "refused: why", and the status. */
static void
http_error(struct gw_conn *c, int status, const char *why)
{
	char line[200];

	snprintf(line, sizeof(line), "refused: %s", why);
	http_refuse_conn(c, status, line);
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

/*
 * The tunnel ends with its POST side: a POST that came later could only
 * join by knowing the cookie, which any process on the client's host may
 * have seen, so no second POST is ever attached.
 */
static void
post_on_close(struct gw_conn *c)
{
	struct rtsp_conn *rc = c->proto_data;

	c->proto_data = NULL;
	if (rc == NULL || rc->post_conn != c)
		return;
	rc->post_conn = NULL;
	rtsp_conn_close(rc, "the tunnel's POST side closed");
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
			http_error(w->conn, 404, "no tunnel GET came for this cookie");
	}
}

static bool
start_tunnel_get(struct gw_conn *c, const struct msg *m, const char *cookie)
{
	struct rtsp_conn *rc;

	if (tunnel_find(cookie) != NULL) {
		http_error(c, 409, "tunnel cookie already in use");
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
	rc->had_post = true;
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
		http_error(c, 503, "too many tunnel POSTs wait for their GET");
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
		http_error(c, 404, "no tunnel waits for this cookie from this address");
		return true;
	}
	if (rc != NULL && (rc->had_post || !conn_is_open(rc->conn))) {
		http_error(c, 409, "the tunnel already has had its POST connection");
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

static void
ws_on_message(void *arg, const uint8_t *data, size_t len)
{
	struct rtsp_conn *rc = arg;

	evbuffer_add(rtsp_conn_input(rc), data, len);
}

static void
ws_on_read(struct gw_conn *c)
{
	struct rtsp_conn *rc = c->proto_data;
	int r;

	GW_CHECK(rc, RTSP_CONN_MAGIC);
	if ((r = ws_read(&rc->ws)) < 0) {
		conn_close(c, "WebSocket protocol error");
		return;
	}
	rtsp_conn_process(rc);
	rtsp_write(rc);
	if (r > 0) {
		conn_close_after_flush(c, "WebSocket closed by the client");
		return;
	}
	ws_sleep_if_idle(&rc->ws);
}

static void
ws_on_close(struct gw_conn *c)
{
	struct rtsp_conn *rc = c->proto_data;

	if (rc == NULL)
		return;
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

static bool
start_websocket(struct gw_conn *c, const struct msg *m)
{
	static const char *const subprotocols[] = { "rtsp.onvif.org", "binary", NULL };
	struct rtsp_conn *rc = rtsp_conn_new(c, WIRE_WEBSOCKET);

	if (!ws_accept(&rc->ws, c, m, subprotocols, ws_on_message, rc)) {
		rtsp_conn_free(rc);
		return true;
	}
	conn_set_proto(c, &ws_proto, rc);
	c->deadline_us = gw_mono_us() + gw.cfg->idle_timeout_ms * 1000;
	if (evbuffer_get_length(c->in) > 0)
		ws_on_read(c);
	return true;
}

/* --- the takeover hook ----------------------------------------------------------------------- */

bool
rtsp_http_takeover(struct gw_conn *c, const struct msg *m)
{
	char cookie[80];
	bool get = proto_str_eq(m->method, "GET"), post = proto_str_eq(m->method, "POST");
	int ncookies = msg_header_count(m, "x-sessioncookie");

	if (ws_is_upgrade(m) && proto_str_eq(m->target, WS_PATH))
		return start_websocket(c, m);
	if (ncookies == 0 || (!get && !post))
		return false;
	if (ncookies > 1 || !msg_header_single(m, "x-sessioncookie", cookie, sizeof(cookie)) ||
	    !valid_cookie(cookie)) {
		http_error(c, 400, "invalid or repeated x-sessioncookie");
		return true;
	}
	if (msg_header_count(m, "Accept") > 1 || msg_header_count(m, "Content-Type") > 1) {
		http_error(c, 400, "repeated Accept or Content-Type in a tunnel request");
		return true;
	}
	return get ? start_tunnel_get(c, m, cookie) : start_tunnel_post(c, m, cookie);
}

void
rtsp_tunnel_init(void)
{
	loop_janitor_add(tunnel_janitor);
}
