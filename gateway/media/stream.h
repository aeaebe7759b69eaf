/*
 * stream.h - what a player's session plays, whatever feeds it: the tracks
 * it carries and the one frame queue the transport's writer reads.
 *
 * A live stream (live.c) is fed by a camera's hub; a replay stream
 * (replay.h) from the recorder's store through the same interface, so
 * that the RTSP writers (TCP, UDP, the HTTP tunnel, WebSocket) send
 * recorded frames exactly as they send live ones. Sessions never see a
 * hub, a source or a file.
 *
 * Ownership: the session that opened a stream owns it and frees it with
 * media_stream_free(). The owner is called back (on the I/O thread) when
 * frames were queued, and once if the feed ends for good (the camera was
 * removed); the owner must then free the stream (it may from gone()).
 * Return convention: gateway/ (see gw.h).
 */
#ifndef GW_MEDIA_STREAM_H
#define GW_MEDIA_STREAM_H

#include "gateway/gw.h"
#include "gateway/media/frameq.h"
#include "gateway/media/hub.h"
#include "gateway/policy.h"

struct media_stream;

struct media_stream_owner_ops {
	void (*wake)(struct media_stream *st);
	void (*gone)(struct media_stream *st, const char *why);
	/* Optional: a replay reached the end of what it plays; its last frames are queued (RTCP BYE). */
	void (*ended)(struct media_stream *st);
};

struct media_stream_ops {
	const char *kind;		/* "live", "replay" */
	int (*ntracks)(const struct media_stream *st);
	const struct adapter_track *(*track)(const struct media_stream *st, int i);
	uint32_t (*ssrc)(const struct media_stream *st, int track);
	/* Start or resume; |info| gets where each track starts. 0 or -1. */
	int (*play)(struct media_stream *st, struct media_play_info *info);
	void (*pause)(struct media_stream *st);
	/* RTCP SR mapping of wall time to the track's timestamps; false when unknown. */
	bool (*rtp_at)(const struct media_stream *st, int track, int64_t wall_us, uint32_t *ts);
	void (*free)(struct media_stream *st);
};

struct media_stream {
	const struct media_stream_ops *ops;
	const struct media_stream_owner_ops *owner_ops;
	void *owner;
	int64_t camera_id;
	bool gone;			/* the feed ended; only free() is left */
	bool sr_zero;			/* RTCP SRs carry zero NTP and RTP times (replay without rate control) */
	struct frameq q;		/* what the writers read; owned here */
};

static inline int
media_stream_ntracks(const struct media_stream *st)
{
	return st->gone ? 0 : st->ops->ntracks(st);
}

static inline const struct adapter_track *
media_stream_track(const struct media_stream *st, int i)
{
	return st->ops->track(st, i);
}

static inline uint32_t
media_stream_ssrc(const struct media_stream *st, int track)
{
	return st->ops->ssrc(st, track);
}

/* Take the tracks in |mask| (before play; a later SETUP may add tracks). */
void media_stream_set_tracks(struct media_stream *st, unsigned mask);
int media_stream_play(struct media_stream *st, struct media_play_info *info) GW_MUSTCHECK;
void media_stream_pause(struct media_stream *st);
bool media_stream_rtp_at(const struct media_stream *st, int track, int64_t wall_us, uint32_t *ts);
/* NULL is a no-op. */
void media_stream_free(struct media_stream *st);

/* What receiving a track is, for the policy: live video, live audio or metadata. */
enum gw_action media_track_action(const struct adapter_track *t);

/*
 * Live: the stream of |hub|'s frames from the cached GOP on. The reader
 * counts as a user of the source from now on, so it stays up until free.
 */
struct media_stream *live_stream_open(struct hub *hub, const struct media_stream_owner_ops *ops,
    void *owner);
/* The hub behind a live stream (for multicast), NULL for any other kind. */
struct hub *live_stream_hub(const struct media_stream *st);

#endif
