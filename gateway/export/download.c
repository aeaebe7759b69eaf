/*
 * download.c - one file of a finished export over HTTP, for the REST API
 * and the authorities' endpoint alike (see download.h): resumable with a
 * single Range (206, 416), If-Range and If-None-Match on a strong ETag
 * (the file's SHA-256), its digest in Repr-Digest (RFC 9530) and Digest
 * (RFC 3230), and every download audited with who, from where and how
 * many bytes went out.
 *
 * The file is checked against what the export recorded (its size) before
 * a byte is sent: a file changed on disk is not handed out as evidence.
 */
#include "gateway/gw.h"
#include "gateway/audit.h"
#include "gateway/config.h"
#include "gateway/http.h"
#include "gateway/log.h"
#include "gateway/export/download.h"
#include "gateway/export/jobs.h"
#include "proto/base64.h"
#include "proto/httprange.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What the audit record of a download needs once its bytes are out. */
struct export_dl {
	int64_t export_id, authority_id, grant_id, camera_id;
	char actor[96], peer[64], name[72];
	uint64_t first, last, size;
	bool partial;
};

static void
refuse(struct export_send *out, int status, const char *error, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
refuse(struct export_send *out, int status, const char *error, const char *hint, const char *fmt, ...)
{
	va_list ap;

	out->status = status;
	out->error = error;
	out->hint = hint;
	va_start(ap, fmt);
	vsnprintf(out->detail, sizeof(out->detail), fmt, ap);
	va_end(ap);
}

static const char *
content_type(const char *name)
{
	size_t n = strlen(name);

	if (n > 4 && strcmp(name + n - 4, ".mp4") == 0)
		return "video/mp4";
	if (n > 5 && strcmp(name + n - 5, ".json") == 0)
		return "application/json";
	if (n > 4 && strcmp(name + n - 4, ".pem") == 0)
		return "application/x-pem-file";
	return "application/octet-stream";
}

/* An export that is not (or no longer) there to download: why, as the API says it. */
static bool
ready(json_t *doc, struct export_send *out)
{
	const char *state = json_string_value(json_object_get(doc, "state"));
	const char *node = json_string_value(json_object_get(doc, "node"));
	const char *error = json_string_value(json_object_get(doc, "error"));

	if (state == NULL || strcmp(state, "done") != 0) {
		if (state != NULL && strcmp(state, "expired") == 0)
			refuse(out, 410, "deleted", NULL, "the export's files were deleted after [export] keep");
		else if (state != NULL && (strcmp(state, "failed") == 0 || strcmp(state, "cancelled") == 0))
			refuse(out, 409, "no files", "ask for the export again", "the export %s: %s", state,
			    error ? error : state);
		else
			refuse(out, 409, "not ready", "poll the export until its state is done",
			    "the export is still %s", state ? state : "unknown");
		return false;
	}
	if (node == NULL || strcmp(node, audit_node_name()) != 0) {
		refuse(out, 421, "on another node", NULL, "the export's files are on node %s",
		    node ? node : "unknown");
		return false;
	}
	return true;
}

static json_t *
find_file(json_t *doc, const char *name)
{
	json_t *files = json_object_get(doc, "files"), *f;
	size_t i;

	json_array_foreach(files, i, f) {
		const char *n = json_string_value(json_object_get(f, "name"));

		if (n != NULL && strcmp(n, name) == 0)
			return f;
	}
	return NULL;
}

/* ETag, digests, disposition; the ETag into |etag|. */
static void
add_file_headers(struct http_request *req, int64_t id, const char *name, const char *sha256,
    char *etag, size_t etaglen)
{
	uint8_t md[32];
	char b64[BASE64_ENCODED_LEN(32) + 1], v[160];

	snprintf(etag, etaglen, "\"%s\"", sha256);
	http_add_header(req, "ETag", etag);
	http_add_header(req, "Accept-Ranges", "bytes");
	if (gw_unhex(sha256, md, sizeof(md)) == 0 && base64_encode(md, 32, b64, sizeof(b64)) > 0) {
		snprintf(v, sizeof(v), "sha-256=:%s:", b64);
		http_add_header(req, "Repr-Digest", v);
		snprintf(v, sizeof(v), "SHA-256=%s", b64);
		http_add_header(req, "Digest", v);
	}
	snprintf(v, sizeof(v), "attachment; filename=\"export-%lld-%s\"", (long long)id, name);
	http_add_header(req, "Content-Disposition", v);
	http_add_header(req, "Cache-Control", "no-store");
	http_add_header(req, "X-Content-Type-Options", "nosniff");
}

/* Does an If-None-Match / If-Range value name |etag| (or "*")? */
static bool
etag_listed(const char *header, const char *etag)
{
	return header != NULL && (strcmp(header, "*") == 0 || strstr(header, etag) != NULL);
}

static int
open_file(int64_t id, const char *name, uint64_t size, struct export_send *out)
{
	char dir[PATH_MAX - 128], path[PATH_MAX];
	struct stat st;
	int fd;

	export_dir_of(id, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		log_warn("export %lld: %s cannot be opened: %s", (long long)id, name, strerror(errno));
		refuse(out, 410, "gone", NULL, "the file is no longer on this gateway");
		return -1;
	}
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != size) {
		log_error("export %lld: %s has %lld bytes on disk, the export recorded %llu: not handed out",
		    (long long)id, name, (long long)st.st_size, (unsigned long long)size);
		refuse(out, 500, "file changed", "the server log has the details",
		    "the file on disk is not the one the export recorded");
		close(fd);
		return -1;
	}
	return fd;
}

int
export_prepare_file(struct http_request *req, json_t *doc, const char *name, const char *actor,
    struct export_send *out)
{
	int64_t id = json_integer_value(json_object_get(doc, "id"));
	json_t *f;
	const char *sha, *range, *if_range;
	uint64_t size, first = 0, last = 0;
	char etag[80], cr[96];
	enum http_range_result rr = HTTP_RANGE_NONE;
	struct export_dl *dl;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (!ready(doc, out))
		return -1;
	if (!export_file_name_ok(name) || (f = find_file(doc, name)) == NULL) {
		refuse(out, 404, "not found", "the export's files are listed in its files", "no file %s in export %lld",
		    export_file_name_ok(name) ? name : "of that name", (long long)id);
		return -1;
	}
	sha = json_string_value(json_object_get(f, "sha256"));
	size = (uint64_t)json_integer_value(json_object_get(f, "size"));
	add_file_headers(req, id, name, sha ? sha : "", etag, sizeof(etag));
	out->ctype = content_type(name);
	if (etag_listed(http_header_get(req, "If-None-Match"), etag)) {
		out->status = 304;
		return 0;
	}
	range = http_header_get(req, "Range");
	if_range = http_header_get(req, "If-Range");
	if (range != NULL && (if_range == NULL || strcmp(if_range, etag) == 0))
		rr = http_range_parse(range, strlen(range), size, &first, &last);
	if (rr == HTTP_RANGE_UNSATISFIABLE) {
		snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
		http_add_header(req, "Content-Range", cr);
		out->status = 416;
		return 0;
	}
	if ((out->fd = open_file(id, name, size, out)) < 0)
		return -1;
	if (rr == HTTP_RANGE_OK) {
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)first,
		    (unsigned long long)last, (unsigned long long)size);
		http_add_header(req, "Content-Range", cr);
		out->status = 206;
		out->offset = first;
		out->len = last - first + 1;
	} else {
		out->status = 200;
		out->offset = 0;
		out->len = size;
	}
	dl = gw_xcalloc(1, sizeof(*dl));
	dl->export_id = id;
	dl->authority_id = json_integer_value(json_object_get(doc, "authority_id"));
	dl->grant_id = json_integer_value(json_object_get(doc, "grant_id"));
	dl->camera_id = json_integer_value(json_object_get(f, "camera_id"));
	snprintf(dl->actor, sizeof(dl->actor), "%s", actor);
	snprintf(dl->peer, sizeof(dl->peer), "%s", req->peer);
	snprintf(dl->name, sizeof(dl->name), "%s", name);
	dl->first = out->offset;
	dl->last = out->offset + out->len - (out->len > 0);
	dl->size = size;
	dl->partial = out->status == 206;
	out->dl = dl;
	return 0;
}

void
export_download_done(void *arg, uint64_t sent, bool complete)
{
	struct export_dl *dl = arg;
	json_t *d = json_pack("{s:I, s:s, s:I, s:b, s:I}", "export_id", (json_int_t)dl->export_id,
	    "file", dl->name, "bytes", (json_int_t)sent, "complete", complete, "size", (json_int_t)dl->size);
	struct audit_entry e = {
		.actor = dl->actor, .action = "export.download", .outcome = complete ? "ok" : "error",
		.authority_id = dl->authority_id, .grant_id = dl->grant_id, .camera_id = dl->camera_id,
		.peer = dl->peer, .detail = d,
	};

	if (dl->partial) {
		char r[64];

		snprintf(r, sizeof(r), "%llu-%llu", (unsigned long long)dl->first, (unsigned long long)dl->last);
		json_object_set_new(d, "range", json_string(r));
	}
	log_info("export %lld: %s sent to %s at %s: %llu bytes%s", (long long)dl->export_id, dl->name,
	    dl->actor, dl->peer, (unsigned long long)sent, complete ? "" : " (cut short)");
	audit_record(&e);
	json_decref(d);
	free(dl);
}

void
export_send_discard(struct export_send *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	free(s->dl);
	s->dl = NULL;
}
