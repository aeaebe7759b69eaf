/*
 * test_mp4.c - the fragmented MP4 writer and reader (proto/mp4w.h,
 * proto/mp4r.h): Annex B conversion, writer -> reader round trips for
 * every codec from real media (t/data/media; G.711 made by ffmpeg at test
 * time), files checked by ffprobe and decoded by ffmpeg, fMP4 written by
 * ffmpeg read back against ffprobe's packet list, torn tails, corrupted
 * and crafted inputs, and the limits of both sides.
 *
 * ffprobe and ffmpeg are part of the build dependencies
 * (contrib/install-deps.sh): without them the tests that need them fail.
 *
 * `test_mp4 --corpus DIR` writes the seed corpus of t/fuzz/fuzz_mp4r
 * (t/fuzz/corpus/mp4r) instead of testing; with MP4_TEST_KEEP set the
 * files written are left in the temporary directory.
 */
#include "vssgate_build.h"	/* popen, mkdtemp, strtok_r */

#include "proto/depay.h"
#include "proto/mp4.h"
#include "proto/mp4r.h"
#include "proto/mp4w.h"
#include "proto/pay.h"
#include "t/tap.h"
#include "t/unit/mp4_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- reading it back ------------------------------------------------------------- */

struct readback {
	int units, fragments, samples[MP4_MAX_TRACKS];
	bool movie_ok, samples_ok, prft_ok, bounds_ok, random_ok;
	int rc;
	char why[160];
};

static bool
span_is(struct mp4_span s, const uint8_t *p, size_t len)
{
	return s.len == len && (len == 0 || memcmp(s.p, p, len) == 0);
}

static bool
track_matches(const struct mp4r_track *t, const struct mp4w_track *w, int i)
{
	bool ok = t->track_id == (uint32_t)i + 1 && t->codec == w->codec &&
	    t->timescale == w->timescale;

	switch (w->codec) {
	case MP4_CODEC_H264:
		return ok && t->nsps == 1 && t->npps == 1 && t->nal_length_size == 4 &&
		    span_is(t->sps[0], w->sps, w->sps_len) && span_is(t->pps[0], w->pps, w->pps_len) &&
		    t->width == w->width && t->height == w->height && t->handler == T4("vide");
	case MP4_CODEC_H265:
		return ok && t->nvps == 1 && t->nsps == 1 && t->npps == 1 &&
		    span_is(t->vps[0], w->vps, w->vps_len) && span_is(t->sps[0], w->sps, w->sps_len) &&
		    span_is(t->pps[0], w->pps, w->pps_len) && t->width == w->width;
	case MP4_CODEC_JPEG:
		return ok && t->object_type == 0x6c && t->height == w->height;
	case MP4_CODEC_AAC:
		return ok && span_is(t->asc, w->asc, w->asc_len) && t->channels == w->channels &&
		    t->sample_rate == w->timescale && t->handler == T4("soun");
	case MP4_CODEC_PCMU:
	case MP4_CODEC_PCMA:
		return ok && t->channels == 1 && t->sample_rate == 8000;
	case MP4_CODEC_ONVIF_META:
		return ok && t->handler == T4("meta") &&
		    span_is(t->meta_namespace, (const uint8_t *)MP4_ONVIF_NAMESPACE,
		    strlen(MP4_ONVIF_NAMESPACE)) && t->meta_encoding.len == 0;
	case MP4_CODEC_UNKNOWN:
		break;
	}
	return false;
}

static void
check_movie(struct readback *r, const struct mp4r_movie *m, struct source *src[], int nsrc)
{
	r->movie_ok = m->ntracks == nsrc && m->fragmented && m->major_brand == T4("isom");
	for (int i = 0; r->movie_ok && i < nsrc; i++) {
		r->movie_ok = track_matches(&m->track[i], &src[i]->track, i) && m->track[i].has_trex;
		if (!r->movie_ok)
			snprintf(r->why, sizeof(r->why), "track %d (%s) differs", i, src[i]->name);
	}
}

static bool
sample_matches(const struct mp4r_sample *got, const struct source *src, int k, uint64_t dts,
    const uint8_t *file)
{
	static uint8_t want[1 << 20];
	const struct src_sample *s = &src->s[k];
	size_t n = expected_bytes(src, s, want, sizeof(want));
	bool sync = mp4_codec_is_nal(src->track.codec) ? s->key : true;

	return got->size == n && memcmp(file + got->pos, want, n) == 0 &&
	    got->duration == s->duration && got->sync == sync && got->cto == s->cto &&
	    got->dts == dts;
}

/* Field by field: the struct has padding. */
static bool
same_sample(const struct mp4r_sample *a, const struct mp4r_sample *b)
{
	return a->index == b->index && a->pos == b->pos && a->size == b->size &&
	    a->duration == b->duration && a->flags == b->flags && a->cto == b->cto &&
	    a->dts == b->dts && a->sync == b->sync;
}

static void
check_traf(struct readback *r, const struct mp4r_traf *t, struct source *src[], int nsrc,
    uint64_t dts[], const uint8_t *file)
{
	struct mp4r_sample_iter it;
	struct mp4r_sample s, mid = { 0 };
	int i = (int)t->track_id - 1;

	if (i < 0 || i >= nsrc || !t->has_tfdt || t->base_dts != dts[i]) {
		r->samples_ok = false;
		return;
	}
	mp4r_samples_begin(t, &it);
	while (mp4r_samples_next(&it, &s)) {
		if (r->samples[i] >= src[i]->n || !sample_matches(&s, src[i], r->samples[i], dts[i], file)) {
			snprintf(r->why, sizeof(r->why), "%s sample %d differs", src[i]->name, r->samples[i]);
			r->samples_ok = false;
			return;
		}
		if (s.index == t->nsamples / 2)
			mid = s;
		r->samples[i]++;
		dts[i] += s.duration;
	}
	if (mp4r_frag_sample(t, t->nsamples / 2, &s) < 0 || !same_sample(&s, &mid))
		r->random_ok = false;
}

static void
check_fragment(struct readback *r, const struct mp4r_frag *f, const struct written *wr,
    struct source *src[], int nsrc, uint64_t dts[], const uint8_t *file)
{
	int k = r->fragments;

	if (f->seq != (uint32_t)k + 1 || f->has_prft != wr->has_prft[k])
		r->prft_ok = false;
	if (f->has_prft && (f->prft.track_id != 1 || f->prft.ntp != wr->prft_ntp[k] ||
	    f->prft.media_time != wr->prft_media[k] || f->prft.version != 1))
		r->prft_ok = false;
	for (int t = 0; t < f->ntraf; t++)
		check_traf(r, &f->traf[t], src, nsrc, dts, file);
	r->fragments++;
}

/* Scans |wr| with mp4r and compares everything with what was written. */
static void
read_back(struct readback *r, const struct written *wr, struct source *src[], int nsrc)
{
	struct mp4r_scan s;
	uint64_t dts[MP4_MAX_TRACKS] = { 0 };
	int rc;

	memset(r, 0, sizeof(*r));
	r->samples_ok = r->prft_ok = r->bounds_ok = r->random_ok = true;
	mp4r_scan_init(&s, NULL);
	while ((rc = mp4r_scan_next(&s, wr->out.p, wr->out.len)) == 1) {
		if (s.unit == MP4R_UNIT_INIT)
			check_movie(r, &s.movie, src, nsrc);
		else if (s.unit == MP4R_UNIT_FRAGMENT)
			check_fragment(r, &s.frag, wr, src, nsrc, dts, wr->out.p);
		if (s.unit != MP4R_UNIT_OTHER &&
		    (r->units > wr->nfrags || s.good_end != wr->bounds[r->units]))
			r->bounds_ok = false;
		r->units += s.unit != MP4R_UNIT_OTHER;
	}
	r->rc = rc;
	for (int i = 0; i < nsrc; i++)
		if (r->samples[i] != src[i]->n)
			r->samples_ok = false;
}

/* What ffprobe says of one stream, against the source it came from. */
static void
check_probe_stream(const struct probe_stream *st, const struct source *s, long frames)
{
	enum mp4_codec c = s->track.codec;

	if (c == MP4_CODEC_ONVIF_META) {
		ok(strcmp(st->codec_type, "data") == 0 && strcmp(st->codec_tag, s->probe_codec) == 0,
		    "%s: ffprobe sees a data stream tagged %s (%s/%s)", s->name, s->probe_codec,
		    st->codec_type, st->codec_tag);
		is_int(st->packets, frames, "  ... with every sample as a packet");
	} else {
		is_str(st->codec_name, s->probe_codec, "  codec name");
		is_int(st->frames, frames, "  frames decoded by ffprobe -count_frames");
	}
	if (c == MP4_CODEC_H264 || c == MP4_CODEC_H265 || c == MP4_CODEC_JPEG)
		ok(st->width == 320 && st->height == 240, "  320x240 (%ldx%ld)", st->width, st->height);
	if (c == MP4_CODEC_AAC || c == MP4_CODEC_PCMU || c == MP4_CODEC_PCMA)
		ok(st->sample_rate == (long)s->track.timescale &&
		    st->channels == (s->track.channels ? s->track.channels : 1),
		    "  %ld Hz, %ld channel(s)", st->sample_rate, st->channels);
}

/* --- every codec: write, read back, ffprobe, ffmpeg ---------------------------------- */

static const struct codec_case {
	const char *name, *file;
	void (*build)(struct source *);
	bool decodable;			/* ffmpeg has a decoder for it */
} codec_cases[] = {
	{ "H.264", "h264.mp4", src_h264, true },
	{ "H.265", "h265.mp4", src_h265, true },
	{ "JPEG", "jpeg.mp4", src_jpeg, true },
	{ "AAC", "aac.mp4", src_aac, true },
	{ "G.711 mu-law", "pcmu.mp4", src_pcmu, true },
	{ "G.711 A-law", "pcma.mp4", src_pcma, true },
	{ "ONVIF metadata", "meta.mp4", src_meta, false },
};

static void
check_readback(const struct readback *r, const struct written *wr, const char *name)
{
	ok(r->rc == 0 && r->fragments == wr->nfrags, "%s: mp4r scans the file to its end (%d of %d "
	    "fragments, rc %d)", name, r->fragments, wr->nfrags, r->rc);
	ok(r->movie_ok, "  init segment: codec, timescale, size, configuration %s", r->why);
	ok(r->samples_ok, "  every sample: bytes, duration, sync flag, offset, decode time %s",
	    r->why);
	ok(r->prft_ok, "  prft of every fragment: NTP time and media time of its first sample");
	ok(r->bounds_ok, "  unit ends where the writer ended them");
	ok(r->random_ok, "  mp4r_frag_sample() finds the middle sample from the tables");
}

static void
test_codec(const struct codec_case *c)
{
	struct source s = { .name = c->name }, *src[1] = { &s };
	struct written wr;
	struct readback r;
	struct probe p;
	const char *path = tmp_path(c->file);
	char err[512];

	c->build(&s);
	if (!ok(s.n > 0 && write_sources(src, 1, 0.5, true, &wr) == 0, "%s: written (%d samples)",
	    c->name, s.n))
		return;
	read_back(&r, &wr, src, 1);
	check_readback(&r, &wr, c->name);
	ok(save(path, wr.out.p, wr.out.len), "  saved as %s", c->file);
	probe_file(path, &p);
	ok(p.ran && p.n == 1 && p.err[0] == 0, "  ffprobe reads it without a word (%s)", p.err);
	check_probe_stream(&p.st[0], &s, s.n);
	ok(near(p.st[0].duration, s.seconds), "  duration %.3f s (ffprobe %.6f)", s.seconds,
	    p.st[0].duration);
	if (c->decodable)
		ok(decode_file(path, err, sizeof(err)), "  ffmpeg decodes every frame silently (%s)", err);
	mp4w_buf_free(&wr.out);
}

/* --- replay: samples out of the file, through pay.c and depay.c ------------------------- */

/* Packetizes one Annex B unit and depacketizes it again; the unit out, or 0. */
static size_t
rtp_round_trip(struct pay *p, struct depay *d, const uint8_t *au, size_t len, uint32_t ts,
    uint16_t *seq, uint8_t *out, size_t cap)
{
	static uint8_t buf[1 << 18];
	static size_t sizes[512];
	struct depay_au got;
	size_t off = 0, n = 0;
	int np = pay_au(p, au, len, buf, sizeof(buf), sizes, 512);

	for (int i = 0; i < np; i++) {
		depay_push(d, buf + off, sizes[i], i == np - 1, ts, (*seq)++);
		off += sizes[i];
	}
	while (depay_pop(d, &got))
		if (got.len <= cap) {
			memcpy(out, got.data, got.len);
			n = got.len;
		}
	return n;
}

/* What replay will do: read sample N of a fragment from the tables, turn it
 * into Annex B in place, packetize (pay.c); a client's depacketizer gets the
 * access unit the camera sent. */
static void
test_replay_path(void)
{
	static uint8_t sample[1 << 17], got[1 << 17], want[1 << 17];
	struct source v = { .name = "H.264" }, *src[1] = { &v };
	struct written wr;
	struct mp4r_scan s;
	struct pay p;
	struct depay d;
	uint16_t seq = 1;
	int units = 0, same = 0;

	src_h264(&v);
	write_sources(src, 1, 0.5, true, &wr);
	pay_init(&p, &pay_h264_ops, NULL);
	depay_init(&d, &depay_h264_ops, NULL);
	mp4r_scan_init(&s, NULL);
	while (mp4r_scan_next(&s, wr.out.p, wr.out.len) == 1) {
		const struct mp4r_traf *t = mp4r_frag_traf(&s.frag, 1);
		struct mp4r_sample smp;

		for (uint32_t i = 0; s.unit == MP4R_UNIT_FRAGMENT && t && i < t->nsamples; i++) {
			size_t n, w;

			mp4r_frag_sample(t, i, &smp);
			memcpy(sample, wr.out.p + smp.pos, smp.size);
			if (mp4_nal4_to_annexb_inplace(sample, smp.size) != 0)
				continue;
			n = rtp_round_trip(&p, &d, sample, smp.size, (uint32_t)smp.dts, &seq, got,
			    sizeof(got));
			w = media_annexb4(v.s[units].p, v.s[units].len, want, sizeof(want));
			same += n == w && memcmp(got, want, w) == 0;
			units++;
		}
	}
	ok(units == v.n && same == units, "replay: %d of %d samples read from the tables, made "
	    "Annex B in place, through pay.c and depay.c come out as the camera sent them", same,
	    v.n);
	depay_free(&d);
	mp4w_buf_free(&wr.out);
}

/* --- several tracks, prft, a torn tail --------------------------------------------------- */

/* Every prefix of the file: rc 0 exactly on unit boundaries, else PROTO_AGAIN,
 * good_end the last boundary before the cut. */
static void
test_every_prefix(const struct written *wr)
{
	size_t bounds[MAXF + 3], nb = 0, bad = 0;

	bounds[nb++] = 0;
	bounds[nb++] = proto_rd32(wr->out.p);	/* ftyp */
	for (int i = 0; i <= wr->nfrags; i++)
		bounds[nb++] = wr->bounds[i];
	for (size_t len = 0, k = 0; len <= wr->out.len; len++) {
		struct mp4r_scan s;
		int rc;

		while (k + 1 < nb && bounds[k + 1] <= len)
			k++;
		mp4r_scan_init(&s, NULL);
		while ((rc = mp4r_scan_next(&s, wr->out.p, len)) == 1)
			;
		if (rc != (bounds[k] == len ? 0 : PROTO_AGAIN) || s.good_end != bounds[k]) {
			if (bad++ == 0)
				diag("cut at %zu: rc %d good_end %llu, want %zu", len, rc,
				    (unsigned long long)s.good_end, bounds[k]);
		}
	}
	ok(bad == 0, "every one of %zu cuts: torn units are reported, cut at the last whole one",
	    wr->out.len + 1);
}

/* A fragment cut in its middle: mp4r says where to cut, and the cut file plays. */
static void
test_torn_tail(const struct written *wr, struct source *video)
{
	size_t last = wr->bounds[wr->nfrags - 1], cut = last + (wr->out.len - last) / 2;
	struct mp4r_scan s;
	struct probe p;
	const char *path = tmp_path("torn.mp4");
	int rc, frags = 0;

	mp4r_scan_init(&s, NULL);
	while ((rc = mp4r_scan_next(&s, wr->out.p, cut)) == 1)
		frags += s.unit == MP4R_UNIT_FRAGMENT;
	is_int(rc, PROTO_AGAIN, "tail cut inside the last fragment: PROTO_AGAIN");
	is_int(frags, wr->nfrags - 1, "  the fragments before it are complete");
	is_int((long long)s.good_end, (long long)last, "  good_end = end of the last whole fragment");
	ok(s.state == MP4R_SCAN_BETWEEN, "  the scanner waits at that boundary (%s)",
	    mp4r_scan_state_str(s.state));
	rc = mp4r_scan_next(&s, wr->out.p, wr->out.len);
	ok(rc == 1 && s.unit == MP4R_UNIT_FRAGMENT && s.good_end == wr->out.len,
	    "  given the rest, it reads the last fragment");
	save(path, wr->out.p, last);
	probe_file(path, &p);
	ok(p.ran && p.err[0] == 0 && p.n == 3 && p.st[0].frames == video->n - 5 &&
	    near(p.st[0].duration, video->seconds - 0.5),
	    "  the file cut at good_end plays: %ld frames, %.3f s (%s)", p.st[0].frames,
	    p.st[0].duration, p.err);
}

static void
test_multitrack(void)
{
	struct source v = { .name = "H.264" }, a = { .name = "AAC" }, m = { .name = "metadata" };
	struct source *src[3] = { &v, &a, &m };
	struct written wr;
	struct readback r;
	struct probe p;
	const char *path = tmp_path("av.mp4");
	char err[512];
	int rc;

	src_h264(&v);
	src_aac(&a);
	src_meta(&m);
	rc = write_sources(src, 3, 0.5, true, &wr);
	if (!ok(rc == 0 && wr.nfrags == 4, "H.264 + AAC + metadata in 0.5 s fragments, each with "
	    "prft (%d)", wr.nfrags))
		return;
	read_back(&r, &wr, src, 3);
	check_readback(&r, &wr, "three tracks");
	save(path, wr.out.p, wr.out.len);
	probe_file(path, &p);
	ok(p.ran && p.n == 3 && p.err[0] == 0, "ffprobe reads init + %d prft/moof/mdat (%s)",
	    wr.nfrags, p.err);
	for (int i = 0; i < 3 && i < p.n; i++) {
		check_probe_stream(&p.st[i], src[i], src[i]->n);
		ok(near(p.st[i].duration, src[i]->seconds), "  %s: %.3f s (ffprobe %.6f)",
		    src[i]->name, src[i]->seconds, p.st[i].duration);
	}
	ok(decode_file(path, err, sizeof(err)), "ffmpeg decodes video and audio silently (%s)", err);
	test_every_prefix(&wr);
	test_torn_tail(&wr, &v);
	mp4w_buf_free(&wr.out);
}

/* --- the init segment's boxes ------------------------------------------------------- */

static int
write_init(struct mp4w_track *tracks, int n, struct mp4w_buf *out)
{
	mp4w_buf_growing(out, 1 << 20);
	return mp4w_write_init(&(struct mp4w_movie){ .tracks = tracks, .ntracks = n }, out);
}

static bool
box_is(const struct mp4w_buf *b, const char *path, long long size)
{
	struct mp4r_box box;

	return mp4r_find(b->p, b->len, 0, path, NULL, &box) == 1 && (long long)box.size == size;
}

/* The records against FFmpeg's own for the same streams (t/data/media/gen.sh). */
static void
test_config_records(void)
{
	struct source v = { 0 }, h = { 0 };
	struct mp4w_buf out;
	struct mp4r_box b;
	uint8_t *ref;
	size_t ref_len;
	int rc;

	src_h264(&v);
	write_init(&v.track, 1, &out);
	ref = media_read("media/h264.avcc", &ref_len);
	rc = mp4r_find(out.p, out.len, 0, "moov/trak/mdia/minf/stbl/stsd/avc1/avcC", NULL, &b);
	ok(rc == 1 && ref != NULL && b.body_len == ref_len && memcmp(b.body, ref, ref_len) == 0,
	    "avcC equals FFmpeg's, High profile extension included (%zu bytes)", b.body_len);
	free(ref);
	mp4w_buf_free(&out);
	src_h265(&h);
	write_init(&h.track, 1, &out);
	ref = media_read("media/hevc.hvcc", &ref_len);
	rc = mp4r_find(out.p, out.len, 0, "moov/trak/mdia/minf/stbl/stsd/hvc1/hvcC", NULL, &b);
	ok(rc == 1 && ref != NULL && b.body_len == ref_len && memcmp(b.body, ref, ref_len) == 0,
	    "hvcC equals FFmpeg's: profile, tier, level, 4:4:4, nesting from the SPS (%zu bytes)",
	    b.body_len);
	free(ref);
	mp4w_buf_free(&out);
}

/* Sizes fixed by ISO/IEC 14496-12 for the boxes we write. */
static void
test_box_tree(void)
{
	struct source v = { 0 }, a = { 0 }, m = { 0 };
	struct mp4w_track t[3];
	struct mp4w_buf out;
	struct mp4r_box b;
	int n;

	src_h264(&v);
	src_aac(&a);
	src_meta(&m);
	t[0] = v.track, t[1] = a.track, t[2] = m.track;
	n = write_init(t, 3, &out);
	ok(n > 0 && (size_t)n == out.len, "init segment of three tracks: %d bytes", n);
	ok(box_is(&out, "ftyp", 28) && memcmp(out.p + 8, "isom\0\0\2\0isomiso6mp41", 20) == 0,
	    "ftyp isom, minor 0x200, isom iso6 mp41");
	ok(box_is(&out, "moov/mvhd", 108) && box_is(&out, "moov/trak[0]/tkhd", 92) &&
	    box_is(&out, "moov/trak[2]/mdia/mdhd", 32), "mvhd, tkhd, mdhd version 0 sizes");
	ok(box_is(&out, "moov/trak[0]/mdia/minf/vmhd", 20) &&
	    box_is(&out, "moov/trak[1]/mdia/minf/smhd", 16) &&
	    box_is(&out, "moov/trak[2]/mdia/minf/nmhd", 12), "vmhd, smhd, nmhd by handler");
	ok(box_is(&out, "moov/trak[1]/mdia/minf/dinf/dref/url ", 12) &&
	    box_is(&out, "moov/trak[1]/mdia/minf/stbl/stts", 16) &&
	    box_is(&out, "moov/trak[1]/mdia/minf/stbl/stsz", 20) &&
	    box_is(&out, "moov/trak[1]/mdia/minf/stbl/stco", 16), "dref/url, empty sample tables");
	ok(box_is(&out, "moov/mvex/trex[2]", 32) && !box_is(&out, "moov/mvex/trex[3]", 32),
	    "one trex per track");
	ok(mp4r_find(out.p, out.len, 0, "moov/trak[1]/mdia/minf/stbl/stsd/mp4a/esds", NULL, &b) == 1 &&
	    b.body_len == 4 + 2 + 3 + 2 + 13 + 2 + 2 + 3 && b.body[4] == 3 && b.body[9] == 4 &&
	    b.body[11] == 0x40 && b.body[12] == 0x15 && b.body[24] == 5 && b.body[25] == 2 &&
	    b.body[26] == fx.asc[0] && b.body[27] == fx.asc[1] && b.body[28] == 6,
	    "esds: ES, DecoderConfig (0x40, audio), AudioSpecificConfig, SLConfig");
	ok(mp4r_find(out.p, out.len, 0, "moov/trak[2]/mdia/minf/stbl/stsd/metx", NULL, &b) == 1 &&
	    b.body_len == 8 + 1 + sizeof(MP4_ONVIF_NAMESPACE) + 1 &&
	    memcmp(b.body + 9, MP4_ONVIF_NAMESPACE, sizeof(MP4_ONVIF_NAMESPACE)) == 0,
	    "metx: empty content_encoding, the ONVIF schema namespace, empty schema_location");
	ok(mp4r_find(out.p, out.len, 0, "moov/trak[2]/mdia/hdlr", NULL, &b) == 1 &&
	    memcmp(b.body + 8, "meta", 4) == 0, "metadata handler 'meta'");
	mp4w_buf_free(&out);
}

/* moov_extra carries the caller's boxes, built with the same primitives. */
static void
test_moov_extra(void)
{
	struct source v = { 0 };
	struct mp4w_buf extra, out;
	struct mp4r_box b;
	size_t udta, loci;

	src_jpeg(&v);
	mp4w_buf_growing(&extra, 4096);
	udta = mp4w_box_open(&extra, "udta");
	loci = mp4w_fullbox_open(&extra, "loci", 0, 0);
	mp4w_put16(&extra, 0x15c7);	/* 'eng' */
	mp4w_put_cstring(&extra, "Gate 3");
	mp4w_put8(&extra, 1);
	mp4w_put32(&extra, (uint32_t)(int32_t)(2.3522 * 65536));
	mp4w_put32(&extra, (uint32_t)(int32_t)(48.8566 * 65536));
	mp4w_put32(&extra, 35 << 16);
	mp4w_put_cstring(&extra, "earth");
	mp4w_put_cstring(&extra, "");
	mp4w_box_close(&extra, loci);
	mp4w_box_close(&extra, udta);
	mp4w_buf_growing(&out, 1 << 20);
	ok(mp4w_buf_result(&extra) > 0 && mp4w_write_init(&(struct mp4w_movie){ .tracks = &v.track,
	    .ntracks = 1, .moov_extra = extra.p, .moov_extra_len = extra.len }, &out) > 0,
	    "moov with udta/loci from the caller");
	ok(mp4r_find(out.p, out.len, 0, "moov/udta/loci", NULL, &b) == 1 &&
	    memcmp(b.body + 6, "Gate 3", 7) == 0, "  found at moov/udta/loci");
	mp4w_buf_free(&extra);
	mp4w_buf_free(&out);
}

/* --- writer refusals and limits -------------------------------------------------------- */

struct refusal {
	const char *name;
	struct mp4w_track t;
	int want;
};

static void
check_refusal(const struct refusal *c)
{
	struct mp4w_movie mv = { .tracks = &c->t, .ntracks = 1 };
	struct mp4w_buf out;
	struct mp4w w;

	mp4w_buf_growing(&out, 1 << 20);
	is_int(mp4w_write_init(&mv, &out), c->want, c->name);
	ok(out.len == 0 && mp4w_init(&w, &mv, NULL) == c->want, "  nothing written, mp4w_init agrees");
	mp4w_free(&w);
	mp4w_buf_free(&out);
}

static void
test_track_refusals(void)
{
	static const uint8_t sps_bad[] = { 0x68, 1, 2, 3 }, pps[] = { 0x68, 0xce };
	struct source v = { 0 }, h = { 0 }, a = { 0 };
	struct mp4w_track t[9];
	struct mp4w_buf out;
	uint8_t small[100];
	struct refusal c;

	src_h264(&v);
	src_h265(&h);
	src_aac(&a);
	c = (struct refusal){ "no timescale", v.track, PROTO_EBADMSG };
	c.t.timescale = 0;
	check_refusal(&c);
	c = (struct refusal){ "H.264 without PPS", v.track, PROTO_EBADMSG };
	c.t.pps = NULL;
	check_refusal(&c);
	c = (struct refusal){ "H.264 with a PPS as SPS", v.track, PROTO_EBADMSG };
	c.t.sps = sps_bad;
	c.t.sps_len = sizeof(sps_bad);
	check_refusal(&c);
	c = (struct refusal){ "H.264 with a truncated SPS", v.track, PROTO_EBADMSG };
	c.t.sps_len = 4;
	check_refusal(&c);
	c = (struct refusal){ "H.264 without width", v.track, PROTO_EBADMSG };
	c.t.width = 0;
	check_refusal(&c);
	c = (struct refusal){ "H.265 without VPS", h.track, PROTO_EBADMSG };
	c.t.vps = NULL;
	check_refusal(&c);
	c = (struct refusal){ "H.265 with an H.264 PPS", h.track, PROTO_EBADMSG };
	c.t.pps = pps;
	c.t.pps_len = sizeof(pps);
	check_refusal(&c);
	c = (struct refusal){ "AAC without config", a.track, PROTO_EBADMSG };
	c.t.asc_len = 1;
	check_refusal(&c);
	c = (struct refusal){ "AAC at 96 kHz", a.track, PROTO_EUNSUPPORTED };
	c.t.timescale = 96000;
	check_refusal(&c);
	c = (struct refusal){ "no codec", a.track, PROTO_EBADMSG };
	c.t.codec = MP4_CODEC_UNKNOWN;
	check_refusal(&c);
	for (int i = 0; i < 9; i++)
		t[i] = a.track;
	mp4w_buf_growing(&out, 1 << 20);
	is_int(mp4w_write_init(&(struct mp4w_movie){ .tracks = t, .ntracks = 9 }, &out),
	    PROTO_ETOOBIG, "nine tracks: PROTO_ETOOBIG");
	is_int(mp4w_write_init(&(struct mp4w_movie){ .tracks = t, .ntracks = 0 }, &out),
	    PROTO_EBADMSG, "no track: PROTO_EBADMSG");
	mp4w_buf_free(&out);
	mp4w_buf_fixed(&out, small, sizeof(small));
	out.len = 10;
	ok(mp4w_write_init(&(struct mp4w_movie){ .tracks = &v.track, .ntracks = 1 }, &out) ==
	    PROTO_ETOOBIG && out.len == 10 && out.err == 0,
	    "a fixed buffer too small: PROTO_ETOOBIG, its length as before");
}

static int
add(struct mp4w *w, int track, const void *p, size_t len, bool key)
{
	return mp4w_frag_add(w, &(struct mp4w_sample){ .track = track, .data = p, .size = len,
	    .duration = 3000, .keyframe = key });
}

static const uint8_t idr[] = { 0, 0, 0, 1, 0x65, 0x88, 0x84, 0x21, 0, 0, 1, 0x06, 5, 1, 0x80 };

static void
test_writer_misuse(void)
{
	struct source v = { 0 }, a = { 0 };
	struct mp4w_track t[2];
	struct mp4w w;
	struct mp4w_buf out;
	static const uint8_t nal4_bad[] = { 0, 0, 0, 9, 0x65, 1 }, no_sc[] = { 0x65, 1, 2 };

	src_h264(&v);
	src_aac(&a);
	t[0] = v.track, t[1] = a.track;
	mp4w_init(&w, &(struct mp4w_movie){ .tracks = t, .ntracks = 2 }, NULL);
	mp4w_buf_growing(&out, 1 << 20);
	is_int(add(&w, 0, idr, sizeof(idr), true), PROTO_EBADMSG, "a sample outside a fragment");
	is_int(mp4w_frag_end(&w, &out), PROTO_EBADMSG, "ending no fragment");
	is_int(mp4w_frag_begin(&w, &(struct mp4w_prft){ .track = 2 }), PROTO_EBADMSG,
	    "prft of a track that is not there");
	mp4w_frag_begin(&w, &(struct mp4w_prft){ .track = 0, .ntp = NTP_BASE });
	is_int(mp4w_frag_begin(&w, NULL), PROTO_EBADMSG, "a fragment inside a fragment");
	is_int(mp4w_frag_end(&w, &out), PROTO_EBADMSG, "an empty fragment");
	is_int(add(&w, 2, idr, sizeof(idr), true), PROTO_EBADMSG, "a sample of track 2 of 2");
	is_int(add(&w, 0, no_sc, sizeof(no_sc), true), PROTO_EBADMSG, "Annex B without start code");
	is_int(add(&w, 0, idr, 0, true), PROTO_EBADMSG, "an empty sample");
	is_int(add(&w, 1, "\x21\x10", 2, true), 0, "an audio sample");
	is_int(mp4w_frag_end(&w, &out), PROTO_EBADMSG, "prft on track 0 without a track 0 sample");
	is_int(add(&w, 0, idr, sizeof(idr), true), 0, "  add one");
	is_int(mp4w_set_decode_time(&w, 0, 90000), PROTO_EBADMSG,
	    "moving a track's time after its first sample of the fragment");
	is_int(mp4w_set_decode_time(&w, 1, 5000), PROTO_EBADMSG, "  or the audio track's");
	ok(mp4w_frag_end(&w, &out) > 0 && w.state == MP4W_BETWEEN && w.last.seq == 1 &&
	    w.last.nsamples[0] == 1 && w.last.nsamples[1] == 1, "then the fragment ends");
	mp4w_frag_begin(&w, NULL);
	is_int(mp4w_set_decode_time(&w, 1, 50000), 0, "a gap: the audio time moved before its sample");
	add(&w, 1, "\x21\x10", 2, true);
	ok(mp4w_frag_end(&w, &out) > 0 && w.last.seq == 2 && w.last.nsamples[0] == 0 &&
	    w.last.base_dts[1] == 50000 && w.last.base_dts[0] == 3000 && w.track[1].next_dts == 53000,
	    "  the next fragment's tfdt says so; the video's time is where it was");
	mp4w_free(&w);
	t[0].samples_nal4 = true;
	mp4w_init(&w, &(struct mp4w_movie){ .tracks = t, .ntracks = 2 }, NULL);
	mp4w_frag_begin(&w, NULL);
	is_int(add(&w, 0, nal4_bad, sizeof(nal4_bad), true), PROTO_EBADMSG,
	    "length-prefixed input whose length runs past the sample");
	is_int(add(&w, 0, "\0\0\0\2\x65\x88", 6, true), 0, "  a good one is taken as it is");
	mp4w_free(&w);
	mp4w_buf_free(&out);
}

static void
test_writer_limits(void)
{
	struct source a = { 0 };
	struct mp4w_track t[3];
	struct mp4w w;
	struct mp4w_buf out;
	static uint8_t big[2000], mem[600];
	int rc;

	src_aac(&a);
	t[0] = t[1] = t[2] = a.track;
	is_int(mp4w_init(&w, &(struct mp4w_movie){ .tracks = t, .ntracks = 3 },
	    &(struct mp4w_limits){ .max_tracks = 2 }), PROTO_ETOOBIG, "three tracks, limit two");
	mp4w_free(&w);
	is_int(mp4w_init(&w, &(struct mp4w_movie){ .tracks = t, .ntracks = 1 },
	    &(struct mp4w_limits){ .max_frag_bytes = (size_t)MP4W_MAX_FRAG + 1 }), PROTO_ETOOBIG,
	    "a fragment limit above what a 32-bit mdat holds");
	mp4w_free(&w);
	mp4w_init(&w, &(struct mp4w_movie){ .tracks = t, .ntracks = 1 },
	    &(struct mp4w_limits){ .max_samples = 3, .max_frag_bytes = 1000 });
	mp4w_frag_begin(&w, NULL);
	for (int i = 0; i < 3; i++)
		add(&w, 0, big, 100, true);
	is_int(add(&w, 0, big, 100, true), PROTO_ETOOBIG, "a fourth sample, limit three");
	mp4w_buf_fixed(&out, mem, 200);
	rc = mp4w_frag_end(&w, &out);
	ok(rc == PROTO_ETOOBIG && out.len == 0 && w.state == MP4W_IN_FRAGMENT,
	    "a fixed buffer too small for the fragment: nothing written, still open");
	mp4w_buf_fixed(&out, mem, sizeof(mem));
	rc = mp4w_frag_end(&w, &out);
	ok(rc > 300 && (size_t)rc == out.len && rc <= 1000, "the same fragment fits in %d bytes", rc);
	mp4w_frag_begin(&w, NULL);
	is_int(add(&w, 0, big, sizeof(big), true), PROTO_ETOOBIG,
	    "a sample bigger than the fragment limit");
	is_int(add(&w, 0, big, 800, true), 0, "  a smaller one fits");
	is_int(add(&w, 0, big, 100, true), PROTO_ETOOBIG, "  and the next would cross 1000 bytes");
	mp4w_frag_abort(&w);
	ok(w.state == MP4W_BETWEEN && w.nentries == 0 && w.track[0].next_dts == 9000,
	    "abort drops the fragment and keeps the decode time");
	mp4w_free(&w);
}

/* Composition offsets, negative ones too (trun version 1). */
static void
test_cto(void)
{
	struct source v = { .name = "H.264 with B-frame offsets" }, *src[1] = { &v };
	struct written wr;
	struct readback r;
	struct mp4r_box b;

	src_h264(&v);
	for (int i = 0; i < v.n; i++)
		v.s[i].cto = (int32_t)((i % 3) - 1) * 3000;
	ok(write_sources(src, 1, 0.5, true, &wr) == 0, "H.264 with offsets -3000, 0, 3000");
	read_back(&r, &wr, src, 1);
	ok(r.rc == 0 && r.samples_ok, "  read back with the same offsets %s", r.why);
	ok(r.prft_ok, "  prft media_time: the first sample's presentation time (0 for -3000)");
	ok(mp4r_find(wr.out.p + wr.bounds[0], wr.out.len - wr.bounds[0], wr.bounds[0],
	    "moof/traf/trun", NULL, &b) == 1 && b.body[0] == 1 && (proto_rd32(b.body) & 0x800),
	    "  trun version 1 with composition offsets");
	mp4w_buf_free(&wr.out);
}

/* --- Annex B <-> length-prefixed ------------------------------------------------------ */

struct nal_case {
	const char *name;
	const char *in;
	size_t in_len;
	const char *out;		/* NULL: error */
	size_t out_len;
	int rc;
};

#define S(x) x, sizeof(x) - 1

static const struct nal_case annexb_cases[] = {
	{ "one NAL, 3-byte start code", S("\0\0\1\x65\xaa"), S("\0\0\0\2\x65\xaa"), 6 },
	{ "4-byte and 3-byte start codes, trailing zeros", S("\0\0\0\1\x67\x42\0\0\1\x68\xce\0\0"),
	    S("\0\0\0\2\x67\x42\0\0\0\2\x68\xce"), 12 },
	{ "leading zero bytes", S("\0\0\0\0\0\1\x09\xf0"), S("\0\0\0\2\x09\xf0"), 6 },
	{ "an empty NAL between two start codes", S("\0\0\1\0\0\1\x65\x01"),
	    S("\0\0\0\2\x65\x01"), 6 },
	{ "emulation prevention kept", S("\0\0\1\x65\0\0\3\1"), S("\0\0\0\5\x65\0\0\3\1"), 9 },
	{ "garbage before the start code", S("\xab\0\0\1\x65"), NULL, 0, PROTO_EBADMSG },
	{ "no start code", S("\x65\x88\x84"), NULL, 0, PROTO_EBADMSG },
	{ "a start code and nothing", S("\0\0\0\1"), NULL, 0, PROTO_EBADMSG },
	{ "empty", "", 0, NULL, 0, PROTO_EBADMSG },
};

static const struct nal_case nal_cases[] = {	/* 4-byte lengths to Annex B */
	{ "two NAL units", S("\0\0\0\2\x67\x42\0\0\0\1\x68"), S("\0\0\0\1\x67\x42\0\0\0\1\x68"), 11 },
	{ "a length past the end", S("\0\0\0\5\x65\1"), NULL, 0, PROTO_EBADMSG },
	{ "a zero length", S("\0\0\0\0\0\0\0\1\x65"), NULL, 0, PROTO_EBADMSG },
	{ "a length cut short", S("\0\0\0\1\x65\0\0"), NULL, 0, PROTO_EBADMSG },
	{ "empty", "", 0, NULL, 0, PROTO_EBADMSG },
};

static void
test_annexb(void)
{
	uint8_t out[64], buf[64];

	for (size_t i = 0; i < sizeof(annexb_cases) / sizeof(annexb_cases[0]); i++) {
		const struct nal_case *c = &annexb_cases[i];
		int n = mp4_annexb_to_nal4((const uint8_t *)c->in, c->in_len, out, sizeof(out));

		ok(c->out ? n == (int)c->out_len && memcmp(out, c->out, c->out_len) == 0 : n == c->rc,
		    "Annex B -> lengths: %s (%d)", c->name, n);
		ok(mp4_annexb_to_nal4((const uint8_t *)c->in, c->in_len, NULL, 0) == n,
		    "  measuring agrees");
	}
	is_int(mp4_annexb_to_nal4((const uint8_t *)"\0\0\1\x65\xaa", 5, out, 5), PROTO_ETOOBIG,
	    "Annex B -> lengths: output too small");
	for (size_t i = 0; i < sizeof(nal_cases) / sizeof(nal_cases[0]); i++) {
		const struct nal_case *c = &nal_cases[i];
		int n = mp4_nal_to_annexb((const uint8_t *)c->in, c->in_len, 4, out, sizeof(out)), m;

		memcpy(buf, c->in, c->in_len);
		m = mp4_nal4_to_annexb_inplace(buf, c->in_len);
		ok(c->out ? n == (int)c->out_len && memcmp(out, c->out, c->out_len) == 0 : n == c->rc,
		    "lengths -> Annex B: %s (%d)", c->name, n);
		ok(c->out ? m == 0 && memcmp(buf, c->out, c->out_len) == 0 : m == PROTO_EBADMSG,
		    "  in place too");
	}
	ok(mp4_nal_to_annexb((const uint8_t *)"\2\x67\x42\1\x68", 5, 1, out, sizeof(out)) == 11 &&
	    memcmp(out, "\0\0\0\1\x67\x42\0\0\0\1\x68", 11) == 0, "1-byte lengths");
	ok(mp4_nal_to_annexb((const uint8_t *)"\0\2\x67\x42", 4, 2, out, sizeof(out)) == 6,
	    "2-byte lengths");
	is_int(mp4_nal_to_annexb((const uint8_t *)"\0\0\2\x67\x42", 5, 3, out, sizeof(out)),
	    PROTO_EBADMSG, "3-byte lengths do not exist");
	is_int(mp4_nal_to_annexb((const uint8_t *)"\0\0\0\2\x67\x42", 6, 4, out, 5), PROTO_ETOOBIG,
	    "lengths -> Annex B: output too small");
}

/* Every access unit of both streams there and back, against the test's own cutter. */
static void
test_annexb_media(void)
{
	static uint8_t nal4[1 << 17], back[1 << 17], want[1 << 17];
	int bad = 0, units = 0;

	for (int h = 0; h < 2; h++) {
		const struct media_unit *au = h ? fx.hevc_au : fx.h264_au;

		for (int i = 0; i < (h ? fx.n_hevc : fx.n_h264); i++, units++) {
			int n = mp4_annexb_to_nal4(au[i].p, au[i].len, nal4, sizeof(nal4));
			int m = n > 0 ? mp4_nal_to_annexb(nal4, (size_t)n, 4, back, sizeof(back)) : -1;
			size_t w = media_annexb4(au[i].p, au[i].len, want, sizeof(want));

			bad += m != (int)w || memcmp(back, want, w) != 0 || n != (int)w;
		}
	}
	ok(bad == 0 && units == 40, "%d H.264/H.265 access units: Annex B -> lengths -> Annex B "
	    "(4-byte start codes) is lossless", units);
}

/* --- box headers, iteration, lookup ---------------------------------------------------- */

struct header_case {
	const char *name;
	const char *in;
	size_t len;
	int rc;				/* of mp4r_box_header() */
	uint64_t size;
	size_t hdr;
};

static const struct header_case header_cases[] = {
	{ "plain", S("\0\0\0\x10" "free" "12345678"), 8, 16, 8 },
	{ "largesize", S("\0\0\0\1" "free" "\0\0\0\0\0\0\0\x18" "12345678"), 16, 24, 16 },
	{ "uuid", S("\0\0\0\x18" "uuid" "0123456789abcdef"), 24, 24, 24 },
	{ "largesize uuid", S("\0\0\0\1" "uuid" "\0\0\0\0\0\0\0\x20" "0123456789abcdef"), 32, 32, 32 },
	{ "size 0: to the end", S("\0\0\0\0" "mdat" "xy"), 8, 0, 8 },
	{ "size below the header", S("\0\0\0\7" "free" "1"), PROTO_EBADMSG, 0, 0 },
	{ "largesize below its header", S("\0\0\0\1" "free" "\0\0\0\0\0\0\0\x0f"), PROTO_EBADMSG, 0, 0 },
	{ "uuid box of 20 bytes", S("\0\0\0\x14" "uuid" "0123456789abcdef"), PROTO_EBADMSG, 0, 0 },
	{ "7 bytes", S("\0\0\0\x10" "fre"), PROTO_AGAIN, 0, 0 },
	{ "largesize cut", S("\0\0\0\1" "free" "\0\0\0"), PROTO_AGAIN, 0, 0 },
	{ "uuid cut", S("\0\0\0\x18" "uuid" "01234"), PROTO_AGAIN, 0, 0 },
};

static void
test_box_headers(void)
{
	struct mp4r_iter it, kids;
	struct mp4r_box b, kid;
	static uint8_t nested[] = "\0\0\0\x18" "udta" "\0\0\0\x10" "free" "1234";

	for (size_t i = 0; i < sizeof(header_cases) / sizeof(header_cases[0]); i++) {
		const struct header_case *c = &header_cases[i];
		int rc = mp4r_box_header((const uint8_t *)c->in, c->len, &b);

		ok(rc == c->rc && (rc < 0 || (b.size == c->size && b.hdr == c->hdr)),
		    "box header: %s (rc %d, size %llu, header %zu)", c->name, rc,
		    (unsigned long long)b.size, b.hdr);
	}
	mp4r_box_header((const uint8_t *)header_cases[2].in, header_cases[2].len, &b);
	ok(memcmp(b.uuid, "0123456789abcdef", 16) == 0, "the uuid's extended type");
	mp4r_iter_init(&it, (const uint8_t *)"\0\0\0\0mdatxy", 10, 100, NULL);
	ok(mp4r_iter_next(&it, &b) == 1 && b.to_end && b.size == 10 && b.pos == 100 &&
	    b.body_len == 2 && mp4r_iter_next(&it, &b) == 0, "size 0 at the top: to the range's end");
	mp4r_iter_init(&it, nested, 20, 0, NULL);
	ok(mp4r_iter_next(&it, &b) == PROTO_AGAIN && b.type == T4("udta") && b.size == 24 &&
	    b.body == NULL && it.off == 0, "a top-level box cut: PROTO_AGAIN with its header");
	mp4r_iter_feed(&it, nested, 24);
	ok(mp4r_iter_next(&it, &b) == 1 && b.body_len == 16, "  the range grown: the box");
	ok(mp4r_iter_children(&it, &b, 0, &kids) == 0 && mp4r_iter_next(&kids, &kid) == 1 &&
	    kid.pos == 8 && kid.depth == 1 && kid.body_len == 8, "  its child");
	kids.len = 12;	/* the child now runs past its parent */
	kids.off = 0;
	is_int(mp4r_iter_next(&kids, &kid), PROTO_EBADMSG, "a child past its parent: PROTO_EBADMSG");
	kids.len = 16;
	kids.off = 0;
	memcpy((uint8_t *)kids.p, "\0\0\0\0", 4);
	is_int(mp4r_iter_next(&kids, &kid), PROTO_EUNSUPPORTED, "size 0 below the top level");
	memcpy((uint8_t *)kids.p, "\0\0\0\x10", 4);
	mp4r_iter_init(&it, (const uint8_t *)"\0\0\0\1mdat\x7f\0\0\0\0\0\0\0", 16, 0, NULL);
	is_int(mp4r_iter_next(&it, &b), PROTO_ETOOBIG, "an mdat above max_mdat: PROTO_ETOOBIG");
	mp4r_iter_init(&it, nested, 24, 0, &(struct mp4r_limits){ .max_box = 20 });
	is_int(mp4r_iter_next(&it, &b), PROTO_ETOOBIG, "a box above max_box: PROTO_ETOOBIG");
}

/* 20 nested udta boxes. */
static size_t
nest(uint8_t *buf, int levels)
{
	size_t at[32];
	struct mp4w_buf b;

	mp4w_buf_fixed(&b, buf, 1024);
	for (int i = 0; i < levels; i++)
		at[i] = mp4w_box_open(&b, "udta");
	for (int i = levels; i-- > 0;)
		mp4w_box_close(&b, at[i]);
	return b.len;
}

static void
test_depth(void)
{
	uint8_t buf[1024];
	char path[256] = "";
	size_t len = nest(buf, 20);
	struct mp4r_box b;

	for (int i = 0; i < 20; i++)
		strcat(path, i ? "/udta" : "udta");
	is_int(mp4r_find(buf, len, 0, path, NULL, &b), PROTO_ETOOBIG,
	    "20 nested boxes, depth limit 16: PROTO_ETOOBIG");
	ok(mp4r_find(buf, len, 0, path, &(struct mp4r_limits){ .max_depth = 24 }, &b) == 1 &&
	    b.depth == 19 && b.size == 8, "  with a limit of 24 the innermost is found");
}

/* A file-level meta as the export will write it (standards.md 2.2), with two signers. */
static size_t
eff_meta(struct mp4w_buf *b, size_t sibo_pos[2])
{
	size_t meta = mp4w_fullbox_open(b, "meta", 0, 0), box, ipro;

	box = mp4w_fullbox_open(b, "hdlr", 0, 0);
	mp4w_put32(b, 0);
	mp4w_put_fourcc(b, "null");
	mp4w_put_zeros(b, 12);
	mp4w_put_cstring(b, "");
	mp4w_box_close(b, box);
	box = mp4w_fullbox_open(b, "suep", 1, 0);
	mp4w_put_cstring(b, "vssgate");
	mp4w_box_close(b, box);
	ipro = mp4w_fullbox_open(b, "ipro", 0, 0);
	mp4w_put16(b, 1);
	for (int k = 0; k < 2; k++) {
		size_t sinf = mp4w_box_open(b, "sinf"), schi;

		box = mp4w_fullbox_open(b, "schm", 0, 0);
		mp4w_put_fourcc(b, "oeff");
		mp4w_put32(b, 0x00010000);
		mp4w_box_close(b, box);
		schi = mp4w_box_open(b, "schi");
		sibo_pos[k] = mp4w_box_open(b, "sibo");
		mp4w_put_zeros(b, 256);
		mp4w_box_close(b, sibo_pos[k]);
		box = mp4w_box_open(b, "cert");
		mp4w_put(b, "\x30\x82\x01", 3);
		mp4w_box_close(b, box);
		mp4w_box_close(b, schi);
		mp4w_box_close(b, sinf);
	}
	mp4w_box_close(b, ipro);
	mp4w_box_close(b, meta);
	return meta;
}

static void
test_find(void)
{
	static const char *bad_paths[] = { "", "met", "meta/", "meta[", "meta[1x]", "meta//hdlr",
	    "meta[123456]" };
	struct mp4w_buf b;
	struct mp4r_box box;
	size_t sibo[2];

	mp4w_buf_growing(&b, 1 << 16);
	mp4w_put_zeros(&b, 40);	/* as if after media */
	eff_meta(&b, sibo);
	ok(mp4r_find(b.p + 40, b.len - 40, 40, "meta/ipro/sinf[1]/schi/sibo", NULL, &box) == 1 &&
	    box.pos == sibo[1] && box.body_len == 256, "meta/ipro/sinf[1]/schi/sibo: the second "
	    "signature, at its file position");
	ok(mp4r_find(b.p + 40, b.len - 40, 40, "meta/ipro/sinf[0]/schi/cert", NULL, &box) == 1 &&
	    box.body_len == 3, "meta/ipro/sinf[0]/schi/cert");
	ok(mp4r_find(b.p + 40, b.len - 40, 40, "meta/suep", NULL, &box) == 1 && box.body[0] == 1,
	    "meta/suep (meta read as a FullBox)");
	is_int(mp4r_find(b.p + 40, b.len - 40, 40, "meta/ipro/sinf[2]", NULL, &box), 0,
	    "no third signer: not found");
	is_int(mp4r_find(b.p + 40, b.len - 40, 40, "moov", NULL, &box), 0, "no moov: not found");
	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++)
		is_int(mp4r_find(b.p + 40, b.len - 40, 40, bad_paths[i], NULL, &box), PROTO_EBADMSG,
		    bad_paths[i][0] ? bad_paths[i] : "an empty path");
	mp4w_buf_reset(&b);
	box.pos = mp4w_box_open(&b, "meta");	/* QuickTime: no version and flags */
	box.size = mp4w_fullbox_open(&b, "hdlr", 0, 0);
	mp4w_put_zeros(&b, 20);
	mp4w_box_close(&b, box.size);
	mp4w_box_close(&b, box.pos);
	ok(mp4r_find(b.p, b.len, 0, "meta/hdlr", NULL, &box) == 1 && box.pos == 8,
	    "a QuickTime meta: its hdlr right after the header");
	mp4w_buf_free(&b);
}

/* --- fragments built by hand: defaults, base offsets, limits ---------------------------- */

/* moof{mfhd traf{tfhd ...}}: |body| writes the traf contents after tfhd. */
struct hand_traf {
	uint32_t tfhd_flags;
	uint64_t base;			/* base-data-offset when flagged */
	uint32_t def_duration, def_size, def_flags;
	uint32_t trun_flags, count, data_offset, first_flags;
	uint8_t trun_version;
	const uint32_t *entries;	/* written * fields */
	uint32_t written;		/* entries written; 0: count */
	int ntruns;			/* 0: 1 */
	bool no_tfhd, tfdt;
};

static void
hand_traf(struct mp4w_buf *b, const struct hand_traf *h, uint32_t track_id)
{
	size_t traf = mp4w_box_open(b, "traf"), box;
	int fields = __builtin_popcount(h->trun_flags & 0xf00);

	if (!h->no_tfhd) {
		box = mp4w_fullbox_open(b, "tfhd", 0, h->tfhd_flags);
		mp4w_put32(b, track_id);
		if (h->tfhd_flags & 1)
			mp4w_put64(b, h->base);
		if (h->tfhd_flags & 8)
			mp4w_put32(b, h->def_duration);
		if (h->tfhd_flags & 0x10)
			mp4w_put32(b, h->def_size);
		if (h->tfhd_flags & 0x20)
			mp4w_put32(b, h->def_flags);
		mp4w_box_close(b, box);
	}
	if (h->tfdt) {
		box = mp4w_fullbox_open(b, "tfdt", 0, 0);
		mp4w_put32(b, 777);
		mp4w_box_close(b, box);
	}
	for (int t = 0; t < (h->ntruns ? h->ntruns : 1); t++) {
		box = mp4w_fullbox_open(b, "trun", h->trun_version, h->trun_flags);
		mp4w_put32(b, h->count);
		if (h->trun_flags & 1)
			mp4w_put32(b, h->data_offset);
		if (h->trun_flags & 4)
			mp4w_put32(b, h->first_flags);
		for (uint32_t i = 0; i < (h->written ? h->written : h->count) * (uint32_t)fields; i++)
			mp4w_put32(b, h->entries[i]);
		mp4w_box_close(b, box);
	}
	mp4w_box_close(b, traf);
}

/* A moof of |n| trafs (track IDs 1..n) at position 1000, parsed. */
static int
hand_moof(const struct hand_traf *h, int n, const struct mp4r_movie *mv, struct mp4r_frag *f)
{
	uint8_t mem[4096];
	struct mp4w_buf b;
	struct mp4r_iter it;
	struct mp4r_box box;
	size_t moof, mfhd;

	mp4w_buf_fixed(&b, mem, sizeof(mem));
	moof = mp4w_box_open(&b, "moof");
	mfhd = mp4w_fullbox_open(&b, "mfhd", 0, 0);
	mp4w_put32(&b, 9);
	mp4w_box_close(&b, mfhd);
	for (int i = 0; i < n; i++)
		hand_traf(&b, &h[i], (uint32_t)i + 1);
	mp4w_box_close(&b, moof);
	mp4r_iter_init(&it, mem, b.len, 1000, NULL);
	if (mp4r_iter_next(&it, &box) != 1)
		return -100;
	return mp4r_frag_parse(&it, &box, mv, f);
}

static void
test_hand_fragments(void)
{
	static const uint32_t e2[] = { 10, 100, 20, 200 };	/* duration, size */
	static const uint32_t cto[] = { 0xfffffc18, 0x3e8 };	/* -1000, 1000 */
	struct mp4r_movie mv = { .ntracks = 1 };
	struct mp4r_frag f;
	struct mp4r_sample s;
	struct hand_traf h[2];
	int rc;

	/* tfhd defaults, first-sample flags, an absolute base offset */
	h[0] = (struct hand_traf){ .tfhd_flags = 0x39, .base = 5000, .def_duration = 3003,
	    .def_size = 50, .def_flags = MP4_FLAGS_NON_SYNC, .trun_flags = 0x4, .count = 5,
	    .first_flags = MP4_FLAGS_SYNC, .tfdt = true };
	ok(hand_moof(h, 1, NULL, &f) == 0 && f.seq == 9 && f.ntraf == 1 && f.nsamples == 5,
	    "tfhd defaults, no per-sample fields: 5 samples");
	memset(&s, 0, sizeof(s));
	rc = mp4r_frag_sample(&f.traf[0], 3, &s);
	ok(rc == 0 && s.pos == 5150 && s.size == 50 && !s.sync &&
	    s.duration == 3003 && s.dts == 777 + 3 * 3003 && s.index == 3,
	    "  sample 3 at base + 3 x 50, non-sync, dts from tfdt (%llu)", (unsigned long long)s.pos);
	ok(mp4r_frag_sample(&f.traf[0], 0, &s) == 0 && s.sync, "  sample 0 sync: first-sample flags");
	is_int(mp4r_frag_sample(&f.traf[0], 5, &s), PROTO_EBADMSG, "  there is no sample 5");
	/* neither base flag: traf 1 from the moof, traf 2 after traf 1's data */
	h[0] = (struct hand_traf){ .trun_flags = 0x301, .count = 2, .data_offset = 300,
	    .entries = e2 };
	h[1] = (struct hand_traf){ .trun_flags = 0x300, .count = 2, .entries = e2, .ntruns = 2 };
	ok(hand_moof(h, 2, NULL, &f) == 0 && f.traf[0].trun[0].data_pos == 1300 &&
	    f.traf[1].trun[0].data_pos == 1600 && f.traf[1].trun[1].data_pos == 1900 &&
	    f.traf[1].nsamples == 4 && !f.traf[1].has_tfdt,
	    "no base flag: traf 2's data follows traf 1's, each trun the one before");
	ok(mp4r_frag_sample(&f.traf[1], 3, &s) == 0 && s.pos == 2000 && s.size == 200 &&
	    s.dts == 30 + 10 && s.index == 3, "  its sample 3 in the second trun");
	/* the trex defaults of the init segment */
	mv.track[0] = (struct mp4r_track){ .track_id = 1, .has_trex = true, .trex_duration = 40,
	    .trex_size = 7, .trex_flags = MP4_FLAGS_NON_SYNC };
	h[0] = (struct hand_traf){ .tfhd_flags = 0x020000, .trun_flags = 1, .count = 3,
	    .data_offset = 100 };
	ok(hand_moof(h, 1, &mv, &f) == 0 && mp4r_frag_sample(&f.traf[0], 2, &s) == 0 &&
	    s.size == 7 && s.duration == 40 && !s.sync && s.pos == 1000 + 100 + 14,
	    "trex defaults when tfhd and trun have none");
	is_int(hand_moof(h, 2, &mv, &f), PROTO_EBADMSG, "a traf of track 2, not in the movie");
	/* composition offsets: unsigned in version 0, signed in version 1 */
	h[0] = (struct hand_traf){ .tfhd_flags = 0x020000 | 0x10, .def_size = 1,
	    .trun_flags = 0x801, .count = 2, .entries = cto, .trun_version = 1 };
	ok(hand_moof(h, 1, NULL, &f) == 0 && mp4r_frag_sample(&f.traf[0], 0, &s) == 0 &&
	    s.cto == -1000, "trun version 1: a negative composition offset");
	h[0].trun_version = 0;
	ok(hand_moof(h, 1, NULL, &f) == 0 && mp4r_frag_sample(&f.traf[0], 0, &s) == 0 &&
	    s.cto == 0xfffffc18, "trun version 0: the same bits unsigned");
	/* refusals */
	h[0] = (struct hand_traf){ .trun_flags = 0x300, .count = 1, .entries = e2, .ntruns = 17 };
	is_int(hand_moof(h, 1, NULL, &f), PROTO_ETOOBIG, "17 truns in a traf: PROTO_ETOOBIG");
	h[0] = (struct hand_traf){ .trun_flags = 0x300, .count = 3, .entries = e2, .written = 2 };
	is_int(hand_moof(h, 1, NULL, &f), PROTO_EBADMSG, "a trun shorter than its count says");
	h[0] = (struct hand_traf){ .no_tfhd = true, .trun_flags = 0x300, .count = 1, .entries = e2 };
	is_int(hand_moof(h, 1, NULL, &f), PROTO_EBADMSG, "a traf without tfhd");
	h[0] = (struct hand_traf){ .trun_flags = 0x301, .count = 1, .entries = e2,
	    .data_offset = 0x80000000u };
	is_int(hand_moof(h, 1, NULL, &f), PROTO_EBADMSG, "a data offset before the file's start");
	h[0] = (struct hand_traf){ .tfhd_flags = 0x10, .def_size = 1, .count = 70000 };
	is_int(hand_moof(h, 1, NULL, &f), PROTO_ETOOBIG, "70000 samples of default size: "
	    "above max_samples");
}

/* --- a small file: crafted damage, every byte flipped --------------------------------------- */

static const char xml_doc[] = "<tt:MetadataStream xmlns:tt=\"http://www.onvif.org/ver10/schema\">"
    "<tt:VideoAnalytics><tt:Frame UtcTime=\"2025-06-27T10:00:00.2Z\"/></tt:VideoAnalytics>"
    "</tt:MetadataStream>";
static const uint8_t tiny_p[] = { 0, 0, 0, 1, 0x41, 0x9a, 0x02, 0x03 };	/* non-IDR slice */
static const uint8_t tiny_aac[] = { 0x21, 0x10, 0x05, 0x00, 0x80 };

/* H.264 (real parameter sets, tiny slices), AAC, metadata; 3 fragments with prft. */
static void
small_sources(struct source *v, struct source *a, struct source *m)
{
	src_h264(v);
	v->n = 6;
	for (int i = 0; i < 6; i++)
		v->s[i] = (struct src_sample){ i % 3 ? tiny_p : idr, i % 3 ? sizeof(tiny_p) :
		    sizeof(idr), 9000, i % 3 == 0, 0 };
	src_aac(a);
	a->n = 8;
	for (int i = 0; i < 8; i++)
		a->s[i] = (struct src_sample){ tiny_aac, sizeof(tiny_aac), 3600, true, 0 };
	src_meta(m);
	m->n = 2;
	m->s[1].duration = m->s[0].duration = 27000;
}

static int
small_file(struct written *wr)
{
	static struct source v = { .name = "v" }, a = { .name = "a" }, m = { .name = "m" };
	struct source *src[3] = { &v, &a, &m };

	v.n = a.n = m.n = 0;
	small_sources(&v, &a, &m);
	return write_sources(src, 3, 0.2, true, wr);
}

/* Scans to the end: the final rc, s left as it ended. */
static int
scan_all(const uint8_t *p, size_t len, const struct mp4r_limits *lim, struct mp4r_scan *s)
{
	int rc;

	mp4r_scan_init(s, lim);
	while ((rc = mp4r_scan_next(s, p, len)) == 1)
		;
	return rc;
}

/* Position of |path| in fragment |k| (-1: the init segment) of |wr|. */
static size_t
box_in(const struct written *wr, int k, const char *path)
{
	size_t from = k < 0 ? 0 : wr->bounds[k];
	struct mp4r_box b;

	if (mp4r_find(wr->out.p + from, wr->out.len - from, from, path, NULL, &b) != 1)
		return 0;
	return (size_t)b.pos;
}

struct damage {
	const char *name;
	int frag;			/* -1: init segment */
	const char *path;		/* the box to change */
	size_t at;			/* offset from the box's start */
	uint32_t value;			/* written there (32 bits) */
	bool fill;			/* instead: the rest of the box made 'x' */
	int rc;
	const char *bad_box;		/* top-level box at fault: "moov", "moof", "mdat", "prft" */
};

static const struct damage damages[] = {
	{ "mvhd size below its header", -1, "moov/mvhd", 0, 4, false, PROTO_EBADMSG, "moov" },
	{ "trak past moov", -1, "moov/trak", 0, 0x100000, false, PROTO_EBADMSG, "moov" },
	{ "size 0 inside moov", -1, "moov/mvhd", 0, 0, false, PROTO_EUNSUPPORTED, "moov" },
	{ "avcC SPS length past avcC", -1, "moov/trak/mdia/minf/stbl/stsd/avc1/avcC", 14, 0xffff0000,
	    false, PROTO_EBADMSG, "moov" },
	{ "stsd without entries", -1, "moov/trak[1]/mdia/minf/stbl/stsd", 12, 0, false,
	    PROTO_EBADMSG, "moov" },
	{ "esds descriptor past esds", -1, "moov/trak[1]/mdia/minf/stbl/stsd/mp4a/esds", 12,
	    0x037f0000, false, PROTO_EBADMSG, "moov" },
	{ "metx strings without NUL", -1, "moov/trak[2]/mdia/minf/stbl/stsd/metx", 16, 0, true,
	    PROTO_EBADMSG, "moov" },
	{ "mdhd timescale 0", -1, "moov/trak/mdia/mdhd", 20, 0, false, PROTO_EBADMSG, "moov" },
	{ "trun count past its box", 1, "moof/traf/trun", 12, 0xffffff00, false, PROTO_EBADMSG,
	    "moof" },
	{ "trun data past mdat", 1, "moof/traf/trun", 16, 0x100000, false, PROTO_EBADMSG, "mdat" },
	{ "traf of track 7", 1, "moof/traf/tfhd", 12, 7, false, PROTO_EBADMSG, "moof" },
	{ "mfhd renamed", 1, "moof/mfhd", 4, 0x66726565, false, PROTO_EBADMSG, "moof" },
	{ "mdat renamed", 1, "mdat", 4, 0x66726565, false, PROTO_EBADMSG, "mdat" },
	{ "moof renamed after prft", 1, "moof", 4, 0x66726565, false, PROTO_EBADMSG, "moof" },
	{ "prft too short", 1, "prft", 0, 16, false, PROTO_EBADMSG, "prft" },
	{ "mdat smaller than its samples", 2, "mdat", 0, 12, false, PROTO_EBADMSG, "mdat" },
	{ "moof above max_box", 2, "moof", 0, 0x7ffffff0, false, PROTO_ETOOBIG, "moof" },
};

static void
test_damage(const struct written *wr, const struct damage *d)
{
	static uint8_t buf[1 << 16];
	size_t at = box_in(wr, d->frag, d->path), want_bad;
	const char *top = d->bad_box;
	struct mp4r_scan s;
	int rc;

	memcpy(buf, wr->out.p, wr->out.len);
	if (d->fill)
		memset(buf + at + d->at, 'x', proto_rd32(buf + at) - d->at);
	else
		proto_wr32(buf + at + d->at, d->value);
	want_bad = strcmp(top, "moov") == 0 ? box_in(wr, -1, "moov") : box_in(wr, d->frag, top);
	rc = scan_all(buf, wr->out.len, NULL, &s);
	ok(at > 0 && rc == d->rc && s.bad_pos == want_bad &&
	    s.good_end == (d->frag < 0 ? proto_rd32(buf) : wr->bounds[d->frag]),
	    "%s: %s at the %s, good up to %llu (rc %d at %llu)", d->name, proto_strerror(d->rc), top,
	    (unsigned long long)s.good_end, rc, (unsigned long long)s.bad_pos);
}

static void
test_damages(void)
{
	struct written wr;
	struct mp4r_scan s;
	static uint8_t buf[1 << 16];
	int rc = small_file(&wr);
	size_t n;

	if (!ok(rc == 0 && wr.nfrags == 3, "a small three-track file (%zu bytes)", wr.out.len))
		return;
	is_int(scan_all(wr.out.p, wr.out.len, NULL, &s), 0, "  it scans clean");
	for (size_t i = 0; i < sizeof(damages) / sizeof(damages[0]); i++)
		test_damage(&wr, &damages[i]);
	n = wr.out.len;
	memcpy(buf, wr.out.p, n);
	memcpy(buf + n, wr.out.p, wr.bounds[0]);
	ok(scan_all(buf, n + wr.bounds[0], NULL, &s) == PROTO_EBADMSG && s.bad_pos == n &&
	    s.good_end == n, "a second init segment after the fragments: PROTO_EBADMSG at its ftyp");
	memcpy(buf + n, "\0\0\0\3free", 8);
	ok(scan_all(buf, n + 8, NULL, &s) == PROTO_EBADMSG && s.bad_pos == n,
	    "a top-level size of 3: PROTO_EBADMSG");
	memcpy(buf + n, "\0\0\0\1skip\0\0\0\0\0\0\0\x14" "abcd" "\0\0\0\x18uuid0123456789abcdef",
	    44);
	ok(scan_all(buf, n + 44, NULL, &s) == 0 && s.good_end == n + 44 && s.box.type == T4("uuid"),
	    "a largesize skip and a uuid box after the fragments: whole units, scanned past");
	memcpy(buf + n, "\0\0\0\0mdatxyz", 11);
	ok(scan_all(buf, n + 11, NULL, &s) == 0 && s.good_end == n + 11 && s.box.to_end,
	    "a last box of size 0: to the end of the file");
	mp4w_buf_free(&wr.out);
}

static void
test_reader_limits(void)
{
	struct written wr;
	struct mp4r_scan s;
	struct mp4r_movie m;

	small_file(&wr);
	ok(scan_all(wr.out.p, wr.out.len, &(struct mp4r_limits){ .max_tracks = 2 }, &s) ==
	    PROTO_ETOOBIG && s.bad_pos == box_in(&wr, -1, "moov"), "three tracks, max_tracks 2");
	ok(scan_all(wr.out.p, wr.out.len, &(struct mp4r_limits){ .max_box = 512 }, &s) ==
	    PROTO_ETOOBIG && s.unit == MP4R_UNIT_NONE, "moov above max_box 512");
	ok(scan_all(wr.out.p, wr.out.len, &(struct mp4r_limits){ .max_samples = 3 }, &s) ==
	    PROTO_ETOOBIG && s.bad_pos == box_in(&wr, 0, "moof") && s.fragments == 0,
	    "a fragment of more samples than max_samples 3");
	ok(scan_all(wr.out.p, wr.out.len, &(struct mp4r_limits){ .max_depth = 6 }, &s) ==
	    PROTO_ETOOBIG, "the sample entries below max_depth 6");
	ok(scan_all(wr.out.p, wr.out.len, &(struct mp4r_limits){ .max_mdat = 64 }, &s) ==
	    PROTO_ETOOBIG && s.fragments == 0, "an mdat above max_mdat 64");
	is_int(mp4r_movie_parse(wr.out.p, wr.bounds[0] - 1, 0, NULL, &m), PROTO_AGAIN,
	    "mp4r_movie_parse on a moov cut short: PROTO_AGAIN");
	ok(mp4r_movie_parse(wr.out.p, wr.out.len, 0, NULL, &m) == (int)wr.bounds[0] &&
	    m.ntracks == 3 && m.timescale == 1000 && m.major_brand == T4("isom"),
	    "mp4r_movie_parse: the bytes up to moov's end, three tracks");
	is_int(mp4r_movie_parse(wr.out.p + wr.bounds[0], wr.out.len - wr.bounds[0], wr.bounds[0],
	    NULL, &m), PROTO_EBADMSG, "mp4r_movie_parse on fragments without moov: PROTO_EBADMSG");
	mp4w_buf_free(&wr.out);
}

/* Every byte of the small file replaced by three values in turn: no sample
 * ever points outside the file, no track span outside it (and ASan sees no read). */
static void
test_flip_sweep(void)
{
	static const uint8_t values[] = { 0x00, 0xff, 0x80 };
	static uint8_t buf[1 << 16];
	struct written wr;
	size_t escapes = 0, runs = 0, errors = 0;

	small_file(&wr);
	for (size_t i = 0; i < wr.out.len; i++)
		for (size_t v = 0; v < 3; v++) {
			struct mp4r_scan s;
			int rc;

			memcpy(buf, wr.out.p, wr.out.len);
			buf[i] = buf[i] == values[v] ? (uint8_t)~values[v] : values[v];
			mp4r_scan_init(&s, NULL);
			while ((rc = mp4r_scan_next(&s, buf, wr.out.len)) == 1) {
				for (int t = 0; s.unit == MP4R_UNIT_FRAGMENT && t < s.frag.ntraf; t++) {
					struct mp4r_sample_iter it;
					struct mp4r_sample smp;

					mp4r_samples_begin(&s.frag.traf[t], &it);
					while (mp4r_samples_next(&it, &smp))
						escapes += smp.pos + smp.size > wr.out.len ||
						    smp.pos < s.frag.mdat_pos;
				}
			}
			errors += rc < 0;
			escapes += s.good_end > wr.out.len;
			runs++;
		}
	ok(escapes == 0, "%zu damaged copies scanned, %zu refused, no sample outside its mdat",
	    runs, errors);
	mp4w_buf_free(&wr.out);
}

/* --- cost: bytes around the media, and time ----------------------------------------------- */

/*
 * A 4 Mbit/s camera for 60 s in 1 s fragments with prft: 25 fps video
 * (one 120 kB keyframe a second, 15 kB otherwise, each with 4 NAL
 * units), 48 kHz AAC, a metadata document every 200 ms. The overhead
 * (init segment, prft, moof, mdat headers, 4-byte lengths for 4-byte
 * start codes) must stay under 1 % of the media (the recorder's budget
 * is 3 %). Times are printed, not asserted.
 */
static void
test_overhead(void)
{
	static uint8_t key[120000], inter[15000], aac[300];
	struct source v = { 0 }, a = { 0 }, m = { 0 };
	struct mp4w_track t[3];
	struct mp4w_movie mv = { .tracks = t, .ntracks = 3 };
	struct mp4w w;
	struct mp4w_buf out;
	struct mp4r_scan s;
	size_t media = 0, file;
	double t0, t1, t2;
	int frags = 0;

	memset(key, 0x5a, sizeof(key));	/* slice data: no start code inside */
	memset(inter, 0x5a, sizeof(inter));
	for (size_t i = 0; i < sizeof(key); i += 30000)	/* 4 NAL units, 4-byte start codes */
		memcpy(key + i, "\0\0\0\1\x65", 5);
	for (size_t i = 0; i < sizeof(inter); i += 3750)
		memcpy(inter + i, "\0\0\0\1\x41", 5);
	memset(aac, 0x21, sizeof(aac));
	src_h264(&v);
	src_aac(&a);
	src_meta(&m);
	t[0] = v.track, t[1] = a.track, t[2] = m.track;
	mp4w_buf_growing(&out, 64u << 20);
	mp4w_write_init(&mv, &out);
	mp4w_init(&w, &mv, &(struct mp4w_limits){ .max_samples = 256 });
	t0 = now();
	for (int sec = 0; sec < 60; sec++, frags++) {
		mp4w_frag_begin(&w, &(struct mp4w_prft){ .track = 0, .ntp = NTP_BASE + sec * NTP_1S });
		for (int f = 0; f < 25; f++) {
			mp4w_frag_add(&w, &(struct mp4w_sample){ .track = 0, .data = f ? inter : key,
			    .size = f ? sizeof(inter) : sizeof(key), .duration = 3600, .keyframe = !f });
			media += f ? sizeof(inter) : sizeof(key);
		}
		for (int k = 0; k < 47; k++, media += sizeof(aac))
			mp4w_frag_add(&w, &(struct mp4w_sample){ .track = 1, .data = aac,
			    .size = sizeof(aac), .duration = 1024, .keyframe = true });
		for (int k = 0; k < 5; k++, media += strlen(xml_doc))
			mp4w_frag_add(&w, &(struct mp4w_sample){ .track = 2,
			    .data = (const uint8_t *)xml_doc, .size = strlen(xml_doc), .duration = 18000 });
		if (mp4w_frag_end(&w, &out) <= 0)
			break;
	}
	t1 = now();
	file = out.len;
	ok(frags == 60 && file > media && (double)(file - media) / media < 0.01,
	    "4 Mbit/s for 60 s: %zu bytes of media in a %zu-byte file, overhead %.3f %%", media, file,
	    100.0 * (double)(file - media) / media);
	mp4r_scan_init(&s, NULL);
	while (mp4r_scan_next(&s, out.p, out.len) == 1)
		;
	t2 = now();
	ok(s.fragments == 60 && s.good_end == file, "  mp4r scans its 60 fragments");
	diag("writer: %.0f MB/s of media (%.2f ms for 60 s of video); scanner: %.1f us a fragment",
	    media / (t1 - t0) / 1e6, (t1 - t0) * 1e3, (t2 - t1) / 60 * 1e6);
	mp4w_free(&w);
	mp4w_buf_free(&out);
}

/* --- fMP4 written by FFmpeg, read by mp4r, checked against ffprobe's packets ------------ */

/* mp4r's samples of track |id| in file order; decode times relative to the first. */
static int
read_track(const uint8_t *file, size_t len, uint32_t id, struct pkt *p, int max, int *frags)
{
	struct mp4r_scan s;
	int n = 0;

	*frags = 0;
	mp4r_scan_init(&s, NULL);
	while (mp4r_scan_next(&s, file, len) == 1) {
		const struct mp4r_traf *t;
		struct mp4r_sample_iter it;
		struct mp4r_sample smp;

		if (s.unit != MP4R_UNIT_FRAGMENT || (t = mp4r_frag_traf(&s.frag, id)) == NULL)
			continue;
		(*frags)++;
		mp4r_samples_begin(t, &it);
		while (n < max && mp4r_samples_next(&it, &smp))
			p[n++] = (struct pkt){ smp.size, (int64_t)smp.dts, smp.sync };
	}
	return n;
}

static bool
same_packets(const struct pkt *a, int na, const struct pkt *b, int nb)
{
	if (na != nb || na == 0)
		return false;
	for (int i = 0; i < na; i++)
		if (a[i].size != b[i].size || a[i].key != b[i].key ||
		    a[i].dts - a[0].dts != b[i].dts - b[0].dts)
			return false;
	return true;
}

static void
test_foreign(const char *movflags)
{
	static struct pkt want[512], got[512];
	const char *path = tmp_path("ffmpeg.mp4");
	char cmd[1024];
	uint8_t *file;
	size_t len;
	int status, frags;

	snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=160x120:rate=25 "
	    "-f lavfi -i sine=frequency=440:sample_rate=48000 -t 2 -c:v libx264 -pix_fmt yuv420p "
	    "-g 10 -bf 0 -c:a aac -movflags %s -f mp4 '%s' </dev/null", movflags, path);
	ok(system(cmd) == 0, "ffmpeg writes fragmented MP4 (%s)", movflags);
	snprintf(cmd, sizeof(cmd), "cat '%s'", path);
	file = run_capture(cmd, &len, &status);
	for (int id = 1; id <= 2; id++) {
		int nw = probe_packets(path, id - 1, want, 512);
		int ng = read_track(file, len, (uint32_t)id, got, 512, &frags);

		ok(same_packets(want, nw, got, ng) && frags >= 5,
		    "  track %d: mp4r finds ffprobe's %d packets (sizes, key flags, timing) in %d "
		    "fragments (%d)", id, nw, frags, ng);
	}
	free(file);
}

/* --- the fuzz corpus ----------------------------------------------------------------- */

static int
write_corpus(const char *dir)
{
	struct source v = { .name = "v" }, a = { .name = "a" }, m = { .name = "m" };
	struct source h = { .name = "h" }, j = { .name = "j" }, u = { .name = "u" };
	struct source *src3[3] = { &v, &a, &m }, *src2[2] = { &h, &u }, *src1[1] = { &j };
	struct written wr;
	struct mp4w_buf b;
	size_t sibo[2];
	char path[512];
	int bad = 0;

	if (!load_media())
		return 1;
	small_sources(&v, &a, &m);
	src_h265(&h);
	h.n = 2;
	h.s[0] = (struct src_sample){ idr, sizeof(idr), 9000, true, -9000 };
	h.s[1] = (struct src_sample){ tiny_p, sizeof(tiny_p), 9000, false, 9000 };
	src_pcmu(&u);
	u.n = u.n > 3 ? 3 : u.n;
	src_jpeg(&j);
	j.s[0] = (struct src_sample){ (const uint8_t *)"\xff\xd8\xff\xd9", 4, 9000, true, 0 };
	j.n = 1;
	bad += write_sources(src3, 3, 0.2, true, &wr) != 0;
	snprintf(path, sizeof(path), "%s/h264_aac_meta.mp4", dir);
	bad += !save(path, wr.out.p, wr.out.len);
	snprintf(path, sizeof(path), "%s/torn.mp4", dir);
	bad += !save(path, wr.out.p, wr.bounds[1] + 40);
	mp4w_buf_free(&wr.out);
	bad += write_sources(src2, 2, 0.1, false, &wr) != 0;
	snprintf(path, sizeof(path), "%s/h265_pcmu.mp4", dir);
	bad += !save(path, wr.out.p, wr.out.len);
	mp4w_buf_free(&wr.out);
	bad += write_sources(src1, 1, 1.0, true, &wr) != 0;
	snprintf(path, sizeof(path), "%s/jpeg.mp4", dir);
	bad += !save(path, wr.out.p, wr.out.len);
	mp4w_buf_free(&wr.out);
	mp4w_buf_growing(&b, 1 << 16);
	eff_meta(&b, sibo);
	snprintf(path, sizeof(path), "%s/eff_meta.bin", dir);
	bad += !save(path, b.p, b.len);
	mp4w_buf_free(&b);
	return bad ? 1 : 0;
}

/* --- main ------------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
	char cmd[128];

	if (argc == 3 && strcmp(argv[1], "--corpus") == 0)
		return write_corpus(argv[2]);
	snprintf(fx.tmp, sizeof(fx.tmp), "%s/test_mp4.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") :
	    "/tmp");
	ok(have_tool("ffprobe") && have_tool("ffmpeg"),
	    "ffprobe and ffmpeg are installed (contrib/install-deps.sh)");
	if (!ok(load_media(), "media samples of t/data/media") || mkdtemp(fx.tmp) == NULL)
		return done_testing();
	ok(fx.ulaw != NULL && fx.alaw != NULL, "ffmpeg made a second of G.711 mu-law and A-law");
	test_annexb();
	test_annexb_media();
	test_box_headers();
	test_depth();
	test_find();
	test_config_records();
	test_box_tree();
	test_moov_extra();
	test_track_refusals();
	test_writer_misuse();
	test_writer_limits();
	test_cto();
	for (size_t i = 0; i < sizeof(codec_cases) / sizeof(codec_cases[0]); i++)
		test_codec(&codec_cases[i]);
	test_multitrack();
	test_replay_path();
	test_hand_fragments();
	test_damages();
	test_reader_limits();
	test_flip_sweep();
	test_overhead();
	test_foreign("frag_keyframe+empty_moov+default_base_moof");
	test_foreign("frag_keyframe+empty_moov");
	if (getenv("MP4_TEST_KEEP") != NULL) {	/* to look at the files with other players */
		diag("files kept in %s", fx.tmp);
		return done_testing();
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.tmp);
	if (system(cmd) != 0)
		diag("could not remove %s", fx.tmp);
	return done_testing();
}
