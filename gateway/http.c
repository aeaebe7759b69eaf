/*
 * http.c - what HTTP/1.1 and HTTP/2 share: the request object, the router,
 * response helpers (see http.h).
 */
#include "gw.h"
#include "proto/proto.h"
#include "conn.h"
#include "http.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_ROUTES 128
#define MAX_TAKEOVERS 4

struct route {
	const char *method;
	const char *path;
	bool prefix;
	http_handler handler;
};

static struct route routes[MAX_ROUTES];
static uint64_t status_counts[6];
static int nroutes;
static bool (*takeovers[MAX_TAKEOVERS])(struct gw_conn *c, const struct msg *m);
static int ntakeovers;

void
http_route(const char *method, const char *path, bool prefix, http_handler h)
{
	if (nroutes == MAX_ROUTES)
		gw_fatal_check(__FILE__, __LINE__, "free route slot");
	routes[nroutes++] = (struct route){ method, path, prefix, h };
}

void
http_register_takeover(bool (*try)(struct gw_conn *c, const struct msg *m))
{
	if (ntakeovers == MAX_TAKEOVERS)
		gw_fatal_check(__FILE__, __LINE__, "free takeover slot");
	takeovers[ntakeovers++] = try;
}

/* Used by http1.c before it routes a request. */
bool http_try_takeover(struct gw_conn *c, const struct msg *m);

bool
http_try_takeover(struct gw_conn *c, const struct msg *m)
{
	for (int i = 0; i < ntakeovers; i++)
		if (takeovers[i](c, m))
			return true;
	return false;
}

void
http_refuse_conn(struct gw_conn *c, int status, const char *why)
{
	olog_info(c, "%s", why);
	conn_printf(c, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status,
	    http_status_text(status));
	conn_close_after_flush(c, why);
}

bool
http_is_own_origin(bool tls, const char *host, const char *origin)
{
	const char *scheme = tls ? "https://" : "http://";
	size_t n = strlen(scheme);

	return host != NULL && host[0] != '\0' && origin != NULL &&
	    strncasecmp(origin, scheme, n) == 0 && strcasecmp(origin + n, host) == 0;
}

const char *
http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

struct http_request *
http_request_new(struct gw_conn *c)
{
	struct http_request *req = gw_xcalloc(1, sizeof(*req));

	req->magic = HTTP_REQUEST_MAGIC;
	req->conn = c;
	req->started_us = gw_mono_us();
	snprintf(req->peer, sizeof(req->peer), "%s", c->peer_str);
	return req;
}

void
http_request_detach(struct http_request *req)
{
	req->conn = NULL;
}

static void
request_free(struct http_request *req)
{
	if (req->release)
		req->release(req);
	for (int i = 0; i < req->nheaders; i++) {
		free(req->headers[i].name);
		free(req->headers[i].value);
	}
	for (int i = 0; i < req->nresp_headers; i++) {
		free(req->resp_headers[i].name);
		free(req->resp_headers[i].value);
	}
	free(req->headers);
	free(req->target);
	free(req->path);
	free(req->query);
	free(req->body);
	req->magic = 0;
	free(req);
}

const char *
http_header_get(const struct http_request *req, const char *name)
{
	for (int i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

void
http_add_header(struct http_request *req, const char *name, const char *value)
{
	if (req->nresp_headers == HTTP_MAX_RESP_HEADERS)
		return;
	req->resp_headers[req->nresp_headers].name = gw_xstrdup(name);
	req->resp_headers[req->nresp_headers].value = gw_xstrdup(value);
	req->nresp_headers++;
}

void
http_respond(struct http_request *req, int status, const char *ctype, const void *body, size_t len)
{
	GW_CHECK(req, HTTP_REQUEST_MAGIC);
	if (req->conn != NULL && conn_is_open(req->conn) && req->send != NULL) {
		req->send(req, status, ctype, body, len);
		status_counts[status >= 100 && status < 600 ? status / 100 : 0]++;
	}
	request_free(req);
}

/* --- file bodies ------------------------------------------------------------ */

static void
file_report(void *arg)
{
	struct http_file_body *fb = arg;

	if (fb->done != NULL)
		fb->done(fb->arg, fb->sent, !fb->failed && fb->left == 0);
	free(fb);
}

void
http_file_finish(struct http_file_body *fb)
{
	if (fb->fd >= 0)
		close(fb->fd);
	fb->fd = -1;
	loop_defer(&fb->report, file_report, fb);
}

ssize_t
http_file_read(struct http_file_body *fb, void *buf, size_t cap)
{
	size_t want = (size_t)GW_MIN((uint64_t)cap, fb->left);
	ssize_t n;

	if (want == 0 || fb->failed)
		return 0;
	do
		n = pread(fb->fd, buf, want, (off_t)fb->offset);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		log_msg(LOG_LVL_WARN, fb->ident, "download: reading the file at byte %llu failed: %s",
		    (unsigned long long)fb->offset, n == 0 ? "it is shorter than it was" : strerror(errno));
		fb->failed = true;
		return -1;
	}
	fb->offset += (uint64_t)n;
	fb->left -= (uint64_t)n;
	fb->sent += (uint64_t)n;
	/* Ask for the next chunk now, so that its read finds it in the page cache. */
	if (fb->left > 0)
		(void)posix_fadvise(fb->fd, (off_t)fb->offset, (off_t)GW_MIN(fb->left,
		    (uint64_t)HTTP_FILE_CHUNK), POSIX_FADV_WILLNEED);
	return n;
}

void
http_respond_file(struct http_request *req, int status, const char *ctype, int fd,
    uint64_t offset, uint64_t len, http_file_done done, void *arg)
{
	struct http_file_body *fb = gw_xcalloc(1, sizeof(*fb));

	GW_CHECK(req, HTTP_REQUEST_MAGIC);
	fb->fd = fd;
	fb->offset = offset;
	fb->left = fb->len = len;
	fb->done = done;
	fb->arg = arg;
	fb->head_only = strcmp(req->method, "HEAD") == 0;
	if (fb->head_only)
		fb->left = 0;
	snprintf(fb->ident, sizeof(fb->ident), "%s", req->conn ? req->conn->ident : req->peer);
	if (req->conn != NULL && conn_is_open(req->conn) && req->send_file != NULL) {
		if (!fb->head_only)
			(void)posix_fadvise(fd, (off_t)offset, (off_t)GW_MIN(len, (uint64_t)HTTP_FILE_CHUNK),
			    POSIX_FADV_WILLNEED);
		req->send_file(req, status, ctype, fb);	/* takes |fb| */
		status_counts[status >= 100 && status < 600 ? status / 100 : 0]++;
	} else {
		fb->failed = true;
		http_file_finish(fb);
	}
	request_free(req);
}

void
http_stats(uint64_t counts[6])
{
	memcpy(counts, status_counts, sizeof(status_counts));
}

void
http_respond_error(struct http_request *req, int status, const char *error, const char *detail,
    const char *hint)
{
	json_t *o = json_pack("{s:s}", "error", error);
	char *text;

	json_object_set_new(o, "detail", detail ? json_string(detail) : json_null());
	json_object_set_new(o, "hint", hint ? json_string(hint) : json_null());
	text = json_dumps(o, JSON_COMPACT);
	http_respond(req, status, "application/json", text, strlen(text));
	free(text);
	json_decref(o);
}

bool
http_decode_path(const char *in, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	if (len == 0 || in[0] != '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = in[i];

		if (ch == '%') {
			int hi, lo;

			if (i + 2 >= len || (hi = proto_hexval(in[i + 1])) < 0 || (lo = proto_hexval(in[i + 2])) < 0)
				return false;
			ch = (char)(hi << 4 | lo);
			i += 2;
		}
		if (ch == '\0' || o + 1 >= outlen)
			return false;
		out[o++] = ch;
	}
	out[o] = '\0';
	/* No dot segments: nothing here maps to files, but ids must stay unambiguous. */
	return strstr(out, "/../") == NULL && strstr(out, "/./") == NULL &&
	    !(o >= 3 && strcmp(out + o - 3, "/..") == 0) && !(o >= 2 && strcmp(out + o - 2, "/.") == 0);
}

void
http_dispatch(struct http_request *req)
{
	bool path_matched = false;

	for (int i = 0; i < nroutes; i++) {
		const struct route *r = &routes[i];
		size_t n = strlen(r->path);
		bool match = r->prefix ? strncmp(req->path, r->path, n) == 0 : strcmp(req->path, r->path) == 0;

		if (!match)
			continue;
		path_matched = true;
		if (strcmp(r->method, "*") == 0 || strcmp(r->method, req->method) == 0 ||
		    (strcmp(r->method, "GET") == 0 && strcmp(req->method, "HEAD") == 0)) {
			r->handler(req);
			return;
		}
	}
	if (path_matched)
		http_respond_error(req, 405, "method not allowed", NULL, NULL);
	else
		http_respond_error(req, 404, "not found", NULL, NULL);
}

void
http_init(void)
{
}

void
http_shutdown(void)
{
	nroutes = 0;
	ntakeovers = 0;
}
