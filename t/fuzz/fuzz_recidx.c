/*
 * fuzz_recidx.c - an index file of any bytes: the header check, every
 * whole record decoded, and the lookup over what decoded, which must
 * return an entry at or before the time asked for.
 */
#include "proto/recidx.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct recidx_entry e[64];
	size_t count, k = 0;
	int64_t at = 0;

	(void)recidx_check_header(d, n);
	if (n < RECIDX_HEADER_LEN)
		return 0;
	count = recidx_count(n);
	for (size_t i = 0; i < count && k < 64; i++) {
		if (recidx_decode(d + RECIDX_HEADER_LEN + i * RECIDX_RECORD_LEN, RECIDX_RECORD_LEN, &e[k]) < 0)
			continue;
		if (k > 0 && e[k].wall_us < e[k - 1].wall_us)
			continue;	/* the lookup is over sorted entries */
		k++;
	}
	memcpy(&at, d + 4, sizeof(at));	/* n >= 16: the time to look up comes from the input too */
	for (int clean = 0; clean < 2; clean++) {
		long i = recidx_find(e, k, at, clean);

		if (i >= (long)k || i < -1 || (i >= 0 && e[i].wall_us > at) ||
		    (i >= 0 && clean && !(e[i].flags & RECIDX_CLEAN)))
			abort();
	}
	return 0;
}
