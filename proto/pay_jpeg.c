/*
 * pay_jpeg.c - JPEG RTP packetizer (RFC 2435), the inverse of
 * depay_jpeg.c: a baseline JPEG file in, RTP/JPEG payloads out.
 *
 * pay_begin() reads the file's marker segments: the quantization tables
 * (DQT, 8- or 16-bit), the frame header (SOF0 only: 3 components, Y 2x1
 * gives type 0, Y 2x2 type 1, chroma 1x1), a restart interval (DRI: types
 * 64/65 and the restart header, count 0x3FFF: packets not aligned to
 * restart intervals), and the start of the scan (SOS). Huffman tables
 * are not sent: RFC 2435 allows only the standard ones, which a receiver
 * puts back (the files the recorder keeps come from depay_jpeg, built
 * with them). Every frame carries its tables in-band in its first packet
 * with Q 255 (§3.1.8: tables not to be cached), so any packet loss or
 * table change costs one frame. Sizes are in 8-pixel units up to 2040.
 *
 * Return convention (proto.h): pay_begin() PROTO_EBADMSG for a file that
 * is not a well-formed JPEG, PROTO_EUNSUPPORTED for one RTP/JPEG cannot
 * carry (progressive or arithmetic coding, other sampling, above 2040),
 * PROTO_ETOOBIG when max_payload cannot hold the first packet's headers.
 */
#include "pay.h"

#include <string.h>

#define JPEG_MAIN_HDR		8
#define JPEG_RESTART_HDR	4
#define JPEG_QT_HDR		4
#define JPEG_MAX_SIDE		2040

/* A DQT segment's tables 0 and 1 (others are not used by the frames RTP/JPEG carries). */
static int
read_dqt(const uint8_t *s, size_t len, uint8_t qt[2][128], uint8_t *prec, unsigned *have)
{
	size_t off = 0;

	while (off < len) {
		unsigned pq = s[off] >> 4, tq = s[off] & 0x0f;
		size_t n = pq ? 128 : 64;

		if (pq > 1 || tq > 3 || len - off - 1 < n)
			return PROTO_EBADMSG;
		if (tq < 2) {
			memcpy(qt[tq], s + off + 1, n);
			*prec = (uint8_t)((*prec & ~(1u << tq)) | (pq << tq));
			*have |= 1u << tq;
		}
		off += 1 + n;
	}
	return 0;
}

/* SOF0: the size and the RTP/JPEG type; the tables the components use. */
static int
read_sof(struct pay *p, const uint8_t *s, size_t len, unsigned tq[3])
{
	unsigned h, w;

	if (len < 6 + 3 * 3 || s[0] != 8 || s[5] != 3 || len != 6 + 3u * s[5])
		return len < 6 ? PROTO_EBADMSG : PROTO_EUNSUPPORTED;
	h = (unsigned)(s[1] << 8 | s[2]);
	w = (unsigned)(s[3] << 8 | s[4]);
	if (w == 0 || h == 0)
		return PROTO_EBADMSG;
	if (w > JPEG_MAX_SIDE || h > JPEG_MAX_SIDE)
		return PROTO_EUNSUPPORTED;
	if ((s[7] != 0x21 && s[7] != 0x22) || s[10] != 0x11 || s[13] != 0x11)
		return PROTO_EUNSUPPORTED;
	p->jpeg_type = s[7] == 0x22 ? 1 : 0;
	p->jpeg_w8 = (uint8_t)((w + 7) / 8);
	p->jpeg_h8 = (uint8_t)((h + 7) / 8);
	for (int c = 0; c < 3; c++)
		tq[c] = s[8 + 3 * c];
	return 0;
}

static int
jpeg_begin(struct pay *p)
{
	const uint8_t *b = p->au;
	size_t len = p->au_len, i = 2, hdr;
	uint8_t qt[2][128], prec = 0;
	unsigned have = 0, tq[3] = { 4, 4, 4 };
	int rc;

	p->jpeg_dri = 0;
	if (len < 4 || b[0] != 0xff || b[1] != 0xd8)
		return PROTO_EBADMSG;
	for (;;) {
		unsigned m;
		size_t l;

		if (len - i < 4 || b[i] != 0xff)
			return PROTO_EBADMSG;
		m = b[i + 1];
		l = (size_t)(b[i + 2] << 8 | b[i + 3]);
		if (l < 2 || l > len - i - 2)
			return PROTO_EBADMSG;
		if (m == 0xdb)
			rc = read_dqt(b + i + 4, l - 2, qt, &prec, &have);
		else if (m == 0xc0)
			rc = read_sof(p, b + i + 4, l - 2, tq);
		else if (m == 0xdd)
			rc = l == 4 ? (p->jpeg_dri = (uint16_t)(b[i + 4] << 8 | b[i + 5]), 0) : PROTO_EBADMSG;
		else if ((m >= 0xc1 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) || m == 0xd8 || m == 0xd9)
			rc = PROTO_EUNSUPPORTED;	/* not baseline, or markers out of place */
		else
			rc = 0;			/* APPn, COM, DHT (the standard ones): not sent */
		if (rc < 0)
			return rc;
		i += 2 + l;
		if (m == 0xda)
			break;
	}
	if (tq[0] > 1 || tq[1] > 1 || tq[2] != tq[1] || !(have & (1u << tq[0])) || !(have & (1u << tq[1])))
		return tq[0] == 4 ? PROTO_EBADMSG : PROTO_EUNSUPPORTED;	/* no SOF0, or tables missing */
	/* Table 0 for luma, table 1 for chroma, as the receiver's DQT will say. */
	p->jpeg_qt_len = 0;
	for (int t = 0; t < 2; t++) {
		unsigned src = t == 0 ? tq[0] : tq[1];
		size_t n = (prec >> src) & 1 ? 128 : 64;

		memcpy(p->jpeg_qt + p->jpeg_qt_len, qt[src], n);
		p->jpeg_qt_len += n;
		p->jpeg_qprec = (uint8_t)((p->jpeg_qprec & ~(1u << t)) | (((prec >> src) & 1u) << t));
	}
	hdr = JPEG_MAIN_HDR + (p->jpeg_dri ? JPEG_RESTART_HDR : 0) + JPEG_QT_HDR + p->jpeg_qt_len;
	if (p->cfg.max_payload <= hdr)
		return PROTO_ETOOBIG;
	p->cur = b + i;
	p->cur_len = len - i;
	while (p->cur_len >= 2 && p->cur[p->cur_len - 2] == 0xff && p->cur[p->cur_len - 1] == 0xd9)
		p->cur_len -= 2;	/* EOI: the receiver adds it */
	if (p->cur_len == 0)
		return PROTO_EBADMSG;
	p->cur_off = 0;
	p->state = PAY_UNIT;
	return 0;
}

static int
jpeg_next(struct pay *p, uint8_t *out, bool *last)
{
	size_t h = 0, n;

	out[h++] = 0;				/* type-specific: progressive frame */
	out[h++] = (uint8_t)(p->cur_off >> 16);
	out[h++] = (uint8_t)(p->cur_off >> 8);
	out[h++] = (uint8_t)p->cur_off;
	out[h++] = (uint8_t)(p->jpeg_type + (p->jpeg_dri ? 64 : 0));
	out[h++] = 255;				/* tables in-band, not to be cached */
	out[h++] = p->jpeg_w8;
	out[h++] = p->jpeg_h8;
	if (p->jpeg_dri) {
		out[h++] = (uint8_t)(p->jpeg_dri >> 8);
		out[h++] = (uint8_t)p->jpeg_dri;
		out[h++] = 0xff;		/* F = L = 1, count 0x3FFF */
		out[h++] = 0xff;
	}
	if (p->cur_off == 0) {
		out[h++] = 0;
		out[h++] = p->jpeg_qprec;
		out[h++] = (uint8_t)(p->jpeg_qt_len >> 8);
		out[h++] = (uint8_t)p->jpeg_qt_len;
		memcpy(out + h, p->jpeg_qt, p->jpeg_qt_len);
		h += p->jpeg_qt_len;
	}
	n = GW_PROTO_MIN(p->cfg.max_payload - h, p->cur_len - p->cur_off);
	memcpy(out + h, p->cur + p->cur_off, n);
	p->cur_off += n;
	*last = p->cur_off == p->cur_len;
	p->state = *last ? PAY_DONE : PAY_FRAGMENT;
	return (int)(h + n);
}

const struct pay_ops pay_jpeg_ops = {
	.name = "JPEG",
	.begin = jpeg_begin,
	.next = jpeg_next,
};
