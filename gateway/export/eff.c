/*
 * eff.c - the export (eff.h): plan, init segment, fragments, signed meta.
 *
 * Two passes over the segments. The plan pass reads only init segments
 * and moofs (never mdat): it checks that every segment has the tracks of
 * the first, finds the keyframe at or before |from| where the export
 * starts, and counts the bytes to copy (the progress total). The copy
 * pass reads one fragment at a time and writes one fragment out for each,
 * the samples byte for byte, their decode times those of the recording
 * moved so that the export's time 0 is its first video sample.
 *
 * The output goes through out_write(), which feeds the signature hash and
 * the box digest index as the bytes pass, so the file is never read back.
 */
#include "vssgate_build.h"

#include "eff_int.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T(a, b, c, d) MP4_FOURCC(a, b, c, d)
#define EVENTS_TIMESCALE 1000
#define EVENT_XML_MAX 65536

/* --- the output file ---------------------------------------------------------------- */

struct out {
	int fd;
	char tmp[4096];
	uint64_t pos;
	EVP_MD_CTX *hash;		/* every byte: what is signed */
	struct eff_locsum box;		/* the current index entry's bytes */
	uint64_t entry_pos;
	uint32_t entry_type;
	struct mp4w_buf index;		/* entries, EFF_INDEX_ENTRY each */
	uint32_t nindex;
	uint64_t flushed;		/* writeback started up to here */
};

#define WRITEBACK_STEP (32u << 20)

/*
 * Starts the disk writing what is written so far, without waiting: the
 * fsync before the rename then has little left to do, and the export's
 * dirty pages do not pile up in the page cache.
 */
static void
out_writeback(struct out *o)
{
	if (o->pos - o->flushed < WRITEBACK_STEP)
		return;
	sync_file_range(o->fd, (off_t)o->flushed, (off_t)(o->pos - o->flushed),
	    SYNC_FILE_RANGE_WRITE);
	o->flushed = o->pos;
}

static int
out_write(struct out *o, const uint8_t *p, size_t n, char *err)
{
	size_t done = 0;

	EVP_DigestUpdate(o->hash, p, n);
	eff_locsum_update(&o->box, p, n);
	while (done < n) {
		ssize_t w = write(o->fd, p + done, n - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			eff_seterr(err, "writing the export: %s", strerror(errno));
			return -1;
		}
		done += (size_t)w;
	}
	o->pos += n;
	return 0;
}

/* Closes the current index entry (the bytes since entry_pos) and starts the next. */
static void
out_entry(struct out *o, uint32_t next_type)
{
	if (o->pos > o->entry_pos) {
		eff_put_index_entry(&o->index, o->entry_type, o->entry_pos, o->pos - o->entry_pos,
		    eff_locsum_final(&o->box));
		o->nindex++;
	}
	eff_locsum_init(&o->box);
	o->entry_pos = o->pos;
	o->entry_type = next_type;
}

/* --- the tracks ------------------------------------------------------------------- */

struct track_map {
	int n;
	uint32_t src_id[MP4_MAX_TRACKS];	/* 0: the events track */
	unsigned kind[MP4_MAX_TRACKS];
	int ref;				/* the track that starts and cuts: video if any */
	int events;				/* output index of the events track, -1 */
};

static unsigned
kind_of(const struct mp4r_track *t)
{
	if (t->handler == T('v', 'i', 'd', 'e'))
		return EFF_KEEP_VIDEO;
	if (t->handler == T('s', 'o', 'u', 'n'))
		return EFF_KEEP_AUDIO;
	return t->codec == MP4_CODEC_ONVIF_META ? EFF_KEEP_METADATA : 0;
}

static int
map_tracks(const struct mp4r_movie *mv, unsigned keep, bool events, struct track_map *m,
    char *err)
{
	static const unsigned order[] = { EFF_KEEP_VIDEO, EFF_KEEP_AUDIO, EFF_KEEP_METADATA };

	memset(m, 0, sizeof(*m));
	m->ref = m->events = -1;
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
		for (int i = 0; i < mv->ntracks && (keep & order[k]); i++) {
			if (kind_of(&mv->track[i]) != order[k] || m->n == MP4_MAX_TRACKS - 1)
				continue;
			if (m->ref < 0)
				m->ref = m->n;
			m->kind[m->n] = order[k];
			m->src_id[m->n++] = mv->track[i].track_id;
		}
	if (m->ref < 0) {
		eff_seterr(err, "the recording has none of the tracks asked for");
		return -1;
	}
	if (events) {
		m->events = m->n;
		m->kind[m->n] = EFF_KEEP_EVENTS;
		m->src_id[m->n++] = 0;
	}
	return 0;
}

static bool
span_eq(struct mp4_span a, struct mp4_span b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* A later segment must describe the kept tracks as the first one does. */
static int
same_tracks(const struct eff_seg *first, const struct eff_seg *s, const struct track_map *m,
    char *err)
{
	for (int i = 0; i < m->n; i++) {
		const struct mp4r_track *a, *b;

		if (m->src_id[i] == 0)
			continue;
		a = mp4r_movie_track(&first->movie, m->src_id[i]);
		b = mp4r_movie_track(&s->movie, m->src_id[i]);
		if (b == NULL || a->codec != b->codec || a->timescale != b->timescale ||
		    !span_eq(a->config, b->config) || a->entry_type != b->entry_type) {
			eff_seterr(err, "%s: track %u is not recorded as in %s (the camera's codec "
			    "settings changed); export the two parts separately", s->path,
			    m->src_id[i], first->path);
			return -1;
		}
	}
	return 0;
}

/* --- the plan --------------------------------------------------------------------- */

struct plan {
	int seg;			/* where the export starts */
	uint64_t frag_pos;
	int64_t origin_us;		/* wall clock of the start keyframe's decode time */
	bool found;
	uint64_t total;			/* recorded fragment bytes to copy */
	uint32_t fragments;
};

struct scan {
	bool have_start;
	bool overlaps;			/* a sample of the reference track ends after |from| */
	int seg;
	uint64_t frag_pos, bytes_before;
	int64_t origin_us;
	uint64_t bytes;			/* all fragments before |to| so far */
	uint32_t frags, frags_before;
};

/* The last sync sample of |t| presented at or before |from|, and the first one at all. */
static void
scan_fragment(const struct eff_seg *s, int seg, const struct mp4r_track *t,
    const struct eff_request *rq, struct scan *sc, bool *past_end)
{
	const struct mp4r_traf *tr = mp4r_frag_traf(&s->frag, t->track_id);
	struct mp4r_sample_iter it;
	struct mp4r_sample smp;

	*past_end = false;
	if (tr == NULL)
		return;
	mp4r_samples_begin(tr, &it);
	while (mp4r_samples_next(&it, &smp)) {
		int64_t dts_us = eff_seg_wall_us(s, smp.dts, t->timescale);
		int64_t pts_us = dts_us + eff_ticks_to_us(smp.cto, t->timescale);

		if (dts_us >= rq->to_us) {
			*past_end = smp.index == 0;
			break;
		}
		if (dts_us + eff_ticks_to_us(smp.duration, t->timescale) > rq->from_us)
			sc->overlaps = true;
		if (smp.sync && (pts_us <= rq->from_us || !sc->have_start)) {
			sc->have_start = true;
			sc->seg = seg;
			sc->frag_pos = s->frag.pos;
			sc->origin_us = dts_us;
			sc->bytes_before = sc->bytes;
			sc->frags_before = sc->frags;
		}
	}
}

static int
plan_segment(const struct eff_request *rq, int i, const struct eff_seg *first,
    const struct track_map *m, struct scan *sc, bool *done, char *err)
{
	struct eff_seg s;
	const struct mp4r_track *ref;
	bool past_end = false;
	int rc = -1, n;

	if (eff_seg_open(&s, rq->segments[i], err) < 0 || same_tracks(first, &s, m, err) < 0)
		goto out;
	ref = mp4r_movie_track(&s.movie, m->src_id[m->ref]);
	while ((n = eff_seg_next(&s, false, err)) == 1) {
		if (rq->cancel != NULL && atomic_load(rq->cancel)) {
			eff_seterr(err, "cancelled");
			goto out;
		}
		if (!s.has_origin) {
			eff_seterr(err, "%s: fragment at offset %llu has no capture time (prft)",
			    s.path, (unsigned long long)s.frag.pos);
			goto out;
		}
		scan_fragment(&s, i, ref, rq, sc, &past_end);
		if (past_end) {
			*done = true;
			break;
		}
		sc->bytes += s.frag.end - s.frag.pos;
		sc->frags++;
	}
	rc = n < 0 ? -1 : 0;
out:
	eff_seg_close(&s);
	return rc;
}

static int
make_plan(const struct eff_request *rq, const struct eff_seg *first, const struct track_map *m,
    struct plan *p, char *err)
{
	struct scan sc = { 0 };
	bool done = false;

	for (int i = 0; i < rq->nsegments && !done; i++)
		if (plan_segment(rq, i, first, m, &sc, &done, err) < 0)
			return -1;
	if (!sc.have_start || !sc.overlaps) {
		eff_seterr(err, "nothing was recorded between the start and the end asked for");
		return -1;
	}
	*p = (struct plan){ .seg = sc.seg, .frag_pos = sc.frag_pos, .origin_us = sc.origin_us,
	    .found = true, .total = sc.bytes - sc.bytes_before, .fragments = sc.frags - sc.frags_before };
	return 0;
}

/* --- the export state -------------------------------------------------------------- */

struct trk {
	bool started;			/* a sample written */
	int seg;			/* the segment |offset| belongs to */
	int64_t offset;			/* export decode time - recorded decode time */
	uint64_t src_end;		/* recorded decode time after its last sample */
	int64_t end_us;			/* wall clock after its last sample */
};

struct job {
	const struct eff_request *rq;
	struct eff_result *res;
	char *err;
	struct track_map map;
	struct eff_seg first;
	struct plan plan;
	struct out out;
	struct mp4w w;
	struct mp4w_buf frag;
	struct trk trk[MP4_MAX_TRACKS];
	uint32_t timescale[MP4_MAX_TRACKS];
	int next_event;			/* the next of rq->events to write */
	int first_event, end_event;	/* rq->events in [from, to) */
	uint64_t done;
	uint32_t group, in_group;	/* fragments per index entry */
	struct eff_der der;		/* the signer's certificates */
	size_t siglen;
	char *xml;			/* one event document */
};

static bool
cancelled(const struct job *j)
{
	return j->rq->cancel != NULL && atomic_load(j->rq->cancel);
}

/* --- the init segment -------------------------------------------------------------- */

static void
put_ftyp(struct mp4w_buf *b)
{
	size_t at = mp4w_box_open(b, "ftyp");

	mp4w_put_fourcc(b, "isom");
	mp4w_put32(b, 0x200);
	mp4w_put(b, "isomiso6mp41", 12);
	mp4w_box_close(b, at);
}

/* The segment's trak, its track_ID (tkhd) set to |id|. */
static void
put_trak_copy(struct mp4w_buf *b, const uint8_t *trak, size_t len, uint32_t id)
{
	struct mp4r_box tkhd;
	size_t at = b->len, field;

	mp4w_put(b, trak, len);
	if (b->err != 0 || mp4r_find(b->p + at, len, 0, "trak/tkhd", NULL, &tkhd) != 1)
		return;
	field = at + (size_t)tkhd.pos + tkhd.hdr + (tkhd.body[0] == 1 ? 20 : 12);
	proto_wr32(b->p + field, id);
}

static bool
has_position(const struct eff_location *l)
{
	return !isnan(l->latitude) && !isnan(l->longitude);
}

static void
put_loci(struct mp4w_buf *b, const struct eff_info *in)
{
	const struct eff_location *l = &in->location;
	char notes[512];

	if (!has_position(l))
		return;
	snprintf(notes, sizeof(notes), "camera %s%s%s%s%s", in->camera_name ? in->camera_name : "",
	    l->site ? "; site " : "", l->site ? l->site : "", l->floor ? "; floor " : "",
	    l->floor ? l->floor : "");
	eff_put_udta_loci(b, &(struct eff_loci){ .name = l->address, .longitude = l->longitude,
	    .latitude = l->latitude, .altitude = isnan(l->altitude_m) ? 0 : l->altitude_m,
	    .notes = notes });
}

static int
write_init(struct job *j)
{
	struct mp4w_buf b;
	uint32_t t1904 = (uint32_t)eff_unix_us_to_1904(j->rq->info->export_time_us);
	size_t moov;
	int rc = -1;

	mp4w_buf_growing(&b, EFF_MAX_INIT * 2);
	put_ftyp(&b);
	if (mp4w_buf_result(&b) < 0 || out_write(&j->out, b.p, b.len, j->err) < 0)
		goto out;
	out_entry(&j->out, T('m', 'o', 'o', 'v'));
	mp4w_buf_reset(&b);
	moov = mp4w_box_open(&b, "moov");
	eff_put_mvhd(&b, t1904, (uint32_t)j->map.n + 1);
	for (int i = 0; i < j->map.n; i++) {
		const uint8_t *trak;
		size_t len;

		if (i == j->map.events)
			eff_put_events_trak(&b, (uint32_t)i + 1, EVENTS_TIMESCALE, t1904);
		else if (eff_seg_trak(&j->first, j->map.src_id[i], &trak, &len))
			put_trak_copy(&b, trak, len, (uint32_t)i + 1);
	}
	eff_put_mvex(&b, j->map.n);
	put_loci(&b, j->rq->info);
	mp4w_box_close(&b, moov);
	if (mp4w_buf_result(&b) < 0) {
		eff_seterr(j->err, "the movie header does not fit in %u bytes", EFF_MAX_INIT * 2);
		goto out;
	}
	rc = out_write(&j->out, b.p, b.len, j->err);
	out_entry(&j->out, T('m', 'o', 'o', 'f'));
out:
	mp4w_buf_free(&b);
	return rc;
}

/* mp4w describes fragments only: the codec and the samples' form. */
static int
init_writer(struct job *j)
{
	struct mp4w_track t[MP4_MAX_TRACKS];
	int rc;

	for (int i = 0; i < j->map.n; i++) {
		const struct mp4r_track *r = mp4r_movie_track(&j->first.movie, j->map.src_id[i]);

		if (i == j->map.events) {
			t[i] = (struct mp4w_track){ .codec = MP4_CODEC_ONVIF_META,
			    .timescale = EVENTS_TIMESCALE };
		} else {
			t[i] = (struct mp4w_track){ .codec = r->codec, .timescale = r->timescale,
			    .width = r->width, .height = r->height, .channels = r->channels,
			    .sample_rate = r->sample_rate, .asc = r->asc.p, .asc_len = r->asc.len,
			    .vps = r->vps[0].p, .vps_len = r->vps[0].len, .sps = r->sps[0].p,
			    .sps_len = r->sps[0].len, .pps = r->pps[0].p, .pps_len = r->pps[0].len,
			    .samples_nal4 = true };
			if (mp4_codec_is_nal(r->codec) && r->nal_length_size != 4) {
				eff_seterr(j->err, "track %u: NAL length size %d (the recorder writes 4)",
				    r->track_id, r->nal_length_size);
				return -1;
			}
		}
		j->timescale[i] = t[i].timescale;
	}
	rc = mp4w_init(&j->w, &(struct mp4w_movie){ .tracks = t, .ntracks = j->map.n },
	    &(struct mp4w_limits){ .max_samples = 1u << 16, .max_frag_bytes = EFF_MAX_FRAGMENT + (1u << 20) });
	if (rc < 0) {
		eff_seterr(j->err, "a recorded track cannot be exported (%s)", proto_strerror(rc));
		return -1;
	}
	return 0;
}

/* --- media samples ---------------------------------------------------------------- */

static void
note_gap(struct job *j, int64_t from_us, int64_t to_us)
{
	struct eff_result *r = j->res;

	if (to_us - from_us < EFF_GAP_MIN_US)
		return;
	if (r->ngaps < EFF_MAX_GAPS)
		r->gaps[r->ngaps] = (struct eff_gap){ from_us, to_us };
	r->ngaps++;
}

/*
 * Where the recorded decode time |src_dts| of track |i| goes in the export.
 * Inside a segment the recording's own timing is kept (a jump in its tfdt
 * stays a jump); at a new segment the track is placed by the capture time,
 * never earlier than where it ended (no overlap), and a hole is noted.
 */
static int64_t
place(struct job *j, int i, int seg, const struct eff_seg *s, uint64_t src_dts)
{
	struct trk *t = &j->trk[i];
	uint32_t ts = j->timescale[i];
	int64_t want = eff_us_to_ticks(eff_seg_wall_us(s, src_dts, ts) - j->plan.origin_us, ts);
	int64_t next = (int64_t)j->w.track[i].next_dts;

	if (!t->started) {
		t->started = true;
		t->offset = (want < 0 ? 0 : want) - (int64_t)src_dts;
	} else if (t->seg != seg) {
		t->offset = (want > next + (int64_t)ts / 1000 ? want : next) - (int64_t)src_dts;
	}
	t->seg = seg;
	want = (int64_t)src_dts + t->offset;
	if (want < next) {		/* the recording overlaps itself: keep going on */
		t->offset += next - want;
		want = next;
	}
	if (i == j->map.ref && want > next && j->res->track[i].samples > 0)
		note_gap(j, j->plan.origin_us + eff_ticks_to_us(next, ts),
		    j->plan.origin_us + eff_ticks_to_us(want, ts));
	return want;
}

/* The samples of track |i| in the current fragment that fall in the export. */
static int
add_track(struct job *j, int i, int seg, const struct eff_seg *s)
{
	const struct mp4r_track *rt = mp4r_movie_track(&s->movie, j->map.src_id[i]);
	const struct mp4r_traf *tr = mp4r_frag_traf(&s->frag, j->map.src_id[i]);
	struct eff_track_summary *sum = &j->res->track[i];
	struct mp4r_sample_iter it;
	struct mp4r_sample smp;
	bool first = true;
	int rc;

	if (tr == NULL || rt == NULL)
		return 0;
	mp4r_samples_begin(tr, &it);
	while (mp4r_samples_next(&it, &smp)) {
		int64_t wall = eff_seg_wall_us(s, smp.dts, rt->timescale);

		if (wall < j->plan.origin_us || wall >= j->rq->to_us)
			continue;
		if (first) {
			int64_t at = place(j, i, seg, s, smp.dts);

			if ((uint64_t)at != j->w.track[i].next_dts || sum->samples == 0)
				mp4w_set_decode_time(&j->w, i, (uint64_t)at);
			first = false;
		}
		rc = mp4w_frag_add(&j->w, &(struct mp4w_sample){ .track = i,
		    .data = eff_seg_sample(s, &smp), .size = smp.size, .duration = smp.duration,
		    .keyframe = smp.sync, .pts_offset = (int32_t)smp.cto });
		if (rc < 0) {
			eff_seterr(j->err, "%s: sample at offset %llu cannot be copied (%s)", s->path,
			    (unsigned long long)smp.pos, proto_strerror(rc));
			return -1;
		}
		sum->samples++;
		sum->bytes += smp.size;
		j->trk[i].end_us = wall + eff_ticks_to_us(smp.duration, rt->timescale);
	}
	return 0;
}

/* --- events ----------------------------------------------------------------------- */

static void
xml_text(struct mp4w_buf *b, const char *s)
{
	for (; s != NULL && *s; s++) {
		switch (*s) {
		case '<': mp4w_put(b, "&lt;", 4); break;
		case '>': mp4w_put(b, "&gt;", 4); break;
		case '&': mp4w_put(b, "&amp;", 5); break;
		default: mp4w_put8(b, (uint8_t)*s); break;
		}
	}
}

static void
xml_lit(struct mp4w_buf *b, const char *s)
{
	mp4w_put(b, s, strlen(s));
}

/* One tt:MetadataStream holding the event (the layout is in eff.h). */
static int
event_document(const struct eff_event *e, struct mp4w_buf *b)
{
	char utc[40];

	eff_iso8601(e->time_us, utc, sizeof(utc));
	xml_lit(b, "<tt:MetadataStream xmlns:tt=\"http://www.onvif.org/ver10/schema\" "
	    "xmlns:wsnt=\"http://docs.oasis-open.org/wsn/b-2\" "
	    "xmlns:tns1=\"http://www.onvif.org/ver10/topics\"><tt:Event><wsnt:NotificationMessage>"
	    "<wsnt:Topic Dialect=\"http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet\">");
	xml_text(b, e->topic);
	xml_lit(b, "</wsnt:Topic><wsnt:Message><tt:Message UtcTime=\"");
	xml_lit(b, utc);
	xml_lit(b, "\"><tt:Source>");
	xml_lit(b, e->source ? e->source : "");
	xml_lit(b, "</tt:Source><tt:Data>");
	xml_lit(b, e->data ? e->data : "");
	xml_lit(b, "</tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage></tt:Event>"
	    "</tt:MetadataStream>");
	return mp4w_buf_result(b);
}

static int64_t
event_ticks(const struct job *j, int k)
{
	int64_t t = k < j->end_event ? j->rq->events[k].time_us : j->rq->to_us;

	return eff_us_to_ticks(t - j->plan.origin_us, EVENTS_TIMESCALE);
}

/* The events before |until_us| not yet written. */
static int
add_events(struct job *j, int64_t until_us)
{
	int i = j->map.events;
	uint8_t buf[EVENT_XML_MAX];
	struct mp4w_buf b;
	int rc;

	for (; j->next_event < j->end_event && j->rq->events[j->next_event].time_us < until_us;
	    j->next_event++) {
		int k = j->next_event;
		int64_t at = event_ticks(j, k), dur = event_ticks(j, k + 1) - at;

		mp4w_buf_fixed(&b, buf, sizeof(buf));
		if (event_document(&j->rq->events[k], &b) < 0) {
			eff_seterr(j->err, "event %d is larger than %d bytes", k, EVENT_XML_MAX);
			return -1;
		}
		if (j->res->track[i].samples == 0)
			mp4w_set_decode_time(&j->w, i, (uint64_t)(at < 0 ? 0 : at));
		rc = mp4w_frag_add(&j->w, &(struct mp4w_sample){ .track = i, .data = buf,
		    .size = b.len, .duration = (uint32_t)(dur > 0 ? dur : (k + 1 == j->end_event)),
		    .keyframe = true });
		if (rc < 0) {
			eff_seterr(j->err, "event %d cannot be written (%s)", k, proto_strerror(rc));
			return -1;
		}
		j->res->track[i].samples++;
		j->res->track[i].bytes += b.len;
		j->res->nevents++;
	}
	return 0;
}

/* --- fragments ---------------------------------------------------------------------- */

static int
flush_fragment(struct job *j)
{
	int rc;

	if (j->w.nentries == 0) {
		mp4w_frag_abort(&j->w);
		return 0;
	}
	mp4w_buf_reset(&j->frag);
	if ((rc = mp4w_frag_end(&j->w, &j->frag)) < 0) {
		eff_seterr(j->err, "a fragment cannot be written (%s)", proto_strerror(rc));
		return -1;
	}
	if (out_write(&j->out, j->frag.p, j->frag.len, j->err) < 0)
		return -1;
	out_writeback(&j->out);
	j->res->fragments++;
	if (++j->in_group == j->group) {
		out_entry(&j->out, T('m', 'o', 'o', 'f'));
		j->in_group = 0;
	}
	return 0;
}

static int
copy_fragment(struct job *j, int seg, const struct eff_seg *s)
{
	int64_t end_us = 0;
	int rc = mp4w_frag_begin(&j->w, NULL);

	for (int i = 0; rc == 0 && i < j->map.n; i++) {
		if (i == j->map.events)
			continue;
		rc = add_track(j, i, seg, s);
		if (j->trk[i].end_us > end_us)
			end_us = j->trk[i].end_us;
	}
	if (rc == 0 && j->map.events >= 0)
		rc = add_events(j, end_us);
	return rc < 0 ? -1 : flush_fragment(j);
}

static void
progress(struct job *j, uint64_t add)
{
	j->done += add;
	if (j->rq->progress != NULL)
		j->rq->progress(j->rq->progress_arg, GW_PROTO_MIN(j->done, j->plan.total),
		    j->plan.total);
}

/* The fragments of segment |i| from the start of the export to |to|. */
static int
copy_segment(struct job *j, int i, bool *done)
{
	struct eff_seg s;
	int rc = -1, n;

	if (eff_seg_open(&s, j->rq->segments[i], j->err) < 0)
		goto out;
	while ((n = eff_seg_next(&s, true, j->err)) == 1) {
		const struct mp4r_traf *ref = mp4r_frag_traf(&s.frag, j->map.src_id[j->map.ref]);
		const struct mp4r_track *rt = mp4r_movie_track(&s.movie, j->map.src_id[j->map.ref]);

		if (cancelled(j)) {
			j->res->cancelled = true;
			eff_seterr(j->err, "cancelled");
			goto out;
		}
		if (i == j->plan.seg && s.frag.pos < j->plan.frag_pos)
			continue;
		if (ref != NULL && rt != NULL &&
		    eff_seg_wall_us(&s, ref->base_dts, rt->timescale) >= j->rq->to_us) {
			*done = true;
			break;
		}
		if (copy_fragment(j, i, &s) < 0)
			goto out;
		progress(j, s.frag.end - s.frag.pos);
	}
	rc = n < 0 ? -1 : 0;
out:
	eff_seg_close(&s);
	return rc;
}

static int
copy_all(struct job *j)
{
	bool done = false;

	for (int i = j->plan.seg; i < j->rq->nsegments && !done; i++)
		if (copy_segment(j, i, &done) < 0)
			return -1;
	if (j->map.events >= 0 && j->next_event < j->end_event) {
		if (mp4w_frag_begin(&j->w, NULL) < 0 || add_events(j, INT64_MAX) < 0 ||
		    flush_fragment(j) < 0)
			return -1;
	}
	if (j->res->fragments == 0) {
		eff_seterr(j->err, "nothing was recorded between the start and the end asked for");
		return -1;
	}
	return 0;
}

/* --- the signed meta ---------------------------------------------------------------- */

static void
fill_suep(const struct job *j, struct eff_suep *s)
{
	const struct eff_info *in = j->rq->info;

	*s = (struct eff_suep){ .unit_name = in->unit_name, .unit_url = in->unit_url,
	    .unit_mac = in->unit_mac, .unit_time_1904 = eff_unix_us_to_1904(in->export_time_us),
	    .operator_name = in->operator_name, .ntracks = j->map.n };
	for (int i = 0; i < j->map.n; i++) {
		bool mic = j->map.kind[i] == EFF_KEEP_AUDIO && in->mic_name != NULL;

		s->track[i] = (struct eff_source_info){ .track_id = (uint16_t)(i + 1),
		    .name = mic ? in->mic_name : in->camera_name,
		    .url = mic && in->mic_url ? in->mic_url : in->camera_url,
		    .mac = mic && in->mic_mac ? in->mic_mac : in->camera_mac,
		    .line = in->camera_line };
	}
}

/* Checksum and position of a box inside |b| (at |at|), into index entry |slot|. */
static void
patch_entry(struct mp4w_buf *b, size_t slot, size_t at, uint64_t file_pos)
{
	uint32_t size = proto_rd32(b->p + at);
	uint64_t sum = eff_locsum(b->p + at, size);

	proto_wr32(b->p + slot + 4, (uint32_t)((file_pos + at) >> 32));
	proto_wr32(b->p + slot + 8, (uint32_t)(file_pos + at));
	proto_wr32(b->p + slot + 16, size);
	proto_wr32(b->p + slot + 20, (uint32_t)(sum >> 32));
	proto_wr32(b->p + slot + 24, (uint32_t)sum);
}

struct meta_layout {
	size_t hdlr, suep, slots, sibo;
	struct eff_sinf_layout sinf;
};

static void
build_meta(struct job *j, const struct eff_der *der, size_t siglen, struct mp4w_buf *b,
    struct meta_layout *l)
{
	struct eff_cstb_entry cstb[MP4_MAX_TRACKS];
	struct eff_suep suep;
	size_t meta = mp4w_fullbox_open(b, "meta", 0, 0), idx, ipro;

	l->hdlr = b->len;
	eff_put_meta_hdlr(b);
	l->suep = b->len;
	fill_suep(j, &suep);
	eff_put_suep(b, &suep);
	idx = mp4w_box_open(b, "uuid");
	mp4w_put(b, EFF_UUID_INDEX, 16);
	mp4w_put32(b, 1);
	mp4w_put32(b, j->out.nindex + 3);
	mp4w_put(b, j->out.index.p, j->out.index.len);
	l->slots = b->len;
	eff_put_index_entry(b, T('h', 'd', 'l', 'r'), 0, 0, 0);
	eff_put_index_entry(b, T('s', 'u', 'e', 'p'), 0, 0, 0);
	eff_put_index_entry(b, T('c', 'e', 'r', 't'), 0, 0, 0);
	mp4w_box_close(b, idx);
	ipro = mp4w_fullbox_open(b, "ipro", 0, 0);
	mp4w_put16(b, 1);
	for (int i = 0; i < j->map.n; i++)
		cstb[i] = (struct eff_cstb_entry){ (uint32_t)i + 1,
		    eff_unix_us_to_1601(j->plan.origin_us) };
	eff_put_sinf(b, &(struct eff_sinf_params){ .cstb = cstb, .ncstb = j->map.n,
	    .sig_len = siglen, .cert = der->cert, .cert_len = der->cert_len,
	    .chain = (const uint8_t *const *)der->chain, .chain_len = der->chain_len,
	    .nchain = der->nchain, .auib = j->rq->signer->auib }, &l->sinf);
	mp4w_box_close(b, ipro);
	mp4w_box_close(b, meta);
	if (b->err != 0)
		return;
	patch_entry(b, l->slots, l->hdlr, j->out.pos);
	patch_entry(b, l->slots + EFF_INDEX_ENTRY, l->suep, j->out.pos);
	patch_entry(b, l->slots + 2 * EFF_INDEX_ENTRY, l->sinf.cert_box, j->out.pos);
}

static int
write_meta(struct job *j)
{
	struct mp4w_buf b;
	struct meta_layout l;
	uint8_t md[32];
	size_t n;
	EVP_MD_CTX *file = EVP_MD_CTX_new();
	int rc = -1;

	mp4w_buf_growing(&b, (size_t)EFF_MAX_INDEX * EFF_INDEX_ENTRY + (1u << 20));
	if (file == NULL)
		goto out;
	out_entry(&j->out, 0);
	build_meta(j, &j->der, j->siglen, &b, &l);
	if (mp4w_buf_result(&b) < 0) {
		eff_seterr(j->err, "the meta box cannot be built");
		goto out;
	}
	EVP_MD_CTX_copy_ex(file, j->out.hash);
	EVP_DigestUpdate(j->out.hash, b.p, b.len);	/* sibo still zero */
	EVP_DigestFinal_ex(j->out.hash, md, NULL);
	n = j->siglen;
	if (eff_sign_digest(j->rq->signer->key, md, b.p + l.sinf.sibo_payload, &n, j->err) < 0)
		goto out;
	EVP_DigestUpdate(file, b.p, b.len);
	EVP_DigestFinal_ex(file, j->res->sha256, NULL);
	eff_hex(j->res->sha256, 32, j->res->sha256_hex);
	if (out_write(&j->out, b.p, b.len, j->err) < 0)
		goto out;
	rc = 0;
out:
	EVP_MD_CTX_free(file);
	mp4w_buf_free(&b);
	return rc;
}

/* --- the whole ---------------------------------------------------------------------- */

static int
check_request(const struct eff_request *rq, char *err)
{
	if (rq->nsegments <= 0 || rq->segments == NULL)
		eff_seterr(err, "no recorded segments to export");
	else if (rq->from_us >= rq->to_us)
		eff_seterr(err, "the end of the range is not after its start");
	else if (!(rq->keep & (EFF_KEEP_VIDEO | EFF_KEEP_AUDIO | EFF_KEEP_METADATA)))
		eff_seterr(err, "no track asked for");
	else if (rq->info == NULL || rq->signer == NULL || rq->out_path == NULL)
		eff_seterr(err, "the request lacks its metadata, signer or output path");
	else if (rq->nevents < 0 || rq->nevents > EFF_MAX_EVENTS)
		eff_seterr(err, "more than %d events", EFF_MAX_EVENTS);
	else
		return 0;
	return -1;
}

/* The events inside [from, to), given in time order. */
static int
select_events(struct job *j)
{
	const struct eff_request *rq = j->rq;

	j->first_event = j->end_event = 0;
	if (!(rq->keep & EFF_KEEP_EVENTS))
		return 0;
	for (int k = 0; k < rq->nevents; k++) {
		if (k > 0 && rq->events[k].time_us < rq->events[k - 1].time_us) {
			eff_seterr(j->err, "the events are not in time order (event %d)", k);
			return -1;
		}
		if (rq->events[k].time_us < rq->from_us)
			j->first_event = k + 1;
		if (rq->events[k].time_us < rq->to_us)
			j->end_event = k + 1;
	}
	if (j->end_event < j->first_event)
		j->end_event = j->first_event;
	j->next_event = j->first_event;
	return 0;
}

static int
prepare(struct job *j)
{
	/* The key and certificates first: a refusal costs no copying. */
	if (check_request(j->rq, j->err) < 0 ||
	    eff_check_key(j->rq->signer->key, &j->siglen, j->err) < 0 ||
	    eff_der_get(j->rq->signer, &j->der, j->err) < 0 || select_events(j) < 0 ||
	    eff_seg_open(&j->first, j->rq->segments[0], j->err) < 0 ||
	    map_tracks(&j->first.movie, j->rq->keep, j->end_event > j->first_event, &j->map,
	    j->err) < 0 ||
	    make_plan(j->rq, &j->first, &j->map, &j->plan, j->err) < 0 || init_writer(j) < 0)
		return -1;
	j->group = j->plan.fragments / EFF_MAX_INDEX + 1;
	for (int i = 0; i < j->map.n; i++) {
		const struct mp4r_track *r = mp4r_movie_track(&j->first.movie, j->map.src_id[i]);

		j->res->track[i] = (struct eff_track_summary){ .track_id = (uint32_t)i + 1,
		    .kind = j->map.kind[i], .codec = r ? r->codec : MP4_CODEC_ONVIF_META,
		    .timescale = j->timescale[i], .width = r ? r->width : 0,
		    .height = r ? r->height : 0, .channels = r ? r->channels : 0,
		    .sample_rate = r ? r->sample_rate : 0 };
	}
	j->res->ntracks = j->map.n;
	return 0;
}

static int
open_out(struct job *j)
{
	struct out *o = &j->out;

	if ((o->fd = eff_tmp_open(j->rq->out_path, o->tmp, sizeof(o->tmp), j->err)) < 0)
		return -1;
	o->hash = EVP_MD_CTX_new();
	mp4w_buf_growing(&o->index, (size_t)(EFF_MAX_INDEX + 8) * EFF_INDEX_ENTRY);
	mp4w_buf_growing(&j->frag, EFF_MAX_FRAGMENT + (2u << 20));
	if (o->hash == NULL) {
		eff_seterr(j->err, "out of memory");
		return -1;
	}
	EVP_DigestInit_ex(o->hash, EVP_sha256(), NULL);
	eff_locsum_init(&o->box);
	o->entry_type = T('f', 't', 'y', 'p');
	return 0;
}

static void
finish_summary(struct job *j)
{
	struct eff_result *r = j->res;

	r->start_us = j->plan.origin_us;
	r->end_us = j->plan.origin_us;
	for (int i = 0; i < j->map.n; i++) {
		r->track[i].duration = j->w.track[i].next_dts;
		if (j->trk[i].end_us > r->end_us)
			r->end_us = j->trk[i].end_us;
	}
	r->file_size = j->out.pos;
}

static void
close_out(struct job *j, bool ok)
{
	if (j->out.fd > 0)
		close(j->out.fd);
	if (!ok && j->out.tmp[0] != '\0')
		unlink(j->out.tmp);
	EVP_MD_CTX_free(j->out.hash);
	mp4w_buf_free(&j->out.index);
	mp4w_buf_free(&j->frag);
}

int
eff_export(const struct eff_request *rq, struct eff_result *res)
{
	struct job j = { .rq = rq, .res = res, .err = res->error };
	bool ok = false;

	memset(res, 0, sizeof(*res));
	j.first.fd = -1;
	if (prepare(&j) < 0 || open_out(&j) < 0 || write_init(&j) < 0 || copy_all(&j) < 0 ||
	    write_meta(&j) < 0) {
		res->cancelled = rq->cancel != NULL && atomic_load(rq->cancel);
		goto out;
	}
	finish_summary(&j);
	if (eff_commit(j.out.fd, j.out.tmp, rq->out_path, res->error) < 0)
		goto out;
	ok = true;
	if (rq->sidecar_path != NULL &&
	    eff_write_sidecar(rq->sidecar_path, rq->out_path, rq, res, res->error, EFF_ERRLEN) < 0) {
		unlink(rq->out_path);
		ok = false;
	}
out:
	close_out(&j, ok);
	eff_der_free(&j.der);
	mp4w_free(&j.w);
	eff_seg_close(&j.first);
	return ok ? 0 : -1;
}
