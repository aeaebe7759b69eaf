/*
 * rtcp.h - RTCP (RFC 3550 §6): walking a compound packet, Sender and
 * Receiver Reports with their report blocks, SDES CNAME, BYE, and the
 * NTP <-> Unix time helpers. Other packet types (APP, feedback) are
 * walked over and left to the caller.
 *
 * Return convention (proto/proto.h):
 *   rtcp_iter_next()   bytes of the packet returned in *pkt (> 0), 0 at
 *                      the end of the compound, PROTO_EVERSION or
 *                      PROTO_EBADMSG (then the rest is not trusted)
 *   *_parse()          0, PROTO_EBADMSG (wrong type or too short)
 *   *_build()          bytes written, PROTO_ETOOBIG or PROTO_EBADMSG
 *
 * Ownership: struct rtcp_pkt and the BYE reason point into the caller's
 * buffer. Nothing here allocates.
 */
#ifndef PROTO_RTCP_H
#define PROTO_RTCP_H

#include "proto.h"

enum rtcp_type {
	RTCP_SR = 200,
	RTCP_RR = 201,
	RTCP_SDES = 202,
	RTCP_BYE = 203,
	RTCP_APP = 204,
	RTCP_RTPFB = 205,
	RTCP_PSFB = 206,
};

#define RTCP_MAX_BLOCKS		31	/* a 5-bit count */
#define RTCP_MAX_CNAME		255
#define RTCP_NTP_UNIX_OFFSET	2208988800u	/* seconds from 1900 to 1970 */

/* One packet of a compound. */
struct rtcp_pkt {
	uint8_t type;			/* enum rtcp_type or other */
	uint8_t count;			/* RC / SC / subtype: the 5 low bits */
	bool padding;
	const uint8_t *data;		/* the whole packet, header included */
	size_t len;			/* its length without the padding */
};

enum rtcp_iter_state {
	RTCP_ITER_NEXT,			/* at the start of a packet */
	RTCP_ITER_DONE,			/* the compound ended exactly */
	RTCP_ITER_FAILED,		/* a bad length or version was seen */
};

struct rtcp_iter {
	const uint8_t *buf;
	size_t len, off;
	enum rtcp_iter_state state;
};

/* The compound is checked as it is walked: V=2 in every header, lengths
 * that add up exactly, padding only in the last packet. */
void rtcp_iter_init(struct rtcp_iter *it, const uint8_t *buf, size_t len);
int rtcp_iter_next(struct rtcp_iter *it, struct rtcp_pkt *pkt);

struct rtcp_report_block {
	uint32_t ssrc;			/* the source reported on */
	uint8_t fraction_lost;		/* fixed point, /256 */
	int32_t cumulative_lost;	/* 24-bit signed */
	uint32_t ext_highest_seq;
	uint32_t jitter;		/* RTP timestamp units */
	uint32_t lsr;			/* middle 32 bits of the last SR's NTP time */
	uint32_t dlsr;			/* delay since that SR, 1/65536 s */
};

struct rtcp_sr {
	uint32_t ssrc;
	uint64_t ntp;
	uint32_t rtp_ts;
	uint32_t packet_count;
	uint32_t octet_count;
	int nblocks;
	struct rtcp_report_block blocks[RTCP_MAX_BLOCKS];
};

struct rtcp_rr {
	uint32_t ssrc;
	int nblocks;
	struct rtcp_report_block blocks[RTCP_MAX_BLOCKS];
};

struct rtcp_bye {
	int nssrc;
	uint32_t ssrc[RTCP_MAX_BLOCKS];
	const uint8_t *reason;		/* not NUL-terminated; NULL when absent */
	size_t reason_len;
};

int rtcp_sr_parse(const struct rtcp_pkt *pkt, struct rtcp_sr *sr);
int rtcp_sr_build(const struct rtcp_sr *sr, uint8_t *out, size_t outlen);
int rtcp_rr_parse(const struct rtcp_pkt *pkt, struct rtcp_rr *rr);
int rtcp_rr_build(const struct rtcp_rr *rr, uint8_t *out, size_t outlen);
/* One chunk: |ssrc| with a CNAME item (1..255 bytes), END, padding. */
int rtcp_sdes_cname_build(uint32_t ssrc, const char *cname, uint8_t *out, size_t outlen);
int rtcp_bye_parse(const struct rtcp_pkt *pkt, struct rtcp_bye *bye);
/* |reason| may be NULL; at most 255 bytes. */
int rtcp_bye_build(const uint32_t *ssrc, int nssrc, const char *reason, uint8_t *out,
    size_t outlen);

/* NTP 64-bit (seconds since 1900 . 2^-32 fractions) from microseconds since 1970. */
uint64_t rtcp_ntp_from_unix_us(int64_t us);
int64_t rtcp_ntp_to_unix_us(uint64_t ntp);
/* The middle 32 bits, as in LSR. */
uint32_t rtcp_ntp_short(uint64_t ntp);
/* A delay in microseconds as DLSR units (1/65536 s), saturated. */
uint32_t rtcp_dlsr_from_us(int64_t us);

#endif
