/*
 * mp4w_moov.c - the init segment of the MP4 writer (mp4w.h): ftyp, moov
 * with one trak per track, and the codec configuration records, whose
 * profile fields come from the parameter sets themselves (14496-15).
 */
#include "h26x.h"
#include "mp4w_int.h"

#include <string.h>

/* --- reading a parameter set ------------------------------------------------------ */

/* What the configuration records repeat from the SPS: proto/h26x.c reads it. */
#define sps_info h26x_sps

static bool
h264_parse_sps(const uint8_t *sps, size_t len, struct sps_info *si)
{
	return h264_sps_parse(sps, len, si) == 0;
}

static bool
h265_parse_sps(const uint8_t *sps, size_t len, struct sps_info *si)
{
	return h265_sps_parse(sps, len, si) == 0;
}

/* --- checking a track ----------------------------------------------------------- */

static bool
ps_ok(const uint8_t *p, size_t len, size_t min)
{
	return p != NULL && len >= min && len <= MP4W_PS_MAX;
}

static bool
h265_type_is(const uint8_t *nal, int type)
{
	return ((nal[0] >> 1) & 0x3f) == type;
}

static int
check_video(const struct mp4w_track *t)
{
	struct sps_info si;

	if (t->width == 0 || t->height == 0)
		return PROTO_EBADMSG;
	if (t->codec == MP4_CODEC_H264)
		return ps_ok(t->sps, t->sps_len, 4) && ps_ok(t->pps, t->pps_len, 2) &&
		    (t->pps[0] & 0x1f) == 8 && h264_parse_sps(t->sps, t->sps_len, &si) ?
		    0 : PROTO_EBADMSG;
	if (t->codec == MP4_CODEC_H265)
		return ps_ok(t->vps, t->vps_len, 3) && ps_ok(t->sps, t->sps_len, 3) &&
		    ps_ok(t->pps, t->pps_len, 3) && h265_type_is(t->vps, 32) &&
		    h265_type_is(t->pps, 34) && h265_parse_sps(t->sps, t->sps_len, &si) ?
		    0 : PROTO_EBADMSG;
	return 0;	/* JPEG */
}

static uint32_t
sample_rate_of(const struct mp4w_track *t)
{
	return t->sample_rate != 0 ? t->sample_rate : t->timescale;
}

static int
check_audio(const struct mp4w_track *t)
{
	if (sample_rate_of(t) > 65535)
		return PROTO_EUNSUPPORTED;	/* would need a version 1 entry with 'srat' */
	if (t->channels > 255)
		return PROTO_EBADMSG;
	if (t->codec == MP4_CODEC_AAC && !ps_ok(t->asc, t->asc_len, 2))
		return PROTO_EBADMSG;
	return 0;
}

static bool
text_ok(const char *s)
{
	return s == NULL || strlen(s) < MP4W_PS_MAX;
}

int
mp4w_track_check(const struct mp4w_track *t)
{
	if (t->timescale == 0)
		return PROTO_EBADMSG;
	switch (t->codec) {
	case MP4_CODEC_H264:
	case MP4_CODEC_H265:
	case MP4_CODEC_JPEG:
		return check_video(t);
	case MP4_CODEC_AAC:
	case MP4_CODEC_PCMU:
	case MP4_CODEC_PCMA:
		return check_audio(t);
	case MP4_CODEC_ONVIF_META:
		return text_ok(t->meta_namespace) && text_ok(t->meta_encoding) ? 0 : PROTO_EBADMSG;
	case MP4_CODEC_UNKNOWN:
		break;
	}
	return PROTO_EBADMSG;
}

/* --- configuration records --------------------------------------------------------- */

static void
write_avcc(struct mp4w_buf *b, const struct mp4w_track *t)
{
	size_t at = mp4w_box_open(b, "avcC");
	struct sps_info si;

	(void)h264_parse_sps(t->sps, t->sps_len, &si);	/* checked */
	mp4w_put8(b, 1);
	mp4w_put(b, t->sps + 1, 3);	/* profile, compatibility, level */
	mp4w_put8(b, 0xfc | 3);	/* 4-byte NAL lengths */
	mp4w_put8(b, 0xe0 | 1);
	mp4w_put16(b, (uint16_t)t->sps_len);
	mp4w_put(b, t->sps, t->sps_len);
	mp4w_put8(b, 1);
	mp4w_put16(b, (uint16_t)t->pps_len);
	mp4w_put(b, t->pps, t->pps_len);
	if (si.profile_idc == 100 || si.profile_idc == 110 || si.profile_idc == 122 ||
	    si.profile_idc == 144) {
		mp4w_put8(b, 0xfc | si.chroma_format);
		mp4w_put8(b, 0xf8 | si.bit_depth_luma);
		mp4w_put8(b, 0xf8 | si.bit_depth_chroma);
		mp4w_put8(b, 0);	/* no SPS extension */
	}
	mp4w_box_close(b, at);
}

static void
write_hvcc_array(struct mp4w_buf *b, int type, const uint8_t *nal, size_t len)
{
	mp4w_put8(b, 0x80 | (uint8_t)type);	/* complete: hvc1 */
	mp4w_put16(b, 1);
	mp4w_put16(b, (uint16_t)len);
	mp4w_put(b, nal, len);
}

static void
write_hvcc(struct mp4w_buf *b, const struct mp4w_track *t)
{
	size_t at = mp4w_box_open(b, "hvcC");
	struct sps_info si;

	(void)h265_parse_sps(t->sps, t->sps_len, &si);	/* checked */
	mp4w_put8(b, 1);
	mp4w_put8(b, (uint8_t)(si.profile_space << 6 | si.tier << 5 | si.profile_idc));
	mp4w_put32(b, si.compat);
	mp4w_put(b, si.constraint, 6);
	mp4w_put8(b, si.level_idc);
	mp4w_put16(b, 0xf000);	/* min_spatial_segmentation_idc unknown */
	mp4w_put8(b, 0xfc);	/* parallelismType unknown */
	mp4w_put8(b, 0xfc | si.chroma_format);
	mp4w_put8(b, 0xf8 | si.bit_depth_luma);
	mp4w_put8(b, 0xf8 | si.bit_depth_chroma);
	mp4w_put16(b, 0);	/* avgFrameRate unknown */
	mp4w_put8(b, (uint8_t)((si.max_sub_layers_minus1 + 1) << 3 |
	    (si.temporal_id_nesting ? 4 : 0) | 3));
	mp4w_put8(b, 3);
	write_hvcc_array(b, 32, t->vps, t->vps_len);
	write_hvcc_array(b, 33, t->sps, t->sps_len);
	write_hvcc_array(b, 34, t->pps, t->pps_len);
	mp4w_box_close(b, at);
}

/* Bytes of an expandable descriptor size field (14496-1 8.3.3). */
static size_t
desc_size_len(size_t n)
{
	size_t k = 1;

	while (n >= 128) {
		n >>= 7;
		k++;
	}
	return k;
}

static void
put_desc(struct mp4w_buf *b, uint8_t tag, size_t n)
{
	size_t k = desc_size_len(n);

	mp4w_put8(b, tag);
	for (size_t i = k; i-- > 0;)
		mp4w_put8(b, (uint8_t)((n >> (7 * i)) & 0x7f) | (i > 0 ? 0x80 : 0));
}

/* esds: ES_Descriptor{DecoderConfigDescriptor{[DecoderSpecificInfo]}, SLConfig}. */
static void
write_esds(struct mp4w_buf *b, uint8_t object_type, uint8_t stream_type, const uint8_t *dsi,
    size_t dsi_len)
{
	size_t at = mp4w_fullbox_open(b, "esds", 0, 0);
	size_t dsi_desc = dsi_len > 0 ? 1 + desc_size_len(dsi_len) + dsi_len : 0;
	size_t dcd = 13 + dsi_desc, es = 3 + 1 + desc_size_len(dcd) + dcd + 3;

	put_desc(b, 0x03, es);
	mp4w_put16(b, 0);	/* ES_ID */
	mp4w_put8(b, 0);	/* no dependency, URL or OCR stream */
	put_desc(b, 0x04, dcd);
	mp4w_put8(b, object_type);
	mp4w_put8(b, (uint8_t)(stream_type << 2 | 1));
	mp4w_put_zeros(b, 3 + 4 + 4);	/* buffer size, max and average bitrate unknown */
	if (dsi_len > 0) {
		put_desc(b, 0x05, dsi_len);
		mp4w_put(b, dsi, dsi_len);
	}
	put_desc(b, 0x06, 1);
	mp4w_put8(b, 2);	/* SL predefined: MP4 */
	mp4w_box_close(b, at);
}

/* --- sample entries -------------------------------------------------------------- */

static void
put_sample_entry_head(struct mp4w_buf *b)
{
	mp4w_put_zeros(b, 6);
	mp4w_put16(b, 1);	/* data_reference_index */
}

static void
write_visual_entry(struct mp4w_buf *b, const struct mp4w_track *t)
{
	static const char *type[] = { [MP4_CODEC_H264] = "avc1", [MP4_CODEC_H265] = "hvc1",
	    [MP4_CODEC_JPEG] = "mp4v" };
	size_t at = mp4w_box_open(b, type[t->codec]);

	put_sample_entry_head(b);
	mp4w_put_zeros(b, 16);	/* pre_defined, reserved */
	mp4w_put16(b, t->width);
	mp4w_put16(b, t->height);
	mp4w_put32(b, 0x00480000);	/* 72 dpi */
	mp4w_put32(b, 0x00480000);
	mp4w_put32(b, 0);
	mp4w_put16(b, 1);	/* frame_count */
	mp4w_put_zeros(b, 32);	/* compressorname */
	mp4w_put16(b, 0x0018);	/* depth */
	mp4w_put16(b, 0xffff);
	if (t->codec == MP4_CODEC_H264)
		write_avcc(b, t);
	else if (t->codec == MP4_CODEC_H265)
		write_hvcc(b, t);
	else
		write_esds(b, 0x6c, 4, NULL, 0);	/* JPEG, visual stream */
	mp4w_box_close(b, at);
}

static void
write_audio_entry(struct mp4w_buf *b, const struct mp4w_track *t)
{
	static const char *type[] = { [MP4_CODEC_AAC] = "mp4a", [MP4_CODEC_PCMU] = "ulaw",
	    [MP4_CODEC_PCMA] = "alaw" };
	size_t at = mp4w_box_open(b, type[t->codec]);

	put_sample_entry_head(b);
	mp4w_put_zeros(b, 8);
	mp4w_put16(b, t->channels != 0 ? t->channels : 1);
	mp4w_put16(b, 16);	/* samplesize */
	mp4w_put32(b, 0);
	mp4w_put32(b, sample_rate_of(t) << 16);
	if (t->codec == MP4_CODEC_AAC)
		write_esds(b, 0x40, 5, t->asc, t->asc_len);	/* 14496-3 audio */
	mp4w_box_close(b, at);
}

static void
write_metx_entry(struct mp4w_buf *b, const struct mp4w_track *t)
{
	size_t at = mp4w_box_open(b, "metx");

	put_sample_entry_head(b);
	mp4w_put_cstring(b, t->meta_encoding != NULL ? t->meta_encoding : "");
	mp4w_put_cstring(b, t->meta_namespace != NULL ? t->meta_namespace : MP4_ONVIF_NAMESPACE);
	mp4w_put_cstring(b, "");	/* schema_location: not used */
	mp4w_box_close(b, at);
}

/* --- boxes of a trak ----------------------------------------------------------- */

enum kind { KIND_VIDEO, KIND_AUDIO, KIND_META };

static enum kind
kind_of(enum mp4_codec c)
{
	if (c == MP4_CODEC_AAC || c == MP4_CODEC_PCMU || c == MP4_CODEC_PCMA)
		return KIND_AUDIO;
	return c == MP4_CODEC_ONVIF_META ? KIND_META : KIND_VIDEO;
}

static void
put_matrix(struct mp4w_buf *b)
{
	static const uint32_t unity[9] = { 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000 };

	for (int i = 0; i < 9; i++)
		mp4w_put32(b, unity[i]);
}

static void
write_tkhd(struct mp4w_buf *b, const struct mp4w_movie *mv, int i)
{
	const struct mp4w_track *t = &mv->tracks[i];
	bool video = kind_of(t->codec) == KIND_VIDEO;
	size_t at = mp4w_fullbox_open(b, "tkhd", 0, 0x000003);	/* enabled, in movie */

	mp4w_put32(b, mv->creation_time);
	mp4w_put32(b, mv->creation_time);
	mp4w_put32(b, (uint32_t)i + 1);
	mp4w_put32(b, 0);
	mp4w_put32(b, 0);	/* duration: in the fragments */
	mp4w_put_zeros(b, 8);
	mp4w_put16(b, 0);	/* layer */
	mp4w_put16(b, 0);	/* alternate_group */
	mp4w_put16(b, kind_of(t->codec) == KIND_AUDIO ? 0x0100 : 0);
	mp4w_put16(b, 0);
	put_matrix(b);
	mp4w_put32(b, video ? (uint32_t)t->width << 16 : 0);
	mp4w_put32(b, video ? (uint32_t)t->height << 16 : 0);
	mp4w_box_close(b, at);
}

static void
write_mdhd(struct mp4w_buf *b, const struct mp4w_movie *mv, const struct mp4w_track *t)
{
	size_t at = mp4w_fullbox_open(b, "mdhd", 0, 0);

	mp4w_put32(b, mv->creation_time);
	mp4w_put32(b, mv->creation_time);
	mp4w_put32(b, t->timescale);
	mp4w_put32(b, 0);
	mp4w_put16(b, ('u' - 0x60) << 10 | ('n' - 0x60) << 5 | ('d' - 0x60));
	mp4w_put16(b, 0);
	mp4w_box_close(b, at);
}

static void
write_hdlr(struct mp4w_buf *b, enum kind k)
{
	static const char *type[] = { "vide", "soun", "meta" };
	static const char *name[] = { "vssgate video", "vssgate audio", "vssgate ONVIF metadata" };
	size_t at = mp4w_fullbox_open(b, "hdlr", 0, 0);

	mp4w_put32(b, 0);
	mp4w_put_fourcc(b, type[k]);
	mp4w_put_zeros(b, 12);
	mp4w_put_cstring(b, name[k]);
	mp4w_box_close(b, at);
}

static void
write_media_header(struct mp4w_buf *b, enum kind k)
{
	size_t at;

	if (k == KIND_VIDEO) {
		at = mp4w_fullbox_open(b, "vmhd", 0, 1);
		mp4w_put_zeros(b, 8);	/* graphicsmode copy, opcolor */
	} else if (k == KIND_AUDIO) {
		at = mp4w_fullbox_open(b, "smhd", 0, 0);
		mp4w_put32(b, 0);	/* balance, reserved */
	} else {
		at = mp4w_fullbox_open(b, "nmhd", 0, 0);
	}
	mp4w_box_close(b, at);
}

static void
write_dinf(struct mp4w_buf *b)
{
	size_t dinf = mp4w_box_open(b, "dinf");
	size_t dref = mp4w_fullbox_open(b, "dref", 0, 0);

	mp4w_put32(b, 1);
	mp4w_box_close(b, mp4w_fullbox_open(b, "url ", 0, 1));	/* media in this file */
	mp4w_box_close(b, dref);
	mp4w_box_close(b, dinf);
}

/* An empty table: version/flags and a zero count (stsz: also sample_size). */
static void
write_empty_table(struct mp4w_buf *b, const char type[4], int zeros)
{
	size_t at = mp4w_fullbox_open(b, type, 0, 0);

	mp4w_put_zeros(b, (size_t)zeros * 4);
	mp4w_box_close(b, at);
}

static void
write_stbl(struct mp4w_buf *b, const struct mp4w_track *t)
{
	size_t stbl = mp4w_box_open(b, "stbl");
	size_t stsd = mp4w_fullbox_open(b, "stsd", 0, 0);

	mp4w_put32(b, 1);
	switch (kind_of(t->codec)) {
	case KIND_VIDEO:
		write_visual_entry(b, t);
		break;
	case KIND_AUDIO:
		write_audio_entry(b, t);
		break;
	case KIND_META:
		write_metx_entry(b, t);
		break;
	}
	mp4w_box_close(b, stsd);
	write_empty_table(b, "stts", 1);
	write_empty_table(b, "stsc", 1);
	write_empty_table(b, "stsz", 2);
	write_empty_table(b, "stco", 1);
	mp4w_box_close(b, stbl);
}

static void
write_trak(struct mp4w_buf *b, const struct mp4w_movie *mv, int i)
{
	const struct mp4w_track *t = &mv->tracks[i];
	enum kind k = kind_of(t->codec);
	size_t trak = mp4w_box_open(b, "trak"), mdia, minf;

	write_tkhd(b, mv, i);
	mdia = mp4w_box_open(b, "mdia");
	write_mdhd(b, mv, t);
	write_hdlr(b, k);
	minf = mp4w_box_open(b, "minf");
	write_media_header(b, k);
	write_dinf(b);
	write_stbl(b, t);
	mp4w_box_close(b, minf);
	mp4w_box_close(b, mdia);
	mp4w_box_close(b, trak);
}

/* --- the segment ----------------------------------------------------------------- */

static void
write_ftyp(struct mp4w_buf *b)
{
	size_t at = mp4w_box_open(b, "ftyp");

	mp4w_put_fourcc(b, "isom");
	mp4w_put32(b, 0x200);
	mp4w_put(b, "isomiso6mp41", 12);
	mp4w_box_close(b, at);
}

static void
write_mvhd(struct mp4w_buf *b, const struct mp4w_movie *mv)
{
	size_t at = mp4w_fullbox_open(b, "mvhd", 0, 0);

	mp4w_put32(b, mv->creation_time);
	mp4w_put32(b, mv->creation_time);
	mp4w_put32(b, 1000);
	mp4w_put32(b, 0);
	mp4w_put32(b, 0x00010000);	/* rate 1.0 */
	mp4w_put16(b, 0x0100);	/* volume 1.0 */
	mp4w_put_zeros(b, 10);
	put_matrix(b);
	mp4w_put_zeros(b, 24);	/* pre_defined */
	mp4w_put32(b, (uint32_t)mv->ntracks + 1);	/* next_track_ID */
	mp4w_box_close(b, at);
}

static void
write_mvex(struct mp4w_buf *b, int ntracks)
{
	size_t mvex = mp4w_box_open(b, "mvex");

	for (int i = 0; i < ntracks; i++) {
		size_t trex = mp4w_fullbox_open(b, "trex", 0, 0);

		mp4w_put32(b, (uint32_t)i + 1);
		mp4w_put32(b, 1);	/* sample description index */
		mp4w_put_zeros(b, 12);	/* no default duration, size, flags: trun has them */
		mp4w_box_close(b, trex);
	}
	mp4w_box_close(b, mvex);
}

int
mp4w_write_init(const struct mp4w_movie *mv, struct mp4w_buf *out)
{
	size_t start = out->len, moov;
	int rc;

	if (mv->ntracks < 1 || mv->ntracks > MP4_MAX_TRACKS)
		return mv->ntracks < 1 ? PROTO_EBADMSG : PROTO_ETOOBIG;
	for (int i = 0; i < mv->ntracks; i++)
		if ((rc = mp4w_track_check(&mv->tracks[i])) < 0)
			return rc;
	if (out->err != 0)
		return out->err;
	write_ftyp(out);
	moov = mp4w_box_open(out, "moov");
	write_mvhd(out, mv);
	for (int i = 0; i < mv->ntracks; i++)
		write_trak(out, mv, i);
	write_mvex(out, mv->ntracks);
	if (mv->moov_extra != NULL)
		mp4w_put(out, mv->moov_extra, mv->moov_extra_len);
	mp4w_box_close(out, moov);
	if ((rc = mp4w_buf_result(out)) < 0) {
		out->len = start;
		out->err = 0;
		return rc;
	}
	return (int)(out->len - start);
}
