/*
 * rtp.c - RTP header and wrap-around arithmetic (see rtp.h).
 *
 * Every length read from the packet (CSRC count, extension words, padding
 * count) is checked against what is left before it is used.
 */
#include "rtp.h"

#include <string.h>

static void
parse_onvif(const uint8_t *d, struct rtp_onvif_ext *o)
{
	o->ntp = (uint64_t)proto_rd32(d) << 32 | proto_rd32(d + 4);
	o->clean_point = d[8] & 0x80;
	o->end = d[8] & 0x40;
	o->discontinuity = d[8] & 0x20;
	o->terminal = d[8] & 0x10;
	o->cseq = d[9];
}

/* The extension header at pkt[off]; returns the new offset or an error. */
static int
parse_extension(const uint8_t *pkt, size_t len, size_t off, struct rtp_hdr *h)
{
	size_t words;

	if (len - off < 4)
		return PROTO_EBADMSG;
	h->ext_profile = proto_rd16(pkt + off);
	words = proto_rd16(pkt + off + 2);
	off += 4;
	if (words * 4 > len - off)
		return PROTO_EBADMSG;
	h->ext_data = pkt + off;
	h->ext_len = words * 4;
	if (h->ext_profile == RTP_EXT_ONVIF) {
		if (words < RTP_ONVIF_EXT_WORDS)
			return PROTO_EBADMSG;
		h->has_onvif = true;
		parse_onvif(h->ext_data, &h->onvif);
	}
	return (int)(off + words * 4);
}

int
rtp_parse(const uint8_t *pkt, size_t len, struct rtp_hdr *h)
{
	size_t off = RTP_HDR_LEN, left;
	int rc;

	memset(h, 0, sizeof(*h));
	if (len < RTP_HDR_LEN)
		return PROTO_EBADMSG;
	if (pkt[0] >> 6 != RTP_VERSION)
		return PROTO_EVERSION;
	if (len > INT32_MAX)
		return PROTO_ETOOBIG;
	h->padding = pkt[0] & 0x20;
	h->extension = pkt[0] & 0x10;
	h->cc = pkt[0] & 0x0f;
	h->marker = pkt[1] & 0x80;
	h->pt = pkt[1] & 0x7f;
	h->seq = proto_rd16(pkt + 2);
	h->ts = proto_rd32(pkt + 4);
	h->ssrc = proto_rd32(pkt + 8);
	if (len - off < (size_t)h->cc * 4)
		return PROTO_EBADMSG;
	for (int i = 0; i < h->cc; i++, off += 4)
		h->csrc[i] = proto_rd32(pkt + off);
	if (h->extension) {
		if ((rc = parse_extension(pkt, len, off, h)) < 0)
			return rc;
		off = (size_t)rc;
	}
	left = len - off;
	if (h->padding) {
		h->pad_len = pkt[len - 1];
		if (left == 0 || h->pad_len == 0 || h->pad_len > left)
			return PROTO_EBADMSG;
		left -= h->pad_len;
	}
	h->payload = pkt + off;
	h->payload_len = left;
	return (int)off;
}

size_t
rtp_hdr_size(const struct rtp_hdr *h)
{
	size_t n = RTP_HDR_LEN + 4 * (size_t)(h->cc & 0x0f);

	if (h->has_onvif)
		n += 4 + 4 * RTP_ONVIF_EXT_WORDS;
	else if (h->extension)
		n += 4 + h->ext_len;
	return n;
}

static void
build_onvif(const struct rtp_onvif_ext *o, uint8_t *p)
{
	proto_wr16(p, RTP_EXT_ONVIF);
	proto_wr16(p + 2, RTP_ONVIF_EXT_WORDS);
	proto_wr32(p + 4, (uint32_t)(o->ntp >> 32));
	proto_wr32(p + 8, (uint32_t)o->ntp);
	p[12] = (uint8_t)((o->clean_point ? 0x80 : 0) | (o->end ? 0x40 : 0) |
	    (o->discontinuity ? 0x20 : 0) | (o->terminal ? 0x10 : 0));
	p[13] = o->cseq;
	p[14] = 0;
	p[15] = 0;
}

int
rtp_build(const struct rtp_hdr *h, uint8_t *out, size_t outlen)
{
	size_t n = rtp_hdr_size(h), off = RTP_HDR_LEN;
	bool ext = h->has_onvif || h->extension;

	if (h->cc > RTP_MAX_CSRC || h->pt > 127)
		return PROTO_EBADMSG;
	if (!h->has_onvif && h->extension && (h->ext_len % 4 != 0 || h->ext_len / 4 > 0xffff ||
	    (h->ext_len > 0 && h->ext_data == NULL)))
		return PROTO_EBADMSG;
	if (n > outlen)
		return PROTO_ETOOBIG;
	out[0] = (uint8_t)(RTP_VERSION << 6 | (ext ? 0x10 : 0) | h->cc);
	out[1] = (uint8_t)((h->marker ? 0x80 : 0) | h->pt);
	proto_wr16(out + 2, h->seq);
	proto_wr32(out + 4, h->ts);
	proto_wr32(out + 8, h->ssrc);
	for (int i = 0; i < h->cc; i++, off += 4)
		proto_wr32(out + off, h->csrc[i]);
	if (h->has_onvif) {
		build_onvif(&h->onvif, out + off);
	} else if (h->extension) {
		proto_wr16(out + off, h->ext_profile);
		proto_wr16(out + off + 2, (uint16_t)(h->ext_len / 4));
		if (h->ext_len > 0)
			memcpy(out + off + 4, h->ext_data, h->ext_len);
	}
	return (int)n;
}

int
rtp_seq_diff(uint16_t a, uint16_t b)
{
	return (int16_t)(uint16_t)(a - b);
}

int32_t
rtp_ts_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

bool
rtp_seq_before(uint16_t a, uint16_t b)
{
	return rtp_seq_diff(a, b) < 0;
}

bool
rtp_ts_before(uint32_t a, uint32_t b)
{
	return rtp_ts_diff(a, b) < 0;
}

void
rtp_seq_ext_init(struct rtp_seq_ext *s)
{
	memset(s, 0, sizeof(*s));
}

uint32_t
rtp_seq_extend(struct rtp_seq_ext *s, uint16_t seq)
{
	int d;

	if (!s->started) {
		s->started = true;
		s->max_seq = seq;
		return seq;
	}
	d = rtp_seq_diff(seq, s->max_seq);
	if (d > 0) {
		if (seq < s->max_seq)
			s->cycles += 1u << 16;	/* wrapped forward */
		s->max_seq = seq;
		return s->cycles | seq;
	}
	/* Late or repeated: from the previous cycle if it is numerically above max. */
	if (seq > s->max_seq && s->cycles > 0)
		return (s->cycles - (1u << 16)) | seq;
	return s->cycles | seq;
}

uint32_t
rtp_seq_ext_highest(const struct rtp_seq_ext *s)
{
	return s->cycles | s->max_seq;
}

void
rtp_ts_ext_init(struct rtp_ts_ext *t)
{
	memset(t, 0, sizeof(*t));
}

int64_t
rtp_ts_extend(struct rtp_ts_ext *t, uint32_t ts)
{
	int32_t d;

	if (!t->started) {
		t->started = true;
		t->last = ts;
		t->ext_last = ts;
		return t->ext_last;
	}
	d = rtp_ts_diff(ts, t->last);
	if (d > 0) {	/* only forward steps move the reference */
		t->last = ts;
		t->ext_last += d;
		return t->ext_last;
	}
	return t->ext_last + d;
}
