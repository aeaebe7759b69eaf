/*
 * conn.h - an accepted connection: listener, TLS, protocol sniffing, buffers,
 * timeouts and deferred close. Protocol modules (RTSP, HTTP/1.1, HTTP/2)
 * attach a struct conn_proto and work on c->in / c->out.
 *
 * Lifetime: a connection is created by the listener and owned by this module.
 * conn_close() never frees: it marks the connection CONN_DEAD (or CONN_CLOSING
 * while the last bytes drain), stops its events and queues it for the reaper,
 * which calls proto->on_close() and frees it after the current loop pass. So
 * a callback may call conn_close() on its own connection and keep using the
 * pointer until it returns.
 *
 * States change only through conn_set_state(), which refuses (and logs)
 * a move this list does not allow:
 *
 *   NEW           -> TLS_HANDSHAKE (TLS listener) | SNIFF | DEAD
 *   TLS_HANDSHAKE -> SNIFF | DEAD
 *   SNIFF         -> ACTIVE (protocol recognised) | CLOSING | DEAD
 *   ACTIVE        -> CLOSING (flush, then die) | DEAD
 *   CLOSING       -> DEAD
 *
 * What a peer can make a connection hold is bounded here, for every
 * protocol: a request head must arrive whole within [limits] header_timeout
 * of its first byte (protocols report heads with conn_set_head_pending()),
 * an address may have at most max_pending_connections_per_address
 * connections in their handshake or in a request head at once, and reading
 * stops while more than max_output_bytes wait to be sent (a peer that
 * pipelines requests without reading the answers).
 *
 * A peer that closes its side (FIN after its last request) has what it sent
 * processed and answered: reading stops, the protocol sees the bytes, and
 * then its on_peer_eof() (or, without one, a close once c->out is sent).
 */
#ifndef GW_CONN_H
#define GW_CONN_H

#include "gw.h"
#include "loop.h"

#include <sys/socket.h>
#include <sys/uio.h>

#define CONN_MAGIC 0x636f6e6eU	/* "conn" */

enum conn_state {
	CONN_NEW,		/* allocated, not yet started */
	CONN_TLS_HANDSHAKE,	/* TLS listener, handshake not finished */
	CONN_SNIFF,		/* waiting for enough bytes to tell the protocol */
	CONN_ACTIVE,		/* a protocol handler owns the byte streams */
	CONN_CLOSING,		/* no more reading; flush c->out, then die */
	CONN_DEAD,		/* closed; freed after this loop pass */
};

enum conn_kind {
	CONN_KIND_RTSP,		/* first request line ends in RTSP/1.0 */
	CONN_KIND_HTTP1,	/* first request line ends in HTTP/1.x */
	CONN_KIND_H2,		/* HTTP/2 prior knowledge, or ALPN h2 */
	CONN_KIND_COUNT,
};

struct gw_conn;

/*
 * What a protocol module provides. on_read() is called with new bytes in
 * c->in; it consumes what it can. on_writable() is optional: when set, the
 * module writes itself (media with writev); otherwise c->out is flushed.
 * on_close() frees the module's state; it runs from the reaper, once.
 */
struct conn_proto {
	const char *name;
	void (*on_start)(struct gw_conn *c);	/* the protocol was recognised */
	void (*on_read)(struct gw_conn *c);
	void (*on_writable)(struct gw_conn *c);
	void (*on_drained)(struct gw_conn *c);	/* c->out became empty */
	void (*on_close)(struct gw_conn *c);
	/* Graceful shutdown began: finish what is in flight, then close. NULL: close now. */
	void (*on_shutdown)(struct gw_conn *c);
	/*
	 * The peer closed its side; what it sent before has been through
	 * on_read(). Answer what is in flight, then close (conn_close_after_flush).
	 * NULL: close once c->out is sent.
	 */
	void (*on_peer_eof)(struct gw_conn *c);
	/*
	 * The protocol reports its request heads with conn_set_head_pending();
	 * until its first report, the first head counts from the connection's
	 * start. Without it the header deadline is off once the protocol runs.
	 */
	bool reports_heads;
};

/* Transport: plain socket or TLS. Return bytes, 0 for EOF, -1 with errno (EAGAIN). */
struct conn_io {
	ssize_t (*read)(struct gw_conn *c, void *buf, size_t len);
	ssize_t (*writev)(struct gw_conn *c, const struct iovec *iov, int iovcnt);
};

struct conn_addr;

struct gw_conn {
	uint32_t magic;
	enum conn_state state;		/* changed by conn_set_state() only */
	uint64_t id;
	int fd;
	bool tls;			/* accepted on a TLS listener */
	bool want_write;		/* EV_WRITE armed */
	bool read_paused;		/* EV_READ removed by the protocol (back-pressure) */
	bool out_paused;		/* EV_READ removed: more than max_output_bytes unsent */
	bool reading;			/* EV_READ is armed */
	bool peer_eof;			/* the peer closed its side; nothing more to read */
	bool counted_pending;		/* counted in addr->pending */
	bool io_read_wants_write;	/* TLS: SSL_read needs the socket writable */
	bool io_write_wants_read;	/* TLS: SSL_write needs the socket readable */
	struct event *ev_read;
	struct event *ev_write;		/* NULL until the first conn_want_write() */
	const struct conn_io *io;
	struct ssl_st *ssl;
	struct evbuffer *in;		/* received, not yet consumed; NULL after conn_release_input() */
	struct evbuffer *out;		/* control bytes to write; NULL until conn_out() */
	const struct conn_proto *proto;
	void *proto_data;		/* owned by proto, freed in on_close */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	char peer_str[64];		/* "10.0.0.5:4410" or "[::1]:4410" */
	char ident[96];			/* log prefix: "C-12 rtsp 10.0.0.5:4410" */
	int64_t created_us;
	int64_t last_read_us;
	int64_t deadline_us;		/* monotonic; 0 = none. The janitor closes at it. */
	int64_t head_since_us;		/* a request head is arriving since; 0 = none */
	struct conn_addr *addr;		/* per-address counts, owned by conn.c */
	uint64_t bytes_in, bytes_out;
	const char *close_reason;	/* static string, for the log */
	struct loop_deferred reap;
	TAILQ_ENTRY(gw_conn) link;
};

int conn_listeners_open(void) GW_MUSTCHECK;
/* Stop accepting (graceful shutdown); existing connections go on. */
void conn_listeners_close(void);
/* Graceful shutdown: ask each connection's protocol to wind down. */
void conn_begin_drain(void);
/* Close every connection at once (fast shutdown). */
void conn_close_all(const char *reason);
int conn_count(void);

void conn_register_proto(enum conn_kind kind, const struct conn_proto *proto);

/*
 * The one way to change c->state: logs the move at debug and refuses (with
 * an error line, returning false) a move the diagram above does not allow.
 */
bool conn_set_state(struct gw_conn *c, enum conn_state to);
const char *conn_state_name(enum conn_state st);

/*
 * The protocol holds part of a request head (true: the deadline runs from
 * the first such call) or none (false). The janitor closes a connection
 * whose head is not whole within [limits] header_timeout.
 */
void conn_set_head_pending(struct gw_conn *c, bool pending);

/*
 * Switch the handler (HTTP/1.1 -> WebSocket or tunnel): the old handler's
 * on_close() frees its state, then the new one's on_start() runs.
 */
void conn_set_proto(struct gw_conn *c, const struct conn_proto *proto, void *data);

/*
 * Free c->in if it is empty; the next read makes another. For a side that
 * only now and then carries a request in (a tunnel's POST): the buffer and
 * its last, mostly unused read chunk go between requests.
 */
void conn_release_input(struct gw_conn *c);
/* c->out, made on first use: a tunnel's POST side never writes. */
struct evbuffer *conn_out(struct gw_conn *c);
/* Bytes waiting in c->out. */
size_t conn_out_len(const struct gw_conn *c);
/* Queue bytes (copied) and make sure they get written. */
void conn_write(struct gw_conn *c, const void *data, size_t len);
void conn_printf(struct gw_conn *c, const char *fmt, ...) GW_PRINTF(2, 3);
/* Ask for on_writable (or a flush of c->out) when the socket can take more. */
void conn_want_write(struct gw_conn *c);
/* Everything was written: no need to hear from the socket until there is more. */
void conn_stop_write(struct gw_conn *c);
/* Write c->out now as far as the socket takes it. Returns -1 if the connection died. */
int conn_flush(struct gw_conn *c);
/* Write an iovec directly (protocols with on_writable). Returns bytes or -1 (EAGAIN: 0). */
ssize_t conn_writev(struct gw_conn *c, const struct iovec *iov, int iovcnt);

void conn_pause_read(struct gw_conn *c);
void conn_resume_read(struct gw_conn *c);

/* Close after c->out drains (an error response), with a reason for the log. */
void conn_close_after_flush(struct gw_conn *c, const char *reason);
/* Close now. */
void conn_close(struct gw_conn *c, const char *reason);

/* Replace the protocol part of the log identity, e.g. "rtsp" or "http". */
void conn_set_ident(struct gw_conn *c, const char *what);

bool conn_is_open(const struct gw_conn *c);
/* The local address the connection came in on (getsockname: few need it, so it is not kept). */
bool conn_local_addr(const struct gw_conn *c, struct sockaddr_storage *out);

#endif
