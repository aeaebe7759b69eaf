/*
 * eff_boxes.c - the EFF boxes (eff_boxes.h): writers on mp4w's box
 * primitives, readers on mp4r's iterator.
 */
#include "eff_boxes.h"

#include <string.h>

#define T(a, b, c, d) MP4_FOURCC(a, b, c, d)

/* "vssgate.eff.idx1" and "vssgate.eff.chn1": readable in a hex dump. */
const uint8_t EFF_UUID_INDEX[16] = { 'v', 's', 's', 'g', 'a', 't', 'e', '.', 'e', 'f', 'f',
	'.', 'i', 'd', 'x', '1' };
const uint8_t EFF_UUID_CHAIN[16] = { 'v', 's', 's', 'g', 'a', 't', 'e', '.', 'e', 'f', 'f',
	'.', 'c', 'h', 'n', '1' };

/* 1601-01-01 to 1970-01-01 in 100 ns; 1904-01-01 to 1970-01-01 in seconds. */
#define EPOCH_1601_100NS	116444736000000000ull
#define EPOCH_1904_S		2082844800ull

uint64_t
eff_unix_us_to_1601(int64_t unix_us)
{
	return (uint64_t)((int64_t)EPOCH_1601_100NS + unix_us * 10);
}

int64_t
eff_1601_to_unix_us(uint64_t t)
{
	return (int64_t)(t / 10) - (int64_t)(EPOCH_1601_100NS / 10);
}

uint64_t
eff_unix_us_to_1904(int64_t unix_us)
{
	return (uint64_t)((int64_t)EPOCH_1904_S + unix_us / 1000000);
}

/* A time read from a file may be anything: past year 30000 it is clamped. */
#define MAX_1904_S ((uint64_t)1 << 40)

int64_t
eff_1904_to_unix_us(uint64_t t)
{
	if (t > MAX_1904_S)
		t = MAX_1904_S;
	return ((int64_t)t - (int64_t)EPOCH_1904_S) * 1000000;
}

/* --- writers ---------------------------------------------------------------------- */

static void
put_str(struct mp4w_buf *b, const char *s)
{
	mp4w_put_cstring(b, s != NULL ? s : "");
}

static uint32_t
fixed16(double v)
{
	return (uint32_t)(int32_t)(v * 65536.0 + (v < 0 ? -0.5 : 0.5));
}

void
eff_put_udta_loci(struct mp4w_buf *b, const struct eff_loci *l)
{
	size_t udta = mp4w_box_open(b, "udta");
	size_t loci = mp4w_fullbox_open(b, "loci", 0, 0);

	mp4w_put16(b, 0x55c4);			/* 'und', packed ISO 639-2/T */
	put_str(b, l->name);
	mp4w_put8(b, 1);			/* role: real location */
	mp4w_put32(b, fixed16(l->longitude));
	mp4w_put32(b, fixed16(l->latitude));
	mp4w_put32(b, fixed16(l->altitude));
	put_str(b, l->astronomical_body != NULL ? l->astronomical_body : "earth");
	put_str(b, l->notes);
	mp4w_box_close(b, loci);
	mp4w_box_close(b, udta);
}

void
eff_put_suep(struct mp4w_buf *b, const struct eff_suep *s)
{
	size_t at = mp4w_fullbox_open(b, "suep", 1, 0);

	put_str(b, s->unit_name);
	put_str(b, s->unit_url);
	put_str(b, s->unit_mac);
	mp4w_put64(b, s->unit_time_1904);
	put_str(b, s->operator_name);
	mp4w_put32(b, (uint32_t)s->ntracks);
	for (int i = 0; i < s->ntracks; i++) {
		const struct eff_source_info *t = &s->track[i];

		mp4w_put16(b, t->track_id);
		put_str(b, t->name);
		put_str(b, t->url);
		put_str(b, t->mac);
		put_str(b, t->line);
	}
	mp4w_box_close(b, at);
}

void
eff_put_cstb(struct mp4w_buf *b, const struct eff_cstb_entry *e, int n)
{
	size_t at = mp4w_box_open(b, "cstb");

	mp4w_put32(b, (uint32_t)n);
	for (int i = 0; i < n; i++) {
		mp4w_put32(b, e[i].track_id);
		mp4w_put64(b, e[i].start_1601);
	}
	mp4w_box_close(b, at);
}

void
eff_put_meta_hdlr(struct mp4w_buf *b)
{
	size_t at = mp4w_fullbox_open(b, "hdlr", 0, 0);

	mp4w_put32(b, 0);			/* pre_defined */
	mp4w_put_fourcc(b, "null");
	mp4w_put_zeros(b, 12);
	mp4w_put_cstring(b, "vssgate export");
	mp4w_box_close(b, at);
}

void
eff_put_index_entry(struct mp4w_buf *b, uint32_t type, uint64_t off, uint64_t size,
    uint64_t locsum)
{
	mp4w_put32(b, type);
	mp4w_put64(b, off);
	mp4w_put64(b, size);
	mp4w_put64(b, locsum);
}

/* --- the index's checksum ---------------------------------------------------------- */

#define LOC_MUL 0x9e3779b97f4a7c15ull	/* odd: multiplying by it is invertible */

static uint64_t
rd64le(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);		/* the host's order: the sum is defined little-endian */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static inline uint64_t
lane_step(uint64_t acc, uint64_t w)
{
	acc = (acc ^ w) * LOC_MUL;
	return acc ^ (acc >> 29);
}

static void
locsum_block(struct eff_locsum *c, const uint8_t *p)
{
	for (int i = 0; i < 4; i++)
		c->lane[i] = lane_step(c->lane[i], rd64le(p + 8 * i));
}

void
eff_locsum_init(struct eff_locsum *c)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < 4; i++)
		c->lane[i] = (uint64_t)(i + 1) * 0x243f6a8885a308d3ull;
}

void
eff_locsum_update(struct eff_locsum *c, const uint8_t *p, size_t n)
{
	c->len += n;
	if (c->ntail > 0) {
		size_t k = 32 - c->ntail < n ? 32 - c->ntail : n;

		memcpy(c->tail + c->ntail, p, k);
		c->ntail += k;
		p += k;
		n -= k;
		if (c->ntail < 32)
			return;
		locsum_block(c, c->tail);
		c->ntail = 0;
	}
	for (; n >= 32; p += 32, n -= 32)
		locsum_block(c, p);
	memcpy(c->tail, p, n);
	c->ntail = n;
}

uint64_t
eff_locsum_final(const struct eff_locsum *c)
{
	struct eff_locsum f = *c;
	uint64_t h;

	if (f.ntail > 0) {		/* the last block padded with zeros; the length tells */
		memset(f.tail + f.ntail, 0, 32 - f.ntail);
		locsum_block(&f, f.tail);
	}
	h = f.len * LOC_MUL;
	for (int i = 0; i < 4; i++)
		h = lane_step(h, f.lane[i]);
	return h;
}

uint64_t
eff_locsum(const uint8_t *p, size_t n)
{
	struct eff_locsum c;

	eff_locsum_init(&c);
	eff_locsum_update(&c, p, n);
	return eff_locsum_final(&c);
}

static void
put_chain(struct mp4w_buf *b, const struct eff_sinf_params *p)
{
	size_t at;

	if (p->nchain <= 0)
		return;
	at = mp4w_box_open(b, "uuid");
	mp4w_put(b, EFF_UUID_CHAIN, 16);
	for (int i = 0; i < p->nchain; i++) {
		mp4w_put32(b, (uint32_t)p->chain_len[i]);
		mp4w_put(b, p->chain[i], p->chain_len[i]);
	}
	mp4w_box_close(b, at);
}

void
eff_put_sinf(struct mp4w_buf *b, const struct eff_sinf_params *p, struct eff_sinf_layout *where)
{
	size_t sinf = mp4w_box_open(b, "sinf"), schm, schi, box;

	where->sinf_at = sinf;
	if (p->cstb != NULL)
		eff_put_cstb(b, p->cstb, p->ncstb);
	schm = mp4w_fullbox_open(b, "schm", 0, 0);
	mp4w_put32(b, EFF_SCHEME_OEFF);
	mp4w_put32(b, EFF_SCHEME_VERSION);
	mp4w_box_close(b, schm);
	schi = mp4w_box_open(b, "schi");
	box = mp4w_box_open(b, "sibo");
	where->sibo_payload = b->len;
	mp4w_put_zeros(b, p->sig_len);
	mp4w_box_close(b, box);
	where->cert_box = mp4w_box_open(b, "cert");
	mp4w_put(b, p->cert, p->cert_len);
	mp4w_box_close(b, where->cert_box);
	where->cert_box_size = b->len - where->cert_box;
	put_chain(b, p);
	if (p->auib != NULL) {
		box = mp4w_box_open(b, "auib");
		mp4w_put_cstring(b, p->auib);
		mp4w_box_close(b, box);
	}
	mp4w_box_close(b, schi);
	mp4w_box_close(b, sinf);
}

/* --- readers ---------------------------------------------------------------------- */

struct rd {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static void
rd_str(struct rd *r, struct mp4_span *s)
{
	const uint8_t *nul;

	if (r->bad || r->off >= r->len || (nul = memchr(r->p + r->off, 0, r->len - r->off)) == NULL) {
		r->bad = true;
		*s = (struct mp4_span){ NULL, 0 };
		return;
	}
	*s = (struct mp4_span){ r->p + r->off, (size_t)(nul - (r->p + r->off)) };
	r->off += s->len + 1;
}

static uint64_t
rd_n(struct rd *r, int bytes)
{
	uint64_t v = 0;

	if (r->bad || r->len - r->off < (size_t)bytes) {
		r->bad = true;
		return 0;
	}
	for (int i = 0; i < bytes; i++)
		v = v << 8 | r->p[r->off++];
	return v;
}

int
eff_suep_parse(const uint8_t *p, size_t len, struct eff_suep_view *v)
{
	struct rd r = { p, len, 0, false };

	memset(v, 0, sizeof(*v));
	v->version = (uint8_t)rd_n(&r, 1);
	rd_n(&r, 3);
	rd_str(&r, &v->unit_name);
	rd_str(&r, &v->unit_url);
	rd_str(&r, &v->unit_mac);
	v->unit_time_1904 = rd_n(&r, 8);
	rd_str(&r, &v->operator_name);
	v->ntracks = (uint32_t)rd_n(&r, 4);
	if (r.bad)
		return PROTO_EBADMSG;
	if (v->ntracks > MP4_MAX_TRACKS)
		return v->ntracks > len ? PROTO_EBADMSG : PROTO_ETOOBIG;
	for (uint32_t i = 0; i < v->ntracks; i++) {
		v->track[i].track_id = (uint16_t)rd_n(&r, 2);
		rd_str(&r, &v->track[i].name);
		rd_str(&r, &v->track[i].url);
		rd_str(&r, &v->track[i].mac);
		rd_str(&r, &v->track[i].line);
	}
	return r.bad ? PROTO_EBADMSG : 0;
}

int
eff_loci_parse(const uint8_t *p, size_t len, struct eff_loci_view *v)
{
	struct rd r = { p, len, 4, len < 4 };

	memset(v, 0, sizeof(*v));
	v->language = (uint16_t)rd_n(&r, 2);
	rd_str(&r, &v->name);
	v->role = (uint8_t)rd_n(&r, 1);
	v->longitude = (int32_t)(uint32_t)rd_n(&r, 4);
	v->latitude = (int32_t)(uint32_t)rd_n(&r, 4);
	v->altitude = (int32_t)(uint32_t)rd_n(&r, 4);
	rd_str(&r, &v->astronomical_body);
	rd_str(&r, &v->notes);
	return r.bad ? PROTO_EBADMSG : 0;
}

int
eff_cstb_parse(const uint8_t *p, size_t len, struct eff_cstb_view *v)
{
	struct rd r = { p, len, 0, false };

	memset(v, 0, sizeof(*v));
	v->n = (uint32_t)rd_n(&r, 4);
	if (r.bad || (uint64_t)v->n * 12 > len - 4)
		return PROTO_EBADMSG;
	if (v->n > MP4_MAX_TRACKS)
		return PROTO_ETOOBIG;
	for (uint32_t i = 0; i < v->n; i++) {
		v->e[i].track_id = (uint32_t)rd_n(&r, 4);
		v->e[i].start_1601 = rd_n(&r, 8);
	}
	return r.bad ? PROTO_EBADMSG : 0;
}

static int
parse_chain(const struct mp4r_box *b, struct eff_signer_view *s)
{
	struct rd r = { b->body, b->body_len, 0, false };

	while (!r.bad && r.off < r.len) {
		uint64_t n = rd_n(&r, 4);

		if (r.bad || n > r.len - r.off || n == 0)
			return PROTO_EBADMSG;
		if (s->nchain == EFF_MAX_CHAIN)
			return PROTO_ETOOBIG;
		s->chain[s->nchain++] = (struct mp4_span){ r.p + r.off, (size_t)n };
		r.off += (size_t)n;
	}
	return r.bad ? PROTO_EBADMSG : 0;
}

static bool
is_uuid(const struct mp4r_box *b, const uint8_t uuid[16])
{
	return b->type == T('u', 'u', 'i', 'd') && memcmp(b->uuid, uuid, 16) == 0;
}

/* One child of schi. */
static int
schi_child(const struct mp4r_box *b, struct eff_signer_view *s)
{
	switch (b->type) {
	case T('s', 'i', 'b', 'o'):
		s->nsibo++;
		s->has_sibo = true;
		s->sibo = (struct mp4_span){ b->body, b->body_len };
		s->sibo_pos = b->pos + b->hdr;
		return 0;
	case T('c', 'e', 'r', 't'):
		s->ncert++;
		s->has_cert = true;
		s->cert = (struct mp4_span){ b->body, b->body_len };
		s->cert_pos = b->pos;
		s->cert_size = b->size;
		return 0;
	case T('s', 'i', 'g', 'C'):
		s->sigc = (struct mp4_span){ b->body, b->body_len };
		return 0;
	case T('a', 'u', 'i', 'b'):
		s->auib = (struct mp4_span){ b->body, b->body_len };
		if (b->body_len > 0 && b->body[b->body_len - 1] == 0)
			s->auib.len--;
		return 0;
	case T('c', 's', 't', 'b'):
		s->has_cstb = s->cstb_in_schi = true;
		return eff_cstb_parse(b->body, b->body_len, &s->cstb);
	default:
		return is_uuid(b, EFF_UUID_CHAIN) ? parse_chain(b, s) : 0;
	}
}

static int
parse_schm(const struct mp4r_box *b, struct eff_signer_view *s)
{
	if (b->body_len < 12)
		return PROTO_EBADMSG;
	s->has_schm = true;
	s->scheme_type = proto_rd32(b->body + 4);
	s->scheme_version = proto_rd32(b->body + 8);
	return 0;
}

static int
parse_sinf(const struct mp4r_iter *it, const struct mp4r_box *sinf, struct eff_signer_view *s)
{
	struct mp4r_iter c, cc;
	struct mp4r_box b, bb;
	int rc;

	memset(s, 0, sizeof(*s));
	s->sinf_pos = sinf->pos;
	s->sinf_size = sinf->size;
	if ((rc = mp4r_iter_children(it, sinf, 0, &c)) < 0)
		return rc;
	while ((rc = mp4r_iter_next(&c, &b)) == 1) {
		if (b.type == T('s', 'c', 'h', 'm'))
			rc = parse_schm(&b, s);
		else if (b.type == T('c', 's', 't', 'b')) {
			s->has_cstb = true;
			rc = eff_cstb_parse(b.body, b.body_len, &s->cstb);
		} else if (b.type == T('s', 'c', 'h', 'i')) {
			if ((rc = mp4r_iter_children(&c, &b, 0, &cc)) < 0)
				return rc;
			while ((rc = mp4r_iter_next(&cc, &bb)) == 1)
				if ((rc = schi_child(&bb, s)) < 0)
					return rc;
		}
		if (rc < 0)
			return rc;
	}
	return rc;
}

static int
parse_ipro(const struct mp4r_iter *it, const struct mp4r_box *ipro, struct eff_meta_view *v)
{
	struct mp4r_iter c;
	struct mp4r_box b;
	int rc;

	if (ipro->body_len < 6)
		return PROTO_EBADMSG;
	v->nipro++;
	v->has_ipro = true;
	v->ipro_pos = ipro->pos;
	v->ipro_size = ipro->size;
	v->ipro_hdr = ipro->hdr;
	v->protection_count = proto_rd16(ipro->body + 4);
	if ((rc = mp4r_iter_children(it, ipro, 6, &c)) < 0)
		return rc;
	while ((rc = mp4r_iter_next(&c, &b)) == 1) {
		if (b.type != T('s', 'i', 'n', 'f'))
			continue;
		if (v->nsigners == EFF_MAX_SIGNERS)
			return PROTO_ETOOBIG;
		if ((rc = parse_sinf(&c, &b, &v->signer[v->nsigners])) < 0)
			return rc;
		v->nsigners++;
	}
	return rc;
}

static int
parse_index(const struct mp4r_box *b, struct eff_meta_view *v)
{
	struct rd r = { b->body, b->body_len, 0, false };
	uint32_t version = (uint32_t)rd_n(&r, 4);

	v->index_count = (uint32_t)rd_n(&r, 4);
	if (r.bad || version != 1 ||
	    (uint64_t)v->index_count * EFF_INDEX_ENTRY != (uint64_t)(r.len - r.off))
		return PROTO_EBADMSG;
	v->has_index = true;
	v->index_pos = b->pos;
	v->index = (struct mp4_span){ r.p + r.off, r.len - r.off };
	return 0;
}

static int
meta_child(const struct mp4r_iter *it, const struct mp4r_box *b, struct eff_meta_view *v)
{
	switch (b->type) {
	case T('h', 'd', 'l', 'r'):
		v->handler = b->body_len >= 12 ? proto_rd32(b->body + 8) : 0;
		return 0;
	case T('s', 'u', 'e', 'p'):
		if (v->nsuep++ > 0)
			return 0;
		v->has_suep = true;
		v->suep_pos = b->pos;
		return eff_suep_parse(b->body, b->body_len, &v->suep);
	case T('c', 's', 't', 'b'):
		v->has_cstb = true;
		return eff_cstb_parse(b->body, b->body_len, &v->cstb);
	case T('i', 'p', 'r', 'o'):
		return v->nipro > 0 ? (v->nipro++, 0) : parse_ipro(it, b, v);
	default:
		return is_uuid(b, EFF_UUID_INDEX) && !v->has_index ? parse_index(b, v) : 0;
	}
}

int
eff_meta_parse(const struct mp4r_iter *it, const struct mp4r_box *meta, struct eff_meta_view *v)
{
	struct mp4r_iter c;
	struct mp4r_box b;
	int off, rc;

	memset(v, 0, sizeof(*v));
	v->pos = meta->pos;
	v->size = meta->size;
	v->hdr = meta->hdr;
	if (meta->body == NULL || (off = mp4r_child_offset(meta)) < 0)
		return PROTO_EBADMSG;
	if ((rc = mp4r_iter_children(it, meta, (size_t)off, &c)) < 0)
		return rc;
	while ((rc = mp4r_iter_next(&c, &b)) == 1)
		if ((rc = meta_child(&c, &b, v)) < 0)
			return rc;
	return rc == PROTO_AGAIN ? PROTO_EBADMSG : rc;
}

void
eff_index_entry(const struct eff_meta_view *v, uint32_t i, uint32_t *type, uint64_t *off,
    uint64_t *size, uint64_t *locsum)
{
	const uint8_t *e = v->index.p + (size_t)i * EFF_INDEX_ENTRY;

	*type = proto_rd32(e);
	*off = (uint64_t)proto_rd32(e + 4) << 32 | proto_rd32(e + 8);
	*size = (uint64_t)proto_rd32(e + 12) << 32 | proto_rd32(e + 16);
	*locsum = (uint64_t)proto_rd32(e + 20) << 32 | proto_rd32(e + 24);
}

/* --- the export's moov ------------------------------------------------------------ */

static void
put_matrix(struct mp4w_buf *b)
{
	static const uint32_t unity[9] = { 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000 };

	for (int i = 0; i < 9; i++)
		mp4w_put32(b, unity[i]);
}

void
eff_put_mvhd(struct mp4w_buf *b, uint32_t time_1904, uint32_t next_track_id)
{
	size_t at = mp4w_fullbox_open(b, "mvhd", 0, 0);

	mp4w_put32(b, time_1904);
	mp4w_put32(b, time_1904);
	mp4w_put32(b, 1000);
	mp4w_put32(b, 0);
	mp4w_put32(b, 0x00010000);	/* rate 1.0 */
	mp4w_put16(b, 0x0100);		/* volume 1.0 */
	mp4w_put_zeros(b, 10);
	put_matrix(b);
	mp4w_put_zeros(b, 24);
	mp4w_put32(b, next_track_id);
	mp4w_box_close(b, at);
}

void
eff_put_mvex(struct mp4w_buf *b, int ntracks)
{
	size_t mvex = mp4w_box_open(b, "mvex");

	for (int i = 0; i < ntracks; i++) {
		size_t trex = mp4w_fullbox_open(b, "trex", 0, 0);

		mp4w_put32(b, (uint32_t)i + 1);
		mp4w_put32(b, 1);
		mp4w_put_zeros(b, 12);
		mp4w_box_close(b, trex);
	}
	mp4w_box_close(b, mvex);
}

static void
put_empty_table(struct mp4w_buf *b, const char type[4], int words)
{
	size_t at = mp4w_fullbox_open(b, type, 0, 0);

	mp4w_put_zeros(b, (size_t)words * 4);
	mp4w_box_close(b, at);
}

static void
put_events_stbl(struct mp4w_buf *b)
{
	size_t stbl = mp4w_box_open(b, "stbl");
	size_t stsd = mp4w_fullbox_open(b, "stsd", 0, 0), metx;

	mp4w_put32(b, 1);
	metx = mp4w_box_open(b, "metx");
	mp4w_put_zeros(b, 6);			/* SampleEntry reserved */
	mp4w_put16(b, 1);			/* data_reference_index */
	mp4w_put_cstring(b, "");		/* content_encoding: xml */
	mp4w_put_cstring(b, MP4_ONVIF_NAMESPACE);
	mp4w_put_cstring(b, "");		/* schema_location */
	mp4w_box_close(b, metx);
	mp4w_box_close(b, stsd);
	put_empty_table(b, "stts", 1);
	put_empty_table(b, "stsc", 1);
	put_empty_table(b, "stsz", 2);
	put_empty_table(b, "stco", 1);
	mp4w_box_close(b, stbl);
}

static void
put_events_minf(struct mp4w_buf *b)
{
	size_t minf = mp4w_box_open(b, "minf"), dinf, dref;

	mp4w_box_close(b, mp4w_fullbox_open(b, "nmhd", 0, 0));
	dinf = mp4w_box_open(b, "dinf");
	dref = mp4w_fullbox_open(b, "dref", 0, 0);
	mp4w_put32(b, 1);
	mp4w_box_close(b, mp4w_fullbox_open(b, "url ", 0, 1));
	mp4w_box_close(b, dref);
	mp4w_box_close(b, dinf);
	put_events_stbl(b);
	mp4w_box_close(b, minf);
}

void
eff_put_events_trak(struct mp4w_buf *b, uint32_t track_id, uint32_t timescale,
    uint32_t time_1904)
{
	size_t trak = mp4w_box_open(b, "trak"), at, mdia;

	at = mp4w_fullbox_open(b, "tkhd", 0, 0x000003);
	mp4w_put32(b, time_1904);
	mp4w_put32(b, time_1904);
	mp4w_put32(b, track_id);
	mp4w_put_zeros(b, 8);			/* reserved, duration */
	mp4w_put_zeros(b, 8);
	mp4w_put_zeros(b, 8);			/* layer, group, volume, reserved */
	put_matrix(b);
	mp4w_put_zeros(b, 8);			/* width, height */
	mp4w_box_close(b, at);
	mdia = mp4w_box_open(b, "mdia");
	at = mp4w_fullbox_open(b, "mdhd", 0, 0);
	mp4w_put32(b, time_1904);
	mp4w_put32(b, time_1904);
	mp4w_put32(b, timescale);
	mp4w_put32(b, 0);
	mp4w_put16(b, 0x55c4);			/* 'und' */
	mp4w_put16(b, 0);
	mp4w_box_close(b, at);
	at = mp4w_fullbox_open(b, "hdlr", 0, 0);
	mp4w_put32(b, 0);
	mp4w_put_fourcc(b, "meta");
	mp4w_put_zeros(b, 12);
	mp4w_put_cstring(b, EFF_EVENTS_HANDLER_NAME);
	mp4w_box_close(b, at);
	put_events_minf(b);
	mp4w_box_close(b, mdia);
	mp4w_box_close(b, trak);
}
