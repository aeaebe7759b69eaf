/* fuzz_httprange.c - any Range header against any file size: a range is always inside the file. */
#include "proto/httprange.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	uint64_t size = 0, first = 0, last = 0;

	if (n < 8)
		return 0;
	memcpy(&size, d, 8);
	size >>= d[0] % 64;		/* small sizes too */
	d += 8, n -= 8;
	if (http_range_parse((const char *)d, n, size, &first, &last) == HTTP_RANGE_OK &&
	    (first > last || last >= size))
		abort();
	return 0;
}
