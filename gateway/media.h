/*
 * media.h - what the rest of the daemon (the API, ONVIF, /metrics) may ask
 * the media rooms about a camera, without knowing how media flows. The
 * rooms themselves are in gateway/media/: source.c (adapters, backoff),
 * hub.c (frames, GOP cache, fan-out), frameq.c (every reader's queue),
 * stream.h (what sessions play), mcast.c, udp.c, and media.c, the one file
 * behind this header.
 */
#ifndef GW_MEDIA_H
#define GW_MEDIA_H

#include "gateway/gw.h"

struct media_track_status {
	char codec[16];			/* "H264", "H265", "JPEG", "AAC", "PCMU", "PCMA", "metadata" */
	int width, height;		/* video; 0 when unknown */
	int clock_rate;
	uint8_t profile_idc;		/* H.264/H.265, from the SPS or profile-level-id; 0: unknown */
	double fps;			/* signalled in the SPS; 0: not said */
};

struct media_status {
	bool active;			/* a source is running for this camera */
	bool online;			/* it delivers media now */
	int readers;			/* live readers on this node */
	double bitrate_bps;		/* over the last few seconds, all tracks */
	int64_t last_frame_wall_us;	/* 0: never */
	int ntracks;
	struct media_track_status tracks[4];
	char last_error[128];		/* why the source is offline, if known */
};

/* Fill |out| for |camera_id|; a camera with no source running is inactive and offline. */
void media_camera_status(int64_t camera_id, struct media_status *out);

/* Totals for /metrics. */
struct media_totals {
	int sources_active;
	int sources_online;
	int readers;
	uint64_t bytes_out;
	uint64_t frames_in;
	uint64_t frames_dropped;	/* skipped for slow readers */
};
void media_totals(struct media_totals *out);

/* Sources, hubs and multicast: start before the protocols, stop after them. */
int media_init(void) GW_MUSTCHECK;
void media_shutdown(void);

#endif
