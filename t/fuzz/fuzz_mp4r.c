/*
 * fuzz_mp4r.c - the MP4 reader on any bytes: the scanner walks the input as
 * a recording; every sample of every fragment it accepts must lie inside
 * that fragment's mdat and the input, every span of the init segment inside
 * the input, random access must agree with the walk, and lookups by path
 * must stay inside the input too.
 */
#include "proto/mp4r.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static const uint8_t *in_start;
static size_t in_len;

static void
check_span(struct mp4_span s)
{
	if (s.len > 0 && (s.p < in_start || s.p + s.len > in_start + in_len))
		abort();
}

static void
check_movie(const struct mp4r_movie *m)
{
	for (int i = 0; i < m->ntracks; i++) {
		const struct mp4r_track *t = &m->track[i];

		for (int k = 0; k < t->nvps; k++)
			check_span(t->vps[k]);
		for (int k = 0; k < t->nsps; k++)
			check_span(t->sps[k]);
		for (int k = 0; k < t->npps; k++)
			check_span(t->pps[k]);
		check_span(t->config);
		check_span(t->asc);
		check_span(t->meta_namespace);
		check_span(t->meta_encoding);
	}
}

/* Field by field: the struct has padding. */
static bool
same_sample(const struct mp4r_sample *a, const struct mp4r_sample *b)
{
	return a->index == b->index && a->pos == b->pos && a->size == b->size &&
	    a->duration == b->duration && a->flags == b->flags && a->cto == b->cto &&
	    a->dts == b->dts && a->sync == b->sync;
}

/* Every sample inside the mdat; the middle one found again by index. */
static void
check_fragment(const struct mp4r_frag *f)
{
	uint64_t start = f->mdat_pos, end = f->mdat_pos + f->mdat_size;

	if (end > in_len)
		abort();
	for (int t = 0; t < f->ntraf; t++) {
		struct mp4r_sample_iter it;
		struct mp4r_sample s, mid = { 0 }, again;
		uint32_t count = 0;

		mp4r_samples_begin(&f->traf[t], &it);
		while (mp4r_samples_next(&it, &s)) {
			if (s.size > 0 && (s.pos < start || s.pos + s.size > end))
				abort();
			if (s.index == f->traf[t].nsamples / 2)
				mid = s;
			count++;
		}
		if (count != f->traf[t].nsamples)
			abort();
		if (count > 0 && (mp4r_frag_sample(&f->traf[t], count / 2, &again) != 0 ||
		    !same_sample(&again, &mid)))
			abort();
	}
}

static void
check_find(const uint8_t *d, size_t n)
{
	static const char *paths[] = { "moov/trak[1]/mdia/minf/stbl/stsd/mp4a/esds",
	    "moov/udta/loci", "meta/ipro/sinf[1]/schi/sibo", "moof/traf/trun", "meta/suep",
	    "moov/trak/mdia/minf/stbl/stsd/metx" };
	struct mp4r_box b;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (mp4r_find(d, n, 0, paths[i], NULL, &b) == 1 &&
		    (b.body == NULL || b.body < d || b.body + b.body_len > d + n ||
		    b.pos + b.size > n))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct mp4r_scan s;
	struct mp4r_movie m;
	int rc;

	in_start = d;
	in_len = n;
	mp4r_scan_init(&s, NULL);
	while ((rc = mp4r_scan_next(&s, d, n)) == 1) {
		if (s.unit == MP4R_UNIT_INIT)
			check_movie(&s.movie);
		else if (s.unit == MP4R_UNIT_FRAGMENT)
			check_fragment(&s.frag);
		if (s.good_end > n)
			abort();
	}
	if (s.good_end > n || (rc < 0 && rc != PROTO_AGAIN && s.bad_pos > n))
		abort();
	if (mp4r_movie_parse(d, n, 0, NULL, &m) > 0)
		check_movie(&m);
	check_find(d, n);
	return 0;
}
