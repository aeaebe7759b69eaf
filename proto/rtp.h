/*
 * rtp.h - RTP fixed header (RFC 3550 §5.1): parse and build, the ONVIF
 * replay header extension (profile 0xABAC, ONVIF Streaming §6.3), and
 * arithmetic on 16-bit sequence numbers and 32-bit timestamps that wrap.
 *
 * Return convention (proto/proto.h):
 *   rtp_parse()   the header length, i.e. the payload offset (>= 12), or
 *                 PROTO_EVERSION (V != 2) or PROTO_EBADMSG (a length that
 *                 does not fit: CSRC list, extension, padding)
 *   rtp_build()   header bytes written, PROTO_ETOOBIG or PROTO_EBADMSG
 *
 * Ownership: the pointers in struct rtp_hdr filled by rtp_parse() point
 * into the caller's packet. Nothing here allocates.
 */
#ifndef PROTO_RTP_H
#define PROTO_RTP_H

#include "proto.h"

#define RTP_VERSION		2
#define RTP_HDR_LEN		12
#define RTP_MAX_CSRC		15
#define RTP_EXT_ONVIF		0xABAC	/* ONVIF replay extension profile */
#define RTP_ONVIF_EXT_WORDS	3	/* NTP (2 words), flags/CSeq/padding (1) */

struct rtp_onvif_ext {
	uint64_t ntp;			/* capture wall clock, NTP format */
	bool clean_point;		/* C: a keyframe or other clean start */
	bool end;			/* E: last access unit before a gap or the end */
	bool discontinuity;		/* D: not contiguous with what was sent before */
	bool terminal;			/* T: last access unit of the track */
	uint8_t cseq;			/* low 8 bits of the PLAY's CSeq */
};

struct rtp_hdr {
	bool padding, extension, marker;
	uint8_t pt;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	uint8_t cc;
	uint32_t csrc[RTP_MAX_CSRC];
	uint16_t ext_profile;		/* with extension */
	const uint8_t *ext_data;	/* after the 4-byte extension header */
	size_t ext_len;			/* bytes, a multiple of 4 */
	bool has_onvif;			/* ext_profile 0xABAC, decoded below */
	struct rtp_onvif_ext onvif;
	const uint8_t *payload;		/* rtp_parse(): without the padding */
	size_t payload_len;
	uint8_t pad_len;		/* including the count byte itself */
};

/* Checks V=2 and every length; the extension is skipped, but an ONVIF one
 * (0xABAC, at least 3 words) is decoded into h->onvif. */
int rtp_parse(const uint8_t *pkt, size_t len, struct rtp_hdr *h);

/* Bytes rtp_build() writes for |h|: 12 + 4 * cc + the extension. */
size_t rtp_hdr_size(const struct rtp_hdr *h);
/*
 * Writes the header of |h| (V=2, P=0): CSRCs, then either the ONVIF
 * extension (has_onvif) or the caller's extension (extension, ext_profile,
 * ext_data, ext_len a multiple of 4). payload/padding fields are ignored.
 */
int rtp_build(const struct rtp_hdr *h, uint8_t *out, size_t outlen);

/* --- wrap-around arithmetic -------------------------------------------- */

/* a - b as a signed distance (-32768..32767): > 0 when a comes after b. */
int rtp_seq_diff(uint16_t a, uint16_t b);
/* a - b as a signed distance: > 0 when a is later than b. */
int32_t rtp_ts_diff(uint32_t a, uint32_t b);
bool rtp_seq_before(uint16_t a, uint16_t b);
bool rtp_ts_before(uint32_t a, uint32_t b);

/* Extends 16-bit sequence numbers to 32 bits across wraps (RFC 3550 A.1:
 * the "extended highest sequence number" of receiver reports). */
struct rtp_seq_ext {
	bool started;
	uint16_t max_seq;		/* highest seen */
	uint32_t cycles;		/* wraps counted, shifted left by 16 */
};

void rtp_seq_ext_init(struct rtp_seq_ext *s);
/* Extended number of |seq|. A late packet from before the last wrap gets
 * the previous cycle; only packets ahead move max_seq. */
uint32_t rtp_seq_extend(struct rtp_seq_ext *s, uint16_t seq);
/* The extended highest sequence number seen so far. */
uint32_t rtp_seq_ext_highest(const struct rtp_seq_ext *s);

/* Extends 32-bit timestamps to 64 bits the same way. */
struct rtp_ts_ext {
	bool started;
	uint32_t last;
	int64_t ext_last;
};

void rtp_ts_ext_init(struct rtp_ts_ext *t);
int64_t rtp_ts_extend(struct rtp_ts_ext *t, uint32_t ts);

#endif
