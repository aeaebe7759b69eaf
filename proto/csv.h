/*
 * csv.h - CSV as spreadsheets write it (RFC 4180 and its usual variants):
 * separator ',' or ';' (detected from the first line), UTF-8 with or
 * without a byte-order mark, fields quoted with '"' ("" inside quotes is a
 * quote, quoted fields may span lines), CRLF or LF line ends, blank lines
 * skipped. Also the two helpers an importer of numbers needs: decimal
 * point or decimal comma, and quoting for the writer.
 *
 * The parser works on a whole buffer, one record per call, and keeps its
 * state (position, line) in struct csv_parser. Fields are unquoted into a
 * caller-provided scratch buffer; nothing is allocated. Everything the
 * input controls is bounded by struct csv_limits.
 *
 * csv_next() returns the number of fields of the next record (>= 1), 0 at
 * the end of the input, or PROTO_EBADMSG (unterminated quote, text after a
 * closing quote, NUL byte) or PROTO_ETOOBIG (a limit); then err_line and
 * err say where and why, and the parser cannot go on.
 */
#ifndef PROTO_CSV_H
#define PROTO_CSV_H

#include "proto.h"

#define CSV_MAX_FIELDS 64

struct csv_limits {
	int max_fields;			/* per record, <= CSV_MAX_FIELDS */
	size_t max_field_len;		/* bytes of one field after unquoting */
	int max_records;
};

struct csv_parser {
	const char *buf;
	size_t len;
	size_t pos;
	int line;			/* 1-based line of buf[pos] */
	int records;
	char sep;			/* ',' or ';' */
	struct csv_limits lim;
	char *scratch;			/* unquoted fields of the current record, NUL-terminated */
	size_t scratch_len;
	int err_line;
	const char *err;		/* static text describing the error */
};

struct csv_record {
	int line;			/* line where the record starts */
	int nfields;
	const char *fields[CSV_MAX_FIELDS];	/* into the scratch buffer, valid until the next call */
};

/*
 * Start parsing |buf|: skips a UTF-8 BOM and picks the separator from the
 * first line (the one of ',' and ';' seen more often outside quotes; ','
 * if neither). |scratch| should hold max_fields * (max_field_len + 1) bytes;
 * a smaller one makes long records fail with PROTO_ETOOBIG.
 */
void csv_init(struct csv_parser *p, const char *buf, size_t len, const struct csv_limits *lim,
    char *scratch, size_t scratch_len);
int csv_next(struct csv_parser *p, struct csv_record *rec);

/*
 * A decimal number with '.' or ',' as the decimal mark, optional sign and
 * exponent, surrounding spaces allowed; no thousands separators. False if
 * |s| is anything else (empty, "1.2.3", "nan", "1e999").
 */
bool csv_parse_decimal(const char *s, double *out);

/*
 * Write |in| as one field for separator |sep| into |out| (NUL-terminated):
 * quoted when it holds the separator, a quote, a line end or leading or
 * trailing spaces. With |guard|, text that a spreadsheet would run as a
 * formula (starting with = + - @ and not a number) gets a leading '.
 * Returns the length written, or PROTO_ETOOBIG if |outlen| is too small.
 */
int csv_quote(const char *in, char sep, bool guard, char *out, size_t outlen);
/* Undo the guard of csv_quote: "'=x" -> "=x" (returns |s| or s + 1). */
const char *csv_unguard(const char *s);

#endif
