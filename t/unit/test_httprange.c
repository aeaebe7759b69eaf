/* test_httprange.c - the Range header of a download: one range, or the whole file. */
#include "proto/httprange.h"
#include "t/tap.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *value;
	uint64_t size;
	enum http_range_result want;
	uint64_t first, last;
} cases[] = {
	{ "bytes=0-99", 1000, HTTP_RANGE_OK, 0, 99 },
	{ "bytes=500-", 1000, HTTP_RANGE_OK, 500, 999 },
	{ "bytes=-100", 1000, HTTP_RANGE_OK, 900, 999 },
	{ "bytes=-5000", 1000, HTTP_RANGE_OK, 0, 999 },		/* a suffix longer than the file: all of it */
	{ "bytes=990-2000", 1000, HTTP_RANGE_OK, 990, 999 },	/* the end is clipped */
	{ "BYTES=0-0", 1000, HTTP_RANGE_OK, 0, 0 },
	{ "  bytes=1-2  ", 1000, HTTP_RANGE_OK, 1, 2 },
	{ "bytes=999-", 1000, HTTP_RANGE_OK, 999, 999 },
	{ "bytes=1000-", 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=5000-6000", 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=-0", 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=0-", 0, HTTP_RANGE_UNSATISFIABLE, 0, 0 },
	{ "bytes=0-1,5-6", 1000, HTTP_RANGE_NONE, 0, 0 },	/* several ranges: the whole file */
	{ "bytes=5-1", 1000, HTTP_RANGE_NONE, 0, 0 },
	{ "items=0-1", 1000, HTTP_RANGE_NONE, 0, 0 },
	{ "bytes=", 1000, HTTP_RANGE_NONE, 0, 0 },
	{ "bytes=-", 1000, HTTP_RANGE_NONE, 0, 0 },
	{ "bytes=a-b", 1000, HTTP_RANGE_NONE, 0, 0 },
	{ "bytes=0 -1", 1000, HTTP_RANGE_NONE, 0, 0 },
	{ "bytes=+1-2", 1000, HTTP_RANGE_NONE, 0, 0 },
	{ "bytes=99999999999999999999-", 1000, HTTP_RANGE_NONE, 0, 0 },	/* 20 digits */
	{ "bytes=9223372036854775806-", 1000, HTTP_RANGE_UNSATISFIABLE, 0, 0 },
};

int
main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t first = 0, last = 0;
		enum http_range_result r = http_range_parse(cases[i].value, strlen(cases[i].value),
		    cases[i].size, &first, &last);

		ok(r == cases[i].want && (r != HTTP_RANGE_OK || (first == cases[i].first &&
		    last == cases[i].last)), "'%s' of %llu bytes: %d [%llu, %llu]", cases[i].value,
		    (unsigned long long)cases[i].size, r, (unsigned long long)first,
		    (unsigned long long)last);
	}
	{
		char big[HTTP_RANGE_MAX_LEN + 16];
		uint64_t a, b;

		memset(big, '0', sizeof(big));
		memcpy(big, "bytes=", 6);
		big[sizeof(big) - 2] = '-';
		ok(http_range_parse(big, sizeof(big), 10, &a, &b) == HTTP_RANGE_NONE,
		    "a header over the length limit is ignored");
		/* Not NUL-terminated: the parser stops at |len|. */
		ok(http_range_parse("bytes=1-2345", 9, 1000, &a, &b) == HTTP_RANGE_OK && a == 1 && b == 2,
		    "only |len| bytes are read");
	}
	return done_testing();
}
