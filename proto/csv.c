/*
 * csv.c - the CSV reader and the field writer (see csv.h).
 *
 * The reader is a small state machine over the bytes of one record:
 *
 *   CSV_FIELD_START --'"'--> CSV_QUOTED --'"'--> CSV_QUOTE_IN_QUOTED
 *        |                     ^   (other: copy)      |  '"': copy a quote
 *        | other               +----------------------+
 *        v                                            | sep / EOL: end of field
 *   CSV_UNQUOTED --sep--> CSV_FIELD_START             v
 *        \--EOL--> end of record            (anything else: error)
 */
#include "csv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum csv_state {
	CSV_FIELD_START,
	CSV_UNQUOTED,
	CSV_QUOTED,
	CSV_QUOTE_IN_QUOTED,
};

static char
detect_separator(const char *buf, size_t len)
{
	size_t commas = 0, semis = 0;
	bool quoted = false;

	for (size_t i = 0; i < len && (quoted || (buf[i] != '\n' && buf[i] != '\r')); i++) {
		if (buf[i] == '"')
			quoted = !quoted;
		else if (!quoted && buf[i] == ',')
			commas++;
		else if (!quoted && buf[i] == ';')
			semis++;
	}
	return semis > commas ? ';' : ',';
}

void
csv_init(struct csv_parser *p, const char *buf, size_t len, const struct csv_limits *lim,
    char *scratch, size_t scratch_len)
{
	memset(p, 0, sizeof(*p));
	p->buf = buf;
	p->len = len;
	p->line = 1;
	p->lim = *lim;
	if (p->lim.max_fields > CSV_MAX_FIELDS || p->lim.max_fields <= 0)
		p->lim.max_fields = CSV_MAX_FIELDS;
	p->scratch = scratch;
	p->scratch_len = scratch_len;
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		p->pos = 3;
	p->sep = detect_separator(buf + p->pos, len - p->pos);
}

static int
fail(struct csv_parser *p, int code, const char *why)
{
	p->err_line = p->line;
	p->err = why;
	p->pos = p->len;	/* the parser cannot go on */
	return code;
}

/* Consume a line end at p->pos (CRLF, LF or a lone CR); false if there is none. */
static bool
eat_eol(struct csv_parser *p)
{
	if (p->pos < p->len && p->buf[p->pos] == '\r') {
		p->pos++;
		if (p->pos < p->len && p->buf[p->pos] == '\n')
			p->pos++;
		p->line++;
		return true;
	}
	if (p->pos < p->len && p->buf[p->pos] == '\n') {
		p->pos++;
		p->line++;
		return true;
	}
	return false;
}

struct field_out {
	size_t start;		/* scratch offset of the current field */
	size_t used;		/* scratch bytes used */
};

static int
put(struct csv_parser *p, struct field_out *o, char c)
{
	if (o->used - o->start >= p->lim.max_field_len)
		return fail(p, PROTO_ETOOBIG, "a field is longer than the limit");
	if (o->used + 1 >= p->scratch_len)
		return fail(p, PROTO_ETOOBIG, "the scratch buffer is too small");
	p->scratch[o->used++] = c;
	return 0;
}

static int
end_field(struct csv_parser *p, struct field_out *o, struct csv_record *rec)
{
	if (rec->nfields == p->lim.max_fields)
		return fail(p, PROTO_ETOOBIG, "a record has more fields than the limit");
	if (o->used + 1 > p->scratch_len)
		return fail(p, PROTO_ETOOBIG, "the scratch buffer is too small");
	p->scratch[o->used++] = '\0';
	rec->fields[rec->nfields++] = p->scratch + o->start;
	o->start = o->used;
	return 0;
}

/* One character in the given state; returns the next state or a PROTO_E* code. */
static int
step(struct csv_parser *p, enum csv_state st, char c, struct field_out *o, struct csv_record *rec)
{
	switch (st) {
	case CSV_FIELD_START:
		if (c == '"')
			return CSV_QUOTED;
		if (c == p->sep)
			return end_field(p, o, rec) < 0 ? PROTO_ETOOBIG : CSV_FIELD_START;
		return put(p, o, c) < 0 ? PROTO_ETOOBIG : CSV_UNQUOTED;
	case CSV_UNQUOTED:
		if (c == p->sep)
			return end_field(p, o, rec) < 0 ? PROTO_ETOOBIG : CSV_FIELD_START;
		if (c == '"')
			return fail(p, PROTO_EBADMSG, "a quote inside an unquoted field");
		return put(p, o, c) < 0 ? PROTO_ETOOBIG : CSV_UNQUOTED;
	case CSV_QUOTED:
		if (c == '"')
			return CSV_QUOTE_IN_QUOTED;
		if (c == '\n')
			p->line++;
		return put(p, o, c) < 0 ? PROTO_ETOOBIG : CSV_QUOTED;
	case CSV_QUOTE_IN_QUOTED:
		if (c == '"')
			return put(p, o, '"') < 0 ? PROTO_ETOOBIG : CSV_QUOTED;
		if (c == p->sep)
			return end_field(p, o, rec) < 0 ? PROTO_ETOOBIG : CSV_FIELD_START;
		return fail(p, PROTO_EBADMSG, "text after a closing quote");
	}
	return fail(p, PROTO_EBADMSG, "internal state");
}

static bool
blank_record(const struct csv_record *rec)
{
	return rec->nfields == 1 && rec->fields[0][0] == '\0';
}

/* Parse one record, blank ones included. */
static int
next_record(struct csv_parser *p, struct csv_record *rec)
{
	struct field_out o = { 0, 0 };
	int st = CSV_FIELD_START;

	rec->line = p->line;
	rec->nfields = 0;
	while (p->pos < p->len) {
		char c = p->buf[p->pos];

		if (c == '\0')
			return fail(p, PROTO_EBADMSG, "a NUL byte");
		if ((c == '\r' || c == '\n') && st != CSV_QUOTED)
			break;		/* the record ends; a quoted field goes on */
		p->pos++;
		if ((st = step(p, (enum csv_state)st, c, &o, rec)) < 0)
			return st;
	}
	if (st == CSV_QUOTED)
		return fail(p, PROTO_EBADMSG, "a quoted field is not closed");
	if (end_field(p, &o, rec) < 0)
		return PROTO_ETOOBIG;
	eat_eol(p);
	return rec->nfields;
}

int
csv_next(struct csv_parser *p, struct csv_record *rec)
{
	int n;

	for (;;) {
		if (p->pos >= p->len)
			return 0;
		if ((n = next_record(p, rec)) < 0)
			return n;
		if (!blank_record(rec))
			break;
	}
	if (++p->records > p->lim.max_records) {
		p->line = rec->line;
		return fail(p, PROTO_ETOOBIG, "more records than the limit");
	}
	return n;
}

bool
csv_parse_decimal(const char *s, double *out)
{
	char buf[64], *end;
	size_t n = 0;
	bool mark = false;

	while (*s == ' ')
		s++;
	for (; *s && *s != ' ' && n + 1 < sizeof(buf); s++) {
		char c = *s == ',' ? '.' : *s;

		if (c == '.' && mark)
			return false;
		mark |= c == '.';
		if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'))
			return false;
		buf[n++] = c;
	}
	while (*s == ' ')
		s++;
	if (n == 0 || *s != '\0')
		return false;
	buf[n] = '\0';
	*out = strtod(buf, &end);
	return *end == '\0' && isfinite(*out) && !(buf[0] == '.' && n == 1);
}

static bool
looks_numeric(const char *s)
{
	double d;

	return csv_parse_decimal(s, &d);
}

int
csv_quote(const char *in, char sep, bool guard, char *out, size_t outlen)
{
	size_t len = strlen(in), o = 0;
	bool g = guard && strchr("=+-@", in[0]) != NULL && in[0] != '\0' && !looks_numeric(in);
	bool q = strchr(in, sep) || strchr(in, '"') || strchr(in, '\n') || strchr(in, '\r') ||
	    (len > 0 && (in[0] == ' ' || in[len - 1] == ' '));

	if (outlen < 1)
		return PROTO_ETOOBIG;
	if (q)
		out[o++] = '"';
	if (g && o + 1 < outlen)
		out[o++] = '\'';
	for (const char *p = in; *p; p++) {
		if (o + 3 >= outlen)
			return PROTO_ETOOBIG;
		if (*p == '"')
			out[o++] = '"';
		out[o++] = *p;
	}
	if (q) {
		if (o + 2 > outlen)
			return PROTO_ETOOBIG;
		out[o++] = '"';
	}
	if (o + 1 > outlen)
		return PROTO_ETOOBIG;
	out[o] = '\0';
	return (int)o;
}

const char *
csv_unguard(const char *s)
{
	if (s[0] == '\'' && s[1] != '\0' && strchr("=+-@", s[1]) != NULL)
		return s + 1;
	return s;
}
