/*
 * mp4r_moov.c - the init segment of the MP4 reader (mp4r.h): mvhd, each
 * trak's tkhd/mdhd/hdlr and its first sample entry with the codec
 * configuration (avcC, hvcC, esds, metx strings), and the trex defaults.
 */
#include "mp4r.h"

#include <string.h>

#define T(a, b, c, d) MP4_FOURCC(a, b, c, d)

static uint64_t
rd64(const uint8_t *p)
{
	return (uint64_t)proto_rd32(p) << 32 | proto_rd32(p + 4);
}

/* The FullBox fields at |v0| (version 0) or |v1| bytes into |b|, 4 or 8 wide. */
static bool
versioned_field(const struct mp4r_box *b, size_t v0, size_t v1, uint64_t *out, bool wide_in_v1)
{
	bool v = b->body_len >= 4 && b->body[0] == 1;
	size_t at = v ? v1 : v0, w = v && wide_in_v1 ? 8 : 4;

	if (b->body_len < at + w)
		return false;
	*out = w == 8 ? rd64(b->body + at) : proto_rd32(b->body + at);
	return true;
}

/* --- codec configuration ----------------------------------------------------------- */

/* A list of |count| NAL units, each behind a 16-bit length. */
static int
nal_list(const uint8_t *p, size_t len, size_t *off, unsigned count, struct mp4_span *keep,
    int *nkeep)
{
	for (unsigned i = 0; i < count; i++) {
		size_t n;

		if (len - *off < 2)
			return PROTO_EBADMSG;
		n = proto_rd16(p + *off);
		*off += 2;
		if (n > len - *off)
			return PROTO_EBADMSG;
		if (keep != NULL && *nkeep < MP4R_MAX_PS && n > 0)
			keep[(*nkeep)++] = (struct mp4_span){ p + *off, n };
		*off += n;
	}
	return 0;
}

static int
length_size(uint8_t minus_one)
{
	int n = (minus_one & 3) + 1;

	return n == 3 ? PROTO_EBADMSG : n;
}

static int
parse_avcc(const struct mp4r_box *b, struct mp4r_track *t)
{
	const uint8_t *p = b->body;
	size_t len = b->body_len, off = 6;
	int rc;

	if (len < 7 || p[0] != 1)
		return PROTO_EBADMSG;
	if ((t->nal_length_size = length_size(p[4])) < 0)
		return t->nal_length_size;
	if ((rc = nal_list(p, len, &off, p[5] & 0x1f, t->sps, &t->nsps)) < 0)
		return rc;
	if (off >= len)
		return PROTO_EBADMSG;
	off++;
	return nal_list(p, len, &off, p[off - 1], t->pps, &t->npps);
}

static int
parse_hvcc(const struct mp4r_box *b, struct mp4r_track *t)
{
	const uint8_t *p = b->body;
	size_t len = b->body_len, off = 23;
	int rc;

	if (len < 23 || p[0] > 1)
		return PROTO_EBADMSG;	/* version 0 was written by early muxers */
	if ((t->nal_length_size = length_size(p[21])) < 0)
		return t->nal_length_size;
	for (unsigned a = 0; a < p[22]; a++) {
		struct mp4_span *keep = NULL;
		int *nkeep = NULL, type;

		if (len - off < 3)
			return PROTO_EBADMSG;
		type = p[off] & 0x3f;
		if (type >= 32 && type <= 34) {
			keep = type == 32 ? t->vps : type == 33 ? t->sps : t->pps;
			nkeep = type == 32 ? &t->nvps : type == 33 ? &t->nsps : &t->npps;
		}
		off += 3;
		if ((rc = nal_list(p, len, &off, proto_rd16(p + off - 2), keep, nkeep)) < 0)
			return rc;
	}
	return 0;
}

/* One 14496-1 descriptor header at p[*off]: its tag and a size that fits. */
static int
descriptor(const uint8_t *p, size_t len, size_t *off, uint8_t *tag, size_t *size)
{
	size_t n = 0;
	int i;

	if (*off >= len)
		return PROTO_EBADMSG;
	*tag = p[(*off)++];
	for (i = 0; i < 4; i++) {
		if (*off >= len)
			return PROTO_EBADMSG;
		n = n << 7 | (p[*off] & 0x7f);
		if ((p[(*off)++] & 0x80) == 0)
			break;
	}
	if (i == 4 || n > len - *off)
		return PROTO_EBADMSG;
	*size = n;
	return 0;
}

/* The descriptor with |want| among those of p[off, len), as a sub-range. */
static int
find_descriptor(const uint8_t *p, size_t len, size_t off, uint8_t want, struct mp4_span *out)
{
	while (off < len) {
		uint8_t tag;
		size_t n;
		int rc = descriptor(p, len, &off, &tag, &n);

		if (rc < 0)
			return rc;
		if (tag == want) {
			*out = (struct mp4_span){ p + off, n };
			return 1;
		}
		off += n;
	}
	return 0;
}

/* Past ES_ID, the flags and what they announce (14496-1 7.2.6.5). */
static int
es_header_size(const struct mp4_span *es)
{
	size_t off = 3;
	uint8_t flags;

	if (es->len < 3)
		return PROTO_EBADMSG;
	flags = es->p[2];
	if (flags & 0x80)
		off += 2;
	if (flags & 0x40) {
		if (off >= es->len)
			return PROTO_EBADMSG;
		off += 1 + es->p[off];
	}
	if (flags & 0x20)
		off += 2;
	return off > es->len ? PROTO_EBADMSG : (int)off;
}

static int
parse_esds(const struct mp4r_box *b, struct mp4r_track *t)
{
	struct mp4_span es, dcd, dsi;
	int rc, off;

	if (b->body_len < 4)
		return PROTO_EBADMSG;
	t->config = (struct mp4_span){ b->body, b->body_len };
	if ((rc = find_descriptor(b->body, b->body_len, 4, 0x03, &es)) <= 0)
		return rc < 0 ? rc : PROTO_EBADMSG;
	if ((off = es_header_size(&es)) < 0)
		return off;
	if ((rc = find_descriptor(es.p, es.len, (size_t)off, 0x04, &dcd)) <= 0)
		return rc < 0 ? rc : PROTO_EBADMSG;
	if (dcd.len < 13)
		return PROTO_EBADMSG;
	t->object_type = dcd.p[0];
	if ((rc = find_descriptor(dcd.p, dcd.len, 13, 0x05, &dsi)) < 0)
		return rc;
	if (rc == 1)
		t->asc = dsi;
	return 0;
}

/* --- sample entries ------------------------------------------------------------ */

/* The configuration box |type| inside the sample entry, through |fn|. */
static int
entry_config(const struct mp4r_iter *it, const struct mp4r_box *entry, const char *type,
    struct mp4r_track *t, int (*fn)(const struct mp4r_box *, struct mp4r_track *))
{
	struct mp4r_box b;
	int rc = mp4r_find_in(it, entry, type, &b);

	if (rc <= 0)
		return rc < 0 ? rc : PROTO_EBADMSG;	/* required */
	if (fn != parse_esds)
		t->config = (struct mp4_span){ b.body, b.body_len };
	return fn(&b, t);
}

static int
visual_entry(const struct mp4r_box *e, struct mp4r_track *t)
{
	if (e->body_len < 78)
		return PROTO_EBADMSG;
	t->width = proto_rd16(e->body + 24);
	t->height = proto_rd16(e->body + 26);
	return 0;
}

static int
audio_entry(const struct mp4r_box *e, struct mp4r_track *t)
{
	if (e->body_len < 28)
		return PROTO_EBADMSG;
	t->channels = proto_rd16(e->body + 16);
	t->sample_rate = proto_rd32(e->body + 24) >> 16;
	return 0;
}

/* NUL-terminated string at *off of the entry, as a span without the NUL. */
static int
entry_string(const struct mp4r_box *e, size_t *off, struct mp4_span *out)
{
	const uint8_t *nul;

	if (*off >= e->body_len || (nul = memchr(e->body + *off, 0, e->body_len - *off)) == NULL)
		return PROTO_EBADMSG;
	*out = (struct mp4_span){ e->body + *off, (size_t)(nul - (e->body + *off)) };
	*off += out->len + 1;
	return 0;
}

static int
metx_entry(const struct mp4r_box *e, struct mp4r_track *t)
{
	struct mp4_span schema;
	size_t off = 8;
	int rc;

	if ((rc = entry_string(e, &off, &t->meta_encoding)) < 0 ||
	    (rc = entry_string(e, &off, &t->meta_namespace)) < 0)
		return rc;
	return entry_string(e, &off, &schema);
}

static enum mp4_codec
esds_codec(uint8_t object_type)
{
	if (object_type == 0x40 || (object_type >= 0x66 && object_type <= 0x68))
		return MP4_CODEC_AAC;	/* MPEG-4 audio, MPEG-2 AAC profiles */
	return object_type == 0x6c ? MP4_CODEC_JPEG : MP4_CODEC_UNKNOWN;
}

static int
sample_entry(const struct mp4r_iter *it, const struct mp4r_box *e, struct mp4r_track *t)
{
	int rc;

	t->entry_type = e->type;
	switch (e->type) {
	case T('a', 'v', 'c', '1'):
	case T('a', 'v', 'c', '3'):
		t->codec = MP4_CODEC_H264;
		return (rc = visual_entry(e, t)) < 0 ? rc : entry_config(it, e, "avcC", t, parse_avcc);
	case T('h', 'v', 'c', '1'):
	case T('h', 'e', 'v', '1'):
		t->codec = MP4_CODEC_H265;
		return (rc = visual_entry(e, t)) < 0 ? rc : entry_config(it, e, "hvcC", t, parse_hvcc);
	case T('m', 'p', '4', 'v'):
	case T('m', 'p', '4', 'a'):
		rc = e->type == T('m', 'p', '4', 'v') ? visual_entry(e, t) : audio_entry(e, t);
		if (rc < 0 || (rc = entry_config(it, e, "esds", t, parse_esds)) < 0)
			return rc;
		t->codec = esds_codec(t->object_type);
		return 0;
	case T('j', 'p', 'e', 'g'):
		t->codec = MP4_CODEC_JPEG;
		return visual_entry(e, t);
	case T('u', 'l', 'a', 'w'):
	case T('a', 'l', 'a', 'w'):
		t->codec = e->type == T('u', 'l', 'a', 'w') ? MP4_CODEC_PCMU : MP4_CODEC_PCMA;
		return audio_entry(e, t);
	case T('m', 'e', 't', 'x'):
		t->codec = MP4_CODEC_ONVIF_META;
		return metx_entry(e, t);
	}
	t->codec = MP4_CODEC_UNKNOWN;
	return 0;
}

/* --- trak ------------------------------------------------------------------------- */

static int
find_required(const struct mp4r_iter *it, const struct mp4r_box *in, const char *path,
    struct mp4r_box *out)
{
	int rc = mp4r_find_in(it, in, path, out);

	return rc == 0 ? PROTO_EBADMSG : rc;
}

/* stsd's first entry (a track has one description per source format; we read one). */
static int
parse_stsd(const struct mp4r_iter *it, const struct mp4r_box *stsd, struct mp4r_track *t)
{
	struct mp4r_iter entries;
	struct mp4r_box e;
	int rc;

	if (stsd->body_len < 8 || proto_rd32(stsd->body + 4) == 0)
		return PROTO_EBADMSG;
	if ((rc = mp4r_iter_children(it, stsd, 8, &entries)) < 0)
		return rc;
	if ((rc = mp4r_iter_next(&entries, &e)) <= 0)
		return rc < 0 ? rc : PROTO_EBADMSG;
	return sample_entry(&entries, &e, t);
}

/* |it| (any iterator with the caller's limits) reads inside |mdia|. */
static int
parse_media(const struct mp4r_iter *it, const struct mp4r_box *mdia, struct mp4r_track *t)
{
	struct mp4r_box b;
	uint64_t v;
	int rc;

	if ((rc = find_required(it, mdia, "mdhd", &b)) < 0)
		return rc;
	if (!versioned_field(&b, 12, 20, &v, false) || v == 0)
		return PROTO_EBADMSG;
	t->timescale = (uint32_t)v;
	if ((rc = find_required(it, mdia, "hdlr", &b)) < 0)
		return rc;
	if (b.body_len < 12)
		return PROTO_EBADMSG;
	t->handler = proto_rd32(b.body + 8);
	if ((rc = find_required(it, mdia, "minf/stbl/stsd", &b)) < 0)
		return rc;
	return parse_stsd(it, &b, t);
}

static int
parse_trak(const struct mp4r_iter *it, const struct mp4r_box *trak, struct mp4r_track *t)
{
	struct mp4r_box b;
	uint64_t v;
	int rc;

	memset(t, 0, sizeof(*t));
	if ((rc = find_required(it, trak, "tkhd", &b)) < 0)
		return rc;
	if (!versioned_field(&b, 12, 20, &v, false) || v == 0)
		return PROTO_EBADMSG;
	t->track_id = (uint32_t)v;
	if ((rc = find_required(it, trak, "mdia", &b)) < 0)
		return rc;
	return parse_media(it, &b, t);
}

/* --- moov ------------------------------------------------------------------------ */

static struct mp4r_track *
track_by_id(struct mp4r_movie *m, uint32_t id)
{
	for (int i = 0; i < m->ntracks; i++)
		if (m->track[i].track_id == id)
			return &m->track[i];
	return NULL;
}

const struct mp4r_track *
mp4r_movie_track(const struct mp4r_movie *m, uint32_t id)
{
	return track_by_id((struct mp4r_movie *)m, id);
}

static int
parse_trex(const struct mp4r_box *b, struct mp4r_movie *m)
{
	struct mp4r_track *t;

	if (b->body_len < 24)
		return PROTO_EBADMSG;
	if ((t = track_by_id(m, proto_rd32(b->body + 4))) == NULL)
		return 0;	/* defaults of a track that is not there */
	t->has_trex = true;
	t->trex_sdi = proto_rd32(b->body + 8);
	t->trex_duration = proto_rd32(b->body + 12);
	t->trex_size = proto_rd32(b->body + 16);
	t->trex_flags = proto_rd32(b->body + 20);
	return 0;
}

static int
parse_mvex(const struct mp4r_iter *moov_it, const struct mp4r_box *mvex, struct mp4r_movie *m)
{
	struct mp4r_iter it;
	struct mp4r_box b;
	int rc;

	m->fragmented = true;
	if ((rc = mp4r_iter_children(moov_it, mvex, 0, &it)) < 0)
		return rc;
	while ((rc = mp4r_iter_next(&it, &b)) == 1)
		if (b.type == T('t', 'r', 'e', 'x') && (rc = parse_trex(&b, m)) < 0)
			return rc;
	return rc;
}

static int
parse_mvhd(const struct mp4r_box *b, struct mp4r_movie *m)
{
	uint64_t v;

	if (!versioned_field(b, 12, 20, &v, false) || v == 0)
		return PROTO_EBADMSG;
	m->timescale = (uint32_t)v;
	if (!versioned_field(b, 16, 24, &m->duration, true))
		return PROTO_EBADMSG;
	return 0;
}

static int
add_trak(const struct mp4r_iter *it, const struct mp4r_box *b, struct mp4r_movie *m)
{
	int rc;

	if (m->ntracks >= it->lim.max_tracks)
		return PROTO_ETOOBIG;
	if ((rc = parse_trak(it, b, &m->track[m->ntracks])) < 0)
		return rc;
	if (track_by_id(m, m->track[m->ntracks].track_id) != NULL)
		return PROTO_EBADMSG;	/* two tracks with one ID */
	m->ntracks++;
	return 0;
}

static int
moov_child(int pass, const struct mp4r_iter *it, const struct mp4r_box *b, struct mp4r_movie *m,
    bool *have_mvhd)
{
	if (pass == 0 && b->type == T('m', 'v', 'h', 'd')) {
		*have_mvhd = true;
		return parse_mvhd(b, m);
	}
	if (pass == 0 && b->type == T('t', 'r', 'a', 'k'))
		return add_trak(it, b, m);
	if (pass == 1 && b->type == T('m', 'v', 'e', 'x'))
		return parse_mvex(it, b, m);
	return 0;
}

/* Two passes: trex names tracks, which may come after mvex. */
int
mp4r_moov_parse(const struct mp4r_iter *top, const struct mp4r_box *moov, struct mp4r_movie *m)
{
	struct mp4r_iter it;
	struct mp4r_box b;
	bool have_mvhd = false;
	int rc;

	m->ntracks = 0;
	m->fragmented = false;
	m->moov_pos = moov->pos;
	m->moov_end = moov->pos + moov->size;
	for (int pass = 0; pass < 2; pass++) {
		if ((rc = mp4r_iter_children(top, moov, 0, &it)) < 0)
			return rc;
		while ((rc = mp4r_iter_next(&it, &b)) == 1)
			if ((rc = moov_child(pass, &it, &b, m, &have_mvhd)) < 0)
				return rc;
		if (rc < 0)
			return rc;
	}
	return have_mvhd ? 0 : PROTO_EBADMSG;
}
