/*
 * h26x.h - what an H.264 or H.265 sequence parameter set says about the
 * stream: profile, level, picture size, chroma format and bit depths, and
 * (H.264, when its VUI signals it) the frame rate. For the MP4 writer's
 * configuration records and sample entries, and for describing a camera's
 * stream (ONVIF encoder configurations) from its SDP before any frame was
 * decoded.
 *
 * Input is one NAL unit without start code, emulation prevention bytes
 * included (they are removed here). Bounded: at most H26X_SPS_MAX bytes
 * of it are read.
 *
 * Pure: no I/O, no allocation. Return convention: 0, or PROTO_EBADMSG
 * (not an SPS, truncated, or a value out of its range).
 */
#ifndef PROTO_H26X_H
#define PROTO_H26X_H

#include "proto.h"

#define H26X_SPS_MAX 512
/* Widest or tallest coded picture taken: the bound the highest levels put on either side. */
#define H26X_DIM_MAX 16888
#define H26X_FPS_MAX 1000	/* a signalled frame rate above it is taken for none */

struct h26x_sps {
	uint8_t profile_idc;
	uint8_t constraint_flags;	/* H.264: constraint_set0..5 flags (the byte after profile_idc) */
	uint8_t level_idc;
	unsigned width, height;		/* luma samples, after cropping */
	uint8_t chroma_format;		/* 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4 */
	uint8_t bit_depth_luma, bit_depth_chroma;	/* minus 8 */
	double fps;			/* 0: not signalled (or beyond H26X_FPS_MAX) */
	/* H.265 profile_tier_level */
	uint8_t profile_space, tier, max_sub_layers_minus1;
	bool temporal_id_nesting;
	uint32_t compat;
	uint8_t constraint[6];
};

int h264_sps_parse(const uint8_t *nal, size_t len, struct h26x_sps *out);
int h265_sps_parse(const uint8_t *nal, size_t len, struct h26x_sps *out);
/* "Constrained Baseline", "Main", "High", ... as ONVIF and FFmpeg name them. */
const char *h264_profile_name(const struct h26x_sps *s);
/* "Main", "Main10", "Main Still Picture", ... */
const char *h265_profile_name(const struct h26x_sps *s);

#endif
