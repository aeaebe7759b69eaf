/*
 * depay_jpeg.c - JPEG RTP depacketizer (RFC 2435): rebuilds a complete
 * baseline JPEG/JFIF file from the RTP/JPEG headers and the scan data.
 *
 * Types 0 (4:2:2, Y 2x1) and 1 (4:2:0, Y 2x2), and 64/65 (the same with
 * restart markers, header of §3.1.7). Quantization tables come in-band
 * (Q 128..255, §3.1.8; a length of 0 reuses the tables last received with
 * the same Q, except for Q 255) or from the Q factor (1..99), scaled as in
 * the RFC's Appendix A. Huffman tables are the standard ones (ITU T.81
 * Annex K.3), the only ones RFC 2435 allows. Fragments are put together by
 * their offset; a frame with a hole is dropped. Sizes above 2040 pixels
 * need the ONVIF JPEG header extension, which lives in the RTP header, not
 * in the payload: PROTO_EUNSUPPORTED here.
 */
#include "depay_int.h"

#include <string.h>

#define JPEG_MAIN_HDR		8
#define JPEG_RESTART_HDR	4
#define JPEG_QT_HDR		4

/* Annex K.1 and K.2, in natural (row-major) order. */
static const uint8_t std_luma_qt[64] = {
	16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
	14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
	18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
	49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
};

static const uint8_t std_chroma_qt[64] = {
	17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
	24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
	99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
};

/* Natural index of the i-th coefficient in zigzag order: DQT order. */
static const uint8_t zigzag[64] = {
	0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
};

/* Annex K.3: code counts per length 1..16, then the symbols. */
static const uint8_t dc_luma_bits[16] = { 0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0 };
static const uint8_t dc_chroma_bits[16] = { 0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0 };
static const uint8_t dc_symbols[12] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };

static const uint8_t ac_luma_bits[16] = { 0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d };
static const uint8_t ac_luma_symbols[162] = {
	0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51,
	0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1,
	0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18,
	0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
	0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57,
	0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75,
	0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92,
	0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
	0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
	0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8,
	0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2,
	0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
};

static const uint8_t ac_chroma_bits[16] = { 0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77 };
static const uint8_t ac_chroma_symbols[162] = {
	0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07,
	0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09,
	0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25,
	0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38,
	0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56,
	0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74,
	0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
	0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
	0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba,
	0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6,
	0xd7, 0xd8, 0xd9, 0xda, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2,
	0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
};

/* A JPEG file is built in a small local buffer, then appended at once. */
struct hdrbuf {
	uint8_t b[1024];
	size_t n;
};

static void
put8(struct hdrbuf *h, unsigned v)
{
	h->b[h->n++] = (uint8_t)v;
}

static void
put16(struct hdrbuf *h, unsigned v)
{
	put8(h, v >> 8);
	put8(h, v & 0xff);
}

static void
put_bytes(struct hdrbuf *h, const uint8_t *p, size_t n)
{
	memcpy(h->b + h->n, p, n);
	h->n += n;
}

/* RFC 2435 Appendix A: the Q factor scales the standard tables (zigzag out). */
static void
make_tables(int q, uint8_t *qt)
{
	int factor = q < 1 ? 1 : q > 99 ? 99 : q;
	int scale = factor < 50 ? 5000 / factor : 200 - factor * 2;

	for (int i = 0; i < 64; i++) {
		int lq = (std_luma_qt[zigzag[i]] * scale + 50) / 100;
		int cq = (std_chroma_qt[zigzag[i]] * scale + 50) / 100;

		qt[i] = (uint8_t)(lq < 1 ? 1 : lq > 255 ? 255 : lq);
		qt[64 + i] = (uint8_t)(cq < 1 ? 1 : cq > 255 ? 255 : cq);
	}
}

static void
put_dqt(struct hdrbuf *h, const struct depay_jpeg *j)
{
	size_t tlen = j->qt_precision & 1 ? 128 : 64;
	size_t clen = j->qt_precision & 2 ? 128 : 64;

	put16(h, 0xffdb);
	put16(h, 2 + 1 + tlen + 1 + clen);
	put8(h, (j->qt_precision & 1) << 4 | 0);
	put_bytes(h, j->qt, tlen);
	put8(h, (j->qt_precision & 2) << 3 | 1);
	put_bytes(h, j->qt + tlen, clen);
}

static void
put_dht(struct hdrbuf *h, unsigned class_id, const uint8_t *bits, const uint8_t *syms, size_t nsyms)
{
	put16(h, 0xffc4);
	put16(h, 2 + 1 + 16 + nsyms);
	put8(h, class_id);
	put_bytes(h, bits, 16);
	put_bytes(h, syms, nsyms);
}

static void
put_sof_sos(struct hdrbuf *h, const struct depay_jpeg *j)
{
	static const uint8_t sos[12] = { 0xff, 0xda, 0, 12, 3, 1, 0x00, 2, 0x11, 3, 0x11, 0 };

	put16(h, 0xffc0);
	put16(h, 17);
	put8(h, 8);
	put16(h, j->height * 8u);
	put16(h, j->width * 8u);
	put8(h, 3);
	put8(h, 1);			/* Y: 2x1 for type 0, 2x2 for type 1, table 0 */
	put8(h, (j->type & 1) ? 0x22 : 0x21);
	put8(h, 0);
	put8(h, 2);			/* Cb and Cr: 1x1, table 1 */
	put8(h, 0x11);
	put8(h, 1);
	put8(h, 3);
	put8(h, 0x11);
	put8(h, 1);
	put_dht(h, 0x00, dc_luma_bits, dc_symbols, sizeof(dc_symbols));
	put_dht(h, 0x10, ac_luma_bits, ac_luma_symbols, sizeof(ac_luma_symbols));
	put_dht(h, 0x01, dc_chroma_bits, dc_symbols, sizeof(dc_symbols));
	put_dht(h, 0x11, ac_chroma_bits, ac_chroma_symbols, sizeof(ac_chroma_symbols));
	put_bytes(h, sos, sizeof(sos));
	put8(h, 63);
	put8(h, 0);
}

/* SOI, JFIF APP0, DQT, [DRI], SOF0, DHT x4, SOS: RFC 2435 Appendix B in our words. */
static int
write_headers(struct depay *d)
{
	static const uint8_t jfif[18] = { 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1,
		0, 1, 0, 0 };
	const struct depay_jpeg *j = &d->jpeg;
	struct hdrbuf h;

	h.n = 0;
	put16(&h, 0xffd8);
	put_bytes(&h, jfif, sizeof(jfif));
	put_dqt(&h, j);
	if (j->restart_interval > 0) {
		put16(&h, 0xffdd);
		put16(&h, 4);
		put16(&h, j->restart_interval);
	}
	put_sof_sos(&h, j);
	return depay_append(d, h.b, h.n);
}

/* In-band tables of the first fragment (§3.1.8); *off moves past them. */
static int
read_qtables(struct depay *d, const uint8_t *p, size_t len, size_t *off, uint8_t q)
{
	struct depay_jpeg *j = &d->jpeg;
	size_t qlen, need;
	uint8_t prec;

	if (len - *off < JPEG_QT_HDR)
		return PROTO_EBADMSG;
	prec = p[*off + 1];
	qlen = (size_t)(p[*off + 2] << 8 | p[*off + 3]);
	*off += JPEG_QT_HDR;
	if (qlen == 0) {
		/* Reuse the tables last sent with this Q; 255 means dynamic tables. */
		if (q == 255 || j->cached_q != q)
			return PROTO_EBADMSG;
	} else {
		need = (prec & 1 ? 128 : 64) + (prec & 2 ? 128 : 64);
		if ((prec & ~3) != 0)
			return PROTO_EUNSUPPORTED;	/* more than two tables */
		if (qlen != need || qlen > len - *off)
			return PROTO_EBADMSG;
		memcpy(j->cached_qt, p + *off, qlen);
		j->cached_precision = prec;
		j->cached_q = q;
		*off += qlen;
	}
	memcpy(j->qt, j->cached_qt, sizeof(j->qt));
	j->qt_precision = j->cached_precision;
	return 0;
}

/* The headers of one payload: main header, restart header, table header. */
struct jpeg_pkt {
	uint32_t off;			/* fragment offset */
	uint8_t type, q, width, height;
	uint16_t restart_interval;
	size_t data;			/* where the scan data starts in the payload */
};

static int
parse_headers(const uint8_t *p, size_t len, struct jpeg_pkt *k)
{
	if (len < JPEG_MAIN_HDR)
		return PROTO_EBADMSG;
	k->off = (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	k->type = p[4];
	k->q = p[5];
	k->width = p[6];
	k->height = p[7];
	k->restart_interval = 0;
	k->data = JPEG_MAIN_HDR;
	if (k->type >= 64 && k->type <= 127) {
		if (len < JPEG_MAIN_HDR + JPEG_RESTART_HDR)
			return PROTO_EBADMSG;
		k->restart_interval = (uint16_t)(p[8] << 8 | p[9]);
		k->data += JPEG_RESTART_HDR;
	}
	if ((k->type & 0x3f) > 1 || k->type >= 128)
		return PROTO_EUNSUPPORTED;	/* only 0/1 (and 64/65) are defined */
	if (k->q == 0 || (k->q >= 100 && k->q < 128))
		return PROTO_EBADMSG;	/* reserved Q values */
	if (k->width == 0 || k->height == 0)
		return PROTO_EUNSUPPORTED;	/* > 2040 px: ONVIF header extension */
	return 0;
}

static int
start_frame(struct depay *d, const uint8_t *p, size_t len, struct jpeg_pkt *k, uint32_t ts)
{
	struct depay_jpeg *j = &d->jpeg;
	int rc;

	if (d->state == DEPAY_FRAGMENT)
		depay_drop_partial(d);	/* the previous frame never ended */
	if (k->q >= 128) {
		if ((rc = read_qtables(d, p, len, &k->data, k->q)) < 0)
			return rc;
	} else {
		make_tables(k->q, j->qt);
		j->qt_precision = 0;
	}
	j->type = k->type;
	j->q = k->q;
	j->width = k->width;
	j->height = k->height;
	j->restart_interval = k->restart_interval;
	j->next_off = 0;
	d->work.len = 0;
	d->au_ts = ts;
	d->state = DEPAY_FRAGMENT;
	return write_headers(d);
}

/* Every fragment of a frame repeats the frame's type, Q and size. */
static bool
same_frame(const struct depay *d, const struct jpeg_pkt *k, uint32_t ts)
{
	const struct depay_jpeg *j = &d->jpeg;

	return d->state == DEPAY_FRAGMENT && ts == d->au_ts && k->off == j->next_off &&
	    k->type == j->type && k->q == j->q && k->width == j->width && k->height == j->height;
}

static int
finish_frame(struct depay *d)
{
	static const uint8_t eoi[2] = { 0xff, 0xd9 };
	struct depay_jpeg *j = &d->jpeg;
	int rc;

	if (d->work.len < 2 || d->work.p[d->work.len - 2] != 0xff ||
	    d->work.p[d->work.len - 1] != 0xd9)
		if ((rc = depay_append(d, eoi, sizeof(eoi))) < 0)
			return rc;
	j->width_px = (uint16_t)(j->width * 8u);
	j->height_px = (uint16_t)(j->height * 8u);
	return depay_emit(d, true, d->au_ts);
}

static int
jpeg_push(struct depay *d, const uint8_t *p, size_t len, bool marker, uint32_t ts)
{
	struct jpeg_pkt k;
	int rc;

	if ((rc = parse_headers(p, len, &k)) < 0)
		return rc;
	if (k.off == 0) {
		if ((rc = start_frame(d, p, len, &k, ts)) < 0)
			return rc;
	} else if (!same_frame(d, &k, ts)) {
		/* A hole, or the tail of a frame whose start was lost. */
		if (d->state == DEPAY_SKIPPING) {
			if (marker)
				d->state = DEPAY_IDLE;
			return 0;
		}
		return PROTO_EBADMSG;
	}
	if ((rc = depay_append(d, p + k.data, len - k.data)) < 0)
		return rc;
	if (len - k.data > UINT32_MAX - d->jpeg.next_off)
		return PROTO_ETOOBIG;
	d->jpeg.next_off += (uint32_t)(len - k.data);
	return marker ? finish_frame(d) : 0;
}

const struct depay_ops depay_jpeg_ops = {
	.name = "JPEG",
	.push = jpeg_push,
};
