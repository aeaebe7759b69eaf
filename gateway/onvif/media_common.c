/*
 * media_common.c - what Media2 and the Media v1 facade write alike: the
 * configurations and sources of a camera, stream and snapshot URIs.
 *
 * The gateway relays each camera's stream as the camera sends it, so every
 * configuration describes the stream of the source (codec, size, rate, as
 * far as the hub has seen them); nothing here is settable, and the options
 * list exactly the current values.
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "onvif.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_TIMEOUT "PT60S"

/* tt:Name is at most 64 characters; camera names may be longer: cut on a character. */
static void
write_name(struct xmlw *w, const char *tag, const char *name)
{
	char cut[72];
	size_t n = strlen(name);

	if (n > 64)
		n = 64;
	while (n > 0 && ((unsigned char)name[n] & 0xc0) == 0x80)
		n--;
	snprintf(cut, sizeof(cut), "%.*s", (int)n, name);
	xmlw_el(w, tag, cut);
}

static void
entity_head(struct xmlw *w, const char *tag, enum cfg_kind k, const struct view_cam *vc, int use)
{
	char token[32];

	view_cfg_token(k, vc->cam->pc.id, token, sizeof(token));
	xmlw_open_attr(w, tag, "token", token);
	xmlw_lit(w, ">");
	write_name(w, "tt:Name", vc->cam->name);
	xmlw_el_int(w, "tt:UseCount", use);
}

static void
close_el(struct xmlw *w, const char *tag)
{
	xmlw_lit(w, "</");
	xmlw_lit(w, tag);
	xmlw_lit(w, ">");
}

/* The camera's multicast group (if it has one) at port + 2 * |track|. */
static void
write_multicast(struct xmlw *w, const struct view_cam *vc, int track)
{
	const char *group = vc->cam->multicast_group;
	bool v6 = group != NULL && strchr(group, ':') != NULL;

	xmlw_lit(w, "<tt:Multicast><tt:Address><tt:Type>");
	xmlw_lit(w, v6 ? "IPv6" : "IPv4");
	xmlw_lit(w, "</tt:Type>");
	xmlw_el(w, v6 ? "tt:IPv6Address" : "tt:IPv4Address", group ? group : "0.0.0.0");
	xmlw_lit(w, "</tt:Address>");
	xmlw_el_int(w, "tt:Port", group ? vc->cam->multicast_port + 2 * track : 0);
	xmlw_el_int(w, "tt:TTL", group ? gw.cfg->rtsp_multicast_ttl : 0);
	xmlw_lit(w, "<tt:AutoStart>false</tt:AutoStart></tt:Multicast>");
}

static void
write_resolution(struct xmlw *w, const char *tag, int width, int height)
{
	xmlw_lit(w, "<");
	xmlw_lit(w, tag);
	xmlw_lit(w, ">");
	xmlw_el_int(w, "tt:Width", width);
	xmlw_el_int(w, "tt:Height", height);
	close_el(w, tag);
}

void
onvif_write_video_source_cfg(struct xmlw *w, const char *tag, const struct view_cam *vc, int use)
{
	char src[32];

	entity_head(w, tag, CFG_VIDEO_SOURCE, vc, use);
	view_token(TOK_VIDEO_SOURCE, vc->cam->pc.id, src, sizeof(src));
	xmlw_el(w, "tt:SourceToken", src);
	xmlw_fmt(w, "<tt:Bounds x=\"0\" y=\"0\" width=\"%d\" height=\"%d\"/>", vc->media.width,
	    vc->media.height);
	close_el(w, tag);
}

void
onvif_write_audio_source_cfg(struct xmlw *w, const char *tag, const struct view_cam *vc, int use)
{
	char src[32];

	entity_head(w, tag, CFG_AUDIO_SOURCE, vc, use);
	view_token(TOK_AUDIO_SOURCE, vc->cam->pc.id, src, sizeof(src));
	xmlw_el(w, "tt:SourceToken", src);
	close_el(w, tag);
}

static int
bitrate_kbps(const struct view_cam *vc)
{
	return (int)(vc->media.bitrate_bps / 1000.0);
}

int
onvif_frame_rate(const struct view_cam *vc)
{
	return (int)(vc->media.fps + 0.5);
}

const char *
onvif_h264_profile(const struct view_cam *vc)
{
	switch (vc->media.profile_idc) {
	case 66:
		return "Baseline";
	case 88:
		return "Extended";
	case 0:
	case 77:
		return "Main";	/* unknown: what most cameras send */
	default:
		return "High";
	}
}

/*
 * Media v1 knows only JPEG, MPEG4 and H264 as encodings; an H.265 camera is
 * still reported as "H265" there, as devices do in practice.
 */
void
onvif_write_video_encoder_cfg(struct xmlw *w, const char *tag, const struct view_cam *vc, int use, bool v2)
{
	const char *enc = vc->media.video;

	entity_head(w, tag, CFG_VIDEO_ENCODER, vc, use);
	xmlw_el(w, "tt:Encoding", enc);
	write_resolution(w, "tt:Resolution", vc->media.width, vc->media.height);
	if (v2) {
		xmlw_lit(w, "<tt:RateControl ConstantBitRate=\"false\">");
		xmlw_el_int(w, "tt:FrameRateLimit", onvif_frame_rate(vc));
		xmlw_el_int(w, "tt:BitrateLimit", bitrate_kbps(vc));
		xmlw_lit(w, "</tt:RateControl>");
		write_multicast(w, vc, 0);
		xmlw_lit(w, "<tt:Quality>0</tt:Quality>");
	} else {
		xmlw_lit(w, "<tt:Quality>0</tt:Quality><tt:RateControl>");
		xmlw_el_int(w, "tt:FrameRateLimit", onvif_frame_rate(vc));
		xmlw_lit(w, "<tt:EncodingInterval>1</tt:EncodingInterval>");
		xmlw_el_int(w, "tt:BitrateLimit", bitrate_kbps(vc));
		xmlw_lit(w, "</tt:RateControl>");
		if (strcmp(enc, "H264") == 0) {
			xmlw_lit(w, "<tt:H264><tt:GovLength>0</tt:GovLength>");
			xmlw_el(w, "tt:H264Profile", onvif_h264_profile(vc));
			xmlw_lit(w, "</tt:H264>");
		}
		write_multicast(w, vc, 0);
		xmlw_el(w, "tt:SessionTimeout", SESSION_TIMEOUT);
	}
	close_el(w, tag);
}

/* v1 names G.711 and AAC; v2 uses the RTP encoding names. */
static const char *
audio_encoding(const struct view_cam *vc, bool v2)
{
	const char *a = vc->media.audio;

	if (v2)
		return strcmp(a, "AAC") == 0 ? "mpeg4-generic" : a;
	if (strcmp(a, "PCMU") == 0 || strcmp(a, "PCMA") == 0)
		return "G711";
	return strcmp(a, "G726") == 0 ? "G726" : "AAC";
}

void
onvif_write_audio_encoder_cfg(struct xmlw *w, const char *tag, const struct view_cam *vc, int use, bool v2)
{
	int rate = vc->media.audio_rate ? vc->media.audio_rate : 8000;

	entity_head(w, tag, CFG_AUDIO_ENCODER, vc, use);
	xmlw_el(w, "tt:Encoding", audio_encoding(vc, v2));
	if (v2) {
		write_multicast(w, vc, 1);
		xmlw_el_int(w, "tt:Bitrate", 64);
		xmlw_el_int(w, "tt:SampleRate", rate / 1000);
	} else {
		xmlw_el_int(w, "tt:Bitrate", 64);
		xmlw_el_int(w, "tt:SampleRate", rate / 1000);
		write_multicast(w, vc, 1);
		xmlw_el(w, "tt:SessionTimeout", SESSION_TIMEOUT);
	}
	close_el(w, tag);
}

void
onvif_write_metadata_cfg(struct xmlw *w, const char *tag, const struct view_cam *vc, int use)
{
	entity_head(w, tag, CFG_METADATA, vc, use);
	xmlw_lit(w, "<tt:Analytics>true</tt:Analytics>");
	write_multicast(w, vc, 2);
	xmlw_el(w, "tt:SessionTimeout", SESSION_TIMEOUT);
	close_el(w, tag);
}

void
onvif_write_cfg(struct xmlw *w, enum cfg_kind k, const char *tag, const struct view_cam *vc, int use, bool v2)
{
	switch (k) {
	case CFG_VIDEO_SOURCE:
		onvif_write_video_source_cfg(w, tag, vc, use);
		break;
	case CFG_AUDIO_SOURCE:
		onvif_write_audio_source_cfg(w, tag, vc, use);
		break;
	case CFG_VIDEO_ENCODER:
		onvif_write_video_encoder_cfg(w, tag, vc, use, v2);
		break;
	case CFG_AUDIO_ENCODER:
		onvif_write_audio_encoder_cfg(w, tag, vc, use, v2);
		break;
	case CFG_METADATA:
		onvif_write_metadata_cfg(w, tag, vc, use);
		break;
	case CFG_KIND_COUNT:
		break;
	}
}

void
onvif_write_video_source(struct xmlw *w, const char *tag, const struct view_cam *vc)
{
	char token[32];

	view_token(TOK_VIDEO_SOURCE, vc->cam->pc.id, token, sizeof(token));
	xmlw_open_attr(w, tag, "token", token);
	xmlw_lit(w, ">");
	xmlw_el_int(w, "tt:Framerate", onvif_frame_rate(vc));
	write_resolution(w, "tt:Resolution", vc->media.width, vc->media.height);
	close_el(w, tag);
}

void
onvif_write_audio_source(struct xmlw *w, const char *tag, const struct view_cam *vc)
{
	char token[32];

	view_token(TOK_AUDIO_SOURCE, vc->cam->pc.id, token, sizeof(token));
	xmlw_open_attr(w, tag, "token", token);
	xmlw_lit(w, ">");
	xmlw_el_int(w, "tt:Channels", vc->media.audio_channels ? vc->media.audio_channels : 1);
	close_el(w, tag);
}

int
onvif_use_count(const struct onvif_profile *p, int n, enum cfg_kind k, int64_t camera_id)
{
	int use = 0;

	for (int i = 0; i < n; i++)
		if (p[i].camera_id == camera_id && (p[i].cfgs & CFG_BIT(k)))
			use++;
	return use;
}

/* --- URIs ------------------------------------------------------------------------ */

/* Port of the first address of a listen key, 0 when there is none. */
static int
listen_port(const struct cfg_listen *l)
{
	const char *colon;

	if (l->count == 0 || (colon = strrchr(l->addr[0], ':')) == NULL)
		return 0;
	return (int)strtol(colon + 1, NULL, 10);
}

bool
onvif_stream_uri(const struct onvif_req *r, const struct view_cam *vc, enum stream_target target,
    enum stream_proto proto, char *out, size_t outlen, const char **why)
{
	const char *scheme = "rtsp";
	int port = listen_port(&gw.cfg->listen_rtsp);

	/* Every listener also speaks RTSP: without an RTSP one, the HTTP port serves. */
	if (port == 0)
		port = listen_port(&gw.cfg->listen_http);
	switch (proto) {
	case STREAM_RTSP_UDP:
		if (gw.cfg->rtsp_udp_port == 0) {
			*why = "RTP over UDP is turned off on this gateway";
			return false;
		}
		break;
	case STREAM_RTSP_MULTICAST:
		if (target == STREAM_REPLAY) {
			*why = "replay is unicast: each client plays its own point in time";
			return false;
		}
		if (vc->cam->multicast_group == NULL) {
			*why = "the camera has no multicast group";
			return false;
		}
		break;
	case STREAM_RTSP_TCP:
		break;
	case STREAM_RTSP_HTTP:
		port = r->port;		/* the web-service port: one port for NAT */
		break;
	case STREAM_RTSPS:
		if ((port = listen_port(&gw.cfg->listen_tls)) == 0) {
			*why = "the gateway has no TLS listener";
			return false;
		}
		scheme = "rtsps";
		break;
	}
	snprintf(out, outlen, "%s://%s:%d/%s/%lld", scheme, onvif_public_host(r), port,
	    target == STREAM_REPLAY ? "recordings" : "cameras", (long long)vc->cam->pc.id);
	return true;
}

/* On the web-service port the request came in on; wss:// when it came over TLS. */
void
onvif_websocket_uri(const struct onvif_req *r, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s://%s:%d/rtsp-over-websocket", r->tls ? "wss" : "ws", onvif_public_host(r),
	    r->port);
}

void
onvif_snapshot_uri(const struct onvif_req *r, const char *profile_token, char *out, size_t outlen)
{
	char base[320];

	onvif_base_url(r, base, sizeof(base));
	snprintf(out, outlen, "%s/onvif/snapshot/%s", base, profile_token);
}
