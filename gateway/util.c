/*
 * util.c - allocation that cannot fail, cached clocks, random bytes, hex.
 *
 * Allocation failure of small control objects aborts with a log line: on
 * Linux with overcommit there is no useful way to go on, and checking every
 * small allocation would hide the real error paths in noise.
 */
#include "gw.h"
#include "proto/proto.h"
#include "log.h"

#include <event2/buffer.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

static int64_t cached_mono_us;
static int64_t cached_wall_us;

void
gw_out_of_memory(size_t n)
{
	log_error("out of memory allocating %zu bytes", n);
	abort();
}

void *
gw_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		gw_out_of_memory(n);
	return p;
}

void *
gw_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		gw_out_of_memory(n * size);
	return p;
}

struct evbuffer *
gw_xevbuffer_new(void)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL)
		gw_out_of_memory(sizeof(void *));	/* the struct is opaque: its size is libevent's */
	return b;
}

void *
gw_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		gw_out_of_memory(n);
	return q;
}

char *
gw_xstrdup(const char *s)
{
	return gw_xstrndup(s, strlen(s));
}

char *
gw_xstrndup(const char *s, size_t n)
{
	char *p = gw_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
gw_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		gw_out_of_memory(strlen(fmt));
	va_end(ap);
	return p;
}

void
gw_free_str(char **p)
{
	free(*p);
	*p = NULL;
}

static int64_t
clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
gw_time_refresh(void)
{
	cached_mono_us = clock_us(CLOCK_MONOTONIC);
	cached_wall_us = clock_us(CLOCK_REALTIME);
}

int64_t
gw_mono_us(void)
{
	if (cached_mono_us == 0)
		gw_time_refresh();
	return cached_mono_us;
}

int64_t
gw_wall_us(void)
{
	if (cached_wall_us == 0)
		gw_time_refresh();
	return cached_wall_us;
}

int64_t
gw_mono_now_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

int
gw_random(void *buf, size_t len)
{
	if (RAND_bytes(buf, (int)len) != 1) {
		log_error("the random number generator failed");
		return -1;
	}
	return 0;
}

void
gw_hex(const void *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = in;
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

int
gw_unhex(const char *in, void *out, size_t outlen)
{
	unsigned char *o = out;
	size_t i;

	if (strlen(in) != 2 * outlen)
		return -1;
	for (i = 0; i < outlen; i++) {
		int hi = proto_hexval(in[2 * i]), lo = proto_hexval(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		o[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

bool
gw_streq_ct(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

void
gw_format_time(int64_t wall_us, char *out, size_t outlen)
{
	time_t secs = (time_t)(wall_us / 1000000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(wall_us % 1000000 / 1000));
}

uint32_t
gw_random32(void)
{
	uint32_t v = 0;

	if (gw_random(&v, sizeof(v)) < 0)
		v = (uint32_t)gw_mono_now_us();
	return v;
}

bool
gw_list_has(const char *list, const char *item)
{
	size_t ilen = strlen(item);

	while (*list) {
		const char *comma = strchr(list, ',');
		size_t len = comma ? (size_t)(comma - list) : strlen(list);

		while (len > 0 && *list == ' ')
			list++, len--;
		while (len > 0 && list[len - 1] == ' ')
			len--;
		if (len == ilen && len > 0 && strncasecmp(list, item, len) == 0)
			return true;
		list = comma ? comma + 1 : list + strlen(list);
	}
	return false;
}

void
gw_http_date(int64_t wall_us, char *out, size_t outlen)
{
	time_t secs = (time_t)(wall_us / 1000000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(out, outlen, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

void
gw_fatal_check(const char *file, int line, const char *what)
{
	log_error("internal error: %s:%d: object is not a %s", file, line, what);
	abort();
}

bool
gw_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return false;
}
