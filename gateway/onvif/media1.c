/*
 * media1.c - the Media v1 facade (trt) over the same profiles as Media2:
 * most deployed clients (npm onvif, node-onvif, libonvif, many NVRs) still
 * drive Media v1. A v1 profile inlines its configurations; the tokens are
 * the Media2 ones, so a client can mix both services.
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "onvif.h"
#include "media2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
onvif_caps_media1(struct xmlw *w, const struct onvif_req *r)
{
	xmlw_lit(w, "<trt:Capabilities SnapshotUri=\"true\" Rotation=\"false\" VideoSourceMode=\"false\""
	    " OSD=\"false\" TemporaryOSDText=\"false\" EXICompression=\"false\"><trt:ProfileCapabilities");
	xmlw_fmt(w, " MaximumNumberOfProfiles=\"%d\"/>", gw.cfg->onvif_max_profiles);
	xmlw_lit(w, "<trt:StreamingCapabilities RTPMulticast=\"true\" RTP_TCP=\"true\""
	    " RTP_RTSP_TCP=\"true\" NonAggregateControl=\"false\" NoRTSPStreaming=\"false\"/>"
	    "</trt:Capabilities>");
}

static void
get_service_capabilities(struct onvif_req *r)
{
	xmlw_lit(&r->out, "<trt:GetServiceCapabilitiesResponse>");
	onvif_caps_media1(&r->out, r);
	xmlw_lit(&r->out, "</trt:GetServiceCapabilitiesResponse>");
	onvif_reply(r);
}

static void
write_profile1(struct xmlw *w, const char *tag, const struct onvif_view *v, const struct onvif_profile *p,
    const struct onvif_profile *all, int nall)
{
	static const char *const tags[CFG_KIND_COUNT] = {
		"tt:VideoSourceConfiguration", "tt:AudioSourceConfiguration",
		"tt:VideoEncoderConfiguration", "tt:AudioEncoderConfiguration",
		"tt:MetadataConfiguration",
	};
	const struct view_cam *vc = p->camera_id ? view_find(v, p->camera_id) : NULL;

	xmlw_open_attr(w, tag, "token", p->token);
	xmlw_lit(w, p->fixed ? " fixed=\"true\">" : " fixed=\"false\">");
	xmlw_el(w, "tt:Name", p->name);
	for (int k = 0; k < CFG_KIND_COUNT && vc != NULL; k++)
		if (p->cfgs & CFG_BIT(k))
			onvif_write_cfg(w, (enum cfg_kind)k, tags[k], vc,
			    onvif_use_count(all, nall, (enum cfg_kind)k, p->camera_id), false);
	xmlw_lit(w, "</");
	xmlw_lit(w, tag);
	xmlw_lit(w, ">");
}

static void
get_profiles_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	struct onvif_profile *p;
	int n = view_profiles(v, st, &p);

	xmlw_lit(&r->out, "<trt:GetProfilesResponse>");
	for (int i = 0; i < n; i++)
		write_profile1(&r->out, "trt:Profiles", v, &p[i], p, n);
	xmlw_lit(&r->out, "</trt:GetProfilesResponse>");
	free(p);
	onvif_reply(r);
}

static void
get_profiles(struct onvif_req *r)
{
	onvif_with_view(r, get_profiles_cont);
}

static void
get_profile_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	struct onvif_profile *p;
	int n = view_profiles(v, st, &p);
	char token[72];
	int found = -1;

	if (onvif_arg_text(r, "ProfileToken", token, sizeof(token)))
		for (int i = 0; i < n && found < 0; i++)
			if (strcmp(p[i].token, token) == 0)
				found = i;
	if (found < 0) {
		free(p);
		onvif_fault_arg(r, "ter:NoProfile", "the profile does not exist");
		return;
	}
	xmlw_lit(&r->out, "<trt:GetProfileResponse>");
	write_profile1(&r->out, "trt:Profile", v, &p[found], p, n);
	xmlw_lit(&r->out, "</trt:GetProfileResponse>");
	free(p);
	onvif_reply(r);
}

static void
get_profile(struct onvif_req *r)
{
	onvif_with_view(r, get_profile_cont);
}

static void
get_video_sources_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	xmlw_lit(&r->out, "<trt:GetVideoSourcesResponse>");
	for (int i = 0; i < v->ncams; i++)
		if (view_cfgs_allowed(&v->cams[i]) & CFG_BIT(CFG_VIDEO_SOURCE))
			onvif_write_video_source(&r->out, "trt:VideoSources", &v->cams[i]);
	xmlw_lit(&r->out, "</trt:GetVideoSourcesResponse>");
	onvif_reply(r);
}

static void
get_video_sources(struct onvif_req *r)
{
	onvif_with_view(r, get_video_sources_cont);
}

static void
get_audio_sources_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	xmlw_lit(&r->out, "<trt:GetAudioSourcesResponse>");
	for (int i = 0; i < v->ncams; i++)
		if (view_cfgs_allowed(&v->cams[i]) & CFG_BIT(CFG_AUDIO_SOURCE))
			onvif_write_audio_source(&r->out, "trt:AudioSources", &v->cams[i]);
	xmlw_lit(&r->out, "</trt:GetAudioSourcesResponse>");
	onvif_reply(r);
}

static void
get_audio_sources(struct onvif_req *r)
{
	onvif_with_view(r, get_audio_sources_cont);
}

/* --- configurations -------------------------------------------------------------------- */

static const char *const v1_names[CFG_KIND_COUNT] = {
	"VideoSource", "AudioSource", "VideoEncoder", "AudioEncoder", "Metadata",
};

/* Get<Kind>Configurations: every one the principal sees. */
static void
get_cfgs_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	enum cfg_kind k = (enum cfg_kind)r->arg;
	struct onvif_profile *p;
	int n = view_profiles(v, st, &p);

	xmlw_fmt(&r->out, "<trt:Get%sConfigurationsResponse>", v1_names[k]);
	for (int i = 0; i < v->ncams; i++)
		if (view_cfgs_allowed(&v->cams[i]) & CFG_BIT(k))
			onvif_write_cfg(&r->out, k, "trt:Configurations", &v->cams[i],
			    onvif_use_count(p, n, k, v->cams[i].cam->pc.id), false);
	xmlw_fmt(&r->out, "</trt:Get%sConfigurationsResponse>", v1_names[k]);
	free(p);
	onvif_reply(r);
}

/* Get<Kind>Configuration(ConfigurationToken). */
static void
get_cfg_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	enum cfg_kind want = (enum cfg_kind)r->arg, k;
	char token[72];
	const struct view_cam *vc;
	struct onvif_profile *p;
	int n;

	if (!onvif_arg_text(r, "ConfigurationToken", token, sizeof(token)) ||
	    (vc = m2_resolve_cfg(v, token, &k)) == NULL || k != want) {
		onvif_fault_arg(r, "ter:NoConfig", "the configuration does not exist");
		return;
	}
	n = view_profiles(v, st, &p);
	xmlw_fmt(&r->out, "<trt:Get%sConfigurationResponse>", v1_names[k]);
	onvif_write_cfg(&r->out, k, "trt:Configuration", vc, onvif_use_count(p, n, k, vc->cam->pc.id), false);
	xmlw_fmt(&r->out, "</trt:Get%sConfigurationResponse>", v1_names[k]);
	free(p);
	onvif_reply(r);
}

#define V1_GET(fn, cont, kind) \
	static void fn(struct onvif_req *r) { r->arg = kind; onvif_with_view(r, cont); }
V1_GET(get_vsc_all, get_cfgs_cont, CFG_VIDEO_SOURCE)
V1_GET(get_asc_all, get_cfgs_cont, CFG_AUDIO_SOURCE)
V1_GET(get_vec_all, get_cfgs_cont, CFG_VIDEO_ENCODER)
V1_GET(get_aec_all, get_cfgs_cont, CFG_AUDIO_ENCODER)
V1_GET(get_meta_all, get_cfgs_cont, CFG_METADATA)
V1_GET(get_vsc_one, get_cfg_cont, CFG_VIDEO_SOURCE)
V1_GET(get_asc_one, get_cfg_cont, CFG_AUDIO_SOURCE)
V1_GET(get_vec_one, get_cfg_cont, CFG_VIDEO_ENCODER)
V1_GET(get_aec_one, get_cfg_cont, CFG_AUDIO_ENCODER)
V1_GET(get_meta_one, get_cfg_cont, CFG_METADATA)

/* The encoder configuration that options are asked for: by token, by profile, or the first. */
static const struct view_cam *
options_camera(struct onvif_req *r, const struct onvif_view *v, const struct authority_store *st)
{
	char token[72];
	enum cfg_kind k;
	struct onvif_profile p;
	const struct view_cam *vc = NULL;

	if (onvif_arg_text(r, "ConfigurationToken", token, sizeof(token))) {
		if ((vc = m2_resolve_cfg(v, token, &k)) == NULL || k != CFG_VIDEO_ENCODER) {
			onvif_fault_arg(r, "ter:NoConfig", "the configuration does not exist");
			return NULL;
		}
		return vc;
	}
	if (onvif_arg_text(r, "ProfileToken", token, sizeof(token))) {
		if (!view_profile(v, st, token, &p) || (vc = view_find(v, p.camera_id)) == NULL)
			onvif_fault_arg(r, "ter:NoProfile", "the profile does not exist");
		return vc;
	}
	for (int i = 0; i < v->ncams && vc == NULL; i++)
		if (view_cfgs_allowed(&v->cams[i]) & CFG_BIT(CFG_VIDEO_ENCODER))
			vc = &v->cams[i];
	if (vc == NULL)
		onvif_fault_arg(r, "ter:NoConfig", "no video encoder configuration is visible");
	return vc;
}

/* Exactly the source's stream: one resolution, its codec; nothing to choose. */
static void
get_vec_options_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	const struct view_cam *vc = options_camera(r, v, st);
	bool h264, jpeg;

	if (vc == NULL)
		return;
	h264 = strcmp(vc->media.video, "H264") == 0;
	jpeg = strcmp(vc->media.video, "JPEG") == 0;
	xmlw_lit(&r->out, "<trt:GetVideoEncoderConfigurationOptionsResponse><trt:Options>"
	    "<tt:QualityRange><tt:Min>0</tt:Min><tt:Max>0</tt:Max></tt:QualityRange>");
	if (h264 || jpeg) {
		xmlw_lit(&r->out, h264 ? "<tt:H264>" : "<tt:JPEG>");
		xmlw_lit(&r->out, "<tt:ResolutionsAvailable>");
		xmlw_el_int(&r->out, "tt:Width", vc->media.width);
		xmlw_el_int(&r->out, "tt:Height", vc->media.height);
		xmlw_lit(&r->out, "</tt:ResolutionsAvailable>");
		if (h264)
			xmlw_lit(&r->out, "<tt:GovLengthRange><tt:Min>0</tt:Min><tt:Max>0</tt:Max></tt:GovLengthRange>");
		xmlw_fmt(&r->out, "<tt:FrameRateRange><tt:Min>%d</tt:Min><tt:Max>%d</tt:Max></tt:FrameRateRange>"
		    "<tt:EncodingIntervalRange><tt:Min>1</tt:Min><tt:Max>1</tt:Max></tt:EncodingIntervalRange>",
		    onvif_frame_rate(vc), onvif_frame_rate(vc));
		if (h264)
			xmlw_el(&r->out, "tt:H264ProfilesSupported", onvif_h264_profile(vc));
		xmlw_lit(&r->out, h264 ? "</tt:H264>" : "</tt:JPEG>");
	}
	xmlw_lit(&r->out, "</trt:Options></trt:GetVideoEncoderConfigurationOptionsResponse>");
	onvif_reply(r);
}

static void
get_vec_options(struct onvif_req *r)
{
	onvif_with_view(r, get_vec_options_cont);
}

/* --- URIs ---------------------------------------------------------------------------------- */

static bool
stream_setup(const struct onvif_req *r, enum stream_proto *proto)
{
	xmlNode *setup = onvif_arg(r, "StreamSetup");
	char stream[32], transport[16];

	if (!soap_child_text(setup, NULL, "Stream", stream, sizeof(stream)) ||
	    !soap_child_text(soap_child(setup, NULL, "Transport"), NULL, "Protocol", transport,
	    sizeof(transport)))
		return false;
	if (strcmp(stream, "RTP-Multicast") == 0) {
		*proto = STREAM_RTSP_MULTICAST;
		return strcmp(transport, "HTTP") != 0;
	}
	if (strcmp(stream, "RTP-Unicast") != 0)
		return false;
	if (strcmp(transport, "UDP") == 0)
		*proto = STREAM_RTSP_UDP;
	else if (strcmp(transport, "TCP") == 0 || strcmp(transport, "RTSP") == 0)
		*proto = STREAM_RTSP_TCP;
	else if (strcmp(transport, "HTTP") == 0)
		*proto = STREAM_RTSP_HTTP;
	else
		return false;
	return true;
}

static void
write_media_uri(struct onvif_req *r, const char *resp, const char *uri)
{
	xmlw_fmt(&r->out, "<trt:%s><trt:MediaUri>", resp);
	xmlw_el(&r->out, "tt:Uri", uri);
	xmlw_lit(&r->out, "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
	    "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout>");
	xmlw_fmt(&r->out, "</trt:MediaUri></trt:%s>", resp);
	onvif_reply(r);
}

static void
get_stream_uri_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	struct onvif_profile p;
	const struct view_cam *vc;
	enum stream_proto proto;
	char uri[512];

	if (!stream_setup(r, &proto)) {
		onvif_fault_arg(r, "ter:InvalidStreamSetup", "the stream setup is not supported");
		return;
	}
	if ((vc = m2_stream_profile(r, v, st, &p)) == NULL || !m2_stream_uri(r, vc, proto, uri, sizeof(uri)))
		return;
	write_media_uri(r, "GetStreamUriResponse", uri);
}

static void
get_stream_uri(struct onvif_req *r)
{
	onvif_with_view(r, get_stream_uri_cont);
}

static void
get_snapshot_uri_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	struct onvif_profile p;
	const struct view_cam *vc = m2_stream_profile(r, v, st, &p);
	char uri[512];

	if (vc == NULL || !m2_snapshot_uri(r, vc, &p, uri, sizeof(uri)))
		return;
	write_media_uri(r, "GetSnapshotUriResponse", uri);
}

static void
get_snapshot_uri(struct onvif_req *r)
{
	onvif_with_view(r, get_snapshot_uri_cont);
}

static const struct onvif_op ops[] = {
	{ "GetServiceCapabilities", get_service_capabilities, OP_PRE_AUTH },
	{ "GetProfiles", get_profiles, 0 },
	{ "GetProfile", get_profile, 0 },
	{ "GetVideoSources", get_video_sources, 0 },
	{ "GetAudioSources", get_audio_sources, 0 },
	{ "GetVideoSourceConfigurations", get_vsc_all, 0 },
	{ "GetAudioSourceConfigurations", get_asc_all, 0 },
	{ "GetVideoEncoderConfigurations", get_vec_all, 0 },
	{ "GetAudioEncoderConfigurations", get_aec_all, 0 },
	{ "GetMetadataConfigurations", get_meta_all, 0 },
	{ "GetVideoSourceConfiguration", get_vsc_one, 0 },
	{ "GetAudioSourceConfiguration", get_asc_one, 0 },
	{ "GetVideoEncoderConfiguration", get_vec_one, 0 },
	{ "GetAudioEncoderConfiguration", get_aec_one, 0 },
	{ "GetMetadataConfiguration", get_meta_one, 0 },
	{ "GetVideoEncoderConfigurationOptions", get_vec_options, 0 },
	{ "GetStreamUri", get_stream_uri, 0 },
	{ "GetSnapshotUri", get_snapshot_uri, 0 },
	{ "SetSynchronizationPoint", m2_set_sync_point, 0 },
	{ "StartMulticastStreaming", m2_start_multicast, 0 },
	{ "StopMulticastStreaming", m2_stop_multicast, 0 },
	{ "GetOSDs", m2_get_osds, 0 },
	{ "GetOSDOptions", m2_get_osd_options, 0 },
	{ "CreateOSD", m2_create_osd, OP_WRITES },
	{ "SetOSD", m2_set_osd, OP_WRITES },
	{ "DeleteOSD", m2_delete_osd, OP_WRITES },
};

const struct onvif_service_ops onvif_media1_ops = { NS_TRT, ops, ARRAY_SIZE(ops) };
