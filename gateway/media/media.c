/*
 * media.c - the media rooms as the rest of the daemon sees them (media.h):
 * start-up and shutdown in order, camera status and totals.
 */
#include "gateway/gw.h"
#include "gateway/media.h"
#include "gateway/media/frameq.h"
#include "gateway/media/hub.h"
#include "gateway/media/mcast.h"
#include "gateway/media/recorder.h"
#include "gateway/media/replay.h"
#include "gateway/media/source.h"

#include <stdio.h>
#include <string.h>

static void
describe_tracks(const struct hub *h, struct media_status *out)
{
	out->ntracks = hub_ntracks(h);
	for (int i = 0; i < out->ntracks && i < (int)ARRAY_SIZE(out->tracks); i++) {
		const struct adapter_track *t = hub_track(h, i);

		snprintf(out->tracks[i].codec, sizeof(out->tracks[i].codec), "%.15s",
		    t->media == ADAPTER_METADATA ? "metadata" : t->encoding);
		out->tracks[i].width = t->width;
		out->tracks[i].height = t->height;
		out->tracks[i].clock_rate = t->clock_rate;
		if (t->media == ADAPTER_VIDEO) {
			const struct hub_video *v = hub_track_video(h, i);

			out->tracks[i].profile_idc = v->profile_idc;
			out->tracks[i].fps = v->fps;
			if (out->tracks[i].width == 0) {	/* the SDP did not say it */
				out->tracks[i].width = v->width;
				out->tracks[i].height = v->height;
			}
		}
	}
}

void
media_camera_status(int64_t camera_id, struct media_status *out)
{
	struct source_info info;

	memset(out, 0, sizeof(*out));
	if (!source_info(camera_id, &info))
		return;
	out->active = true;
	out->online = info.online;
	out->readers = hub_nreaders(info.hub);
	out->bitrate_bps = info.bitrate_bps;
	out->last_frame_wall_us = info.last_frame_wall_us;
	describe_tracks(info.hub, out);
	snprintf(out->last_error, sizeof(out->last_error), "%s", info.last_error);
}

static void
add_source(const struct source_info *info, void *arg)
{
	struct media_totals *out = arg;

	out->sources_active++;
	out->sources_online += info->online;
	out->readers += hub_nreaders(info->hub);
}

void
media_totals(struct media_totals *out)
{
	memset(out, 0, sizeof(*out));
	source_foreach(add_source, out);
	frameq_totals(&out->bytes_out, &out->frames_dropped);
	out->frames_in = hub_total_frames_in();
}

int
media_init(void)
{
	if (source_init() < 0 || mcast_init() < 0 || recorder_init() < 0 || replay_init() < 0)
		return -1;
	return 0;
}

void
media_shutdown(void)
{
	replay_shutdown();
	recorder_shutdown();	/* first: its readers go before the hubs */
	source_shutdown();
	mcast_shutdown();
}
