/*
 * log.c - formatting and output of log lines.
 *
 * Lines go to stderr (foreground, tests) or syslog. The logger may be called
 * from worker threads; each line is formatted into a local buffer and
 * written with a single write(2), so lines never interleave.
 */
#include "gw.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* Atomic: worker threads read them while a reload (SIGHUP) sets them. */
static _Atomic enum log_target current_target = LOG_TARGET_STDERR;
static _Atomic enum log_level current_level = LOG_LVL_INFO;

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "ERROR",
	[LOG_LVL_WARN] = "WARNING",
	[LOG_LVL_INFO] = "LOG",
	[LOG_LVL_DEBUG] = "DEBUG",
};

static const int syslog_prio[] = {
	[LOG_LVL_ERROR] = LOG_ERR,
	[LOG_LVL_WARN] = LOG_WARNING,
	[LOG_LVL_INFO] = LOG_INFO,
	[LOG_LVL_DEBUG] = LOG_DEBUG,
};

void
log_setup(enum log_target target, enum log_level level, const char *ident)
{
	if (current_target == LOG_TARGET_SYSLOG && target != LOG_TARGET_SYSLOG)
		closelog();
	if (target == LOG_TARGET_SYSLOG && current_target != LOG_TARGET_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	current_target = target;
	current_level = level;
}

enum log_level
log_get_level(void)
{
	return current_level;
}

bool
log_enabled(enum log_level level)
{
	return level <= current_level;
}

/* Replace control characters so that a peer cannot forge log lines. */
static void
sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

void
log_msg(enum log_level level, const char *ident, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, ident, fmt, ap);
	va_end(ap);
}

void
log_vmsg(enum log_level level, const char *ident, const char *fmt, va_list ap)
{
	char msg[1024], line[1200], stamp[32];
	struct timespec ts;
	struct tm tm;
	int n;

	if (!log_enabled(level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	sanitize(msg);

	if (current_target == LOG_TARGET_SYSLOG) {
		syslog(syslog_prio[level], "%s: %s%s%s", level_names[level],
		    ident ? ident : "", ident ? ": " : "", msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ld UTC [%d] %s: %s%s%s\n",
	    stamp, ts.tv_nsec / 1000000, (int)getpid(), level_names[level],
	    ident ? ident : "", ident ? ": " : "", msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1, line[n - 1] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
