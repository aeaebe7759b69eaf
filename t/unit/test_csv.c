/*
 * test_csv.c - proto/csv.c: the CSV reader (separators, quoting, line
 * numbers, limits, errors), decimal numbers with point or comma, and the
 * field writer with its spreadsheet-formula guard.
 *
 * Reader cases are a table: an input, the records expected (fields joined
 * with '|', records with '/'), their start lines, or the error and the line
 * it names.
 */
#include "vssgate_build.h"

#include "proto/csv.h"
#include "t/tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRATCH 4096

static const struct csv_limits lim_default = { 16, 100, 100 };
static const struct csv_limits lim_small = { 3, 5, 2 };

static const struct reader_case {
	const char *name;
	const char *in;
	const struct csv_limits *lim;	/* NULL: lim_default */
	char sep;			/* separator detected */
	const char *want;		/* records, or NULL when an error is expected */
	const char *lines;		/* start line of each record, "1,2" */
	int err;			/* PROTO_E* */
	int err_line;
} cases[] = {
	{ "commas", "a,b,c\n1,2,3\n", NULL, ',', "a|b|c/1|2|3", "1,2", 0, 0 },
	{ "semicolons win over commas", "name;lat\nx;48,5\n", NULL, ';', "name|lat/x|48,5", "1,2", 0, 0 },
	{ "commas win when more", "a,b,c;d\n", NULL, ',', "a|b|c;d", "1", 0, 0 },
	{ "a quoted separator does not count", "\"a;b;c\",d\n", NULL, ',', "a;b;c|d", "1", 0, 0 },
	{ "CRLF and no final line end", "a;b\r\n1;2", NULL, ';', "a|b/1|2", "1,2", 0, 0 },
	{ "lone CR", "a\r1\r", NULL, ',', "a/1", "1,2", 0, 0 },
	{ "BOM skipped", "\xef\xbb\xbf" "name\nx\n", NULL, ',', "name/x", "1,2", 0, 0 },
	{ "blank lines skipped, lines still counted", "a\n\n\r\nb\n", NULL, ',', "a/b", "1,4", 0, 0 },
	{ "empty fields", ",,\n;x\n", NULL, ',', "||/;x", "1,2", 0, 0 },
	{ "doubled quotes", "\"say \"\"hi\"\"\",x\n", NULL, ',', "say \"hi\"|x", "1", 0, 0 },
	{ "quoted line ends keep their line count", "\"two\nlines\",b\nc,d\n", NULL, ',',
	  "two\nlines|b/c|d", "1,3", 0, 0 },
	{ "empty quoted field", "\"\",x\n", NULL, ',', "|x", "1", 0, 0 },
	{ "UTF-8 passes through", "nom;étage\nGare;-1\n", NULL, ';', "nom|étage/Gare|-1", "1,2", 0, 0 },
	{ "empty input", "", NULL, ',', "", "", 0, 0 },
	{ "unterminated quote", "a\n\"open,b\n", NULL, ',', NULL, NULL, PROTO_EBADMSG, 3 },
	{ "text after a closing quote", "\"a\"x,b\n", NULL, ',', NULL, NULL, PROTO_EBADMSG, 1 },
	{ "quote inside an unquoted field", "ab\"c\n", NULL, ',', NULL, NULL, PROTO_EBADMSG, 1 },
	{ "too many fields", "a,b,c,d\n", &lim_small, ',', NULL, NULL, PROTO_ETOOBIG, 1 },
	{ "field too long", "abcdef\n", &lim_small, ',', NULL, NULL, PROTO_ETOOBIG, 1 },
	{ "quoted field too long", "x\n\"abcdef\"\n", &lim_small, ',', NULL, NULL, PROTO_ETOOBIG, 2 },
	{ "too many records", "a\nb\nc\n", &lim_small, ',', NULL, NULL, PROTO_ETOOBIG, 3 },
};

/* Read every record of |in|; fill |got| and |lines| as the table writes them. */
static int
read_all(const struct reader_case *c, char *got, size_t gotlen, char *lines, size_t lineslen,
    struct csv_parser *p)
{
	static char scratch[SCRATCH];
	struct csv_record rec;
	int rc;

	got[0] = lines[0] = '\0';
	csv_init(p, c->in, strlen(c->in), c->lim ? c->lim : &lim_default, scratch, sizeof(scratch));
	while ((rc = csv_next(p, &rec)) > 0) {
		if (got[0] || lines[0])
			strncat(got, "/", gotlen - strlen(got) - 1);
		for (int i = 0; i < rec.nfields; i++) {
			if (i > 0)
				strncat(got, "|", gotlen - strlen(got) - 1);
			strncat(got, rec.fields[i], gotlen - strlen(got) - 1);
		}
		snprintf(lines + strlen(lines), lineslen - strlen(lines), "%s%d", lines[0] ? "," : "",
		    rec.line);
	}
	return rc;
}

static void
test_reader(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct reader_case *c = &cases[i];
		struct csv_parser p;
		char got[512], lines[64], name[160];
		int rc = read_all(c, got, sizeof(got), lines, sizeof(lines), &p);

		snprintf(name, sizeof(name), "%s: separator", c->name);
		is_int(p.sep, c->sep, name);
		if (c->want != NULL) {
			snprintf(name, sizeof(name), "%s: ends cleanly", c->name);
			is_int(rc, 0, name);
			snprintf(name, sizeof(name), "%s: records", c->name);
			is_str(got, c->want, name);
			snprintf(name, sizeof(name), "%s: lines", c->name);
			is_str(lines, c->lines, name);
		} else {
			snprintf(name, sizeof(name), "%s: error", c->name);
			is_int(rc, c->err, name);
			snprintf(name, sizeof(name), "%s: error line", c->name);
			is_int(p.err_line, c->err_line, name);
			ok(p.err != NULL && p.err[0] != '\0', "%s: error text", c->name);
			ok(csv_next(&p, &(struct csv_record){ 0 }) == 0, "%s: stops after the error", c->name);
		}
	}
}

static void
test_small_scratch(void)
{
	char scratch[4];
	struct csv_parser p;
	struct csv_record rec;

	csv_init(&p, "abcdef\n", 7, &lim_default, scratch, sizeof(scratch));
	is_int(csv_next(&p, &rec), PROTO_ETOOBIG, "a scratch buffer too small is a limit, not an overflow");
}

static const struct decimal_case {
	const char *in;
	bool ok;
	double want;
} decimals[] = {
	{ "48.8809", true, 48.8809 }, { "48,8809", true, 48.8809 }, { "-12,5", true, -12.5 },
	{ " 2.5 ", true, 2.5 }, { "+3", true, 3 }, { "1e3", true, 1000 }, { "1,5E-2", true, 0.015 },
	{ "0", true, 0 }, { ".5", true, 0.5 }, { "", false, 0 }, { " ", false, 0 }, { ".", false, 0 },
	{ "1.2.3", false, 0 }, { "1,2.3", false, 0 }, { "nan", false, 0 }, { "inf", false, 0 },
	{ "1e999", false, 0 }, { "0x10", false, 0 }, { "12 34", false, 0 }, { "1-2", false, 0 },
	{ "-", false, 0 }, { "1 000,5", false, 0 },
};

static void
test_decimal(void)
{
	for (size_t i = 0; i < sizeof(decimals) / sizeof(decimals[0]); i++) {
		double d = -1;
		bool r = csv_parse_decimal(decimals[i].in, &d);

		ok(r == decimals[i].ok && (!r || fabs(d - decimals[i].want) < 1e-12),
		    "decimal \"%s\" -> %s %g", decimals[i].in, r ? "ok" : "refused", r ? d : 0.0);
	}
}

static void
test_quote(void)
{
	char out[64];

	csv_quote("plain", ',', true, out, sizeof(out));
	is_str(out, "plain", "plain text is not quoted");
	csv_quote("a;b", ';', true, out, sizeof(out));
	is_str(out, "\"a;b\"", "the separator is quoted");
	csv_quote("a;b", ',', true, out, sizeof(out));
	is_str(out, "a;b", "the other separator is not");
	csv_quote("say \"hi\"", ',', true, out, sizeof(out));
	is_str(out, "\"say \"\"hi\"\"\"", "quotes are doubled");
	csv_quote("two\nlines", ',', true, out, sizeof(out));
	is_str(out, "\"two\nlines\"", "line ends are quoted");
	csv_quote(" padded ", ',', true, out, sizeof(out));
	is_str(out, "\" padded \"", "edge spaces are quoted");
	csv_quote("=HYPERLINK(\"x\")", ',', true, out, sizeof(out));
	is_str(out, "\"'=HYPERLINK(\"\"x\"\")\"", "a formula is guarded");
	csv_quote("@SUM(A1)", ',', false, out, sizeof(out));
	is_str(out, "@SUM(A1)", "no guard when not asked");
	csv_quote("-12,5", ';', true, out, sizeof(out));
	is_str(out, "-12,5", "a negative number is not a formula");
	csv_quote("-2", ',', true, out, sizeof(out));
	is_str(out, "-2", "neither is -2");
	is_int(csv_quote("0123456789", ',', false, out, 5), PROTO_ETOOBIG, "too small a buffer");
	is_str(csv_unguard("'=x"), "=x", "unguard a guarded formula");
	is_str(csv_unguard("'quoted"), "'quoted", "a plain leading quote stays");
	is_str(csv_unguard("'"), "'", "a lone quote stays");
}

/* What the writer writes, the reader reads back the same. */
static void
test_round_trip(void)
{
	static const char *const texts[] = { "a;b", "say \"hi\"", "two\nlines", " x ", "", "Gare; du \"Nord\"" };
	static char scratch[SCRATCH];
	char line[512] = "", field[128];
	struct csv_parser p;
	struct csv_record rec;
	size_t n = sizeof(texts) / sizeof(texts[0]);

	for (size_t i = 0; i < n; i++) {
		csv_quote(texts[i], ';', false, field, sizeof(field));
		strncat(line, field, sizeof(line) - strlen(line) - 1);
		strncat(line, i + 1 < n ? ";" : "\r\n", sizeof(line) - strlen(line) - 1);
	}
	csv_init(&p, line, strlen(line), &lim_default, scratch, sizeof(scratch));
	is_int(csv_next(&p, &rec), (long long)n, "round trip: one record with every field");
	for (size_t i = 0; i < n && i < (size_t)rec.nfields; i++)
		is_str(rec.fields[i], texts[i], "round trip field");
}

int
main(void)
{
	test_reader();
	test_small_scratch();
	test_decimal();
	test_quote();
	test_round_trip();
	return done_testing();
}
