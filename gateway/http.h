/*
 * http.h - the HTTP server: requests from HTTP/1.1 (http.c) and HTTP/2
 * (when built in), one request object and one router for both.
 *
 * Ownership: the HTTP layer owns each struct http_request. A handler must
 * call http_respond() exactly once, now or later (after a database query);
 * that call frees the request. If the connection dies first, the request
 * is detached (req->conn == NULL) and http_respond() only frees it.
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include "gw.h"
#include "../proto/msg.h"

#define HTTP_REQUEST_MAGIC 0x68747071U	/* "htpq" */
#define HTTP_MAX_RESP_HEADERS 16

struct gw_conn;
struct evbuffer;

struct http_header {
	char *name;
	char *value;
};

struct http_request {
	uint32_t magic;
	struct gw_conn *conn;		/* NULL once the connection is gone */
	char method[16];
	char *target;			/* as received: path?query */
	char *path;			/* decoded path, without the query */
	char *query;			/* raw query string, or NULL */
	struct http_header *headers;
	int nheaders;
	char *body;			/* NUL-terminated; NULL when empty */
	size_t body_len;
	bool http2;
	int32_t stream_id;		/* HTTP/2 */
	int64_t started_us;
	char peer[64];
	struct http_header resp_headers[HTTP_MAX_RESP_HEADERS];
	int nresp_headers;
	void *proto_data;		/* the HTTP/1.1 or HTTP/2 side */
	void (*send)(struct http_request *req, int status, const char *ctype,
	    const void *body, size_t len);	/* set by the protocol side */
	void (*release)(struct http_request *req);	/* protocol cleanup, optional */
};

typedef void (*http_handler)(struct http_request *req);

/* Route |method| (or "*") and a path prefix ("/api/v1/") or exact path ("/healthz"). */
void http_route(const char *method, const char *path, bool prefix, http_handler h);

/*
 * A module may take over an HTTP/1.1 connection for a request before routing
 * (WebSocket upgrade, RTSP over HTTP). |try| returns true if it took the
 * connection (it then owns what follows the head in c->in).
 */
void http_register_takeover(bool (*try)(struct gw_conn *c, const struct msg *m));

void http_init(void);
void http_shutdown(void);

const char *http_header_get(const struct http_request *req, const char *name);
void http_add_header(struct http_request *req, const char *name, const char *value);
void http_respond(struct http_request *req, int status, const char *ctype, const void *body,
    size_t len);
/* A JSON error body {"error", "detail", "hint"}. */
void http_respond_error(struct http_request *req, int status, const char *error,
    const char *detail, const char *hint);

const char *http_status_text(int status);
/*
 * Refuse a request taken over before it became an http_request (a tunnel
 * or WebSocket upgrade): |status| with no body, one log line (|why|), and
 * the connection closes once the answer is out.
 */
void http_refuse_conn(struct gw_conn *c, int status, const char *why);
/*
 * Is |origin| (a browser's Origin header) the gateway's own as the browser
 * reached it: the scheme of the connection and the |host| it asked for?
 */
bool http_is_own_origin(bool tls, const char *host, const char *origin);
/* Answers sent since start, by status class: counts[2] is 2xx, ... (for /metrics). */
void http_stats(uint64_t counts[6]);

/* Dispatch a complete request to its route (used by both protocol sides). */
void http_dispatch(struct http_request *req);
/* Allocate a request bound to |c|; the protocol side fills it. */
struct http_request *http_request_new(struct gw_conn *c);
void http_request_detach(struct http_request *req);

/* Decode %XX in a path; false on a bad escape, a NUL byte or a ".." segment. */
bool http_decode_path(const char *in, size_t len, char *out, size_t outlen);

#endif
