/*
 * mp4r.c - box headers, iteration, lookup by path and the recording
 * scanner of the MP4 reader (mp4r.h). The init segment is read in
 * mp4r_moov.c, fragments in mp4r_frag.c.
 */
#include "mp4r.h"

#include <string.h>

#define T(a, b, c, d) MP4_FOURCC(a, b, c, d)
#define MP4R_DEPTH_CAP 64	/* the find walk recurses once per level */

/* --- boxes -------------------------------------------------------------------- */

static uint64_t
rd64(const uint8_t *p)
{
	return (uint64_t)proto_rd32(p) << 32 | proto_rd32(p + 4);
}

int
mp4r_box_header(const uint8_t *p, size_t len, struct mp4r_box *b)
{
	memset(b, 0, sizeof(*b));
	if (len < 8)
		return PROTO_AGAIN;
	b->size = proto_rd32(p);
	b->type = proto_rd32(p + 4);
	b->hdr = 8;
	if (b->size == 1) {
		if (len < 16)
			return PROTO_AGAIN;
		b->size = rd64(p + 8);
		b->hdr = 16;
	}
	if (b->type == T('u', 'u', 'i', 'd')) {
		if (len < b->hdr + 16)
			return PROTO_AGAIN;
		memcpy(b->uuid, p + b->hdr, 16);
		b->hdr += 16;
	}
	if (b->size != 0 && b->size < b->hdr)
		return PROTO_EBADMSG;
	return (int)b->hdr;
}

static void
apply_limits(struct mp4r_limits *lim, const struct mp4r_limits *in)
{
	*lim = in != NULL ? *in : (struct mp4r_limits){ 0 };
	if (lim->max_depth <= 0 || lim->max_depth > MP4R_DEPTH_CAP)
		lim->max_depth = lim->max_depth <= 0 ? MP4R_MAX_DEPTH_DEFAULT : MP4R_DEPTH_CAP;
	if (lim->max_box == 0)
		lim->max_box = MP4R_MAX_BOX_DEFAULT;
	if (lim->max_mdat == 0)
		lim->max_mdat = MP4R_MAX_MDAT_DEFAULT;
	if (lim->max_samples == 0)
		lim->max_samples = MP4R_MAX_SAMPLES_DEFAULT;
	if (lim->max_tracks <= 0 || lim->max_tracks > MP4_MAX_TRACKS)
		lim->max_tracks = MP4_MAX_TRACKS;
}

void
mp4r_iter_init(struct mp4r_iter *it, const uint8_t *p, size_t len, uint64_t base,
    const struct mp4r_limits *lim)
{
	memset(it, 0, sizeof(*it));
	it->p = p;
	it->len = len;
	it->base = base;
	apply_limits(&it->lim, lim);
}

void
mp4r_iter_feed(struct mp4r_iter *it, const uint8_t *p, size_t len)
{
	it->p = p;
	it->len = len;
}

/* Boxes whose payload is media we never parse may be as big as an mdat. */
static uint64_t
size_limit(const struct mp4r_iter *it, uint32_t type)
{
	if (type == T('m', 'd', 'a', 't') || type == T('f', 'r', 'e', 'e') ||
	    type == T('s', 'k', 'i', 'p'))
		return it->lim.max_mdat;
	return it->lim.max_box;
}

int
mp4r_iter_next(struct mp4r_iter *it, struct mp4r_box *b)
{
	size_t left = it->off <= it->len ? it->len - it->off : 0;
	int rc;

	if (left == 0)
		return 0;
	rc = mp4r_box_header(it->p + it->off, left, b);
	if (rc == PROTO_AGAIN)
		return it->bounded ? PROTO_EBADMSG : PROTO_AGAIN;
	if (rc < 0)
		return rc;
	b->pos = it->base + it->off;
	b->depth = it->depth;
	if (b->size == 0) {
		if (it->depth > 0)
			return PROTO_EUNSUPPORTED;	/* "to the end of the file" inside a box */
		b->size = left;
		b->to_end = true;
	}
	if (b->size > size_limit(it, b->type))
		return PROTO_ETOOBIG;
	if (b->size > left)
		return it->bounded ? PROTO_EBADMSG : PROTO_AGAIN;
	b->body = it->p + it->off + b->hdr;
	b->body_len = (size_t)b->size - b->hdr;
	it->off += (size_t)b->size;
	return 1;
}

int
mp4r_iter_children(const struct mp4r_iter *parent, const struct mp4r_box *b, size_t skip,
    struct mp4r_iter *child)
{
	if (b->body == NULL || skip > b->body_len)
		return PROTO_EBADMSG;
	if (b->depth + 1 >= parent->lim.max_depth)
		return PROTO_ETOOBIG;
	*child = (struct mp4r_iter){
		.p = b->body + skip,
		.len = b->body_len - skip,
		.base = b->pos + b->hdr + skip,
		.depth = b->depth + 1,
		.bounded = true,
		.lim = parent->lim,
	};
	return 0;
}

/* --- where children start ---------------------------------------------------------- */

/* ISO meta is a FullBox; QuickTime's is a plain container. Both start with hdlr. */
static int
meta_offset(const struct mp4r_box *b)
{
	if (b->body_len >= 12 && proto_rd32(b->body + 8) == T('h', 'd', 'l', 'r'))
		return 4;
	if (b->body_len >= 8 && proto_rd32(b->body + 4) == T('h', 'd', 'l', 'r'))
		return 0;
	return 4;
}

/* AudioSampleEntry: 28 bytes; QuickTime sound description versions 1 and 2 add more. */
static int
audio_entry_offset(const struct mp4r_box *b)
{
	if (b->body_len < 28)
		return PROTO_EBADMSG;
	switch (proto_rd16(b->body + 8)) {
	case 1:
		return 28 + 16;
	case 2:
		return 28 + 36;
	default:
		return 28;
	}
}

/* metx: the sample entry head, then three NUL-terminated strings. */
static int
metx_offset(const struct mp4r_box *b)
{
	size_t off = 8;

	for (int i = 0; i < 3; i++) {
		const uint8_t *nul;

		if (off > b->body_len)
			return PROTO_EBADMSG;
		nul = memchr(b->body + off, 0, b->body_len - off);
		if (nul == NULL)
			return PROTO_EBADMSG;
		off = (size_t)(nul - b->body) + 1;
	}
	return (int)off;
}

static int
fixed_offset(uint32_t type)
{
	switch (type) {
	case T('s', 't', 's', 'd'):
	case T('d', 'r', 'e', 'f'):
		return 8;	/* FullBox + entry_count */
	case T('i', 'p', 'r', 'o'):
		return 6;	/* FullBox + protection_count */
	case T('a', 'v', 'c', '1'):
	case T('a', 'v', 'c', '3'):
	case T('h', 'v', 'c', '1'):
	case T('h', 'e', 'v', '1'):
	case T('m', 'p', '4', 'v'):
	case T('j', 'p', 'e', 'g'):
	case T('e', 'n', 'c', 'v'):
		return 78;	/* VisualSampleEntry */
	default:
		return 0;
	}
}

int
mp4r_child_offset(const struct mp4r_box *b)
{
	int off;

	switch (b->type) {
	case T('m', 'e', 't', 'a'):
		off = meta_offset(b);
		break;
	case T('m', 'p', '4', 'a'):
	case T('u', 'l', 'a', 'w'):
	case T('a', 'l', 'a', 'w'):
	case T('e', 'n', 'c', 'a'):
		off = audio_entry_offset(b);
		break;
	case T('m', 'e', 't', 'x'):
		off = metx_offset(b);
		break;
	default:
		off = fixed_offset(b->type);
		break;
	}
	return off >= 0 && (size_t)off > b->body_len ? PROTO_EBADMSG : off;
}

/* --- lookup by path ---------------------------------------------------------------- */

/* "type" or "type[n]", then '/' or the end. */
static bool
path_step(const char *path, uint32_t *type, unsigned *index, const char **rest)
{
	const char *p = path + 4;

	*index = 0;
	for (int i = 0; i < 4; i++)
		if (path[i] == '\0' || path[i] == '/' || path[i] == '[')
			return false;
	*type = T(path[0], path[1], path[2], path[3]);
	if (*p == '[') {
		unsigned n = 0;
		int digits = 0;

		for (p++; proto_is_digit(*p) && digits < 5; p++, digits++)
			n = n * 10 + (unsigned)(*p - '0');
		if (digits == 0 || *p++ != ']')
			return false;
		*index = n;
	}
	if (*p != '\0' && (*p != '/' || p[1] == '\0'))
		return false;	/* junk after the step, or a trailing '/' */
	*rest = *p == '/' ? p + 1 : p;
	return true;
}

static int
find_step(const struct mp4r_iter *in, const char *path, struct mp4r_box *out)
{
	struct mp4r_iter it = *in, child;
	struct mp4r_box b;
	const char *rest;
	uint32_t type;
	unsigned index, seen = 0;
	int rc, off;

	if (!path_step(path, &type, &index, &rest))
		return PROTO_EBADMSG;
	while ((rc = mp4r_iter_next(&it, &b)) == 1) {
		if (b.type != type || seen++ != index)
			continue;
		if (*rest == '\0') {
			*out = b;
			return 1;
		}
		if ((off = mp4r_child_offset(&b)) < 0)
			return off;
		if ((rc = mp4r_iter_children(&it, &b, (size_t)off, &child)) < 0)
			return rc;
		return find_step(&child, rest, out);
	}
	return rc;
}

int
mp4r_find(const uint8_t *p, size_t len, uint64_t base, const char *path,
    const struct mp4r_limits *lim, struct mp4r_box *out)
{
	struct mp4r_iter it;

	mp4r_iter_init(&it, p, len, base, lim);
	return find_step(&it, path, out);
}

int
mp4r_find_in(const struct mp4r_iter *parent, const struct mp4r_box *from, const char *path,
    struct mp4r_box *out)
{
	struct mp4r_iter child;
	int off = mp4r_child_offset(from), rc;

	if (off < 0)
		return off;
	if ((rc = mp4r_iter_children(parent, from, (size_t)off, &child)) < 0)
		return rc;
	return find_step(&child, path, out);
}

/* --- the init segment alone ------------------------------------------------------------ */

int
mp4r_movie_parse(const uint8_t *p, size_t len, uint64_t base, const struct mp4r_limits *lim,
    struct mp4r_movie *m)
{
	struct mp4r_iter it;
	struct mp4r_box b;
	uint32_t brand = 0;
	int rc;

	memset(m, 0, sizeof(*m));
	mp4r_iter_init(&it, p, len, base, lim);
	while ((rc = mp4r_iter_next(&it, &b)) == 1) {
		if (b.type == T('f', 't', 'y', 'p') && b.body_len >= 4)
			brand = proto_rd32(b.body);
		if (b.type == T('m', 'o', 'o', 'f'))
			return PROTO_EBADMSG;	/* a fragment before any moov */
		if (b.type != T('m', 'o', 'o', 'v'))
			continue;
		if ((rc = mp4r_moov_parse(&it, &b, m)) < 0)
			return rc;
		m->major_brand = brand;
		return it.off > INT32_MAX ? PROTO_ETOOBIG : (int)it.off;
	}
	return rc == 0 ? PROTO_AGAIN : rc;
}

/* --- scanning a recording ------------------------------------------------------------- */

const char *
mp4r_scan_state_str(enum mp4r_scan_state st)
{
	switch (st) {
	case MP4R_SCAN_HEAD:
		return "head";
	case MP4R_SCAN_BETWEEN:
		return "between units";
	case MP4R_SCAN_AFTER_PRFT:
		return "after prft";
	case MP4R_SCAN_AFTER_MOOF:
		return "after moof";
	}
	return "?";
}

void
mp4r_scan_init(struct mp4r_scan *s, const struct mp4r_limits *lim)
{
	memset(s, 0, sizeof(*s));
	mp4r_iter_init(&s->it, NULL, 0, 0, lim);
	s->state = MP4R_SCAN_HEAD;
}

/* Back to the start of the unit in progress: its boxes point into a buffer
 * that may not be there next call, so they are read again. */
static void
rewind_unit(struct mp4r_scan *s)
{
	if (s->state == MP4R_SCAN_AFTER_PRFT || s->state == MP4R_SCAN_AFTER_MOOF) {
		s->it.off = (size_t)s->frag.pos;
		s->state = s->have_movie ? MP4R_SCAN_BETWEEN : MP4R_SCAN_HEAD;
	}
}

static int
begin_fragment(struct mp4r_scan *s, const struct mp4r_box *b)
{
	memset(&s->frag, 0, sizeof(s->frag));
	s->frag.pos = b->pos;
	if (b->type == T('m', 'o', 'o', 'f'))
		return 0;
	s->state = MP4R_SCAN_AFTER_PRFT;
	s->frag.has_prft = true;
	return mp4r_prft_parse(b, &s->frag.prft);
}

/* A moof into s->frag, keeping what the prft before it left there. */
static int
read_moof(struct mp4r_scan *s, const struct mp4r_box *b)
{
	struct mp4r_frag keep = s->frag;
	int rc = mp4r_frag_parse(&s->it, b, s->have_movie ? &s->movie : NULL, &s->frag);

	s->frag.pos = keep.pos;
	s->frag.has_prft = keep.has_prft;
	s->frag.prft = keep.prft;
	s->state = MP4R_SCAN_AFTER_MOOF;
	return rc;
}

/* At a unit boundary: 1 when |b| is a whole unit, 0 when it opens a fragment. */
static int
on_boundary(struct mp4r_scan *s, const struct mp4r_box *b)
{
	int rc;

	switch (b->type) {
	case T('m', 'o', 'o', 'v'):
		if (s->state != MP4R_SCAN_HEAD)
			return PROTO_EBADMSG;	/* a second init segment */
		if ((rc = mp4r_moov_parse(&s->it, b, &s->movie)) < 0)
			return rc;
		s->have_movie = true;
		s->state = MP4R_SCAN_BETWEEN;
		s->unit = MP4R_UNIT_INIT;
		return 1;
	case T('f', 't', 'y', 'p'):
		if (s->state != MP4R_SCAN_HEAD)
			return PROTO_EBADMSG;
		if (b->body_len >= 4)
			s->movie.major_brand = proto_rd32(b->body);
		break;
	case T('p', 'r', 'f', 't'):
		return begin_fragment(s, b);
	case T('m', 'o', 'o', 'f'):
		if ((rc = begin_fragment(s, b)) < 0)
			return rc;
		return read_moof(s, b);
	}
	s->unit = MP4R_UNIT_OTHER;
	return 1;
}

static int
on_box(struct mp4r_scan *s, const struct mp4r_box *b)
{
	int rc;

	switch (s->state) {
	case MP4R_SCAN_HEAD:
	case MP4R_SCAN_BETWEEN:
		return on_boundary(s, b);
	case MP4R_SCAN_AFTER_PRFT:
		return b->type == T('m', 'o', 'o', 'f') ? read_moof(s, b) : PROTO_EBADMSG;
	case MP4R_SCAN_AFTER_MOOF:
		if (b->type != T('m', 'd', 'a', 't'))
			return PROTO_EBADMSG;
		if ((rc = mp4r_frag_check_mdat(&s->frag, b)) < 0)
			return rc;
		s->state = MP4R_SCAN_BETWEEN;
		s->fragments++;
		s->unit = MP4R_UNIT_FRAGMENT;
		return 1;
	}
	return PROTO_EBADMSG;
}

int
mp4r_scan_next(struct mp4r_scan *s, const uint8_t *p, size_t len)
{
	int rc;

	mp4r_iter_feed(&s->it, p, len);
	s->unit = MP4R_UNIT_NONE;
	for (;;) {
		size_t at = s->it.off;

		rc = mp4r_iter_next(&s->it, &s->box);
		if (rc == 1 && (rc = on_box(s, &s->box)) == 0)
			continue;	/* prft or moof: the fragment goes on */
		if (rc == 1) {
			s->good_end = s->it.base + s->it.off;
			return 1;
		}
		if (rc == 0 && s->state != MP4R_SCAN_AFTER_PRFT && s->state != MP4R_SCAN_AFTER_MOOF)
			return 0;
		if (rc < 0 && rc != PROTO_AGAIN)
			s->bad_pos = s->it.base + at;
		rewind_unit(s);
		return rc == 0 ? PROTO_AGAIN : rc;
	}
}
