/*
 * replay.c - replay streams on the I/O thread (see replay.h): where a
 * stream is in the store, what it asks the worker pool to read next, the
 * frames read and not yet queued, and when each is due.
 *
 * A stream moves through
 *
 *   RP_IDLE --seek--> RP_SEEKING --start found--> RP_READY --play--> RP_PLAYING
 *                         ^                          ^  <--pause---'  |    ^
 *                         '------ seek (any state) --'                |    |
 *                                               caught up with the    v    | recorded more
 *                                               recorder:        RP_AT_EDGE
 *   RP_PLAYING --the range, the window or the footage ended--> RP_ENDED
 *
 * and has at most one job on the worker pool; a seek or a free while a
 * job is out waits for it (the job's done() sees |dead| or |reseek|).
 *
 * Time: a frame's "send time" is its decode time on the recording's wall
 * clock. With Rate-Control it is due at clock_start + its render time,
 * (send - anchor - skipped) / scale going forward and (anchor - send) /
 * |scale| per GOP in reverse, where |skipped| is the recorded gaps jumped
 * over. RTP timestamps: the recording's own (continuous across segments
 * by the wall clock) without Rate-Control and at 1x forward, otherwise
 * the render time, as ONVIF Streaming asks.
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/log.h"
#include "gateway/model.h"
#include "gateway/worker.h"
#include "gateway/media/replay.h"
#include "gateway/media/replay_int.h"
#include "proto/sdp.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY_MAGIC 0x72706c79U	/* "rply" */
#define AHEAD_US 2000000		/* Rate-Control: frames read ahead of their time */
#define AHEAD_BYTES (4u << 20)		/* ... and at most these bytes of them */
#define WINDOW_BYTES (1u << 20)		/* no Rate-Control: bytes queued for the writer at a time */
#define READ_FRAGMENTS 2		/* fragments per read, going forward */
#define CONTIGUOUS_US 2000000		/* a next segment starting within this is not a gap */
#define GAP_STEP_US 40000		/* with Rate-Control, a gap is skipped down to this */
#define FUTURE_SLACK_US 2000000		/* a start this far after now is the live edge, later is none */

/* --- descriptions ------------------------------------------------------------------------------- */

struct replay_desc {
	int refcnt;
	int64_t camera_id;
	char path[sizeof(((struct rec_segment *)0)->path)];	/* the segment it was read from */
	int ntracks;
	struct rp_track tracks[MEDIA_MAX_TRACKS];
	TAILQ_ENTRY(replay_desc) link;
};

struct replay_wait {
	int64_t camera_id;
	replay_describe_cb cb;
	void *arg;
	TAILQ_ENTRY(replay_wait) link;
};

TAILQ_HEAD(desc_list, replay_desc);
TAILQ_HEAD(wait_list, replay_wait);

enum rp_state {
	RP_IDLE,			/* opened, not positioned */
	RP_SEEKING,			/* finding the start point */
	RP_READY,			/* positioned (or paused): play starts it */
	RP_PLAYING,
	RP_AT_EDGE,			/* playing, caught up with the recorder */
	RP_ENDED,			/* nothing more to send */
};

/* A frame read and not queued yet. */
struct rp_item {
	struct media_frame *f;		/* one reference */
	int64_t render_us;		/* Rate-Control: due at clock_start + this */
	uint32_t ts;			/* its RTP timestamp */
	uint8_t flags;			/* E, D, T to set in its extension (RP_F_*) */
};

#define RP_F_END   0x40u		/* the bits of the extension's flags byte (C is 0x80) */
#define RP_F_DISC  0x20u
#define RP_F_TERM  0x10u

struct replay_stream {
	struct media_stream base;	/* first */
	uint32_t magic;
	struct replay_desc *desc;	/* a reference */
	int ntracks;
	struct rp_track tracks[MEDIA_MAX_TRACKS];	/* the desc's, with our SSRCs */
	struct pay pay[MEDIA_MAX_TRACKS];	/* lent to the reads */
	enum rp_state state;
	bool dead;			/* freed while a job was out: the job frees it */
	struct rp_job *job;		/* out on the worker pool, or NULL */
	/* the PLAY */
	struct replay_request rq;
	bool reverse;
	int64_t bound_us;		/* forward: nothing at or after; reverse: nothing before */
	replay_seek_cb seek_cb;
	void *seek_arg;
	bool reseek;			/* a seek came while a job was out */
	/* where it is in the store */
	struct rp_seg *seg;
	size_t next;			/* forward: next fragment to read; reverse: first of the GOP last read */
	int64_t last_intra_us;
	unsigned disc_mask;		/* tracks whose next frame gets D */
	/* frames read, not queued */
	struct rp_item *items;
	uint32_t head, count, cap;
	int64_t last_send_us;		/* of the last frame read, forward */
	/* timing */
	uint16_t seq[MEDIA_MAX_TRACKS];
	uint32_t ts_base[MEDIA_MAX_TRACKS];
	int64_t anchor_us;		/* recording time of the start point */
	/* Send time (segment origin + decode time) of the first frame after a seek: render time 0.
	 * It differs from anchor_us, an index entry's capture time, by the drift between
	 * capture and decode times; pacing from anchor_us would hold the clean point back
	 * by that much. Frames are then early against the RTP clock (RTCP, RTP-Info), which a
	 * client's jitter buffer absorbs; never late. INT64_MIN until that frame is read. */
	int64_t send_zero_us;
	int64_t skipped_us;		/* gaps jumped over (Rate-Control) */
	int64_t clock_start_mono;	/* monotonic time at render time 0 */
	int64_t paused_render_us;	/* where a pause stopped the clock */
	struct event *timer;
	bool started;			/* played since the last seek or pause */
	/* timestamps kept growing across segments (continuous_ts) */
	uint32_t last_ts[MEDIA_MAX_TRACKS], last_step[MEDIA_MAX_TRACKS], ts_fix[MEDIA_MAX_TRACKS];
	unsigned ts_have, ts_new_seg;
	int64_t last_queued_us;		/* capture time of the last frame queued */
	int64_t sent_from_us, sent_until_us;	/* of everything queued (0: nothing yet) */
	bool end_told;
	uint64_t items_bytes;
	TAILQ_ENTRY(replay_stream) link;
};

TAILQ_HEAD(stream_list, replay_stream);

static struct {
	struct desc_list descs;
	struct wait_list waits;
	struct stream_list streams;
	bool describing;		/* a description job is out (one at a time; cheap) */
} RP = {
	.descs = TAILQ_HEAD_INITIALIZER(RP.descs),
	.waits = TAILQ_HEAD_INITIALIZER(RP.waits),
	.streams = TAILQ_HEAD_INITIALIZER(RP.streams),
};

static void start_describe(void);
static void pump(struct replay_stream *r);
static void read_more(struct replay_stream *r);

void
replay_desc_ref(struct replay_desc *d)
{
	d->refcnt++;
}

void
replay_desc_unref(struct replay_desc *d)
{
	if (d == NULL || --d->refcnt > 0)
		return;
	free(d);
}

int
replay_desc_ntracks(const struct replay_desc *d)
{
	return d->ntracks;
}

const struct adapter_track *
replay_desc_track(const struct replay_desc *d, int i)
{
	return i >= 0 && i < d->ntracks ? &d->tracks[i].desc : NULL;
}

int64_t
replay_desc_camera(const struct replay_desc *d)
{
	return d->camera_id;
}

/* The newest segment of a camera, false if none. */
static bool
newest_segment(int64_t camera_id, struct rec_segment *out)
{
	struct rec_segment *segs = NULL;
	int n = recorder_segments(camera_id, INT64_MIN, INT64_MAX, &segs);

	if (n > 0)
		*out = segs[n - 1];
	free(segs);
	return n > 0;
}

bool
replay_span(int64_t camera_id, int64_t *from_us, int64_t *to_us, bool *recording)
{
	struct rec_segment last;

	if (!recorder_span(camera_id, from_us, to_us))
		return false;
	*recording = newest_segment(camera_id, &last) && last.open;
	return true;
}

/* An SDP track for movie track |t|; false for a codec replay cannot send. */
static bool
track_of(const struct mp4r_track *t, int index, struct rp_track *out)
{
	struct adapter_track *a = &out->desc;
	int n = 0;

	memset(out, 0, sizeof(*out));
	out->codec = t->codec;
	a->payload_type = 96 + index;
	a->clock_rate = (int)t->timescale;
	switch (t->codec) {
	case MP4_CODEC_H264:
		a->media = ADAPTER_VIDEO;
		snprintf(a->encoding, sizeof(a->encoding), "H264");
		if (t->nsps > 0 && t->npps > 0)
			n = sdp_h264_fmtp_format(t->sps[0].p, t->sps[0].len, t->pps[0].p, t->pps[0].len, a->fmtp,
			    sizeof(a->fmtp));
		break;
	case MP4_CODEC_H265:
		a->media = ADAPTER_VIDEO;
		snprintf(a->encoding, sizeof(a->encoding), "H265");
		if (t->nvps > 0 && t->nsps > 0 && t->npps > 0)
			n = sdp_h265_fmtp_format(t->vps[0].p, t->vps[0].len, t->sps[0].p, t->sps[0].len,
			    t->pps[0].p, t->pps[0].len, a->fmtp, sizeof(a->fmtp));
		break;
	case MP4_CODEC_AAC:
		a->media = ADAPTER_AUDIO;
		a->channels = t->channels;
		snprintf(a->encoding, sizeof(a->encoding), "MPEG4-GENERIC");
		if (t->asc.len > 0)
			n = sdp_aac_fmtp_format(t->asc.p, t->asc.len, a->fmtp, sizeof(a->fmtp));
		break;
	case MP4_CODEC_PCMU:
	case MP4_CODEC_PCMA:
		a->media = ADAPTER_AUDIO;
		a->payload_type = t->codec == MP4_CODEC_PCMU ? 0 : 8;
		a->channels = 1;
		snprintf(a->encoding, sizeof(a->encoding), t->codec == MP4_CODEC_PCMU ? "PCMU" : "PCMA");
		break;
	case MP4_CODEC_ONVIF_META:
		a->media = ADAPTER_METADATA;
		snprintf(a->encoding, sizeof(a->encoding), "vnd.onvif.metadata");
		break;
	case MP4_CODEC_JPEG:
		a->media = ADAPTER_VIDEO;
		a->payload_type = 26;	/* static (RFC 3551), as cameras send it */
		snprintf(a->encoding, sizeof(a->encoding), "JPEG");
		break;
	default:
		return false;
	}
	if (n < 0)
		a->fmtp[0] = '\0';
	a->width = t->width;
	a->height = t->height;
	return a->clock_rate > 0;
}

static struct replay_desc *
desc_of(int64_t camera_id, const struct rp_seg *s)
{
	struct replay_desc *d = gw_xcalloc(1, sizeof(*d));

	d->refcnt = 1;
	d->camera_id = camera_id;
	snprintf(d->path, sizeof(d->path), "%s", s->cat.path);
	for (int i = 0; i < s->movie.ntracks && d->ntracks < MEDIA_MAX_TRACKS; i++)
		if (track_of(&s->movie.track[i], d->ntracks, &d->tracks[d->ntracks]))
			d->ntracks++;
	return d;
}

static struct replay_desc *
cached_desc(int64_t camera_id, const char *newest_path)
{
	struct replay_desc *d;

	TAILQ_FOREACH(d, &RP.descs, link)
		if (d->camera_id == camera_id && strcmp(d->path, newest_path) == 0)
			return d;
	return NULL;
}

static void
cache_desc(struct replay_desc *d)
{
	struct replay_desc *old, *next;

	for (old = TAILQ_FIRST(&RP.descs); old != NULL; old = next) {
		next = TAILQ_NEXT(old, link);
		if (old->camera_id == d->camera_id) {
			TAILQ_REMOVE(&RP.descs, old, link);
			replay_desc_unref(old);
		}
	}
	replay_desc_ref(d);
	TAILQ_INSERT_TAIL(&RP.descs, d, link);
}

/* Answer every wait for |camera_id|. */
static void
answer_waits(int64_t camera_id, struct replay_desc *d, const char *error)
{
	struct replay_wait *w, *next;

	for (w = TAILQ_FIRST(&RP.waits); w != NULL; w = next) {
		next = TAILQ_NEXT(w, link);
		if (w->camera_id != camera_id)
			continue;
		TAILQ_REMOVE(&RP.waits, w, link);
		w->cb(w->arg, d, error);
		free(w);
	}
}

static void
describe_done(struct worker_job *wj)
{
	struct rp_job *j = (struct rp_job *)wj;
	int64_t camera_id = j->seg->cat.camera_id;
	struct replay_desc *d = NULL;

	RP.describing = false;
	if (j->error) {
		log_warn("cam=%lld: cannot read its recording %s: %s", (long long)camera_id, j->seg->cat.path,
		    j->why);
		answer_waits(camera_id, NULL, "the recording cannot be read");
	} else {
		d = desc_of(camera_id, j->seg);
		if (d->ntracks == 0) {
			answer_waits(camera_id, NULL, "no recorded track can be replayed");
		} else {
			cache_desc(d);
			answer_waits(camera_id, d, NULL);
		}
		replay_desc_unref(d);
	}
	rp_seg_free(j->seg);
	free(j);
	start_describe();
}

static struct rp_seg *
seg_new(const struct rec_segment *cat)
{
	struct rp_seg *s = gw_xcalloc(1, sizeof(*s));

	s->cat = *cat;
	s->fd = -1;
	for (int i = 0; i < MEDIA_MAX_TRACKS; i++)
		s->map[i] = -1;
	return s;
}

/* Describe the camera of the first wait, if no description is being read. */
static void
start_describe(void)
{
	struct replay_wait *w;
	struct rec_segment last;
	struct rp_job *j;

	while (!RP.describing && (w = TAILQ_FIRST(&RP.waits)) != NULL) {
		struct replay_desc *d;

		if (!newest_segment(w->camera_id, &last)) {
			answer_waits(w->camera_id, NULL, "nothing of this camera is recorded");
			continue;
		}
		if ((d = cached_desc(w->camera_id, last.path)) != NULL) {
			answer_waits(w->camera_id, d, NULL);
			continue;
		}
		j = gw_xcalloc(1, sizeof(*j));
		j->job.run = rp_job_run;
		j->job.done = describe_done;
		j->kind = RJ_OPEN;
		j->seg = seg_new(&last);
		recorder_path(&last, false, j->path, sizeof(j->path));
		RP.describing = true;
		worker_submit(&j->job);
	}
}

struct replay_wait *
replay_describe(int64_t camera_id, replay_describe_cb cb, void *arg)
{
	struct rec_segment last;
	struct replay_desc *d;
	struct replay_wait *w;

	if (!newest_segment(camera_id, &last)) {
		cb(arg, NULL, "nothing of this camera is recorded");
		return NULL;
	}
	if ((d = cached_desc(camera_id, last.path)) != NULL) {
		cb(arg, d, NULL);
		return NULL;
	}
	w = gw_xcalloc(1, sizeof(*w));
	w->camera_id = camera_id;
	w->cb = cb;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&RP.waits, w, link);
	start_describe();
	return w;
}

void
replay_wait_cancel(struct replay_wait *w)
{
	if (w == NULL)
		return;
	TAILQ_REMOVE(&RP.waits, w, link);
	free(w);
}

/* --- the stream's frames -------------------------------------------------------------------------- */

static struct rp_item *
item_at(struct replay_stream *r, uint32_t i)
{
	return &r->items[(r->head + i) % r->cap];
}

static void
items_push(struct replay_stream *r, const struct rp_item *it)
{
	if (r->count == r->cap) {
		uint32_t ncap = r->cap ? 2 * r->cap : 256;
		struct rp_item *n = gw_xmalloc(ncap * sizeof(*n));

		for (uint32_t i = 0; i < r->count; i++)
			n[i] = *item_at(r, i);
		free(r->items);
		r->items = n;
		r->cap = ncap;
		r->head = 0;
	}
	*item_at(r, r->count++) = *it;
	r->items_bytes += it->f->len;
}

/* Put frames back in front (a pause took them back from the writer's queue). */
static void
items_push_front(struct replay_stream *r, const struct rp_item *it)
{
	items_push(r, it);	/* room */
	r->count--;
	r->head = (r->head + r->cap - 1) % r->cap;
	*item_at(r, 0) = *it;
	r->count++;
}

static void
items_pop(struct replay_stream *r)
{
	r->items_bytes -= item_at(r, 0)->f->len;
	r->head = (r->head + 1) % r->cap;
	r->count--;
}

static void
items_clear(struct replay_stream *r)
{
	for (uint32_t i = 0; i < r->count; i++)
		media_frame_unref(item_at(r, i)->f);
	r->count = r->head = 0;
	r->items_bytes = 0;
}

/* Set flags on the last frame read of every track (a gap or the end follows). */
static void
mark_last(struct replay_stream *r, uint8_t flags)
{
	unsigned seen = 0;

	for (uint32_t i = r->count; i-- > 0;) {
		struct rp_item *it = item_at(r, i);
		unsigned bit = 1u << it->f->track;

		if (seen & bit)
			continue;
		seen |= bit;
		it->flags |= flags;
	}
}

/* Write what depends on delivery into the frame: sequence numbers, timestamps, the extension's flags. */
static void
stamp(struct replay_stream *r, struct rp_item *it)
{
	struct media_frame *f = it->f;
	int t = f->track;
	uint32_t off = 0;

	f->first_seq = r->seq[t];
	f->rtp_ts = it->ts;
	for (uint16_t i = 0; i < f->npkts; i++) {
		proto_wr16(f->data + off + 4 + 2, r->seq[t]++);
		proto_wr32(f->data + off + 4 + 4, it->ts);
		off += media_packet_len(f, off);
	}
	f->data[RP_FLAGS_OFF] = (uint8_t)((f->data[RP_FLAGS_OFF] & 0x80) | it->flags);
	f->data[RP_FLAGS_OFF + 1] = r->rq.cseq;
}

/* --- time ------------------------------------------------------------------------------------------- */

static int64_t
scale_abs(const struct replay_stream *r)
{
	return r->rq.scale_milli < 0 ? -(int64_t)r->rq.scale_milli : r->rq.scale_milli;
}

static bool
exact_timestamps(const struct replay_stream *r)
{
	return !r->rq.rate_control || r->rq.scale_milli == 1000;
}

/* The grant's footage window, as it is now (INT64_MAX: up to now). An unknown grant: nothing. */
static void
footage_window(const struct replay_stream *r, int64_t *from, int64_t *until)
{
	const struct model_grant *g = model_grant(gw.model, r->rq.grant_id);

	*from = g ? g->pg.footage_from_us : INT64_MAX;
	*until = g ? g->pg.footage_until_us : INT64_MIN;
}

/*
 * A segment's timestamps follow from the wall clock of its first frame,
 * which is the camera's clock as the source gave it, with its jitter: at
 * a segment's first frame of a track, a step that would go back (or
 * stand still) is made one frame's step instead, and kept for the rest
 * of the segment. Decoders (and ffmpeg's muxers) want them to grow.
 */
static uint32_t
continuous_ts(struct replay_stream *r, int t, uint32_t ts)
{
	unsigned bit = 1u << t;

	if ((r->ts_new_seg & bit) && (r->ts_have & bit)) {
		int32_t step = (int32_t)(ts - r->last_ts[t]);
		int32_t want = r->last_step[t] > 0 ? (int32_t)r->last_step[t] : 1;

		if (step < want) {
			r->ts_fix[t] += (uint32_t)(want - step);
			ts += (uint32_t)(want - step);
		}
	}
	r->ts_new_seg &= ~bit;
	if ((r->ts_have & bit) && (int32_t)(ts - r->last_ts[t]) > 0)
		r->last_step[t] = ts - r->last_ts[t];
	r->last_ts[t] = ts;
	r->ts_have |= bit;
	return ts;
}

/* The frames of a finished read into the queue, with their times and marks. */
static void
take_frames(struct replay_stream *r, struct rp_job *j)
{
	const struct rp_seg *s = j->seg;
	int64_t gop_render = 0;

	if (r->reverse && j->nframes > 0) {
		const struct media_frame *last = j->frames[j->nframes - 1];

		gop_render = (r->anchor_us - last->wall_us) * 1000 / scale_abs(r);
	}
	for (int i = 0; i < j->nframes; i++) {
		struct media_frame *f = j->frames[i];
		int t = f->track;
		const struct mp4r_track *mt = &s->movie.track[s->map[t]];
		int64_t clock = r->tracks[t].desc.clock_rate;
		int64_t send_us = s->origin_us + (int64_t)((uint64_t)f->rtp_ts * 1000000 / mt->timescale);
		int64_t seg_off = (s->origin_us - r->anchor_us) * clock / 1000000;
		int64_t cto_us = (int64_t)f->cto * 1000000 / mt->timescale;
		struct rp_item it = { .f = f };

		if (!r->reverse && r->send_zero_us == INT64_MIN)
			r->send_zero_us = GW_MAX(send_us, r->anchor_us);	/* never later than the clock says */
		if (r->reverse)
			it.render_us = gop_render;
		else
			it.render_us = (send_us - r->send_zero_us - r->skipped_us) * 1000 / scale_abs(r);
		/* Sent in decode order (rtp_ts), stamped with presentation times (+ cto): B frames. */
		if (exact_timestamps(r))
			it.ts = continuous_ts(r, t, r->ts_base[t] + (uint32_t)(seg_off + (int64_t)f->rtp_ts + f->cto -
			    (r->rq.rate_control ? r->skipped_us * clock / 1000000 : 0)) + r->ts_fix[t]);
		else
			it.ts = r->ts_base[t] + (uint32_t)((r->reverse ? (r->anchor_us - f->wall_us) * 1000 /
			    scale_abs(r) : it.render_us + cto_us * 1000 / scale_abs(r)) * clock / 1000000);
		if (r->disc_mask & (1u << t)) {
			it.flags |= RP_F_DISC;
			r->disc_mask &= ~(1u << t);
		}
		if (r->reverse && i == 0)
			it.flags |= RP_F_DISC;	/* each GOP follows nothing it was recorded after */
		if (!r->reverse)
			r->last_send_us = GW_MAX(r->last_send_us, send_us);
		items_push(r, &it);
	}
	j->nframes = 0;
}

/* --- the end ---------------------------------------------------------------------------------------- */

static void
end_stream(struct replay_stream *r, const char *why)
{
	if (r->state == RP_ENDED)
		return;
	mark_last(r, RP_F_END | RP_F_TERM);
	r->state = RP_ENDED;
	log_debug("cam=%lld: replay ends: %s", (long long)r->base.camera_id, why);
	pump(r);
}

/* Everything queued went to the writer: tell the owner once (RTCP BYE). */
static void
maybe_tell_end(struct replay_stream *r)
{
	if (r->state != RP_ENDED || r->end_told || r->count > 0)
		return;
	r->end_told = true;
	if (r->base.owner_ops->ended)
		r->base.owner_ops->ended(&r->base);
}

/* --- reading ---------------------------------------------------------------------------------------- */

static void read_done(struct worker_job *wj);

static struct rp_job *
job_new(struct replay_stream *r, enum rp_job_kind kind, struct rp_seg *s)
{
	struct rp_job *j = gw_xcalloc(1, sizeof(*j));

	j->job.run = rp_job_run;
	j->job.done = read_done;
	j->kind = kind;
	j->stream = r;
	j->seg = s;
	j->ntracks = r->ntracks;
	j->tracks = r->tracks;
	j->pay = r->pay;
	recorder_path(&s->cat, false, j->path, sizeof(j->path));
	return j;
}

static void
submit(struct replay_stream *r, struct rp_job *j)
{
	r->job = j;
	worker_submit(&j->job);
}

static void
open_segment(struct replay_stream *r, const struct rec_segment *cat)
{
	submit(r, job_new(r, RJ_OPEN, seg_new(cat)));
}

/* The parameter sets of a new segment go in front of its keyframes that lack them. */
static void
attach_segment(struct replay_stream *r, struct rp_seg *s)
{
	if (r->seg != s) {
		rp_seg_free(r->seg);
		r->ts_new_seg = ~0u;
	}
	r->seg = s;
	for (int t = 0; t < r->ntracks; t++) {
		const struct mp4r_track *mt;

		if (s->map[t] < 0)
			continue;
		mt = &s->movie.track[s->map[t]];
		if (mp4_codec_is_nal(mt->codec))
			(void)pay_set_ps(&r->pay[t], mt->nvps ? mt->vps[0].p : NULL, mt->nvps ? mt->vps[0].len : 0,
			    mt->nsps ? mt->sps[0].p : NULL, mt->nsps ? mt->sps[0].len : 0,
			    mt->npps ? mt->pps[0].p : NULL, mt->npps ? mt->pps[0].len : 0);
	}
}

/* The segment after (or, in reverse, before) the current one; false if there is none. */
static bool
neighbour(const struct replay_stream *r, struct rec_segment *out)
{
	struct rec_segment *segs = NULL;
	const struct rec_segment *cur = &r->seg->cat;
	int n = recorder_segments(r->base.camera_id, INT64_MIN, INT64_MAX, &segs);
	bool found = false;

	for (int i = 0; i < n && !found; i++) {
		int k = r->reverse ? n - 1 - i : i;

		if (r->reverse ? segs[k].start_wall_us < cur->start_wall_us :
		    segs[k].start_wall_us > cur->start_wall_us) {
			*out = segs[k];
			found = true;
		}
	}
	free(segs);
	return found;
}

/* The current segment as the catalog knows it now (it may have grown or closed). */
static bool
current_in_catalog(const struct replay_stream *r, struct rec_segment *out)
{
	struct rec_segment *segs = NULL;
	int n = recorder_segments(r->base.camera_id, r->seg->cat.start_wall_us, r->seg->cat.start_wall_us + 1, &segs);
	bool found = false;

	for (int i = 0; i < n && !found; i++)
		if (strcmp(segs[i].path, r->seg->cat.path) == 0) {
			*out = segs[i];
			found = true;
		}
	free(segs);
	return found;
}

static bool
enough_ahead(struct replay_stream *r)
{
	if (r->count == 0)
		return false;
	if (r->items_bytes >= AHEAD_BYTES)
		return true;
	if (!r->rq.rate_control)
		return r->items_bytes >= WINDOW_BYTES;
	if (!r->started)
		return item_at(r, r->count - 1)->render_us - r->paused_render_us >= AHEAD_US;
	return item_at(r, r->count - 1)->render_us - (gw_mono_us() - r->clock_start_mono) * r->rq.speed_milli / 1000 >=
	    AHEAD_US;
}

static void
read_forward(struct replay_stream *r, struct rp_job *j)
{
	j->from = r->next;
	j->to = GW_MIN(r->seg->nidx, r->next + READ_FRAGMENTS);
	r->next = j->to;
}

/* The GOP before r->next: from the last clean fragment before it. False if the segment has none. */
static bool
read_backward(struct replay_stream *r, struct rp_job *j)
{
	size_t c = r->next;

	while (c > 0 && !(r->seg->idx[c - 1].flags & RECIDX_CLEAN))
		c--;
	if (c == 0 || r->seg->idx[c - 1].wall_us < r->bound_us)
		return false;	/* a GOP that starts before the range (or the window) is not sent */
	j->from = c - 1;
	j->to = r->next;
	r->next = c - 1;
	return true;
}

/* Move on past the current segment: the next one, the live edge, or the end. */
static void
next_segment(struct replay_stream *r)
{
	struct rec_segment now, nb;

	if (!r->reverse && current_in_catalog(r, &now) && (now.open || now.end_wall_us > r->seg->cat.end_wall_us)) {
		if (now.end_wall_us > r->seg->cat.end_wall_us || now.bytes > r->seg->cat.bytes) {
			r->seg->cat = now;	/* it grew since it was read: read its index again */
			submit(r, job_new(r, RJ_OPEN, r->seg));
		} else {
			r->state = RP_AT_EDGE;
		}
		return;
	}
	if (r->reverse && r->seg->nidx > 0 && r->seg->idx[0].wall_us < r->bound_us) {
		end_stream(r, "the end of the range");
		return;
	}
	if (!neighbour(r, &nb)) {
		struct recorder_status st;

		recorder_camera_status(r->base.camera_id, &st);
		if (!r->reverse && st.recording) {
			/* The writer has closed this segment and its next one is still on its
			 * way to the catalog: the notice of its opening wakes us. */
			r->state = RP_AT_EDGE;
			return;
		}
		end_stream(r, r->reverse ? "the beginning of the footage" : "the end of the footage");
		return;
	}
	if (r->reverse ? nb.end_wall_us < r->bound_us : nb.start_wall_us >= r->bound_us) {
		end_stream(r, "the end of the range");
		return;
	}
	if (!r->reverse && (nb.reason != REC_NEXT || nb.start_wall_us - r->seg->cat.end_wall_us > CONTIGUOUS_US)) {
		mark_last(r, RP_F_END);	/* the last units before the gap */
		r->disc_mask = (1u << r->ntracks) - 1;
		if (r->rq.rate_control && nb.start_wall_us - r->last_send_us > GAP_STEP_US)
			r->skipped_us += nb.start_wall_us - r->last_send_us - GAP_STEP_US;
	} else if (r->reverse && (r->seg->cat.reason != REC_NEXT ||
	    r->seg->cat.start_wall_us - nb.end_wall_us > CONTIGUOUS_US)) {
		mark_last(r, RP_F_END);	/* the GOP right after the gap was the last one read */
	}
	open_segment(r, &nb);
}

/* Forward, nothing at or after this: the end of the grant's footage window (a grant may be narrowed). */
static int64_t
window_end(const struct replay_stream *r)
{
	int64_t from, until;

	footage_window(r, &from, &until);
	return until;
}

static void
read_more(struct replay_stream *r)
{
	struct rp_job *j;

	if (r->job != NULL || r->dead || r->seg == NULL ||
	    (r->state != RP_READY && r->state != RP_PLAYING) || enough_ahead(r))
		return;
	j = job_new(r, RJ_READ, r->seg);
	j->filter = (struct rp_filter){
		.video_only = r->reverse || r->rq.frames == REPLAY_FRAMES_INTRA,
		.intra = r->rq.frames == REPLAY_FRAMES_INTRA,
		.intra_interval_us = r->rq.intra_interval_ms * 1000u,
		.last_intra_us = r->last_intra_us,
		.predicted = r->rq.frames == REPLAY_FRAMES_PREDICTED,
		.not_before_us = r->reverse ? r->bound_us : INT64_MIN,
		.before_us = r->reverse ? r->anchor_us + 1 : GW_MIN(r->bound_us, window_end(r)),
	};
	if (r->reverse ? !read_backward(r, j) : r->next >= r->seg->nidx) {
		free(j);
		next_segment(r);
		return;
	}
	if (!r->reverse)
		read_forward(r, j);
	submit(r, j);
}

/* --- seeking ---------------------------------------------------------------------------------------------- */

static void
seek_answer(struct replay_stream *r, enum replay_status st)
{
	struct replay_position pos = { .start_us = r->anchor_us, .has_end = r->rq.has_end, .end_us = r->rq.end_us };
	replay_seek_cb cb = r->seek_cb;

	r->seek_cb = NULL;
	if (cb)
		cb(r->seek_arg, st, &pos);
}

/* The fragment to start at in a freshly read segment; false if it has none that will do. */
static bool
locate(struct replay_stream *r, int64_t from_us, int64_t window_from)
{
	const struct rp_seg *s = r->seg;
	long i;

	if (s->nidx == 0)
		return false;
	i = recidx_find(s->idx, s->nidx, from_us, true);
	if (i < 0 || s->idx[i].wall_us < window_from) {
		/* Before the segment, or a clean point outside the window: the first clean one after. */
		for (i = i < 0 ? 0 : i + 1; (size_t)i < s->nidx; i++)
			if ((s->idx[i].flags & RECIDX_CLEAN) && s->idx[i].wall_us >= window_from)
				break;
		if ((size_t)i >= s->nidx)
			return false;
	}
	if (r->reverse) {
		size_t e = (size_t)i + 1;

		while (e < s->nidx && !(s->idx[e].flags & RECIDX_CLEAN))
			e++;
		r->next = e;	/* the first GOP read is the one holding the start, up to the start */
		r->anchor_us = GW_MAX(s->idx[i].wall_us, from_us);
	} else {
		r->next = (size_t)i;
		r->anchor_us = s->idx[i].wall_us;
	}
	return true;
}

static enum replay_status begin_seek(struct replay_stream *r);

/* The segment of the start was read: find the start point in it. */
static void
seek_found(struct replay_stream *r)
{
	int64_t wfrom, wuntil;

	footage_window(r, &wfrom, &wuntil);
	if (!locate(r, r->rq.start_us, wfrom)) {
		if (!r->reverse && r->seg->cat.open) {
			r->anchor_us = r->rq.start_us;
			r->next = r->seg->nidx;
		} else {
			struct rec_segment nb;

			if (neighbour(r, &nb) && (r->reverse || nb.start_wall_us < r->bound_us)) {
				r->rq.start_us = r->reverse ? nb.end_wall_us : nb.start_wall_us;
				open_segment(r, &nb);
				return;
			}
			r->state = RP_IDLE;
			seek_answer(r, REPLAY_NO_FOOTAGE);
			return;
		}
	}
	r->last_send_us = r->anchor_us;
	r->send_zero_us = INT64_MIN;
	r->last_intra_us = INT64_MIN;
	r->skipped_us = 0;
	r->disc_mask = (1u << r->ntracks) - 1;
	r->paused_render_us = 0;
	r->ts_have = r->ts_new_seg = 0;
	memset(r->ts_fix, 0, sizeof(r->ts_fix));
	for (int t = 0; t < r->ntracks; t++)
		r->ts_base[t] = gw_random32();
	r->state = RP_READY;
	seek_answer(r, REPLAY_OK);
	read_more(r);	/* the first frames are read while the answer goes out */
}

static void
read_done(struct worker_job *wj)
{
	struct rp_job *j = (struct rp_job *)wj;
	struct replay_stream *r = j->stream;
	bool was_open = j->kind == RJ_OPEN;

	r->job = NULL;
	if (r->dead || r->reseek) {
		for (int i = 0; i < j->nframes; i++)
			media_frame_unref(j->frames[i]);
		if (was_open && j->seg != r->seg)
			rp_seg_free(j->seg);
		free(j->frames);
		free(j);
		if (r->dead) {
			rp_seg_free(r->seg);
			replay_desc_unref(r->desc);
			free(r);
		} else {
			enum replay_status st;

			r->reseek = false;
			if ((st = begin_seek(r)) != REPLAY_OK)
				seek_answer(r, st);
		}
		return;
	}
	if (j->error) {
		log_warn("cam=%lld: replay of %s: %s", (long long)r->base.camera_id, j->seg->cat.path, j->why);
		if (was_open && j->seg != r->seg)
			rp_seg_free(j->seg);
		free(j->frames);
		free(j);
		if (r->state == RP_SEEKING) {
			r->state = RP_IDLE;
			seek_answer(r, REPLAY_FAILED);
		} else if (r->seg != NULL) {
			r->next = r->reverse ? 0 : r->seg->nidx;	/* what cannot be read is skipped as a gap */
			next_segment(r);
		}
		return;
	}
	if (was_open) {
		bool another = j->seg != r->seg;

		attach_segment(r, j->seg);
		free(j);
		if (r->state == RP_SEEKING)
			seek_found(r);
		else if (another)
			r->next = r->reverse ? r->seg->nidx : 0;	/* a refreshed one goes on where it was */
		read_more(r);
		pump(r);
		return;
	}
	r->last_intra_us = j->filter.last_intra_us;
	take_frames(r, j);
	if (j->past_end)
		end_stream(r, "the end of the range");
	free(j->frames);
	free(j);
	pump(r);
	read_more(r);
}

/* Find the segment for r->rq.start_us and read it: REPLAY_OK, or why not. */
static enum replay_status
begin_seek(struct replay_stream *r)
{
	struct rec_segment *segs = NULL, pick;
	int n = recorder_segments(r->base.camera_id, INT64_MIN, INT64_MAX, &segs);
	bool found = false;

	/* The segment holding the start, else the next one (forward) or the previous one (reverse). */
	for (int i = 0; i < n && !found; i++) {
		/* A segment ends with its last frame's capture time: up to the next contiguous one is still its. */
		bool next_follows = i + 1 < n && segs[i + 1].reason == REC_NEXT &&
		    segs[i + 1].start_wall_us - segs[i].end_wall_us <= CONTIGUOUS_US;
		int64_t end = next_follows ? segs[i + 1].start_wall_us : GW_MAX(segs[i].end_wall_us, segs[i].start_wall_us + 1);

		if (segs[i].start_wall_us <= r->rq.start_us && r->rq.start_us < end) {
			pick = segs[i];
			found = true;
		}
	}
	for (int i = 0; i < n && !found; i++) {
		int k = r->reverse ? n - 1 - i : i;

		if (r->reverse ? segs[k].start_wall_us <= r->rq.start_us : segs[k].start_wall_us > r->rq.start_us) {
			pick = segs[k];
			found = true;
		}
	}
	if (!found && !r->reverse && n > 0 && segs[n - 1].open) {
		pick = segs[n - 1];	/* at the live edge: wait in the segment being written */
		found = true;
	}
	free(segs);
	if (!found || (!r->reverse && pick.start_wall_us >= r->bound_us) ||
	    (r->reverse && pick.end_wall_us < r->bound_us)) {
		r->state = RP_IDLE;
		return REPLAY_NO_FOOTAGE;
	}
	open_segment(r, &pick);
	return REPLAY_OK;
}

/*
 * Take back what the writer has not started, to send it after the resume
 * (due at once: it was due when the pause came). Its sequence numbers are
 * given again on the way out, so the stream has no hole.
 */
static void
take_back_unsent(struct replay_stream *r)
{
	struct frameq *q = &r->base.q;
	uint32_t first = q->pos > 0 ? 1 : 0, n = q->count, nback = 0;
	struct rp_item *back = gw_xcalloc(GW_MAX(n, 1), sizeof(*back));

	for (uint32_t i = first; i < n; i++) {
		struct media_frame *f = frameq_nth(q, i);

		if (f == NULL || f->control)
			continue;
		media_frame_ref(f);
		back[nback++] = (struct rp_item){ .f = f, .ts = f->rtp_ts, .render_us = r->paused_render_us,
		    .flags = (uint8_t)(f->data[RP_FLAGS_OFF] & (RP_F_END | RP_F_DISC | RP_F_TERM)) };
	}
	frameq_drop_unsent(q);
	for (uint32_t i = nback; i-- > 0;) {
		r->seq[back[i].f->track] -= back[i].f->npkts;
		items_push_front(r, &back[i]);
	}
	free(back);
}

/*
 * Drop what is queued and not sent yet, for a seek; the sequence numbers
 * those packets had are given again, so that the packets of the new
 * position follow the last one sent without a hole (a receiver would count
 * one as lost packets; the D bit says what happened).
 */
static void
drop_unsent(struct replay_stream *r)
{
	struct frameq *q = &r->base.q;

	for (uint32_t i = q->pos > 0 ? 1 : 0; i < q->count; i++) {
		struct media_frame *f = frameq_nth(q, i);

		if (f != NULL && !f->control)
			r->seq[f->track] -= f->npkts;
	}
	frameq_drop_unsent(q);
}

/*
 * Clip the request to the grant's footage window: a start before it moves
 * to its beginning (after it: to its end, or "now"); a range with nothing
 * inside it is refused.
 */
static bool
clip_to_window(struct replay_stream *r, bool *future)
{
	int64_t from, until, now = gw_wall_us(), last;
	struct replay_request *q = &r->rq;

	footage_window(r, &from, &until);
	last = GW_MIN(until, now);
	if (from > last)
		return false;
	if (r->reverse) {
		if ((q->has_start && q->start_us < from) || (q->has_end && q->end_us > last))
			return false;
		q->start_us = q->has_start ? GW_MIN(q->start_us, last) : last;
		r->bound_us = q->has_end ? GW_MAX(q->end_us, from) : from;
	} else {
		if ((q->has_start && q->start_us > until) || (q->has_end && q->end_us <= from))
			return false;
		if (q->has_start && q->start_us > now + FUTURE_SLACK_US) {
			*future = true;	/* not recorded yet: RTSP's Invalid Range */
			return false;
		}
		q->start_us = q->has_start ? GW_MAX(q->start_us, from) : from;
		q->start_us = GW_MIN(q->start_us, last);
		r->bound_us = q->has_end ? GW_MIN(q->end_us, until) : until;
	}
	return true;
}

enum replay_status
replay_stream_seek(struct media_stream *st, const struct replay_request *rq, replay_seek_cb cb, void *arg)
{
	struct replay_stream *r = (struct replay_stream *)st;
	enum replay_status status;
	bool future = false;

	GW_CHECK(r, REPLAY_MAGIC);
	r->seek_cb = NULL;
	r->rq = *rq;
	if (r->rq.speed_milli <= 0)
		r->rq.speed_milli = 1000;
	r->reverse = rq->scale_milli < 0;
	r->end_told = false;
	r->started = false;
	if (r->timer)
		evtimer_del(r->timer);
	drop_unsent(r);
	items_clear(r);
	r->state = RP_IDLE;
	if (!rq->rate_control && rq->scale_milli != 1000 && rq->scale_milli != -1000)
		return REPLAY_BAD_REQUEST;	/* ONVIF: only +-1 without rate control */
	if (!clip_to_window(r, &future))
		return future ? REPLAY_NO_FOOTAGE : REPLAY_OUTSIDE_WINDOW;
	r->state = RP_SEEKING;
	r->seek_cb = cb;
	r->seek_arg = arg;
	if (r->job != NULL) {
		r->reseek = true;	/* when it comes back */
		return REPLAY_OK;
	}
	if ((status = begin_seek(r)) != REPLAY_OK)
		r->seek_cb = NULL;
	return status;
}

bool
replay_stream_sent(const struct media_stream *st, int64_t *from_us, int64_t *until_us)
{
	const struct replay_stream *r = (const struct replay_stream *)st;

	*from_us = r->sent_from_us;
	*until_us = r->sent_until_us;
	return r->sent_from_us != 0;
}

int64_t
replay_stream_position(const struct media_stream *st)
{
	const struct replay_stream *r = (const struct replay_stream *)st;

	if (r->count > 0)
		return r->items[r->head].f->wall_us;
	return r->last_queued_us ? r->last_queued_us : r->anchor_us;
}

void
replay_stream_cancel_seek(struct media_stream *st)
{
	struct replay_stream *r = (struct replay_stream *)st;

	r->seek_cb = NULL;
}

/* --- sending ---------------------------------------------------------------------------------------------- */

static void
timer_fired(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pump(arg);
}

static void
arm_timer(struct replay_stream *r, int64_t in_us)
{
	struct timeval tv = { .tv_sec = in_us / 1000000, .tv_usec = in_us % 1000000 };

	if (r->timer == NULL)
		r->timer = evtimer_new(gw.base, timer_fired, r);
	evtimer_add(r->timer, &tv);
}

/* Queue what is due (Rate-Control) or what the writer's window takes (no Rate-Control). */
static void
pump(struct replay_stream *r)
{
	struct frameq *q = &r->base.q;
	int64_t now = gw_mono_us();

	if (!r->started)
		return;
	while (r->count > 0) {
		struct rp_item *it = item_at(r, 0);

		if (r->rq.rate_control) {
			int64_t due = r->clock_start_mono + it->render_us * 1000 / r->rq.speed_milli;

			if (due > now) {
				arm_timer(r, due - now);
				break;
			}
		} else if (frameq_bytes(q) >= WINDOW_BYTES) {
			frameq_want_space(q, WINDOW_BYTES / 2);
			break;
		}
		stamp(r, it);
		r->last_queued_us = it->f->wall_us;
		if (r->sent_from_us == 0 || it->f->wall_us < r->sent_from_us)
			r->sent_from_us = it->f->wall_us;
		r->sent_until_us = GW_MAX(r->sent_until_us, it->f->wall_us);
		frameq_push(q, it->f, (it->flags & RP_F_DISC) ? FQ_DISCONT : 0);
		media_frame_unref(it->f);
		items_pop(r);
	}
	if (r->count == 0 && r->state == RP_ENDED) {
		if (frameq_bytes(q) > 0)
			frameq_want_space(q, 0);	/* the BYE goes after the last frame */
		else
			maybe_tell_end(r);
		return;
	}
	read_more(r);
}

static void
queue_space(struct frameq *q)
{
	struct replay_stream *r = q->owner;

	if (r->state == RP_ENDED && r->count == 0)
		maybe_tell_end(r);
	else
		pump(r);
}

static void
queue_wake(struct frameq *q)
{
	struct replay_stream *r = q->owner;

	r->base.owner_ops->wake(&r->base);
}

static const struct frameq_ops queue_ops = {
	.wake = queue_wake,
	.space = queue_space,
};

/* --- the stream's ops -------------------------------------------------------------------------------------- */

static int
rp_ntracks(const struct media_stream *st)
{
	return ((const struct replay_stream *)st)->ntracks;
}

static const struct adapter_track *
rp_track(const struct media_stream *st, int i)
{
	const struct replay_stream *r = (const struct replay_stream *)st;

	return i >= 0 && i < r->ntracks ? &r->tracks[i].desc : NULL;
}

static uint32_t
rp_ssrc(const struct media_stream *st, int track)
{
	const struct replay_stream *r = (const struct replay_stream *)st;

	return track >= 0 && track < r->ntracks ? r->tracks[track].ssrc : 0;
}

static int
rp_play(struct media_stream *st, struct media_play_info *info)
{
	struct replay_stream *r = (struct replay_stream *)st;

	if (r->state == RP_IDLE || r->state == RP_SEEKING)
		return -1;
	memset(info, 0, sizeof(*info));
	for (int t = 0; t < r->ntracks; t++) {
		info->valid[t] = true;
		info->seq[t] = r->seq[t];
		info->rtp_ts[t] = r->ts_base[t] + (uint32_t)(r->paused_render_us * r->tracks[t].desc.clock_rate / 1000000);
	}
	info->start_wall_us = r->anchor_us;
	r->base.sr_zero = !r->rq.rate_control;
	r->clock_start_mono = gw_mono_us() - r->paused_render_us * 1000 / r->rq.speed_milli;
	r->started = true;
	if (r->state == RP_READY)
		r->state = RP_PLAYING;
	pump(r);
	return 0;
}

static void
rp_pause(struct media_stream *st)
{
	struct replay_stream *r = (struct replay_stream *)st;

	if (!r->started)
		return;
	if (r->timer)
		evtimer_del(r->timer);
	r->paused_render_us = (gw_mono_us() - r->clock_start_mono) * r->rq.speed_milli / 1000;
	if (r->count > 0 && r->rq.rate_control)
		r->paused_render_us = GW_MIN(r->paused_render_us, item_at(r, 0)->render_us);
	take_back_unsent(r);
	r->started = false;
	if (r->state != RP_ENDED)
		r->state = RP_READY;
}

static bool
rp_rtp_at(const struct media_stream *st, int track, int64_t wall_us, uint32_t *ts)
{
	const struct replay_stream *r = (const struct replay_stream *)st;

	(void)wall_us;
	if (track < 0 || track >= r->ntracks || !r->started)
		return false;
	if (!r->rq.rate_control) {
		*ts = 0;
		return true;
	}
	*ts = r->ts_base[track] + (uint32_t)((gw_mono_us() - r->clock_start_mono) * r->rq.speed_milli / 1000 *
	    r->tracks[track].desc.clock_rate / 1000000);
	return true;
}

static void
rp_free(struct media_stream *st)
{
	struct replay_stream *r = (struct replay_stream *)st;

	GW_CHECK(r, REPLAY_MAGIC);
	TAILQ_REMOVE(&RP.streams, r, link);
	if (r->timer)
		event_free(r->timer);
	items_clear(r);
	free(r->items);
	if (r->job != NULL) {
		r->dead = true;	/* the job's done() frees the rest */
		return;
	}
	rp_seg_free(r->seg);
	replay_desc_unref(r->desc);
	free(r);
}

static const struct media_stream_ops replay_ops = {
	.kind = "replay",
	.ntracks = rp_ntracks,
	.track = rp_track,
	.ssrc = rp_ssrc,
	.play = rp_play,
	.pause = rp_pause,
	.rtp_at = rp_rtp_at,
	.free = rp_free,
};

bool
replay_stream_is(const struct media_stream *st)
{
	return st != NULL && st->ops == &replay_ops;
}

static const struct pay_ops *
pay_ops_of(enum mp4_codec c)
{
	switch (c) {
	case MP4_CODEC_H264:
		return &pay_h264_ops;
	case MP4_CODEC_H265:
		return &pay_h265_ops;
	case MP4_CODEC_AAC:
		return &pay_aac_ops;
	case MP4_CODEC_PCMU:
	case MP4_CODEC_PCMA:
		return &pay_g711_ops;
	case MP4_CODEC_JPEG:
		return &pay_jpeg_ops;
	default:
		return &pay_meta_ops;
	}
}

struct media_stream *
replay_stream_open(struct replay_desc *d, const struct media_stream_owner_ops *ops, void *owner)
{
	struct replay_stream *r = gw_xcalloc(1, sizeof(*r));
	struct pay_config pc = { .max_payload = RP_MAX_PAYLOAD, .insert_ps = true };

	r->magic = REPLAY_MAGIC;
	r->base.ops = &replay_ops;
	r->base.owner_ops = ops;
	r->base.owner = owner;
	r->base.camera_id = d->camera_id;
	frameq_init(&r->base.q, (size_t)gw.cfg->reader_queue_max, &queue_ops, r);
	replay_desc_ref(d);
	r->desc = d;
	r->ntracks = d->ntracks;
	for (int t = 0; t < r->ntracks; t++) {
		r->tracks[t] = d->tracks[t];
		r->tracks[t].ssrc = gw_random32();
		r->seq[t] = (uint16_t)gw_random32();
		(void)pay_init(&r->pay[t], pay_ops_of(r->tracks[t].codec), &pc);
	}
	r->state = RP_IDLE;
	TAILQ_INSERT_TAIL(&RP.streams, r, link);
	return &r->base;
}

/* --- the recorder's news, start and stop ------------------------------------------------------------------- */

void
replay_recorded(int64_t camera_id)
{
	struct replay_stream *r;

	TAILQ_FOREACH(r, &RP.streams, link) {
		if (r->base.camera_id != camera_id || r->state != RP_AT_EDGE || r->job != NULL)
			continue;
		r->state = RP_PLAYING;
		next_segment(r);
	}
}

int
replay_init(void)
{
	return 0;
}

void
replay_shutdown(void)
{
	struct replay_desc *d;
	struct replay_wait *w;

	while ((w = TAILQ_FIRST(&RP.waits)) != NULL) {
		TAILQ_REMOVE(&RP.waits, w, link);
		w->cb(w->arg, NULL, "the server is shutting down");
		free(w);
	}
	while ((d = TAILQ_FIRST(&RP.descs)) != NULL) {
		TAILQ_REMOVE(&RP.descs, d, link);
		replay_desc_unref(d);
	}
}
