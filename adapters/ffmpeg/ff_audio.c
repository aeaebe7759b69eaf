/*
 * ff_audio.c - other audio to AAC for the ffmpeg adapter (see ff_audio.h):
 *
 *   decode -> libswresample (to the encoder's rate, layout and planar float)
 *          -> AVAudioFifo (regroup into the encoder's 1024-sample frames)
 *          -> FFmpeg's native "aac" encoder
 *
 * Timestamps: the first decoded frame sets the output clock on the input's
 * (the same origin as the video's); after that the samples are counted,
 * so the output has no gaps and never goes back nor repeats. The input's
 * timestamps move the count only when they leave it by more than a tenth
 * of a second (place()), so the audio stays that close to the video.
 */
#include "vssgate_build.h"
#include "adapters/ffmpeg/ff_audio.h"

#include <libavcodec/avcodec.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define BITRATE_MAX 64000
#define MAX_RATE 48000
#define MAX_BAD_PACKETS 250		/* in a row: the stream does not decode at all */
#define MAX_INPUT_RATE 384000		/* the resampler's filter grows with the input rate */
#define MAX_PTS_MAGNITUDE (INT64_C(1) << 60)	/* beyond: no timestamp (no overflow below) */

struct ff_audio {
	AVRational tb;			/* of the input stream */
	AVCodecContext *dec, *enc;
	SwrContext *swr;		/* set up for the input format below */
	int in_format, in_rate;
	AVChannelLayout in_layout;
	AVAudioFifo *fifo;		/* converted samples waiting for a full encoder frame */
	int fifo_max;			/* samples: one second; beyond it the oldest go */
	int64_t fifo_pts;		/* output clock: the first sample in the fifo */
	int64_t in_offset;		/* output clock minus the input's, after the input went back */
	bool anchored;
	AVFrame *decoded, *converted, *chunk;
	int converted_cap;		/* samples |converted| has room for */
	AVPacket *pkt;
	int bad_packets;
};

/* --- set-up -------------------------------------------------------------------------- */

/* The source's rate if the encoder takes it; otherwise 48 or 16 kHz (resampled). */
static int
pick_rate(const AVCodec *ec, int rate)
{
	for (const int *r = ec->supported_samplerates; r != NULL && *r != 0; r++)
		if (*r == rate && rate <= MAX_RATE)
			return rate;
	return rate > 24000 || rate <= 0 ? 48000 : 16000;
}

static int
open_decoder(struct ff_audio *a, const AVCodecParameters *par, char *why, size_t whylen)
{
	const AVCodec *dc = avcodec_find_decoder(par->codec_id);

	if (dc == NULL) {
		snprintf(why, whylen, "no decoder for it");
		return -1;
	}
	a->dec = avcodec_alloc_context3(dc);
	if (a->dec == NULL || avcodec_parameters_to_context(a->dec, par) < 0) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	a->dec->pkt_timebase = a->tb;
	if (avcodec_open2(a->dec, dc, NULL) < 0) {
		snprintf(why, whylen, "cannot open its decoder");
		return -1;
	}
	return 0;
}

/* Mono stays mono, anything else becomes stereo. */
static int
open_encoder(struct ff_audio *a, const AVCodecParameters *par, char *why, size_t whylen)
{
	const AVCodec *ec = avcodec_find_encoder_by_name("aac");
	int channels = par->ch_layout.nb_channels == 1 ? 1 : 2;
	int rate;

	if (ec == NULL || (a->enc = avcodec_alloc_context3(ec)) == NULL) {
		snprintf(why, whylen, "no AAC encoder");
		return -1;
	}
	rate = pick_rate(ec, par->sample_rate);
	a->enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
	a->enc->sample_rate = rate;
	av_channel_layout_default(&a->enc->ch_layout, channels);
	a->enc->bit_rate = 2 * rate * channels < BITRATE_MAX ? 2 * rate * channels : BITRATE_MAX;
	a->enc->time_base = (AVRational){ 1, rate };
	a->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	if (avcodec_open2(a->enc, ec, NULL) < 0 || a->enc->frame_size <= 0 || a->enc->extradata_size <= 0) {
		snprintf(why, whylen, "cannot open the AAC encoder at %d Hz", rate);
		return -1;
	}
	return 0;
}

static int
alloc_buffers(struct ff_audio *a, char *why, size_t whylen)
{
	a->fifo_max = a->enc->sample_rate;
	a->fifo = av_audio_fifo_alloc(a->enc->sample_fmt, a->enc->ch_layout.nb_channels,
	    2 * a->enc->frame_size);
	a->decoded = av_frame_alloc();
	a->converted = av_frame_alloc();
	a->chunk = av_frame_alloc();
	a->pkt = av_packet_alloc();
	if (!a->fifo || !a->decoded || !a->converted || !a->chunk || !a->pkt) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

struct ff_audio *
ff_audio_new(const AVCodecParameters *par, AVRational tb, char *why, size_t whylen)
{
	struct ff_audio *a = calloc(1, sizeof(*a));

	if (a == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	a->tb = tb;
	if (par->sample_rate <= 0 || par->sample_rate > MAX_INPUT_RATE) {
		snprintf(why, whylen, "its sample rate (%d Hz) is out of range", par->sample_rate);
		free(a);
		return NULL;
	}
	if (open_decoder(a, par, why, whylen) < 0 || open_encoder(a, par, why, whylen) < 0 ||
	    alloc_buffers(a, why, whylen) < 0) {
		ff_audio_free(a);
		return NULL;
	}
	return a;
}

struct ff_audio_desc
ff_audio_describe(const struct ff_audio *a)
{
	return (struct ff_audio_desc){
		.sample_rate = a->enc->sample_rate,
		.channels = a->enc->ch_layout.nb_channels,
		.asc = a->enc->extradata,
		.asc_len = (size_t)a->enc->extradata_size,
	};
}

/* --- decoded frames -> the fifo ------------------------------------------------------ */

/* (Re)build the resampler when the decoded format changes (it may, mid-stream). */
static int
set_up_resampler(struct ff_audio *a, const AVFrame *f, char *why, size_t whylen)
{
	AVChannelLayout in = { 0 };
	int err;

	if (a->swr != NULL && f->format == a->in_format && f->sample_rate == a->in_rate &&
	    av_channel_layout_compare(&f->ch_layout, &a->in_layout) == 0)
		return 0;
	if (f->sample_rate <= 0 || f->sample_rate > MAX_INPUT_RATE)
		goto fail;	/* a hostile rate would make a huge filter */
	/* Some decoders only give a channel count: take that count's usual layout. */
	if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
		av_channel_layout_default(&in, f->ch_layout.nb_channels);
	else if (av_channel_layout_copy(&in, &f->ch_layout) < 0)
		goto fail;
	swr_free(&a->swr);
	err = swr_alloc_set_opts2(&a->swr, &a->enc->ch_layout, a->enc->sample_fmt, a->enc->sample_rate,
	    &in, f->format, f->sample_rate, 0, NULL);
	av_channel_layout_uninit(&in);
	if (err < 0 || swr_init(a->swr) < 0)
		goto fail;
	av_channel_layout_uninit(&a->in_layout);
	if (av_channel_layout_copy(&a->in_layout, &f->ch_layout) < 0)
		goto fail;
	a->in_format = f->format;
	a->in_rate = f->sample_rate;
	return 0;
fail:
	swr_free(&a->swr);
	snprintf(why, whylen, "cannot resample %d Hz %d-channel audio", f->sample_rate,
	    f->ch_layout.nb_channels);
	return -1;
}

/*
 * Whether this frame's samples go on the count. Its timestamp, more than a
 * tenth of a second ahead of the count (packets lost): the clock jumps
 * ahead. A little behind (a source whose clock runs slower than its
 * samples): the frame is dropped, the input catches up. Far behind (a file
 * looped, a source restarted its clock): the count goes on and the input
 * is offset from now on.
 */
static bool
place(struct ff_audio *a, const AVFrame *f)
{
	int rate = a->enc->sample_rate;
	int64_t pts = AV_NOPTS_VALUE, ahead;

	if (f->best_effort_timestamp != AV_NOPTS_VALUE)
		pts = av_rescale_q(f->best_effort_timestamp, a->tb, (AVRational){ 1, rate });
	/* A timestamp near the int64 range (a broken or hostile container) counts as none. */
	if (pts == AV_NOPTS_VALUE || pts > MAX_PTS_MAGNITUDE || pts < -MAX_PTS_MAGNITUDE) {
		a->anchored = true;	/* counted from where the clock is */
		return true;
	}
	/* The resampler still holds a few samples from before this frame: they come out first. */
	pts += a->in_offset - swr_get_delay(a->swr, rate);
	ahead = pts - (a->fifo_pts + av_audio_fifo_size(a->fifo));
	if (!a->anchored || ahead > rate / 10) {
		av_audio_fifo_reset(a->fifo);
		a->fifo_pts = pts;
		a->anchored = true;
	} else if (ahead < -rate) {
		/* Offsets that add up past the bound (timestamps that keep leaping) are not taken. */
		if (a->in_offset - ahead <= 2 * MAX_PTS_MAGNITUDE)
			a->in_offset -= ahead;
	} else if (ahead < -rate / 10) {
		return false;
	}
	return true;
}

static int
grow_converted(struct ff_audio *a, int need)
{
	av_frame_unref(a->converted);
	a->converted->format = a->enc->sample_fmt;
	a->converted->sample_rate = a->enc->sample_rate;
	a->converted->nb_samples = need;
	a->converted_cap = 0;
	if (av_channel_layout_copy(&a->converted->ch_layout, &a->enc->ch_layout) < 0 ||
	    av_frame_get_buffer(a->converted, 0) < 0)
		return -1;
	a->converted_cap = need;
	return 0;
}

static int
convert(struct ff_audio *a, const AVFrame *f, char *why, size_t whylen)
{
	int need = swr_get_out_samples(a->swr, f->nb_samples), n, excess;

	if (need <= 0 || need > a->fifo_max)
		return 0;	/* a frame longer than a second is not buffered; place() sees the hole */
	if (need > a->converted_cap && grow_converted(a, need) < 0) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	n = swr_convert(a->swr, a->converted->data, a->converted_cap, (const uint8_t **)f->extended_data,
	    f->nb_samples);
	if (n < 0) {
		snprintf(why, whylen, "the resampler failed");
		return -1;
	}
	excess = av_audio_fifo_size(a->fifo) + n - a->fifo_max;
	if (excess > 0) {
		av_audio_fifo_drain(a->fifo, excess);
		a->fifo_pts += excess;
	}
	if (av_audio_fifo_write(a->fifo, (void **)a->converted->data, n) < n) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

/* --- the fifo -> AAC ------------------------------------------------------------------ */

static int
receive_units(struct ff_audio *a, ff_audio_out out, void *arg)
{
	int err;

	while ((err = avcodec_receive_packet(a->enc, a->pkt)) == 0) {
		if (a->pkt->size > 0)
			out(arg, a->pkt->data, (size_t)a->pkt->size, a->pkt->pts);
		av_packet_unref(a->pkt);
	}
	return err == AVERROR(EAGAIN) ? 0 : -1;
}

/* A frame to read the next |size| samples into; the encoder may still hold the last one. */
static int
next_chunk(struct ff_audio *a, int size)
{
	if (a->chunk->buf[0] != NULL)
		return av_frame_make_writable(a->chunk);
	a->chunk->format = a->enc->sample_fmt;
	a->chunk->sample_rate = a->enc->sample_rate;
	a->chunk->nb_samples = size;
	if (av_channel_layout_copy(&a->chunk->ch_layout, &a->enc->ch_layout) < 0)
		return -1;
	return av_frame_get_buffer(a->chunk, 0);
}

static int
encode_ready(struct ff_audio *a, ff_audio_out out, void *arg, char *why, size_t whylen)
{
	int size = a->enc->frame_size;

	while (av_audio_fifo_size(a->fifo) >= size) {
		if (next_chunk(a, size) < 0 ||
		    av_audio_fifo_read(a->fifo, (void **)a->chunk->data, size) < size) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		a->chunk->pts = a->fifo_pts;
		a->fifo_pts += size;
		if (avcodec_send_frame(a->enc, a->chunk) < 0 || receive_units(a, out, arg) < 0) {
			snprintf(why, whylen, "the AAC encoder failed");
			return -1;
		}
	}
	return 0;
}

/* --- packets ------------------------------------------------------------------------ */

static int
frame_in(struct ff_audio *a, const AVFrame *f, ff_audio_out out, void *arg, char *why, size_t whylen)
{
	if (f->nb_samples <= 0)
		return 0;
	if (set_up_resampler(a, f, why, whylen) < 0)
		return -1;
	if (!place(a, f))
		return 0;
	if (convert(a, f, why, whylen) < 0)
		return -1;
	return encode_ready(a, out, arg, why, whylen);
}

/* A damaged packet is skipped; a stream where nothing decodes any more is given up. */
static int
bad_packet(struct ff_audio *a, char *why, size_t whylen)
{
	if (++a->bad_packets < MAX_BAD_PACKETS)
		return 0;
	snprintf(why, whylen, "%d packets in a row did not decode", a->bad_packets);
	return -1;
}

int
ff_audio_packet(struct ff_audio *a, const AVPacket *pkt, ff_audio_out out, void *arg, char *why,
    size_t whylen)
{
	int err;

	if (pkt->size <= 0)
		return 0;	/* an empty packet would put the decoder in draining mode */
	if (avcodec_send_packet(a->dec, pkt) < 0)
		return bad_packet(a, why, whylen);
	while ((err = avcodec_receive_frame(a->dec, a->decoded)) == 0) {
		int r = frame_in(a, a->decoded, out, arg, why, whylen);

		av_frame_unref(a->decoded);
		if (r < 0)
			return -1;
	}
	if (err != AVERROR(EAGAIN))
		return bad_packet(a, why, whylen);
	a->bad_packets = 0;
	return 0;
}

/* The samples already in the fifo still play; place() re-bases the input that follows. */
void
ff_audio_reset(struct ff_audio *a)
{
	avcodec_flush_buffers(a->dec);
	swr_free(&a->swr);		/* its buffered samples belong to before the jump */
}

void
ff_audio_free(struct ff_audio *a)
{
	if (a == NULL)
		return;
	av_packet_free(&a->pkt);
	av_frame_free(&a->chunk);
	av_frame_free(&a->converted);
	av_frame_free(&a->decoded);
	if (a->fifo != NULL)
		av_audio_fifo_free(a->fifo);
	av_channel_layout_uninit(&a->in_layout);
	swr_free(&a->swr);
	avcodec_free_context(&a->enc);
	avcodec_free_context(&a->dec);
	free(a);
}
