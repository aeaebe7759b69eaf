/*
 * fuzz_depay.c - one depacketizer per build (FUZZ_CODEC selects it) fed a
 * sequence of packets. Each record: a flags byte (bit 0 marker, bits 1-3
 * sequence step 0..7, bits 4-5 timestamp step), a 16-bit length, then the
 * payload. Every unit that comes out must lie inside the depacketizer's
 * buffers and respect max_au.
 */
#include "proto/depay.h"

#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_CODEC
#define FUZZ_CODEC 0
#endif

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static const struct depay_ops *const codecs[] = {
	&depay_h264_ops, &depay_h265_ops, &depay_jpeg_ops, &depay_aac_ops, &depay_g711_ops,
	&depay_meta_ops,
};

static void
drain(struct depay *dp)
{
	struct depay_au au;
	volatile uint8_t sink = 0;

	while (depay_pop(dp, &au)) {
		if (au.len > dp->cfg.max_au)
			abort();
		if (au.len > 0) {	/* touch both ends: ASan checks the bounds */
			sink ^= au.data[0];
			sink ^= au.data[au.len - 1];
		}
	}
	(void)sink;
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct depay_config cfg = { .max_au = 1u << 16 };
	struct depay *dp = malloc(sizeof(*dp));
	uint16_t seq = 65530;
	uint32_t ts = 0xfffff000u;
	size_t i = 1;

	if (dp == NULL || n < 1)
		goto out;
	/* The first byte picks the AAC layout and the metadata flavour. */
	cfg.aac_sizelength = 1 + (d[0] & 15);
	cfg.aac_indexlength = (d[0] >> 4) & 3;
	cfg.aac_indexdeltalength = (d[0] >> 6) & 3;
	cfg.meta_gzip = d[0] & 1;
	if (depay_init(dp, codecs[FUZZ_CODEC], &cfg) < 0)
		goto out;
	while (i + 3 <= n) {
		uint8_t flags = d[i];
		size_t len = (size_t)(d[i + 1] << 8 | d[i + 2]);

		i += 3;
		if (len > n - i)
			len = n - i;
		seq = (uint16_t)(seq + ((flags >> 1) & 7));
		ts += ((flags >> 4) & 3) * 3000u;
		depay_push(dp, d + i, len, flags & 1, ts, seq);
		drain(dp);
		if (flags & 0x80)
			depay_reset(dp);
		i += len;
	}
	depay_free(dp);
out:
	free(dp);
	return 0;
}
