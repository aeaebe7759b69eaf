/*
 * rtcp.c - RTCP compound walking, reports, SDES, BYE (see rtcp.h).
 *
 * The validity checks of RFC 3550 A.2 are applied while walking, so a
 * caller never sees a packet whose length runs past the datagram.
 */
#include "rtcp.h"

#include <string.h>

#define RTCP_BLOCK_LEN	24
#define RTCP_SR_INFO	24	/* SSRC + sender info */

/* V=2, P=0, count, type, length in 32-bit words minus one. */
static void
wr_header(uint8_t *p, int count, int type, size_t total)
{
	p[0] = (uint8_t)(2 << 6 | (count & 0x1f));
	p[1] = (uint8_t)type;
	p[2] = (uint8_t)((total / 4 - 1) >> 8);
	p[3] = (uint8_t)(total / 4 - 1);
}

void
rtcp_iter_init(struct rtcp_iter *it, const uint8_t *buf, size_t len)
{
	it->buf = buf;
	it->len = len;
	it->off = 0;
	it->state = len == 0 ? RTCP_ITER_DONE : RTCP_ITER_NEXT;
}

static int
iter_fail(struct rtcp_iter *it, int rc)
{
	it->state = RTCP_ITER_FAILED;
	return rc;
}

int
rtcp_iter_next(struct rtcp_iter *it, struct rtcp_pkt *pkt)
{
	const uint8_t *p = it->buf + it->off;
	size_t left = it->len - it->off, total;

	if (it->state == RTCP_ITER_DONE)
		return 0;
	if (it->state == RTCP_ITER_FAILED)
		return PROTO_EBADMSG;
	if (left < 4)
		return iter_fail(it, PROTO_EBADMSG);
	if (p[0] >> 6 != 2)
		return iter_fail(it, PROTO_EVERSION);
	total = ((size_t)(p[2] << 8 | p[3]) + 1) * 4;
	if (total > left)
		return iter_fail(it, PROTO_EBADMSG);
	pkt->type = p[1];
	pkt->count = p[0] & 0x1f;
	pkt->padding = p[0] & 0x20;
	pkt->data = p;
	pkt->len = total;
	if (pkt->padding) {
		if (total != left || p[total - 1] == 0 || p[total - 1] > total - 4)
			return iter_fail(it, PROTO_EBADMSG);	/* only the last may pad */
		pkt->len = total - p[total - 1];
	}
	it->off += total;
	if (it->off == it->len)
		it->state = RTCP_ITER_DONE;
	return (int)total;
}

static void
parse_block(const uint8_t *p, struct rtcp_report_block *b)
{
	uint32_t lost = (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];

	b->ssrc = proto_rd32(p);
	b->fraction_lost = p[4];
	/* 24-bit two's complement, sign-extended by hand. */
	b->cumulative_lost = (lost & 0x800000) ? (int32_t)lost - 0x1000000 : (int32_t)lost;
	b->ext_highest_seq = proto_rd32(p + 8);
	b->jitter = proto_rd32(p + 12);
	b->lsr = proto_rd32(p + 16);
	b->dlsr = proto_rd32(p + 20);
}

static void
build_block(const struct rtcp_report_block *b, uint8_t *p)
{
	int32_t lost = b->cumulative_lost;

	if (lost > 0x7fffff)
		lost = 0x7fffff;	/* saturate, as RFC 3550 A.3 does */
	if (lost < -0x800000)
		lost = -0x800000;
	proto_wr32(p, b->ssrc);
	p[4] = b->fraction_lost;
	p[5] = (uint8_t)((uint32_t)lost >> 16);
	p[6] = (uint8_t)((uint32_t)lost >> 8);
	p[7] = (uint8_t)lost;
	proto_wr32(p + 8, b->ext_highest_seq);
	proto_wr32(p + 12, b->jitter);
	proto_wr32(p + 16, b->lsr);
	proto_wr32(p + 20, b->dlsr);
}

static int
parse_blocks(const uint8_t *p, size_t left, int count, struct rtcp_report_block *blocks)
{
	if (left < (size_t)count * RTCP_BLOCK_LEN)
		return PROTO_EBADMSG;
	for (int i = 0; i < count; i++)
		parse_block(p + i * RTCP_BLOCK_LEN, &blocks[i]);
	return 0;
}

int
rtcp_sr_parse(const struct rtcp_pkt *pkt, struct rtcp_sr *sr)
{
	const uint8_t *p = pkt->data + 4;

	memset(sr, 0, sizeof(*sr));
	if (pkt->type != RTCP_SR || pkt->len < 4 + RTCP_SR_INFO)
		return PROTO_EBADMSG;
	sr->ssrc = proto_rd32(p);
	sr->ntp = (uint64_t)proto_rd32(p + 4) << 32 | proto_rd32(p + 8);
	sr->rtp_ts = proto_rd32(p + 12);
	sr->packet_count = proto_rd32(p + 16);
	sr->octet_count = proto_rd32(p + 20);
	sr->nblocks = pkt->count;
	return parse_blocks(p + RTCP_SR_INFO, pkt->len - 4 - RTCP_SR_INFO, pkt->count, sr->blocks);
}

int
rtcp_rr_parse(const struct rtcp_pkt *pkt, struct rtcp_rr *rr)
{
	memset(rr, 0, sizeof(*rr));
	if (pkt->type != RTCP_RR || pkt->len < 8)
		return PROTO_EBADMSG;
	rr->ssrc = proto_rd32(pkt->data + 4);
	rr->nblocks = pkt->count;
	return parse_blocks(pkt->data + 8, pkt->len - 8, pkt->count, rr->blocks);
}

int
rtcp_sr_build(const struct rtcp_sr *sr, uint8_t *out, size_t outlen)
{
	size_t total;

	if (sr->nblocks < 0 || sr->nblocks > RTCP_MAX_BLOCKS)
		return PROTO_EBADMSG;
	total = 4 + RTCP_SR_INFO + (size_t)sr->nblocks * RTCP_BLOCK_LEN;
	if (total > outlen)
		return PROTO_ETOOBIG;
	wr_header(out, sr->nblocks, RTCP_SR, total);
	proto_wr32(out + 4, sr->ssrc);
	proto_wr32(out + 8, (uint32_t)(sr->ntp >> 32));
	proto_wr32(out + 12, (uint32_t)sr->ntp);
	proto_wr32(out + 16, sr->rtp_ts);
	proto_wr32(out + 20, sr->packet_count);
	proto_wr32(out + 24, sr->octet_count);
	for (int i = 0; i < sr->nblocks; i++)
		build_block(&sr->blocks[i], out + 28 + i * RTCP_BLOCK_LEN);
	return (int)total;
}

int
rtcp_rr_build(const struct rtcp_rr *rr, uint8_t *out, size_t outlen)
{
	size_t total;

	if (rr->nblocks < 0 || rr->nblocks > RTCP_MAX_BLOCKS)
		return PROTO_EBADMSG;
	total = 8 + (size_t)rr->nblocks * RTCP_BLOCK_LEN;
	if (total > outlen)
		return PROTO_ETOOBIG;
	wr_header(out, rr->nblocks, RTCP_RR, total);
	proto_wr32(out + 4, rr->ssrc);
	for (int i = 0; i < rr->nblocks; i++)
		build_block(&rr->blocks[i], out + 8 + i * RTCP_BLOCK_LEN);
	return (int)total;
}

int
rtcp_sdes_cname_build(uint32_t ssrc, const char *cname, uint8_t *out, size_t outlen)
{
	size_t n = strlen(cname), total;

	if (n == 0 || n > RTCP_MAX_CNAME)
		return PROTO_EBADMSG;
	/* header, SSRC, CNAME type/length/text, then at least one END octet, to 4 bytes */
	total = (4 + 4 + 2 + n + 1 + 3) / 4 * 4;
	if (total > outlen)
		return PROTO_ETOOBIG;
	memset(out, 0, total);
	wr_header(out, 1, RTCP_SDES, total);
	proto_wr32(out + 4, ssrc);
	out[8] = 1;	/* CNAME */
	out[9] = (uint8_t)n;
	memcpy(out + 10, cname, n);
	return (int)total;
}

int
rtcp_bye_parse(const struct rtcp_pkt *pkt, struct rtcp_bye *bye)
{
	size_t off = 4 + (size_t)pkt->count * 4;

	memset(bye, 0, sizeof(*bye));
	if (pkt->type != RTCP_BYE || pkt->len < off)
		return PROTO_EBADMSG;
	bye->nssrc = pkt->count;
	for (int i = 0; i < pkt->count; i++)
		bye->ssrc[i] = proto_rd32(pkt->data + 4 + i * 4);
	if (pkt->len > off) {
		size_t rlen = pkt->data[off];

		if (rlen > pkt->len - off - 1)
			return PROTO_EBADMSG;
		bye->reason = pkt->data + off + 1;
		bye->reason_len = rlen;
	}
	return 0;
}

int
rtcp_bye_build(const uint32_t *ssrc, int nssrc, const char *reason, uint8_t *out, size_t outlen)
{
	size_t rlen = reason ? strlen(reason) : 0, total, off;

	if (nssrc < 0 || nssrc > RTCP_MAX_BLOCKS || rlen > 255)
		return PROTO_EBADMSG;
	off = 4 + (size_t)nssrc * 4;
	total = reason ? (off + 1 + rlen + 3) / 4 * 4 : off;
	if (total > outlen)
		return PROTO_ETOOBIG;
	memset(out, 0, total);
	wr_header(out, nssrc, RTCP_BYE, total);
	for (int i = 0; i < nssrc; i++)
		proto_wr32(out + 4 + i * 4, ssrc[i]);
	if (reason) {
		out[off] = (uint8_t)rlen;
		memcpy(out + off + 1, reason, rlen);
	}
	return (int)total;
}

uint64_t
rtcp_ntp_from_unix_us(int64_t us)
{
	int64_t sec = us / 1000000, frac_us = us % 1000000;

	if (frac_us < 0) {
		frac_us += 1000000;
		sec--;
	}
	/* Round the fraction to the nearest 2^-32 s. */
	return (uint64_t)(sec + RTCP_NTP_UNIX_OFFSET) << 32 |
	    (((uint64_t)frac_us << 32) + 500000) / 1000000;
}

int64_t
rtcp_ntp_to_unix_us(uint64_t ntp)
{
	int64_t sec = (int64_t)(ntp >> 32) - RTCP_NTP_UNIX_OFFSET;
	uint64_t frac = ntp & 0xffffffffu;

	return sec * 1000000 + (int64_t)((frac * 1000000 + (1ull << 31)) >> 32);
}

uint32_t
rtcp_ntp_short(uint64_t ntp)
{
	return (uint32_t)(ntp >> 16);
}

uint32_t
rtcp_dlsr_from_us(int64_t us)
{
	int64_t v;

	if (us <= 0)
		return 0;
	if (us >= (int64_t)UINT32_MAX / 65536 * 1000000)
		return UINT32_MAX;
	v = us * 65536 / 1000000;
	return (uint32_t)v;
}
