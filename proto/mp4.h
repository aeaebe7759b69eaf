/*
 * mp4.h - what the fragmented MP4 (ISO BMFF, ISO/IEC 14496-12) writer
 * (mp4w.h) and reader (mp4r.h) share: four-character codes, the codecs we
 * store, sample flags, and the conversion of H.264/H.265 access units
 * between Annex B (what depay.h gives and pay.h takes) and the 4-byte
 * length-prefixed NAL units an MP4 sample holds (ISO/IEC 14496-15).
 *
 * Return convention (proto/proto.h): the converters return the number of
 * bytes written, PROTO_ETOOBIG when |cap| is too small, PROTO_EBADMSG when
 * the input is not what it claims to be. With out == NULL they only
 * measure (the same checks, the size the output would have). Nothing here
 * allocates; the caller owns every buffer.
 */
#ifndef PROTO_MP4_H
#define PROTO_MP4_H

#include "proto.h"

#define MP4_FOURCC(a, b, c, d) \
	((uint32_t)(uint8_t)(a) << 24 | (uint32_t)(uint8_t)(b) << 16 | \
	 (uint32_t)(uint8_t)(c) << 8 | (uint32_t)(uint8_t)(d))

#define MP4_MAX_TRACKS		8	/* compile-time room; limits may be lower */
#define MP4_ONVIF_NAMESPACE	"http://www.onvif.org/ver10/schema"

/* Sample flags (14496-12 8.8.3.1): depends_on = 2 for a sync sample, else
 * depends_on = 1 and sample_is_non_sync_sample. */
#define MP4_FLAGS_SYNC		0x02000000u
#define MP4_FLAGS_NON_SYNC	0x01010000u
#define MP4_FLAG_NON_SYNC_BIT	0x00010000u

enum mp4_codec {
	MP4_CODEC_UNKNOWN,		/* reader: a sample entry we do not interpret */
	MP4_CODEC_H264,			/* avc1 + avcC */
	MP4_CODEC_H265,			/* hvc1 + hvcC */
	MP4_CODEC_AAC,			/* mp4a + esds (object type 0x40) */
	MP4_CODEC_PCMU,			/* ulaw (G.711 mu-law) */
	MP4_CODEC_PCMA,			/* alaw (G.711 A-law) */
	MP4_CODEC_JPEG,			/* mp4v + esds (object type 0x6C); reader also 'jpeg' */
	MP4_CODEC_ONVIF_META,		/* metx, handler 'meta' */
};

/* A byte range inside a caller-owned buffer. */
struct mp4_span {
	const uint8_t *p;
	size_t len;
};

const char *mp4_codec_name(enum mp4_codec c);
bool mp4_codec_is_nal(enum mp4_codec c);	/* H.264 or H.265 */

/*
 * Annex B (00 00 01 or 00 00 00 01 before each NAL unit; bytes before the
 * first start code and trailing zero bytes are dropped) to 4-byte lengths.
 * PROTO_EBADMSG when there is no start code at the start (leading zero
 * bytes aside) or no NAL unit at all.
 */
int mp4_annexb_to_nal4(const uint8_t *in, size_t len, uint8_t *out, size_t cap);
/*
 * Length-prefixed NAL units (|lensize| 1, 2 or 4 bytes, from avcC/hvcC) to
 * Annex B with 4-byte start codes. PROTO_EBADMSG when a length runs past
 * the end, a NAL unit is empty, or the lengths do not end with the input.
 */
int mp4_nal_to_annexb(const uint8_t *in, size_t len, int lensize, uint8_t *out, size_t cap);
/* The same for 4-byte lengths, in place (the size does not change): 0 or
 * PROTO_EBADMSG (then |buf| may be partly converted). */
int mp4_nal4_to_annexb_inplace(uint8_t *buf, size_t len);

#endif
