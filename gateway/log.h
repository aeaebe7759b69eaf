/*
 * log.h - one line per event, to stderr or syslog, with a level and, for
 * per-connection lines, the connection's identity first.
 *
 * Messages are short and factual (PostgreSQL style): what happened, then in
 * a second sentence the detail. Never put a secret in a log line.
 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include "gw.h"

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERROR,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

enum log_target {
	LOG_TARGET_STDERR,
	LOG_TARGET_SYSLOG,
};

void log_setup(enum log_target target, enum log_level level, const char *ident);
enum log_level log_get_level(void);
bool log_enabled(enum log_level level);

/* ident may be NULL; when set it is printed first, e.g. "C-12 rtsp 10.0.0.5:4410". */
void log_msg(enum log_level level, const char *ident, const char *fmt, ...)
    GW_PRINTF(3, 4);
void log_vmsg(enum log_level level, const char *ident, const char *fmt, va_list ap)
    GW_PRINTF(3, 0);

#define log_error(...) log_msg(LOG_LVL_ERROR, NULL, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, NULL, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, NULL, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_LVL_DEBUG)) \
		log_msg(LOG_LVL_DEBUG, NULL, __VA_ARGS__); } while (0)

/* For objects that carry a char ident[] field (connections, sessions, sources). */
#define olog_error(o, ...) log_msg(LOG_LVL_ERROR, (o)->ident, __VA_ARGS__)
#define olog_warn(o, ...)  log_msg(LOG_LVL_WARN, (o)->ident, __VA_ARGS__)
#define olog_info(o, ...)  log_msg(LOG_LVL_INFO, (o)->ident, __VA_ARGS__)
#define olog_debug(o, ...) do { if (log_enabled(LOG_LVL_DEBUG)) \
		log_msg(LOG_LVL_DEBUG, (o)->ident, __VA_ARGS__); } while (0)

#endif
