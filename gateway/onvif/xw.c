/*
 * xw.c - the escaping XML writer of the ONVIF responses (see onvif.h).
 */
#include "gateway/gw.h"
#include "onvif.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
xw_init(struct xw *w)
{
	w->cap = 2048;
	w->len = 0;
	w->p = gw_xmalloc(w->cap);
	w->p[0] = '\0';
}

void
xw_free(struct xw *w)
{
	free(w->p);
	w->p = NULL;
	w->len = w->cap = 0;
}

static void
reserve(struct xw *w, size_t more)
{
	if (w->len + more + 1 <= w->cap)
		return;
	while (w->len + more + 1 > w->cap)
		w->cap *= 2;
	w->p = gw_xrealloc(w->p, w->cap);
}

static void
append(struct xw *w, const char *s, size_t n)
{
	reserve(w, n);
	memcpy(w->p + w->len, s, n);
	w->len += n;
	w->p[w->len] = '\0';
}

void
xw_lit(struct xw *w, const char *markup)
{
	append(w, markup, strlen(markup));
}

/* Characters XML 1.0 cannot carry become '?', the five specials become references. */
void
xw_esc(struct xw *w, const char *text)
{
	const char *s, *run = text;

	for (s = text; *s != '\0'; s++) {
		const char *rep = NULL;
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		default:
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
				rep = "?";
		}
		if (rep == NULL)
			continue;
		append(w, run, (size_t)(s - run));
		xw_lit(w, rep);
		run = s + 1;
	}
	append(w, run, (size_t)(s - run));
}

void
xw_fmt(struct xw *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	reserve(w, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(w->p + w->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	w->len += (size_t)n;
}

static void
open_tag(struct xw *w, const char *tag)
{
	xw_lit(w, "<");
	xw_lit(w, tag);
	xw_lit(w, ">");
}

static void
close_tag(struct xw *w, const char *tag)
{
	xw_lit(w, "</");
	xw_lit(w, tag);
	xw_lit(w, ">");
}

void
xw_el(struct xw *w, const char *tag, const char *text)
{
	open_tag(w, tag);
	xw_esc(w, text);
	close_tag(w, tag);
}

void
xw_el_int(struct xw *w, const char *tag, long long v)
{
	open_tag(w, tag);
	xw_fmt(w, "%lld", v);
	close_tag(w, tag);
}

/* xs:float: no locale, no NaN or infinity (the schema allows them, clients choke). */
static void
number(struct xw *w, double v)
{
	if (!isfinite(v))
		v = 0;
	xw_fmt(w, "%.9g", v);
}

void
xw_el_num(struct xw *w, const char *tag, double v)
{
	open_tag(w, tag);
	number(w, v);
	close_tag(w, tag);
}

void
xw_el_bool(struct xw *w, const char *tag, bool v)
{
	open_tag(w, tag);
	xw_lit(w, v ? "true" : "false");
	close_tag(w, tag);
}

void
xw_open_attr(struct xw *w, const char *tag, const char *attr, const char *value)
{
	xw_lit(w, "<");
	xw_lit(w, tag);
	xw_attr(w, attr, value);
}

void
xw_attr(struct xw *w, const char *attr, const char *value)
{
	xw_lit(w, " ");
	xw_lit(w, attr);
	xw_lit(w, "=\"");
	xw_esc(w, value);
	xw_lit(w, "\"");
}

void
xw_attr_num(struct xw *w, const char *attr, double v)
{
	xw_lit(w, " ");
	xw_lit(w, attr);
	xw_lit(w, "=\"");
	number(w, v);
	xw_lit(w, "\"");
}
