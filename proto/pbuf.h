/*
 * pbuf.h - a bounded text writer for the formatters of proto/.
 *
 * Writes into caller memory, never past |cap|, always NUL-terminated when
 * cap > 0. Once something did not fit, the buffer is marked overflowed and
 * the formatter returns PROTO_ETOOBIG through pbuf_result(): callers can
 * chain appends and check once at the end.
 */
#ifndef PROTO_PBUF_H
#define PROTO_PBUF_H

#include "proto.h"

struct pbuf {
	char *p;		/* caller-owned */
	size_t cap;
	size_t len;
	bool overflow;
};

void pbuf_init(struct pbuf *b, char *p, size_t cap);
void pbuf_add(struct pbuf *b, const char *s, size_t n);
void pbuf_puts(struct pbuf *b, const char *s);
void pbuf_printf(struct pbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s inside double quotes, escaping '"' and '\' (RFC 7230 quoted-string). */
void pbuf_quoted(struct pbuf *b, const char *s);
/* len, or PROTO_ETOOBIG. */
int pbuf_result(const struct pbuf *b);
/* True when s holds no CR, LF or other control character (header injection). */
bool pbuf_text_is_safe(const char *s);

#endif
