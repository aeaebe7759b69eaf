/*
 * replay.c - the Replay service (trp): where a recording plays, and the
 * replay configuration.
 *
 * A recording plays at rtsp://HOST:PORT/recordings/<camera id>, built by
 * the same function as the live URIs of Media2 GetStreamUri (the RTSP
 * port, the web-service port for the HTTP tunnel, RTSPS on the TLS port;
 * the WebSocket URI of the capabilities carries either inside it). What
 * may be played, and from when to when, the RTSP server decides on each
 * request from the grant, as it does live.
 *
 * The replay configuration holds only the RTSP session timeout, which is
 * the operator's ([rtsp] session_timeout) for every client alike: an
 * authority may write back the value it read, never change it.
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "onvif.h"
#include "search.h"

#include <stdio.h>
#include <string.h>

void
onvif_caps_replay(struct xmlw *w, const struct onvif_req *r)
{
	char ws[320];
	long long timeout_s = (long long)(gw.cfg->rtsp_session_timeout_ms / 1000);

	onvif_websocket_uri(r, ws, sizeof(ws));
	xmlw_fmt(w, "<trp:Capabilities ReversePlayback=\"true\" SessionTimeoutRange=\"%lld %lld\""
	    " RTP_RTSP_TCP=\"true\"", timeout_s, timeout_s);
	xmlw_attr(w, "RTSPWebSocketUri", ws);
	xmlw_lit(w, "/>");
}

static void
get_service_capabilities(struct onvif_req *r)
{
	xmlw_lit(&r->out, "<trp:GetServiceCapabilitiesResponse>");
	onvif_caps_replay(&r->out, r);
	xmlw_lit(&r->out, "</trp:GetServiceCapabilitiesResponse>");
	onvif_reply(r);
}

/* --- GetReplayUri ------------------------------------------------------------------------------ */

/*
 * tt:StreamSetup as Media v1 spells it (RTP-Unicast over UDP, TCP, RTSP or
 * HTTP, with an optional HTTP tunnel inside), and the Media2 protocol
 * names some clients send here too. Multicast is refused further on.
 */
static bool
stream_setup(const struct onvif_req *r, enum stream_proto *proto)
{
	static const struct { const char *name; enum stream_proto proto; } media2[] = {
		{ "RtspUnicast", STREAM_RTSP_UDP }, { "RtspMulticast", STREAM_RTSP_MULTICAST },
		{ "RtspOverHttp", STREAM_RTSP_HTTP }, { "RtspsUnicast", STREAM_RTSPS },
	};
	xmlNode *setup = onvif_arg(r, "StreamSetup"), *transport = soap_child(setup, NULL, "Transport");
	char stream[32], protocol[32], tunnel[32] = "";

	if (!soap_child_text(setup, NULL, "Stream", stream, sizeof(stream)) ||
	    !soap_child_text(transport, NULL, "Protocol", protocol, sizeof(protocol)))
		return false;
	(void)soap_child_text(soap_child(transport, NULL, "Tunnel"), NULL, "Protocol", tunnel, sizeof(tunnel));
	if (strcmp(stream, "RTP-Multicast") == 0) {
		*proto = STREAM_RTSP_MULTICAST;
		return true;
	}
	if (strcmp(stream, "RTP-Unicast") != 0)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(media2); i++)
		if (strcmp(protocol, media2[i].name) == 0) {
			*proto = media2[i].proto;
			return true;
		}
	if (strcmp(protocol, "HTTP") == 0 || strcmp(tunnel, "HTTP") == 0)
		*proto = STREAM_RTSP_HTTP;
	else if (strcmp(protocol, "UDP") == 0)
		*proto = STREAM_RTSP_UDP;
	else if (strcmp(protocol, "TCP") == 0 || strcmp(protocol, "RTSP") == 0)
		*proto = STREAM_RTSP_TCP;
	else
		return false;
	return true;
}

/*
 * A camera the principal does not see, or that is no recording, has no
 * recording: the same fault for both. One it sees but may not replay
 * (level 3, or a grant whose footage window is still to come) is refused.
 */
static void
get_replay_uri_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	char token[72], uri[512];
	enum stream_proto proto;
	struct recording rec;
	int64_t id, lo, hi;
	const struct view_cam *vc;
	const char *why = "";

	(void)st;
	if (!stream_setup(r, &proto)) {
		onvif_fault_arg(r, "ter:InvalidStreamSetup", "the stream setup is not supported");
		return;
	}
	if (!onvif_arg_text(r, "RecordingToken", token, sizeof(token)) || !rec_parse_token(token, &id) ||
	    (vc = view_find(v, id)) == NULL) {
		onvif_fault_arg(r, "ter:NoRecording", "the recording does not exist");
		return;
	}
	if (!(vc->caps & CAP_REPLAY) || !rec_window(v, &lo, &hi)) {
		onvif_fault_not_authorized(r, !(vc->caps & CAP_REPLAY) ?
		    "the grant's levels do not permit replay" : "the grant's footage window has not begun");
		return;
	}
	if (!rec_of(v, vc, &rec)) {
		onvif_fault_arg(r, "ter:NoRecording", "the recording does not exist");
		return;
	}
	if (!onvif_stream_uri(r, vc, STREAM_REPLAY, proto, uri, sizeof(uri), &why)) {
		onvif_fault_arg(r, "ter:InvalidStreamSetup", why);
		return;
	}
	xmlw_lit(&r->out, "<trp:GetReplayUriResponse>");
	xmlw_el(&r->out, "trp:Uri", uri);
	xmlw_lit(&r->out, "</trp:GetReplayUriResponse>");
	onvif_reply(r);
}

static void
get_replay_uri(struct onvif_req *r)
{
	onvif_with_view(r, get_replay_uri_cont);
}

/* --- the configuration ----------------------------------------------------------------------------- */

static void
get_replay_configuration(struct onvif_req *r)
{
	xmlw_fmt(&r->out, "<trp:GetReplayConfigurationResponse><trp:Configuration><tt:SessionTimeout>PT%lldS"
	    "</tt:SessionTimeout></trp:Configuration></trp:GetReplayConfigurationResponse>",
	    (long long)(gw.cfg->rtsp_session_timeout_ms / 1000));
	onvif_reply(r);
}

static void
set_replay_configuration(struct onvif_req *r)
{
	char text[64];
	int64_t us;

	if (!soap_child_text(onvif_arg(r, "Configuration"), NULL, "SessionTimeout", text, sizeof(text)) ||
	    soap_parse_duration(text, &us) < 0) {
		onvif_fault_arg(r, "ter:ConfigModify", "the configuration holds no valid SessionTimeout");
		return;
	}
	if (us / 1000000 != gw.cfg->rtsp_session_timeout_ms / 1000) {
		onvif_fault_arg(r, "ter:ConfigModify",
		    "the session timeout is the gateway operator's ([rtsp] session_timeout), the same for every client");
		return;
	}
	xmlw_lit(&r->out, "<trp:SetReplayConfigurationResponse/>");
	onvif_reply(r);
}

static const struct onvif_op ops[] = {
	{ "GetServiceCapabilities", get_service_capabilities, OP_PRE_AUTH },
	{ "GetReplayUri", get_replay_uri, 0 },
	{ "GetReplayConfiguration", get_replay_configuration, 0 },
	{ "SetReplayConfiguration", set_replay_configuration, 0 },
};

const struct onvif_service_ops onvif_replay_ops = { NS_TRP, ops, ARRAY_SIZE(ops) };
