/*
 * test_config.c - gateway/config.c: config_parse() with defaults, every
 * value type, the errors (each must say "NAME:LINE:" and name its key) and
 * the round trip through config_print_defaults().
 */
#include "vssgate_build.h"

#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/log.h"
#include "t/tap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* config.c refers to the process state that main.c defines; this test has no main.c. */
struct gw_state gw;

#define NAME "test.conf"

static struct gw_config *
parse(const char *text, struct cfg_error *err)
{
	err->msg[0] = '\0';
	return config_parse(NAME, text, strlen(text), err);
}

/* --- value cases -------------------------------------------------------------- */

#define GETTER_AS(name, field)				\
	static int64_t					\
	get_##name(const struct gw_config *c)		\
	{						\
		return (int64_t)c->field;		\
	}
#define GETTER(field) GETTER_AS(field, field)
GETTER(idle_timeout_ms)
GETTER(db_outage_grace_ms)
GETTER(model_refresh_delay_ms)
GETTER(max_header_bytes)
GETTER(max_body_bytes)
GETTER(max_headers)
GETTER(worker_threads)
GETTER(log_level)
GETTER(log_target)
GETTER_AS(rtsp_count, listen_rtsp.count)

#define GET(field) #field, get_##field
#define RTSP_COUNT "[listen] rtsp count", get_rtsp_count

static const struct value_case {
	const char *name;
	const char *text;
	const char *field;
	int64_t (*get)(const struct gw_config *);
	int64_t want;			/* when want_line is 0 */
	int want_line;			/* line of the error, 0 for success */
	const char *want_key;		/* named in the error */
} value_cases[] = {
	{ "duration in ms", "[limits]\nidle_timeout = 1500ms\n", GET(idle_timeout_ms), 1500, 0, NULL },
	{ "duration in s", "[limits]\nidle_timeout = 90s\n", GET(idle_timeout_ms), 90000, 0, NULL },
	{ "duration in m", "[limits]\nidle_timeout = 2m\n", GET(idle_timeout_ms), 120000, 0, NULL },
	{ "duration in min", "[limits]\nidle_timeout = 2min\n", GET(idle_timeout_ms), 120000, 0, NULL },
	{ "duration in h", "[limits]\nidle_timeout = 3h\n", GET(idle_timeout_ms), 3 * 3600000LL, 0, NULL },
	{ "duration in d, at the maximum", "[limits]\nidle_timeout = 1d\n", GET(idle_timeout_ms), 86400000, 0, NULL },
	{ "a bare duration is seconds", "[limits]\nidle_timeout = 75\n", GET(idle_timeout_ms), 75000, 0, NULL },
	{ "a duration of 0 where 0 is the minimum", "[database]\noutage_grace = 0\n",
	  GET(db_outage_grace_ms), 0, 0, NULL },
	{ "a duration at the minimum", "[limits]\nidle_timeout = 1000ms\n", GET(idle_timeout_ms), 1000, 0, NULL },
	{ "a duration below the minimum", "[limits]\nidle_timeout = 999ms\n", GET(idle_timeout_ms), 0, 2, "idle_timeout" },
	{ "a duration above the maximum", "[limits]\n\nidle_timeout = 2d\n", GET(idle_timeout_ms), 0, 3, "idle_timeout" },
	{ "a negative duration", "[database]\nmodel_refresh_delay = -5ms\n", GET(model_refresh_delay_ms), 0, 2,
	  "model_refresh_delay" },
	{ "a duration with an unknown unit", "[limits]\nidle_timeout = 5sec\n", GET(idle_timeout_ms), 0, 2, "idle_timeout" },
	{ "a duration with a blank before the unit", "[limits]\nidle_timeout = 5 s\n", GET(idle_timeout_ms), 0, 2,
	  "idle_timeout" },
	{ "a fractional duration", "[limits]\nidle_timeout = 1.5s\n", GET(idle_timeout_ms), 0, 2, "idle_timeout" },
	{ "an empty duration", "[limits]\nidle_timeout =\n", GET(idle_timeout_ms), 0, 2, "idle_timeout" },
	{ "a duration that overflows", "[limits]\nidle_timeout = 9223372036854775807d\n", GET(idle_timeout_ms), 0, 2,
	  "idle_timeout" },

	{ "size in k", "[limits]\nmax_header_bytes = 16k\n", GET(max_header_bytes), 16384, 0, NULL },
	{ "size units ignore case", "[limits]\nmax_header_bytes = 16K\n", GET(max_header_bytes), 16384, 0, NULL },
	{ "size in kb", "[limits]\nmax_header_bytes = 2kb\n", GET(max_header_bytes), 2048, 0, NULL },
	{ "size in m, at the maximum", "[limits]\nmax_header_bytes = 1m\n", GET(max_header_bytes), 1048576, 0, NULL },
	{ "size in g, at the maximum", "[limits]\nmax_body_bytes = 1g\n", GET(max_body_bytes), 1073741824, 0, NULL },
	{ "a bare size is bytes", "[limits]\nmax_header_bytes = 2048\n", GET(max_header_bytes), 2048, 0, NULL },
	{ "a size of 0 where 0 is the minimum", "[limits]\nmax_body_bytes = 0\n", GET(max_body_bytes), 0, 0, NULL },
	{ "a size below the minimum", "[limits]\nmax_header_bytes = 1023\n", GET(max_header_bytes), 0, 2,
	  "max_header_bytes" },
	{ "a size above the maximum", "[limits]\nmax_body_bytes = 2g\n", GET(max_body_bytes), 0, 2, "max_body_bytes" },
	{ "a size with an unknown unit", "[limits]\nmax_body_bytes = 4t\n", GET(max_body_bytes), 0, 2, "max_body_bytes" },
	{ "a negative size", "[limits]\nmax_body_bytes = -1\n", GET(max_body_bytes), 0, 2, "max_body_bytes" },

	{ "an int at the minimum", "[limits]\nmax_headers = 8\n", GET(max_headers), 8, 0, NULL },
	{ "an int at the maximum", "[limits]\nmax_headers = 1024\n", GET(max_headers), 1024, 0, NULL },
	{ "an int below the range", "[limits]\nmax_headers = 7\n", GET(max_headers), 0, 2, "max_headers" },
	{ "an int above the range", "[limits]\nmax_headers = 1025\n", GET(max_headers), 0, 2, "max_headers" },
	{ "an int with trailing text", "[daemon]\nworker_threads = 4x\n", GET(worker_threads), 0, 2, "worker_threads" },
	{ "an int in hex", "[daemon]\nworker_threads = 0x4\n", GET(worker_threads), 0, 2, "worker_threads" },
	{ "an int that overflows int64", "[limits]\nmax_headers = 99999999999999999999\n", GET(max_headers), 0, 2,
	  "max_headers" },
	{ "an empty int", "[daemon]\nworker_threads =\n", GET(worker_threads), 0, 2, "worker_threads" },

	{ "an enum: log_level debug", "[daemon]\nlog_level = debug\n", GET(log_level), LOG_LVL_DEBUG, 0, NULL },
	{ "an enum: log_level error", "[daemon]\nlog_level = error\n", GET(log_level), LOG_LVL_ERROR, 0, NULL },
	{ "an enum: log_target syslog", "[daemon]\nlog_target = syslog\n", GET(log_target), LOG_TARGET_SYSLOG, 0, NULL },
	{ "an unknown enum value", "[daemon]\nlog_level = verbose\n", GET(log_level), 0, 2, "log_level" },
	{ "enum values are case-sensitive", "[daemon]\nlog_level = DEBUG\n", GET(log_level), 0, 2, "log_level" },

	{ "listen: one IPv6 address", "[listen]\nrtsp = [::1]:8554\n", RTSP_COUNT, 1, 0, NULL },
	{ "listen: two addresses", "[listen]\nrtsp = 0.0.0.0:554, 127.0.0.1:8554\n", RTSP_COUNT, 2, 0, NULL },
	{ "listen: empty means none", "[listen]\nrtsp =\n", RTSP_COUNT, 0, 0, NULL },
	{ "listen: quoted empty means none", "[listen]\nrtsp = \"\"\n", RTSP_COUNT, 0, 0, NULL },
	{ "listen: CFG_MAX_LISTEN addresses", "[listen]\nrtsp = a:1,a:2,a:3,a:4,a:5,a:6,a:7,a:8\n",
	  RTSP_COUNT, CFG_MAX_LISTEN, 0, NULL },
	{ "listen: more than CFG_MAX_LISTEN addresses", "[listen]\nrtsp = a:1,a:2,a:3,a:4,a:5,a:6,a:7,a:8,a:9\n",
	  RTSP_COUNT, 0, 2, "rtsp" },
	{ "listen: port 65535", "[listen]\nrtsp = host:65535\n", RTSP_COUNT, 1, 0, NULL },
	{ "listen: port 0", "[listen]\nrtsp = host:0\n", RTSP_COUNT, 0, 2, "rtsp" },
	{ "listen: port 65536", "[listen]\nrtsp = host:65536\n", RTSP_COUNT, 0, 2, "rtsp" },
	{ "listen: a port that is not a number", "[listen]\nrtsp = host:rtsp\n", RTSP_COUNT, 0, 2, "rtsp" },
	{ "listen: missing port", "[listen]\nrtsp = localhost\n", RTSP_COUNT, 0, 2, "rtsp" },
	{ "listen: empty port", "[listen]\nrtsp = localhost:\n", RTSP_COUNT, 0, 2, "rtsp" },
	{ "listen: missing host", "[listen]\nrtsp = :8554\n", RTSP_COUNT, 0, 2, "rtsp" },
	{ "listen: IPv6 without the closing ]", "[listen]\nrtsp = [::1:8554\n", RTSP_COUNT, 0, 2, "rtsp" },
	{ "listen: an empty item between commas", "[listen]\nrtsp = a:1,,b:2\n", RTSP_COUNT, 0, 2, "rtsp" },
};

static bool
error_names_line(const struct cfg_error *err, int line)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), NAME ":%d: ", line);
	return strncmp(err->msg, prefix, strlen(prefix)) == 0;
}

static bool
error_names_key(const struct cfg_error *err, const char *key)
{
	char quoted[80];

	snprintf(quoted, sizeof(quoted), "\"%s\"", key);
	return strstr(err->msg, quoted) != NULL;
}

static void
run_value_case(const struct value_case *c)
{
	struct cfg_error err;
	struct gw_config *cfg = parse(c->text, &err);

	if (c->want_line == 0) {
		int64_t got = cfg ? c->get(cfg) : 0;

		if (!ok(cfg != NULL && got == c->want, "%s: %s = %lld", c->name, c->field,
		    (long long)c->want))
			diag("got %lld; %s", (long long)got, err.msg);
	} else if (!ok(cfg == NULL && error_names_line(&err, c->want_line) &&
	    error_names_key(&err, c->want_key),
	    "%s: error at " NAME ":%d naming \"%s\"", c->name, c->want_line, c->want_key)) {
		diag("got: %s", cfg ? "(accepted)" : err.msg);
	}
	config_free(cfg);
}

/* --- structural errors -------------------------------------------------------- */

static const struct error_case {
	const char *name;
	const char *text;
	int want_line;
	const char *want_text;		/* in the message: the key in quotes when there is one */
} error_cases[] = {
	{ "an unknown section", "# c\n[nope]\nk = 1\n", 3, "[nope]" },
	{ "an unknown key", "[limits]\n\nfoo = 1\n", 3, "\"foo\"" },
	{ "a key in the wrong section", "[daemon]\nmax_headers = 10\n", 2, "\"max_headers\"" },
	{ "a key set twice", "[limits]\nmax_headers = 10\n# again\nmax_headers = 12\n", 4, "\"max_headers\"" },
	{ "a key set twice in two sections of the same name", "[limits]\nmax_headers = 10\n[daemon]\n[limits]\n"
	  "max_headers = 10\n", 5, "\"max_headers\"" },
	{ "a key before any section", "max_headers = 10\n", 1, "\"max_headers\"" },
	{ "a syntax error of the file", "[limits]\nmax_headers 10\n", 2, "key = value" },
	{ "a tls listener without cert_file and key_file", "[listen]\nrtsp = a:1\ntls = 0.0.0.0:8443\n", 3, "\"tls\"" },
	{ "a tls listener without key_file", "[listen]\ntls = 0.0.0.0:8443\n[tls]\ncert_file = /c.pem\n", 2, "\"tls\"" },
	{ "a tls listener without cert_file", "[tls]\nkey_file = /k.pem\n[listen]\ntls = 0.0.0.0:8443\n", 4, "\"tls\"" },
	{ "reconnect_min_delay above reconnect_max_delay", "[database]\nreconnect_min_delay = 20s\n"
	  "reconnect_max_delay = 10s\n", 3, "\"reconnect_min_delay\"" },
	{ "reconnect_min_delay above the default maximum", "[database]\n\nreconnect_min_delay = 11s\n", 3,
	  "\"reconnect_min_delay\"" },
	{ "no listener at all", "[listen]\nrtsp =\nhttp = \"\"\n# end\n", 3, "[listen]" },
};

static void
run_error_case(const struct error_case *c)
{
	struct cfg_error err;
	struct gw_config *cfg = parse(c->text, &err);

	if (!ok(cfg == NULL && error_names_line(&err, c->want_line) && strstr(err.msg, c->want_text) != NULL,
	    "%s: error at " NAME ":%d with %s", c->name, c->want_line, c->want_text))
		diag("got: %s", cfg ? "(accepted)" : err.msg);
	config_free(cfg);
}

/* --- whole configurations ----------------------------------------------------- */

static void
test_defaults(void)
{
	struct cfg_error err;
	struct gw_config *cfg = parse("", &err);

	if (!ok(cfg != NULL, "an empty text is a valid configuration")) {
		diag("%s", err.msg);
		return;
	}
	is_int(cfg->idle_timeout_ms, 60000, "default idle_timeout is 60000 ms");
	is_int(cfg->max_headers, 64, "default max_headers is 64");
	is_int(cfg->max_header_bytes, 16384, "default max_header_bytes is 16k");
	is_int(cfg->db_reconnect_min_ms, 250, "default reconnect_min_delay is 250 ms");
	is_int(cfg->log_level, LOG_LVL_INFO, "default log_level is info");
	ok(cfg->listen_rtsp.count == 1 && strcmp(cfg->listen_rtsp.addr[0], "0.0.0.0:8554") == 0,
	    "default listen rtsp is 0.0.0.0:8554");
	ok(cfg->listen_http.count == 1 && strcmp(cfg->listen_http.addr[0], "0.0.0.0:8080") == 0,
	    "default listen http is 0.0.0.0:8080");
	is_int(cfg->listen_tls.count, 0, "default listen tls is empty");
	is_str(cfg->realm, "vssgate", "default realm is vssgate");
	is_str(cfg->tls_cert_file, "", "default cert_file is the empty string, not NULL");
	config_free(cfg);
}

static void
test_listen_addresses_and_strings(void)
{
	static const char text[] =
	    "[listen]\nrtsp = 0.0.0.0:554 ,\t[::1]:8554\n"
	    "tls = [::]:8443\n"
	    "[tls]\ncert_file = /etc/vssgate/cert.pem\nkey_file = \"/etc/vssgate/my key.pem\"\n"
	    "[security]\nrealm = \"Préfecture de police\"\n";
	struct cfg_error err;
	struct gw_config *cfg = parse(text, &err);

	if (!ok(cfg != NULL, "a configuration with TLS, IPv6 and quoted strings parses")) {
		diag("%s", err.msg);
		return;
	}
	ok(cfg->listen_rtsp.count == 2 && strcmp(cfg->listen_rtsp.addr[0], "0.0.0.0:554") == 0 &&
	    strcmp(cfg->listen_rtsp.addr[1], "[::1]:8554") == 0,
	    "listen items are trimmed and kept in order");
	ok(cfg->listen_tls.count == 1 && strcmp(cfg->listen_tls.addr[0], "[::]:8443") == 0,
	    "a tls listener with cert_file and key_file is accepted");
	is_str(cfg->tls_key_file, "/etc/vssgate/my key.pem", "a quoted path keeps its blank");
	is_str(cfg->realm, "Préfecture de police", "a UTF-8 string value is kept as is");
	config_free(cfg);
}

#define SAME_NUM(f) do { if (a->f != b->f) { diag(#f " differs"); n++; } } while (0)
#define SAME_STR(f) do { if (strcmp(a->f, b->f) != 0) { diag(#f " differs"); n++; } } while (0)

static int
listen_differs(const struct cfg_listen *a, const struct cfg_listen *b)
{
	if (a->count != b->count)
		return 1;
	for (int i = 0; i < a->count; i++)
		if (strcmp(a->addr[i], b->addr[i]) != 0)
			return 1;
	return 0;
}

/* Number of fields that differ; each one is named in a diag line. */
static int
config_diff(const struct gw_config *a, const struct gw_config *b)
{
	int n = 0;

	SAME_STR(node_name); SAME_STR(pid_file); SAME_NUM(log_target); SAME_NUM(log_level);
	SAME_STR(state_dir); SAME_NUM(worker_threads); SAME_NUM(shutdown_timeout_ms);
	SAME_STR(db_conninfo); SAME_NUM(db_connect_timeout_ms); SAME_NUM(db_query_timeout_ms);
	SAME_NUM(db_reconnect_min_ms); SAME_NUM(db_reconnect_max_ms); SAME_NUM(db_outage_grace_ms);
	SAME_NUM(model_refresh_delay_ms);
	SAME_STR(tls_cert_file); SAME_STR(tls_key_file); SAME_STR(tls_client_ca_file);
	SAME_STR(secret_key_file); SAME_STR(realm);
	SAME_NUM(max_connections); SAME_NUM(max_connections_per_address); SAME_NUM(max_header_bytes);
	SAME_NUM(max_headers); SAME_NUM(max_body_bytes); SAME_NUM(idle_timeout_ms);
	SAME_NUM(handshake_timeout_ms);
	n += listen_differs(&a->listen_rtsp, &b->listen_rtsp);
	n += listen_differs(&a->listen_http, &b->listen_http);
	n += listen_differs(&a->listen_tls, &b->listen_tls);
	return n;
}

/* |*text| is malloc'ed; the caller frees it. */
static void
print_defaults(char **text, size_t *len)
{
	FILE *f = open_memstream(text, len);

	config_print_defaults(f);
	fclose(f);
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Overwrite |from| with |to| (same length) where it first occurs in |s|. */
static bool
replace_once(char *s, const char *from, const char *to)
{
	char *at = strstr(s, from);

	if (at == NULL || strlen(from) != strlen(to))
		return false;
	memcpy(at, to, strlen(to));
	return true;
}

static void
test_print_defaults_round_trip(void)
{
	struct cfg_error err;
	size_t len;
	char *text = NULL, *edited;
	struct gw_config *defaults = parse("", &err), *reread;

	print_defaults(&text, &len);
	reread = config_parse(NAME, text, len, &err);

	if (!ok(reread != NULL, "the output of config_print_defaults() parses")) {
		diag("%s", err.msg);
		goto out;
	}
	is_int(config_diff(defaults, reread), 0, "it parses into a config equal to the defaults");
	config_free(reread);

	/* The keys really are in the text: setting one again is "set twice". */
	edited = gw_xasprintf("%s[limits]\nidle_timeout = 5s\n", text);
	reread = parse(edited, &err);
	ok(reread == NULL && error_names_line(&err, count_lines(text) + 2) &&
	    error_names_key(&err, "idle_timeout"),
	    "idle_timeout is set in the printed defaults (setting it again is an error)");
	free(edited);
	config_free(reread);

	/* And a printed line is what sets the value. */
	if (ok(replace_once(text, "\nidle_timeout = 60s\n", "\nidle_timeout = 61s\n"),
	    "the printed defaults hold \"idle_timeout = 60s\"")) {
		reread = config_parse(NAME, text, len, &err);
		ok(reread != NULL && reread->idle_timeout_ms == 61000,
		    "changing that line to 61s gives idle_timeout 61000 ms");
		config_free(reread);
	}
out:
	config_free(defaults);
	free(text);
}

static void
test_config_load(void)
{
	char path[] = "/tmp/test_config.XXXXXX";
	static const char text[] = "[limits]\nmax_headers = 32\n[database]\nconninfo = \"dbname=x\"\n"
	    "[security]\nsecret_key_file = /k\n[listen]\nhttp = 127.0.0.1:8080\n";
	static const char partial[] = "[limits]\nmax_headers = 32\n";
	struct cfg_error err;
	struct gw_config *cfg;
	int fd = mkstemp(path);

	if (!ok(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text),
	    "a temporary file is written"))
		return;
	close(fd);
	cfg = config_load(path, &err);
	ok(cfg != NULL && cfg->max_headers == 32, "config_load() reads a file");
	config_free(cfg);
	/* A file without the keys every installation sets (empty, cut short) is refused. */
	for (size_t n = 0; n < 2; n++) {
		const char *t = n == 0 ? "" : partial;

		fd = open(path, O_WRONLY | O_TRUNC);
		if (fd < 0 || write(fd, t, strlen(t)) != (ssize_t)strlen(t)) {
			ok(false, "the temporary file is rewritten");
			break;
		}
		close(fd);
		cfg = config_load(path, &err);
		ok(cfg == NULL && strstr(err.msg, "\"conninfo\" in [database] must be set") != NULL,
		    "config_load() refuses a file %s: %s", n == 0 ? "that is empty" : "without [database] conninfo",
		    err.msg);
		config_free(cfg);
	}
	unlink(path);
	cfg = config_load(path, &err);
	ok(cfg == NULL && strstr(err.msg, path) != NULL && strstr(err.msg, "cannot open") != NULL,
	    "config_load() of a missing file says which file it cannot open");
}

int
main(void)
{
	test_defaults();
	for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++)
		run_value_case(&value_cases[i]);
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++)
		run_error_case(&error_cases[i]);
	test_listen_addresses_and_strings();
	test_print_defaults_round_trip();
	test_config_load();
	return done_testing();
}
