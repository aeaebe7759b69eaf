/*
 * ws.c - WebSocket server side (see ws.h).
 *
 * Origin: a browser says which page opened the socket; a player or a
 * library outside a browser sends no Origin. A page of another site must
 * not drive the gateway from a control room's browser (it would log in
 * with guessed passwords from that room's address), so an upgrade with an
 * Origin is accepted only from the gateway's own origin (the Host the
 * request names, over the scheme of the listener) or one listed in
 * [security] websocket_origins.
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/conn.h"
#include "gateway/http.h"
#include "gateway/log.h"
#include "gateway/ws.h"
#include "proto/base64.h"
#include "proto/msg.h"
#include "proto/wsframe.h"

#include <event2/buffer.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_CLOSE_REASON_MAX 123	/* a close frame's payload is at most 125 bytes, the code included */

/* --- the handshake --------------------------------------------------------------- */

bool
ws_is_upgrade(const struct msg *m)
{
	const struct msg_header *up = msg_header(m, "Upgrade");
	const struct msg_header *co = msg_header(m, "Connection");

	return proto_str_eq(m->method, "GET") && up && co &&
	    msg_value_has_token(up->value, "websocket") && msg_value_has_token(co->value, "upgrade");
}

static void
refuse(struct gw_conn *c, const struct msg *m, int status, const char *why)
{
	char line[200];

	evbuffer_drain(c->in, m->head_len);
	snprintf(line, sizeof(line), "WebSocket upgrade refused: %s", why);
	http_refuse_conn(c, status, line);
}

static bool
origin_allowed(const struct gw_conn *c, const struct msg *m)
{
	char origin[300], host[272];

	if (msg_header_count(m, "Origin") == 0)
		return true;
	if (!msg_header_single(m, "Origin", origin, sizeof(origin)))
		return false;
	if (msg_header_single(m, "Host", host, sizeof(host)) && http_is_own_origin(c->tls, host, origin))
		return true;
	return gw_list_has(gw.cfg->websocket_origins, origin);
}

/* The first of |wanted| (server order) that Sec-WebSocket-Protocol offers. */
static const char *
pick_subprotocol(const struct msg *m, const char *const *wanted)
{
	const struct msg_header *h = msg_header(m, "Sec-WebSocket-Protocol");

	for (; h != NULL && *wanted != NULL; wanted++)
		if (msg_value_has_token(h->value, *wanted))
			return *wanted;
	return NULL;
}

static void
accept_key(const char *key, char out[64])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	char buf[128];

	snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);
	EVP_Digest(buf, strlen(buf), digest, &dlen, EVP_sha1(), NULL);
	base64_encode(digest, dlen, out, 64);
}

bool
ws_accept(struct ws *w, struct gw_conn *c, const struct msg *m, const char *const *subprotocols,
    void (*on_message)(void *arg, const uint8_t *data, size_t len), void *arg)
{
	char key[64], version[8], accept[64];
	const char *proto = pick_subprotocol(m, subprotocols);

	if (!msg_header_single(m, "Sec-WebSocket-Key", key, sizeof(key)) || strlen(key) != 24 ||
	    !msg_header_single(m, "Sec-WebSocket-Version", version, sizeof(version)) ||
	    strcmp(version, "13") != 0) {
		refuse(c, m, 400, "invalid WebSocket handshake");
		return false;
	}
	if (!origin_allowed(c, m)) {
		refuse(c, m, 403, "the page's Origin is not allowed "
		    "(see [security] websocket_origins)");
		return false;
	}
	if (proto == NULL) {
		refuse(c, m, 400, "no WebSocket subprotocol the gateway speaks was offered");
		return false;
	}
	accept_key(key, accept);
	evbuffer_drain(c->in, m->head_len);
	conn_printf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
	    accept, proto);
	memset(w, 0, sizeof(*w));
	w->conn = c;
	w->on_message = on_message;
	w->arg = arg;
	return true;
}

/* --- input ------------------------------------------------------------------------------ */

/* wslay reads only whole frames, so that it is never left holding half of one. */
static ssize_t
on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
	struct ws *w = user;
	int n = w->feed == 0 ? 0 : evbuffer_remove(w->conn->in, buf, GW_MIN(len, w->feed));

	(void)flags;
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	w->feed -= (size_t)n;
	return n;
}

/* What wslay sends itself (pongs, the answer to a close) goes with the rest of the output. */
static ssize_t
on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
	struct ws *w = user;

	(void)ctx;
	(void)flags;
	evbuffer_add(conn_out(w->conn), data, len);
	return (ssize_t)len;
}

static void
on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
	struct ws *w = user;

	(void)ctx;
	if (arg->opcode == WSLAY_BINARY_FRAME || arg->opcode == WSLAY_TEXT_FRAME)
		w->on_message(w->arg, arg->msg, arg->msg_length);
	else if (arg->opcode == WSLAY_CONNECTION_CLOSE)
		w->peer_closed = true;
}

static const struct wslay_event_callbacks callbacks = {
	.recv_callback = on_recv,
	.send_callback = on_send,
	.on_msg_recv_callback = on_msg,
};

/*
 * The whole frames that have arrived, and whether a fragmented message is
 * open after them. False on a frame that breaks the protocol or the size limit.
 */
static bool
count_frames(struct ws *w)
{
	struct evbuffer *in = w->conn->in;
	size_t avail = evbuffer_get_length(in), at = 0;
	const uint8_t *p = evbuffer_pullup(in, (ssize_t)avail);
	struct ws_frame_span s;
	int r = 0;

	while (at < avail && (r = ws_frame_span(p + at, avail - at, WS_MAX_MESSAGE, &s)) == 0) {
		if (s.opcode < 8)	/* control frames may come between fragments */
			w->fragmented = !s.fin;
		at += s.len;
	}
	w->feed = at;
	return at == avail || r == PROTO_AGAIN;
}

static bool
wake(struct ws *w)
{
	if (w->ctx != NULL)
		return true;
	if (wslay_event_context_server_init(&w->ctx, &callbacks, w) != 0)
		return false;
	wslay_event_config_set_max_recv_msg_length(w->ctx, WS_MAX_MESSAGE);
	return true;
}

int
ws_read(struct ws *w)
{
	if (!count_frames(w)) {
		olog_info(w->conn, "WebSocket frame too large or malformed; closing");
		return -1;
	}
	if (w->feed == 0)
		return 0;	/* the rest of a frame is still on its way */
	if (!wake(w)) {
		olog_warn(w->conn, "out of memory for a WebSocket parser; closing");
		return -1;
	}
	if (wslay_event_recv(w->ctx) != 0) {
		olog_info(w->conn, "WebSocket protocol error; closing");
		return -1;
	}
	wslay_event_send(w->ctx);
	if (w->peer_closed || (!wslay_event_want_read(w->ctx) && !wslay_event_want_write(w->ctx)))
		return 1;
	return 0;
}

void
ws_sleep_if_idle(struct ws *w)
{
	if (w->ctx == NULL || w->feed > 0 || w->fragmented || wslay_event_want_write(w->ctx) ||
	    !wslay_event_want_read(w->ctx))
		return;
	wslay_event_context_free(w->ctx);
	w->ctx = NULL;
}

void
ws_release(struct ws *w)
{
	if (w->ctx != NULL)
		wslay_event_context_free(w->ctx);
	w->ctx = NULL;
}

/* --- output ------------------------------------------------------------------------------ */

/* A final binary frame from the server (never masked). Returns the header length. */
static int
frame_header(uint8_t hdr[10], uint64_t len)
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

void
ws_send_binary(struct ws *w, const void *data, size_t len)
{
	uint8_t hdr[10];
	struct evbuffer *out = conn_out(w->conn);

	evbuffer_add(out, hdr, (size_t)frame_header(hdr, len));
	evbuffer_add(out, data, len);
}

bool
ws_in_frame(const struct ws *w)
{
	return w->left > 0 || w->hdr_sent < w->hdr_len;
}

size_t
ws_frame_open(struct ws *w, size_t len)
{
	if (!ws_in_frame(w) && len > 0) {
		w->hdr_len = (uint8_t)frame_header(w->hdr, len);
		w->hdr_sent = 0;
		w->left = len;
	}
	return (size_t)GW_MIN(w->left, (uint64_t)len);
}

void
ws_frame_iov(const struct ws *w, struct iovec *iov)
{
	iov->iov_base = (void *)(w->hdr + w->hdr_sent);
	iov->iov_len = (size_t)(w->hdr_len - w->hdr_sent);
}

size_t
ws_frame_written(struct ws *w, size_t n)
{
	size_t h = GW_MIN(n, (size_t)(w->hdr_len - w->hdr_sent));

	w->hdr_sent = (uint8_t)(w->hdr_sent + h);
	n -= h;
	w->left -= n;
	return n;
}

void
ws_send_close(struct ws *w, uint16_t code, const char *reason)
{
	uint8_t f[4 + WS_CLOSE_REASON_MAX];
	size_t n = GW_MIN(strlen(reason), (size_t)WS_CLOSE_REASON_MAX);

	if (!conn_is_open(w->conn) || ws_in_frame(w))
		return;
	f[0] = 0x88;			/* FIN, close */
	f[1] = (uint8_t)(2 + n);
	f[2] = (uint8_t)(code >> 8);
	f[3] = (uint8_t)code;
	memcpy(f + 4, reason, n);
	evbuffer_add(conn_out(w->conn), f, 4 + n);
}
