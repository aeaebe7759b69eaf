/*
 * gw.h - what every file of the daemon shares: forward types, small macros,
 * the process-wide state and the return convention of gateway/.
 *
 * Return convention in gateway/: functions that can fail return int, 0 on
 * success and -1 on failure, and have already logged why (once), or return
 * bool where the answer is a yes/no question. A function that returns a
 * pointer returns NULL on failure. Functions marked GW_MUSTCHECK must have
 * their result looked at.
 *
 * Threads: one I/O thread runs the libevent loop and owns every socket and
 * all mutable state below. Worker threads (worker.c) only touch the job they
 * were given.
 */
#ifndef GW_H
#define GW_H

#include "vssgate_build.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/queue.h>

#define GW_MUSTCHECK   __attribute__((warn_unused_result))
#define GW_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define GW_NORETURN    __attribute__((noreturn))
#define ARRAY_SIZE(a)  (sizeof(a) / sizeof((a)[0]))
#define GW_MIN(a, b)   ((a) < (b) ? (a) : (b))
#define GW_MAX(a, b)   ((a) > (b) ? (a) : (b))

/* Type tags for void * handed through libevent and nghttp2 callbacks. */
#define GW_CHECK(ptr, want) do {                                        \
		if ((ptr) == NULL || (ptr)->magic != (want))            \
			gw_fatal_check(__FILE__, __LINE__, #want);      \
	} while (0)

struct event_base;
struct gw_config;
struct gw_conn;
struct gw_db;
struct gw_model;

/*
 * Process-wide state. Owned by main.c; everything here belongs to the I/O
 * thread.
 */
struct gw_state {
	struct event_base *base;
	struct gw_config *cfg;		/* current configuration, swapped on reload */
	const char *config_path;
	struct gw_db *db;
	struct gw_model *model;		/* current policy model, swapped on refresh */
	bool shutting_down;		/* SIGTERM seen: stop accepting, drain */
	bool quit;			/* leave the main loop after this pass */
	int64_t started_at;		/* wall clock, microseconds */
	int exit_code;
};

extern struct gw_state gw;

/* util.c */
/* Log and abort: what every allocation of the daemon does when memory runs out. */
GW_NORETURN void gw_out_of_memory(size_t n);
void *gw_xmalloc(size_t n);
void *gw_xcalloc(size_t n, size_t size);
void *gw_xrealloc(void *p, size_t n);
char *gw_xstrdup(const char *s);
/* evbuffer_new(), aborting on out-of-memory like gw_xmalloc(). */
struct evbuffer *gw_xevbuffer_new(void);
char *gw_xstrndup(const char *s, size_t n);
char *gw_xasprintf(const char *fmt, ...) GW_PRINTF(1, 2);
void gw_free_str(char **p);

int64_t gw_mono_us(void);		/* monotonic clock, cached per loop pass */
int64_t gw_wall_us(void);		/* wall clock, cached per loop pass */
void gw_time_refresh(void);		/* called once per loop pass */
int64_t gw_mono_now_us(void);		/* uncached, for measurements */

int gw_random(void *buf, size_t len) GW_MUSTCHECK;
/* 32 random bits (the clock's if the kernel cannot give them: for ids, not for secrets). */
uint32_t gw_random32(void);
/* Is |item| one of the comma-separated entries of |list| (blanks trimmed, ASCII case-insensitive)? */
bool gw_list_has(const char *list, const char *item);
void gw_hex(const void *in, size_t len, char *out);	/* out has 2*len+1 bytes */
int gw_unhex(const char *in, void *out, size_t outlen) GW_MUSTCHECK;
bool gw_streq_ct(const void *a, const void *b, size_t len);	/* constant time */
void gw_format_time(int64_t wall_us, char *out, size_t outlen);	/* RFC 3339 UTC */
/* The Date header of HTTP and RTSP: "Sun, 06 Dec 2026 20:39:54 GMT" (30 bytes will do). */
void gw_http_date(int64_t wall_us, char *out, size_t outlen);
GW_NORETURN void gw_fatal_check(const char *file, int line, const char *what);
struct sockaddr_storage;
/* Same IP address (v4 or v6), ports ignored. */
bool gw_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

#endif
