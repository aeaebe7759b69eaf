/* test_sdp.c - SDP parse (real SDPs in t/data/sdp/), build, fmtp helpers. */
#include "proto/sdp.h"
#include "t/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sdp sdp;	/* ~20 KB: not on the stack */

static size_t
read_data(const char *name, char *buf, size_t cap)
{
	FILE *fp = fopen(tap_data_path(name), "rb");
	size_t n = 0;

	if (fp != NULL) {
		n = fread(buf, 1, cap, fp);
		fclose(fp);
	}
	return n;
}

static int
parse_file(const char *name, char *buf, size_t cap)
{
	size_t n = read_data(name, buf, cap);

	ok(n > 0, "%s read", name);
	return sdp_parse(buf, n, 16384, &sdp);
}

static void
test_ffmpeg_h264(void)
{
	static char buf[4096];
	struct proto_str fmtp;
	struct sdp_h264 h;

	is_int(parse_file("sdp/ffmpeg_h264.sdp", buf, sizeof(buf)), 0, "ffmpeg H.264 SDP parses");
	ok(proto_str_eq(sdp.session_name, "No Name"), "s=");
	ok(sdp.conn.present && proto_str_eq(sdp.conn.addr, "127.0.0.1") && sdp.conn.ttl == -1,
	    "session c=");
	is_int(sdp.nmedia, 1, "one media");
	ok(proto_str_eq(sdp.media[0].type, "video") && sdp.media[0].port == 5000 &&
	    sdp.media[0].rtp && sdp.media[0].nfmts == 1 && sdp.media[0].fmts[0] == 96, "m= line");
	ok(proto_str_eq(sdp_media_rtpmap(&sdp.media[0], 96)->encoding, "H264") &&
	    sdp_media_rtpmap(&sdp.media[0], 96)->clock_rate == 90000, "rtpmap H264/90000");
	ok(sdp_media_fmtp(&sdp.media[0], 96, &fmtp), "fmtp present");
	is_int(sdp_h264_fmtp_parse(fmtp, &h), 0, "H.264 fmtp parses");
	ok(h.packetization_mode == 1 && h.has_profile_level_id && h.profile_idc == 0xf4 &&
	    h.level_idc == 0x0c, "packetization-mode, profile-level-id");
	ok(h.sps_len == 25 && h.sps[0] == 0x67 && h.sps[1] == 0xf4, "SPS decoded");
	ok(h.pps_len == 6 && h.pps[0] == 0x68, "PPS decoded");
}

static void
test_ffmpeg_h265(void)
{
	static char buf[4096];
	struct proto_str fmtp;
	struct sdp_h265 h;
	char out[512];
	int n;

	is_int(parse_file("sdp/ffmpeg_h265.sdp", buf, sizeof(buf)), 0, "ffmpeg H.265 SDP parses");
	ok(sdp_media_fmtp(&sdp.media[0], 96, &fmtp), "fmtp present");
	is_int(sdp_h265_fmtp_parse(fmtp, &h), 0, "H.265 fmtp parses");
	ok(h.vps_len == 23 && h.vps[0] == 0x40, "VPS (type 32)");
	ok(h.sps_len == 44 && h.sps[0] == 0x42, "SPS (type 33)");
	ok(h.pps_len == 8 && h.pps[0] == 0x44, "PPS (type 34)");
	n = sdp_h265_fmtp_format(h.vps, h.vps_len, h.sps, h.sps_len, h.pps, h.pps_len, out,
	    sizeof(out));
	ok(n > 0 && strstr(fmtp.p, "sprop-vps=QAEMAf//BAgAAAMAnggAAAMAADyVmAk=") != NULL &&
	    strstr(out, "sprop-vps=QAEMAf//BAgAAAMAnggAAAMAADyVmAk=;sprop-sps=QgEBBAgAAAMAnggAAAMA"
	    "ADyQAUEB4ssrNJJleAtwICAAQAAAAwBAAAADAoI=;sprop-pps=RAHBcoYMRiQ=") == out,
	    "format gives FFmpeg's base64 back");
	is_int(sdp_h265_fmtp_format(h.sps, h.sps_len, h.sps, h.sps_len, h.pps, h.pps_len, out,
	    sizeof(out)), PROTO_EBADMSG, "an SPS where the VPS goes");
}

static void
test_ffmpeg_aac(void)
{
	static char buf[4096];
	struct proto_str fmtp;
	struct sdp_aac a;

	is_int(parse_file("sdp/ffmpeg_av.sdp", buf, sizeof(buf)), 0, "ffmpeg A/V SDP parses");
	is_int(sdp.nmedia, 2, "two media");
	ok(sdp.media[1].conn.present && proto_str_eq(sdp.media[1].conn.addr, "127.0.0.1"),
	    "media-level c=");
	ok(sdp_media_rtpmap(&sdp.media[1], 97)->channels == 2, "MPEG4-GENERIC/48000/2");
	ok(sdp_media_fmtp(&sdp.media[1], 97, &fmtp), "AAC fmtp");
	is_int(sdp_aac_fmtp_parse(fmtp, &a), 0, "AAC fmtp parses");
	ok(a.mode == SDP_AAC_HBR && a.sizelength == 13 && a.indexlength == 3 &&
	    a.indexdeltalength == 3, "AAC-hbr 13/3/3");
	is_int((long long)a.config_len, 5, "FFmpeg's 5-byte config");
	ok(a.asc.object_type == 2 && a.asc.sample_rate == 48000 && a.asc.freq_index == 3 &&
	    a.asc.channel_config == 2, "LC, 48 kHz, stereo");
	ok(a.asc.has_sync_ext && a.asc.ext_object_type == 5 && !a.asc.sbr_present,
	    "sync extension 0x2b7: SBR signalled absent");
}

static void
test_camera(void)
{
	static char buf[4096];
	struct proto_str fmtp, v;
	struct sdp_aac a;
	struct sdp_h264 h;

	is_int(parse_file("sdp/camera_onvif.sdp", buf, sizeof(buf)), 0, "camera SDP (CRLF) parses");
	ok(proto_str_eq(sdp.control, "rtsp://192.168.0.90/onvif-media/media.amp"),
	    "session control");
	ok(proto_str_eq(sdp.range, "npt=now-"), "session range");
	is_int(sdp.nattrs, 4, "session attributes kept");
	is_int(sdp.nmedia, 3, "three media");
	is_int(sdp.media[0].framerate_milli, 25000, "framerate 25.000000");
	ok(proto_str_eq(sdp.media[0].control,
	    "rtsp://192.168.0.90/onvif-media/media.amp/stream=0"), "absolute media control");
	ok(sdp_media_attr(&sdp.media[0], "transform") != NULL, "unknown attribute kept");
	sdp_media_fmtp(&sdp.media[0], 96, &fmtp);
	ok(sdp_h264_fmtp_parse(fmtp, &h) == 0 && h.profile_idc == 0x4d && h.level_idc == 0x29 &&
	    h.sps[0] == 0x67 && h.pps_len == 4, "H.264 params");
	sdp_media_fmtp(&sdp.media[1], 97, &fmtp);
	is_int(sdp_aac_fmtp_parse(fmtp, &a), 0, "mixed-case keys, trailing ';'");
	ok(a.sizelength == 13 && a.asc.sample_rate == 16000 && a.asc.channel_config == 1 &&
	    !a.asc.has_sync_ext, "config=1408: LC 16 kHz mono");
	is_int(sdp_fmtp_get(fmtp, "BITRATE", &v), 1, "key lookup is case-insensitive");
	ok(proto_str_eq(v, "32000"), "value trimmed");
	is_int(sdp_fmtp_get(fmtp, "absent", &v), 0, "absent key");
	ok(proto_str_eq(sdp_media_rtpmap(&sdp.media[2], 98)->encoding, "vnd.onvif.metadata"),
	    "metadata rtpmap");
}

static void
test_replay_multicast(void)
{
	static char buf[4096];

	is_int(parse_file("sdp/replay_multicast.sdp", buf, sizeof(buf)), 0, "replay SDP parses");
	ok(sdp.conn.present && proto_str_eq(sdp.conn.addr, "239.1.2.3") && sdp.conn.ttl == 64,
	    "multicast c= with TTL");
	ok(proto_str_eq(sdp.range, "clock=20240101T000000Z-20240101T010000Z"), "clock range");
	ok(proto_str_eq(sdp.media[0].onvif_track, "VIDEO001") && sdp.media[0].dir == SDP_RECVONLY,
	    "x-onvif-track, recvonly");
	ok(sdp.media[1].port == 5002 && sdp.media[1].nports == 2 && sdp.media[1].nfmts == 2,
	    "port/2 and two formats");
	ok(sdp.media[1].conn.ttl == 16 && sdp.media[1].conn.naddr == 2, "c= ttl and count");
	ok(sdp.media[1].dir == SDP_SENDONLY && sdp_media_rtpmap(&sdp.media[1], 8)->channels == 1,
	    "sendonly, PCMA/8000/1");
	ok(!sdp.media[2].rtp && sdp.media[2].nfmts == 0, "non-RTP media: formats ignored");
}

static void
test_bad(void)
{
	static const struct {
		const char *text;
		int rc;
		const char *name;
	} cases[] = {
		{ "", PROTO_EBADMSG, "empty" },
		{ "o=- 0 0 IN IP4 1.2.3.4\nv=0\n", PROTO_EBADMSG, "v= not first" },
		{ "v=1\n", PROTO_EVERSION, "v=1" },
		{ "v=0\nm=video 0 RTP/AVP 128\n", PROTO_EBADMSG, "payload type 128" },
		{ "v=0\nm=video 70000 RTP/AVP 96\n", PROTO_EBADMSG, "port 70000" },
		{ "v=0\nm=video 0/0 RTP/AVP 96\n", PROTO_EBADMSG, "port/0" },
		{ "v=0\nm=video 0 RTP/AVP x\n", PROTO_EBADMSG, "payload type x" },
		{ "v=0\nm=video 0\n", PROTO_EBADMSG, "short m=" },
		{ "v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\na=rtpmap:96 H265/90000\n",
			PROTO_EBADMSG, "rtpmap twice" },
		{ "v=0\nm=video 0 RTP/AVP 96\na=fmtp:96 a=1\na=fmtp:96 a=2\n", PROTO_EBADMSG,
			"fmtp twice" },
		{ "v=0\nm=video 0 RTP/AVP 96\na=control:a\na=control:b\n", PROTO_EBADMSG,
			"control twice" },
		{ "v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/0\n", PROTO_EBADMSG, "clock rate 0" },
		{ "v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264\n", PROTO_EBADMSG, "no clock rate" },
		{ "v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 H2 64/90000\n", PROTO_EBADMSG,
			"blank in encoding" },
		{ "v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/99999999999\n", PROTO_EBADMSG,
			"clock rate > 32 bits" },
		{ "v=0\nm=video 0 RTP/AVP 96\na=framerate:abc\n", PROTO_EBADMSG, "framerate" },
		{ "v=0\nc=IN IP4 224.1.1.1/300\n", PROTO_EBADMSG, "ttl 300" },
		{ "v=0\nc=IN IPX 1.2.3.4\n", PROTO_EBADMSG, "address type" },
		{ "v=0\nc=IN IP4 1.2.3.4 extra\n", PROTO_EBADMSG, "extra word in c=" },
		{ "v=0\nXYZ\n", PROTO_EBADMSG, "not a type=value line" },
		{ "v=0\ns=a\x01" "b\n", PROTO_EBADMSG, "control character" },
		{ "v=0\ns=a\ns=b\n", PROTO_EBADMSG, "s= twice" },
		{ "v=0\na=\n", PROTO_EBADMSG, "empty attribute name" },
	};
	static char big[20000];
	size_t n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(sdp_parse(cases[i].text, strlen(cases[i].text), 16384, &sdp), cases[i].rc,
		    cases[i].name);
	n = (size_t)snprintf(big, sizeof(big), "v=0\n");
	for (int i = 0; i < 9; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "m=audio 0 RTP/AVP 0\n");
	is_int(sdp_parse(big, n, 16384, &sdp), PROTO_ETOOBIG, "nine media");
	n = (size_t)snprintf(big, sizeof(big), "v=0\nm=audio 0 RTP/AVP");
	for (int i = 0; i < 17; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, " %d", i);
	is_int(sdp_parse(big, n, 16384, &sdp), PROTO_ETOOBIG, "seventeen formats");
	n = (size_t)snprintf(big, sizeof(big), "v=0\n");
	for (int i = 0; i < 33; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "a=x%d\n", i);
	is_int(sdp_parse(big, n, 16384, &sdp), PROTO_ETOOBIG, "33 session attributes");
	is_int(sdp_parse(big, n, 100, &sdp), PROTO_ETOOBIG, "over max_size");
	memset(big, 'x', sizeof(big));
	memcpy(big, "v=0\ns=", 6);
	is_int(sdp_parse(big, 6 + SDP_MAX_LINE, sizeof(big), &sdp), PROTO_ETOOBIG, "overlong line");
}

static const char want_sdp[] =
    "v=0\r\n"
    "o=- 42 7 IN IP4 192.0.2.10\r\n"
    "s=cam-7\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "t=0 0\r\n"
    "a=control:*\r\n"
    "a=range:npt=now-\r\n"
    "m=video 0 RTP/AVP 96\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1;profile-level-id=F4000C;"
    "sprop-parameter-sets=Z/QADJGbKCg/YCIAAAMAAgAAAwAoHihTLA==,aOvjxEhE\r\n"
    "a=framerate:29.970\r\n"
    "a=control:trackID=0\r\n"
    "m=audio 0 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=recvonly\r\n"
    "a=control:trackID=1\r\n"
    "m=application 0 RTP/AVP 107\r\n"
    "a=rtpmap:107 vnd.onvif.metadata/90000\r\n"
    "a=control:trackID=2\r\n";

static void
test_build(void)
{
	static char buf[4096], out[4096], fmtp[512];
	struct sdp_h264 h;
	struct proto_str f;
	struct sdp_build_media m[3] = {
		{ .type = "video", .pt = 96, .encoding = "H264", .clock_rate = 90000, .fmtp = fmtp,
		  .track = 0, .framerate_milli = 29970 },
		{ .type = "audio", .pt = 0, .encoding = "PCMU", .clock_rate = 8000, .track = 1,
		  .dir = SDP_RECVONLY },
		{ .type = "application", .pt = 107, .encoding = "vnd.onvif.metadata",
		  .clock_rate = 90000, .track = 2 },
	};
	struct sdp_build b = { .session_id = 42, .session_version = 7,
		.origin_addr = "192.0.2.10", .session_name = "cam-7", .media = m, .nmedia = 3 };
	int n;

	parse_file("sdp/ffmpeg_h264.sdp", buf, sizeof(buf));
	sdp_media_fmtp(&sdp.media[0], 96, &f);
	sdp_h264_fmtp_parse(f, &h);
	n = sdp_h264_fmtp_format(h.sps, h.sps_len, h.pps, h.pps_len, fmtp, sizeof(fmtp));
	ok(n > 0, "H.264 fmtp from SPS/PPS");
	n = sdp_build(&b, out, sizeof(out));
	is_int(n, (long long)strlen(want_sdp), "built length");
	is_str(out, want_sdp, "built SDP, rtpmap even for PT 0");
	is_int(sdp_parse(out, (size_t)n, 16384, &sdp), 0, "our SDP parses back");
	for (int i = 0; i < 3; i++)
		ok(sdp_media_rtpmap(&sdp.media[i], m[i].pt) != NULL, "media %d has an rtpmap", i);
	b.multicast_addr = "239.5.6.7";
	b.ttl = 15;
	b.range = "clock=20240101T000000Z-";
	n = sdp_build(&b, out, sizeof(out));
	ok(n > 0 && strstr(out, "c=IN IP4 239.5.6.7/15\r\n") && strstr(out,
	    "a=range:clock=20240101T000000Z-\r\n"), "multicast c= with TTL, clock range");
	is_int(sdp_parse(out, (size_t)n, 16384, &sdp), 0, "parses back");
	is_int(sdp.conn.ttl, 15, "TTL read back");
	b.ttl = 0;
	is_int(sdp_build(&b, out, sizeof(out)), PROTO_EBADMSG, "multicast without TTL");
	b.multicast_addr = NULL;
	b.session_name = "evil\r\nm=video 1 RTP/AVP 1";
	is_int(sdp_build(&b, out, sizeof(out)), PROTO_EBADMSG, "CR/LF injection refused");
	b.session_name = "x";
	is_int(sdp_build(&b, out, 100), PROTO_ETOOBIG, "small buffer");
	b.nmedia = 0;
	is_int(sdp_build(&b, out, sizeof(out)), PROTO_EBADMSG, "no media");
}

static void
test_fmtp_helpers(void)
{
	static const uint8_t sps[] = { 0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00 };
	static const uint8_t pps[] = { 0x68, 0xce, 0x3c, 0x80 };
	uint8_t asc[2], asc5[] = { 0x11, 0x90, 0x56, 0xe5, 0x00 };
	uint8_t explicit_rate[] = { 0x17, 0x80, 0x01, 0xf4, 0x08 };
	uint8_t he_aac[] = { 0x2b, 0x11, 0x88, 0x00 };
	struct sdp_aac_asc a;
	struct sdp_aac aac;
	struct sdp_h264 h;
	struct proto_str v;
	char out[256];

	ok(sdp_h264_fmtp_format(sps, sizeof(sps), pps, sizeof(pps), out, sizeof(out)) > 0 &&
	    strcmp(out, "packetization-mode=1;profile-level-id=42C01E;"
	    "sprop-parameter-sets=Z0LAHtkA,aM48gA==") == 0, "H.264 fmtp text");
	is_int(sdp_h264_fmtp_format(pps, sizeof(pps), sps, sizeof(sps), out, sizeof(out)),
	    PROTO_EBADMSG, "PPS and SPS swapped");
	is_int(sdp_h264_fmtp_parse((struct proto_str){ "profile-level-id=42C0", 21 }, &h),
	    PROTO_EBADMSG, "short profile-level-id");
	is_int(sdp_h264_fmtp_parse((struct proto_str){ "packetization-mode=3", 20 }, &h),
	    PROTO_EBADMSG, "packetization-mode 3");
	is_int(sdp_h264_fmtp_parse((struct proto_str){ "sprop-parameter-sets=Z0L!", 25 }, &h),
	    PROTO_EBADMSG, "bad base64 in sprop");
	is_int(sdp_fmtp_get((struct proto_str){ "a=1;A=2", 7 }, "a", &v), PROTO_EBADMSG,
	    "key twice");
	is_int(sdp_aac_asc_build(2, 44100, 2, asc), 2, "ASC for LC 44.1 kHz stereo");
	ok(asc[0] == 0x12 && asc[1] == 0x10, "ASC bytes 12 10");
	is_int(sdp_aac_asc_build(2, 44000, 2, asc), PROTO_EUNSUPPORTED, "rate not in the table");
	ok(sdp_aac_fmtp_format(asc5, sizeof(asc5), out, sizeof(out)) > 0 &&
	    strcmp(out, "streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;"
	    "indexlength=3;indexdeltalength=3;config=119056E500") == 0, "AAC fmtp text");
	is_int(sdp_aac_fmtp_parse((struct proto_str){ out, strlen(out) }, &aac), 0, "parses back");
	ok(aac.config_len == 5 && memcmp(aac.config, asc5, 5) == 0, "config bytes back");
	/* LC, explicit rate 1000 Hz (index 15 + 24 bits), mono. */
	is_int(sdp_aac_asc_parse(explicit_rate, sizeof(explicit_rate), &a), 0, "explicit rate");
	ok(a.object_type == 2 && a.freq_index == 15 && a.sample_rate == 1000 &&
	    a.channel_config == 1, "LC, 1000 Hz explicit, mono");
	/* HE-AAC, explicit signalling: AOT 5, 24 kHz core, stereo, SBR at 48 kHz, then LC. */
	is_int(sdp_aac_asc_parse(he_aac, sizeof(he_aac), &a), 0, "HE-AAC explicit");
	ok(a.object_type == 2 && a.sbr_present && a.ext_object_type == 5 &&
	    a.sample_rate == 24000 && a.ext_sample_rate == 48000 && a.channel_config == 2,
	    "SBR: 24 kHz core, 48 kHz extension");
	is_int(sdp_aac_asc_parse((const uint8_t *)"\x17\x00", 2, &a), PROTO_EBADMSG,
	    "explicit rate cut short");
	is_int(sdp_aac_asc_parse((const uint8_t *)"\x16\x80", 2, &a), PROTO_EBADMSG,
	    "reserved rate index 13");
	is_int(sdp_aac_asc_parse((const uint8_t *)"\x00\x10", 2, &a), PROTO_EBADMSG,
	    "object type 0");
	is_int(sdp_aac_fmtp_parse((struct proto_str){ "config=1210", 11 }, &aac), PROTO_EBADMSG,
	    "no mode");
	is_int(sdp_aac_fmtp_parse((struct proto_str){ "mode=AAC-hbr;config=121", 23 }, &aac),
	    PROTO_EBADMSG, "odd hex length");
	is_int(sdp_aac_fmtp_parse((struct proto_str){ "mode=AAC-hbr;sizelength=17;config=1210",
	    38 }, &aac), PROTO_EBADMSG, "sizelength 17");
}

int
main(void)
{
	test_ffmpeg_h264();
	test_ffmpeg_h265();
	test_ffmpeg_aac();
	test_camera();
	test_replay_multicast();
	test_bad();
	test_build();
	test_fmtp_helpers();
	return done_testing();
}
