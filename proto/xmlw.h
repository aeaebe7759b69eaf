/*
 * xmlw.h - an escaping XML writer into a growing buffer: the SOAP answers
 * of the ONVIF services today, the requests of an ONVIF client towards
 * cameras later (adapters/ may use proto/, never gateway/).
 *
 * Markup goes in through xmlw_lit() (string literals of our own only);
 * every value that comes from a client, the database or a camera goes
 * through xmlw_esc() or the xmlw_el*() helpers, which escape it. Characters
 * XML 1.0 cannot carry become '?'. Numbers are written without locale, and
 * never as NaN or infinity (the schema allows them, clients choke).
 *
 * Ownership: the buffer (w->p, always a NUL-terminated string from
 * xmlw_init() to xmlw_free()) belongs to the struct xmlw. If memory runs
 * out the writer stops growing and w->failed says so (xmlw_result()): what
 * was written so far stays, calls after that are no-ops, and the document
 * must not be used. Pure: no I/O. Return convention: proto.h.
 */
#ifndef PROTO_XMLW_H
#define PROTO_XMLW_H

#include "proto.h"

#include <stdbool.h>
#include <stddef.h>

struct xmlw {
	char *p;
	size_t len, cap;
	bool failed;
};

void xmlw_init(struct xmlw *w);
void xmlw_free(struct xmlw *w);
/* The length written, or PROTO_ENOMEM. */
int xmlw_result(const struct xmlw *w);
void xmlw_lit(struct xmlw *w, const char *markup);
void xmlw_esc(struct xmlw *w, const char *text);
/* Numbers into markup: every %s argument must be a literal of our own. */
void xmlw_fmt(struct xmlw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* <tag>text</tag> with the text escaped. */
void xmlw_el(struct xmlw *w, const char *tag, const char *text);
void xmlw_el_int(struct xmlw *w, const char *tag, long long v);
void xmlw_el_num(struct xmlw *w, const char *tag, double v);
void xmlw_el_bool(struct xmlw *w, const char *tag, bool v);
/* <tag attr="value" (left open for more attributes; close with xmlw_lit(">") or "/>"). */
void xmlw_open_attr(struct xmlw *w, const char *tag, const char *attr, const char *value);
void xmlw_attr(struct xmlw *w, const char *attr, const char *value);
void xmlw_attr_num(struct xmlw *w, const char *attr, double v);

#endif
