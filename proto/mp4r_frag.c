/*
 * mp4r_frag.c - movie fragments in the MP4 reader (mp4r.h): prft, and a
 * moof's mfhd and trafs (tfhd, tfdt, truns) with every trun's data range
 * worked out (14496-12 8.8.7-8.8.8), so that samples are found from the
 * tables alone.
 */
#include "mp4r.h"

#include <string.h>

#define T(a, b, c, d) MP4_FOURCC(a, b, c, d)

/* tfhd flags */
#define TFHD_BASE_DATA_OFFSET	0x000001u
#define TFHD_SDI		0x000002u
#define TFHD_DURATION		0x000008u
#define TFHD_SIZE		0x000010u
#define TFHD_FLAGS		0x000020u
#define TFHD_BASE_IS_MOOF	0x020000u
/* trun flags */
#define TRUN_DATA_OFFSET	0x000001u
#define TRUN_FIRST_FLAGS	0x000004u
#define TRUN_DURATION		0x000100u
#define TRUN_SIZE		0x000200u
#define TRUN_FLAGS		0x000400u
#define TRUN_CTO		0x000800u

static uint64_t
rd64(const uint8_t *p)
{
	return (uint64_t)proto_rd32(p) << 32 | proto_rd32(p + 4);
}

static uint32_t
fullbox_flags(const struct mp4r_box *b)
{
	return proto_rd32(b->body) & 0xffffff;
}

int
mp4r_prft_parse(const struct mp4r_box *b, struct mp4r_prft *out)
{
	memset(out, 0, sizeof(*out));
	if (b->body == NULL || b->body_len < 4)
		return PROTO_EBADMSG;
	out->version = b->body[0];
	out->flags = fullbox_flags(b);
	if (b->body_len < (out->version == 1 ? 24u : 20u))
		return PROTO_EBADMSG;
	out->track_id = proto_rd32(b->body + 4);
	out->ntp = rd64(b->body + 8);
	out->media_time = out->version == 1 ? rd64(b->body + 16) : proto_rd32(b->body + 16);
	return 0;
}

/* --- tfhd ------------------------------------------------------------------------ */

/* The next optional 32-bit field of a tfhd when |flag| announces it. */
static bool
tfhd_field(const struct mp4r_box *b, size_t *off, uint32_t flags, uint32_t flag, uint32_t *v)
{
	if (!(flags & flag))
		return true;
	if (b->body_len - *off < 4)
		return false;
	*v = proto_rd32(b->body + *off);
	*off += 4;
	return true;
}

/* tfhd into |t|, with the trex defaults of |track| under its own; |base|
 * becomes the base data offset when the tfhd gives one. */
static int
parse_tfhd(const struct mp4r_box *b, const struct mp4r_track *track, struct mp4r_traf *t,
    uint64_t *base)
{
	size_t off = 8;
	uint32_t f;

	if (b->body_len < 8)
		return PROTO_EBADMSG;
	f = t->tfhd_flags = fullbox_flags(b);
	t->track_id = proto_rd32(b->body + 4);
	if (track != NULL) {
		t->sdi = track->trex_sdi;
		t->def_duration = track->trex_duration;
		t->def_size = track->trex_size;
		t->def_flags = track->trex_flags;
	}
	if (f & TFHD_BASE_DATA_OFFSET) {
		if (b->body_len - off < 8)
			return PROTO_EBADMSG;
		*base = rd64(b->body + off);
		off += 8;
	}
	if (!tfhd_field(b, &off, f, TFHD_SDI, &t->sdi) ||
	    !tfhd_field(b, &off, f, TFHD_DURATION, &t->def_duration) ||
	    !tfhd_field(b, &off, f, TFHD_SIZE, &t->def_size) ||
	    !tfhd_field(b, &off, f, TFHD_FLAGS, &t->def_flags))
		return PROTO_EBADMSG;
	return 0;
}

/* --- trun ---------------------------------------------------------------------- */

static size_t
entry_size(uint32_t flags)
{
	return 4 * (size_t)(!!(flags & TRUN_DURATION) + !!(flags & TRUN_SIZE) +
	    !!(flags & TRUN_FLAGS) + !!(flags & TRUN_CTO));
}

/* The next field of a trun entry when the trun has it, else |dflt|. */
static uint32_t
entry_field(const uint8_t **e, uint32_t flags, uint32_t flag, uint32_t dflt)
{
	uint32_t v;

	if (!(flags & flag))
		return dflt;
	v = proto_rd32(*e);
	*e += 4;
	return v;
}

/* One entry's fields, the traf's defaults where the trun has none. */
static void
read_entry(const struct mp4r_traf *t, const struct mp4r_trun *r, uint32_t i, struct mp4r_sample *s)
{
	const uint8_t *e = r->entries + (size_t)i * r->entry_size;
	uint32_t flags = i == 0 && (r->flags & TRUN_FIRST_FLAGS) ? r->first_flags : t->def_flags;
	uint32_t cto;

	s->duration = entry_field(&e, r->flags, TRUN_DURATION, t->def_duration);
	s->size = entry_field(&e, r->flags, TRUN_SIZE, t->def_size);
	s->flags = entry_field(&e, r->flags, TRUN_FLAGS, flags);
	cto = entry_field(&e, r->flags, TRUN_CTO, 0);
	s->cto = r->version == 0 ? (int64_t)cto : (int64_t)(int32_t)cto;
	s->sync = (s->flags & MP4_FLAG_NON_SYNC_BIT) == 0;
}

/* The position |base| + a signed 32-bit offset, or false when it falls outside. */
static bool
offset_pos(uint64_t base, uint32_t raw, uint64_t *pos)
{
	int64_t d = (int32_t)raw;

	if (d < 0 && (uint64_t)-d > base)
		return false;
	*pos = base + (uint64_t)d;
	return true;
}

/* The trun's header fields and where its table is; PROTO_EBADMSG when the
 * table does not fit in the box. */
static int
trun_header(const struct mp4r_box *b, struct mp4r_trun *r, uint32_t *data_offset)
{
	size_t off = 8;

	if (b->body_len < 8)
		return PROTO_EBADMSG;
	r->version = b->body[0];
	r->flags = fullbox_flags(b);
	r->count = proto_rd32(b->body + 4);
	if (r->flags & TRUN_DATA_OFFSET) {
		if (b->body_len - off < 4)
			return PROTO_EBADMSG;
		*data_offset = proto_rd32(b->body + off);
		off += 4;
	}
	if (r->flags & TRUN_FIRST_FLAGS) {
		if (b->body_len - off < 4)
			return PROTO_EBADMSG;
		r->first_flags = proto_rd32(b->body + off);
		off += 4;
	}
	r->entry_size = entry_size(r->flags);
	r->entries = b->body + off;
	if (r->entry_size > 0 && r->count > (b->body_len - off) / r->entry_size)
		return PROTO_EBADMSG;
	return 0;
}

/* Adds a trun to |t|: its data starts at its own offset from |base|, or
 * where the previous one ended (*next). */
static int
add_trun(const struct mp4r_box *b, struct mp4r_traf *t, uint64_t base, uint64_t *next,
    uint32_t *budget)
{
	struct mp4r_trun r = { 0 };
	struct mp4r_sample s;
	uint32_t data_offset = 0;
	int rc;

	if (t->ntrun >= MP4R_MAX_TRUNS)
		return PROTO_ETOOBIG;
	if ((rc = trun_header(b, &r, &data_offset)) < 0)
		return rc;
	if (r.count > *budget)
		return PROTO_ETOOBIG;
	*budget -= r.count;
	r.data_pos = *next;
	if ((r.flags & TRUN_DATA_OFFSET) && !offset_pos(base, data_offset, &r.data_pos))
		return PROTO_EBADMSG;
	for (uint32_t i = 0; i < r.count; i++) {
		read_entry(t, &r, i, &s);
		r.bytes += s.size;
		r.duration += s.duration;
	}
	if (r.data_pos > UINT64_MAX - r.bytes)
		return PROTO_EBADMSG;
	*next = r.data_pos + r.bytes;
	t->nsamples += r.count;
	t->duration += r.duration;
	t->trun[t->ntrun++] = r;
	return 0;
}

/* --- traf ---------------------------------------------------------------------- */

static int
parse_tfdt(const struct mp4r_box *b, struct mp4r_traf *t)
{
	if (b->body_len < 4 || b->body_len < (b->body[0] == 1 ? 12u : 8u))
		return PROTO_EBADMSG;
	t->has_tfdt = true;
	t->base_dts = b->body[0] == 1 ? rd64(b->body + 4) : proto_rd32(b->body + 4);
	return 0;
}

/*
 * A traf. Data positions start at the tfhd's base data offset, else the
 * moof when default-base-is-moof, else the moof for the first traf and
 * the end of the previous traf's data for the others (*data_end).
 */
static int
parse_traf(const struct mp4r_iter *it, const struct mp4r_box *traf, const struct mp4r_movie *mv,
    struct mp4r_frag *f, uint64_t *data_end, uint32_t *budget)
{
	struct mp4r_traf *t = &f->traf[f->ntraf];
	const struct mp4r_track *track = NULL;
	struct mp4r_iter kids;
	struct mp4r_box b;
	uint64_t base = f->ntraf == 0 ? f->moof_pos : *data_end, next;
	int rc;

	memset(t, 0, sizeof(*t));
	if ((rc = mp4r_find_in(it, traf, "tfhd", &b)) <= 0)
		return rc < 0 ? rc : PROTO_EBADMSG;
	if (b.body_len >= 8 && mv != NULL &&
	    (track = mp4r_movie_track(mv, proto_rd32(b.body + 4))) == NULL)
		return PROTO_EBADMSG;	/* a track the init segment does not have */
	if ((rc = parse_tfhd(&b, track, t, &base)) < 0)
		return rc;
	if (!(t->tfhd_flags & TFHD_BASE_DATA_OFFSET) && (t->tfhd_flags & TFHD_BASE_IS_MOOF))
		base = f->moof_pos;
	next = base;
	if ((rc = mp4r_iter_children(it, traf, 0, &kids)) < 0)
		return rc;
	while ((rc = mp4r_iter_next(&kids, &b)) == 1) {
		if (b.type == T('t', 'f', 'd', 't'))
			rc = parse_tfdt(&b, t);
		else if (b.type == T('t', 'r', 'u', 'n'))
			rc = add_trun(&b, t, base, &next, budget);
		if (rc < 0)
			return rc;
	}
	*data_end = next;
	return rc;
}

int
mp4r_frag_parse(const struct mp4r_iter *it, const struct mp4r_box *moof,
    const struct mp4r_movie *mv, struct mp4r_frag *f)
{
	struct mp4r_iter kids;
	struct mp4r_box b;
	uint64_t data_end = moof->pos;
	uint32_t budget = it->lim.max_samples;
	bool have_mfhd = false;
	int rc;

	memset(f, 0, sizeof(*f));
	f->pos = f->moof_pos = moof->pos;
	f->moof_size = moof->size;
	if ((rc = mp4r_iter_children(it, moof, 0, &kids)) < 0)
		return rc;
	while ((rc = mp4r_iter_next(&kids, &b)) == 1) {
		if (b.type == T('m', 'f', 'h', 'd')) {
			if (b.body_len < 8)
				return PROTO_EBADMSG;
			f->seq = proto_rd32(b.body + 4);
			have_mfhd = true;
		} else if (b.type == T('t', 'r', 'a', 'f')) {
			if (f->ntraf >= it->lim.max_tracks)
				return PROTO_ETOOBIG;
			if ((rc = parse_traf(&kids, &b, mv, f, &data_end, &budget)) < 0)
				return rc;
			f->nsamples += f->traf[f->ntraf++].nsamples;
		}
	}
	if (rc < 0)
		return rc;
	return have_mfhd ? 0 : PROTO_EBADMSG;
}

int
mp4r_frag_check_mdat(struct mp4r_frag *f, const struct mp4r_box *mdat)
{
	uint64_t start = mdat->pos + mdat->hdr, end = mdat->pos + mdat->size;

	for (int i = 0; i < f->ntraf; i++)
		for (int k = 0; k < f->traf[i].ntrun; k++) {
			const struct mp4r_trun *r = &f->traf[i].trun[k];

			if (r->bytes > 0 && (r->data_pos < start || r->data_pos > end ||
			    r->bytes > end - r->data_pos))
				return PROTO_EBADMSG;
		}
	f->mdat_pos = mdat->pos;
	f->mdat_size = mdat->size;
	f->end = end;
	return 0;
}

const struct mp4r_traf *
mp4r_frag_traf(const struct mp4r_frag *f, uint32_t track_id)
{
	for (int i = 0; i < f->ntraf; i++)
		if (f->traf[i].track_id == track_id)
			return &f->traf[i];
	return NULL;
}

/* --- samples ------------------------------------------------------------------- */

void
mp4r_samples_begin(const struct mp4r_traf *t, struct mp4r_sample_iter *it)
{
	*it = (struct mp4r_sample_iter){
		.t = t,
		.pos = t->ntrun > 0 ? t->trun[0].data_pos : 0,
		.dts = t->base_dts,
	};
}

bool
mp4r_samples_next(struct mp4r_sample_iter *it, struct mp4r_sample *s)
{
	const struct mp4r_traf *t = it->t;

	while (it->trun < t->ntrun && it->i >= t->trun[it->trun].count) {
		it->i = 0;
		if (++it->trun < t->ntrun)
			it->pos = t->trun[it->trun].data_pos;
	}
	if (it->trun >= t->ntrun)
		return false;
	read_entry(t, &t->trun[it->trun], it->i, s);
	s->index = it->index++;
	s->pos = it->pos;
	s->dts = it->dts;
	it->pos += s->size;
	it->dts += s->duration;
	it->i++;
	return true;
}

int
mp4r_frag_sample(const struct mp4r_traf *t, uint32_t n, struct mp4r_sample *s)
{
	struct mp4r_sample_iter it;
	uint64_t dts = t->base_dts;
	uint32_t local = n;
	int k = 0;

	if (n >= t->nsamples)
		return PROTO_EBADMSG;
	while (local >= t->trun[k].count) {	/* whole truns first */
		local -= t->trun[k].count;
		dts += t->trun[k++].duration;
	}
	it = (struct mp4r_sample_iter){ .t = t, .trun = k, .index = n - local,
	    .pos = t->trun[k].data_pos, .dts = dts };
	for (uint32_t i = 0; i <= local; i++)
		(void)mp4r_samples_next(&it, s);
	return 0;
}
