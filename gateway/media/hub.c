/*
 * hub.c - RTP frames, timestamps, the GOP cache and readers (see hub.h).
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/log.h"
#include "gateway/media/hub.h"
#include "proto/h26x.h"
#include "proto/proto.h"
#include "proto/sdp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HUB_MAGIC 0x68756221U		/* "hub!" */
#define READER_MAGIC 0x68627264U	/* "hbrd" */
#define WALL_SLACK_US 500000	/* a source without capture times: how far its RTP clock may stray */

struct track_state {
	struct adapter_track desc;
	uint32_t ssrc;
	uint16_t next_seq;
	bool have_ts;
	bool force_discont;		/* the source restarted: rebase the next frame */
	uint32_t ts_offset;		/* hub timestamp = source timestamp + offset */
	uint32_t last_src_ts;
	uint32_t last_hub_ts;
	uint32_t last_step;		/* source ticks between the last two frames (0: not yet) */
	int64_t last_mono_us;
	bool have_map;			/* hub timestamp <-> wall clock, for RTCP SR */
	int64_t map_wall_us;
	uint32_t map_ts;
	struct hub_video video;		/* read from the parameter sets when described */
};

TAILQ_HEAD(reader_list, hub_reader);

struct hub {
	uint32_t magic;
	int64_t camera_id;
	char ident[64];
	const struct hub_host_ops *host_ops;
	void *host;
	bool described;
	int ntracks;
	int video_track;		/* the first video track, or -1 */
	struct track_state tracks[MEDIA_MAX_TRACKS];
	struct media_frame **gop;	/* frames since the last video keyframe */
	int gop_n, gop_cap;
	size_t gop_bytes;
	bool gop_valid;
	struct reader_list readers;
	int nreaders;
};

struct hub_reader {
	uint32_t magic;
	struct hub *hub;		/* NULL once the hub went away */
	struct frameq *q;
	const struct hub_reader_ops *ops;
	void *owner;
	bool playing;
	TAILQ_ENTRY(hub_reader) link;
};

static uint64_t total_frames_in;

/* --- frames ------------------------------------------------------------------ */

/* The marker bit: end of an access unit for video, metadata and AAC; never for G.711. */
static bool
marks_last_packet(const struct adapter_track *t)
{
	return !(t->media == ADAPTER_AUDIO &&
	    (strcasecmp(t->encoding, "PCMU") == 0 || strcasecmp(t->encoding, "PCMA") == 0));
}

static void
write_packet(uint8_t *p, int track, const struct track_state *t, uint16_t seq, uint32_t ts,
    bool marker, const struct iovec *payload)
{
	p[0] = '$';
	p[1] = (uint8_t)(2 * track);
	proto_wr16(p + 2, (uint16_t)(12 + payload->iov_len));
	p[4] = 0x80;
	p[5] = (uint8_t)((marker ? 0x80 : 0) | (t->desc.payload_type & 0x7f));
	proto_wr16(p + 6, seq);
	proto_wr32(p + 8, ts);
	proto_wr32(p + 12, t->ssrc);
	memcpy(p + 16, payload->iov_base, payload->iov_len);
}

/* The frame in interleaved form, RTP headers included. NULL if a payload is too big. */
static struct media_frame *
frame_build(struct track_state *t, int track, const struct adapter_frame *in, uint32_t hub_ts)
{
	size_t size = 0;
	struct media_frame *f;
	uint8_t *p;

	for (int i = 0; i < in->npayloads; i++) {
		if (in->payloads[i].iov_len > 65535 - 12)
			return NULL;
		size += 4 + 12 + in->payloads[i].iov_len;
	}
	if (in->npayloads == 0 || in->npayloads > 65535 || size > UINT32_MAX)
		return NULL;
	f = media_frame_new(size);
	f->track = (uint8_t)track;
	f->keyframe = in->keyframe;
	f->npkts = (uint16_t)in->npayloads;
	f->first_seq = t->next_seq;
	f->rtp_ts = hub_ts;
	p = f->data;
	for (int i = 0; i < in->npayloads; i++) {
		bool marker = i == in->npayloads - 1 && !in->partial && marks_last_packet(&t->desc);

		write_packet(p, track, t, t->next_seq++, hub_ts, marker, &in->payloads[i]);
		p += 16 + in->payloads[i].iov_len;
	}
	return f;
}

/* --- timestamps ----------------------------------------------------------------- */

/*
 * Hub timestamps start at a random value and continue across source
 * restarts and jumps: after a discontinuity (or a jump of more than ten
 * seconds), the next frame lands where the clock says it should, and at
 * least one frame's step after the last (a file that loops may deliver its
 * first frame in the same instant as its last). *discont says whether the
 * line was rebased.
 */
static uint32_t
rebase_ts(struct track_state *t, const struct adapter_frame *in, bool *discont)
{
	int64_t now = gw_mono_us();
	int64_t max_jump = (int64_t)t->desc.clock_rate * 10;

	*discont = false;
	if (!t->have_ts) {
		t->ts_offset = gw_random32() - in->rtp_ts;
		t->have_ts = true;
	} else {
		int32_t d = (int32_t)(in->rtp_ts - t->last_src_ts);

		if (in->discontinuity || t->force_discont || d > max_jump || d < -max_jump) {
			uint32_t elapsed = (uint32_t)((now - t->last_mono_us) * t->desc.clock_rate / 1000000);
			/* A frame's step, not a gap (silence suppression leaves seconds between frames). */
			uint32_t step = t->last_step ? GW_MIN(t->last_step, (uint32_t)t->desc.clock_rate / 5) : 1;

			t->ts_offset = t->last_hub_ts + (elapsed > step ? elapsed : step) - in->rtp_ts;
			t->have_map = false;
			*discont = true;
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

/*
 * A frame's capture time. Without one from the source (no RTCP: the ffmpeg
 * adapter), arrival would follow decode order, which B frames make differ
 * from presentation order by frames: take the time the track's RTP clock
 * says from its map instead, as long as it stays within half a second of
 * arrival. A clock behind that is anchored again at the arrival (a step
 * forward); one ahead (a burst, a fast clock) is held half a second ahead
 * of arrival, so that times never step back.
 */
static int64_t
frame_wall(struct track_state *t, const struct adapter_frame *in, uint32_t hub_ts)
{
	int64_t now = gw_wall_us(), at, ticks;

	if (in->capture_wall_us != 0)
		return in->capture_wall_us;
	if (!t->have_map || t->desc.clock_rate == 0)
		return now;
	ticks = (int32_t)(hub_ts - t->map_ts);
	at = t->map_wall_us + ticks * 1000000 / (int64_t)t->desc.clock_rate;
	if (now - at > WALL_SLACK_US) {
		t->have_map = false;	/* update_map() anchors it here */
		return now;
	}
	if (at - now > WALL_SLACK_US || ticks > INT32_MAX / 2) {	/* held, or a nearer point */
		at = GW_MIN(at, now + WALL_SLACK_US);
		t->map_ts = hub_ts;
		t->map_wall_us = at;
	}
	return at;
}

bool
hub_rtp_at(const struct hub *h, int track, int64_t wall_us, uint32_t *ts)
{
	const struct track_state *t = &h->tracks[track];

	if (!t->have_map)
		return false;
	*ts = t->map_ts + (uint32_t)((wall_us - t->map_wall_us) * t->desc.clock_rate / 1000000);
	return true;
}

/* --- the GOP cache ------------------------------------------------------------------ */

static void
gop_clear(struct hub *h)
{
	for (int i = 0; i < h->gop_n; i++)
		media_frame_unref(h->gop[i]);
	h->gop_n = 0;
	h->gop_bytes = 0;
}

static void
gop_add(struct hub *h, struct media_frame *f)
{
	if (gw.cfg->gop_cache_max == 0 || h->video_track < 0)
		return;
	if (f->keyframe && f->track == h->video_track) {
		gop_clear(h);
		h->gop_valid = true;
	}
	if (!h->gop_valid)
		return;
	if (h->gop_bytes + f->len > (size_t)gw.cfg->gop_cache_max) {
		/* A GOP too long to keep whole is no use: wait for the next keyframe. */
		gop_clear(h);
		h->gop_valid = false;
		return;
	}
	if (h->gop_n == h->gop_cap) {
		h->gop_cap = h->gop_cap ? 2 * h->gop_cap : 128;
		h->gop = gw_xrealloc(h->gop, (size_t)h->gop_cap * sizeof(*h->gop));
	}
	media_frame_ref(f);
	h->gop[h->gop_n++] = f;
	h->gop_bytes += f->len;
}

/* --- frames in -------------------------------------------------------------------- */

size_t
hub_ingest(struct hub *h, const struct adapter_frame *in)
{
	struct track_state *t;
	struct media_frame *f;
	struct hub_reader *r;
	uint32_t ts;
	bool discont;
	size_t len;

	GW_CHECK(h, HUB_MAGIC);
	if (in->track < 0 || in->track >= h->ntracks)
		return 0;
	t = &h->tracks[in->track];
	ts = rebase_ts(t, in, &discont);
	f = frame_build(t, in->track, in, ts);
	if (f == NULL) {
		olog_warn(h, "dropping a frame of track %d: a payload exceeds 65 KB", in->track);
		return 0;
	}
	f->wall_us = frame_wall(t, in, ts);
	f->discont = discont;
	update_map(t, in, ts, f->wall_us);
	total_frames_in++;
	gop_add(h, f);
	TAILQ_FOREACH(r, &h->readers, link)
		if (r->playing)
			frameq_offer(r->q, f);
	len = f->len;
	media_frame_unref(f);
	return len;
}

void
hub_source_lost(struct hub *h)
{
	for (int i = 0; i < h->ntracks; i++)
		h->tracks[i].force_discont = true;
	gop_clear(h);
	h->gop_valid = false;
}

/* --- description --------------------------------------------------------------------- */

/*
 * Profile, frame rate and picture size of a video track from its SPS (the
 * sprop in its fmtp) or profile-level-id: once per description, so that
 * status readers (the API, ONVIF) never parse it.
 */
static void
derive_video(struct track_state *ts)
{
	const struct adapter_track *t = &ts->desc;
	struct proto_str params = { t->fmtp, strlen(t->fmtp) };
	struct h26x_sps sps;

	memset(&ts->video, 0, sizeof(ts->video));
	if (t->media != ADAPTER_VIDEO || t->fmtp[0] == '\0')
		return;
	if (strcmp(t->encoding, "H264") == 0) {
		struct sdp_h264 h;

		if (sdp_h264_fmtp_parse(params, &h) < 0)
			return;
		if (h.sps_len > 0 && h264_sps_parse(h.sps, h.sps_len, &sps) == 0)
			ts->video = (struct hub_video){ sps.profile_idc, sps.fps, (int)sps.width, (int)sps.height };
		else if (h.has_profile_level_id)
			ts->video.profile_idc = h.profile_idc;
	} else if (strcmp(t->encoding, "H265") == 0) {
		struct sdp_h265 h;

		if (sdp_h265_fmtp_parse(params, &h) == 0 && h.sps_len > 0 &&
		    h265_sps_parse(h.sps, h.sps_len, &sps) == 0)
			ts->video = (struct hub_video){ sps.profile_idc, sps.fps, (int)sps.width, (int)sps.height };
	}
}

static void
first_description(struct hub *h, const struct adapter_track *tracks, int n)
{
	h->ntracks = n;
	h->video_track = -1;
	for (int i = 0; i < n; i++) {
		h->tracks[i].desc = tracks[i];
		h->tracks[i].ssrc = gw_random32();
		h->tracks[i].next_seq = (uint16_t)gw_random32();
		derive_video(&h->tracks[i]);
		if (tracks[i].media == ADAPTER_VIDEO && h->video_track < 0)
			h->video_track = i;
	}
	h->described = true;
}

void
hub_describe(struct hub *h, const struct adapter_track *tracks, int n)
{
	GW_CHECK(h, HUB_MAGIC);
	n = GW_MIN(n, MEDIA_MAX_TRACKS);
	if (!h->described) {
		first_description(h, tracks, n);
		return;
	}
	if (n != h->ntracks)
		olog_warn(h, "source now has %d tracks instead of %d; readers keep the first description",
		    n, h->ntracks);
	/* Parameters (e.g. sprop-parameter-sets) may change; keep PT and SSRC. */
	for (int i = 0; i < GW_MIN(n, h->ntracks); i++) {
		snprintf(h->tracks[i].desc.fmtp, sizeof(h->tracks[i].desc.fmtp), "%s", tracks[i].fmtp);
		h->tracks[i].desc.width = tracks[i].width;
		h->tracks[i].desc.height = tracks[i].height;
		derive_video(&h->tracks[i]);
	}
}

bool
hub_described(const struct hub *h)
{
	return h->described;
}

/* --- lifetime ------------------------------------------------------------------------ */

struct hub *
hub_new(int64_t camera_id, const char *ident, const struct hub_host_ops *ops, void *host)
{
	struct hub *h = gw_xcalloc(1, sizeof(*h));

	h->magic = HUB_MAGIC;
	h->camera_id = camera_id;
	snprintf(h->ident, sizeof(h->ident), "%s", ident);
	h->host_ops = ops;
	h->host = host;
	h->video_track = -1;
	TAILQ_INIT(&h->readers);
	return h;
}

void
hub_free(struct hub *h, const char *why)
{
	struct hub_reader *r;

	if (h == NULL)
		return;
	GW_CHECK(h, HUB_MAGIC);
	while ((r = TAILQ_FIRST(&h->readers)) != NULL) {
		/* The owner frees the reader from gone(); detach it first so it cannot come back. */
		TAILQ_REMOVE(&h->readers, r, link);
		h->nreaders--;
		r->hub = NULL;
		r->playing = false;
		r->ops->gone(r, why);
	}
	gop_clear(h);
	free(h->gop);
	h->magic = 0;
	free(h);
}

/* --- questions ------------------------------------------------------------------------ */

int64_t
hub_camera(const struct hub *h)
{
	return h->camera_id;
}

int
hub_ntracks(const struct hub *h)
{
	return h->ntracks;
}

const struct adapter_track *
hub_track(const struct hub *h, int i)
{
	return &h->tracks[i].desc;
}

const struct hub_video *
hub_track_video(const struct hub *h, int i)
{
	return &h->tracks[i].video;
}

uint32_t
hub_ssrc(const struct hub *h, int track)
{
	return h->tracks[track].ssrc;
}

int
hub_video_track(const struct hub *h)
{
	return h->video_track;
}

int
hub_nreaders(const struct hub *h)
{
	return h->nreaders;
}

void
hub_request_keyframe(struct hub *h)
{
	if (h->host_ops && h->host_ops->request_keyframe)
		h->host_ops->request_keyframe(h->host);
}

static bool
gop_starts_with_keyframe(const struct hub *h, int track)
{
	return h->gop_valid && h->gop_n > 0 && h->gop[0]->track == track && h->gop[0]->keyframe;
}

int
hub_keyframe_unit(struct hub *h, int track, struct media_frame **out, int max, bool *complete)
{
	int n = 0;

	*complete = false;
	if (!gop_starts_with_keyframe(h, track))
		return 0;
	for (int i = 0; i < h->gop_n && n < max; i++) {
		struct media_frame *f = h->gop[i];

		if (f->track != track)
			continue;
		if (f->rtp_ts != h->gop[0]->rtp_ts) {
			*complete = true;	/* the next unit began */
			break;
		}
		media_frame_ref(f);
		out[n++] = f;
	}
	if (n > 0 && !*complete)
		*complete = media_frame_marked(out[n - 1]);
	return n;
}

uint64_t
hub_total_frames_in(void)
{
	return total_frames_in;
}

/* --- readers ------------------------------------------------------------------------------ */

struct hub_reader *
hub_reader_new(struct hub *h, struct frameq *q, const struct hub_reader_ops *ops, void *owner)
{
	struct hub_reader *r = gw_xcalloc(1, sizeof(*r));

	GW_CHECK(h, HUB_MAGIC);
	r->magic = READER_MAGIC;
	r->hub = h;
	r->q = q;
	r->ops = ops;
	r->owner = owner;
	TAILQ_INSERT_TAIL(&h->readers, r, link);
	h->nreaders++;
	return r;
}

void *
hub_reader_owner(const struct hub_reader *r)
{
	return r->owner;
}

struct hub *
hub_reader_hub(const struct hub_reader *r)
{
	return r->hub;
}

static void
fill_play_info(const struct frameq *q, struct media_play_info *info)
{
	const struct media_frame *f;

	memset(info, 0, sizeof(*info));
	for (uint32_t i = 0; (f = frameq_nth(q, i)) != NULL; i++) {
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
	frameq_wait_start(r->q);
	if (r->q->waiting_keyframe)
		hub_request_keyframe(r->hub);
}

/*
 * Start from the cached GOP when there is one, so the first frame is a
 * keyframe at once; otherwise wait for the next keyframe (and ask for one).
 */
void
hub_reader_play(struct hub_reader *r, struct media_play_info *info)
{
	struct hub *h = r->hub;
	bool started = false;

	GW_CHECK(r, READER_MAGIC);
	if (h == NULL)
		return;
	r->playing = true;
	r->q->waiting_keyframe = false;
	if (h->gop_valid)
		for (int i = 0; i < h->gop_n; i++)
			if (r->q->track_mask & (1u << h->gop[i]->track)) {
				frameq_push(r->q, h->gop[i], 0);
				started = true;
			}
	if (!started)
		wait_for_keyframe(r);
	if (info)
		fill_play_info(r->q, info);
}

void
hub_reader_play_live(struct hub_reader *r)
{
	GW_CHECK(r, READER_MAGIC);
	if (r->hub == NULL)
		return;
	r->playing = true;
	wait_for_keyframe(r);
}

void
hub_reader_pause(struct hub_reader *r)
{
	r->playing = false;
	frameq_drop_unsent(r->q);
}

void
hub_reader_free(struct hub_reader *r)
{
	if (r == NULL)
		return;
	GW_CHECK(r, READER_MAGIC);
	if (r->hub) {
		TAILQ_REMOVE(&r->hub->readers, r, link);
		r->hub->nreaders--;
	}
	r->magic = 0;
	free(r);
}
