/*
 * fuzz_h26x.c - the SPS parsers on any bytes: both parsers, on the input
 * whole and without its first byte; what they accept must be in range.
 */
#include "proto/h26x.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void
check(const struct h26x_sps *s)
{
	if (s->width == 0 || s->height == 0 || s->width > H26X_DIM_MAX || s->height > H26X_DIM_MAX || s->chroma_format > 3 ||
	    s->bit_depth_luma > 8 || s->bit_depth_chroma > 8 || s->fps < 0 || s->fps > H26X_FPS_MAX)
		abort();
	(void)h264_profile_name(s);
	(void)h265_profile_name(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct h26x_sps s;

	for (size_t skip = 0; skip < 2 && skip <= n; skip++) {
		if (h264_sps_parse(d + skip, n - skip, &s) == 0)
			check(&s);
		if (h265_sps_parse(d + skip, n - skip, &s) == 0)
			check(&s);
	}
	return 0;
}
