/*
 * hub.h - the live side of one running source: access units in, RTP
 * frames built once, the cached GOP, fan-out to the readers' queues.
 *
 * The source that owns the hub (source.c) describes the tracks and hands
 * in every access unit; the hub gives each track its own SSRC, sequence
 * numbers and a timestamp line that goes on across source restarts, builds
 * each frame once (frameq.h) and offers it to every reader that plays.
 * The frames since the last video keyframe are cached, so a new reader
 * starts on a keyframe at once.
 *
 * A reader is a frame queue attached to the hub (struct hub_reader). It
 * receives nothing until it plays; it is woken through its queue's ops.
 * When the hub goes away (the camera was removed or disabled), each
 * reader's gone() runs and the reader must be freed by its owner.
 *
 * Threads: I/O thread only. Frames handed out may be held by any thread.
 * Return convention: gateway/ (see gw.h).
 */
#ifndef GW_MEDIA_HUB_H
#define GW_MEDIA_HUB_H

#include "gateway/gw.h"
#include "gateway/media/frameq.h"
#include "adapters/adapter.h"

#define HUB_MAX_RTP_PAYLOAD 1400	/* what packetizers aim for; sources may send more */

struct hub;
struct hub_reader;

/* What the owner of a hub does for it. */
struct hub_host_ops {
	/* A reader waits for a keyframe: ask the source for one soon. */
	void (*request_keyframe)(void *host);
};

/* Where a reader starts, per track: for RTP-Info. */
struct media_play_info {
	bool valid[MEDIA_MAX_TRACKS];
	uint16_t seq[MEDIA_MAX_TRACKS];
	uint32_t rtp_ts[MEDIA_MAX_TRACKS];
	int64_t start_wall_us;		/* capture time of the first frame sent */
};

struct hub_reader_ops {
	/* The hub went away for good: free the reader. */
	void (*gone)(struct hub_reader *r, const char *why);
};

/* |ident| (copied) names the camera in log lines: "cam=3". */
struct hub *hub_new(int64_t camera_id, const char *ident, const struct hub_host_ops *ops, void *host);
/* Every reader gets gone(|why|) first. */
void hub_free(struct hub *h, const char *why);

/*
 * The tracks, from the adapter. The first description fixes the tracks,
 * their payload types and SSRCs; a later one (after a reconnect) only
 * updates parameters such as sprop-parameter-sets.
 */
void hub_describe(struct hub *h, const struct adapter_track *tracks, int n);
bool hub_described(const struct hub *h);
/* An access unit from the adapter. Returns its size in bytes, 0 when it was dropped. */
size_t hub_ingest(struct hub *h, const struct adapter_frame *in);
/* The source failed: the next frames rebase their timestamps, the GOP cache is stale. */
void hub_source_lost(struct hub *h);

int64_t hub_camera(const struct hub *h);
int hub_ntracks(const struct hub *h);
const struct adapter_track *hub_track(const struct hub *h, int i);
/* What a video track's parameter sets say (zeros where they say nothing, and for other tracks). */
struct hub_video {
	uint8_t profile_idc;		/* H.264/H.265 */
	double fps;			/* 0: not signalled */
	int width, height;		/* 0: no SPS */
};
const struct hub_video *hub_track_video(const struct hub *h, int i);
uint32_t hub_ssrc(const struct hub *h, int track);
/* The first video track, or -1. */
int hub_video_track(const struct hub *h);
int hub_nreaders(const struct hub *h);
/* Ask the source for a keyframe (a new reader, SetSynchronizationPoint). */
void hub_request_keyframe(struct hub *h);
/*
 * RTCP SR mapping: the timestamp at wall time |wall_us| for |track|.
 * false while the track has no frame yet: an SR then would name a
 * timestamp the stream never uses, and players would sync to it.
 */
bool hub_rtp_at(const struct hub *h, int track, int64_t wall_us, uint32_t *ts);
/*
 * The newest cached keyframe as a whole access unit: the pieces an adapter
 * handed over one by one (same timestamp), from the first frame of the GOP
 * cache on. Up to |max| references go to |out| (drop each with
 * media_frame_unref()); returns how many, 0 when no keyframe is cached.
 * *complete says whether the unit is whole: a later unit of the track is
 * cached, or its last packet carries the marker bit.
 */
int hub_keyframe_unit(struct hub *h, int track, struct media_frame **out, int max, bool *complete);

/*
 * A reader feeding |q| (owned by the caller, which sets its tracks with
 * frameq_set_tracks() before playing). It receives nothing until played.
 */
struct hub_reader *hub_reader_new(struct hub *h, struct frameq *q, const struct hub_reader_ops *ops,
    void *owner);
/* Start: queue the cached GOP (from the last keyframe), then live frames. |info| may be NULL. */
void hub_reader_play(struct hub_reader *r, struct media_play_info *info);
/*
 * Start at the next keyframe, without the cached GOP: for a multicast
 * group, whose receivers would lose a burst of the past rather than use it.
 */
void hub_reader_play_live(struct hub_reader *r);
/* Stop taking frames and drop what was not started. */
void hub_reader_pause(struct hub_reader *r);
void hub_reader_free(struct hub_reader *r);
void *hub_reader_owner(const struct hub_reader *r);
struct hub *hub_reader_hub(const struct hub_reader *r);

/* Frames in since start, for /metrics. */
uint64_t hub_total_frames_in(void);

#endif
