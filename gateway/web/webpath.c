/*
 * webpath.c - from a request path to the name of a page file, and the file
 * names the page may have (see web.h). Pure: no I/O, no globals.
 *
 * The rule is deliberately narrow: names are a few segments of
 * [A-Za-z0-9._-], none empty, none starting with a dot. Whatever decoding
 * happened before (http_decode_path), "..", "%2e%2e", "//", "\", NUL and
 * hidden files cannot pass, and since the result only looks up an
 * in-memory table, a name that passes still cannot leave it.
 */
#include "web.h"

#include <string.h>

static bool
name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '.' || c == '_' || c == '-';
}

bool
web_valid_name(const char *name)
{
	size_t len = strlen(name);
	bool seg_start = true;

	if (len == 0 || len > WEB_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (c == '/') {
			if (seg_start)
				return false;	/* empty segment: "//" or a leading "/" */
			seg_start = true;
			continue;
		}
		if (!name_char(c) || (seg_start && c == '.'))
			return false;	/* "..", ".hidden", or a character outside the set */
		seg_start = false;
	}
	return !seg_start;		/* no trailing "/" */
}

bool
web_path_name(const char *path, char *out, size_t outlen)
{
	size_t plen = strlen(WEB_PREFIX);
	const char *rest;

	if (strncmp(path, WEB_PREFIX, plen) != 0)
		return false;
	rest = path + plen;
	if (*rest == '\0')
		rest = "index.html";
	if (!web_valid_name(rest) || strlen(rest) >= outlen)
		return false;
	memcpy(out, rest, strlen(rest) + 1);
	return true;
}

static const struct {
	const char *ext;
	const char *type;
} types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".json", "application/json" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".txt", "text/plain; charset=utf-8" },
	{ ".csv", "text/csv; charset=utf-8" },
};

const char *
web_content_type(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t e = strlen(types[i].ext);

		if (n > e && strcmp(name + n - e, types[i].ext) == 0)
			return types[i].type;
	}
	return NULL;
}
