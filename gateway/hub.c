/*
 * hub.c - sources, frames, the GOP cache and readers (see hub.h).
 *
 * A source moves through
 *
 *   SRC_STARTING --described + first frame--> SRC_ONLINE
 *        \                                       |
 *         `------------- failed ---------> SRC_RETRY --backoff--> SRC_STARTING
 *
 * and is stopped (freed) after source_idle_timeout without readers. The
 * source's track list survives a retry, so readers stay attached and
 * DESCRIBE is answered while the camera is away; timestamps and sequence
 * numbers continue across the gap.
 */
#include "gw.h"
#include "proto/proto.h"
#include "config.h"
#include "crypto.h"
#include "hub.h"
#include "log.h"
#include "loop.h"
#include "media.h"
#include "model.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SOURCE_MAGIC 0x68627372U	/* "hbsr" */
#define READER_MAGIC 0x68627264U	/* "hbrd" */
#define RING_MIN 64
#define RING_MAX 8192			/* frames; beyond this a reader is "behind" whatever its bytes */
#define RATE_WINDOW_US 2000000

enum src_state {
	SRC_STARTING,
	SRC_ONLINE,
	SRC_RETRY,
};

struct track_state {
	struct adapter_track desc;
	uint32_t ssrc;
	uint16_t next_seq;
	bool have_ts;
	bool force_discont;		/* the adapter was restarted: rebase the next frame */
	uint32_t ts_offset;		/* hub timestamp = source timestamp + offset */
	uint32_t last_src_ts;
	uint32_t last_hub_ts;
	uint32_t last_step;		/* source ticks between the last two frames (0: not yet) */
	int64_t last_mono_us;
	bool have_map;			/* hub timestamp <-> wall clock, for RTCP SR */
	int64_t map_wall_us;
	uint32_t map_ts;
};

/* The adapters' handle on a source. */
struct adapter_source {
	uint32_t magic;
	struct hub_source *src;
};

TAILQ_HEAD(reader_list, hub_reader);
TAILQ_HEAD(wait_list, hub_wait);

struct hub_source {
	uint32_t magic;
	struct adapter_source handle;
	int64_t camera_id;
	char ident[64];
	char fingerprint[65];		/* of adapter, URI and credentials: a change restarts */
	enum src_state state;
	const struct adapter_ops *ops;
	void *astate;			/* the adapter's state; NULL when closed */
	bool described;
	bool always_on;
	int ntracks;
	int video_track;		/* the first video track, or -1 */
	struct track_state tracks[HUB_MAX_TRACKS];
	struct hub_frame **gop;		/* frames since the last video keyframe */
	int gop_n, gop_cap;
	size_t gop_bytes;
	bool gop_valid;
	struct reader_list readers;
	int nreaders;
	struct wait_list waits;
	int64_t idle_since_us;		/* 0 while in use */
	int64_t retry_at_us;
	int64_t backoff_ms;
	int64_t offline_since_us;
	bool failure_logged;
	char last_error[128];
	uint64_t frames_in, bytes_in;
	int64_t rate_start_us;
	uint64_t rate_bytes;
	double bitrate_bps;
	int64_t last_frame_wall_us;
	struct loop_deferred close_adapter;
	TAILQ_ENTRY(hub_source) link;
};

struct hub_wait {
	struct hub_source *src;
	hub_ready_cb cb;
	void *arg;
	int64_t deadline_us;
	TAILQ_ENTRY(hub_wait) link;
};

struct hub_reader {
	uint32_t magic;
	struct hub_source *src;
	const struct hub_reader_ops *ops;
	void *owner;
	unsigned track_mask;
	size_t budget;
	bool playing;
	bool waiting_keyframe;
	bool scheduled;			/* on the wake list */
	struct hub_frame **ring;
	uint32_t cap, head, count;
	size_t queued_bytes;
	uint32_t pos;			/* bytes of the head frame already written */
	uint8_t scratch[256][4];	/* '$' headers of remapped channels, for one iov call */
	struct hub_reader_stats stats;
	uint32_t track_packets[HUB_MAX_TRACKS];
	uint32_t track_octets[HUB_MAX_TRACKS];
	TAILQ_ENTRY(hub_reader) link;
	TAILQ_ENTRY(hub_reader) wake_link;
};

TAILQ_HEAD(source_list, hub_source);

static struct source_list sources = TAILQ_HEAD_INITIALIZER(sources);
static struct reader_list wake_list = TAILQ_HEAD_INITIALIZER(wake_list);
static struct loop_deferred wake_deferred;
static uint64_t total_bytes_out, total_frames_in, total_frames_dropped;

static void source_start(struct hub_source *s);
static void source_free(struct hub_source *s);

/* --- frames ------------------------------------------------------------------ */

void
hub_frame_ref(struct hub_frame *f)
{
	f->refcnt++;
}

void
hub_frame_unref(struct hub_frame *f)
{
	if (f != NULL && --f->refcnt == 0)
		free(f);
}

/* The marker bit: end of an access unit for video, metadata and AAC; never for G.711. */
static bool
marks_last_packet(const struct adapter_track *t)
{
	return !(t->media == ADAPTER_AUDIO &&
	    (strcasecmp(t->encoding, "PCMU") == 0 || strcasecmp(t->encoding, "PCMA") == 0));
}

/* Build the frame in interleaved form, RTP headers included. Returns NULL if a payload is too big. */
static struct hub_frame *
frame_build(struct track_state *t, int track, const struct adapter_frame *in, uint32_t hub_ts)
{
	size_t size = 0;
	struct hub_frame *f;
	uint8_t *p;

	for (int i = 0; i < in->npayloads; i++) {
		if (in->payloads[i].iov_len > 65535 - 12)
			return NULL;
		size += 4 + 12 + in->payloads[i].iov_len;
	}
	if (in->npayloads == 0 || in->npayloads > 65535 || size > UINT32_MAX)
		return NULL;
	f = gw_xmalloc(sizeof(*f) + size);
	f->refcnt = 1;
	f->track = (uint8_t)track;
	f->keyframe = in->keyframe;
	f->control = false;
	f->npkts = (uint16_t)in->npayloads;
	f->first_seq = t->next_seq;
	f->rtp_ts = hub_ts;
	f->len = (uint32_t)size;
	p = f->data;
	for (int i = 0; i < in->npayloads; i++) {
		size_t plen = in->payloads[i].iov_len;
		bool marker = i == in->npayloads - 1 && !in->partial && marks_last_packet(&t->desc);

		p[0] = '$';
		p[1] = (uint8_t)(2 * track);
		proto_wr16(p + 2, (uint32_t)(12 + plen));
		p[4] = 0x80;
		p[5] = (uint8_t)((marker ? 0x80 : 0) | (t->desc.payload_type & 0x7f));
		proto_wr16(p + 6, t->next_seq++);
		proto_wr32(p + 8, hub_ts);
		proto_wr32(p + 12, t->ssrc);
		memcpy(p + 16, in->payloads[i].iov_base, plen);
		p += 16 + plen;
	}
	return f;
}

/* --- timestamps ----------------------------------------------------------------- */

/*
 * Hub timestamps start at a random value and continue across source
 * restarts and jumps: after a discontinuity (or a jump of more than ten
 * seconds), the next frame lands where the clock says it should, and at
 * least one frame's step after the last (a file that loops may deliver its
 * first frame in the same instant as its last).
 */
static uint32_t
rebase_ts(struct track_state *t, const struct adapter_frame *in)
{
	int64_t now = gw_mono_us();
	int64_t max_jump = (int64_t)t->desc.clock_rate * 10;
	uint32_t rnd = 0;

	if (!t->have_ts) {
		if (gw_random(&rnd, sizeof(rnd)) < 0)
			rnd = 0;
		t->ts_offset = rnd - in->rtp_ts;
		t->have_ts = true;
	} else {
		int32_t d = (int32_t)(in->rtp_ts - t->last_src_ts);

		if (in->discontinuity || t->force_discont || d > max_jump || d < -max_jump) {
			uint32_t elapsed = (uint32_t)((now - t->last_mono_us) * t->desc.clock_rate / 1000000);
			/* A frame's step, not a gap (silence suppression leaves seconds between frames). */
			uint32_t step = t->last_step ? GW_MIN(t->last_step, (uint32_t)t->desc.clock_rate / 5) : 1;

			t->ts_offset = t->last_hub_ts + (elapsed > step ? elapsed : step) - in->rtp_ts;
			t->have_map = false;
		} else if (d > 0) {
			t->last_step = (uint32_t)d;
		}
	}
	t->force_discont = false;
	t->last_src_ts = in->rtp_ts;
	t->last_hub_ts = in->rtp_ts + t->ts_offset;
	t->last_mono_us = now;
	return t->last_hub_ts;
}

static void
update_map(struct track_state *t, const struct adapter_frame *in, uint32_t hub_ts, int64_t wall)
{
	if (in->capture_wall_us != 0 || !t->have_map) {
		t->map_wall_us = wall;
		t->map_ts = hub_ts;
		t->have_map = true;
	}
}

bool
hub_source_rtp_at(const struct hub_source *s, int track, int64_t wall_us, uint32_t *ts)
{
	const struct track_state *t = &s->tracks[track];

	if (!t->have_map)
		return false;
	*ts = t->map_ts + (uint32_t)((wall_us - t->map_wall_us) * t->desc.clock_rate / 1000000);
	return true;
}

/* --- the GOP cache ------------------------------------------------------------------ */

static void
gop_clear(struct hub_source *s)
{
	for (int i = 0; i < s->gop_n; i++)
		hub_frame_unref(s->gop[i]);
	s->gop_n = 0;
	s->gop_bytes = 0;
}

/* A reader may start at this frame: a video keyframe, or any frame if there is no video. */
static bool
wants_video(const struct hub_source *s, unsigned track_mask)
{
	return s->video_track >= 0 && (track_mask & (1u << s->video_track));
}

static bool
is_start_point(const struct hub_source *s, const struct hub_frame *f, unsigned track_mask)
{
	return !wants_video(s, track_mask) || (f->keyframe && f->track == s->video_track);
}

static void
gop_add(struct hub_source *s, struct hub_frame *f)
{
	if (gw.cfg->gop_cache_max == 0 || s->video_track < 0)
		return;
	if (f->keyframe && f->track == s->video_track) {
		gop_clear(s);
		s->gop_valid = true;
	}
	if (!s->gop_valid)
		return;
	if (s->gop_bytes + f->len > (size_t)gw.cfg->gop_cache_max) {
		/* A GOP too long to keep whole is no use: wait for the next keyframe. */
		gop_clear(s);
		s->gop_valid = false;
		return;
	}
	if (s->gop_n == s->gop_cap) {
		s->gop_cap = s->gop_cap ? 2 * s->gop_cap : 128;
		s->gop = gw_xrealloc(s->gop, (size_t)s->gop_cap * sizeof(*s->gop));
	}
	hub_frame_ref(f);
	s->gop[s->gop_n++] = f;
	s->gop_bytes += f->len;
}

/* --- readers: queues ------------------------------------------------------------------ */

static void
wake_readers(void *arg)
{
	struct hub_reader *r;

	while ((r = TAILQ_FIRST(&wake_list)) != NULL) {
		TAILQ_REMOVE(&wake_list, r, wake_link);
		r->scheduled = false;
		r->ops->wake(r);
	}
}

static void
schedule_wake(struct hub_reader *r)
{
	if (r->scheduled)
		return;
	r->scheduled = true;
	TAILQ_INSERT_TAIL(&wake_list, r, wake_link);
	loop_defer(&wake_deferred, wake_readers, NULL);
}

static void
ring_push(struct hub_reader *r, struct hub_frame *f)
{
	if (r->count == r->cap) {
		uint32_t ncap = r->cap ? 2 * r->cap : RING_MIN;
		struct hub_frame **nring = gw_xmalloc(ncap * sizeof(*nring));

		for (uint32_t i = 0; i < r->count; i++)
			nring[i] = r->ring[(r->head + i) % r->cap];
		free(r->ring);
		r->ring = nring;
		r->cap = ncap;
		r->head = 0;
	}
	hub_frame_ref(f);
	r->ring[(r->head + r->count) % r->cap] = f;
	r->count++;
	r->queued_bytes += f->len;
}

static struct hub_frame *
ring_at(const struct hub_reader *r, uint32_t i)
{
	return r->ring[(r->head + i) % r->cap];
}

static void
ring_pop(struct hub_reader *r)
{
	struct hub_frame *f = ring_at(r, 0);

	r->queued_bytes -= f->len;
	r->head = (r->head + 1) % r->cap;
	r->count--;
	hub_frame_unref(f);
}

/* Drop everything not yet started; a frame half written must be finished first. */
static void
ring_drop_unsent(struct hub_reader *r)
{
	uint32_t keep = r->pos > 0 ? 1 : 0;

	while (r->count > keep) {
		struct hub_frame *f = ring_at(r, r->count - 1);

		r->queued_bytes -= f->len;
		r->count--;
		if (!f->control)
			r->stats.frames_dropped++, total_frames_dropped++;
		hub_frame_unref(f);
	}
}

/* Hand one new frame to one reader. */
static void
reader_offer(struct hub_reader *r, struct hub_frame *f)
{
	if (!r->playing || !(r->track_mask & (1u << f->track)))
		return;
	if (r->queued_bytes + f->len > r->budget || r->count >= RING_MAX) {
		ring_drop_unsent(r);
		if (!r->waiting_keyframe)
			r->stats.skips++;
		r->waiting_keyframe = true;
	}
	if (r->waiting_keyframe) {
		if (!is_start_point(r->src, f, r->track_mask)) {
			r->stats.frames_dropped++;
			total_frames_dropped++;
			return;
		}
		r->waiting_keyframe = false;
	}
	ring_push(r, f);
	schedule_wake(r);
}

/* --- frames in --------------------------------------------------------------------------- */

static void
account_rate(struct hub_source *s, size_t bytes)
{
	int64_t now = gw_mono_us();

	if (s->rate_start_us == 0)
		s->rate_start_us = now;
	s->rate_bytes += bytes;
	if (now - s->rate_start_us >= RATE_WINDOW_US) {
		s->bitrate_bps = (double)s->rate_bytes * 8e6 / (double)(now - s->rate_start_us);
		s->rate_start_us = now;
		s->rate_bytes = 0;
	}
}

static void
source_online(struct hub_source *s)
{
	if (s->state == SRC_ONLINE)
		return;
	if (s->offline_since_us != 0 && s->failure_logged)
		olog_info(s, "source back online after %.1f s",
		    (double)(gw_mono_us() - s->offline_since_us) / 1e6);
	else
		olog_info(s, "source online");
	s->state = SRC_ONLINE;
	s->offline_since_us = 0;
	s->failure_logged = false;
	s->backoff_ms = 0;
	s->last_error[0] = '\0';
}

void
adapter_source_frame(struct adapter_source *h, const struct adapter_frame *in)
{
	struct hub_source *s = h->src;
	struct track_state *t;
	struct hub_frame *f;
	struct hub_reader *r;
	int64_t wall;
	uint32_t ts;

	GW_CHECK(h, SOURCE_MAGIC);
	/* After a failure the adapter is closing: what it still delivers is stale. */
	if (in->track < 0 || in->track >= s->ntracks || s->state == SRC_RETRY)
		return;
	t = &s->tracks[in->track];
	ts = rebase_ts(t, in);
	f = frame_build(t, in->track, in, ts);
	if (f == NULL) {
		olog_warn(s, "dropping a frame of track %d: a payload exceeds 65 KB", in->track);
		return;
	}
	wall = in->capture_wall_us ? in->capture_wall_us : gw_wall_us();
	update_map(t, in, ts, wall);
	f->wall_us = wall;
	source_online(s);
	s->frames_in++;
	total_frames_in++;
	s->bytes_in += f->len;
	s->last_frame_wall_us = gw_wall_us();
	account_rate(s, f->len);
	gop_add(s, f);
	TAILQ_FOREACH(r, &s->readers, link)
		reader_offer(r, f);
	hub_frame_unref(f);
}

/* --- source lifecycle ------------------------------------------------------------------------ */

static void
finish_waits(struct hub_source *s, const char *error)
{
	struct hub_wait *w;

	while ((w = TAILQ_FIRST(&s->waits)) != NULL) {
		TAILQ_REMOVE(&s->waits, w, link);
		w->cb(w->arg, error ? NULL : s, error);
		free(w);
	}
}

static uint32_t
random32(void)
{
	uint32_t v = 0;

	if (gw_random(&v, sizeof(v)) < 0)
		v = (uint32_t)gw_mono_now_us();
	return v;
}

void
adapter_source_described(struct adapter_source *h, const struct adapter_track *tracks, int n)
{
	struct hub_source *s = h->src;

	GW_CHECK(h, SOURCE_MAGIC);
	if (n > HUB_MAX_TRACKS)
		n = HUB_MAX_TRACKS;
	if (s->described && n != s->ntracks)
		olog_warn(s, "source now has %d tracks instead of %d; readers keep the first description",
		    n, s->ntracks);
	if (!s->described) {
		s->ntracks = n;
		s->video_track = -1;
		for (int i = 0; i < n; i++) {
			s->tracks[i].desc = tracks[i];
			s->tracks[i].ssrc = random32();
			s->tracks[i].next_seq = (uint16_t)random32();
			if (tracks[i].media == ADAPTER_VIDEO && s->video_track < 0)
				s->video_track = i;
		}
		s->described = true;
	} else {
		/* Parameters (e.g. sprop-parameter-sets) may change; keep PT and SSRC. */
		for (int i = 0; i < GW_MIN(n, s->ntracks); i++) {
			snprintf(s->tracks[i].desc.fmtp, sizeof(s->tracks[i].desc.fmtp), "%s", tracks[i].fmtp);
			s->tracks[i].desc.width = tracks[i].width;
			s->tracks[i].desc.height = tracks[i].height;
		}
	}
	olog_debug(s, "source described: %d tracks", n);
	finish_waits(s, NULL);
}

static void
close_adapter_now(void *arg)
{
	struct hub_source *s = arg;

	if (s->astate != NULL || s->ops != NULL) {
		if (s->astate)
			s->ops->close(s->astate);
		s->astate = NULL;
	}
}

static int64_t
next_backoff(struct hub_source *s)
{
	int64_t b = s->backoff_ms ? s->backoff_ms * 2 : gw.cfg->source_retry_min_ms;

	b = GW_MIN(b, gw.cfg->source_retry_max_ms);
	s->backoff_ms = b;
	return b + (int64_t)(random32() % (uint32_t)(b / 4 + 1));
}

void
adapter_source_failed(struct adapter_source *h, const char *why)
{
	struct hub_source *s = h->src;
	int64_t delay;

	GW_CHECK(h, SOURCE_MAGIC);
	if (s->state == SRC_RETRY)
		return;
	snprintf(s->last_error, sizeof(s->last_error), "%s", why);
	delay = next_backoff(s);
	if (!s->failure_logged) {
		olog_warn(s, "source %s: %s; retrying with backoff",
		    s->state == SRC_ONLINE ? "lost" : "unavailable", why);
		s->failure_logged = true;
		s->offline_since_us = gw_mono_us();
	} else {
		olog_debug(s, "source still unavailable: %s; next attempt in %lld ms", why, (long long)delay);
	}
	s->state = SRC_RETRY;
	s->retry_at_us = gw_mono_us() + delay * 1000;
	for (int i = 0; i < s->ntracks; i++)
		s->tracks[i].force_discont = true;
	gop_clear(s);
	s->gop_valid = false;
	/* The adapter is inside its own callback: close it after this loop pass. */
	loop_defer(&s->close_adapter, close_adapter_now, s);
	if (!s->described)
		finish_waits(s, why);
}

const char *
adapter_source_ident(const struct adapter_source *h)
{
	return h->src->ident;
}

static enum log_level
adapter_level(enum adapter_log_level level)
{
	return level == ADAPTER_LOG_WARN ? LOG_LVL_WARN : LOG_LVL_DEBUG;
}

bool
adapter_log_enabled(enum adapter_log_level level)
{
	return log_enabled(adapter_level(level));
}

void
adapter_log(enum adapter_log_level level, const char *ident, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(adapter_level(level), ident, fmt, ap);
	va_end(ap);
}

/* Fingerprint of what makes a source: a change in the model restarts it. */
static void
fingerprint(const struct model_camera *cam, char out[65])
{
	char *text = gw_xasprintf("%s\n%s\n%s\n%zu", cam->adapter, cam->source_uri,
	    cam->source_username ? cam->source_username : "", cam->source_secret_len);
	unsigned char hash[32];
	size_t n = strlen(text);

	text = gw_xrealloc(text, n + 1 + cam->source_secret_len);
	if (cam->source_secret_len)
		memcpy(text + n + 1, cam->source_secret, cam->source_secret_len);
	crypto_sha256(text, n + 1 + cam->source_secret_len, hash);
	gw_hex(hash, sizeof(hash), out);
	free(text);
}

static void
source_start(struct hub_source *s)
{
	const struct model_camera *cam = gw.model ? model_camera(gw.model, s->camera_id) : NULL;
	struct adapter_params p = { .camera_id = s->camera_id, .ident = s->ident, .base = gw.base };
	char password[CRYPTO_MAX_SECRET + CRYPTO_SEAL_OVERHEAD + 1];

	loop_defer_cancel(&s->close_adapter);
	close_adapter_now(s);
	s->state = SRC_STARTING;
	if (cam == NULL || !cam->pc.enabled || (s->ops = adapter_lookup(cam->adapter)) == NULL) {
		adapter_source_failed(&s->handle, cam == NULL ? "camera no longer exists" :
		    !cam->pc.enabled ? "camera disabled" : "no adapter of that kind");
		return;
	}
	fingerprint(cam, s->fingerprint);
	p.uri = cam->source_uri;
	p.username = cam->source_username;
	p.password = NULL;
	if (cam->source_secret != NULL) {
		if (crypto_open(cam->source_secret, cam->source_secret_len, password) < 0) {
			adapter_source_failed(&s->handle, "cannot decrypt the source credentials (wrong server key?)");
			return;
		}
		p.password = password;
	}
	s->always_on = cam->always_on;
	olog_debug(s, "opening source with the %s adapter", s->ops->name);
	if (s->ops->open(&s->handle, &p, &s->astate) < 0 && s->state != SRC_RETRY)
		adapter_source_failed(&s->handle, "the adapter could not start");
	OPENSSL_cleanse(password, sizeof(password));
}

static struct hub_source *
source_find(int64_t camera_id)
{
	struct hub_source *s;

	TAILQ_FOREACH(s, &sources, link)
		if (s->camera_id == camera_id)
			return s;
	return NULL;
}

static struct hub_source *
source_new(int64_t camera_id)
{
	struct hub_source *s = gw_xcalloc(1, sizeof(*s));

	s->magic = SOURCE_MAGIC;
	s->handle.magic = SOURCE_MAGIC;
	s->handle.src = s;
	s->camera_id = camera_id;
	s->video_track = -1;
	snprintf(s->ident, sizeof(s->ident), "cam=%lld", (long long)camera_id);
	TAILQ_INIT(&s->readers);
	TAILQ_INIT(&s->waits);
	TAILQ_INSERT_TAIL(&sources, s, link);
	s->idle_since_us = gw_mono_us();
	source_start(s);
	return s;
}

static void
source_free(struct hub_source *s)
{
	struct hub_reader *r;

	olog_info(s, "source stopped");
	finish_waits(s, "source stopped");
	while ((r = TAILQ_FIRST(&s->readers)) != NULL) {
		/* The owner frees the reader from gone(); detach it first so it cannot come back. */
		TAILQ_REMOVE(&s->readers, r, link);
		s->nreaders--;
		r->src = NULL;
		r->ops->gone(r, "source stopped");
	}
	loop_defer_cancel(&s->close_adapter);
	close_adapter_now(s);
	gop_clear(s);
	free(s->gop);
	TAILQ_REMOVE(&sources, s, link);
	s->magic = 0;
	s->handle.magic = 0;
	free(s);
}

struct hub_wait *
hub_get_source(int64_t camera_id, hub_ready_cb cb, void *arg)
{
	struct hub_source *s = source_find(camera_id);
	struct hub_wait *w;

	if (s == NULL)
		s = source_new(camera_id);
	if (s->described) {
		cb(arg, s, NULL);
		return NULL;
	}
	w = gw_xcalloc(1, sizeof(*w));
	w->src = s;
	w->cb = cb;
	w->arg = arg;
	w->deadline_us = gw_mono_us() + gw.cfg->describe_timeout_ms * 1000;
	TAILQ_INSERT_TAIL(&s->waits, w, link);
	s->idle_since_us = 0;
	return w;
}

void
hub_wait_cancel(struct hub_wait *w)
{
	if (w == NULL)
		return;
	TAILQ_REMOVE(&w->src->waits, w, link);
	free(w);
}

int
hub_source_ntracks(const struct hub_source *s)
{
	return s->ntracks;
}

const struct adapter_track *
hub_source_track(const struct hub_source *s, int i)
{
	return &s->tracks[i].desc;
}

uint32_t
hub_source_ssrc(const struct hub_source *s, int track)
{
	return s->tracks[track].ssrc;
}

int64_t
hub_source_camera(const struct hub_source *s)
{
	return s->camera_id;
}

struct hub_frame *
hub_source_last_keyframe(struct hub_source *s, int track)
{
	if (!s->gop_valid || s->gop_n == 0 || s->gop[0]->track != track || !s->gop[0]->keyframe)
		return NULL;
	hub_frame_ref(s->gop[0]);
	return s->gop[0];
}

/* The RTP marker bit of the last packet of |f|. */
static bool
ends_with_marker(const struct hub_frame *f)
{
	uint32_t off = 0, last = 0;

	while (off + 4 <= f->len) {
		last = off;
		off += hub_packet_len(f, off);
	}
	return f->len >= last + 6 && (f->data[last + 5] & 0x80) != 0;
}

int
hub_source_keyframe_unit(struct hub_source *s, int track, struct hub_frame **out, int max,
    bool *complete)
{
	int n = 0;

	*complete = false;
	if (!s->gop_valid || s->gop_n == 0 || s->gop[0]->track != track || !s->gop[0]->keyframe)
		return 0;
	for (int i = 0; i < s->gop_n && n < max; i++) {
		struct hub_frame *f = s->gop[i];

		if (f->track != track)
			continue;
		if (f->rtp_ts != s->gop[0]->rtp_ts) {
			*complete = true;	/* the next unit began */
			break;
		}
		hub_frame_ref(f);
		out[n++] = f;
	}
	if (n > 0 && !*complete)
		*complete = ends_with_marker(out[n - 1]);
	return n;
}

void
hub_source_request_keyframe(struct hub_source *s)
{
	if (s->astate && s->ops->request_keyframe)
		s->ops->request_keyframe(s->astate);
}

/* --- readers ------------------------------------------------------------------------------ */

struct hub_reader *
hub_reader_new(struct hub_source *s, unsigned track_mask, size_t budget,
    const struct hub_reader_ops *ops, void *owner)
{
	struct hub_reader *r = gw_xcalloc(1, sizeof(*r));

	r->magic = READER_MAGIC;
	r->src = s;
	r->ops = ops;
	r->owner = owner;
	r->track_mask = track_mask;
	r->budget = budget ? budget : (size_t)gw.cfg->reader_queue_max;
	TAILQ_INSERT_TAIL(&s->readers, r, link);
	s->nreaders++;
	s->idle_since_us = 0;
	return r;
}

void *
hub_reader_owner(const struct hub_reader *r)
{
	return r->owner;
}

struct hub_source *
hub_reader_source(const struct hub_reader *r)
{
	return r->src;
}

static void
fill_play_info(struct hub_reader *r, struct hub_play_info *info)
{
	memset(info, 0, sizeof(*info));
	for (uint32_t i = 0; i < r->count; i++) {
		const struct hub_frame *f = ring_at(r, i);

		if (f->control || info->valid[f->track])
			continue;
		info->valid[f->track] = true;
		info->seq[f->track] = f->first_seq;
		info->rtp_ts[f->track] = f->rtp_ts;
		if (info->start_wall_us == 0)
			info->start_wall_us = f->wall_us;
	}
	if (info->start_wall_us == 0)
		info->start_wall_us = gw_wall_us();
}

/* A reader of the video starts at the next keyframe (asked of the source). */
static void
wait_for_keyframe(struct hub_reader *r)
{
	r->waiting_keyframe = wants_video(r->src, r->track_mask);
	if (r->waiting_keyframe)
		hub_source_request_keyframe(r->src);
}

/*
 * Start from the cached GOP when there is one, so the first frame is a
 * keyframe at once; otherwise wait for the next keyframe (and ask for one).
 */
void
hub_reader_play(struct hub_reader *r, struct hub_play_info *info)
{
	struct hub_source *s = r->src;
	bool started = false;

	GW_CHECK(r, READER_MAGIC);
	r->playing = true;
	r->waiting_keyframe = false;
	if (s->gop_valid && s->gop_n > 0) {
		for (int i = 0; i < s->gop_n; i++)
			if (r->track_mask & (1u << s->gop[i]->track)) {
				ring_push(r, s->gop[i]);
				started = true;
			}
	}
	if (!started)
		wait_for_keyframe(r);
	if (info)
		fill_play_info(r, info);
	if (r->count > 0)
		schedule_wake(r);
}

void
hub_reader_play_live(struct hub_reader *r)
{
	GW_CHECK(r, READER_MAGIC);
	r->playing = true;
	wait_for_keyframe(r);
}

void
hub_reader_pause(struct hub_reader *r)
{
	r->playing = false;
	ring_drop_unsent(r);
}

void
hub_reader_free(struct hub_reader *r)
{
	if (r == NULL)
		return;
	GW_CHECK(r, READER_MAGIC);
	if (r->scheduled)
		TAILQ_REMOVE(&wake_list, r, wake_link);
	while (r->count > 0)
		ring_pop(r);
	free(r->ring);
	if (r->src) {
		TAILQ_REMOVE(&r->src->readers, r, link);
		if (--r->src->nreaders == 0 && TAILQ_EMPTY(&r->src->waits))
			r->src->idle_since_us = gw_mono_us();
	}
	r->magic = 0;
	free(r);
}

bool
hub_reader_pending(const struct hub_reader *r)
{
	return r->count > 0;
}

bool
hub_reader_at_boundary(const struct hub_reader *r)
{
	const struct hub_frame *f;
	uint32_t off = 0;

	if (r->pos == 0)
		return true;
	f = ring_at(r, 0);
	while (off < r->pos)
		off += hub_packet_len(f, off);
	return off == r->pos;
}

/* Channel of a packet in this frame as stored, and as the reader wants it. */
static uint8_t
wanted_channel(const struct hub_frame *f, const uint8_t channels[HUB_MAX_TRACKS])
{
	return (uint8_t)(channels[f->track] + (f->control ? 1 : 0));
}

/*
 * Describe queued bytes from the current position. A frame whose stored
 * channels are what the reader wants is one iovec; otherwise each packet
 * gets its own 4-byte header from the scratch area.
 */
int
hub_reader_iov(struct hub_reader *r, struct iovec *iov, int max, size_t max_bytes,
    const uint8_t channels[HUB_MAX_TRACKS], int *tracks_out)
{
	size_t bytes = 0;
	uint32_t pos = r->pos;
	int n = 0, nscratch = 0;

	(void)tracks_out;
	for (uint32_t i = 0; i < r->count && n < max && bytes < max_bytes; i++, pos = 0) {
		struct hub_frame *f = ring_at(r, i);
		uint8_t want = wanted_channel(f, channels);

		if (f->data[1] == want) {
			iov[n].iov_base = f->data + pos;
			iov[n].iov_len = f->len - pos;
			bytes += iov[n++].iov_len;
			continue;
		}
		for (uint32_t off = 0; off < f->len && n + 2 <= max && nscratch < 256;) {
			uint32_t plen = hub_packet_len(f, off);

			if (off + plen <= pos) {
				off += plen;
				continue;
			}
			if (pos < off + 4) {
				memcpy(r->scratch[nscratch], f->data + off, 4);
				r->scratch[nscratch][1] = want;
				iov[n].iov_base = r->scratch[nscratch] + (pos > off ? pos - off : 0);
				iov[n].iov_len = 4 - (pos > off ? pos - off : 0);
				bytes += iov[n++].iov_len;
				nscratch++;
			}
			iov[n].iov_base = f->data + GW_MAX(off + 4, pos);
			iov[n].iov_len = off + plen - GW_MAX(off + 4, pos);
			bytes += iov[n++].iov_len;
			off += plen;
		}
		if (n + 2 > max || nscratch >= 256)
			break;
	}
	return n;
}

static void
count_frame_sent(struct hub_reader *r, const struct hub_frame *f)
{
	if (f->control)
		return;
	r->stats.frames_sent++;
	r->track_packets[f->track] += f->npkts;
	r->track_octets[f->track] += f->len - 16u * f->npkts;
}

void
hub_reader_consumed(struct hub_reader *r, size_t n)
{
	r->stats.bytes_sent += n;
	total_bytes_out += n;
	while (n > 0 && r->count > 0) {
		struct hub_frame *f = ring_at(r, 0);
		size_t left = f->len - r->pos;

		if (n < left) {
			r->pos += (uint32_t)n;
			return;
		}
		n -= left;
		r->pos = 0;
		count_frame_sent(r, f);
		ring_pop(r);
	}
}

void
hub_reader_discard(struct hub_reader *r)
{
	ring_drop_unsent(r);
	if (r->count > 0) {
		r->pos = 0;
		ring_pop(r);
	}
}

void
hub_reader_queue_control(struct hub_reader *r, int track, const void *pkt, size_t len)
{
	struct hub_frame *f;

	if (len > 65535 || track < 0 || track >= HUB_MAX_TRACKS)
		return;
	f = gw_xmalloc(sizeof(*f) + 4 + len);
	memset(f, 0, sizeof(*f));
	f->refcnt = 1;
	f->track = (uint8_t)track;
	f->control = true;
	f->npkts = 1;
	f->len = (uint32_t)(4 + len);
	f->data[0] = '$';
	f->data[1] = (uint8_t)(2 * track + 1);
	proto_wr16(f->data + 2, (uint32_t)len);
	memcpy(f->data + 4, pkt, len);
	ring_push(r, f);
	hub_frame_unref(f);
	schedule_wake(r);
}

void
hub_reader_stats(const struct hub_reader *r, struct hub_reader_stats *out)
{
	*out = r->stats;
}

void
hub_reader_track_counts(const struct hub_reader *r, int track, uint32_t *packets, uint32_t *octets)
{
	*packets = r->track_packets[track];
	*octets = r->track_octets[track];
}

/* --- the janitor and the model ------------------------------------------------------------ */

static void
expire_waits(struct hub_source *s, int64_t now)
{
	struct hub_wait *w, *next;

	for (w = TAILQ_FIRST(&s->waits); w != NULL; w = next) {
		next = TAILQ_NEXT(w, link);
		if (now < w->deadline_us)
			continue;
		TAILQ_REMOVE(&s->waits, w, link);
		w->cb(w->arg, NULL, s->last_error[0] ? s->last_error : "the source did not answer in time");
		free(w);
	}
}

static void
hub_janitor(int64_t now)
{
	struct hub_source *s, *next;

	for (s = TAILQ_FIRST(&sources); s != NULL; s = next) {
		next = TAILQ_NEXT(s, link);
		expire_waits(s, now);
		if (s->nreaders == 0 && TAILQ_EMPTY(&s->waits) && !s->always_on) {
			if (s->idle_since_us == 0)
				s->idle_since_us = now;
			if (now - s->idle_since_us >= gw.cfg->source_idle_timeout_ms * 1000) {
				source_free(s);
				continue;
			}
		}
		if (s->state == SRC_RETRY && now >= s->retry_at_us)
			source_start(s);
	}
}

/* Cameras changed: stop the removed or disabled, restart the changed, start the always-on. */
static void
hub_model_changed(void)
{
	struct hub_source *s, *next;
	const struct gw_model *m = gw.model;
	char fp[65];

	for (s = TAILQ_FIRST(&sources); s != NULL; s = next) {
		const struct model_camera *cam = model_camera(m, s->camera_id);

		next = TAILQ_NEXT(s, link);
		if (cam == NULL || !cam->pc.enabled) {
			source_free(s);
			continue;
		}
		s->always_on = cam->always_on;
		fingerprint(cam, fp);
		if (strcmp(fp, s->fingerprint) != 0) {
			olog_info(s, "source settings changed; reconnecting");
			for (int i = 0; i < s->ntracks; i++)
				s->tracks[i].force_discont = true;
			source_start(s);
		}
	}
	for (int i = 0; i < m->ncameras; i++) {
		const struct model_camera *cam = &m->cameras[i];

		if (cam->always_on && cam->pc.enabled && source_find(cam->pc.id) == NULL)
			source_new(cam->pc.id);
	}
}

int
hub_init(void)
{
	loop_janitor_add(hub_janitor);
	model_on_change(hub_model_changed);
	return 0;
}

void
hub_shutdown(void)
{
	struct hub_source *s;

	while ((s = TAILQ_FIRST(&sources)) != NULL)
		source_free(s);
	loop_defer_cancel(&wake_deferred);
}

/* --- media.h -------------------------------------------------------------------------------- */

void
media_camera_status(int64_t camera_id, struct media_status *out)
{
	const struct hub_source *s = source_find(camera_id);

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return;
	out->active = true;
	out->online = s->state == SRC_ONLINE;
	out->readers = s->nreaders;
	out->bitrate_bps = s->state == SRC_ONLINE ? s->bitrate_bps : 0;
	out->last_frame_wall_us = s->last_frame_wall_us;
	out->ntracks = s->ntracks;
	for (int i = 0; i < s->ntracks && i < 4; i++) {
		const struct adapter_track *t = &s->tracks[i].desc;

		snprintf(out->tracks[i].codec, sizeof(out->tracks[i].codec), "%s",
		    t->media == ADAPTER_METADATA ? "metadata" : t->encoding);
		out->tracks[i].width = t->width;
		out->tracks[i].height = t->height;
		out->tracks[i].clock_rate = t->clock_rate;
	}
	snprintf(out->last_error, sizeof(out->last_error), "%s", s->last_error);
}

void
media_totals(struct media_totals *out)
{
	const struct hub_source *s;

	memset(out, 0, sizeof(*out));
	TAILQ_FOREACH(s, &sources, link) {
		out->sources_active++;
		out->sources_online += s->state == SRC_ONLINE;
		out->readers += s->nreaders;
	}
	out->bytes_out = total_bytes_out;
	out->frames_in = total_frames_in;
	out->frames_dropped = total_frames_dropped;
}
