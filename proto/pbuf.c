/* pbuf.c - bounded text writer (see pbuf.h). */
#include "pbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
pbuf_init(struct pbuf *b, char *p, size_t cap)
{
	b->p = p;
	b->cap = cap;
	b->len = 0;
	b->overflow = cap == 0;
	if (cap > 0)
		p[0] = '\0';
}

void
pbuf_add(struct pbuf *b, const char *s, size_t n)
{
	if (b->overflow)
		return;
	if (n >= b->cap - b->len) {
		b->overflow = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
pbuf_puts(struct pbuf *b, const char *s)
{
	pbuf_add(b, s, strlen(s));
}

void
pbuf_printf(struct pbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->overflow = true;
		b->p[b->len] = '\0';	/* drop the truncated piece */
		return;
	}
	b->len += (size_t)n;
}

void
pbuf_quoted(struct pbuf *b, const char *s)
{
	pbuf_add(b, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			pbuf_add(b, "\\", 1);
		pbuf_add(b, s, 1);
	}
	pbuf_add(b, "\"", 1);
}

int
pbuf_result(const struct pbuf *b)
{
	if (b->overflow || b->len > INT32_MAX)
		return PROTO_ETOOBIG;
	return (int)b->len;
}

bool
pbuf_text_is_safe(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}
