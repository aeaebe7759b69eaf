/*
 * pay_nal.c - H.264 (RFC 6184, packetization-mode 1) and H.265 (RFC 7798)
 * packetizers: Annex B access units in, single NAL unit packets or
 * fragmentation units out. Both codecs share the walk; a small descriptor
 * holds what differs (header size, NAL types, the FU headers).
 */
#include "pay.h"

#include <string.h>

struct nal_codec {
	size_t hdr_len;			/* NAL unit header bytes */
	int aud_type;			/* access unit delimiter */
	int ps_types[3];		/* VPS, SPS, PPS; -1: none */
	int (*type)(const uint8_t *nal);
	/* Can it go as a single NAL unit packet without meaning something else? */
	bool (*valid)(const uint8_t *nal);
	bool (*is_key)(int type);
	/* Writes the FU headers (hdr_len + 1 bytes) for |nal| into |out|. */
	void (*fu)(const uint8_t *nal, bool start, bool end, uint8_t *out);
};

/* --- Annex B ----------------------------------------------------------- */

/* Index of the next 00 00 01 at or after |from|, or |len|. */
static size_t
find_start_code(const uint8_t *b, size_t len, size_t from)
{
	for (size_t i = from; i + 2 < len; i++) {
		if (b[i + 2] > 1) {
			i += 2;	/* no start code can begin at i, i + 1 or i + 2 */
			continue;
		}
		if (b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 1)
			return i;
	}
	return len;
}

/* The next non-empty NAL unit from *pos, without trailing zero bytes. */
static bool
next_nal(const uint8_t *b, size_t len, size_t *pos, const uint8_t **nal, size_t *n)
{
	size_t sc = find_start_code(b, len, *pos);

	while (sc < len) {
		size_t start = sc + 3, end = find_start_code(b, len, start), e = end;

		while (e > start && b[e - 1] == 0)
			e--;	/* trailing_zero_8bits, or the first byte of a 4-byte start code */
		*pos = end;
		if (e > start) {
			*nal = b + start;
			*n = e - start;
			return true;
		}
		sc = end;
	}
	*pos = len;
	return false;
}

/* --- the walk ------------------------------------------------------------ */

static bool
more_after(const struct pay *p)
{
	return p->inserted < p->ninsert || p->la != NULL;
}

/* Loads the next unit to send: an inserted parameter set, or the AU's next NAL. */
static void
advance(struct pay *p, const struct nal_codec *c)
{
	p->cur_off = 0;
	if (p->inserted < p->ninsert && (p->la == NULL || c->type(p->la) != c->aud_type)) {
		const struct pay_ps *ps = p->insert[p->inserted++];

		p->cur = ps->data;
		p->cur_len = ps->len;
		p->state = PAY_UNIT;
		return;
	}
	if (p->la == NULL) {
		p->cur = NULL;
		p->state = PAY_DONE;
		return;
	}
	p->cur = p->la;
	p->cur_len = p->la_len;
	if (!next_nal(p->au, p->au_len, &p->pos, &p->la, &p->la_len))
		p->la = NULL;
	p->state = PAY_UNIT;
}

/* Learns the parameter sets of the AU and decides what to insert. */
static int
scan_au(struct pay *p, const struct nal_codec *c)
{
	struct pay_ps *slot[3] = { &p->vps, &p->sps, &p->pps };
	bool has[3] = { false, false, false }, key = false;
	size_t pos = 0, n, first = find_start_code(p->au, p->au_len, 0);
	const uint8_t *nal;
	int count = 0;

	for (size_t i = 0; i < first; i++)
		if (p->au[i] != 0)
			return PROTO_EBADMSG;	/* not Annex B */
	while (next_nal(p->au, p->au_len, &pos, &nal, &n)) {
		int t;

		if (n < c->hdr_len || (nal[0] & 0x80) || !c->valid(nal))
			return PROTO_EBADMSG;
		t = c->type(nal);
		key = key || c->is_key(t);
		for (int k = 0; k < 3; k++)
			if (t == c->ps_types[k]) {
				has[k] = true;
				if (n <= PAY_PS_MAX) {
					memcpy(slot[k]->data, nal, n);
					slot[k]->len = n;
				}
			}
		count++;
	}
	if (count == 0)
		return PROTO_EBADMSG;
	p->keyframe = key;
	for (int k = 0; p->cfg.insert_ps && key && k < 3; k++)
		if (c->ps_types[k] >= 0 && !has[k] && slot[k]->len > 0)
			p->insert[p->ninsert++] = slot[k];
	return 0;
}

static int
nal_begin(struct pay *p, const struct nal_codec *c)
{
	int rc;

	if ((rc = scan_au(p, c)) < 0)
		return rc;
	p->pos = 0;
	next_nal(p->au, p->au_len, &p->pos, &p->la, &p->la_len);
	advance(p, c);
	return 0;
}

static int
nal_next(struct pay *p, uint8_t *out, bool *last, const struct nal_codec *c)
{
	size_t max = p->cfg.max_payload, chunk, hdr = c->hdr_len + 1;
	bool start, end;

	if (p->state == PAY_UNIT && p->cur_len <= max) {
		size_t n = p->cur_len;

		memcpy(out, p->cur, n);	/* a single NAL unit packet */
		*last = !more_after(p);
		advance(p, c);
		return (int)n;
	}
	start = p->state == PAY_UNIT;
	if (start)
		p->cur_off = c->hdr_len;	/* the FU headers carry the NAL header */
	chunk = GW_PROTO_MIN(max - hdr, p->cur_len - p->cur_off);
	end = p->cur_off + chunk == p->cur_len;
	c->fu(p->cur, start, end, out);
	memcpy(out + hdr, p->cur + p->cur_off, chunk);
	p->cur_off += chunk;
	p->state = PAY_FRAGMENT;
	if (end) {
		*last = !more_after(p);
		advance(p, c);
	}
	return (int)(hdr + chunk);
}

/* --- H.264 ----------------------------------------------------------- */

static int
h264_type(const uint8_t *nal)
{
	return nal[0] & 0x1f;
}

/* 0 is undefined and 24..31 are the RTP payload structures (STAP, FU...). */
static bool
h264_valid(const uint8_t *nal)
{
	return h264_type(nal) >= 1 && h264_type(nal) <= 23;
}

static bool
h264_is_key(int t)
{
	return t == 5;	/* IDR slice */
}

/* FU indicator (F, NRI, 28), FU header (S, E, R=0, type). */
static void
h264_fu(const uint8_t *nal, bool start, bool end, uint8_t *out)
{
	out[0] = (uint8_t)((nal[0] & 0xe0) | 28);
	out[1] = (uint8_t)((start ? 0x80 : 0) | (end ? 0x40 : 0) | (nal[0] & 0x1f));
}

static const struct nal_codec h264_codec = {
	.hdr_len = 1,
	.aud_type = 9,
	.ps_types = { -1, 7, 8 },
	.type = h264_type,
	.valid = h264_valid,
	.is_key = h264_is_key,
	.fu = h264_fu,
};

static int
h264_begin(struct pay *p)
{
	return nal_begin(p, &h264_codec);
}

static int
h264_next(struct pay *p, uint8_t *out, bool *last)
{
	return nal_next(p, out, last, &h264_codec);
}

const struct pay_ops pay_h264_ops = {
	.name = "H264",
	.begin = h264_begin,
	.next = h264_next,
};

/* --- H.265 ----------------------------------------------------------- */

static int
h265_type(const uint8_t *nal)
{
	return (nal[0] >> 1) & 0x3f;
}

/* 48..63 are AP, FU, PACI and unspecified; TemporalId + 1 is never 0. */
static bool
h265_valid(const uint8_t *nal)
{
	return h265_type(nal) < 48 && (nal[1] & 0x07) != 0;
}

static bool
h265_is_key(int t)
{
	return t >= 16 && t <= 21;	/* IRAP */
}

/* Payload header (type 49, the NAL's F, layer and TID), FU header (S, E, type). */
static void
h265_fu(const uint8_t *nal, bool start, bool end, uint8_t *out)
{
	out[0] = (uint8_t)((nal[0] & 0x81) | 49 << 1);
	out[1] = nal[1];
	out[2] = (uint8_t)((start ? 0x80 : 0) | (end ? 0x40 : 0) | h265_type(nal));
}

static const struct nal_codec h265_codec = {
	.hdr_len = 2,
	.aud_type = 35,
	.ps_types = { 32, 33, 34 },
	.type = h265_type,
	.valid = h265_valid,
	.is_key = h265_is_key,
	.fu = h265_fu,
};

static int
h265_begin(struct pay *p)
{
	return nal_begin(p, &h265_codec);
}

static int
h265_next(struct pay *p, uint8_t *out, bool *last)
{
	return nal_next(p, out, last, &h265_codec);
}

const struct pay_ops pay_h265_ops = {
	.name = "H265",
	.begin = h265_begin,
	.next = h265_next,
};

/* --- extradata --------------------------------------------------------- */

static const struct nal_codec *
codec_of(const struct pay *p)
{
	if (p->ops == &pay_h264_ops)
		return &h264_codec;
	if (p->ops == &pay_h265_ops)
		return &h265_codec;
	return NULL;
}

/* Keeps |nal| when it is a parameter set not seen in this extradata yet. */
static void
learn_ps(struct pay *p, const struct nal_codec *c, const uint8_t *nal, size_t n, bool seen[3])
{
	struct pay_ps *slot[3] = { &p->vps, &p->sps, &p->pps };

	if (n < c->hdr_len || n > PAY_PS_MAX)
		return;
	for (int k = 0; k < 3; k++)
		if (c->type(nal) == c->ps_types[k] && !seen[k]) {
			memcpy(slot[k]->data, nal, n);
			slot[k]->len = n;
			seen[k] = true;
		}
}

/* |count| NAL units, each behind a 16-bit length, from e[*off]. */
static int
learn_list(struct pay *p, const struct nal_codec *c, const uint8_t *e, size_t len, size_t *off,
    unsigned count, bool seen[3])
{
	for (unsigned i = 0; i < count; i++) {
		size_t n;

		if (len - *off < 2)
			return PROTO_EBADMSG;
		n = (size_t)(e[*off] << 8 | e[*off + 1]);
		*off += 2;
		if (n > len - *off)
			return PROTO_EBADMSG;
		learn_ps(p, c, e + *off, n, seen);
		*off += n;
	}
	return 0;
}

/* avcC: version 1, 4 bytes of profile/level/length size, SPS list, PPS list. */
static int
learn_avcc(struct pay *p, const uint8_t *e, size_t len, bool seen[3])
{
	size_t off = 6;
	int rc;

	if (len < 7)
		return PROTO_EBADMSG;
	if ((rc = learn_list(p, &h264_codec, e, len, &off, e[5] & 0x1f, seen)) < 0)
		return rc;
	if (off >= len)
		return PROTO_EBADMSG;
	off++;
	return learn_list(p, &h264_codec, e, len, &off, e[off - 1], seen);
}

/* hvcC: version 1, 21 more bytes of general fields, then arrays of NAL units. */
static int
learn_hvcc(struct pay *p, const uint8_t *e, size_t len, bool seen[3])
{
	size_t off = 23;
	int rc;

	if (len < 23)
		return PROTO_EBADMSG;
	for (unsigned a = 0; a < e[22]; a++) {
		unsigned count;

		if (len - off < 3)
			return PROTO_EBADMSG;
		count = (unsigned)(e[off + 1] << 8 | e[off + 2]);
		off += 3;
		if ((rc = learn_list(p, &h265_codec, e, len, &off, count, seen)) < 0)
			return rc;
	}
	return 0;
}

int
pay_learn_extradata(struct pay *p, const uint8_t *e, size_t len)
{
	const struct nal_codec *c = codec_of(p);
	bool seen[3] = { false, false, false };
	const uint8_t *nal;
	size_t pos = 0, n;

	if (c == NULL)
		return PROTO_EUNSUPPORTED;
	if (len >= 3 && e[0] == 0 && e[1] == 0 && (e[2] == 1 || (len >= 4 && e[2] == 0 &&
	    e[3] == 1))) {
		while (next_nal(e, len, &pos, &nal, &n))
			learn_ps(p, c, nal, n, seen);
		return 0;
	}
	if (len < 1 || e[0] != 1)
		return PROTO_EUNSUPPORTED;
	return c == &h264_codec ? learn_avcc(p, e, len, seen) : learn_hvcc(p, e, len, seen);
}
