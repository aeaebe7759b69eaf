/*
 * pay.h - RTP packetizers behind one interface: an access unit in, RTP
 * payloads out, written into caller memory one at a time. A packetizer
 * never builds RTP headers (the hub does that once for all readers); it
 * says which payload is the last of the access unit, for the marker bit.
 *
 *   struct pay p;
 *   pay_init(&p, &pay_h264_ops, &(struct pay_config){ .max_payload = 1400 });
 *   pay_begin(&p, au, au_len);
 *   while ((n = pay_next(&p, buf, sizeof(buf), &last)) > 0)
 *       send RTP packet (marker = last) with buf[0..n);
 *
 * Codecs:
 *   pay_h264_ops  Annex B in; a single NAL unit packet when it fits, else
 *                 FU-A (RFC 6184, packetization-mode=1)
 *   pay_h265_ops  Annex B in; a single NAL unit packet or FU (RFC 7798)
 *     With insert_ps, an access unit holding an IDR (H.264) or IRAP
 *     (H.265) picture but not the parameter sets gets the last ones seen
 *     (in earlier access units or given with pay_set_ps()) in front of its
 *     first NAL unit after an access unit delimiter.
 *   pay_aac_ops   one raw AAC frame per packet, RFC 3640 AAC-hbr (4-byte AU
 *                 header section: sizelength=13, indexlength=3); a frame
 *                 larger than a packet is fragmented, each fragment with
 *                 the same AU header, "last" on the final one
 *   pay_g711_ops  PCMU/PCMA samples cut at max_payload
 *   pay_meta_ops  one ONVIF metadata document (or gzip member) cut at
 *                 max_payload, "last" (the marker) on the final piece
 *   pay_jpeg_ops  a baseline JPEG file in; RFC 2435 payloads with the
 *                 tables in-band in the first (see pay_jpeg.c)
 *
 * Return convention (proto/proto.h):
 *   pay_begin()  0, PROTO_EBADMSG (empty, not Annex B, or a NAL unit type
 *                that would read as an RTP structure: H.264 0 and 24..31,
 *                H.265 48..63 or TemporalId 0), PROTO_ETOOBIG
 *                (an AAC frame above 8191 bytes)
 *   pay_next()   the size of the payload written (> 0), 0 when the access
 *                unit is done, PROTO_ETOOBIG when |outlen| < max_payload
 *
 * Ownership: pay_begin() keeps a pointer to |au|: the caller keeps it
 * unchanged until pay_next() returned 0 or pay_begin() is called again.
 * Parameter sets are copied. Nothing here allocates.
 */
#ifndef PROTO_PAY_H
#define PROTO_PAY_H

#include "proto.h"

#define PAY_MAX_PAYLOAD_DEFAULT	1400
#define PAY_MIN_PAYLOAD		64	/* smaller max_payload is refused */
#define PAY_PS_MAX		512
#define PAY_AAC_MAX_AU		8191	/* 13-bit AU-size */

enum pay_state {
	PAY_IDLE,			/* no access unit: call pay_begin() */
	PAY_UNIT,			/* a NAL unit (or the unit) is loaded, nothing sent */
	PAY_FRAGMENT,			/* part of it was sent */
	PAY_DONE,			/* the last payload was handed out */
};

struct pay_config {
	size_t max_payload;		/* 0: PAY_MAX_PAYLOAD_DEFAULT */
	bool insert_ps;			/* H.264/H.265, see above */
};

struct pay_ps {
	uint8_t data[PAY_PS_MAX];
	size_t len;
};

struct pay;

struct pay_ops {
	const char *name;
	int (*begin)(struct pay *p);
	/* Writes one payload into |out| (room for max_payload bytes). */
	int (*next)(struct pay *p, uint8_t *out, bool *last);
};

struct pay {
	const struct pay_ops *ops;
	struct pay_config cfg;
	enum pay_state state;
	const uint8_t *au;		/* caller-owned access unit */
	size_t au_len;
	size_t pos;			/* H.26x: where to look for the NAL unit after la */
	const uint8_t *cur;		/* the unit being sent */
	size_t cur_len, cur_off;
	const uint8_t *la;		/* H.26x: the next NAL unit of the AU, or NULL */
	size_t la_len;
	bool keyframe;			/* the AU of pay_begin() holds an IDR/IRAP (always
					 * true for audio and metadata) */
	const struct pay_ps *insert[3];	/* parameter sets to put in front */
	int ninsert, inserted;
	struct pay_ps vps, sps, pps;	/* the last ones seen or given */
	/* JPEG: what pay_begin() read (RFC 2435 main header, quantization tables) */
	uint8_t jpeg_type, jpeg_w8, jpeg_h8, jpeg_qprec;
	uint16_t jpeg_dri;
	uint8_t jpeg_qt[256];
	size_t jpeg_qt_len;
};

extern const struct pay_ops pay_h264_ops;
extern const struct pay_ops pay_h265_ops;
extern const struct pay_ops pay_aac_ops;
extern const struct pay_ops pay_g711_ops;
extern const struct pay_ops pay_meta_ops;
extern const struct pay_ops pay_jpeg_ops;

/* |cfg| may be NULL. PROTO_EBADMSG when max_payload < PAY_MIN_PAYLOAD. */
int pay_init(struct pay *p, const struct pay_ops *ops, const struct pay_config *cfg);
/* Parameter sets from the SDP (NAL units without start code; NULL/0 to
 * leave one unchanged). PROTO_ETOOBIG above PAY_PS_MAX. */
int pay_set_ps(struct pay *p, const uint8_t *vps, size_t vps_len, const uint8_t *sps,
    size_t sps_len, const uint8_t *pps, size_t pps_len);
/*
 * Learns VPS/SPS/PPS from codec extradata as FFmpeg gives it: Annex B, or
 * the ISO BMFF records avcC (H.264) and hvcC (H.265). The first of each
 * kind is kept, for insertion and for the SDP's sprop (sdp.h formatters
 * take p->sps.data etc.). PROTO_EBADMSG on a truncated record,
 * PROTO_EUNSUPPORTED for an unknown layout or a codec without them.
 */
int pay_learn_extradata(struct pay *p, const uint8_t *extra, size_t len);
int pay_begin(struct pay *p, const uint8_t *au, size_t len);
int pay_next(struct pay *p, uint8_t *out, size_t outlen, bool *last);
/*
 * pay_begin() and every pay_next() at once: the payloads are written one
 * after the other into |buf| and their sizes into |sizes|; the last one
 * carries the marker. Returns their count, PROTO_ETOOBIG when |buf| or
 * |maxsizes| is too small (buf needs about len + len / max_payload * 3 +
 * the inserted parameter sets), or pay_begin()'s error.
 */
int pay_au(struct pay *p, const uint8_t *au, size_t len, uint8_t *buf, size_t bufcap,
    size_t *sizes, int maxsizes);
const char *pay_state_str(enum pay_state s);

#endif
