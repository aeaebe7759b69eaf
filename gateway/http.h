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
#include "loop.h"
#include "../proto/msg.h"

#define HTTP_REQUEST_MAGIC 0x68747071U	/* "htpq" */
#define HTTP_MAX_RESP_HEADERS 16

struct gw_conn;
struct evbuffer;
struct http_file_body;

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
	/* A body read from a file (http_respond_file); takes |fb|. Set by the protocol side. */
	void (*send_file)(struct http_request *req, int status, const char *ctype,
	    struct http_file_body *fb);
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

/*
 * A response whose body is |len| bytes of the open file |fd| from
 * |offset| (a download). The HTTP layer owns |fd| from this call on and
 * closes it when the body is sent or the peer goes away. The bytes are
 * read as the connection drains, HTTP_FILE_CHUNK at a time with the next
 * chunk's readahead asked of the kernel, so the I/O thread never waits on
 * the disk for more than one chunk and never holds more than two in
 * memory per download. |done| (may be NULL) runs once, on the I/O thread
 * and never inside this call, with the body bytes handed to the
 * connection and whether that was all |len| of them (false: the peer went
 * away first). HEAD: no body, |done| says complete with 0 bytes.
 */
#define HTTP_FILE_CHUNK (256u * 1024)
typedef void (*http_file_done)(void *arg, uint64_t sent, bool complete);
void http_respond_file(struct http_request *req, int status, const char *ctype, int fd,
    uint64_t offset, uint64_t len, http_file_done done, void *arg);

/*
 * For the protocol sides: the state of one file body. http_file_read()
 * reads the next bytes (at most |cap|) into |buf| and returns how many, 0
 * at the end, -1 on a read error (logged once); http_file_finish() closes
 * the file, reports to |done| after the loop pass and frees |fb|.
 */
struct http_file_body {
	int fd;
	uint64_t offset, left, len, sent;
	http_file_done done;
	void *arg;
	bool head_only;
	bool failed;			/* a read error: the body ends short */
	char ident[96];			/* for the log line of a read error */
	struct loop_deferred report;	/* |done| after the loop pass */
};
ssize_t http_file_read(struct http_file_body *fb, void *buf, size_t cap);
void http_file_finish(struct http_file_body *fb);

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
