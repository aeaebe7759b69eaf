/*
 * ff_codec.h - from libavformat packets to RTP-ready access units: pass
 * H.264/H.265/AAC/G.711 through (re-framed), transcode other video to
 * H.264 and other audio to AAC. Runs on the adapter's thread; no
 * libevent, no core: a track not relayed or dropped is logged with
 * adapter_log() (safe from any thread).
 */
#ifndef ADAPTERS_FF_CODEC_H
#define ADAPTERS_FF_CODEC_H

#include "adapters/adapter.h"

#include <libavformat/avformat.h>

#define FF_MAX_TRACKS 2			/* one video, one audio */

/* One access unit, packetized: payloads borrowed for the emit call. */
struct ff_unit {
	int track;
	uint32_t rtp_ts;
	bool keyframe;
	bool discontinuity;
	int npayloads;
	const struct iovec *payloads;
};

typedef bool (*ff_emit)(void *arg, const struct ff_unit *u);

struct ff_track;

struct ff_tracks {
	int n;
	struct adapter_track desc[FF_MAX_TRACKS];
	struct ff_track *t[FF_MAX_TRACKS];
	const char *ident;		/* the camera, for log lines (the caller's, outlives us) */
};

/* Pick the streams and set up each one's pipeline. -1 with |why| if nothing usable. */
int ff_tracks_setup(struct ff_tracks *ts, AVFormatContext *fmt, const char *ident, char *why,
    size_t whylen);
/* Feed one demuxed packet; complete access units go to |emit|. */
void ff_tracks_packet(struct ff_tracks *ts, const AVPacket *pkt, ff_emit emit, void *arg);
/* The next transcoded video frame is a keyframe. */
void ff_tracks_force_keyframe(struct ff_tracks *ts);
/* The input jumped (a file looped): mark the next unit of each track. */
void ff_tracks_discontinuity(struct ff_tracks *ts);
void ff_tracks_free(struct ff_tracks *ts);

#endif
