/*
 * test_recidx.c - the segment index: records survive encoding, a torn or
 * altered record fails its check, the header is checked, and the lookup
 * finds the fragment to start from (the last clean one at or before the
 * time asked for).
 */
#include "proto/recidx.h"
#include "t/tap.h"

#include <string.h>

static void
test_round_trip(void)
{
	struct recidx_entry e = {
		.wall_us = 1796594604515325LL, .offset = 0x123456789aULL, .size = 70000,
		.duration_us = 999960, .flags = RECIDX_CLEAN | RECIDX_DISCONT,
	}, d;
	uint8_t rec[RECIDX_RECORD_LEN], hdr[RECIDX_HEADER_LEN];
	int bad = 0;

	recidx_encode(&e, rec);
	is_int(recidx_decode(rec, sizeof(rec), &d), 0, "a record decodes");
	ok(d.wall_us == e.wall_us && d.offset == e.offset && d.size == e.size && d.duration_us == e.duration_us &&
	    d.flags == e.flags, "and says what was written");
	is_int(recidx_decode(rec, sizeof(rec) - 1, &d), PROTO_EBADMSG, "a short record is refused");
	for (size_t i = 0; i < sizeof(rec); i++)
		for (int bit = 0; bit < 8; bit++) {
			rec[i] ^= (uint8_t)(1u << bit);
			bad += recidx_decode(rec, sizeof(rec), &d) == PROTO_EBADMSG;
			rec[i] ^= (uint8_t)(1u << bit);
		}
	is_int(bad, RECIDX_RECORD_LEN * 8, "every single flipped bit is caught");
	memset(rec, 0, sizeof(rec));
	is_int(recidx_decode(rec, sizeof(rec), &d), PROTO_EBADMSG, "zeros (a preallocated tail) are refused");

	recidx_header(hdr);
	is_int(recidx_check_header(hdr, sizeof(hdr)), 0, "the header checks");
	is_int(recidx_check_header(hdr, sizeof(hdr) - 1), PROTO_EBADMSG, "a short header does not");
	hdr[0] = 'X';
	is_int(recidx_check_header(hdr, sizeof(hdr)), PROTO_EBADMSG, "nor another magic");
	is_int((long long)recidx_count(RECIDX_HEADER_LEN + 3 * RECIDX_RECORD_LEN + 7), 3,
	    "a torn last record is not counted");
	is_int((long long)recidx_count(5), 0, "nor a torn header");
	/* The CRC is the usual CRC-32 (zlib's): "123456789" -> 0xcbf43926. */
	is_int(recidx_crc32((const uint8_t *)"123456789", 9), 0xcbf43926LL, "CRC-32 check value");
}

static void
test_find(void)
{
	struct recidx_entry e[5] = {
		{ .wall_us = 1000, .flags = RECIDX_CLEAN },
		{ .wall_us = 2000 },
		{ .wall_us = 3000, .flags = RECIDX_CLEAN },
		{ .wall_us = 4000 },
		{ .wall_us = 5000 },
	};

	is_int(recidx_find(e, 5, 999, false), -1, "before the first: none");
	is_int(recidx_find(e, 5, 1000, false), 0, "exactly the first");
	is_int(recidx_find(e, 5, 2500, false), 1, "within the second");
	is_int(recidx_find(e, 5, 2500, true), 0, "the clean one before it");
	is_int(recidx_find(e, 5, 4999, true), 2, "the last clean one at or before");
	is_int(recidx_find(e, 5, 99999, false), 4, "after the end: the last");
	is_int(recidx_find(e, 0, 1000, false), -1, "an empty index");
	is_int(recidx_find(e + 1, 1, 2500, true), -1, "no clean fragment at all");
}

int
main(void)
{
	test_round_trip();
	test_find();
	return done_testing();
}
