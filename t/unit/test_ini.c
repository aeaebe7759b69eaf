/*
 * test_ini.c - proto/ini.c, the configuration file syntax.
 *
 * Each case parses a text and compares what the callback saw, written as
 * "section.key=value@line;" for every entry, and on failure the line and a
 * piece of the message.
 */
#include "vssgate_build.h"

#include "proto/ini.h"
#include "t/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct seen {
	char text[INI_MAX_LINE + 256];
	int stop_at_line;		/* the callback refuses the entry on this line */
};

static int
collect(void *arg, const char *section, const char *key, const char *value, int line,
    struct ini_error *err)
{
	struct seen *s = arg;
	size_t used = strlen(s->text);

	snprintf(s->text + used, sizeof(s->text) - used, "%s.%s=%s@%d;", section, key, value, line);
	if (line == s->stop_at_line) {
		snprintf(err->msg, sizeof(err->msg), "the callback refused \"%s\"", key);
		return 1;
	}
	return 0;
}

#define WITH_NUL "[s]\nk = 1\nk = a\0b\n"

static const struct ini_case {
	const char *name;
	const char *in;
	size_t len;			/* 0: strlen(in) */
	const char *want_seen;		/* entries delivered, also on failure */
	int want_line;			/* 0: success expected */
	const char *want_msg;		/* part of the error message */
} cases[] = {
	/* syntax that parses */
	{ "sections and keys", "[a]\nx = 1\n[b]\ny=2\n", 0, "a.x=1@2;b.y=2@4;", 0, NULL },
	{ "blanks around the section name and the key are trimmed", "[ a ]\n\t x \t=\t 1 \t\n", 0,
	  "a.x=1@2;", 0, NULL },
	{ "a key before any section gets the empty section", "k = v\n[s]\n", 0, ".k=v@1;", 0, NULL },
	{ "comments with # and ;, also indented", "# one\n; two\n  # three\n\t; four\n[s]\nk = v\n", 0,
	  "s.k=v@6;", 0, NULL },
	{ "# after a value is part of the value", "[s]\nk = v # not a comment\n", 0,
	  "s.k=v # not a comment@2;", 0, NULL },
	{ "blank and whitespace-only lines", "\n\n[s]\n   \n\t\nk = v\n\n", 0, "s.k=v@6;", 0, NULL },
	{ "an empty value", "[s]\nk =\nl=\"\"\n", 0, "s.k=@2;s.l=@3;", 0, NULL },
	{ "the value runs to the end of the line, = included", "[s]\nk = a=b c\n", 0, "s.k=a=b c@2;", 0, NULL },
	{ "a quoted value keeps its blanks", "[s]\nk = \"  a b  \"\n", 0, "s.k=  a b  @2;", 0, NULL },
	{ "quoted value with \\\" and \\\\ escapes", "[s]\nk = \"say \\\"hi\\\" \\\\o/\"\n", 0,
	  "s.k=say \"hi\" \\o/@2;", 0, NULL },
	{ "CRLF line endings", "[s]\r\nk = v\r\nq = \"w\"\r\n\r\n", 0, "s.k=v@2;s.q=w@3;", 0, NULL },
	{ "a last line without newline", "[s]\nk = v", 0, "s.k=v@2;", 0, NULL },
	{ "names may hold letters, digits, _ - and .", "[a-b.c_1]\nk_2-x.y = 1\n", 0,
	  "a-b.c_1.k_2-x.y=1@2;", 0, NULL },
	{ "an empty buffer", "", 0, "", 0, NULL },

	/* errors, with the line of the fault */
	{ "a section header without ]", "[s]\nk = 1\n[t\n", 0, "s.k=1@2;", 3, "not closed" },
	{ "text after ] of a section header", "[s] x\n", 0, "", 1, "not closed" },
	{ "an empty section name", "\n[]\n", 0, "", 2, "invalid section name" },
	{ "a section name with a blank", "[a b]\n", 0, "", 1, "invalid section name" },
	{ "a key name with a blank", "[s]\nk y = 1\n", 0, "", 2, "invalid key name" },
	{ "an empty key name", "[s]\n = 1\n", 0, "", 2, "invalid key name" },
	{ "a line without =", "[s]\n\n# c\nnovalue\n", 0, "", 4, "expected \"key = value\"" },
	{ "an unterminated quote", "[s]\nk = \"abc\n", 0, "", 2, "quoted value for key \"k\"" },
	{ "an unknown escape in quotes", "[s]\nk = \"a\\tb\"\n", 0, "", 2, "quoted value for key \"k\"" },
	{ "text after the closing quote", "[s]\nok = 1\nk = \"a\" b\n", 0, "s.ok=1@2;", 3,
	  "quoted value for key \"k\"" },
	{ "a backslash ending the quoted value", "[s]\nk = \"a\\\"\n", 0, "", 2, "quoted value" },
	{ "a NUL byte", WITH_NUL, sizeof(WITH_NUL) - 1, "s.k=1@2;", 3, "NUL" },
	{ "CRLF does not shift line numbers", "[s]\r\n\r\nk = 1\r\nbad\r\n", 0, "s.k=1@3;", 4, "key = value" },
};

static void
run_case(const struct ini_case *c)
{
	struct seen s = { .stop_at_line = -1 };
	struct ini_error err;
	size_t len = c->len ? c->len : strlen(c->in);
	int rc = ini_parse(c->in, len, collect, &s, &err);

	if (c->want_line == 0) {
		if (!ok(rc == 0 && strcmp(s.text, c->want_seen) == 0, "%s", c->name))
			diag("rc %d, line %d: %s; seen \"%s\", expected \"%s\"", rc, err.line, err.msg,
			    s.text, c->want_seen);
		return;
	}
	if (!ok(rc != 0 && err.line == c->want_line && strstr(err.msg, c->want_msg) != NULL &&
	    strcmp(s.text, c->want_seen) == 0, "%s: an error on line %d", c->name, c->want_line))
		diag("rc %d, line %d: \"%s\"; seen \"%s\"", rc, err.line, err.msg, s.text);
}

/* "[s]\n" then "k=" and enough x to make the second line |n| bytes long. */
static char *
long_line(size_t n)
{
	char *buf = malloc(4 + n + 2);

	memcpy(buf, "[s]\nk=", 6);
	memset(buf + 6, 'x', n - 2);
	memcpy(buf + 4 + n, "\n", 2);
	return buf;
}

static void
test_line_length(void)
{
	struct seen s = { .stop_at_line = -1 };
	struct ini_error err;
	char *at_limit = long_line(INI_MAX_LINE), *over = long_line(INI_MAX_LINE + 1);

	ok(ini_parse(at_limit, strlen(at_limit), collect, &s, &err) == 0 &&
	    strlen(s.text) == strlen("s.k=@2;") + INI_MAX_LINE - 2,
	    "a line of exactly INI_MAX_LINE (%d) bytes parses", INI_MAX_LINE);
	if (!ok(ini_parse(over, strlen(over), collect, &s, &err) != 0 && err.line == 2 &&
	    strstr(err.msg, "longer than") != NULL, "a line of INI_MAX_LINE + 1 bytes is an error on line 2"))
		diag("line %d: %s", err.line, err.msg);
	free(at_limit);
	free(over);
}

static void
test_name_length(void)
{
	char buf[2 * INI_MAX_NAME + 32], name[INI_MAX_NAME + 1];
	struct seen s = { .stop_at_line = -1 };
	struct ini_error err;

	memset(name, 'n', sizeof(name) - 1);
	name[INI_MAX_NAME - 1] = '\0';
	snprintf(buf, sizeof(buf), "[%s]\n%s = 1\n", name, name);
	ok(ini_parse(buf, strlen(buf), collect, &s, &err) == 0,
	    "section and key names of INI_MAX_NAME - 1 (%d) characters parse", INI_MAX_NAME - 1);
	name[INI_MAX_NAME - 1] = 'n';
	name[INI_MAX_NAME] = '\0';
	snprintf(buf, sizeof(buf), "[%s]\n", name);
	ok(ini_parse(buf, strlen(buf), collect, &s, &err) != 0 && err.line == 1 &&
	    strstr(err.msg, "invalid section name") != NULL,
	    "a section name of INI_MAX_NAME characters is invalid");
	snprintf(buf, sizeof(buf), "[s]\n%s = 1\n", name);
	ok(ini_parse(buf, strlen(buf), collect, &s, &err) != 0 && err.line == 2 &&
	    strstr(err.msg, "invalid key name") != NULL,
	    "a key name of INI_MAX_NAME characters is invalid");
}

static void
test_callback_abort(void)
{
	static const char text[] = "[s]\na = 1\nb = 2\nc = 3\n";
	struct seen s = { .stop_at_line = 3 };
	struct ini_error err;
	int rc = ini_parse(text, strlen(text), collect, &s, &err);

	ok(rc != 0, "a callback returning nonzero makes ini_parse fail");
	is_int(err.line, 3, "the error carries the line of the refused entry");
	is_str(err.msg, "the callback refused \"b\"", "the callback's message is kept");
	is_str(s.text, "s.a=1@2;s.b=2@3;", "no entry after the refused one is delivered");
}

int
main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	test_line_length();
	test_name_length();
	test_callback_abort();
	return done_testing();
}
