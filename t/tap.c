/* tap.c - see tap.h. */
#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tests_run, tests_failed;

bool
tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tests_run++;
	printf("%sok %d - ", cond ? "" : "not ", tests_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tests_failed++;
		printf("#   failed at %s line %d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

bool
tap_is_int(long long got, long long want, const char *file, int line, const char *name)
{
	bool r = tap_ok(got == want, file, line, "%s", name);

	if (!r)
		printf("#          got: %lld\n#     expected: %lld\n", got, want);
	return r;
}

bool
tap_is_str(const char *got, const char *want, const char *file, int line, const char *name)
{
	bool same = (got == NULL && want == NULL) || (got && want && strcmp(got, want) == 0);
	bool r = tap_ok(same, file, line, "%s", name);

	if (!r)
		printf("#          got: '%s'\n#     expected: '%s'\n", got ? got : "(null)",
		    want ? want : "(null)");
	return r;
}

void
tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

int
tap_done(void)
{
	printf("1..%d\n", tests_run);
	return tests_failed ? 1 : 0;
}

const char *
tap_data_path(const char *name)
{
	static char path[4096];
	const char *top = getenv("top_srcdir");

	snprintf(path, sizeof(path), "%s/t/data/%s", top ? top : ".", name);
	return path;
}
