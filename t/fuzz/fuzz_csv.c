/*
 * fuzz_csv.c - libFuzzer target for proto/csv.c: read every record of the
 * input with small limits, parse each field as a decimal number, and check
 * that writing a field with csv_quote() and reading it back gives the same
 * text (a mismatch traps).
 */
#include "vssgate_build.h"

#include "proto/csv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* quote(field) read back must be field itself. */
static void
round_trip(const char *field, char sep)
{
	static char quoted[2 * 256 + 8], scratch[1024];
	struct csv_limits lim = { 4, 600, 4 };
	struct csv_parser p;
	struct csv_record rec;
	char line[sizeof(quoted) + 4];
	int n = csv_quote(field, sep, false, quoted, sizeof(quoted));

	/* On purpose read differently: a lone CR ends a line, a leading BOM starts a file. */
	if (n < 0 || strchr(field, '\r') || strlen(field) == 0 || strncmp(field, "\xef\xbb\xbf", 3) == 0)
		return;
	memcpy(line, quoted, (size_t)n);
	line[n] = sep;
	line[n + 1] = 'x';
	csv_init(&p, line, (size_t)n + 2, &lim, scratch, sizeof(scratch));
	p.sep = sep;	/* one field alone cannot show its separator */
	if (csv_next(&p, &rec) != 2 || strcmp(rec.fields[0], field) != 0)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char scratch[16 * 257];
	struct csv_limits lim = { 16, 256, 64 };
	struct csv_parser p;
	struct csv_record rec;
	double d;

	csv_init(&p, (const char *)data, size, &lim, scratch, sizeof(scratch));
	while (csv_next(&p, &rec) > 0)
		for (int i = 0; i < rec.nfields; i++) {
			(void)csv_parse_decimal(rec.fields[i], &d);
			(void)csv_unguard(rec.fields[i]);
			if (strlen(rec.fields[i]) < 256)
				round_trip(rec.fields[i], p.sep);
		}
	return 0;
}
