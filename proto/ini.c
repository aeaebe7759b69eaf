/*
 * ini.c - configuration file syntax (see ini.h).
 *
 * One line at a time into a bounded local buffer; nothing is allocated.
 */
#include "ini.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The attribute lets clang check the callers' formats (-Wformat-nonliteral). */
static int fail(struct ini_error *err, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct ini_error *err, int line, const char *fmt, ...)
{
	va_list ap;

	err->line = line;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

static int
valid_name(const char *s)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return 0;
	return n > 0 && n < INI_MAX_NAME;
}

/* Unquote "..." in place. Returns 0, or -1 on a broken quote. */
static int
unquote(char *v)
{
	char *r = v + 1, *w = v;

	for (; *r && *r != '"'; r++) {
		if (*r == '\\') {
			if (r[1] != '"' && r[1] != '\\')
				return -1;
			r++;
		}
		*w++ = *r;
	}
	if (*r != '"' || r[1] != '\0')
		return -1;
	*w = '\0';
	return 0;
}

static int
parse_line(char *line, int lineno, char *section, ini_entry_cb cb, void *arg,
    struct ini_error *err)
{
	char *s = trim(line), *eq, *key, *value;

	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		char *close = strchr(s, ']');

		if (close == NULL || close[1] != '\0')
			return fail(err, lineno, "section header is not closed by ']'");
		*close = '\0';
		s = trim(s + 1);
		if (!valid_name(s))
			return fail(err, lineno, "invalid section name");
		memcpy(section, s, strlen(s) + 1);
		return 0;
	}
	eq = strchr(s, '=');
	if (eq == NULL)
		return fail(err, lineno, "expected \"key = value\"");
	*eq = '\0';
	key = trim(s);
	value = trim(eq + 1);
	if (!valid_name(key))
		return fail(err, lineno, "invalid key name");
	if (*value == '"' && unquote(value) < 0)
		return fail(err, lineno, "unterminated or badly escaped quoted value for key \"%s\"", key);
	err->line = lineno;
	if (cb(arg, section, key, value, lineno, err) != 0) {
		err->line = lineno;
		return -1;
	}
	return 0;
}

int
ini_parse(const char *buf, size_t len, ini_entry_cb on_entry, void *arg,
    struct ini_error *err)
{
	char line[INI_MAX_LINE + 1];
	char section[INI_MAX_NAME] = "";
	size_t pos = 0;
	int lineno = 0;

	err->line = 0;
	err->msg[0] = '\0';
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;

		lineno++;
		if (n > INI_MAX_LINE)
			return fail(err, lineno, "line is longer than %d bytes", INI_MAX_LINE);
		if (memchr(buf + pos, '\0', n) != NULL)
			return fail(err, lineno, "line contains a NUL byte");
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		if (parse_line(line, lineno, section, on_entry, arg, err) != 0)
			return -1;
		pos += n + (nl ? 1 : 0);
	}
	return 0;
}
