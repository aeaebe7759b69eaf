/*
 * imaging.c - the Imaging service (timg) of the caller's video sources.
 *
 * Imaging settings belong to the camera: the gateway passes them through to
 * sources that have them (ONVIF sources). The adapters in use today (RTSP,
 * FFmpeg) expose none, so every source answers, truthfully,
 * ter:NoImagingForSource; what changes the camera (Set, Move, Stop,
 * presets) is refused first without level 2, whatever the source can do.
 */
#include "gateway/gw.h"
#include "onvif.h"
#include "media2.h"

#include <string.h>

void
onvif_caps_imaging(struct xmlw *w, const struct onvif_req *r)
{
	xmlw_lit(w, "<timg:Capabilities ImageStabilization=\"false\" Presets=\"false\""
	    " AdaptablePreset=\"false\"/>");
}

static void
get_service_capabilities(struct onvif_req *r)
{
	xmlw_lit(&r->out, "<timg:GetServiceCapabilitiesResponse>");
	onvif_caps_imaging(&r->out, r);
	xmlw_lit(&r->out, "</timg:GetServiceCapabilitiesResponse>");
	onvif_reply(r);
}

/* Operations that would change the camera. */
static bool
actuates(const char *op)
{
	static const char *const ops[] = { "SetImagingSettings", "Move", "Stop", "SetCurrentPreset" };

	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		if (strcmp(ops[i], op) == 0)
			return true;
	return false;
}

static void
imaging_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	char token[72];
	enum tok_kind kind;
	enum cfg_kind k;
	int64_t id;
	const struct view_cam *vc;

	if (!onvif_arg_text(r, "VideoSourceToken", token, sizeof(token)) ||
	    !view_parse_token(token, &kind, &k, &id) || kind != TOK_VIDEO_SOURCE ||
	    (vc = view_find(v, id)) == NULL || !(view_cfgs_allowed(vc) & CFG_BIT(CFG_VIDEO_SOURCE))) {
		onvif_fault_arg(r, "ter:NoSource", "the video source does not exist");
		return;
	}
	if (actuates(r->op->name) && !m2_has_level2(v)) {
		onvif_fault(r, 400, "env:Sender", "ter:NotAuthorized", NULL,
		    "changing a camera's imaging needs a level 2 grant");
		return;
	}
	onvif_fault(r, 0, "env:Receiver", "ter:ActionNotSupported", "ter:NoImagingForSource",
	    "the camera's source gives the gateway no imaging control");
}

static void
imaging_op(struct onvif_req *r)
{
	onvif_with_view(r, imaging_cont);
}

static const struct onvif_op ops[] = {
	{ "GetServiceCapabilities", get_service_capabilities, OP_PRE_AUTH },
	{ "GetImagingSettings", imaging_op, 0 },
	{ "SetImagingSettings", imaging_op, 0 },
	{ "GetOptions", imaging_op, 0 },
	{ "Move", imaging_op, 0 },
	{ "GetMoveOptions", imaging_op, 0 },
	{ "Stop", imaging_op, 0 },
	{ "GetStatus", imaging_op, 0 },
	{ "GetPresets", imaging_op, 0 },
	{ "GetCurrentPreset", imaging_op, 0 },
	{ "SetCurrentPreset", imaging_op, 0 },
};

const struct onvif_service_ops onvif_imaging_ops = { NS_TIMG, ops, ARRAY_SIZE(ops) };
