/*
 * media2.c - the Media2 service (tr2), the IEC 62676-2-31 list: profiles,
 * configurations and their options, encoder instances, stream and snapshot
 * URIs, synchronisation points. OSDs, masks and video source modes are in
 * media2_osd.c, Start/StopMulticastStreaming in multicast.c.
 *
 * Every answer is cut to the principal's view: profiles and configurations
 * of cameras its grant covers, and only the kinds its levels permit. The
 * fixed profiles are derived from the cameras; the authority's own
 * profiles come from the store and are never seen by another authority.
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/media/hub.h"
#include "gateway/media/source.h"
#include "gateway/log.h"
#include "gateway/media.h"
#include "onvif.h"
#include "media2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- helpers shared with media2_osd.c and media1.c ----------------------------------- */

void
m2_empty_reply(struct onvif_req *r, const char *tag)
{
	xmlw_lit(&r->out, "<");
	xmlw_lit(&r->out, tag);
	xmlw_lit(&r->out, "/>");
	onvif_reply(r);
}

/* A configuration token of a camera in the view, of a kind the principal may see. */
const struct view_cam *
m2_resolve_cfg(const struct onvif_view *v, const char *token, enum cfg_kind *kind)
{
	enum tok_kind tk;
	enum cfg_kind k;
	int64_t id;
	const struct view_cam *vc;

	if (!view_parse_token(token, &tk, &k, &id) || tk != TOK_CFG || (vc = view_find(v, id)) == NULL ||
	    !(view_cfgs_allowed(vc) & CFG_BIT(k)))
		return NULL;
	*kind = k;
	return vc;
}

bool
m2_has_level2(const struct onvif_view *v)
{
	return (view_caps(v) & CAP_PTZ) != 0;
}

/* --- GetServiceCapabilities ----------------------------------------------------------- */

void
onvif_caps_media2(struct xmlw *w, const struct onvif_req *r)
{
	char ws[320];

	onvif_websocket_uri(r, ws, sizeof(ws));
	/* OSD and Mask are false: they are kept per authority but not drawn into the relayed stream. */
	xmlw_lit(w, "<tr2:Capabilities SnapshotUri=\"true\" Rotation=\"false\" VideoSourceMode=\"true\""
	    " OSD=\"false\" TemporaryOSDText=\"false\" Mask=\"false\" SourceMask=\"false\">"
	    "<tr2:ProfileCapabilities");
	xmlw_fmt(w, " MaximumNumberOfProfiles=\"%d\"", gw.cfg->onvif_max_profiles);
	xmlw_lit(w, " ConfigurationsSupported=\"VideoSource VideoEncoder AudioSource AudioEncoder"
	    " Metadata\"/><tr2:StreamingCapabilities RTSPStreaming=\"true\" RTPMulticast=\"true\""
	    " RTP_RTSP_TCP=\"true\" NonAggregateControl=\"false\" AutoStartMulticast=\"false\"");
	xmlw_lit(w, gw.cfg->listen_tls.count ? " SecureRTSPStreaming=\"true\"" :
	    " SecureRTSPStreaming=\"false\"");
	xmlw_attr(w, "RTSPWebSocketUri", ws);
	xmlw_lit(w, "/></tr2:Capabilities>");
}

static void
get_service_capabilities(struct onvif_req *r)
{
	xmlw_lit(&r->out, "<tr2:GetServiceCapabilitiesResponse>");
	onvif_caps_media2(&r->out, r);
	xmlw_lit(&r->out, "</tr2:GetServiceCapabilitiesResponse>");
	onvif_reply(r);
}

/* --- profiles ------------------------------------------------------------------------------ */

static unsigned
requested_types(const struct onvif_req *r)
{
	unsigned mask = 0;
	char type[32];

	for (xmlNode *t = onvif_arg(r, "Type"); t != NULL; t = soap_next(t, NULL, "Type")) {
		int k;

		if (!soap_text(t, type, sizeof(type)))
			continue;
		if (strcmp(type, "All") == 0)
			mask = CFG_ALL;
		else if ((k = onvif_cfg_kind_parse(type)) >= 0)
			mask |= CFG_BIT(k);
	}
	return mask;
}

static void
write_profile2(struct xmlw *w, const struct onvif_view *v, const struct onvif_profile *p,
    const struct onvif_profile *all, int nall, unsigned types)
{
	static const char *const tags[CFG_KIND_COUNT] = {
		"tr2:VideoSource", "tr2:AudioSource", "tr2:VideoEncoder", "tr2:AudioEncoder",
		"tr2:Metadata",
	};
	const struct view_cam *vc = p->camera_id ? view_find(v, p->camera_id) : NULL;
	unsigned shown = vc ? p->cfgs & types : 0;

	xmlw_open_attr(w, "tr2:Profiles", "token", p->token);
	xmlw_lit(w, p->fixed ? " fixed=\"true\">" : " fixed=\"false\">");
	xmlw_el(w, "tr2:Name", p->name);
	if (shown != 0) {
		xmlw_lit(w, "<tr2:Configurations>");
		for (int k = 0; k < CFG_KIND_COUNT; k++)
			if (shown & CFG_BIT(k))
				onvif_write_cfg(w, (enum cfg_kind)k, tags[k], vc,
				    onvif_use_count(all, nall, (enum cfg_kind)k, p->camera_id), true);
		xmlw_lit(w, "</tr2:Configurations>");
	}
	xmlw_lit(w, "</tr2:Profiles>");
}

static void
get_profiles_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	struct onvif_profile *p;
	int n = view_profiles(v, st, &p);
	unsigned types = requested_types(r);
	char token[72];
	bool one = onvif_arg_text(r, "Token", token, sizeof(token)), found = false;

	xmlw_lit(&r->out, "<tr2:GetProfilesResponse>");
	for (int i = 0; i < n; i++) {
		if (one && strcmp(p[i].token, token) != 0)
			continue;
		found = true;
		write_profile2(&r->out, v, &p[i], p, n, types);
	}
	free(p);
	if (one && !found) {
		onvif_fault_arg(r, "ter:NoProfile", "the profile does not exist");
		return;
	}
	xmlw_lit(&r->out, "</tr2:GetProfilesResponse>");
	onvif_reply(r);
}

static void
get_profiles(struct onvif_req *r)
{
	onvif_with_view(r, get_profiles_cont);
}

/* A profile write is done: answer, and tell the authority's subscribers. */
static void
profile_written(void *arg, const char *error)
{
	struct onvif_req *r = arg;
	char token[24];

	if (error != NULL) {
		free(r->data);
		r->data = NULL;
		if (strcmp(error, "not found") != 0)
			onvif_fault(r, 0, "env:Receiver", "ter:Action", NULL, "the profile could not be stored");
		else if (strcmp(r->msg.op_name, "CreateProfile") == 0)
			onvif_fault(r, 0, "env:Receiver", "ter:Action", "ter:MaxNVTProfiles",
			    "the authority has created as many profiles as allowed");
		else
			onvif_fault_arg(r, "ter:NoProfile", "the profile does not exist");
		return;
	}
	snprintf(token, sizeof(token), "%s", (const char *)r->data);
	free(r->data);
	r->data = NULL;
	onvif_events_profile_changed(r->principal.authority_id, token);
	if (strcmp(r->msg.op_name, "CreateProfile") == 0) {
		xmlw_lit(&r->out, "<tr2:CreateProfileResponse>");
		xmlw_el(&r->out, "tr2:Token", token);
		xmlw_lit(&r->out, "</tr2:CreateProfileResponse>");
		onvif_reply(r);
		return;
	}
	xmlw_lit(&r->out, "<tr2:");
	xmlw_lit(&r->out, r->op->name);
	xmlw_lit(&r->out, "Response/>");
	onvif_reply(r);
}

/*
 * Add the Configuration references of the request to |p|. All of a
 * profile's configurations belong to one camera (an encoder cannot encode
 * another camera's source). Returns NULL or the fault to send.
 */
static const char *
add_refs(const struct onvif_req *r, const struct onvif_view *v, struct store_profile *p)
{
	char type[32], token[72];
	enum cfg_kind k;
	const struct view_cam *vc;

	for (xmlNode *c = onvif_arg(r, "Configuration"); c != NULL; c = soap_next(c, NULL, "Configuration")) {
		int want;

		if (!soap_child_text(c, NULL, "Type", type, sizeof(type)) ||
		    !soap_child_text(c, NULL, "Token", token, sizeof(token)) ||
		    (vc = m2_resolve_cfg(v, token, &k)) == NULL)
			return "ter:NoConfig";
		want = onvif_cfg_kind_parse(type);
		if (want != (int)k)
			return "ter:NoConfig";
		if (p->camera_id != 0 && p->camera_id != vc->cam->pc.id && p->cfgs != 0)
			return "ter:ConfigurationConflict";
		p->camera_id = vc->cam->pc.id;
		p->cfgs |= CFG_BIT(k);
	}
	return NULL;
}

static void
fault_for_ref(struct onvif_req *r, const char *sub)
{
	if (strcmp(sub, "ter:ConfigurationConflict") == 0)
		onvif_fault(r, 0, "env:Receiver", "ter:Action", sub,
		    "all configurations of a profile must belong to the same camera");
	else
		onvif_fault_arg(r, sub, "the configuration does not exist");
}

static void
create_profile_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	struct store_profile p = { 0 };
	const char *bad;

	if (!onvif_arg_text(r, "Name", p.name, sizeof(p.name)) || p.name[0] == '\0' ||
	    strlen(p.name) > 64) {
		onvif_fault(r, 0, "env:Sender", "ter:InvalidArgs", NULL, "a profile needs a name of 1 to 64 characters");
		return;
	}
	if (st->nprofiles >= gw.cfg->onvif_max_profiles) {
		onvif_fault(r, 0, "env:Receiver", "ter:Action", "ter:MaxNVTProfiles",
		    "the authority has created as many profiles as allowed");
		return;
	}
	if ((bad = add_refs(r, v, &p)) != NULL) {
		fault_for_ref(r, bad);
		return;
	}
	if (onvif_store_new_token("p", p.token, sizeof(p.token)) < 0) {
		onvif_fault(r, 0, "env:Receiver", "ter:Action", NULL, "no random numbers");
		return;
	}
	r->data = gw_xstrdup(p.token);
	onvif_store_profile_put(r->principal.authority_id, &p, true, profile_written, r);
}

static void
create_profile(struct onvif_req *r)
{
	onvif_with_view(r, create_profile_cont);
}

/* The authority's own profile named by ProfileToken (or Token), or a fault. */
static const struct store_profile *
own_profile(struct onvif_req *r, const struct onvif_view *v, const struct authority_store *st,
    const char *arg)
{
	char token[72];
	struct onvif_profile fixed;
	const struct store_profile *sp;

	if (!onvif_arg_text(r, arg, token, sizeof(token))) {
		onvif_fault(r, 0, "env:Sender", "ter:InvalidArgs", NULL, "the profile token is missing");
		return NULL;
	}
	if ((sp = view_store_profile(v, st, token)) != NULL)
		return sp;
	if (view_profile(v, st, token, &fixed)) {
		if (strcmp(r->msg.op_name, "DeleteProfile") == 0)
			onvif_fault(r, 0, "env:Sender", "ter:Action", "ter:DeletionOfFixedProfile",
			    "the fixed profiles of the gateway cannot be deleted");
		else
			onvif_fault(r, 0, "env:Receiver", "ter:Action", "ter:ConfigurationConflict",
			    "the fixed profiles of the gateway cannot be changed");
		return NULL;
	}
	onvif_fault_arg(r, "ter:NoProfile", "the profile does not exist");
	return NULL;
}

static void
delete_profile_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	const struct store_profile *sp = own_profile(r, v, st, "Token");

	if (sp == NULL)
		return;
	r->data = gw_xstrdup(sp->token);
	onvif_mcast_profile_deleted(r->principal.authority_id, sp->token);
	onvif_store_profile_delete(r->principal.authority_id, sp->token, profile_written, r);
}

static void
delete_profile(struct onvif_req *r)
{
	onvif_with_view(r, delete_profile_cont);
}

static void
add_configuration_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	const struct store_profile *sp = own_profile(r, v, st, "ProfileToken");
	struct store_profile p;
	char name[72];
	const char *bad;

	if (sp == NULL)
		return;
	p = *sp;
	if (onvif_arg_text(r, "Name", name, sizeof(name)) && name[0] != '\0' && strlen(name) <= 64)
		snprintf(p.name, sizeof(p.name), "%s", name);
	/* Configurations the principal no longer sees cannot pin the profile to their camera. */
	p.cfgs &= view_cfgs_allowed(view_find(v, p.camera_id));
	if ((bad = add_refs(r, v, &p)) != NULL) {
		fault_for_ref(r, bad);
		return;
	}
	r->data = gw_xstrdup(p.token);
	onvif_store_profile_put(r->principal.authority_id, &p, false, profile_written, r);
}

static void
add_configuration(struct onvif_req *r)
{
	onvif_with_view(r, add_configuration_cont);
}

/* RemoveConfiguration: by type (All: everything), a token that is not there is ignored. */
static void
remove_configuration_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	const struct store_profile *sp = own_profile(r, v, st, "ProfileToken");
	struct store_profile p;
	char type[32];

	if (sp == NULL)
		return;
	p = *sp;
	for (xmlNode *c = onvif_arg(r, "Configuration"); c != NULL; c = soap_next(c, NULL, "Configuration")) {
		int k;

		if (!soap_child_text(c, NULL, "Type", type, sizeof(type))) {
			onvif_fault(r, 0, "env:Sender", "ter:InvalidArgs", NULL, "a configuration needs a type");
			return;
		}
		if (strcmp(type, "All") == 0)
			p.cfgs = 0;
		else if ((k = onvif_cfg_kind_parse(type)) >= 0)
			p.cfgs &= ~CFG_BIT(k);
	}
	if (p.cfgs == 0)
		p.camera_id = 0;
	r->data = gw_xstrdup(p.token);
	onvif_store_profile_put(r->principal.authority_id, &p, false, profile_written, r);
}

static void
remove_configuration(struct onvif_req *r)
{
	onvif_with_view(r, remove_configuration_cont);
}

/* --- configurations ------------------------------------------------------------------------ */

static const char *const cfg_ops[CFG_KIND_COUNT] = {
	"VideoSource", "AudioSource", "VideoEncoder", "AudioEncoder", "Metadata",
};

/*
 * The cameras whose configuration of kind |k| a Get*Configurations or
 * Get*ConfigurationOptions request asks for: one by ConfigurationToken,
 * those compatible with ProfileToken (its camera, or any when it is
 * empty), or all. Returns false after a fault.
 */
static bool
select_cfgs(struct onvif_req *r, const struct onvif_view *v, const struct authority_store *st,
    enum cfg_kind k, bool *want)
{
	char token[72];
	struct onvif_profile p;
	enum cfg_kind got;
	const struct view_cam *vc;

	for (int i = 0; i < v->ncams; i++)
		want[i] = (view_cfgs_allowed(&v->cams[i]) & CFG_BIT(k)) != 0;
	if (onvif_arg_text(r, "ConfigurationToken", token, sizeof(token))) {
		if ((vc = m2_resolve_cfg(v, token, &got)) == NULL || got != k) {
			onvif_fault_arg(r, "ter:NoConfig", "the configuration does not exist");
			return false;
		}
		for (int i = 0; i < v->ncams; i++)
			want[i] = &v->cams[i] == vc;
	}
	if (onvif_arg_text(r, "ProfileToken", token, sizeof(token))) {
		if (!view_profile(v, st, token, &p)) {
			onvif_fault_arg(r, "ter:NoProfile", "the profile does not exist");
			return false;
		}
		for (int i = 0; i < v->ncams && p.cfgs != 0; i++)
			want[i] = want[i] && v->cams[i].cam->pc.id == p.camera_id;
	}
	return true;
}

static void
get_configurations_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	enum cfg_kind k = (enum cfg_kind)r->arg;
	bool *want = gw_xcalloc((size_t)v->ncams + 1, sizeof(*want));
	struct onvif_profile *p = NULL;
	int n;

	if (!select_cfgs(r, v, st, k, want)) {
		free(want);
		return;
	}
	n = view_profiles(v, st, &p);
	xmlw_fmt(&r->out, "<tr2:Get%sConfigurationsResponse>", cfg_ops[k]);
	for (int i = 0; i < v->ncams; i++)
		if (want[i])
			onvif_write_cfg(&r->out, k, "tr2:Configurations", &v->cams[i],
			    onvif_use_count(p, n, k, v->cams[i].cam->pc.id), true);
	xmlw_fmt(&r->out, "</tr2:Get%sConfigurationsResponse>", cfg_ops[k]);
	free(p);
	free(want);
	onvif_reply(r);
}

#define GET_CFGS(fn, kind) \
	static void fn(struct onvif_req *r) { r->arg = kind; onvif_with_view(r, get_configurations_cont); }
GET_CFGS(get_video_source_cfgs, CFG_VIDEO_SOURCE)
GET_CFGS(get_audio_source_cfgs, CFG_AUDIO_SOURCE)
GET_CFGS(get_video_encoder_cfgs, CFG_VIDEO_ENCODER)
GET_CFGS(get_audio_encoder_cfgs, CFG_AUDIO_ENCODER)
GET_CFGS(get_metadata_cfgs, CFG_METADATA)

/* Kinds the gateway has none of (PTZ and analytics are not relayed yet; no outputs). */
static void
get_no_configurations(struct onvif_req *r)
{
	char token[72], resp[96];

	if (onvif_arg_text(r, "ConfigurationToken", token, sizeof(token))) {
		onvif_fault_arg(r, "ter:NoConfig", "the configuration does not exist");
		return;
	}
	snprintf(resp, sizeof(resp), "tr2:%sResponse", r->op->name);
	m2_empty_reply(r, resp);
}

static void
no_config_options(struct onvif_req *r)
{
	onvif_fault_arg(r, "ter:NoConfig", "the gateway has no configuration of this kind");
}

static void
write_options(struct xmlw *w, enum cfg_kind k, const struct view_cam *vc)
{
	char token[32];

	switch (k) {
	case CFG_VIDEO_SOURCE:
		xmlw_fmt(w, "<tr2:Options MaximumNumberOfProfiles=\"%d\"><tt:BoundsRange>"
		    "<tt:XRange><tt:Min>0</tt:Min><tt:Max>0</tt:Max></tt:XRange>"
		    "<tt:YRange><tt:Min>0</tt:Min><tt:Max>0</tt:Max></tt:YRange>"
		    "<tt:WidthRange><tt:Min>%d</tt:Min><tt:Max>%d</tt:Max></tt:WidthRange>"
		    "<tt:HeightRange><tt:Min>%d</tt:Min><tt:Max>%d</tt:Max></tt:HeightRange></tt:BoundsRange>",
		    gw.cfg->onvif_max_profiles + 1, vc->media.width, vc->media.width, vc->media.height,
		    vc->media.height);
		view_token(TOK_VIDEO_SOURCE, vc->cam->pc.id, token, sizeof(token));
		xmlw_el(w, "tt:VideoSourceTokensAvailable", token);
		xmlw_lit(w, "</tr2:Options>");
		break;
	case CFG_AUDIO_SOURCE:
		view_token(TOK_AUDIO_SOURCE, vc->cam->pc.id, token, sizeof(token));
		xmlw_lit(w, "<tr2:Options>");
		xmlw_el(w, "tt:InputTokensAvailable", token);
		xmlw_lit(w, "</tr2:Options>");
		break;
	case CFG_VIDEO_ENCODER:
		/* Exactly the source's stream: the gateway relays, it does not transcode. */
		xmlw_lit(w, "<tr2:Options ConstantBitRateSupported=\"false\">");
		xmlw_el(w, "tt:Encoding", vc->media.video);
		xmlw_lit(w, "<tt:QualityRange><tt:Min>0</tt:Min><tt:Max>0</tt:Max></tt:QualityRange>"
		    "<tt:ResolutionsAvailable>");
		xmlw_el_int(w, "tt:Width", vc->media.width);
		xmlw_el_int(w, "tt:Height", vc->media.height);
		xmlw_fmt(w, "</tt:ResolutionsAvailable><tt:BitrateRange><tt:Min>0</tt:Min><tt:Max>%d</tt:Max>"
		    "</tt:BitrateRange></tr2:Options>", (int)(vc->media.bitrate_bps / 1000));
		break;
	case CFG_AUDIO_ENCODER:
		xmlw_lit(w, "<tr2:Options>");
		xmlw_el(w, "tt:Encoding", strcmp(vc->media.audio, "AAC") == 0 ? "mpeg4-generic" : vc->media.audio);
		xmlw_fmt(w, "<tt:BitrateList><tt:Items>64</tt:Items></tt:BitrateList><tt:SampleRateList>"
		    "<tt:Items>%d</tt:Items></tt:SampleRateList></tr2:Options>",
		    (vc->media.audio_rate ? vc->media.audio_rate : 8000) / 1000);
		break;
	case CFG_METADATA:
		xmlw_lit(w, "<tr2:Options GeoLocation=\"false\"><tt:PTZStatusFilterOptions>"
		    "<tt:PanTiltStatusSupported>false</tt:PanTiltStatusSupported>"
		    "<tt:ZoomStatusSupported>false</tt:ZoomStatusSupported></tt:PTZStatusFilterOptions>"
		    "</tr2:Options>");
		break;
	case CFG_KIND_COUNT:
		break;
	}
}

static void
get_options_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	enum cfg_kind k = (enum cfg_kind)r->arg;
	bool *want = gw_xcalloc((size_t)v->ncams + 1, sizeof(*want));
	int first = -1;

	if (!select_cfgs(r, v, st, k, want)) {
		free(want);
		return;
	}
	for (int i = 0; i < v->ncams && first < 0; i++)
		if (want[i])
			first = i;
	free(want);
	if (first < 0) {
		onvif_fault_arg(r, "ter:NoConfig", "no configuration of this kind is visible");
		return;
	}
	xmlw_fmt(&r->out, "<tr2:Get%sConfigurationOptionsResponse>", cfg_ops[k]);
	write_options(&r->out, k, &v->cams[first]);
	xmlw_fmt(&r->out, "</tr2:Get%sConfigurationOptionsResponse>", cfg_ops[k]);
	onvif_reply(r);
}

#define GET_OPTS(fn, kind) \
	static void fn(struct onvif_req *r) { r->arg = kind; onvif_with_view(r, get_options_cont); }
GET_OPTS(get_video_source_opts, CFG_VIDEO_SOURCE)
GET_OPTS(get_audio_source_opts, CFG_AUDIO_SOURCE)
GET_OPTS(get_video_encoder_opts, CFG_VIDEO_ENCODER)
GET_OPTS(get_audio_encoder_opts, CFG_AUDIO_ENCODER)
GET_OPTS(get_metadata_opts, CFG_METADATA)

/*
 * Set*Configuration would change the source itself: level 2 only, and even
 * then only to what the source sends now (the options say so), since the
 * gateway relays the stream as it is. A successful Set is announced.
 */
static void
set_configuration_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	enum cfg_kind k = (enum cfg_kind)r->arg, got;
	xmlNode *cfg = onvif_arg(r, "Configuration");
	char token[72], enc[32];
	const struct view_cam *vc;

	if (!soap_attr(cfg, NULL, "token", token, sizeof(token)) ||
	    (vc = m2_resolve_cfg(v, token, &got)) == NULL || got != k) {
		onvif_fault_arg(r, "ter:NoConfig", "the configuration does not exist");
		return;
	}
	if (!m2_has_level2(v)) {
		onvif_fault(r, 400, "env:Sender", "ter:NotAuthorized", NULL,
		    "changing a camera's configuration needs a level 2 grant");
		return;
	}
	if (k == CFG_VIDEO_ENCODER && soap_child_text(cfg, NULL, "Encoding", enc, sizeof(enc)) &&
	    strcmp(enc, vc->media.video) != 0) {
		onvif_fault(r, 0, "env:Receiver", "ter:InvalidArgVal", "ter:ConfigModify",
		    "the gateway relays the camera's stream and cannot change its encoding");
		return;
	}
	onvif_events_configuration_changed(vc->cam->pc.id, k, token);
	xmlw_fmt(&r->out, "<tr2:Set%sConfigurationResponse/>", cfg_ops[k]);
	onvif_reply(r);
}

#define SET_CFG(fn, kind) \
	static void fn(struct onvif_req *r) { r->arg = kind; onvif_with_view(r, set_configuration_cont); }
SET_CFG(set_video_source_cfg, CFG_VIDEO_SOURCE)
SET_CFG(set_audio_source_cfg, CFG_AUDIO_SOURCE)
SET_CFG(set_video_encoder_cfg, CFG_VIDEO_ENCODER)
SET_CFG(set_audio_encoder_cfg, CFG_AUDIO_ENCODER)
SET_CFG(set_metadata_cfg, CFG_METADATA)

static void
set_no_configuration(struct onvif_req *r)
{
	onvif_fault_arg(r, "ter:NoConfig", "the configuration does not exist");
}

static void
get_encoder_instances_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	char token[72];
	enum cfg_kind k;
	const struct view_cam *vc;

	if (!onvif_arg_text(r, "ConfigurationToken", token, sizeof(token)) ||
	    (vc = m2_resolve_cfg(v, token, &k)) == NULL || k != CFG_VIDEO_SOURCE) {
		onvif_fault_arg(r, "ter:NoConfig", "the video source configuration does not exist");
		return;
	}
	xmlw_lit(&r->out, "<tr2:GetVideoEncoderInstancesResponse><tr2:Info><tr2:Codec>");
	xmlw_el(&r->out, "tr2:Encoding", vc->media.video);
	xmlw_lit(&r->out, "<tr2:Number>1</tr2:Number></tr2:Codec><tr2:Total>1</tr2:Total></tr2:Info>"
	    "</tr2:GetVideoEncoderInstancesResponse>");
	onvif_reply(r);
}

static void
get_encoder_instances(struct onvif_req *r)
{
	onvif_with_view(r, get_encoder_instances_cont);
}

/* --- URIs and synchronisation ---------------------------------------------------- */

/* The profile named by ProfileToken with a camera and configurations, or a fault. */
const struct view_cam *
m2_stream_profile(struct onvif_req *r, const struct onvif_view *v, const struct authority_store *st,
    struct onvif_profile *p)
{
	char token[72];
	const struct view_cam *vc;

	if (!onvif_arg_text(r, "ProfileToken", token, sizeof(token)) || !view_profile(v, st, token, p)) {
		onvif_fault_arg(r, "ter:NoProfile", "the profile does not exist");
		return NULL;
	}
	if (p->cfgs == 0 || (vc = view_find(v, p->camera_id)) == NULL) {
		onvif_fault(r, 0, "env:Receiver", "ter:Action", "ter:IncompleteConfiguration",
		    "the profile has no configuration to stream");
		return NULL;
	}
	if (p->cfgs == CFG_BIT(CFG_METADATA) && vc->media.known && !vc->media.metadata) {
		/* Level 3's profile of a camera whose stream has no metadata track: nothing would play. */
		onvif_fault(r, 0, "env:Receiver", "ter:Action", "ter:IncompleteConfiguration",
		    "the camera sends no metadata: this profile has nothing to stream");
		return NULL;
	}
	return vc;
}

bool
m2_stream_uri(struct onvif_req *r, const struct view_cam *vc, enum stream_proto proto, char *uri,
    size_t len)
{
	const char *why = "";

	if (onvif_stream_uri(r, vc, STREAM_LIVE, proto, uri, len, &why))
		return true;
	onvif_fault_arg(r, proto == STREAM_RTSP_MULTICAST ? "ter:InvalidMulticastSettings" :
	    "ter:InvalidStreamSetup", why);
	return false;
}

bool
m2_snapshot_uri(struct onvif_req *r, const struct view_cam *vc, const struct onvif_profile *p, char *uri,
    size_t len)
{
	if (!(p->cfgs & CFG_BIT(CFG_VIDEO_ENCODER)) || !(vc->caps & CAP_SNAPSHOT)) {
		onvif_fault(r, 0, "env:Receiver", "ter:Action", "ter:IncompleteConfiguration",
		    "the profile has no video to take a snapshot of");
		return false;
	}
	onvif_snapshot_uri(r, p->token, uri, len);
	return true;
}

static bool
parse_protocol(const char *s, enum stream_proto *out)
{
	static const struct { const char *name; enum stream_proto proto; } map[] = {
		{ "RtspUnicast", STREAM_RTSP_UDP }, { "RtspMulticast", STREAM_RTSP_MULTICAST },
		{ "RTSP", STREAM_RTSP_TCP }, { "RtspOverHttp", STREAM_RTSP_HTTP },
		{ "RtspsUnicast", STREAM_RTSPS },
	};

	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (strcmp(map[i].name, s) == 0) {
			*out = map[i].proto;
			return true;
		}
	return false;
}

static void
get_stream_uri_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	struct onvif_profile p;
	const struct view_cam *vc = m2_stream_profile(r, v, st, &p);
	char proto_name[32], uri[512];
	enum stream_proto proto;

	if (vc == NULL)
		return;
	if (!onvif_arg_text(r, "Protocol", proto_name, sizeof(proto_name)) ||
	    !parse_protocol(proto_name, &proto)) {
		onvif_fault_arg(r, "ter:InvalidStreamSetup", "the protocol is not supported");
		return;
	}
	if (!m2_stream_uri(r, vc, proto, uri, sizeof(uri)))
		return;
	xmlw_lit(&r->out, "<tr2:GetStreamUriResponse>");
	xmlw_el(&r->out, "tr2:Uri", uri);
	xmlw_lit(&r->out, "</tr2:GetStreamUriResponse>");
	onvif_reply(r);
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
	xmlw_lit(&r->out, "<tr2:GetSnapshotUriResponse>");
	xmlw_el(&r->out, "tr2:Uri", uri);
	xmlw_lit(&r->out, "</tr2:GetSnapshotUriResponse>");
	onvif_reply(r);
}

static void
get_snapshot_uri(struct onvif_req *r)
{
	onvif_with_view(r, get_snapshot_uri_cont);
}

static void
keyframe_ready(void *arg, struct hub *hub, const char *error)
{
	if (hub != NULL)
		hub_request_keyframe(hub);
}

/* Ask a running source for a keyframe; a source that is not running starts with one anyway. */
void
m2_sync_point(int64_t camera_id)
{
	struct media_status st;
	struct source_wait *w;

	media_camera_status(camera_id, &st);
	if (!st.active)
		return;
	w = source_get(camera_id, keyframe_ready, NULL);
	source_wait_cancel(w);	/* still describing: its first frame is a keyframe */
}

static void
set_sync_point_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	struct onvif_profile p;
	const struct view_cam *vc = m2_stream_profile(r, v, st, &p);

	if (vc == NULL)
		return;
	m2_sync_point(vc->cam->pc.id);
	m2_empty_reply(r, strcmp(r->msg.op_ns, NS_TRT) == 0 ? "trt:SetSynchronizationPointResponse" :
	    "tr2:SetSynchronizationPointResponse");
}

void
m2_set_sync_point(struct onvif_req *r)
{
	onvif_with_view(r, set_sync_point_cont);
}

static const struct onvif_op ops[] = {
	{ "GetServiceCapabilities", get_service_capabilities, OP_PRE_AUTH },
	{ "GetProfiles", get_profiles, 0 },
	{ "CreateProfile", create_profile, OP_WRITES },
	{ "DeleteProfile", delete_profile, OP_WRITES },
	{ "AddConfiguration", add_configuration, OP_WRITES },
	{ "RemoveConfiguration", remove_configuration, OP_WRITES },
	{ "GetVideoSourceConfigurations", get_video_source_cfgs, 0 },
	{ "GetAudioSourceConfigurations", get_audio_source_cfgs, 0 },
	{ "GetVideoEncoderConfigurations", get_video_encoder_cfgs, 0 },
	{ "GetAudioEncoderConfigurations", get_audio_encoder_cfgs, 0 },
	{ "GetMetadataConfigurations", get_metadata_cfgs, 0 },
	{ "GetAnalyticsConfigurations", get_no_configurations, 0 },
	{ "GetAudioOutputConfigurations", get_no_configurations, 0 },
	{ "GetAudioDecoderConfigurations", get_no_configurations, 0 },
	{ "GetVideoSourceConfigurationOptions", get_video_source_opts, 0 },
	{ "GetAudioSourceConfigurationOptions", get_audio_source_opts, 0 },
	{ "GetVideoEncoderConfigurationOptions", get_video_encoder_opts, 0 },
	{ "GetAudioEncoderConfigurationOptions", get_audio_encoder_opts, 0 },
	{ "GetMetadataConfigurationOptions", get_metadata_opts, 0 },
	{ "GetAudioOutputConfigurationOptions", no_config_options, 0 },
	{ "GetAudioDecoderConfigurationOptions", no_config_options, 0 },
	{ "SetVideoSourceConfiguration", set_video_source_cfg, 0 },
	{ "SetAudioSourceConfiguration", set_audio_source_cfg, 0 },
	{ "SetVideoEncoderConfiguration", set_video_encoder_cfg, 0 },
	{ "SetAudioEncoderConfiguration", set_audio_encoder_cfg, 0 },
	{ "SetMetadataConfiguration", set_metadata_cfg, 0 },
	{ "SetAudioOutputConfiguration", set_no_configuration, 0 },
	{ "SetAudioDecoderConfiguration", set_no_configuration, 0 },
	{ "GetVideoEncoderInstances", get_encoder_instances, 0 },
	{ "GetStreamUri", get_stream_uri, 0 },
	{ "GetSnapshotUri", get_snapshot_uri, 0 },
	{ "StartMulticastStreaming", m2_start_multicast, 0 },
	{ "StopMulticastStreaming", m2_stop_multicast, 0 },
	{ "SetSynchronizationPoint", m2_set_sync_point, 0 },
	{ "GetVideoSourceModes", m2_get_video_source_modes, 0 },
	{ "SetVideoSourceMode", m2_set_video_source_mode, 0 },
	{ "GetOSDs", m2_get_osds, 0 },
	{ "GetOSDOptions", m2_get_osd_options, 0 },
	{ "CreateOSD", m2_create_osd, OP_WRITES },
	{ "SetOSD", m2_set_osd, OP_WRITES },
	{ "DeleteOSD", m2_delete_osd, OP_WRITES },
	{ "GetMasks", m2_get_masks, 0 },
	{ "GetMaskOptions", m2_get_mask_options, 0 },
	{ "CreateMask", m2_create_mask, OP_WRITES },
	{ "SetMask", m2_set_mask, OP_WRITES },
	{ "DeleteMask", m2_delete_mask, OP_WRITES },
};

const struct onvif_service_ops onvif_media2_ops = { NS_TR2, ops, ARRAY_SIZE(ops) };
