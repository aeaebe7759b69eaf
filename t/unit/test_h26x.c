/*
 * test_h26x.c - sequence parameter sets from real encoders (x264, x265,
 * made with ffmpeg) against what ffprobe reports of the same streams, and
 * the parser's refusals: another NAL type, every truncation, a value out
 * of its range.
 */
#include "proto/h26x.h"
#include "t/tap.h"

#include <math.h>
#include <string.h>

/* x264 -profile high, 1280x720 at 25 fps: ffprobe says High, level 31, 25/1. */
static const uint8_t sps_high_720p[] = {
	0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03,
	0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0x20, 0xf1, 0x83, 0x19, 0x60,
};
/* x264 -profile baseline, 642x362 at 30 fps (cropped from 656x368): Constrained Baseline, 30. */
static const uint8_t sps_cbp_642x362[] = {
	0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa4, 0x2f, 0xe2, 0x24, 0xc0, 0x44, 0x00, 0x00, 0x03,
	0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x58, 0xb9, 0x20,
};
/* x265, 640x360 4:2:0 8 bit: Main, general_level_idc 63. */
static const uint8_t sps_hevc_main_360p[] = {
	0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00,
	0x03, 0x00, 0x3f, 0xa0, 0x05, 0x02, 0x01, 0x69, 0x65, 0x95, 0x9a, 0x49, 0x32, 0xbc, 0x05,
	0xa0, 0x20, 0x00, 0x00, 0x03, 0x00, 0x20, 0x00, 0x00, 0x03, 0x03, 0x21,
};

static void
test_h264(void)
{
	struct h26x_sps s;

	is_int(h264_sps_parse(sps_high_720p, sizeof(sps_high_720p), &s), 0, "x264 High 720p parses");
	is_int(s.profile_idc, 100, "profile_idc 100");
	is_int(s.level_idc, 31, "level 3.1");
	is_int(s.width, 1280, "width");
	is_int(s.height, 720, "height");
	is_int(s.chroma_format, 1, "4:2:0");
	is_int(s.bit_depth_luma, 0, "8 bit");
	ok(fabs(s.fps - 25.0) < 1e-9, "25 fps from the VUI (got %g)", s.fps);
	is_str(h264_profile_name(&s), "High", "named High");

	is_int(h264_sps_parse(sps_cbp_642x362, sizeof(sps_cbp_642x362), &s), 0, "x264 baseline parses");
	is_int(s.width, 642, "cropped width");
	is_int(s.height, 362, "cropped height");
	ok(fabs(s.fps - 30.0) < 1e-9, "30 fps (got %g)", s.fps);
	is_str(h264_profile_name(&s), "Constrained Baseline", "constraint_set1 makes it Constrained Baseline");
}

static void
test_h265(void)
{
	struct h26x_sps s;

	is_int(h265_sps_parse(sps_hevc_main_360p, sizeof(sps_hevc_main_360p), &s), 0, "x265 Main parses");
	is_int(s.profile_idc, 1, "general_profile_idc 1");
	is_int(s.level_idc, 63, "general_level_idc 63");
	is_int(s.width, 640, "width");
	is_int(s.height, 360, "height");
	is_int(s.chroma_format, 1, "4:2:0");
	is_str(h265_profile_name(&s), "Main", "named Main");
}

static void
test_refusals(void)
{
	struct h26x_sps s;
	uint8_t pps[sizeof(sps_high_720p)];
	uint8_t bad[sizeof(sps_high_720p)];
	int accepted = 0;

	memcpy(pps, sps_high_720p, sizeof(pps));
	pps[0] = 0x68;
	is_int(h264_sps_parse(pps, sizeof(pps), &s), PROTO_EBADMSG, "a PPS is not an SPS");
	is_int(h265_sps_parse(sps_high_720p, sizeof(sps_high_720p), &s), PROTO_EBADMSG,
	    "an H.264 SPS is not an H.265 one");
	is_int(h264_sps_parse(sps_high_720p, 0, &s), PROTO_EBADMSG, "nothing");
	/* Cut anywhere before the VUI's timing: refused, never read past the end. */
	for (size_t n = 1; n < 8; n++)
		accepted += h264_sps_parse(sps_high_720p, n, &s) == 0;
	is_int(accepted, 0, "every cut through the picture size is refused");
	accepted = 0;
	for (size_t n = 1; n < 20; n++)
		accepted += h265_sps_parse(sps_hevc_main_360p, n, &s) == 0;
	is_int(accepted, 0, "every cut through the H.265 header is refused");
	/* seq_parameter_set_id is ue(v) 0..31: a long run of zero bits is out of range. */
	memcpy(bad, sps_high_720p, sizeof(bad));
	bad[4] = 0x00;
	bad[5] = 0x00;
	is_int(h264_sps_parse(bad, sizeof(bad), &s), PROTO_EBADMSG, "an Exp-Golomb value out of range");
}

int
main(void)
{
	test_h264();
	test_h265();
	test_refusals();
	return done_testing();
}
