/*
 * conn.c - listeners and accepted connections (see conn.h).
 *
 * Every plain listener recognises RTSP, HTTP/1.1 and HTTP/2 (prior knowledge)
 * from the first bytes, so one port can carry RTSP and the web services. A
 * TLS listener does the handshake first; ALPN "h2" goes straight to HTTP/2,
 * anything else is sniffed like a plain stream (HTTPS or RTSPS).
 *
 * Bounds that hold for every protocol (see conn.h): the header deadline,
 * the per-address caps (all connections; those still in a handshake or a
 * request head), and the output bound. When the process runs out of file
 * descriptors, the listeners pause (accept() would fail again at once and
 * the loop would spin) and resume when a connection closes or a moment
 * later.
 */
#include "gw.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "loop.h"
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK        16384
#define READ_BUDGET       (256 * 1024)	/* per callback, so one peer cannot starve others */
#define WRITE_IOV_MAX     64
#define H2_PREFACE        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define ADDR_BUCKETS      4096
#define MAX_LISTENERS     (3 * CFG_MAX_LISTEN)
#define ACCEPT_PAUSE_MS   250		/* listeners rest this long when out of descriptors */
#define REFUSAL_LOG_US    (10 * 1000000LL)	/* at most one "refused" line per address per 10 s */

struct listener {
	struct evconnlistener *lev;
	bool tls;
	char addr[64];
};

/*
 * Per peer address: open connections (max_connections_per_address) and, of
 * those, the ones in a handshake or a request head
 * (max_pending_connections_per_address). Lives while count > 0.
 */
struct conn_addr {
	unsigned char key[16];
	int count;
	int pending;
	int64_t refusal_logged_us;	/* last "refused" log line for this address */
	int refused_quietly;		/* refusals since, not logged one by one */
	struct conn_addr *next;
};

TAILQ_HEAD(conn_list, gw_conn);

static struct listener listeners[MAX_LISTENERS];
static int nlisteners;
static struct conn_list open_conns = TAILQ_HEAD_INITIALIZER(open_conns);
static int nconns;
static uint64_t next_conn_id = 1;
static const struct conn_proto *protos[CONN_KIND_COUNT];
static struct conn_addr *addr_table[ADDR_BUCKETS];
static bool janitor_registered;
static bool accept_paused;		/* listeners disabled: out of file descriptors */
static int accept_pauses;		/* since the last "accepting again" line */
static struct event *accept_resume_ev;
static int64_t max_conn_logged_us;

static void conn_read_cb(evutil_socket_t fd, short what, void *arg);
static void conn_write_cb(evutil_socket_t fd, short what, void *arg);
static void accept_resume(void);

/* --- transports ----------------------------------------------------------- */

static ssize_t
plain_read(struct gw_conn *c, void *buf, size_t len)
{
	return read(c->fd, buf, len);
}

static ssize_t
plain_writev(struct gw_conn *c, const struct iovec *iov, int iovcnt)
{
	return writev(c->fd, iov, iovcnt);
}

static const struct conn_io plain_io = { plain_read, plain_writev };

/* Map an SSL error to the errno convention of struct conn_io. */
static ssize_t
tls_result(struct gw_conn *c, int n, bool reading)
{
	switch (SSL_get_error(c->ssl, n)) {
	case SSL_ERROR_WANT_READ:
		if (!reading)
			c->io_write_wants_read = true;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		if (reading) {
			c->io_read_wants_write = true;
			conn_want_write(c);
		}
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == 0)
			return 0;
		return -1;
	default:
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

static ssize_t
tls_read(struct gw_conn *c, void *buf, size_t len)
{
	int n;

	ERR_clear_error();
	c->io_read_wants_write = false;
	n = SSL_read(c->ssl, buf, (int)GW_MIN(len, (size_t)INT32_MAX));
	return n > 0 ? n : tls_result(c, n, true);
}

/*
 * Small pieces are gathered into one record so that a control response and
 * its headers do not each become a TLS record. The gathering depends only on
 * the iovec, so a retry after WANT_WRITE passes the same bytes again, as
 * OpenSSL requires.
 */
static ssize_t
tls_writev(struct gw_conn *c, const struct iovec *iov, int iovcnt)
{
	unsigned char gather[16384];
	ssize_t total = 0;
	int i = 0;

	c->io_write_wants_read = false;
	while (i < iovcnt) {
		const void *p = iov[i].iov_base;
		size_t len = iov[i].iov_len, used = 0;
		int n;

		if (len < sizeof(gather) / 2 && i + 1 < iovcnt) {
			while (i < iovcnt && used + iov[i].iov_len <= sizeof(gather)) {
				memcpy(gather + used, iov[i].iov_base, iov[i].iov_len);
				used += iov[i++].iov_len;
			}
			p = gather, len = used;
		} else {
			i++;
		}
		if (len == 0)
			continue;
		ERR_clear_error();
		n = SSL_write(c->ssl, p, (int)GW_MIN(len, (size_t)INT32_MAX));
		if (n <= 0) {
			if (total > 0)
				return total;
			return tls_result(c, n, false);
		}
		total += n;
		if ((size_t)n < len)
			return total;
	}
	return total;
}

static const struct conn_io tls_io = { tls_read, tls_writev };

/* --- per-address accounting ---------------------------------------------- */

static void
addr_key(const struct sockaddr_storage *ss, unsigned char key[16])
{
	memset(key, 0, 16);
	if (ss->ss_family == AF_INET)
		memcpy(key + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	else if (ss->ss_family == AF_INET6)
		memcpy(key, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
}

static struct conn_addr **
addr_slot(const unsigned char key[16])
{
	uint32_t h = 2166136261u;
	struct conn_addr **pp;

	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	pp = &addr_table[h % ADDR_BUCKETS];
	while (*pp && memcmp((*pp)->key, key, 16) != 0)
		pp = &(*pp)->next;
	return pp;
}

/* One "refused" line per address per REFUSAL_LOG_US: a flood must not flood the log. */
static void
log_refusal(struct conn_addr *a, const char *peer, const char *why, int limit)
{
	int64_t now = gw_mono_us();

	if (a->refusal_logged_us != 0 && now - a->refusal_logged_us < REFUSAL_LOG_US) {
		a->refused_quietly++;
		return;
	}
	if (a->refused_quietly > 0)
		log_warn("connection from %s refused: %s (%d) reached (and %d more since the last such line)",
		    peer, why, limit, a->refused_quietly);
	else
		log_warn("connection from %s refused: %s (%d) reached", peer, why, limit);
	a->refusal_logged_us = now;
	a->refused_quietly = 0;
}

/*
 * Count one more connection from |ss|, which starts pending (handshake or
 * first request). NULL if the address is at one of its limits.
 */
static struct conn_addr *
addr_acquire(const struct sockaddr_storage *ss, const char *peer)
{
	const struct gw_config *cfg = gw.cfg;
	unsigned char key[16];
	struct conn_addr **pp;

	addr_key(ss, key);
	pp = addr_slot(key);
	if (*pp == NULL) {
		*pp = gw_xcalloc(1, sizeof(**pp));
		memcpy((*pp)->key, key, 16);
	}
	if ((*pp)->count >= cfg->max_connections_per_address) {
		log_refusal(*pp, peer, "max_connections_per_address", cfg->max_connections_per_address);
		return NULL;
	}
	if ((*pp)->pending >= cfg->max_pending_connections_per_address) {
		log_refusal(*pp, peer, "max_pending_connections_per_address (connections still in a "
		    "handshake or a request head)", cfg->max_pending_connections_per_address);
		return NULL;
	}
	(*pp)->count++;
	return *pp;
}

static void
addr_release(struct conn_addr *a)
{
	struct conn_addr **pp;

	if (a == NULL || --a->count > 0)
		return;
	pp = addr_slot(a->key);
	if (*pp == a) {
		*pp = a->next;
		free(a);
	}
}

/* In a handshake or a request head: what max_pending_connections_per_address counts. */
static bool
conn_is_pending(const struct gw_conn *c)
{
	return c->state == CONN_TLS_HANDSHAKE || c->state == CONN_SNIFF ||
	    (c->state == CONN_ACTIVE && c->head_since_us != 0);
}

static void
pending_update(struct gw_conn *c)
{
	bool now = conn_is_pending(c);

	if (c->addr == NULL || now == c->counted_pending)
		return;
	c->counted_pending = now;
	c->addr->pending += now ? 1 : -1;
}

void
conn_set_head_pending(struct gw_conn *c, bool pending)
{
	if (!pending)
		c->head_since_us = 0;
	else if (c->head_since_us == 0)
		c->head_since_us = gw_mono_us();
	pending_update(c);
}

/* --- identity ------------------------------------------------------------- */

static void
format_addr(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
		snprintf(out, outlen, "%s:%d", host, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
		snprintf(out, outlen, "[%s]:%d", host, port);
	} else {
		snprintf(out, outlen, "unknown");
	}
}

void
conn_set_ident(struct gw_conn *c, const char *what)
{
	snprintf(c->ident, sizeof(c->ident), "C-%llu %s %s", (unsigned long long)c->id,
	    what, c->peer_str);
}

bool
conn_local_addr(const struct gw_conn *c, struct sockaddr_storage *out)
{
	socklen_t len = sizeof(*out);

	memset(out, 0, sizeof(*out));
	return getsockname(c->fd, (struct sockaddr *)out, &len) == 0;
}

bool
conn_is_open(const struct gw_conn *c)
{
	return c->state != CONN_DEAD;
}

/* --- state ------------------------------------------------------------------ */

#define ST(s) (1u << (s))

/* For each state, the states it may move to (the diagram in conn.h). */
static const unsigned legal_moves[] = {
	[CONN_NEW] = ST(CONN_TLS_HANDSHAKE) | ST(CONN_SNIFF) | ST(CONN_DEAD),
	[CONN_TLS_HANDSHAKE] = ST(CONN_SNIFF) | ST(CONN_DEAD),
	[CONN_SNIFF] = ST(CONN_ACTIVE) | ST(CONN_CLOSING) | ST(CONN_DEAD),
	[CONN_ACTIVE] = ST(CONN_CLOSING) | ST(CONN_DEAD),
	[CONN_CLOSING] = ST(CONN_DEAD),
	[CONN_DEAD] = 0,
};

const char *
conn_state_name(enum conn_state st)
{
	static const char *const names[] = {
		[CONN_NEW] = "new", [CONN_TLS_HANDSHAKE] = "TLS handshake", [CONN_SNIFF] = "sniffing",
		[CONN_ACTIVE] = "active", [CONN_CLOSING] = "closing", [CONN_DEAD] = "dead",
	};

	return (size_t)st < ARRAY_SIZE(names) ? names[st] : "?";
}

bool
conn_set_state(struct gw_conn *c, enum conn_state to)
{
	enum conn_state from = c->state;

	if ((size_t)from >= ARRAY_SIZE(legal_moves) || !(legal_moves[from] & ST(to))) {
		olog_error(c, "refusing the state change %s -> %s", conn_state_name(from),
		    conn_state_name(to));
		return false;
	}
	c->state = to;
	olog_debug(c, "state %s -> %s", conn_state_name(from), conn_state_name(to));
	pending_update(c);
	return true;
}

/*
 * EV_READ is armed exactly when the connection may read: open, not
 * closing, not paused by its protocol or by its unsent output, and the
 * peer has not closed its side (EOF stays readable: it would spin).
 */
static void
update_read_event(struct gw_conn *c)
{
	bool want = c->state != CONN_DEAD && c->state != CONN_CLOSING && c->state != CONN_NEW &&
	    !c->read_paused && !c->out_paused && !c->peer_eof;

	if (want == c->reading)
		return;
	c->reading = want;
	if (want)
		event_add(c->ev_read, NULL);
	else
		event_del(c->ev_read);
}

/* --- lifetime ------------------------------------------------------------- */

static void
conn_reap(void *arg)
{
	struct gw_conn *c = arg;

	GW_CHECK(c, CONN_MAGIC);
	if (c->proto && c->proto->on_close)
		c->proto->on_close(c);
	TAILQ_REMOVE(&open_conns, c, link);
	nconns--;
	addr_release(c->addr);
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	event_free(c->ev_read);
	if (c->ev_write)
		event_free(c->ev_write);
	if (c->in)
		evbuffer_free(c->in);
	if (c->out)
		evbuffer_free(c->out);
	close(c->fd);
	c->magic = 0;
	free(c);
	accept_resume();	/* a descriptor is free again */
}

void
conn_close(struct gw_conn *c, const char *reason)
{
	if (c->state == CONN_DEAD)
		return;
	conn_set_state(c, CONN_DEAD);
	if (c->close_reason == NULL)
		c->close_reason = reason;
	update_read_event(c);
	if (c->ev_write)
		event_del(c->ev_write);
	olog_debug(c, "closed: %s (received %llu bytes, sent %llu bytes)", c->close_reason,
	    (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out);
	loop_defer(&c->reap, conn_reap, c);
}

void
conn_close_after_flush(struct gw_conn *c, const char *reason)
{
	if (c->state == CONN_DEAD || c->state == CONN_CLOSING)
		return;
	if (c->state != CONN_SNIFF && c->state != CONN_ACTIVE) {
		conn_close(c, reason);	/* a handshake: nothing of ours to flush */
		return;
	}
	conn_set_state(c, CONN_CLOSING);
	c->close_reason = reason;
	update_read_event(c);
	/* A peer that never reads must not keep us forever. */
	c->deadline_us = gw_mono_us() + gw.cfg->handshake_timeout_ms * 1000;
	if (conn_flush(c) == 0 && conn_out_len(c) == 0)
		conn_close(c, reason);
}

void
conn_close_all(const char *reason)
{
	struct gw_conn *c;

	TAILQ_FOREACH(c, &open_conns, link)
		conn_close(c, reason);
}

void
conn_begin_drain(void)
{
	struct gw_conn *c;

	TAILQ_FOREACH(c, &open_conns, link) {
		if (c->state == CONN_DEAD || c->state == CONN_CLOSING)
			continue;
		if (c->state == CONN_ACTIVE && c->proto->on_shutdown)
			c->proto->on_shutdown(c);
		else
			conn_close(c, "shutting down");
	}
}

int
conn_count(void)
{
	return nconns;
}

/* --- writing --------------------------------------------------------------- */

void
conn_want_write(struct gw_conn *c)
{
	if (c->want_write || c->state == CONN_DEAD)
		return;
	/* Made on first need: many connections (a tunnel's POST side) never wait to write. */
	if (c->ev_write == NULL &&
	    (c->ev_write = event_new(gw.base, c->fd, EV_WRITE | EV_PERSIST, conn_write_cb, c)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	c->want_write = true;
	event_add(c->ev_write, NULL);
}

void
conn_stop_write(struct gw_conn *c)
{
	if (!c->want_write)
		return;
	c->want_write = false;
	event_del(c->ev_write);
}

ssize_t
conn_writev(struct gw_conn *c, const struct iovec *iov, int iovcnt)
{
	ssize_t n;

	if (c->state == CONN_DEAD)
		return -1;
	n = c->io->writev(c, iov, iovcnt);
	if (n >= 0) {
		c->bytes_out += (uint64_t)n;
		return n;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	c->close_reason = errno == EPIPE || errno == ECONNRESET ? "peer went away" : "write failed";
	conn_close(c, c->close_reason);
	return -1;
}

/* More unsent than max_output_bytes: read no more requests until the peer reads. */
static bool
output_full(const struct gw_conn *c)
{
	return conn_out_len(c) > (size_t)gw.cfg->max_output_bytes;
}

static void
output_pause(struct gw_conn *c)
{
	if (c->out_paused)
		return;
	c->out_paused = true;
	olog_debug(c, "%zu bytes unsent: not reading until the peer reads", conn_out_len(c));
	update_read_event(c);
}

/* Down to half the bound: read again, and let the protocol see what is already in. */
static void
output_resume_if_drained(struct gw_conn *c)
{
	if (!c->out_paused || conn_out_len(c) > (size_t)gw.cfg->max_output_bytes / 2)
		return;
	c->out_paused = false;
	update_read_event(c);
	/* Bytes already in, or decrypted inside TLS, that no socket event will announce. */
	if (c->reading && c->state == CONN_ACTIVE && ((c->in && evbuffer_get_length(c->in) > 0) ||
	    (c->ssl && SSL_pending(c->ssl) > 0)))
		event_active(c->ev_read, EV_READ, 0);
}

int
conn_flush(struct gw_conn *c)
{
	struct iovec iov[WRITE_IOV_MAX];
	struct evbuffer_iovec vec[WRITE_IOV_MAX];
	bool had_data = conn_out_len(c) > 0;

	while (conn_out_len(c) > 0) {
		int n = evbuffer_peek(c->out, -1, NULL, vec, WRITE_IOV_MAX);
		ssize_t w;

		n = GW_MIN(n, WRITE_IOV_MAX);
		for (int i = 0; i < n; i++)
			iov[i].iov_base = vec[i].iov_base, iov[i].iov_len = vec[i].iov_len;
		w = conn_writev(c, iov, n);
		if (w < 0)
			return -1;
		if (w == 0) {
			conn_want_write(c);
			output_resume_if_drained(c);
			return 0;
		}
		evbuffer_drain(c->out, (size_t)w);
	}
	output_resume_if_drained(c);
	if (c->state == CONN_CLOSING) {
		conn_close(c, c->close_reason);
		return 0;
	}
	if (c->proto == NULL || c->proto->on_writable == NULL)
		conn_stop_write(c);
	if (had_data && c->proto && c->proto->on_drained && c->state == CONN_ACTIVE)
		c->proto->on_drained(c);
	return 0;
}

void
conn_release_input(struct gw_conn *c)
{
	if (c->in != NULL && evbuffer_get_length(c->in) == 0) {
		evbuffer_free(c->in);
		c->in = NULL;
	}
}

struct evbuffer *
conn_out(struct gw_conn *c)
{
	if (c->out == NULL)
		c->out = gw_xevbuffer_new();
	return c->out;
}

size_t
conn_out_len(const struct gw_conn *c)
{
	return c->out ? evbuffer_get_length(c->out) : 0;
}

void
conn_write(struct gw_conn *c, const void *data, size_t len)
{
	if (c->state == CONN_DEAD)
		return;
	evbuffer_add(conn_out(c), data, len);
	conn_want_write(c);
}

void
conn_printf(struct gw_conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->state == CONN_DEAD)
		return;
	va_start(ap, fmt);
	evbuffer_add_vprintf(conn_out(c), fmt, ap);
	va_end(ap);
	conn_want_write(c);
}

void
conn_pause_read(struct gw_conn *c)
{
	if (c->read_paused || c->state == CONN_DEAD)
		return;
	c->read_paused = true;
	update_read_event(c);
}

void
conn_resume_read(struct gw_conn *c)
{
	if (!c->read_paused || c->state == CONN_DEAD || c->state == CONN_CLOSING)
		return;
	c->read_paused = false;
	update_read_event(c);
	if (!c->reading)
		return;
	/* TLS may hold decrypted bytes that no socket event will announce. */
	if (c->ssl && SSL_pending(c->ssl) > 0)
		event_active(c->ev_read, EV_READ, 0);
	else if (c->in && evbuffer_get_length(c->in) > 0 && c->proto && c->state == CONN_ACTIVE)
		event_active(c->ev_read, EV_READ, 0);
}

/* --- protocol dispatch ---------------------------------------------------- */

void
conn_register_proto(enum conn_kind kind, const struct conn_proto *proto)
{
	protos[kind] = proto;
}

void
conn_set_proto(struct gw_conn *c, const struct conn_proto *proto, void *data)
{
	/* A switch (HTTP/1.1 -> WebSocket): the old protocol frees its state first. */
	if (c->proto && c->proto->on_close)
		c->proto->on_close(c);
	c->proto = proto;
	c->proto_data = data;
	if (c->state == CONN_SNIFF)
		conn_set_state(c, CONN_ACTIVE);
	if (!proto->reports_heads)
		conn_set_head_pending(c, false);
	c->deadline_us = 0;
	conn_set_ident(c, proto->name);
	if (proto->on_start)
		proto->on_start(c);
}

static void
start_kind(struct gw_conn *c, enum conn_kind kind)
{
	static const char *const names[] = { "RTSP", "HTTP/1.1", "HTTP/2" };

	if (protos[kind] == NULL) {
		olog_info(c, "%s is not served by this build; closing", names[kind]);
		conn_close(c, "protocol not served");
		return;
	}
	conn_set_proto(c, protos[kind], NULL);
	if (c->state == CONN_ACTIVE && evbuffer_get_length(c->in) > 0)
		c->proto->on_read(c);
}

/*
 * Tell the protocol from the first bytes: the HTTP/2 preface, or a request
 * line whose version is RTSP/x or HTTP/1.x. Waits while the bytes seen so far
 * could still be either.
 */
static void
sniff(struct gw_conn *c)
{
	size_t len = evbuffer_get_length(c->in), lim = (size_t)gw.cfg->max_header_bytes;
	size_t plen = sizeof(H2_PREFACE) - 1, n = GW_MIN(len, lim);
	const char *p = (const char *)evbuffer_pullup(c->in, (ssize_t)n);
	const char *nl, *sp;

	if (n == 0)
		return;
	if ((unsigned char)p[0] == 0x16 && !c->tls) {
		olog_info(c, "TLS handshake on a plain listener; closing");
		conn_close(c, "TLS on a plain port");
		return;
	}
	if (memcmp(p, H2_PREFACE, GW_MIN(n, plen)) == 0) {
		if (n >= plen)
			start_kind(c, CONN_KIND_H2);
		return;
	}
	nl = memchr(p, '\n', n);
	if (nl == NULL) {
		if (len >= lim) {
			olog_info(c, "first request line is longer than %zu bytes; closing", lim);
			conn_close(c, "request line too long");
		}
		return;
	}
	if (nl > p && nl[-1] == '\r')
		nl--;
	for (sp = nl; sp > p && sp[-1] != ' '; sp--)
		;
	if (nl - sp >= 5 && memcmp(sp, "RTSP/", 5) == 0)
		start_kind(c, CONN_KIND_RTSP);
	else if (nl - sp == 8 && (memcmp(sp, "HTTP/1.1", 8) == 0 || memcmp(sp, "HTTP/1.0", 8) == 0))
		start_kind(c, CONN_KIND_HTTP1);
	else {
		olog_info(c, "first line is neither an HTTP nor an RTSP request; closing");
		conn_close(c, "unknown protocol");
	}
}

static void
tls_handshake(struct gw_conn *c)
{
	const unsigned char *alpn = NULL;
	unsigned int alpn_len = 0;
	int n;

	ERR_clear_error();
	n = SSL_do_handshake(c->ssl);
	if (n != 1) {
		switch (SSL_get_error(c->ssl, n)) {
		case SSL_ERROR_WANT_READ:
			conn_stop_write(c);
			return;
		case SSL_ERROR_WANT_WRITE:
			conn_want_write(c);
			return;
		default:
			olog_info(c, "TLS handshake failed: %s", tls_error_string());
			conn_close(c, "TLS handshake failed");
			return;
		}
	}
	conn_stop_write(c);
	conn_set_state(c, CONN_SNIFF);
	c->head_since_us = 0;
	conn_set_head_pending(c, true);	/* the first request starts now */
	conn_set_ident(c, "tls");
	SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
	if (alpn_len == 2 && memcmp(alpn, "h2", 2) == 0)
		start_kind(c, CONN_KIND_H2);
	else if (SSL_pending(c->ssl) > 0)
		event_active(c->ev_read, EV_READ, 0);
}

/* --- events ---------------------------------------------------------------- */

/*
 * Read what the socket has, up to a budget. Returns -1 if the connection
 * died, 1 if the peer closed its side (what came before it is in c->in),
 * else 0.
 */
static int
fill_input(struct gw_conn *c)
{
	size_t total = 0;
	int rc = 0;

	if (c->in == NULL)
		c->in = gw_xevbuffer_new();	/* see conn_release_input() */
	while (total < READ_BUDGET) {
		struct evbuffer_iovec v;
		ssize_t n;

		if (evbuffer_reserve_space(c->in, READ_CHUNK, &v, 1) < 1)
			return -1;
		n = c->io->read(c, v.iov_base, GW_MIN(v.iov_len, (size_t)READ_CHUNK));
		if (n > 0) {
			v.iov_len = (size_t)n;
			evbuffer_commit_space(c->in, &v, 1);
			total += (size_t)n;
			c->bytes_in += (uint64_t)n;
			continue;
		}
		evbuffer_commit_space(c->in, &v, 0);
		if (n == 0) {
			rc = 1;
			break;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			break;
		conn_close(c, errno == ECONNRESET ? "connection reset by peer" : "read failed");
		return -1;
	}
	if (total > 0)
		c->last_read_us = gw_mono_us();
	/* More may wait inside TLS or beyond the budget: come back next pass. */
	if (rc == 0 && (total >= READ_BUDGET || (c->ssl && SSL_pending(c->ssl) > 0)))
		event_active(c->ev_read, EV_READ, 0);
	return rc;
}

/*
 * The peer closed its side and its last bytes have been seen. A protocol
 * still answering says when it is done (on_peer_eof); otherwise the
 * connection closes once what is queued has gone out.
 */
static void
settle_peer_eof(struct gw_conn *c)
{
	if (c->state == CONN_DEAD || c->state == CONN_CLOSING)
		return;
	if (c->state != CONN_ACTIVE) {
		conn_close(c, "peer closed the connection");
		return;
	}
	olog_debug(c, "peer closed its side; answering what it sent, then closing");
	if (c->proto->on_peer_eof)
		c->proto->on_peer_eof(c);
	else
		conn_close_after_flush(c, "peer closed the connection");
}

static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_conn *c = arg;
	int rc;

	GW_CHECK(c, CONN_MAGIC);
	if (c->state == CONN_DEAD || c->state == CONN_CLOSING)
		return;
	if (c->state == CONN_TLS_HANDSHAKE) {
		tls_handshake(c);
		return;
	}
	if (c->io_write_wants_read)
		conn_write_cb(fd, EV_WRITE, c);
	if (!c->reading || c->state == CONN_DEAD)
		return;
	if (output_full(c)) {
		output_pause(c);
		return;
	}
	if ((rc = fill_input(c)) < 0)
		return;
	if (rc == 1) {
		c->peer_eof = true;
		update_read_event(c);
	}
	if (c->state == CONN_SNIFF)
		sniff(c);
	else if (c->state == CONN_ACTIVE && evbuffer_get_length(c->in) > 0)
		c->proto->on_read(c);
	if (c->peer_eof)
		settle_peer_eof(c);
	else if (c->state == CONN_ACTIVE && output_full(c))
		output_pause(c);
}

static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_conn *c = arg;

	GW_CHECK(c, CONN_MAGIC);
	if (c->state == CONN_DEAD)
		return;
	if (c->state == CONN_TLS_HANDSHAKE) {
		tls_handshake(c);
		return;
	}
	if (c->io_read_wants_write) {
		c->io_read_wants_write = false;
		event_active(c->ev_read, EV_READ, 0);
	}
	if (c->state == CONN_ACTIVE && c->proto->on_writable)
		c->proto->on_writable(c);
	else
		conn_flush(c);
}

/* --- janitor ---------------------------------------------------------------- */

static void
conn_janitor(int64_t now)
{
	struct gw_conn *c;
	int64_t head_us = gw.cfg->header_timeout_ms * 1000;

	TAILQ_FOREACH(c, &open_conns, link) {
		if (c->state == CONN_DEAD)
			continue;
		output_resume_if_drained(c);	/* in case c->out drained outside conn_flush() */
		if (c->head_since_us != 0 && now - c->head_since_us >= head_us) {
			olog_info(c, "request head not complete after %.1f s ([limits] header_timeout); "
			    "closing", (double)(now - c->head_since_us) / 1e6);
			conn_close(c, "request head timed out");
			continue;
		}
		if (c->deadline_us == 0 || now < c->deadline_us)
			continue;
		olog_info(c, "timed out in state %s; closing",
		    c->state == CONN_ACTIVE ? c->proto->name : conn_state_name(c->state));
		conn_close(c, "timed out");
	}
}

/* --- accepting ---------------------------------------------------------------- */

static struct gw_conn *
conn_new(evutil_socket_t fd, const struct sockaddr *sa, int salen, bool tls)
{
	struct gw_conn *c = gw_xcalloc(1, sizeof(*c));
	int one = 1;

	c->magic = CONN_MAGIC;
	c->state = CONN_NEW;
	c->id = next_conn_id++;
	c->fd = fd;
	c->tls = tls;
	memcpy(&c->peer, sa, GW_MIN((size_t)salen, sizeof(c->peer)));
	c->peer_len = (socklen_t)salen;
	format_addr(&c->peer, c->peer_str, sizeof(c->peer_str));
	conn_set_ident(c, tls ? "tls" : "new");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->ev_read = event_new(gw.base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->in = evbuffer_new();
	c->created_us = c->last_read_us = gw_mono_us();
	c->deadline_us = c->created_us + gw.cfg->handshake_timeout_ms * 1000;
	c->io = &plain_io;
	return c;
}

static int
conn_start_tls(struct gw_conn *c)
{
	struct ssl_ctx_st *ctx = tls_server_ctx();

	if (ctx == NULL || (c->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		return -1;
	SSL_set_accept_state(c->ssl);
	c->io = &tls_io;
	return 0;
}

static void
accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	accept_resume();
}

/*
 * Out of file descriptors: accept() fails while the connection waits in
 * the backlog, so the listener stays readable and the loop would spin.
 * Disable the listeners; a closed connection or ACCEPT_PAUSE_MS resumes
 * them (and the backlog is served then). Logged once per episode.
 */
static void
accept_pause(const char *why)
{
	struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };

	if (!accept_paused) {
		for (int i = 0; i < nlisteners; i++)
			evconnlistener_disable(listeners[i].lev);
		accept_paused = true;
		if (accept_pauses++ == 0)
			log_warn("cannot accept connections: %s (%d open); pausing the listeners until "
			    "descriptors are free", why, nconns);
	}
	if (accept_resume_ev == NULL)
		accept_resume_ev = evtimer_new(gw.base, accept_resume_cb, NULL);
	if (accept_resume_ev != NULL)
		event_add(accept_resume_ev, &tv);
}

static void
accept_resume(void)
{
	if (!accept_paused || gw.shutting_down)
		return;
	accept_paused = false;
	for (int i = 0; i < nlisteners; i++)
		evconnlistener_enable(listeners[i].lev);
}

/* The first successful accept after a pause says so. */
static void
accept_recovered(void)
{
	if (accept_pauses == 0)
		return;
	log_info("accepting connections again (the listeners paused %d times for want of descriptors)",
	    accept_pauses);
	accept_pauses = 0;
}

static bool
accept_allowed(const struct sockaddr *sa, struct conn_addr **addr)
{
	char peer[64];
	int64_t now = gw_mono_us();

	format_addr((const void *)sa, peer, sizeof(peer));
	if (nconns >= gw.cfg->max_connections) {
		if (now - max_conn_logged_us >= REFUSAL_LOG_US) {
			log_warn("connection from %s refused: max_connections (%d) reached", peer,
			    gw.cfg->max_connections);
			max_conn_logged_us = now;
		}
		return false;
	}
	*addr = addr_acquire((const void *)sa, peer);
	return *addr != NULL;
}

static void
accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;
	struct conn_addr *addr = NULL;
	struct gw_conn *c;

	gw_time_refresh();
	accept_recovered();
	if (gw.shutting_down || !accept_allowed(sa, &addr)) {
		close(fd);
		return;
	}
	c = conn_new(fd, sa, salen, l->tls);
	c->addr = addr;
	TAILQ_INSERT_TAIL(&open_conns, c, link);
	nconns++;
	if (l->tls && conn_start_tls(c) < 0) {
		olog_error(c, "cannot start TLS: %s", tls_error_string());
		conn_close(c, "TLS setup failed");
		return;
	}
	conn_set_state(c, l->tls ? CONN_TLS_HANDSHAKE : CONN_SNIFF);
	conn_set_head_pending(c, !l->tls);	/* for TLS, from the end of the handshake */
	update_read_event(c);
	olog_debug(c, "accepted on %s", l->addr);
}

static void
accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct listener *l = arg;
	int err = errno;

	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		accept_pause(strerror(err));
		return;
	}
	log_warn("accepting on %s failed: %s", l->addr, strerror(err));
}

static int
listener_open(const char *addr, bool tls, const char *what)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	char host[256];
	const char *colon = strrchr(addr, ':');
	size_t hlen = (size_t)(colon - addr);
	struct listener *l;
	int rc;

	if (nlisteners == MAX_LISTENERS || hlen >= sizeof(host))
		return -1;
	if (addr[0] == '[')
		memcpy(host, addr + 1, hlen - 2), host[hlen - 2] = '\0';
	else
		memcpy(host, addr, hlen), host[hlen] = '\0';
	rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc != 0) {
		log_error("cannot listen on %s: %s", addr, gai_strerror(rc));
		return -1;
	}
	l = &listeners[nlisteners];
	l->tls = tls;
	snprintf(l->addr, sizeof(l->addr), "%s", addr);
	l->lev = evconnlistener_new_bind(gw.base, accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 1024,
	    res->ai_addr, (int)res->ai_addrlen);
	freeaddrinfo(res);
	if (l->lev == NULL) {
		log_error("cannot listen on %s: %s", addr, strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(l->lev, accept_error_cb);
	nlisteners++;
	log_info("listening on %s (%s)", addr, what);
	return 0;
}

int
conn_listeners_open(void)
{
	const struct gw_config *cfg = gw.cfg;

	if (!janitor_registered) {
		loop_janitor_add(conn_janitor);
		janitor_registered = true;
	}
	for (int i = 0; i < cfg->listen_rtsp.count; i++)
		if (listener_open(cfg->listen_rtsp.addr[i], false, "rtsp") < 0)
			return -1;
	for (int i = 0; i < cfg->listen_http.count; i++)
		if (listener_open(cfg->listen_http.addr[i], false, "http") < 0)
			return -1;
	for (int i = 0; i < cfg->listen_tls.count; i++)
		if (listener_open(cfg->listen_tls.addr[i], true, "tls") < 0)
			return -1;
	return 0;
}

void
conn_listeners_close(void)
{
	for (int i = 0; i < nlisteners; i++)
		evconnlistener_free(listeners[i].lev);
	nlisteners = 0;
	accept_paused = false;
	if (accept_resume_ev != NULL) {
		event_free(accept_resume_ev);
		accept_resume_ev = NULL;
	}
}
