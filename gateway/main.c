/*
 * main.c - command line, start-up sequence, signals and shutdown of vssgated.
 *
 * Start-up: configuration -> logging -> event base -> server key -> TLS ->
 * listeners -> database. The database side then runs, on the first
 * connection: migrations -> policy model -> open the query gate -> ready.
 * On each later reconnection: schema check -> model reload -> audit spool.
 *
 * Signals arrive through libevent: SIGHUP reloads, SIGTERM (or SIGINT)
 * drains, a second SIGTERM or SIGINT (or SIGQUIT) exits at once.
 */
#include "gw.h"
#include "audit.h"
#include "adapters/adapter.h"
#include "config.h"
#include "conn.h"
#include "crypto.h"
#include "db.h"
#include "http.h"
#include "authn.h"
#include "media.h"
#include "log.h"
#include "loop.h"
#include "migrate.h"
#include "model.h"
#include "onvif/onvif.h"
#include "rtsp.h"
#include "session.h"
#include "status.h"
#include "tls.h"
#include "worker.h"
#include "export/jobs.h"
#include "api/api.h"
#include "web/web.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define DEFAULT_CONFIG SYSCONFDIR "/vssgate/vssgate.conf"

struct gw_state gw;

extern const struct conn_proto http1_proto;
extern const struct conn_proto http2_proto;

enum run_mode {
	MODE_SERVE,
	MODE_CHECK,
	MODE_MIGRATE,
	MODE_AUDIT_VERIFY,
	MODE_SEAL,
	MODE_ADD_ADMIN,
};

static enum run_mode mode = MODE_SERVE;
static bool schema_ready;
static bool startup_complete;
static struct event *sig_events[4];
static struct event *shutdown_timer;
static const char *add_admin_name;
static const char *add_admin_role = "admin";
static char add_admin_password[1025];

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: vssgated [-c FILE] [-t | --migrate | --audit-verify | --add-admin NAME [--role ROLE]]\n"
	    "\n"
	    "The vssgate gateway: grants outside authorities access to video-surveillance\n"
	    "cameras (IEC 62676-2-11 levels) over RTSP, ONVIF and a REST API.\n"
	    "\n"
	    "  -c, --config FILE   configuration file (default %s)\n"
	    "  -t, --test-config   check the configuration and exit\n"
	    "      --migrate       apply pending database migrations and exit\n"
	    "      --audit-verify  check the audit log's hash chain and exit (1 if broken)\n"
	    "      --seal-secret   read a secret on stdin, print it sealed with the server key (hex)\n"
	    "      --add-admin NAME  create administrator NAME (or reset its password and\n"
	    "                      enable it) and exit; the password is read from standard\n"
	    "                      input (first line), never from the command line\n"
	    "      --role ROLE     role for --add-admin: admin (default), operator or auditor\n"
	    "      --print-defaults  print every configuration key with its default\n"
	    "      --print-config-man  print the keys as man(7) text (for vssgate.conf(5))\n"
	    "  -V, --version       print the version and exit\n"
	    "  -h, --help          print this help and exit\n",
	    DEFAULT_CONFIG);
}

/* --- shutdown ---------------------------------------------------------------- */

/* What the database still has to take before the process may go (nothing if it is down). */
static bool
writes_pending(void)
{
	return db_is_up() && (audit_in_flight() > 0 || session_writes_pending() > 0);
}

/*
 * A graceful shutdown ends when the connections and sessions are closed
 * and their rows and audit records written (all inside the running loop,
 * where every module is still alive), or, after the shutdown timeout, when
 * EXIT_WRITE_WAIT_US more have passed: what is still not written then is
 * spooled (audit) or closed by the next start (session rows).
 */
#define EXIT_WRITE_WAIT_US (3 * 1000000LL)

static int64_t give_up_at_us;

static void
finish_if_drained(int64_t now)
{
	if (!gw.shutting_down)
		return;
	if (conn_count() == 0 && session_count() == 0 && !writes_pending()) {
		gw.quit = true;
	} else if (give_up_at_us != 0 && now >= give_up_at_us) {
		if (writes_pending())
			log_warn("exiting with %d audit records and %d session rows not written; the audit "
			    "records are spooled, the session rows are closed at the next start",
			    audit_in_flight(), session_writes_pending());
		gw.quit = true;
	}
}

static void
shutdown_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	gw_time_refresh();
	log_warn("shutdown timeout reached with %d connections open; closing them", conn_count());
	conn_close_all("shutdown timeout");
	session_close_all("server shutting down");
	session_flush_now();
	give_up_at_us = gw_mono_us() + EXIT_WRITE_WAIT_US;
}

static void
begin_shutdown(const char *why)
{
	struct timeval tv;
	int64_t ms = gw.cfg->shutdown_timeout_ms;

	if (gw.shutting_down) {
		log_info("%s again: exiting now", why);
		conn_close_all("fast shutdown");
		gw.quit = true;
		return;
	}
	log_info("%s: shutting down (stop accepting, closing sessions)", why);
	gw.shutting_down = true;
	conn_listeners_close();
	conn_begin_drain();
	/* Sessions without a connection of their own: UDP and multicast, subscriptions. */
	session_close_all("server shutting down");
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000 * 1000);
	shutdown_timer = evtimer_new(gw.base, shutdown_timeout_cb, NULL);
	event_add(shutdown_timer, &tv);
	finish_if_drained(0);
}

/*
 * Everything the new file needs is checked before anything is applied: the
 * file itself (config_reload_prepare) and the TLS material it names. On any
 * error the running configuration and certificate stay, and the log says why.
 */
static void
reload(void)
{
	struct gw_config *next;
	struct ssl_ctx_st *ctx;
	char why[512];

	log_info("SIGHUP received: reloading %s", gw.config_path);
	if ((next = config_reload_prepare(gw.config_path)) == NULL)
		return;
	if (tls_prepare(next, &ctx, why, sizeof(why)) < 0) {
		log_error("reload failed, keeping the running configuration: %s", why);
		config_free(next);
		return;
	}
	config_reload_commit(next);
	tls_install(ctx);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	gw_time_refresh();
	switch (sig) {
	case SIGHUP:
		reload();
		break;
	case SIGTERM:
		begin_shutdown("SIGTERM received");
		break;
	case SIGINT:
		begin_shutdown("SIGINT received");
		break;
	case SIGQUIT:
		log_info("SIGQUIT received: exiting now");
		conn_close_all("fast shutdown");
		gw.quit = true;
		break;
	}
}

static int
setup_signals(void)
{
	static const int sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGQUIT };

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
		sig_events[i] = evsignal_new(gw.base, sigs[i], signal_cb, NULL);
		if (sig_events[i] == NULL || event_add(sig_events[i], NULL) < 0)
			return -1;
	}
	return 0;
}

/* --- database start-up sequence ---------------------------------------------- */

static void
fatal_stop(void)
{
	gw.exit_code = 1;
	gw.quit = true;
}

static void
on_audit_verified(const struct audit_verify_result *r, void *arg)
{
	if (r->ok) {
		printf("audit log intact: %lld rows\n", (long long)r->rows);
	} else {
		printf("audit log BROKEN at row %lld: %s\n", (long long)r->first_bad_id, r->why);
		gw.exit_code = 1;
	}
	gw.quit = true;
}

static void
on_admin_added(bool ok)
{
	if (!ok)
		gw.exit_code = 1;
	gw.quit = true;
}

static void
on_model_loaded(bool ok)
{
	if (!ok)
		return;		/* retried on the next connection */
	startup_complete = true;
	db_open();
	/* "ready" once the API knows its administrators: a token is then judged, not refused. */
	api_on_ready(status_log_ready);
	export_on_ready();
	audit_flush_spool();
}

static void
on_migrated(enum migrate_result res)
{
	if (res == MIGRATE_FATAL) {
		fatal_stop();
		return;
	}
	if (res == MIGRATE_RETRY)
		return;
	schema_ready = true;
	status_set_schema_version(migrate_known_version());
	if (mode == MODE_SERVE)
		session_recover();
	if (mode == MODE_MIGRATE) {
		log_info("database schema is at version %d", migrate_known_version());
		gw.quit = true;
		return;
	}
	if (mode == MODE_AUDIT_VERIFY) {
		db_open();
		audit_verify(on_audit_verified, NULL);
		return;
	}
	if (mode == MODE_ADD_ADMIN) {
		db_open();
		if (admins_cli_add(add_admin_name, add_admin_role, add_admin_password, on_admin_added) < 0)
			fatal_stop();
		OPENSSL_cleanse(add_admin_password, sizeof(add_admin_password));
		return;
	}
	model_load(on_model_loaded);
}

static void
on_schema_checked(enum migrate_result res)
{
	if (res == MIGRATE_FATAL) {
		fatal_stop();
		return;
	}
	model_load(NULL);
	audit_flush_spool();
	api_on_reconnect();
	export_on_ready();	/* if the first attempt found no database */
}

static void
on_db_connect(bool first)
{
	if (!schema_ready) {
		migrate_run(on_migrated);
	} else if (!startup_complete) {
		session_recover();	/* before any session opens: again, the first try was cut */
		model_load(on_model_loaded);
	} else {
		migrate_check(on_schema_checked);
	}
}

/* --- start-up ------------------------------------------------------------------ */

static int
write_pid_file(const char *path)
{
	FILE *f;

	if (path[0] == '\0')
		return 0;
	f = fopen(path, "w");
	if (f == NULL || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0) {
		log_error("cannot write pid file %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The password of --add-admin: the first line of standard input, read with
 * echo off when it is a terminal. Never from argv, where ps would show it.
 */
static int
read_password(char *out, size_t len)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	size_t n;

	if (tty) {
		fprintf(stderr, "password for %s: ", add_admin_name);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	if (fgets(out, (int)len, stdin) == NULL)
		out[0] = '\0';
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	n = strcspn(out, "\r\n");
	out[n] = '\0';
	if (n == 0) {
		fprintf(stderr, "vssgated: --add-admin reads the password from standard input; none given\n");
		return -1;
	}
	return 0;
}

/* -t: everything that can be checked without starting. */
static int
check_config(const struct gw_config *cfg, const char *path)
{
	char why[512];

	if (tls_check_files(cfg, why, sizeof(why)) < 0 ||
	    crypto_load_key_file(cfg->secret_key_file, why, sizeof(why)) < 0) {
		fprintf(stderr, "vssgated: %s: %s\n", path, why);
		return 1;
	}
	crypto_forget_key();
	printf("vssgated: configuration file %s is valid\n", path);
	return 0;
}

/*
 * --seal-secret: what the database stores for a grant password or a source
 * password (bytea, as hex), for scripts that write rows directly.
 */
static int
seal_secret(const struct gw_config *cfg)
{
	char secret[CRYPTO_MAX_SECRET + 2], why[512], hex[2 * (CRYPTO_MAX_SECRET + CRYPTO_SEAL_OVERHEAD) + 1];
	unsigned char sealed[CRYPTO_MAX_SECRET + CRYPTO_SEAL_OVERHEAD];
	size_t n;
	int len;

	if (crypto_load_key_file(cfg->secret_key_file, why, sizeof(why)) < 0) {
		fprintf(stderr, "vssgated: %s\n", why);
		return 1;
	}
	n = fread(secret, 1, sizeof(secret) - 1, stdin);
	while (n > 0 && (secret[n - 1] == '\n' || secret[n - 1] == '\r'))
		n--;
	if (n == 0 || n > CRYPTO_MAX_SECRET || (len = crypto_seal(secret, n, sealed)) < 0) {
		fprintf(stderr, "vssgated: the secret must be 1 to %d bytes\n", CRYPTO_MAX_SECRET);
		return 1;
	}
	gw_hex(sealed, (size_t)len, hex);
	printf("%s\n", hex);
	OPENSSL_cleanse(secret, sizeof(secret));
	crypto_forget_key();
	return 0;
}

static int
start_services(void)
{
	char why[512];

	if (crypto_load_key_file(gw.cfg->secret_key_file, why, sizeof(why)) < 0) {
		log_error("%s", why);
		return -1;
	}
	if (loop_init() < 0 || setup_signals() < 0 || worker_pool_start(gw.cfg->worker_threads) < 0 ||
	    audit_init() < 0)
		return -1;
	model_init();
	session_init();
	db_set_connect_hook(on_db_connect);
	if (mode != MODE_SERVE)
		return db_init();
	if (tls_init(gw.cfg) < 0)
		return -1;
	adapters_init();
	http_init();
	status_init();
	api_init();
	if (web_init() < 0)
		return -1;
	conn_register_proto(CONN_KIND_HTTP1, &http1_proto);
	if (authn_init() < 0 || media_init() < 0 || export_init() < 0 || rtsp_init() < 0 ||
	    onvif_init() < 0)
		return -1;
	conn_register_proto(CONN_KIND_H2, &http2_proto);
	loop_janitor_add(finish_if_drained);
	if (conn_listeners_open() < 0 || write_pid_file(gw.cfg->pid_file) < 0)
		return -1;
	return db_init();
}

static void
stop_services(void)
{
	conn_listeners_close();
	conn_close_all("exiting");
	loop_run_deferred_once();
	onvif_stop();
	if (mode == MODE_SERVE) {
		rtsp_shutdown();
		export_shutdown();	/* its runs stop reading the recorder's segments first */
		media_shutdown();
		authn_shutdown();
		loop_run_deferred_once();
	}
	db_shutdown();
	session_shutdown();
	worker_pool_stop();
	onvif_shutdown();
	model_shutdown();
	if (mode == MODE_SERVE) {
		api_shutdown();
		web_shutdown();
	}
	audit_shutdown();
	http_shutdown();
	tls_shutdown();
	loop_shutdown();
	for (size_t i = 0; i < ARRAY_SIZE(sig_events); i++)
		if (sig_events[i])
			event_free(sig_events[i]);
	if (shutdown_timer)
		event_free(shutdown_timer);
	if (mode == MODE_SERVE && gw.cfg->pid_file[0] != '\0')
		unlink(gw.cfg->pid_file);
	crypto_forget_key();
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test-config", no_argument, NULL, 't' },
		{ "migrate", no_argument, NULL, 'M' },
		{ "audit-verify", no_argument, NULL, 'A' },
		{ "seal-secret", no_argument, NULL, 'S' },
		{ "add-admin", required_argument, NULL, 'a' },
		{ "role", required_argument, NULL, 'r' },
		{ "print-defaults", no_argument, NULL, 'P' },
		{ "print-config-man", no_argument, NULL, 'N' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = DEFAULT_CONFIG;
	struct cfg_error err;
	int opt;

	while ((opt = getopt_long(argc, argv, "c:tVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 't': mode = MODE_CHECK; break;
		case 'M': mode = MODE_MIGRATE; break;
		case 'A': mode = MODE_AUDIT_VERIFY; break;
		case 'S': mode = MODE_SEAL; break;
		case 'a': mode = MODE_ADD_ADMIN; add_admin_name = optarg; break;
		case 'r': add_admin_role = optarg; break;
		case 'P': config_print_defaults(stdout); return 0;
		case 'N': config_print_man(stdout); return 0;
		case 'V': printf("vssgated %s\n", PACKAGE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (mode == MODE_ADD_ADMIN && read_password(add_admin_password, sizeof(add_admin_password)) < 0)
		return 2;
	gw.config_path = path;
	gw.cfg = config_load(path, &err);
	if (gw.cfg == NULL) {
		fprintf(stderr, "vssgated: %s\n", err.msg);
		return mode == MODE_CHECK ? 1 : 2;
	}
	if (mode == MODE_CHECK || mode == MODE_SEAL) {
		int rc = mode == MODE_CHECK ? check_config(gw.cfg, path) : seal_secret(gw.cfg);

		config_free(gw.cfg);
		return rc;
	}
	config_apply_globals(gw.cfg);
	gw_time_refresh();
	gw.started_at = gw_wall_us();
	if (evthread_use_pthreads() < 0 || (gw.base = event_base_new()) == NULL) {
		log_error("cannot create the event loop");
		return 1;
	}
	if (start_services() < 0)
		gw.exit_code = 1;
	else
		loop_run();
	stop_services();
	event_base_free(gw.base);
	config_free(gw.cfg);
	if (mode == MODE_SERVE)
		log_info("vssgated stopped");
	return gw.exit_code;
}
