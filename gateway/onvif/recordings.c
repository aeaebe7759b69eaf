/*
 * recordings.c - a principal's recordings as Recording Search and Replay
 * describe them (see search.h): which cameras are recordings, their
 * footage cut to the grant's footage window, their tracks, and the
 * tt:RecordingInformation and tt:TrackAttributes written from them.
 *
 * Footage comes from the recorder's catalog of this node (recorder.h,
 * in memory, so nothing here blocks); the tracks from what the recorder
 * is recording now (recorder_tracks()), else from what the view knows of
 * the camera's stream. Both are what this node's replay serves.
 */
#include "gateway/gw.h"
#include "gateway/media/recorder.h"
#include "adapters/adapter.h"
#include "proto/h26x.h"
#include "proto/sdp.h"
#include "onvif.h"
#include "search.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REC_PREFIX "rec-"

bool
rec_window(const struct onvif_view *v, int64_t *lo_us, int64_t *hi_us)
{
	int64_t now = gw_wall_us();

	if (v->grant == NULL)
		return false;
	*lo_us = GW_MAX(v->grant->pg.footage_from_us, 0);
	*hi_us = GW_MIN(v->grant->pg.footage_until_us, now);
	return *lo_us <= *hi_us;
}

void
rec_token(int64_t camera_id, char *out, size_t outlen)
{
	snprintf(out, outlen, REC_PREFIX "%lld", (long long)camera_id);
}

/* rec-<id> with a canonical positive id: one spelling per recording. */
bool
rec_parse_token(const char *token, int64_t *camera_id)
{
	const char *p = token + strlen(REC_PREFIX);
	int64_t v = 0;
	int n = 0;

	if (strncmp(token, REC_PREFIX, strlen(REC_PREFIX)) != 0 || *p < '1' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++, n++) {
		if (n == 18)
			return false;
		v = v * 10 + (*p - '0');
	}
	*camera_id = v;
	return *p == '\0';
}

const char *
rec_main_track(const struct recording *rec)
{
	return rec->ntracks > 0 ? rec->tracks[0].token : "";
}

/* --- tracks ------------------------------------------------------------------------------------- */

/* The ONVIF name of a recorded encoding; NULL for what the recorder does not store. */
static const char *
onvif_encoding(const struct adapter_track *t)
{
	static const struct { const char *rtp, *onvif; } map[] = {
		{ "H264", "H264" }, { "H265", "H265" }, { "JPEG", "JPEG" },
		{ "MPEG4-GENERIC", "AAC" }, { "PCMU", "G711" }, { "PCMA", "G711" },
	};

	if (t->media == ADAPTER_METADATA)
		return "";
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (strcasecmp(t->encoding, map[i].rtp) == 0)
			return map[i].onvif;
	return NULL;
}

/* Picture size and frame rate from the SPS of the track's SDP, where the description has none. */
static void
size_from_sps(const struct adapter_track *t, struct rec_track *out)
{
	struct proto_str fmtp = { t->fmtp, strlen(t->fmtp) };
	struct h26x_sps sps;
	struct sdp_h264 h264;
	struct sdp_h265 h265;
	int rc = PROTO_EBADMSG;

	if (strcasecmp(t->encoding, "H264") == 0 && sdp_h264_fmtp_parse(fmtp, &h264) == 0 && h264.sps_len > 0)
		rc = h264_sps_parse(h264.sps, h264.sps_len, &sps);
	else if (strcasecmp(t->encoding, "H265") == 0 && sdp_h265_fmtp_parse(fmtp, &h265) == 0 &&
	    h265.sps_len > 0)
		rc = h265_sps_parse(h265.sps, h265.sps_len, &sps);
	if (rc != 0)
		return;
	if (out->width == 0) {
		out->width = (int)sps.width;
		out->height = (int)sps.height;
	}
	out->fps = sps.fps;
}

static bool
type_visible(enum rec_track_type type, unsigned caps)
{
	return (type == RT_VIDEO && (caps & CAP_VIDEO)) || (type == RT_AUDIO && (caps & CAP_AUDIO)) ||
	    (type == RT_METADATA && (caps & CAP_METADATA));
}

/* Append a track of |type|, numbered within its type (VIDEO001, VIDEO002, ...); NULL if full. */
static struct rec_track *
track_add(struct recording *rec, enum rec_track_type type, const char *encoding)
{
	static const char *const prefix[] = { "VIDEO", "AUDIO", "METADATA" };
	struct rec_track *t;
	int same = 1;

	if (rec->ntracks == REC_MAX_TRACKS)
		return NULL;
	for (int i = 0; i < rec->ntracks; i++)
		same += rec->tracks[i].type == type;
	t = &rec->tracks[rec->ntracks++];
	memset(t, 0, sizeof(*t));
	t->type = type;
	snprintf(t->token, sizeof(t->token), "%s%03d", prefix[type], same);
	snprintf(t->encoding, sizeof(t->encoding), "%s", encoding);
	return t;
}

static void
tracks_from_recorder(struct recording *rec, const struct adapter_track *at, int n)
{
	for (int i = 0; i < n; i++) {
		const char *enc = onvif_encoding(&at[i]);
		enum rec_track_type type = at[i].media == ADAPTER_VIDEO ? RT_VIDEO :
		    at[i].media == ADAPTER_AUDIO ? RT_AUDIO : RT_METADATA;
		struct rec_track *t;

		if (enc == NULL || !type_visible(type, rec->vc->caps) || (t = track_add(rec, type, enc)) == NULL)
			continue;
		t->width = at[i].width;
		t->height = at[i].height;
		if (type == RT_VIDEO)
			size_from_sps(&at[i], t);
		if (type == RT_AUDIO)
			t->sample_rate = at[i].clock_rate;
	}
}

/* What the view knows of the camera's stream (the live source, or remembered). */
static void
tracks_from_view(struct recording *rec)
{
	const struct cam_media *m = &rec->vc->media;
	struct rec_track *t;

	if (m->video[0] != '\0' && type_visible(RT_VIDEO, rec->vc->caps) &&
	    (t = track_add(rec, RT_VIDEO, m->video)) != NULL) {
		t->width = m->width;
		t->height = m->height;
	}
	if (m->audio[0] != '\0' && type_visible(RT_AUDIO, rec->vc->caps) &&
	    (t = track_add(rec, RT_AUDIO, strncmp(m->audio, "PCM", 3) == 0 ? "G711" : m->audio)) != NULL)
		t->sample_rate = m->audio_rate;
	if (m->metadata && type_visible(RT_METADATA, rec->vc->caps))
		(void)track_add(rec, RT_METADATA, "");
}

/* --- recordings ------------------------------------------------------------------------------------ */

/* The footage of the camera inside the window: first and last instant of the segments there. */
static bool
footage_in(int64_t camera_id, int64_t lo, int64_t hi, int64_t *from, int64_t *to)
{
	struct rec_segment *segs;
	int n = recorder_segments(camera_id, lo, hi == INT64_MAX ? hi : hi + 1, &segs);

	if (n > 0) {
		*from = GW_MAX(segs[0].start_wall_us, lo);
		*to = segs[0].end_wall_us;
		for (int i = 1; i < n; i++)
			*to = GW_MAX(*to, segs[i].end_wall_us);
		*to = GW_MIN(*to, hi);
	}
	free(segs);
	return n > 0 && *from <= *to;
}

bool
rec_of(const struct onvif_view *v, const struct view_cam *vc, struct recording *out)
{
	struct adapter_track at[REC_MAX_TRACKS];
	int64_t first, last, lo, hi;
	int n;

	memset(out, 0, sizeof(*out));
	if (!(vc->caps & CAP_REPLAY))
		return false;
	out->vc = vc;
	out->recorded = vc->cam->record && vc->cam->pc.enabled;
	if (!out->recorded && !recorder_span(vc->cam->pc.id, &first, &last))
		return false;
	rec_token(vc->cam->pc.id, out->token, sizeof(out->token));
	out->has_data = rec_window(v, &lo, &hi) && footage_in(vc->cam->pc.id, lo, hi, &out->from_us, &out->to_us);
	if ((n = recorder_tracks(vc->cam->pc.id, at, REC_MAX_TRACKS)) > 0)
		tracks_from_recorder(out, at, n);
	else
		tracks_from_view(out);
	return true;
}

bool
rec_find(const struct onvif_view *v, const char *token, struct recording *out)
{
	int64_t id;
	const struct view_cam *vc;

	return rec_parse_token(token, &id) && (vc = view_find(v, id)) != NULL && rec_of(v, vc, out);
}

int
rec_list(const struct onvif_view *v, struct recording **out)
{
	struct recording *all = gw_xcalloc((size_t)GW_MAX(v->ncams, 1), sizeof(*all));
	int n = 0;

	for (int i = 0; i < v->ncams; i++)
		if (rec_of(v, &v->cams[i], &all[n]))
			n++;
	*out = all;
	return n;
}

/* --- writing --------------------------------------------------------------------------------------- */

static const char *
track_type_name(enum rec_track_type t)
{
	return t == RT_VIDEO ? "Video" : t == RT_AUDIO ? "Audio" : "Metadata";
}

static void
write_time(struct xmlw *w, const char *tag, int64_t us)
{
	char t[40];

	soap_format_datetime(us, t, sizeof(t));
	xmlw_el(w, tag, t);
}

static void
write_track_information(struct xmlw *w, const struct rec_track *t, int64_t from_us, int64_t to_us)
{
	char desc[64];

	if (t->type == RT_VIDEO && t->width > 0)
		snprintf(desc, sizeof(desc), "%s %dx%d", t->encoding, t->width, t->height);
	else if (t->type == RT_AUDIO && t->sample_rate > 0)
		snprintf(desc, sizeof(desc), "%s %d Hz", t->encoding, t->sample_rate);
	else
		snprintf(desc, sizeof(desc), "%s", t->type == RT_METADATA ? "ONVIF metadata" : t->encoding);
	xmlw_el(w, "tt:TrackToken", t->token);
	xmlw_el(w, "tt:TrackType", track_type_name(t->type));
	xmlw_el(w, "tt:Description", desc);
	write_time(w, "tt:DataFrom", from_us);
	write_time(w, "tt:DataTo", to_us);
}

/* Where the camera is, in words: its address, else its position. Never its source. */
static void
write_location(struct xmlw *w, const struct model_camera *cam)
{
	char where[64];

	if (cam->address != NULL && cam->address[0] != '\0') {
		xmlw_el(w, "tt:Location", cam->address);
		return;
	}
	if (cam->pc.has_location)
		snprintf(where, sizeof(where), "%.6f, %.6f", cam->pc.location.lat, cam->pc.location.lon);
	else
		where[0] = '\0';
	xmlw_el(w, "tt:Location", where);
}

static void
write_source(struct xmlw *w, const struct onvif_req *r, const struct recording *rec)
{
	const struct model_camera *cam = rec->vc->cam;
	char vs[32], uri[512];
	const char *why;

	view_token(TOK_VIDEO_SOURCE, cam->pc.id, vs, sizeof(vs));
	if (!onvif_stream_uri(r, rec->vc, STREAM_LIVE, STREAM_RTSP_TCP, uri, sizeof(uri), &why))
		uri[0] = '\0';
	xmlw_lit(w, "<tt:Source>");
	xmlw_el(w, "tt:SourceId", vs);
	xmlw_el(w, "tt:Name", cam->name);
	write_location(w, cam);
	xmlw_el(w, "tt:Description", cam->floor ? cam->floor : "");
	xmlw_el(w, "tt:Address", uri);
	if (rec->vc->caps & CAP_VIDEO)
		xmlw_el(w, "tt:VideoSourceToken", vs);
	xmlw_lit(w, "</tt:Source>");
}

static const char *
status_name(const struct recording *rec)
{
	int64_t a, b;

	if (!rec->recorded)
		return "Stopped";
	return recorder_span(rec->vc->cam->pc.id, &a, &b) ? "Recording" : "Initiated";
}

void
rec_write_information(struct xmlw *w, const char *tag, const struct onvif_req *r,
    const struct recording *rec)
{
	xmlw_fmt(w, "<%s>", tag);
	xmlw_el(w, "tt:RecordingToken", rec->token);
	write_source(w, r, rec);
	if (rec->has_data) {
		write_time(w, "tt:EarliestRecording", rec->from_us);
		write_time(w, "tt:LatestRecording", rec->to_us);
	}
	xmlw_lit(w, "<tt:Content></tt:Content>");
	for (int i = 0; rec->has_data && i < rec->ntracks; i++) {
		xmlw_lit(w, "<tt:Track>");
		write_track_information(w, &rec->tracks[i], rec->from_us, rec->to_us);
		xmlw_lit(w, "</tt:Track>");
	}
	xmlw_el(w, "tt:RecordingStatus", status_name(rec));
	xmlw_fmt(w, "</%s>", tag);
}

static void
write_video_attributes(struct xmlw *w, const struct rec_track *t, int kbps)
{
	xmlw_lit(w, "<tt:VideoAttributes>");
	if (kbps > 0)
		xmlw_el_int(w, "tt:Bitrate", kbps);
	xmlw_el_int(w, "tt:Width", t->width);
	xmlw_el_int(w, "tt:Height", t->height);
	xmlw_el(w, "tt:Encoding", t->encoding);
	xmlw_el_num(w, "tt:Framerate", t->fps);
	xmlw_lit(w, "</tt:VideoAttributes>");
}

/*
 * The bit rate known of a segment is its bytes over its duration, all
 * tracks together: given as the video track's, which carries nearly all
 * of it.
 */
void
rec_write_track_attributes(struct xmlw *w, const struct recording *rec, int64_t from_us, int64_t to_us,
    uint64_t bytes)
{
	int kbps = to_us > from_us ? (int)GW_MIN(bytes * 8000 / (uint64_t)(to_us - from_us), INT32_MAX) : 0;
	bool first_video = true;

	for (int i = 0; i < rec->ntracks; i++) {
		const struct rec_track *t = &rec->tracks[i];

		xmlw_lit(w, "<tt:TrackAttributes><tt:TrackInformation>");
		write_track_information(w, t, from_us, to_us);
		xmlw_lit(w, "</tt:TrackInformation>");
		if (t->type == RT_VIDEO) {
			write_video_attributes(w, t, first_video ? kbps : 0);
			first_video = false;
		} else if (t->type == RT_AUDIO) {
			xmlw_lit(w, "<tt:AudioAttributes>");
			xmlw_el(w, "tt:Encoding", t->encoding);
			xmlw_el_int(w, "tt:Samplerate", t->sample_rate / 1000);
			xmlw_lit(w, "</tt:AudioAttributes>");
		} else {
			xmlw_lit(w, "<tt:MetadataAttributes><tt:CanContainPTZ>false</tt:CanContainPTZ>"
			    "<tt:CanContainAnalytics>true</tt:CanContainAnalytics>"
			    "<tt:CanContainNotifications>true</tt:CanContainNotifications></tt:MetadataAttributes>");
		}
		xmlw_lit(w, "</tt:TrackAttributes>");
	}
}
