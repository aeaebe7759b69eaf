/*
 * h26x.c - H.264 and H.265 sequence parameter sets (see h26x.h): ITU-T
 * H.264 7.3.2.1.1 and E.1.1, H.265 7.3.2.2 and 7.3.3.
 */
#include "h26x.h"

#include <string.h>

/* An RBSP bit reader over a copy without emulation prevention bytes. */
struct bits {
	uint8_t b[H26X_SPS_MAX];
	size_t nbits, pos;
	bool bad;
};

static void
bits_init(struct bits *r, const uint8_t *nal, size_t len, size_t hdr)
{
	size_t n = 0, zeros = 0;

	memset(r, 0, sizeof(*r));
	for (size_t i = hdr; i < len && n < sizeof(r->b); i++) {
		if (zeros >= 2 && nal[i] == 3) {
			zeros = 0;
			continue;
		}
		zeros = nal[i] == 0 ? zeros + 1 : 0;
		r->b[n++] = nal[i];
	}
	r->nbits = n * 8;
}

static uint32_t
bits_u(struct bits *r, int n)
{
	uint32_t v = 0;

	for (int i = 0; i < n; i++) {
		if (r->pos >= r->nbits) {
			r->bad = true;
			return 0;
		}
		v = v << 1 | ((r->b[r->pos / 8] >> (7 - r->pos % 8)) & 1);
		r->pos++;
	}
	return v;
}

/* Exp-Golomb ue(v); values above 2^31 are refused (none we read is that big). */
static uint32_t
bits_ue(struct bits *r)
{
	int zeros = 0;

	while (!r->bad && bits_u(r, 1) == 0)
		if (++zeros > 31)
			r->bad = true;
	if (r->bad)
		return 0;
	return (uint32_t)((1u << zeros) - 1 + bits_u(r, zeros));
}

static int32_t
bits_se(struct bits *r)
{
	uint32_t v = bits_ue(r);

	return (v & 1) ? (int32_t)((v + 1) / 2) : -(int32_t)(v / 2);
}

static void
bits_skip(struct bits *r, size_t n)
{
	if (r->nbits - r->pos < n) {
		r->bad = true;
		r->pos = r->nbits;
		return;
	}
	r->pos += n;
}

/* --- H.264 ------------------------------------------------------------------------------- */

static bool
h264_high(uint8_t profile_idc)
{
	static const uint8_t high[] = { 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139,
	    134, 135 };

	return memchr(high, profile_idc, sizeof(high)) != NULL;
}

/* scaling_list() of 7.3.2.1.1.1: only read past. */
static void
skip_scaling_list(struct bits *r, int size)
{
	int last = 8, next = 8;

	for (int j = 0; j < size && !r->bad; j++) {
		if (next != 0)
			next = (last + bits_se(r) + 256) % 256;
		last = next == 0 ? last : next;
	}
}

static void
h264_chroma(struct bits *r, struct h26x_sps *s)
{
	s->chroma_format = (uint8_t)bits_ue(r);
	if (s->chroma_format == 3)
		bits_skip(r, 1);	/* separate_colour_plane_flag */
	s->bit_depth_luma = (uint8_t)bits_ue(r);
	s->bit_depth_chroma = (uint8_t)bits_ue(r);
	bits_skip(r, 1);		/* qpprime_y_zero_transform_bypass_flag */
	if (bits_u(r, 1))		/* seq_scaling_matrix_present_flag */
		for (int i = 0; i < (s->chroma_format != 3 ? 8 : 12); i++)
			if (bits_u(r, 1))
				skip_scaling_list(r, i < 6 ? 16 : 64);
}

static void
h264_poc(struct bits *r)
{
	uint32_t type = bits_ue(r), n;

	if (type == 0) {
		(void)bits_ue(r);	/* log2_max_pic_order_cnt_lsb_minus4 */
	} else if (type == 1) {
		bits_skip(r, 1);
		(void)bits_se(r);
		(void)bits_se(r);
		n = bits_ue(r);
		for (uint32_t i = 0; i < n && i < 256 && !r->bad; i++)
			(void)bits_se(r);
	}
}

/* The frame rate from vui_parameters() (E.1.1), when timing info is there. */
static void
h264_vui(struct bits *r, struct h26x_sps *s)
{
	uint32_t units, scale;

	if (bits_u(r, 1) && bits_u(r, 8) == 255)	/* aspect_ratio_info, aspect_ratio_idc */
		bits_skip(r, 32);			/* sar_width, sar_height */
	if (bits_u(r, 1))			/* overscan_info_present_flag */
		bits_skip(r, 1);
	if (bits_u(r, 1)) {			/* video_signal_type_present_flag */
		bits_skip(r, 4);
		if (bits_u(r, 1))
			bits_skip(r, 24);	/* colour primaries, transfer, matrix */
	}
	if (bits_u(r, 1)) {			/* chroma_loc_info_present_flag */
		(void)bits_ue(r);
		(void)bits_ue(r);
	}
	if (!bits_u(r, 1) || r->bad)		/* timing_info_present_flag */
		return;
	units = bits_u(r, 32);
	scale = bits_u(r, 32);
	if (!r->bad && units > 0 && scale > 0)
		s->fps = (double)scale / (2.0 * units);	/* two ticks a frame */
	if (s->fps > H26X_FPS_MAX)
		s->fps = 0;	/* nonsense timing (a field rate of 600k): as if not signalled */
}

static void
h264_size(struct bits *r, struct h26x_sps *s)
{
	uint32_t w_mbs = bits_ue(r) + 1, h_units = bits_ue(r) + 1, crop[4] = { 0 };
	bool frame_mbs_only = bits_u(r, 1);
	unsigned sub_w = s->chroma_format == 3 ? 1 : 2, sub_h = s->chroma_format == 1 ? 2 : 1;
	unsigned cx = s->chroma_format == 0 ? 1 : sub_w;
	unsigned cy = (s->chroma_format == 0 ? 1 : sub_h) * (frame_mbs_only ? 1 : 2);

	if (!frame_mbs_only)
		bits_skip(r, 1);	/* mb_adaptive_frame_field_flag */
	bits_skip(r, 1);		/* direct_8x8_inference_flag */
	if (bits_u(r, 1))		/* frame_cropping_flag */
		for (int i = 0; i < 4; i++)
			crop[i] = bits_ue(r);
	if (w_mbs > 1024 || h_units > 1024)
		r->bad = true;
	s->width = w_mbs * 16;
	s->height = (frame_mbs_only ? 1 : 2) * h_units * 16;
	if (s->width > H26X_DIM_MAX || s->height > H26X_DIM_MAX)
		r->bad = true;
	if ((crop[0] + crop[1]) * cx >= s->width || (crop[2] + crop[3]) * cy >= s->height)
		r->bad = true;
	else
		s->width -= (crop[0] + crop[1]) * cx, s->height -= (crop[2] + crop[3]) * cy;
}

int
h264_sps_parse(const uint8_t *nal, size_t len, struct h26x_sps *s)
{
	struct bits r;

	memset(s, 0, sizeof(*s));
	s->chroma_format = 1;
	if (len < 4 || (nal[0] & 0x1f) != 7)
		return PROTO_EBADMSG;
	bits_init(&r, nal, len, 1);
	s->profile_idc = (uint8_t)bits_u(&r, 8);
	s->constraint_flags = (uint8_t)bits_u(&r, 8);
	s->level_idc = (uint8_t)bits_u(&r, 8);
	(void)bits_ue(&r);		/* seq_parameter_set_id */
	if (h264_high(s->profile_idc))
		h264_chroma(&r, s);
	(void)bits_ue(&r);		/* log2_max_frame_num_minus4 */
	h264_poc(&r);
	(void)bits_ue(&r);		/* max_num_ref_frames */
	bits_skip(&r, 1);		/* gaps_in_frame_num_value_allowed_flag */
	h264_size(&r, s);
	if (r.bad || s->chroma_format > 3 || s->bit_depth_luma > 6 || s->bit_depth_chroma > 6)
		return PROTO_EBADMSG;
	/* A VUI cut short leaves what came before it good: only the frame rate is lost. */
	if (bits_u(&r, 1))		/* vui_parameters_present_flag */
		h264_vui(&r, s);
	return 0;
}

const char *
h264_profile_name(const struct h26x_sps *s)
{
	bool c1 = s->constraint_flags & 0x40, c3 = s->constraint_flags & 0x10;

	switch (s->profile_idc) {
	case 66:
		return c1 ? "Constrained Baseline" : "Baseline";
	case 77:
		return "Main";
	case 88:
		return "Extended";
	case 100:
		return "High";
	case 110:
		return c3 ? "High 10 Intra" : "High 10";
	case 122:
		return c3 ? "High 4:2:2 Intra" : "High 4:2:2";
	case 244:
		return c3 ? "High 4:4:4 Intra" : "High 4:4:4 Predictive";
	default:
		return "Unknown";
	}
}

/* --- H.265 ------------------------------------------------------------------------------- */

/* profile_tier_level(1, max_sub_layers_minus1) of H.265 7.3.3. */
static void
h265_parse_ptl(struct bits *r, struct h26x_sps *s)
{
	bool profile_present[8], level_present[8];
	unsigned n = s->max_sub_layers_minus1;

	s->profile_space = (uint8_t)bits_u(r, 2);
	s->tier = (uint8_t)bits_u(r, 1);
	s->profile_idc = (uint8_t)bits_u(r, 5);
	s->compat = bits_u(r, 32);
	for (int i = 0; i < 6; i++)
		s->constraint[i] = (uint8_t)bits_u(r, 8);
	s->level_idc = (uint8_t)bits_u(r, 8);
	for (unsigned i = 0; i < n; i++) {
		profile_present[i] = bits_u(r, 1);
		level_present[i] = bits_u(r, 1);
	}
	if (n > 0)
		bits_skip(r, 2 * (8 - n));	/* reserved_zero_2bits */
	for (unsigned i = 0; i < n; i++)
		bits_skip(r, (profile_present[i] ? 88 : 0) + (level_present[i] ? 8 : 0));
}

int
h265_sps_parse(const uint8_t *nal, size_t len, struct h26x_sps *s)
{
	struct bits r;
	uint32_t w, h, win[4] = { 0 };
	unsigned sub_w, sub_h;

	memset(s, 0, sizeof(*s));
	if (len < 3 || ((nal[0] >> 1) & 0x3f) != 33)
		return PROTO_EBADMSG;
	bits_init(&r, nal, len, 2);
	bits_skip(&r, 4);		/* sps_video_parameter_set_id */
	s->max_sub_layers_minus1 = (uint8_t)bits_u(&r, 3);
	s->temporal_id_nesting = bits_u(&r, 1);
	if (s->max_sub_layers_minus1 > 6)
		return PROTO_EBADMSG;
	h265_parse_ptl(&r, s);
	(void)bits_ue(&r);		/* sps_seq_parameter_set_id */
	s->chroma_format = (uint8_t)bits_ue(&r);
	if (s->chroma_format == 3)
		bits_skip(&r, 1);	/* separate_colour_plane_flag */
	w = bits_ue(&r);
	h = bits_ue(&r);
	if (bits_u(&r, 1))		/* conformance_window_flag */
		for (int i = 0; i < 4; i++)
			win[i] = bits_ue(&r);
	s->bit_depth_luma = (uint8_t)bits_ue(&r);
	s->bit_depth_chroma = (uint8_t)bits_ue(&r);
	sub_w = s->chroma_format == 1 || s->chroma_format == 2 ? 2 : 1;
	sub_h = s->chroma_format == 1 ? 2 : 1;
	if (r.bad || s->chroma_format > 3 || s->bit_depth_luma > 7 || s->bit_depth_chroma > 7 ||
	    w == 0 || h == 0 || w > H26X_DIM_MAX || h > H26X_DIM_MAX || (win[0] + win[1]) * sub_w >= w ||
	    (win[2] + win[3]) * sub_h >= h)
		return PROTO_EBADMSG;
	s->width = w - (win[0] + win[1]) * sub_w;
	s->height = h - (win[2] + win[3]) * sub_h;
	return 0;
}

const char *
h265_profile_name(const struct h26x_sps *s)
{
	switch (s->profile_idc) {
	case 1:
		return "Main";
	case 2:
		return "Main10";
	case 3:
		return "Main Still Picture";
	case 4:
		return "Range Extensions";
	default:
		return "Unknown";
	}
}
