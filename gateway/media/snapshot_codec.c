/*
 * snapshot_codec.c - one keyframe as the hub keeps it (interleaved RTP
 * packets) to a JPEG: depacketize (proto/depay), decode (libavcodec),
 * convert to full-range YUV (libswscale) and encode (MJPEG).
 *
 * It runs on a worker thread and touches nothing but its arguments (see
 * snapshot.h); FFmpeg contexts are made and freed per call, which costs
 * little next to decoding a 1080p picture and keeps the workers stateless.
 * A JPEG source needs no decoding: the depacketized JFIF is the answer.
 */
#include "gateway/gw.h"
#include "gateway/media/snapshot.h"
#include "proto/depay.h"
#include "proto/rtp.h"
#include "proto/sdp.h"

#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_AU (8u << 20)

struct annexb {
	uint8_t *p;
	size_t len, cap;
};

static void
ab_add(struct annexb *b, const uint8_t *data, size_t len, bool start_code)
{
	static const uint8_t sc[4] = { 0, 0, 0, 1 };
	size_t need = len + (start_code ? 4 : 0);

	if (b->len + need > b->cap) {
		b->cap = GW_MAX(b->cap * 2, b->len + need + 1024);
		b->p = gw_xrealloc(b->p, b->cap);
	}
	if (start_code) {
		memcpy(b->p + b->len, sc, 4);
		b->len += 4;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

/* The parameter sets of the track's fmtp, as Annex B, for a keyframe that lacks them in-band. */
static void
out_of_band_ps(const struct snap_input *in, struct annexb *b)
{
	struct proto_str params = { in->fmtp, strlen(in->fmtp) };
	struct sdp_h264 h4;
	struct sdp_h265 h5;

	if (strcasecmp(in->encoding, "H264") == 0 && sdp_h264_fmtp_parse(params, &h4) == 0) {
		if (h4.sps_len)
			ab_add(b, h4.sps, h4.sps_len, true);
		if (h4.pps_len)
			ab_add(b, h4.pps, h4.pps_len, true);
	} else if (strcasecmp(in->encoding, "H265") == 0 && sdp_h265_fmtp_parse(params, &h5) == 0) {
		if (h5.vps_len)
			ab_add(b, h5.vps, h5.vps_len, true);
		if (h5.sps_len)
			ab_add(b, h5.sps, h5.sps_len, true);
		if (h5.pps_len)
			ab_add(b, h5.pps, h5.pps_len, true);
	}
}

static const struct depay_ops *
depay_for(const char *encoding)
{
	if (strcasecmp(encoding, "H264") == 0)
		return &depay_h264_ops;
	if (strcasecmp(encoding, "H265") == 0)
		return &depay_h265_ops;
	if (strcasecmp(encoding, "JPEG") == 0)
		return &depay_jpeg_ops;
	return NULL;
}

/* The packets ('$' ch len16 + RTP) through the depacketizer; the access units into |b|. */
static int
depacketize(const struct snap_input *in, struct annexb *b, char *why, size_t whylen)
{
	const struct depay_ops *ops = depay_for(in->encoding);
	struct depay_config cfg = { .max_au = MAX_AU };
	struct depay d;
	struct depay_au au;
	size_t off = 0;

	if (ops == NULL || depay_init(&d, ops, &cfg) < 0) {
		snprintf(why, whylen, "no snapshot from %s video", in->encoding);
		return -1;
	}
	while (off + 4 <= in->len) {
		size_t plen = (size_t)in->pkts[off + 2] << 8 | in->pkts[off + 3];
		const uint8_t *pkt = in->pkts + off + 4;
		struct rtp_hdr h;
		int hlen;

		off += 4 + plen;
		if (off > in->len)
			break;
		if ((hlen = rtp_parse(pkt, plen, &h)) < 0)
			continue;
		depay_push(&d, h.payload, h.payload_len, h.marker, h.ts, h.seq);
		while (depay_pop(&d, &au))
			ab_add(b, au.data, au.len, false);
	}
	depay_free(&d);
	if (b->len == 0) {
		snprintf(why, whylen, "the keyframe could not be depacketized");
		return -1;
	}
	return 0;
}

static AVFrame *
decode(enum AVCodecID id, const struct annexb *b, char *why, size_t whylen)
{
	const AVCodec *codec = avcodec_find_decoder(id);
	AVCodecContext *ctx = codec ? avcodec_alloc_context3(codec) : NULL;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *frame = av_frame_alloc();
	int rc = -1;

	if (ctx == NULL || pkt == NULL || frame == NULL || avcodec_open2(ctx, codec, NULL) < 0) {
		snprintf(why, whylen, "no decoder");
		goto out;
	}
	pkt->data = b->p;
	pkt->size = (int)b->len;
	if (avcodec_send_packet(ctx, pkt) < 0 || avcodec_send_packet(ctx, NULL) < 0 ||
	    avcodec_receive_frame(ctx, frame) < 0) {
		snprintf(why, whylen, "the keyframe does not decode");
		goto out;
	}
	rc = 0;
out:
	av_packet_free(&pkt);
	avcodec_free_context(&ctx);
	if (rc < 0)
		av_frame_free(&frame);
	return frame;
}

/* MJPEG wants full-range ("J") YUV; convert what the decoder gave, unless it is that already. */
static AVFrame *
to_yuvj420(AVFrame *src)
{
	AVFrame *dst;
	struct SwsContext *sws;

	if (src->format == AV_PIX_FMT_YUVJ420P)
		return src;
	dst = av_frame_alloc();
	sws = sws_getContext(src->width, src->height, src->format, src->width, src->height,
	    AV_PIX_FMT_YUVJ420P, SWS_BILINEAR, NULL, NULL, NULL);
	if (dst == NULL || sws == NULL) {
		av_frame_free(&dst);
		sws_freeContext(sws);
		return NULL;
	}
	dst->format = AV_PIX_FMT_YUVJ420P;
	dst->width = src->width;
	dst->height = src->height;
	if (av_frame_get_buffer(dst, 0) < 0 ||
	    sws_scale(sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height, dst->data,
	    dst->linesize) != src->height)
		av_frame_free(&dst);
	sws_freeContext(sws);
	return dst;
}

static int
encode_jpeg(AVFrame *frame, int quality, struct snap_output *out, char *why, size_t whylen)
{
	const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
	AVCodecContext *ctx = codec ? avcodec_alloc_context3(codec) : NULL;
	AVPacket *pkt = av_packet_alloc();
	int rc = -1;

	if (ctx == NULL || pkt == NULL)
		goto out;
	ctx->width = frame->width;
	ctx->height = frame->height;
	ctx->pix_fmt = AV_PIX_FMT_YUVJ420P;
	ctx->time_base = (AVRational){ 1, 25 };
	ctx->flags |= AV_CODEC_FLAG_QSCALE;
	ctx->qmin = ctx->qmax = quality;
	frame->quality = FF_QP2LAMBDA * quality;
	frame->pts = 0;
	if (avcodec_open2(ctx, codec, NULL) < 0 || avcodec_send_frame(ctx, frame) < 0 ||
	    avcodec_send_frame(ctx, NULL) < 0 || avcodec_receive_packet(ctx, pkt) < 0)
		goto out;
	out->jpeg = gw_xmalloc((size_t)pkt->size);
	memcpy(out->jpeg, pkt->data, (size_t)pkt->size);
	out->len = (size_t)pkt->size;
	out->width = frame->width;
	out->height = frame->height;
	rc = 0;
out:
	if (rc < 0)
		snprintf(why, whylen, "the JPEG encoder failed");
	av_packet_free(&pkt);
	avcodec_free_context(&ctx);
	return rc;
}

int
snap_encode(const struct snap_input *in, struct snap_output *out)
{
	struct annexb b = { 0 };
	AVFrame *frame = NULL, *yuvj = NULL;
	int rc = -1;
	bool jpeg = strcasecmp(in->encoding, "JPEG") == 0;

	memset(out, 0, sizeof(*out));
	if (!jpeg)
		out_of_band_ps(in, &b);
	if (depacketize(in, &b, out->why, sizeof(out->why)) < 0)
		goto out;
	if (jpeg) {
		out->jpeg = b.p;	/* already a JFIF file: hand it over as it is */
		out->len = b.len;
		b.p = NULL;
		rc = 0;
		goto out;
	}
	frame = decode(strcasecmp(in->encoding, "H265") == 0 ? AV_CODEC_ID_HEVC : AV_CODEC_ID_H264, &b,
	    out->why, sizeof(out->why));
	if (frame == NULL)
		goto out;
	if ((yuvj = to_yuvj420(frame)) == NULL) {
		snprintf(out->why, sizeof(out->why), "the picture could not be converted");
		goto out;
	}
	rc = encode_jpeg(yuvj, in->quality, out, out->why, sizeof(out->why));
out:
	if (yuvj != frame)
		av_frame_free(&yuvj);
	av_frame_free(&frame);
	free(b.p);
	return rc;
}
