/*
 * depay_h264.c - H.264 RTP depacketizer (RFC 6184), non-interleaved mode:
 * single NAL unit packets, STAP-A and FU-A. Output is Annex B with 4-byte
 * start codes; an access unit holding an IDR slice is a keyframe; the last
 * SPS and PPS seen are kept in d->sps / d->pps.
 */
#include "depay_int.h"

enum {
	H264_NAL_IDR = 5,
	H264_NAL_SPS = 7,
	H264_NAL_PPS = 8,
	H264_STAP_A = 24,
	H264_STAP_B = 25,
	H264_MTAP16 = 26,
	H264_MTAP24 = 27,
	H264_FU_A = 28,
	H264_FU_B = 29,
};

static void
h264_inspect(struct depay *d, const uint8_t *nal, size_t len)
{
	switch (nal[0] & 0x1f) {
	case H264_NAL_IDR:
		d->au_key = true;
		break;
	case H264_NAL_SPS:
		depay_remember_ps(d, &d->sps, nal, len);
		break;
	case H264_NAL_PPS:
		depay_remember_ps(d, &d->pps, nal, len);
		break;
	default:
		break;
	}
}

/* A NAL unit header byte we accept inside a packet: F=0, type 1..23. */
static bool
nal_ok(uint8_t h)
{
	return (h & 0x80) == 0 && (h & 0x1f) >= 1 && (h & 0x1f) <= 23;
}

static bool
nal_valid(const uint8_t *nal)
{
	return nal_ok(nal[0]);
}

/* STAP-A: (16-bit size, NAL unit)+ after the STAP-A header byte. */
static int
h264_stap_a(struct depay *d, const uint8_t *p, size_t len)
{
	if (len < 4)
		return PROTO_EBADMSG;
	return depay_nal_aggregate(d, p, len, 1, 1, nal_valid, h264_inspect);
}

/* FU-A: indicator (F, NRI, 28), header (S, E, R, type), fragment. */
static int
h264_fu_a(struct depay *d, const uint8_t *p, size_t len)
{
	bool start, end;
	uint8_t hdr;

	if (len < 3)
		return PROTO_EBADMSG;
	start = p[1] & 0x80;
	end = p[1] & 0x40;
	hdr = (uint8_t)((p[0] & 0xe0) | (p[1] & 0x1f));
	if ((start && end) || !nal_ok(hdr))
		return PROTO_EBADMSG;
	return depay_nal_fragment(d, start, end, &hdr, 1, p + 2, len - 2, h264_inspect);
}

static int
h264_push(struct depay *d, const uint8_t *p, size_t len, bool marker, uint32_t ts)
{
	int type, rc;

	if (len < 1 || (p[0] & 0x80))
		return PROTO_EBADMSG;	/* empty, or forbidden_zero_bit set */
	if (depay_nal_begin(d, ts, marker) > 0)
		return 0;
	type = p[0] & 0x1f;
	if (type >= 1 && type <= 23)
		rc = depay_nal_whole(d, NULL, 0, p, len, h264_inspect);
	else if (type == H264_STAP_A)
		rc = h264_stap_a(d, p, len);
	else if (type == H264_FU_A)
		rc = h264_fu_a(d, p, len);
	else if (type == H264_STAP_B || type == H264_MTAP16 || type == H264_MTAP24 ||
	    type == H264_FU_B)
		rc = PROTO_EUNSUPPORTED;	/* interleaved mode */
	else
		rc = PROTO_EBADMSG;	/* 0, 30, 31: not for RTP */
	if (rc < 0)
		return rc;
	return depay_nal_end(d, marker);
}

const struct depay_ops depay_h264_ops = {
	.name = "H264",
	.push = h264_push,
};
