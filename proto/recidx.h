/*
 * recidx.h - the index beside each recorded segment: one fixed-size record
 * per fragment (capture time, byte offset, size, duration, whether it
 * starts at a clean point), so that a seek reads the index and never
 * scans media.
 *
 * The file is a 16-byte header ("VSGI", version, record size) and then
 * records of 32 bytes, big-endian, each ending with a CRC-32 of its first
 * 28 bytes: a record torn by a crash fails its check and is dropped, and
 * the index is rebuilt from the segment (proto/mp4r) when it does not
 * match it.
 *
 * Pure: no I/O. Return convention: proto.h (decoders: 0 or PROTO_EBADMSG).
 */
#ifndef PROTO_RECIDX_H
#define PROTO_RECIDX_H

#include "proto.h"

#define RECIDX_HEADER_LEN 16
#define RECIDX_RECORD_LEN 32
#define RECIDX_VERSION 1

#define RECIDX_CLEAN   0x1u		/* the fragment starts at a keyframe (or a clean point) */
#define RECIDX_DISCONT 0x2u		/* what came before it is not contiguous with it */

struct recidx_entry {
	int64_t wall_us;		/* capture time of its first sample, microseconds since 1970 */
	uint64_t offset;		/* of its first box (prft or moof) in the segment */
	uint32_t size;			/* bytes of its boxes (prft, moof, mdat) */
	uint32_t duration_us;
	uint32_t flags;			/* RECIDX_* */
};

void recidx_header(uint8_t out[RECIDX_HEADER_LEN]);
int recidx_check_header(const uint8_t *p, size_t len);
void recidx_encode(const struct recidx_entry *e, uint8_t out[RECIDX_RECORD_LEN]);
int recidx_decode(const uint8_t *p, size_t len, struct recidx_entry *out);
/* The records whole in an index of |len| bytes. */
size_t recidx_count(size_t len);
/*
 * The last record at or before |wall_us| (with |clean|: the last clean one
 * at or before it), among |n| decoded entries sorted by time; -1 if none.
 */
long recidx_find(const struct recidx_entry *e, size_t n, int64_t wall_us, bool clean);
uint32_t recidx_crc32(const uint8_t *p, size_t len);

#endif
