/*
 * media.h - what the rest of the daemon may ask the media side (hub,
 * adapters) about a camera, without knowing how media flows.
 */
#ifndef GW_MEDIA_H
#define GW_MEDIA_H

#include "gw.h"

struct media_track_status {
	char codec[16];			/* "H264", "H265", "JPEG", "AAC", "PCMU", "PCMA", "metadata" */
	int width, height;		/* video; 0 when unknown */
	int clock_rate;
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

/*
 * RTP multicast of a camera to the group and port configured on it
 * (rtsp_out.c), shared by every holder: RTSP sessions that chose multicast
 * and ONVIF StartMulticastStreaming. Track t goes to port + 2 * slot(t)
 * (RTCP to the next port), where the first video, audio and metadata
 * tracks have slots 0, 1 and 2, as the ONVIF configurations say, and any
 * further track 3 + t.
 *
 * Joining needs a principal that may receive every track of the camera
 * (the group is visible to the whole network). Returns a reference to drop
 * with media_mcast_leave(), or NULL with |why|.
 */
struct rtsp_mcast;
struct hub_source;
struct gw_principal;
struct rtsp_mcast *media_mcast_join(const struct gw_principal *p, int64_t camera_id,
    struct hub_source *src, const char **why);
void media_mcast_leave(struct rtsp_mcast *m);
/* The group's running total of bytes sent, for session_share_counter(); valid until the last leave. */
const uint64_t *media_mcast_counter(const struct rtsp_mcast *m);
bool media_mcast_allowed(const struct gw_principal *p, int64_t camera_id, struct hub_source *src);
int media_mcast_slot(struct hub_source *src, int track);

#endif
