/*
 * test_web.c - gateway/web/webpath.c: which request paths name a file of the
 * admin page (and which name), the loader's file-name rule, and the
 * Content-Type of each kind of file. Paths are given as the HTTP layer
 * hands them over (decoded by http_decode_path, which already refuses
 * "/../" and "/./" segments; the cases below include them anyway).
 */
#include "vssgate_build.h"

#include "gateway/gw.h"
#include "gateway/http.h"
#include "gateway/web/web.h"
#include "t/tap.h"

#include <string.h>

/* http.c (http_decode_path) links the daemon's process state. */
struct gw_state gw;

static const struct {
	const char *path;
	const char *want;		/* NULL: refused (404) */
} paths[] = {
	{ "/admin/", "index.html" },
	{ "/admin/app.js", "app.js" },
	{ "/admin/vendor/media-stream-library.min.js", "vendor/media-stream-library.min.js" },
	{ "/admin/a-b_c.1.css", "a-b_c.1.css" },
	{ "/admin", NULL },
	{ "/", NULL },
	{ "/adminx/app.js", NULL },
	{ "/api/v1/cameras", NULL },
	{ "/admin/../etc/passwd", NULL },
	{ "/admin/..", NULL },
	{ "/admin/.", NULL },
	{ "/admin/./app.js", NULL },
	{ "/admin/sub/../app.js", NULL },
	{ "/admin/.git/config", NULL },
	{ "/admin/.htaccess", NULL },
	{ "/admin//app.js", NULL },
	{ "/admin/vendor/", NULL },
	{ "/admin/a\\b.js", NULL },
	{ "/admin/a b.js", NULL },
	{ "/admin/%2e%2e/x", NULL },	/* not decoded here: '%' is outside the set */
	{ "/admin/\xc3\xa9.js", NULL },
	{ "/admin/a:b.js", NULL },
};

static const struct {
	const char *name;
	const char *type;
} types[] = {
	{ "index.html", "text/html; charset=utf-8" },
	{ "app.js", "text/javascript; charset=utf-8" },
	{ "app.css", "text/css; charset=utf-8" },
	{ "favicon.svg", "image/svg+xml" },
	{ "vendor/LICENSE.x.txt", "text/plain; charset=utf-8" },
	{ "app.js.gz", NULL },
	{ "secret.key", NULL },
	{ "js", NULL },
	{ ".js", NULL },
};

static void
test_paths(void)
{
	char out[WEB_NAME_MAX + 1];

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		bool got = web_path_name(paths[i].path, out, sizeof(out));

		if (paths[i].want)
			ok(got && strcmp(out, paths[i].want) == 0, "%s -> %s", paths[i].path, paths[i].want);
		else
			ok(!got, "%s refused", paths[i].path);
	}
}

static void
test_decoded_paths(void)
{
	/* What a client sends, through the HTTP layer's decoding, then the page's rule. */
	static const char *const raw[] = { "/admin/%2e%2e/secret", "/admin/%2E%2E%2Fsecret", "/admin/..%2f..%2fetc",
		"/admin/%00index.html", "/admin/sub%2f..%2f..%2fx", "/admin/%5c..%5cx", "/admin/%2fetc/passwd" };
	char dec[256], out[WEB_NAME_MAX + 1];

	for (size_t i = 0; i < ARRAY_SIZE(raw); i++) {
		bool decoded = http_decode_path(raw[i], strlen(raw[i]), dec, sizeof(dec));

		ok(!decoded || !web_path_name(dec, out, sizeof(out)), "%s never names a file", raw[i]);
	}
	ok(http_decode_path("/admin/%61pp.js", 15, dec, sizeof(dec)) && web_path_name(dec, out, sizeof(out)) &&
	    strcmp(out, "app.js") == 0, "an escaped letter is that letter");
}

static void
test_limits(void)
{
	char path[WEB_NAME_MAX + 16], out[WEB_NAME_MAX + 1], small[6];

	memset(path, 'a', sizeof(path));
	memcpy(path, "/admin/", 7);
	memcpy(path + 7 + WEB_NAME_MAX - 3, ".js", 4);
	ok(web_path_name(path, out, sizeof(out)) && strlen(out) == WEB_NAME_MAX, "a name of WEB_NAME_MAX characters");
	memset(path + 7, 'a', WEB_NAME_MAX - 2);
	memcpy(path + 7 + WEB_NAME_MAX - 2, ".js", 4);
	ok(!web_path_name(path, out, sizeof(out)), "one more is refused");
	ok(!web_path_name("/admin/app.js", small, sizeof(small)), "a name longer than the buffer is refused");
}

static void
test_types(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		const char *t = web_content_type(types[i].name);

		if (types[i].type)
			ok(t && strcmp(t, types[i].type) == 0, "%s is %s", types[i].name, types[i].type);
		else
			ok(t == NULL, "%s is not served", types[i].name);
	}
}

int
main(void)
{
	test_paths();
	test_decoded_paths();
	test_limits();
	test_types();
	return tap_done();
}
