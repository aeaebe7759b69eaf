/*
 * deviceio.c - the Device IO service (tmd): the video and audio sources of
 * the caller's view, and the outputs, relays, inputs and serial ports the
 * gateway does not have (empty lists, not faults; a token of one of them
 * is unknown, which is a fault).
 */
#include "gateway/gw.h"
#include "onvif.h"
#include "media2.h"

#include <stdio.h>
#include <string.h>

struct source_counts {
	int video, audio;
};

static struct source_counts
count(const struct onvif_req *r)
{
	struct source_counts c = { 0, 0 };
	struct onvif_view v;

	if (!r->authenticated || view_build(&r->principal, &v) < 0)
		return c;
	for (int i = 0; i < v.ncams; i++) {
		unsigned cfgs = view_cfgs_allowed(&v.cams[i]);

		c.video += (cfgs & CFG_BIT(CFG_VIDEO_SOURCE)) != 0;
		c.audio += (cfgs & CFG_BIT(CFG_AUDIO_SOURCE)) != 0;
	}
	view_free(&v);
	return c;
}

/* The source counts are the caller's, when it gave valid credentials (PRE_AUTH: else 0). */
void
onvif_caps_deviceio(struct xmlw *w, const struct onvif_req *r)
{
	struct source_counts c = count(r);

	xmlw_fmt(w, "<tmd:Capabilities VideoSources=\"%d\" VideoOutputs=\"0\" AudioSources=\"%d\""
	    " AudioOutputs=\"0\" RelayOutputs=\"0\" SerialPorts=\"0\" DigitalInputs=\"0\""
	    " DigitalInputOptions=\"false\"/>", c.video, c.audio);
}

static void
get_service_capabilities(struct onvif_req *r)
{
	xmlw_lit(&r->out, "<tmd:GetServiceCapabilitiesResponse>");
	onvif_caps_deviceio(&r->out, r);
	xmlw_lit(&r->out, "</tmd:GetServiceCapabilitiesResponse>");
	onvif_reply(r);
}

static void
list_sources_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	bool video = r->arg == CFG_VIDEO_SOURCE;
	char token[32];

	xmlw_lit(&r->out, video ? "<tmd:GetVideoSourcesResponse>" : "<tmd:GetAudioSourcesResponse>");
	for (int i = 0; i < v->ncams; i++) {
		if (!(view_cfgs_allowed(&v->cams[i]) & CFG_BIT(r->arg)))
			continue;
		view_token(video ? TOK_VIDEO_SOURCE : TOK_AUDIO_SOURCE, v->cams[i].cam->pc.id, token,
		    sizeof(token));
		xmlw_el(&r->out, "tmd:Token", token);
	}
	xmlw_lit(&r->out, video ? "</tmd:GetVideoSourcesResponse>" : "</tmd:GetAudioSourcesResponse>");
	onvif_reply(r);
}

static void
get_video_sources(struct onvif_req *r)
{
	r->arg = CFG_VIDEO_SOURCE;
	onvif_with_view(r, list_sources_cont);
}

static void
get_audio_sources(struct onvif_req *r)
{
	r->arg = CFG_AUDIO_SOURCE;
	onvif_with_view(r, list_sources_cont);
}

/* The camera of a VideoSourceToken / AudioSourceToken the principal sees, or a fault. */
static const struct view_cam *
source_of(struct onvif_req *r, const struct onvif_view *v, bool video)
{
	char token[72];
	enum tok_kind kind;
	enum cfg_kind k;
	int64_t id;
	const struct view_cam *vc;

	if (!onvif_arg_text(r, video ? "VideoSourceToken" : "AudioSourceToken", token, sizeof(token)) ||
	    !view_parse_token(token, &kind, &k, &id) ||
	    kind != (video ? TOK_VIDEO_SOURCE : TOK_AUDIO_SOURCE) || (vc = view_find(v, id)) == NULL ||
	    !(view_cfgs_allowed(vc) & CFG_BIT(video ? CFG_VIDEO_SOURCE : CFG_AUDIO_SOURCE))) {
		onvif_fault_arg(r, video ? "ter:NoVideoSource" : "ter:NoAudioSource",
		    "the source does not exist");
		return NULL;
	}
	return vc;
}

static void
get_source_cfg_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	bool video = r->arg == CFG_VIDEO_SOURCE;
	const struct view_cam *vc = source_of(r, v, video);

	if (vc == NULL)
		return;
	if (video) {
		xmlw_lit(&r->out, "<tmd:GetVideoSourceConfigurationResponse>");
		onvif_write_video_source_cfg(&r->out, "tmd:VideoSourceConfiguration", vc, 1);
		xmlw_lit(&r->out, "</tmd:GetVideoSourceConfigurationResponse>");
	} else {
		xmlw_lit(&r->out, "<tmd:GetAudioSourceConfigurationResponse>");
		onvif_write_audio_source_cfg(&r->out, "tmd:AudioSourceConfiguration", vc, 1);
		xmlw_lit(&r->out, "</tmd:GetAudioSourceConfigurationResponse>");
	}
	onvif_reply(r);
}

static void
get_video_source_cfg(struct onvif_req *r)
{
	r->arg = CFG_VIDEO_SOURCE;
	onvif_with_view(r, get_source_cfg_cont);
}

static void
get_audio_source_cfg(struct onvif_req *r)
{
	r->arg = CFG_AUDIO_SOURCE;
	onvif_with_view(r, get_source_cfg_cont);
}

static void
get_source_options_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	bool video = r->arg == CFG_VIDEO_SOURCE;
	const struct view_cam *vc = source_of(r, v, video);
	char token[32];

	if (vc == NULL)
		return;
	view_token(video ? TOK_VIDEO_SOURCE : TOK_AUDIO_SOURCE, vc->cam->pc.id, token, sizeof(token));
	if (video) {
		xmlw_fmt(&r->out, "<tmd:GetVideoSourceConfigurationOptionsResponse>"
		    "<tmd:VideoSourceConfigurationOptions MaximumNumberOfProfiles=\"1\"><tt:BoundsRange>"
		    "<tt:XRange><tt:Min>0</tt:Min><tt:Max>0</tt:Max></tt:XRange>"
		    "<tt:YRange><tt:Min>0</tt:Min><tt:Max>0</tt:Max></tt:YRange>"
		    "<tt:WidthRange><tt:Min>%d</tt:Min><tt:Max>%d</tt:Max></tt:WidthRange>"
		    "<tt:HeightRange><tt:Min>%d</tt:Min><tt:Max>%d</tt:Max></tt:HeightRange></tt:BoundsRange>",
		    vc->media.width, vc->media.width, vc->media.height, vc->media.height);
		xmlw_el(&r->out, "tt:VideoSourceTokensAvailable", token);
		xmlw_lit(&r->out, "</tmd:VideoSourceConfigurationOptions>"
		    "</tmd:GetVideoSourceConfigurationOptionsResponse>");
	} else {
		xmlw_lit(&r->out, "<tmd:GetAudioSourceConfigurationOptionsResponse><tmd:AudioSourceOptions>");
		xmlw_el(&r->out, "tt:InputTokensAvailable", token);
		xmlw_lit(&r->out, "</tmd:AudioSourceOptions></tmd:GetAudioSourceConfigurationOptionsResponse>");
	}
	onvif_reply(r);
}

static void
get_video_source_options(struct onvif_req *r)
{
	r->arg = CFG_VIDEO_SOURCE;
	onvif_with_view(r, get_source_options_cont);
}

static void
get_audio_source_options(struct onvif_req *r)
{
	r->arg = CFG_AUDIO_SOURCE;
	onvif_with_view(r, get_source_options_cont);
}

/* Changing a source's configuration would change the camera: level 2, and only as it is. */
static void
set_source_cfg_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	bool video = r->arg == CFG_VIDEO_SOURCE;
	xmlNode *cfg = onvif_arg(r, video ? "VideoSourceConfiguration" : "AudioSourceConfiguration");
	char token[72];
	enum cfg_kind k;
	const struct view_cam *vc;

	if (!soap_attr(cfg, NULL, "token", token, sizeof(token)) ||
	    (vc = m2_resolve_cfg(v, token, &k)) == NULL || (int)k != r->arg) {
		onvif_fault_arg(r, "ter:NoConfig", "the configuration does not exist");
		return;
	}
	if (!m2_has_level2(v)) {
		onvif_fault(r, 400, "env:Sender", "ter:NotAuthorized", NULL,
		    "changing a camera's configuration needs a level 2 grant");
		return;
	}
	onvif_events_configuration_changed(vc->cam->pc.id, k, token);
	m2_empty_reply(r, video ? "tmd:SetVideoSourceConfigurationResponse" :
	    "tmd:SetAudioSourceConfigurationResponse");
}

static void
set_video_source_cfg(struct onvif_req *r)
{
	r->arg = CFG_VIDEO_SOURCE;
	onvif_with_view(r, set_source_cfg_cont);
}

static void
set_audio_source_cfg(struct onvif_req *r)
{
	r->arg = CFG_AUDIO_SOURCE;
	onvif_with_view(r, set_source_cfg_cont);
}

/* --- what the gateway has none of --------------------------------------------------- */

static void
empty_list(struct onvif_req *r)
{
	char tag[96];

	/* GetRelayOutputs answers in the device namespace (the Device IO WSDL says so). */
	snprintf(tag, sizeof(tag), "%s:%sResponse", strcmp(r->op->name, "GetRelayOutputs") == 0 ?
	    "tds" : "tmd", r->op->name);
	m2_empty_reply(r, tag);
}

static void
no_such_output(struct onvif_req *r)
{
	onvif_fault_arg(r, strstr(r->op->name, "AudioOutput") ? "ter:NoAudioOutput" :
	    strstr(r->op->name, "Relay") ? "ter:RelayToken" : strstr(r->op->name, "Serial") ?
	    "ter:InvalidSerialPort" : strstr(r->op->name, "DigitalInput") ? "ter:InvalidToken" :
	    "ter:NoVideoOutput", "the gateway has no such output or port");
}

static const struct onvif_op ops[] = {
	{ "GetServiceCapabilities", get_service_capabilities, OP_PRE_AUTH },
	{ "GetVideoSources", get_video_sources, 0 },
	{ "GetAudioSources", get_audio_sources, 0 },
	{ "GetVideoSourceConfiguration", get_video_source_cfg, 0 },
	{ "GetAudioSourceConfiguration", get_audio_source_cfg, 0 },
	{ "GetVideoSourceConfigurationOptions", get_video_source_options, 0 },
	{ "GetAudioSourceConfigurationOptions", get_audio_source_options, 0 },
	{ "SetVideoSourceConfiguration", set_video_source_cfg, 0 },
	{ "SetAudioSourceConfiguration", set_audio_source_cfg, 0 },
	{ "GetAudioOutputs", empty_list, 0 },
	{ "GetVideoOutputs", empty_list, 0 },
	{ "GetRelayOutputs", empty_list, 0 },
	{ "GetDigitalInputs", empty_list, 0 },
	{ "GetSerialPorts", empty_list, 0 },
	{ "GetVideoOutputConfiguration", no_such_output, 0 },
	{ "SetVideoOutputConfiguration", no_such_output, 0 },
	{ "GetVideoOutputConfigurationOptions", no_such_output, 0 },
	{ "GetAudioOutputConfiguration", no_such_output, 0 },
	{ "SetAudioOutputConfiguration", no_such_output, 0 },
	{ "GetAudioOutputConfigurationOptions", no_such_output, 0 },
	{ "GetRelayOutputOptions", no_such_output, 0 },
	{ "SetRelayOutputSettings", no_such_output, 0 },
	{ "SetRelayOutputState", no_such_output, 0 },
	{ "GetSerialPortConfiguration", no_such_output, 0 },
	{ "SetSerialPortConfiguration", no_such_output, 0 },
	{ "GetSerialPortConfigurationOptions", no_such_output, 0 },
	{ "SendReceiveSerialCommand", no_such_output, 0 },
	{ "GetDigitalInputConfigurationOptions", no_such_output, 0 },
	{ "SetDigitalInputConfigurations", no_such_output, 0 },
};

const struct onvif_service_ops onvif_deviceio_ops = { NS_TMD, ops, ARRAY_SIZE(ops) };
