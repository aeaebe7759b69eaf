/*
 * xmlw.c - the escaping XML writer (see xmlw.h).
 */
#include "xmlw.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XMLW_FIRST 2048

/* What w->p points to when even the first buffer could not be had: "" , never freed. */
static char no_memory[1];

void
xmlw_init(struct xmlw *w)
{
	w->len = 0;
	w->failed = false;
	w->cap = XMLW_FIRST;
	if ((w->p = malloc(w->cap)) == NULL) {
		w->p = no_memory;
		w->cap = 0;
		w->failed = true;
		return;
	}
	w->p[0] = '\0';
}

int
xmlw_result(const struct xmlw *w)
{
	return w->failed ? PROTO_ENOMEM : (int)w->len;
}

void
xmlw_free(struct xmlw *w)
{
	if (w->p != no_memory)
		free(w->p);
	w->p = NULL;
	w->len = w->cap = 0;
	w->failed = false;
}

/* Room for |more| bytes and the NUL; false (and failed) when there is none. */
static bool
reserve(struct xmlw *w, size_t more)
{
	size_t cap = w->cap;
	char *p;

	if (w->failed)
		return false;
	if (w->len + more + 1 <= cap)
		return true;
	while (w->len + more + 1 > cap)
		cap *= 2;
	if ((p = realloc(w->p, cap)) == NULL) {
		w->failed = true;
		return false;
	}
	w->p = p;
	w->cap = cap;
	return true;
}

static void
append(struct xmlw *w, const char *s, size_t n)
{
	if (!reserve(w, n))
		return;
	memcpy(w->p + w->len, s, n);
	w->len += n;
	w->p[w->len] = '\0';
}

void
xmlw_lit(struct xmlw *w, const char *markup)
{
	append(w, markup, strlen(markup));
}

/* Characters XML 1.0 cannot carry become '?', the five specials become references. */
void
xmlw_esc(struct xmlw *w, const char *text)
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
		xmlw_lit(w, rep);
		run = s + 1;
	}
	append(w, run, (size_t)(s - run));
}

void
xmlw_fmt(struct xmlw *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0 || !reserve(w, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(w->p + w->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	w->len += (size_t)n;
}

static void
open_tag(struct xmlw *w, const char *tag)
{
	xmlw_lit(w, "<");
	xmlw_lit(w, tag);
	xmlw_lit(w, ">");
}

static void
close_tag(struct xmlw *w, const char *tag)
{
	xmlw_lit(w, "</");
	xmlw_lit(w, tag);
	xmlw_lit(w, ">");
}

void
xmlw_el(struct xmlw *w, const char *tag, const char *text)
{
	open_tag(w, tag);
	xmlw_esc(w, text);
	close_tag(w, tag);
}

void
xmlw_el_int(struct xmlw *w, const char *tag, long long v)
{
	open_tag(w, tag);
	xmlw_fmt(w, "%lld", v);
	close_tag(w, tag);
}

/* xs:float: no locale, no NaN or infinity (the schema allows them, clients choke). */
static void
number(struct xmlw *w, double v)
{
	if (!isfinite(v))
		v = 0;
	xmlw_fmt(w, "%.9g", v);
}

void
xmlw_el_num(struct xmlw *w, const char *tag, double v)
{
	open_tag(w, tag);
	number(w, v);
	close_tag(w, tag);
}

void
xmlw_el_bool(struct xmlw *w, const char *tag, bool v)
{
	open_tag(w, tag);
	xmlw_lit(w, v ? "true" : "false");
	close_tag(w, tag);
}

void
xmlw_open_attr(struct xmlw *w, const char *tag, const char *attr, const char *value)
{
	xmlw_lit(w, "<");
	xmlw_lit(w, tag);
	xmlw_attr(w, attr, value);
}

void
xmlw_attr(struct xmlw *w, const char *attr, const char *value)
{
	xmlw_lit(w, " ");
	xmlw_lit(w, attr);
	xmlw_lit(w, "=\"");
	xmlw_esc(w, value);
	xmlw_lit(w, "\"");
}

void
xmlw_attr_num(struct xmlw *w, const char *attr, double v)
{
	xmlw_lit(w, " ");
	xmlw_lit(w, attr);
	xmlw_lit(w, "=\"");
	number(w, v);
	xmlw_lit(w, "\"");
}
