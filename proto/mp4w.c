/*
 * mp4w.c - the output buffer, box primitives and media fragments of the
 * MP4 writer (mp4w.h). The init segment is in mp4w_moov.c.
 *
 * A fragment is staged: samples are converted and copied into w->payload
 * as they come (any track order), and mp4w_frag_end() writes prft, moof
 * and mdat in one go, with each track's samples contiguous so that one
 * trun per traf describes them.
 */
#include "mp4w_int.h"

#include <stdlib.h>
#include <string.h>

/* --- buffer -------------------------------------------------------------------- */

void
mp4w_buf_fixed(struct mp4w_buf *b, uint8_t *mem, size_t cap)
{
	*b = (struct mp4w_buf){ .p = mem, .cap = cap, .max = cap };
}

void
mp4w_buf_growing(struct mp4w_buf *b, size_t max)
{
	*b = (struct mp4w_buf){ .max = max, .growing = true };
}

void
mp4w_buf_reset(struct mp4w_buf *b)
{
	b->len = 0;
	b->err = 0;
}

void
mp4w_buf_free(struct mp4w_buf *b)
{
	if (b->growing)
		free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

int
mp4w_buf_result(const struct mp4w_buf *b)
{
	if (b->err != 0)
		return b->err;
	return b->len > INT32_MAX ? PROTO_ETOOBIG : (int)b->len;
}

/* Room for |n| more bytes, growing when allowed; false (and b->err) if not. */
static bool
reserve(struct mp4w_buf *b, size_t n)
{
	size_t want;
	uint8_t *p;

	if (b->err != 0)
		return false;
	if (b->cap - b->len >= n)
		return true;
	if (!b->growing || n > b->max || b->len > b->max - n) {
		b->err = PROTO_ETOOBIG;
		return false;
	}
	want = b->cap < 4096 ? 4096 : b->cap;
	while (want < b->len + n)
		want = want > b->max / 2 ? b->max : want * 2;
	if ((p = realloc(b->p, want)) == NULL) {
		b->err = PROTO_ENOMEM;
		return false;
	}
	b->p = p;
	b->cap = want;
	return true;
}

void
mp4w_put(struct mp4w_buf *b, const void *p, size_t n)
{
	if (n == 0 || !reserve(b, n))
		return;
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void
mp4w_put_zeros(struct mp4w_buf *b, size_t n)
{
	if (n == 0 || !reserve(b, n))
		return;
	memset(b->p + b->len, 0, n);
	b->len += n;
}

void
mp4w_put8(struct mp4w_buf *b, uint8_t v)
{
	mp4w_put(b, &v, 1);
}

void
mp4w_put16(struct mp4w_buf *b, uint16_t v)
{
	uint8_t x[2];

	proto_wr16(x, v);
	mp4w_put(b, x, 2);
}

void
mp4w_put32(struct mp4w_buf *b, uint32_t v)
{
	uint8_t x[4];

	proto_wr32(x, v);
	mp4w_put(b, x, 4);
}

void
mp4w_put64(struct mp4w_buf *b, uint64_t v)
{
	mp4w_put32(b, (uint32_t)(v >> 32));
	mp4w_put32(b, (uint32_t)v);
}

void
mp4w_put_fourcc(struct mp4w_buf *b, const char type[4])
{
	mp4w_put(b, type, 4);
}

void
mp4w_put_cstring(struct mp4w_buf *b, const char *s)
{
	mp4w_put(b, s, strlen(s) + 1);
}

size_t
mp4w_box_open(struct mp4w_buf *b, const char type[4])
{
	size_t at = b->len;

	mp4w_put32(b, 0);
	mp4w_put_fourcc(b, type);
	return at;
}

size_t
mp4w_fullbox_open(struct mp4w_buf *b, const char type[4], uint8_t version, uint32_t flags)
{
	size_t at = mp4w_box_open(b, type);

	mp4w_put32(b, (uint32_t)version << 24 | (flags & 0xffffff));
	return at;
}

void
mp4w_box_close(struct mp4w_buf *b, size_t at)
{
	if (b->err != 0)
		return;
	if (b->len - at > UINT32_MAX) {
		b->err = PROTO_ETOOBIG;
		return;
	}
	proto_wr32(b->p + at, (uint32_t)(b->len - at));
}

/* --- writer state --------------------------------------------------------------- */

const char *
mp4w_state_str(enum mp4w_state s)
{
	switch (s) {
	case MP4W_BETWEEN:
		return "between fragments";
	case MP4W_IN_FRAGMENT:
		return "in a fragment";
	}
	return "?";
}

static int
apply_limits(struct mp4w_limits *lim, const struct mp4w_limits *in)
{
	*lim = in != NULL ? *in : (struct mp4w_limits){ 0 };
	if (lim->max_tracks == 0)
		lim->max_tracks = MP4_MAX_TRACKS;
	if (lim->max_samples == 0)
		lim->max_samples = MP4W_MAX_SAMPLES_DEFAULT;
	if (lim->max_frag_bytes == 0)
		lim->max_frag_bytes = MP4W_MAX_FRAG_DEFAULT;
	if (lim->max_tracks < 0 || lim->max_tracks > MP4_MAX_TRACKS ||
	    lim->max_samples > (1u << 20) || lim->max_frag_bytes > MP4W_MAX_FRAG)
		return PROTO_ETOOBIG;
	return 0;
}

int
mp4w_init(struct mp4w *w, const struct mp4w_movie *mv, const struct mp4w_limits *lim)
{
	int rc;

	memset(w, 0, sizeof(*w));
	if ((rc = apply_limits(&w->lim, lim)) < 0)
		return rc;
	if (mv->ntracks < 1)
		return PROTO_EBADMSG;
	if (mv->ntracks > w->lim.max_tracks)
		return PROTO_ETOOBIG;
	for (int i = 0; i < mv->ntracks; i++) {
		if ((rc = mp4w_track_check(&mv->tracks[i])) < 0)
			return rc;
		w->track[i].codec = mv->tracks[i].codec;
		w->track[i].samples_nal4 = mv->tracks[i].samples_nal4;
	}
	w->ntracks = mv->ntracks;
	if ((w->entry = calloc(w->lim.max_samples, sizeof(*w->entry))) == NULL)
		return PROTO_ENOMEM;
	mp4w_buf_growing(&w->payload, w->lim.max_frag_bytes);
	w->state = MP4W_BETWEEN;
	return 0;
}

void
mp4w_free(struct mp4w *w)
{
	free(w->entry);
	w->entry = NULL;
	mp4w_buf_free(&w->payload);
}

int
mp4w_set_decode_time(struct mp4w *w, int track, uint64_t dts)
{
	if (track < 0 || track >= w->ntracks || w->track[track].nsamples > 0)
		return PROTO_EBADMSG;
	w->track[track].next_dts = dts;
	return 0;
}

int
mp4w_frag_begin(struct mp4w *w, const struct mp4w_prft *prft)
{
	if (w->state != MP4W_BETWEEN)
		return PROTO_EBADMSG;
	if (prft != NULL && (prft->track < 0 || prft->track >= w->ntracks))
		return PROTO_EBADMSG;
	w->has_prft = prft != NULL;
	if (prft != NULL)
		w->prft = *prft;
	w->state = MP4W_IN_FRAGMENT;
	return 0;
}

static void
drop_staged(struct mp4w *w)
{
	w->nentries = 0;
	mp4w_buf_reset(&w->payload);
	for (int i = 0; i < w->ntracks; i++)
		w->track[i].nsamples = 0;
}

void
mp4w_frag_abort(struct mp4w *w)
{
	drop_staged(w);
	w->has_prft = false;
	w->state = MP4W_BETWEEN;
}

/* --- sizes ---------------------------------------------------------------------- */

#define PRFT_SIZE	32	/* version 1 */
#define MOOF_FIXED	(8 + 16)	/* moof header, mfhd */
#define TRAF_FIXED	(8 + 16 + 20 + 20)	/* traf header, tfhd, tfdt v1, trun head */
#define TRUN_ENTRY_MAX	16
#define MDAT_HEADER	8

/* The largest fragment the staged samples plus |extra| payload bytes in one
 * more sample could make. */
static size_t
frag_bound(const struct mp4w *w, size_t extra)
{
	return PRFT_SIZE + MOOF_FIXED + (size_t)w->ntracks * TRAF_FIXED +
	    (size_t)(w->nentries + 1) * TRUN_ENTRY_MAX + MDAT_HEADER + w->payload.len + extra;
}

/* --- adding samples -------------------------------------------------------------- */

/* The size |s| has once stored, after checking its NAL structure. */
static int
stored_size(const struct mp4w_trackstate *t, const struct mp4w_sample *s)
{
	int rc;

	if (!mp4_codec_is_nal(t->codec))
		return (int)s->size;
	if (t->samples_nal4)
		return (rc = mp4_nal_to_annexb(s->data, s->size, 4, NULL, 0)) < 0 ? rc : (int)s->size;
	return mp4_annexb_to_nal4(s->data, s->size, NULL, 0);
}

static void
stage_copy(struct mp4w *w, const struct mp4w_trackstate *t, const struct mp4w_sample *s, size_t n)
{
	uint8_t *dst = w->payload.p + w->payload.len;

	if (mp4_codec_is_nal(t->codec) && !t->samples_nal4)
		(void)mp4_annexb_to_nal4(s->data, s->size, dst, n);	/* measured above */
	else
		memcpy(dst, s->data, n);
	w->payload.len += n;
}

static void
note_entry(struct mp4w *w, const struct mp4w_sample *s, size_t n, size_t off)
{
	struct mp4w_trackstate *t = &w->track[s->track];
	int64_t pts = (int64_t)t->next_dts + s->pts_offset;	/* of the first sample */

	if (t->nsamples++ == 0)
		t->first_pts = pts < 0 ? 0 : (uint64_t)pts;
	w->entry[w->nentries++] = (struct mp4w_entry){
		.track = (uint8_t)s->track,
		.sync = mp4w_always_sync(t->codec) || s->keyframe,
		.size = (uint32_t)n,
		.duration = s->duration,
		.cto = s->pts_offset,
		.off = off,
	};
}

int
mp4w_frag_add(struct mp4w *w, const struct mp4w_sample *s)
{
	const struct mp4w_trackstate *t;
	size_t off = w->payload.len;
	int n;

	if (w->state != MP4W_IN_FRAGMENT || s->track < 0 || s->track >= w->ntracks ||
	    s->data == NULL || s->size == 0)
		return PROTO_EBADMSG;
	t = &w->track[s->track];
	if (s->size > MP4W_MAX_FRAG)
		return PROTO_ETOOBIG;
	if ((n = stored_size(t, s)) < 0)
		return n;
	if (w->nentries >= w->lim.max_samples || frag_bound(w, (size_t)n) > w->lim.max_frag_bytes)
		return PROTO_ETOOBIG;
	if (!reserve(&w->payload, (size_t)n)) {
		n = w->payload.err;
		w->payload.err = 0;
		return n;
	}
	stage_copy(w, t, s, (size_t)n);
	note_entry(w, s, (size_t)n, off);
	return 0;
}

/* --- writing a fragment ------------------------------------------------------------ */

/* What one track's traf will hold. */
struct traf_plan {
	uint32_t n;
	size_t bytes;
	uint64_t duration;
	bool cto, negative;
};

static void
plan_trafs(const struct mp4w *w, struct traf_plan plan[MP4_MAX_TRACKS])
{
	memset(plan, 0, sizeof(*plan) * MP4_MAX_TRACKS);
	for (uint32_t i = 0; i < w->nentries; i++) {
		const struct mp4w_entry *e = &w->entry[i];
		struct traf_plan *p = &plan[e->track];

		p->n++;
		p->bytes += e->size;
		p->duration += e->duration;
		p->cto = p->cto || e->cto != 0;
		p->negative = p->negative || e->cto < 0;
	}
}

static void
write_prft(const struct mp4w *w, struct mp4w_buf *out)
{
	size_t at = mp4w_fullbox_open(out, "prft", 1, w->prft.flags);

	mp4w_put32(out, (uint32_t)w->prft.track + 1);
	mp4w_put64(out, w->prft.ntp);
	mp4w_put64(out, w->track[w->prft.track].first_pts);
	mp4w_box_close(out, at);
}

#define TFHD_DEFAULT_BASE_IS_MOOF	0x020000u
#define TRUN_DATA_OFFSET		0x000001u
#define TRUN_PER_SAMPLE			0x000700u	/* duration, size, flags */
#define TRUN_CTO			0x000800u

static void
write_trun_entries(const struct mp4w *w, struct mp4w_buf *out, int track, bool cto)
{
	for (uint32_t i = 0; i < w->nentries; i++) {
		const struct mp4w_entry *e = &w->entry[i];

		if (e->track != track)
			continue;
		mp4w_put32(out, e->duration);
		mp4w_put32(out, e->size);
		mp4w_put32(out, e->sync ? MP4_FLAGS_SYNC : MP4_FLAGS_NON_SYNC);
		if (cto)
			mp4w_put32(out, (uint32_t)e->cto);
	}
}

/* One traf; returns where its trun's data_offset is, to be patched. */
static size_t
write_traf(const struct mp4w *w, struct mp4w_buf *out, int track, const struct traf_plan *p)
{
	size_t traf = mp4w_box_open(out, "traf"), box, data_offset;
	uint32_t flags = TRUN_DATA_OFFSET | TRUN_PER_SAMPLE | (p->cto ? TRUN_CTO : 0);

	box = mp4w_fullbox_open(out, "tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF);
	mp4w_put32(out, (uint32_t)track + 1);
	mp4w_box_close(out, box);
	box = mp4w_fullbox_open(out, "tfdt", 1, 0);
	mp4w_put64(out, w->track[track].next_dts);
	mp4w_box_close(out, box);
	box = mp4w_fullbox_open(out, "trun", p->negative ? 1 : 0, flags);
	mp4w_put32(out, p->n);
	data_offset = out->len;
	mp4w_put32(out, 0);
	write_trun_entries(w, out, track, p->cto);
	mp4w_box_close(out, box);
	mp4w_box_close(out, traf);
	return data_offset;
}

/* mdat: each track's samples, in track order. */
static void
write_mdat(const struct mp4w *w, struct mp4w_buf *out, const struct traf_plan plan[])
{
	size_t total = 0;

	for (int t = 0; t < w->ntracks; t++)
		total += plan[t].bytes;
	mp4w_put32(out, (uint32_t)(MDAT_HEADER + total));	/* total < MP4W_MAX_FRAG */
	mp4w_put_fourcc(out, "mdat");
	for (int t = 0; t < w->ntracks; t++)
		for (uint32_t i = 0; i < w->nentries; i++)
			if (w->entry[i].track == t)
				mp4w_put(out, w->payload.p + w->entry[i].off, w->entry[i].size);
}

/* Points each trun at its track's first byte in mdat (offsets from moof). */
static void
patch_data_offsets(const struct mp4w *w, struct mp4w_buf *out, size_t moof_at, size_t mdat_at,
    const size_t at[], const struct traf_plan plan[])
{
	size_t off = mdat_at + MDAT_HEADER - moof_at;

	if (out->err != 0)
		return;
	for (int t = 0; t < w->ntracks; t++) {
		if (plan[t].n == 0)
			continue;
		proto_wr32(out->p + at[t], (uint32_t)off);
		off += plan[t].bytes;
	}
}

static void
note_written(struct mp4w *w, const struct traf_plan plan[], size_t start, size_t moof_at,
    size_t mdat_at, size_t end)
{
	w->seq++;
	w->last = (struct mp4w_frag_info){
		.seq = w->seq,
		.size = end - start,
		.moof_off = moof_at - start,
		.mdat_off = mdat_at - start,
	};
	for (int t = 0; t < w->ntracks; t++) {
		w->last.base_dts[t] = w->track[t].next_dts;
		w->last.nsamples[t] = plan[t].n;
		w->track[t].next_dts += plan[t].duration;
	}
	drop_staged(w);
	w->has_prft = false;
	w->state = MP4W_BETWEEN;
}

int
mp4w_frag_end(struct mp4w *w, struct mp4w_buf *out)
{
	struct traf_plan plan[MP4_MAX_TRACKS];
	size_t start = out->len, moof_at, mdat_at, at[MP4_MAX_TRACKS] = { 0 }, box;
	int rc;

	if (w->state != MP4W_IN_FRAGMENT || w->nentries == 0 ||
	    (w->has_prft && w->track[w->prft.track].nsamples == 0))
		return PROTO_EBADMSG;
	if (out->err != 0)
		return out->err;
	plan_trafs(w, plan);
	if (w->has_prft)
		write_prft(w, out);
	moof_at = mp4w_box_open(out, "moof");
	box = mp4w_fullbox_open(out, "mfhd", 0, 0);
	mp4w_put32(out, w->seq + 1);
	mp4w_box_close(out, box);
	for (int t = 0; t < w->ntracks; t++)
		if (plan[t].n > 0)
			at[t] = write_traf(w, out, t, &plan[t]);
	mp4w_box_close(out, moof_at);
	mdat_at = out->len;
	write_mdat(w, out, plan);
	patch_data_offsets(w, out, moof_at, mdat_at, at, plan);
	if (out->err != 0 || out->len - start > w->lim.max_frag_bytes) {
		rc = out->err != 0 ? out->err : PROTO_ETOOBIG;
		out->len = start;
		out->err = 0;
		return rc;
	}
	note_written(w, plan, start, moof_at, mdat_at, out->len);
	return (int)w->last.size;
}
