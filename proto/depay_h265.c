/*
 * depay_h265.c - H.265 RTP depacketizer (RFC 7798) without DONL fields
 * (sprop-max-don-diff absent or 0): single NAL unit packets, aggregation
 * packets (AP) and fragmentation units (FU). Output is Annex B with 4-byte
 * start codes; an access unit holding an IRAP picture (NAL types 16..21)
 * is a keyframe; the last VPS, SPS and PPS are kept in d->vps/sps/pps.
 */
#include "depay_int.h"

enum {
	H265_IRAP_FIRST = 16,
	H265_IRAP_LAST = 21,
	H265_NAL_VPS = 32,
	H265_NAL_SPS = 33,
	H265_NAL_PPS = 34,
	H265_AP = 48,
	H265_FU = 49,
	H265_PACI = 50,
};

static int
nal_type(const uint8_t *h)
{
	return (h[0] >> 1) & 0x3f;
}

static void
h265_inspect(struct depay *d, const uint8_t *nal, size_t len)
{
	int t = nal_type(nal);

	if (t >= H265_IRAP_FIRST && t <= H265_IRAP_LAST)
		d->au_key = true;
	else if (t == H265_NAL_VPS)
		depay_remember_ps(d, &d->vps, nal, len);
	else if (t == H265_NAL_SPS)
		depay_remember_ps(d, &d->sps, nal, len);
	else if (t == H265_NAL_PPS)
		depay_remember_ps(d, &d->pps, nal, len);
}

/* A 2-byte NAL unit header we accept: F=0, type 0..47, TemporalId+1 != 0. */
static bool
hdr_ok(const uint8_t *h)
{
	return (h[0] & 0x80) == 0 && nal_type(h) < H265_AP && (h[1] & 0x07) != 0;
}

/* AP: payload header, then (16-bit size, NAL unit)+. */
static int
h265_ap(struct depay *d, const uint8_t *p, size_t len)
{
	if (len < 5)
		return PROTO_EBADMSG;
	return depay_nal_aggregate(d, p, len, 2, 2, hdr_ok, h265_inspect);
}

/* FU: payload header (type 49), FU header (S, E, type), fragment. */
static int
h265_fu(struct depay *d, const uint8_t *p, size_t len)
{
	uint8_t hdr[2];
	bool start, end;

	if (len < 4)
		return PROTO_EBADMSG;
	start = p[2] & 0x80;
	end = p[2] & 0x40;
	hdr[0] = (uint8_t)((p[0] & 0x81) | (p[2] & 0x3f) << 1);
	hdr[1] = p[1];
	if ((start && end) || !hdr_ok(hdr))
		return PROTO_EBADMSG;
	return depay_nal_fragment(d, start, end, hdr, 2, p + 3, len - 3, h265_inspect);
}

static int
h265_push(struct depay *d, const uint8_t *p, size_t len, bool marker, uint32_t ts)
{
	int type, rc;

	if (len < 2 || (p[0] & 0x80) || (p[1] & 0x07) == 0)
		return PROTO_EBADMSG;	/* 2 bytes: end of sequence/bitstream */
	if (depay_nal_begin(d, ts, marker) > 0)
		return 0;
	type = nal_type(p);
	if (type < H265_AP)
		rc = depay_nal_whole(d, NULL, 0, p, len, h265_inspect);
	else if (type == H265_AP)
		rc = h265_ap(d, p, len);
	else if (type == H265_FU)
		rc = h265_fu(d, p, len);
	else if (type == H265_PACI)
		rc = PROTO_EUNSUPPORTED;
	else
		rc = PROTO_EBADMSG;	/* 51..63: unspecified */
	if (rc < 0)
		return rc;
	return depay_nal_end(d, marker);
}

const struct depay_ops depay_h265_ops = {
	.name = "H265",
	.push = h265_push,
};
