/*
 * snapshot.h - the JPEG of a keyframe (snapshot_codec.c): what the ONVIF
 * snapshot endpoint (onvif/snapshot.c) hands to a worker thread. Nothing
 * here touches the loop's state.
 */
#ifndef GW_MEDIA_SNAPSHOT_H
#define GW_MEDIA_SNAPSHOT_H

#include "gateway/gw.h"

struct snap_input {
	char encoding[32];		/* the track's RTP encoding: H264, H265, JPEG */
	char fmtp[1024];		/* its fmtp: parameter sets sent out of band */
	uint8_t *pkts;			/* the keyframe: '$' ch len16 + RTP, back to back (owned) */
	size_t len;
	int quality;			/* MJPEG quantiser, 2..31 */
};

struct snap_output {
	uint8_t *jpeg;			/* malloc'ed; the caller frees it */
	size_t len;
	int width, height;		/* 0 when the source was JPEG already */
	char why[128];			/* when it failed */
};

/* 0 with |out| filled, or -1 with out->why. Thread-safe: only its arguments. */
int snap_encode(const struct snap_input *in, struct snap_output *out);

#endif
