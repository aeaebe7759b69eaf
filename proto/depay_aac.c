/*
 * depay_aac.c - MPEG-4 audio RTP depacketizer, RFC 3640 mode AAC-hbr (and
 * any mode with the same header layout: the size and index lengths come
 * from the configuration, from the SDP's fmtp).
 *
 * A packet holds the 16-bit AU-headers-length (in bits), the AU headers
 * (AU-size, then AU-index for the first and AU-index-delta for the
 * others), padding to a byte, then the AUs. Several AUs share a packet; an
 * AU larger than a packet is fragmented, each fragment carrying the same
 * single AU header with the AU's full size. Interleaving (an index or an
 * index delta other than 0) is PROTO_EUNSUPPORTED. The n-th AU of a packet
 * gets the packet's timestamp plus n frames (aac_frame_ticks).
 */
#include "depay_int.h"

struct au_header {
	uint32_t size;
	uint32_t index;
};

/* MSB-first bits of the AU header section. */
static uint32_t
read_bits(const uint8_t *p, size_t *pos, int n)
{
	uint32_t v = 0;

	for (int i = 0; i < n; i++, (*pos)++)
		v = v << 1 | ((p[*pos >> 3] >> (7 - (*pos & 7))) & 1u);
	return v;
}

/* Parses the AU headers; returns their count or an error. */
static int
read_au_headers(const struct depay *d, const uint8_t *p, size_t nbits, struct au_header *h)
{
	size_t pos = 0;
	int n = 0;

	while (pos < nbits) {
		int ilen = n == 0 ? d->cfg.aac_indexlength : d->cfg.aac_indexdeltalength;
		size_t need = (size_t)(d->cfg.aac_sizelength + ilen);

		if (nbits - pos < need)
			return PROTO_EBADMSG;
		if (n >= DEPAY_MAX_READY)
			return PROTO_ETOOBIG;
		h[n].size = read_bits(p, &pos, d->cfg.aac_sizelength);
		h[n].index = read_bits(p, &pos, ilen);
		if (h[n].index != 0)
			return PROTO_EUNSUPPORTED;	/* interleaving */
		n++;
	}
	return n;
}

/* One fragment of an AU larger than the packet. */
static int
aac_fragment(struct depay *d, uint32_t size, const uint8_t *data, size_t len, bool marker,
    uint32_t ts)
{
	int rc;

	/*
	 * After a loss, or when a new AU starts before the last one completed,
	 * this packet is taken as a first fragment. If it is not, the AU-size
	 * check at its marker fails and it is dropped, so a guess is safe.
	 */
	if (d->state == DEPAY_FRAGMENT && (ts != d->au_ts || size != d->frag_total))
		depay_drop_partial(d);
	if (d->state != DEPAY_FRAGMENT) {
		d->work.len = 0;
		d->frag_total = size;
		d->au_ts = ts;
		d->state = DEPAY_FRAGMENT;
	}
	if (len > d->frag_total - d->work.len)
		return PROTO_EBADMSG;
	if ((rc = depay_append(d, data, len)) < 0)
		return rc;
	if (d->work.len == d->frag_total)
		return depay_emit(d, true, d->au_ts);
	return marker ? PROTO_EBADMSG : 0;	/* the last fragment came up short */
}

/* Whole AUs, one after the other. */
static int
aac_whole(struct depay *d, const struct au_header *h, int n, const uint8_t *data, size_t len,
    uint32_t ts)
{
	size_t off = 0;
	int rc;

	if (d->state == DEPAY_FRAGMENT)
		depay_drop_partial(d);	/* the fragmented AU never ended */
	d->state = DEPAY_IDLE;
	d->work.len = 0;
	for (int i = 0; i < n; i++) {
		if (h[i].size > len - off)
			return PROTO_EBADMSG;
		if ((rc = depay_append(d, data + off, h[i].size)) < 0 ||
		    (rc = depay_ready_add(d, off, h[i].size, true,
		    ts + (uint32_t)i * d->cfg.aac_frame_ticks)) < 0)
			return rc;
		off += h[i].size;
	}
	depay_publish(d);
	return 0;
}

static int
aac_push(struct depay *d, const uint8_t *p, size_t len, bool marker, uint32_t ts)
{
	struct au_header h[DEPAY_MAX_READY];
	size_t nbits, hbytes;
	int n;

	if (len < 2)
		return PROTO_EBADMSG;
	nbits = (size_t)(p[0] << 8 | p[1]);
	hbytes = (nbits + 7) / 8;
	if (nbits == 0 || hbytes > len - 2)
		return PROTO_EBADMSG;
	if ((n = read_au_headers(d, p + 2, nbits, h)) < 0)
		return n;
	p += 2 + hbytes;
	len -= 2 + hbytes;
	if (n == 1 && h[0].size > len)
		return aac_fragment(d, h[0].size, p, len, marker, ts);
	return aac_whole(d, h, n, p, len, ts);
}

const struct depay_ops depay_aac_ops = {
	.name = "MPEG4-GENERIC",
	.push = aac_push,
};
