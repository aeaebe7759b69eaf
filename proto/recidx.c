/*
 * recidx.c - the segment index records (see recidx.h).
 */
#include "recidx.h"

#include <string.h>

static const uint8_t magic[4] = { 'V', 'S', 'G', 'I' };

static void
wr64(uint8_t *p, uint64_t v)
{
	proto_wr32(p, (uint32_t)(v >> 32));
	proto_wr32(p + 4, (uint32_t)v);
}

static uint64_t
rd64(const uint8_t *p)
{
	return (uint64_t)proto_rd32(p) << 32 | proto_rd32(p + 4);
}

/* CRC-32 (IEEE 802.3, reflected, as zlib computes it), bit by bit: records are tiny. */
uint32_t
recidx_crc32(const uint8_t *p, size_t len)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

void
recidx_header(uint8_t out[RECIDX_HEADER_LEN])
{
	memset(out, 0, RECIDX_HEADER_LEN);
	memcpy(out, magic, 4);
	proto_wr32(out + 4, RECIDX_VERSION);
	proto_wr32(out + 8, RECIDX_RECORD_LEN);
}

int
recidx_check_header(const uint8_t *p, size_t len)
{
	if (len < RECIDX_HEADER_LEN || memcmp(p, magic, 4) != 0 || proto_rd32(p + 4) != RECIDX_VERSION ||
	    proto_rd32(p + 8) != RECIDX_RECORD_LEN)
		return PROTO_EBADMSG;
	return 0;
}

void
recidx_encode(const struct recidx_entry *e, uint8_t out[RECIDX_RECORD_LEN])
{
	wr64(out, (uint64_t)e->wall_us);
	wr64(out + 8, e->offset);
	proto_wr32(out + 16, e->size);
	proto_wr32(out + 20, e->duration_us);
	proto_wr32(out + 24, e->flags);
	proto_wr32(out + 28, recidx_crc32(out, 28));
}

int
recidx_decode(const uint8_t *p, size_t len, struct recidx_entry *out)
{
	if (len < RECIDX_RECORD_LEN || proto_rd32(p + 28) != recidx_crc32(p, 28))
		return PROTO_EBADMSG;
	out->wall_us = (int64_t)rd64(p);
	out->offset = rd64(p + 8);
	out->size = proto_rd32(p + 16);
	out->duration_us = proto_rd32(p + 20);
	out->flags = proto_rd32(p + 24);
	return 0;
}

size_t
recidx_count(size_t len)
{
	return len < RECIDX_HEADER_LEN ? 0 : (len - RECIDX_HEADER_LEN) / RECIDX_RECORD_LEN;
}

long
recidx_find(const struct recidx_entry *e, size_t n, int64_t wall_us, bool clean)
{
	size_t lo = 0, hi = n;

	/* The first entry after |wall_us|, by bisection; the answer is at or before it. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e[mid].wall_us <= wall_us)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo > 0) {
		lo--;
		if (!clean || (e[lo].flags & RECIDX_CLEAN))
			return (long)lo;
	}
	return -1;
}
