/* fuzz_wsframe.c - frame spans never exceed the input, and frames walk a buffer to its end. */
#include "proto/wsframe.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct ws_frame_span s;
	size_t at = 0;
	int rc;

	while (at < n && (rc = ws_frame_span(d + at, n - at, 1 << 16, &s)) == 0) {
		if (s.len < 2 || s.len > n - at)
			abort();	/* a span must cover a header and stay inside the input */
		at += s.len;
	}
	return 0;
}
