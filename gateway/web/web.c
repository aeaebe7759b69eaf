/*
 * web.c - serving the admin page (see web.h): the file table, loading it
 * from the built-in copy or from [web] root, and the GET handlers.
 *
 * Every file is in memory from start-up on, with its strong ETag (a hash of
 * its bytes) and, when it is smaller, its gzip form, so a request costs a
 * table lookup and one write. Answers revalidate (Cache-Control: no-cache,
 * 304 on If-None-Match), so a new version is seen at once after an upgrade.
 * The HTML carries a Content-Security-Policy that lets the page talk to this
 * gateway only (and fetch tiles from [web] map_tiles when one is set).
 *
 * Ownership: the table and the files it loaded belong to this module; the
 * built-in assets are static data and never freed.
 */
#include "../gw.h"
#include "../config.h"
#include "../http.h"
#include "../log.h"
#include "web.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define WEB_MAX_DEPTH 4
#define PLAYER_FILE "vendor/media-stream-library.min.js"

struct web_file {
	char *name;
	const char *ctype;
	const unsigned char *data;
	size_t len;
	const unsigned char *gz;	/* NULL: no gzip form */
	size_t gzlen;
	char etag[24];			/* "\"<16 hex>\"" */
	char etag_gz[28];		/* "\"<16 hex>-gz\"" */
	unsigned char *owned[2];	/* buffers read from [web] root, freed at shutdown */
};

struct web_table {
	struct web_file files[WEB_MAX_FILES];
	int n;
	size_t bytes, gzbytes;
	char source[512];		/* "the built-in copy" or the directory */
};

static struct web_table table;

/* --- the table -------------------------------------------------------------------- */

static void
set_etags(struct web_file *f)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[17];

	EVP_Digest(f->data, f->len, md, &mdlen, EVP_sha256(), NULL);
	gw_hex(md, 8, hex);
	snprintf(f->etag, sizeof(f->etag), "\"%s\"", hex);
	snprintf(f->etag_gz, sizeof(f->etag_gz), "\"%s-gz\"", hex);
}

/* Add a file; false when the table is full or the name is refused. */
static bool
table_add(const char *name, const unsigned char *data, size_t len, const unsigned char *gz,
    size_t gzlen)
{
	struct web_file *f;
	const char *ctype = web_content_type(name);

	if (table.n == WEB_MAX_FILES || ctype == NULL || !web_valid_name(name))
		return false;
	f = &table.files[table.n++];
	f->name = gw_xstrdup(name);
	f->ctype = ctype;
	f->data = data;
	f->len = len;
	f->gz = gz != NULL && gzlen < len ? gz : NULL;
	f->gzlen = f->gz ? gzlen : 0;
	set_etags(f);
	table.bytes += len;
	table.gzbytes += f->gz ? f->gzlen : len;
	return true;
}

static const struct web_file *
table_find(const char *name)
{
	for (int i = 0; i < table.n; i++)
		if (strcmp(table.files[i].name, name) == 0)
			return &table.files[i];
	return NULL;
}

static void
table_clear(void)
{
	for (int i = 0; i < table.n; i++) {
		free(table.files[i].name);
		free(table.files[i].owned[0]);
		free(table.files[i].owned[1]);
	}
	memset(&table, 0, sizeof(table));
}

static void
load_builtin(void)
{
	for (int i = 0; i < web_nbuiltin_assets; i++) {
		const struct web_asset *a = &web_builtin_assets[i];

		if (!table_add(a->name, a->data, a->len, a->gz, a->gzlen))
			log_warn("web: built-in file %s refused", a->name);
	}
	snprintf(table.source, sizeof(table.source), "the copy built into vssgated");
}

/* --- loading [web] root ---------------------------------------------------------------- */

/*
 * Read the regular file |name| of directory |dirfd| (symbolic links are not
 * followed). 1: read into *out; 0: absent; -1: unreadable or too large (logged).
 */
static int
read_file_at(int dirfd, const char *name, const char *shown, unsigned char **out, size_t *len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	ssize_t got = 0;
	int rc = -1;

	*out = NULL;
	if (fd < 0)
		return errno == ENOENT ? 0 : (log_warn("web: cannot open %s: %s", shown, strerror(errno)), -1);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > WEB_MAX_FILE_BYTES) {
		log_warn("web: %s is not a regular file of at most %u bytes; not served", shown,
		    WEB_MAX_FILE_BYTES);
		goto out;
	}
	*out = gw_xmalloc((size_t)st.st_size + 1);
	while ((size_t)got < (size_t)st.st_size) {
		ssize_t n = read(fd, *out + got, (size_t)st.st_size - (size_t)got);

		if (n <= 0) {
			log_warn("web: cannot read %s: %s", shown, n < 0 ? strerror(errno) : "short file");
			free(*out);
			*out = NULL;
			goto out;
		}
		got += n;
	}
	*len = (size_t)got;
	rc = 1;
out:
	close(fd);
	return rc;
}

/* One file of the directory: itself and, when present, NAME.gz beside it. */
static int
load_one(int dirfd, const char *entry, const char *name)
{
	char gzname[NAME_MAX + 4], shown[WEB_NAME_MAX + 8];
	unsigned char *data, *gz = NULL;
	size_t len = 0, gzlen = 0;
	struct web_file *f;

	snprintf(shown, sizeof(shown), "%s", name);
	if (read_file_at(dirfd, entry, shown, &data, &len) <= 0)
		return -1;
	snprintf(gzname, sizeof(gzname), "%s.gz", entry);
	if (read_file_at(dirfd, gzname, shown, &gz, &gzlen) < 0)
		gz = NULL;
	if (table.bytes + len > WEB_MAX_TOTAL_BYTES || !table_add(name, data, len, gz, gzlen)) {
		log_warn("web: %s not served (more than %d files or %u bytes)", name, WEB_MAX_FILES,
		    WEB_MAX_TOTAL_BYTES);
		free(data);
		free(gz);
		return -1;
	}
	f = &table.files[table.n - 1];
	f->owned[0] = data;
	f->owned[1] = gz;
	if (f->gz == NULL) {
		free(gz);
		f->owned[1] = NULL;
	}
	return 0;
}

/* Walk |dirfd| (owned: closed here), adding files below |prefix| ("" at the top). */
static void
load_dir(int dirfd, const char *prefix, int depth)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *e;

	if (d == NULL) {
		close(dirfd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		char name[WEB_NAME_MAX + 2];
		struct stat st;

		if (e->d_name[0] == '.' || snprintf(name, sizeof(name), "%s%s", prefix, e->d_name) >=
		    (int)sizeof(name) || fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth < WEB_MAX_DEPTH && web_valid_name(name)) {
			int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			strcat(name, "/");
			if (sub >= 0)
				load_dir(sub, name, depth + 1);
		} else if (S_ISREG(st.st_mode) && web_content_type(name) != NULL && web_valid_name(name)) {
			load_one(dirfd, e->d_name, name);
		}
	}
	closedir(d);
}

static int
load_root(const char *root)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		log_error("[web] root %s: %s", root, strerror(errno));
		return -1;
	}
	load_dir(fd, "", 0);
	if (table_find("index.html") == NULL) {
		log_error("[web] root %s has no index.html", root);
		return -1;
	}
	snprintf(table.source, sizeof(table.source), "%s", root);
	return 0;
}

/* --- answering ------------------------------------------------------------------------ */

/* Is |q| ("q=0", "q=0.000", "q=1") a weight of zero? */
static bool
zero_weight(const char *q, size_t len)
{
	while (len > 0 && *q == ' ')
		q++, len--;
	if (len < 3 || strncasecmp(q, "q=0", 3) != 0)
		return false;
	for (size_t i = 3; i < len; i++)
		if (q[i] != '0' && q[i] != '.' && q[i] != ' ')
			return false;
	return true;
}

/* Does Accept-Encoding allow gzip? ("gzip", "gzip;q=0.5", "*", but not "gzip;q=0"). */
static bool
accepts_gzip(const struct http_request *req)
{
	const char *p = http_header_get(req, "Accept-Encoding");

	while (p != NULL && *p != '\0') {
		size_t len = strcspn(p, ","), name;
		const char *semi;

		while (len > 0 && *p == ' ')
			p++, len--;
		semi = memchr(p, ';', len);
		name = semi ? (size_t)(semi - p) : len;
		while (name > 0 && p[name - 1] == ' ')
			name--;
		if ((name == 4 && strncasecmp(p, "gzip", 4) == 0) || (name == 1 && *p == '*'))
			return !(semi && zero_weight(semi + 1, len - (size_t)(semi - p) - 1));
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

/* The scheme://host[:port] of an http(s) tile URL, if it is safe to put in a header. */
static bool
tile_origin(const char *url, char *out, size_t outlen)
{
	const char *host = strstr(url, "://");
	size_t n;

	if (host == NULL || url[0] == '/')
		return false;
	host += 3;
	n = strcspn(host, "/");
	if (n == 0 || strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") < n ||
	    (size_t)(host - url) + n >= outlen)
		return false;
	snprintf(out, outlen, "%.*s", (int)((size_t)(host - url) + n), url);
	return true;
}

static void
page_headers(struct http_request *req)
{
	char origin[300] = "", csp[800];

	tile_origin(gw.cfg->web_map_tiles, origin, sizeof(origin));
	/* 'self' covers ws:// and wss:// of this host (CSP level 3): the live view's WebSocket. */
	snprintf(csp, sizeof(csp), "default-src 'none'; script-src 'self'; style-src 'self'; "
	    "img-src 'self'%s%s; connect-src 'self'; media-src 'self' blob:; worker-src 'self' blob:; "
	    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'", origin[0] ? " " : "", origin);
	http_add_header(req, "Content-Security-Policy", csp);
	http_add_header(req, "X-Frame-Options", "DENY");
	http_add_header(req, "Referrer-Policy", "no-referrer");
}

static bool
etag_matches(const struct http_request *req, const char *etag)
{
	const char *inm = http_header_get(req, "If-None-Match");

	return inm != NULL && (strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL);
}

static void
serve_file(struct http_request *req, const struct web_file *f)
{
	bool gz = f->gz != NULL && accepts_gzip(req);
	const char *etag = gz ? f->etag_gz : f->etag;

	http_add_header(req, "ETag", etag);
	http_add_header(req, "Cache-Control", "no-cache");
	http_add_header(req, "Vary", "Accept-Encoding");
	http_add_header(req, "X-Content-Type-Options", "nosniff");
	if (strcmp(f->ctype, "text/html; charset=utf-8") == 0)
		page_headers(req);
	if (etag_matches(req, etag)) {
		http_respond(req, 304, NULL, NULL, 0);
		return;
	}
	if (gz)
		http_add_header(req, "Content-Encoding", "gzip");
	http_respond(req, 200, f->ctype, gz ? f->gz : f->data, gz ? f->gzlen : f->len);
}

/* What the page needs to know of the configuration; nothing secret. */
static void
serve_config(struct http_request *req)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:I}", "version", PACKAGE_VERSION,
	    "map_tiles", gw.cfg->web_map_tiles, "map_attribution", gw.cfg->web_map_attribution,
	    "live_view", table_find(PLAYER_FILE) != NULL,
	    "live_view_duration_s", (json_int_t)(gw.cfg->web_live_view_duration_ms / 1000));
	char *text = json_dumps(o, JSON_COMPACT);

	http_add_header(req, "Cache-Control", "no-store");
	http_add_header(req, "X-Content-Type-Options", "nosniff");
	http_respond(req, 200, "application/json", text, strlen(text));
	free(text);
	json_decref(o);
}

static void
web_get(struct http_request *req)
{
	char name[WEB_NAME_MAX + 1];
	const struct web_file *f;

	if (strcmp(req->path, WEB_PREFIX "config.json") == 0) {
		serve_config(req);
		return;
	}
	if (!web_path_name(req->path, name, sizeof(name)) || (f = table_find(name)) == NULL) {
		http_respond_error(req, 404, "not found", "no such file of the admin page", NULL);
		return;
	}
	serve_file(req, f);
}

static void
web_redirect(struct http_request *req)
{
	http_add_header(req, "Location", WEB_PREFIX);
	http_respond(req, 301, "text/plain; charset=utf-8", "see /admin/\n", 12);
}

static void
web_root_hint(struct http_request *req)
{
	http_respond_error(req, 404, "not found", NULL, "the admin page is at " WEB_PREFIX);
}

int
web_init(void)
{
	if (!gw.cfg->web_enable)
		return 0;
	if (gw.cfg->web_root[0] == '\0') {
		load_builtin();
	} else if (load_root(gw.cfg->web_root) < 0) {
		table_clear();
		return -1;
	}
	if (table_find(PLAYER_FILE) == NULL)
		log_warn("web: no %s: the page's live view is off (run npm ci in gateway/web and rebuild)",
		    PLAYER_FILE);
	log_info("web: admin page at %s from %s: %d files, %zu KiB (%zu KiB compressed)", WEB_PREFIX,
	    table.source, table.n, table.bytes / 1024, table.gzbytes / 1024);
	http_route("GET", WEB_PREFIX, true, web_get);
	http_route("GET", "/admin", false, web_redirect);
	http_route("GET", "/", false, web_root_hint);
	return 0;
}

void
web_shutdown(void)
{
	table_clear();
}
