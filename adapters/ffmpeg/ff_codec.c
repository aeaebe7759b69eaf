/*
 * ff_codec.c - per-track pipelines of the ffmpeg adapter (see ff_codec.h).
 *
 *   video H.264/H.265   (mp4toannexb if the input is length-prefixed) -> pay
 *   other video         decode -> scale to yuv420p -> libx264 -> pay
 *   audio AAC           (strip ADTS headers) -> pay
 *   audio G.711 8 kHz   -> pay
 *   other audio         ff_audio.c: decode -> resample -> AAC -> pay
 *
 * "pay" is proto/pay.h: Annex B access units become single-NAL or FU
 * payloads, AAC access units get their RFC 3640 AU header.
 */
#include "vssgate_build.h"
#include "adapters/ffmpeg/ff_codec.h"
#include "adapters/ffmpeg/ff_audio.h"
#include "proto/pay.h"
#include "proto/sdp.h"

#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAY_MAX 1400
#define MAX_PAYLOADS 2048

enum ff_kind {
	KIND_H264,
	KIND_H265,
	KIND_AAC,
	KIND_PCMU,
	KIND_PCMA,
};

struct ff_track {
	int index;			/* in desc[] */
	int stream;			/* in the AVFormatContext */
	enum ff_kind kind;
	AVRational tb;			/* of the input stream */
	int clock;
	bool transcode;
	bool discontinuity;
	bool force_key;
	AVBSFContext *bsf;		/* length-prefixed -> Annex B */
	AVCodecContext *dec, *enc;
	struct SwsContext *sws;
	AVFrame *frame, *scaled;
	bool audio_transcode;		/* other audio made AAC by |audio|... */
	struct ff_audio *audio;		/* ...until it fails: NULL, the track gets nothing more */
	AVPacket *out;
	struct pay pay;			/* packetizer; remembers H.26x parameter sets */
	uint8_t *buf;			/* payload bytes of one access unit */
	size_t bufcap;
	struct iovec iov[MAX_PAYLOADS];
};

/* --- set-up -------------------------------------------------------------------------- */

static struct ff_track *
track_new(struct ff_tracks *ts, AVStream *st, enum ff_kind kind, int clock)
{
	struct ff_track *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->index = ts->n;
	t->stream = st->index;
	t->kind = kind;
	t->tb = st->time_base;
	t->clock = clock;
	t->out = av_packet_alloc();
	ts->t[ts->n] = t;
	return t;
}

static int
open_bsf(struct ff_track *t, const char *name, const AVCodecParameters *par)
{
	const AVBitStreamFilter *f = av_bsf_get_by_name(name);

	if (f == NULL || av_bsf_alloc(f, &t->bsf) < 0 || avcodec_parameters_copy(t->bsf->par_in, par) < 0)
		return -1;
	t->bsf->time_base_in = t->tb;
	return av_bsf_init(t->bsf) < 0 ? -1 : 0;
}

/* The next NAL unit of an Annex B buffer (after a 3- or 4-byte start code). */
static bool
next_nal(const uint8_t *b, size_t len, size_t *pos, const uint8_t **nal, size_t *n)
{
	size_t i = *pos, start;

	while (i + 3 <= len && !(b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 1))
		i++;
	if (i + 3 > len)
		return false;
	start = i + 3;
	for (i = start; i + 3 <= len; i++)
		if (b[i] == 0 && b[i + 1] == 0 && (b[i + 2] == 1 || (b[i + 2] == 0 && i + 3 < len && b[i + 3] == 1)))
			break;
	if (i + 3 > len)
		i = len;
	*nal = b + start;
	*n = i - start;
	*pos = i;
	return *n > 0;
}

/*
 * Parameter sets for the SDP and for keyframes that lack them, from Annex B
 * extradata (the encoder's, or the stream's after mp4toannexb).
 */
static void
video_fmtp(struct ff_track *t, struct adapter_track *d, const uint8_t *x, size_t xlen)
{
	const uint8_t *ps[3] = { NULL, NULL, NULL }, *nal;	/* vps, sps, pps */
	size_t pslen[3] = { 0, 0, 0 }, n, pos = 0;
	bool h265 = t->kind == KIND_H265;
	int r = -1;

	pay_init(&t->pay, h265 ? &pay_h265_ops : &pay_h264_ops,
	    &(struct pay_config){ .max_payload = PAY_MAX, .insert_ps = true });
	while (x && next_nal(x, xlen, &pos, &nal, &n)) {
		int type = h265 ? (nal[0] >> 1) & 0x3f : nal[0] & 0x1f;
		int slot = h265 ? (type == 32 ? 0 : type == 33 ? 1 : type == 34 ? 2 : -1) :
		    (type == 7 ? 1 : type == 8 ? 2 : -1);

		if (slot >= 0 && ps[slot] == NULL)
			ps[slot] = nal, pslen[slot] = n;
	}
	pay_set_ps(&t->pay, ps[0], pslen[0], ps[1], pslen[1], ps[2], pslen[2]);
	if (!h265 && ps[1] && ps[2])
		r = sdp_h264_fmtp_format(ps[1], pslen[1], ps[2], pslen[2], d->fmtp, sizeof(d->fmtp));
	else if (h265 && ps[0] && ps[1] && ps[2])
		r = sdp_h265_fmtp_format(ps[0], pslen[0], ps[1], pslen[1], ps[2], pslen[2], d->fmtp,
		    sizeof(d->fmtp));
	if (r < 0)
		snprintf(d->fmtp, sizeof(d->fmtp), "%s", h265 ? "" : "packetization-mode=1");
}

static int
setup_transcode(struct ff_track *t, AVStream *st, char *why, size_t whylen)
{
	const AVCodec *dc = avcodec_find_decoder(st->codecpar->codec_id);
	const AVCodec *ec = avcodec_find_encoder_by_name("libx264");
	AVRational fr = av_guess_frame_rate(NULL, st, NULL);
	AVDictionary *opts = NULL;

	if (dc == NULL || ec == NULL) {
		snprintf(why, whylen, "no %s for the %s video of the source", dc ? "H.264 encoder" : "decoder",
		    avcodec_get_name(st->codecpar->codec_id));
		return -1;
	}
	t->dec = avcodec_alloc_context3(dc);
	t->enc = avcodec_alloc_context3(ec);
	t->frame = av_frame_alloc();
	t->scaled = av_frame_alloc();
	if (!t->dec || !t->enc || !t->frame || !t->scaled ||
	    avcodec_parameters_to_context(t->dec, st->codecpar) < 0 || avcodec_open2(t->dec, dc, NULL) < 0) {
		snprintf(why, whylen, "cannot open the %s decoder", avcodec_get_name(st->codecpar->codec_id));
		return -1;
	}
	if (fr.num <= 0 || fr.den <= 0)
		fr = (AVRational){ 25, 1 };
	t->enc->width = st->codecpar->width & ~1;
	t->enc->height = st->codecpar->height & ~1;
	t->enc->pix_fmt = AV_PIX_FMT_YUV420P;
	t->enc->time_base = t->tb;
	t->enc->framerate = fr;
	t->enc->gop_size = (int)(2 * av_q2d(fr) + 0.5);
	t->enc->max_b_frames = 0;
	t->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	av_dict_set(&opts, "preset", "ultrafast", 0);
	av_dict_set(&opts, "tune", "zerolatency", 0);
	av_dict_set(&opts, "profile", "baseline", 0);
	av_dict_set(&opts, "x264-params", "repeat-headers=1", 0);
	if (avcodec_open2(t->enc, ec, &opts) < 0) {
		av_dict_free(&opts);
		snprintf(why, whylen, "cannot open the H.264 encoder");
		return -1;
	}
	av_dict_free(&opts);
	t->transcode = true;
	return 0;
}

static int
setup_video(struct ff_tracks *ts, AVStream *st, char *why, size_t whylen)
{
	enum AVCodecID id = st->codecpar->codec_id;
	struct adapter_track *d = &ts->desc[ts->n];
	struct ff_track *t;
	bool h265 = id == AV_CODEC_ID_HEVC;

	if ((t = track_new(ts, st, h265 ? KIND_H265 : KIND_H264, 90000)) == NULL)
		return -1;
	d->media = ADAPTER_VIDEO;
	snprintf(d->encoding, sizeof(d->encoding), "%s", h265 ? "H265" : "H264");
	d->payload_type = 96;
	d->clock_rate = 90000;
	d->width = st->codecpar->width;
	d->height = st->codecpar->height;
	if (id == AV_CODEC_ID_H264 || h265) {
		const uint8_t *x = st->codecpar->extradata;

		/* avcC/hvcC extradata means length-prefixed packets. */
		if (x && st->codecpar->extradata_size > 0 && x[0] == 1 &&
		    open_bsf(t, h265 ? "hevc_mp4toannexb" : "h264_mp4toannexb", st->codecpar) < 0) {
			snprintf(why, whylen, "cannot set up the Annex B filter");
			return -1;
		}
		if (t->bsf)
			video_fmtp(t, d, t->bsf->par_out->extradata, (size_t)t->bsf->par_out->extradata_size);
		else
			video_fmtp(t, d, x, (size_t)st->codecpar->extradata_size);
	} else {
		if (setup_transcode(t, st, why, whylen) < 0)
			return -1;
		d->width = t->enc->width;
		d->height = t->enc->height;
		video_fmtp(t, d, t->enc->extradata, (size_t)t->enc->extradata_size);
	}
	ts->n++;
	return 0;
}

/* AudioSpecificConfig for AAC: from extradata, or built from the parameters (ADTS input). */
static int
aac_fmtp(const AVCodecParameters *par, char *out, size_t outlen)
{
	uint8_t asc[2];

	if (par->extradata && par->extradata_size > 0)
		return sdp_aac_fmtp_format(par->extradata, (size_t)par->extradata_size, out, outlen);
	/* ADTS input has no extradata: AAC LC with the stream's rate and channels. */
	if (sdp_aac_asc_build(2, (uint32_t)par->sample_rate, par->ch_layout.nb_channels, asc) < 0)
		return -1;
	return sdp_aac_fmtp_format(asc, sizeof(asc), out, outlen);
}

static void
describe_audio(struct adapter_track *d, const char *encoding, int payload_type, int rate, int channels)
{
	d->media = ADAPTER_AUDIO;
	snprintf(d->encoding, sizeof(d->encoding), "%s", encoding);
	d->payload_type = payload_type;
	d->clock_rate = rate;
	d->channels = channels;
}

/* An AAC track (passed through or transcoded): RFC 3640 AAC-hbr, dynamic type 97. */
static void
aac_track(struct ff_track *t, struct adapter_track *d, int rate, int channels)
{
	describe_audio(d, "MPEG4-GENERIC", 97, rate, channels);
	pay_init(&t->pay, &pay_aac_ops, &(struct pay_config){ .max_payload = PAY_MAX });
}

/* Any other audio: transcoded to AAC (ff_audio.c). Not relayed if that cannot start. */
static int
setup_audio_transcode(struct ff_tracks *ts, AVStream *st)
{
	struct adapter_track *d = &ts->desc[ts->n];
	const char *codec = avcodec_get_name(st->codecpar->codec_id);
	struct ff_audio *a;
	struct ff_audio_desc ad;
	struct ff_track *t;
	char why[128];

	if ((a = ff_audio_new(st->codecpar, st->time_base, why, sizeof(why))) == NULL) {
		adapter_log(ADAPTER_LOG_WARN, ts->ident, "the %s audio is not relayed: %s", codec, why);
		return 0;
	}
	ad = ff_audio_describe(a);
	if (sdp_aac_fmtp_format(ad.asc, ad.asc_len, d->fmtp, sizeof(d->fmtp)) < 0) {
		adapter_log(ADAPTER_LOG_WARN, ts->ident,
		    "the %s audio is not relayed: the AAC configuration cannot be described", codec);
		ff_audio_free(a);
		return 0;
	}
	if ((t = track_new(ts, st, KIND_AAC, ad.sample_rate)) == NULL) {
		ff_audio_free(a);
		return -1;
	}
	t->audio = a;
	t->audio_transcode = true;
	aac_track(t, d, ad.sample_rate, ad.channels);
	ts->n++;
	return 0;
}

/* AAC that we can describe and 8 kHz G.711 pass through; other audio is transcoded. */
static int
setup_audio(struct ff_tracks *ts, AVStream *st)
{
	const AVCodecParameters *par = st->codecpar;
	struct adapter_track *d = &ts->desc[ts->n];
	struct ff_track *t;
	enum ff_kind kind;

	if (par->codec_id == AV_CODEC_ID_AAC && aac_fmtp(par, d->fmtp, sizeof(d->fmtp)) >= 0)
		kind = KIND_AAC;
	else if (par->codec_id == AV_CODEC_ID_PCM_MULAW && par->sample_rate == 8000)
		kind = KIND_PCMU;
	else if (par->codec_id == AV_CODEC_ID_PCM_ALAW && par->sample_rate == 8000)
		kind = KIND_PCMA;
	else
		return setup_audio_transcode(ts, st);
	if ((t = track_new(ts, st, kind, par->sample_rate)) == NULL)
		return -1;
	if (kind == KIND_AAC) {
		aac_track(t, d, par->sample_rate, par->ch_layout.nb_channels);
	} else {
		describe_audio(d, kind == KIND_PCMU ? "PCMU" : "PCMA", kind == KIND_PCMU ? 0 : 8,
		    par->sample_rate, par->ch_layout.nb_channels);
		pay_init(&t->pay, &pay_g711_ops, &(struct pay_config){ .max_payload = PAY_MAX });
	}
	ts->n++;
	return 0;
}

/* An audio stream av_find_best_stream() passed over: it skips those it knows too little about. */
static bool
has_audio(const AVFormatContext *fmt)
{
	for (unsigned i = 0; i < fmt->nb_streams; i++)
		if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO)
			return true;
	return false;
}

int
ff_tracks_setup(struct ff_tracks *ts, AVFormatContext *fmt, const char *ident, char *why, size_t whylen)
{
	int v = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	int a = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);

	memset(ts, 0, sizeof(*ts));
	ts->ident = ident;
	snprintf(why, whylen, "the source has no usable stream");
	if (v >= 0 && setup_video(ts, fmt->streams[v], why, whylen) < 0)
		return -1;
	if (a >= 0 && setup_audio(ts, fmt->streams[a]) < 0)
		return -1;
	if (a < 0 && has_audio(fmt))
		adapter_log(ADAPTER_LOG_WARN, ts->ident,
		    "the audio is not relayed: its sample rate or channels are unknown");
	return ts->n > 0 ? 0 : -1;
}

/* --- packets ------------------------------------------------------------------------ */

static struct ff_track *
track_of(struct ff_tracks *ts, int stream)
{
	for (int i = 0; i < ts->n; i++)
		if (ts->t[i]->stream == stream)
			return ts->t[i];
	return NULL;
}

static bool
ensure_buf(struct ff_track *t, size_t need)
{
	uint8_t *b;

	if (need <= t->bufcap)
		return true;
	if ((b = realloc(t->buf, need)) == NULL)
		return false;
	t->buf = b;
	t->bufcap = need;
	return true;
}

static uint32_t
rtp_time(const struct ff_track *t, int64_t pts, AVRational tb)
{
	return (uint32_t)av_rescale_q(pts, tb, (AVRational){ 1, t->clock });
}

/* Packetize one access unit into t->buf and hand it over. */
static void
emit_unit(struct ff_tracks *ts, struct ff_track *t, const uint8_t *data, size_t len, int64_t pts,
    AVRational tb, bool key, ff_emit emit, void *arg)
{
	struct ff_unit u = { .track = t->index, .keyframe = key || t->kind >= KIND_AAC,
	    .discontinuity = t->discontinuity };
	size_t used = 0;
	bool last = false;
	int n = 0, w;

	if (pts == AV_NOPTS_VALUE || !ensure_buf(t, len + 2048 + len / 8) || pay_begin(&t->pay, data, len) < 0)
		return;
	/* "last" comes with the final payload; the call after it only says 0. */
	while (!last && n < MAX_PAYLOADS && t->bufcap - used >= PAY_MAX &&
	    (w = pay_next(&t->pay, t->buf + used, t->bufcap - used, &last)) > 0) {
		t->iov[n++] = (struct iovec){ t->buf + used, (size_t)w };
		used += (size_t)w;
	}
	if (n == 0 || !last)
		return;		/* too big for our buffer: dropped rather than cut */
	u.rtp_ts = rtp_time(t, pts, tb);
	u.npayloads = n;
	u.payloads = t->iov;
	t->discontinuity = false;
	emit(arg, &u);
	(void)ts;
}

/* ADTS input carries a 7- or 9-byte header per frame: RTP wants the raw AU. */
static void
strip_adts(const uint8_t **data, int *size)
{
	const uint8_t *p = *data;

	if (*size > 9 && p[0] == 0xff && (p[1] & 0xf6) == 0xf0) {
		int hdr = (p[1] & 1) ? 7 : 9;

		*data += hdr;
		*size -= hdr;
	}
}

static void
transcode(struct ff_tracks *ts, struct ff_track *t, const AVPacket *pkt, ff_emit emit, void *arg)
{
	if (avcodec_send_packet(t->dec, pkt) < 0)
		return;
	while (avcodec_receive_frame(t->dec, t->frame) == 0) {
		AVFrame *in = t->frame;

		if (in->format != AV_PIX_FMT_YUV420P || in->width != t->enc->width ||
		    in->height != t->enc->height) {
			t->sws = sws_getCachedContext(t->sws, in->width, in->height, in->format,
			    t->enc->width, t->enc->height, AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
			av_frame_unref(t->scaled);
			t->scaled->format = AV_PIX_FMT_YUV420P;
			t->scaled->width = t->enc->width;
			t->scaled->height = t->enc->height;
			if (t->sws == NULL || av_frame_get_buffer(t->scaled, 0) < 0)
				break;
			sws_scale(t->sws, (const uint8_t *const *)in->data, in->linesize, 0, in->height,
			    t->scaled->data, t->scaled->linesize);
			t->scaled->pts = in->best_effort_timestamp;
			in = t->scaled;
		} else {
			in->pts = in->best_effort_timestamp;
		}
		in->pict_type = t->force_key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
		t->force_key = false;
		if (avcodec_send_frame(t->enc, in) < 0)
			break;
		while (avcodec_receive_packet(t->enc, t->out) == 0) {
			emit_unit(ts, t, t->out->data, (size_t)t->out->size, t->out->pts, t->enc->time_base,
			    (t->out->flags & AV_PKT_FLAG_KEY) != 0, emit, arg);
			av_packet_unref(t->out);
		}
		av_frame_unref(t->frame);
	}
}

struct audio_sink {
	struct ff_tracks *ts;
	struct ff_track *t;
	ff_emit emit;
	void *arg;
};

/* One AAC unit from the transcoder, on its own clock (it never goes back). */
static void
audio_unit(void *arg, const uint8_t *data, size_t len, int64_t pts)
{
	struct audio_sink *sink = arg;

	emit_unit(sink->ts, sink->t, data, len, pts, (AVRational){ 1, sink->t->clock }, true, sink->emit,
	    sink->arg);
}

/* A transcoder that fails is dropped with its track; the video goes on. */
static void
transcode_audio(struct ff_tracks *ts, struct ff_track *t, const AVPacket *pkt, ff_emit emit, void *arg)
{
	struct audio_sink sink = { ts, t, emit, arg };
	char why[128];

	if (t->audio == NULL || ff_audio_packet(t->audio, pkt, audio_unit, &sink, why, sizeof(why)) == 0)
		return;
	adapter_log(ADAPTER_LOG_WARN, ts->ident, "the audio track is dropped: %s", why);
	ff_audio_free(t->audio);
	t->audio = NULL;
}

static void
pass_through(struct ff_tracks *ts, struct ff_track *t, const AVPacket *pkt, ff_emit emit, void *arg)
{
	const uint8_t *data = pkt->data;
	int size = pkt->size;

	if (t->bsf == NULL) {
		if (t->kind == KIND_AAC)
			strip_adts(&data, &size);
		emit_unit(ts, t, data, (size_t)size, pkt->pts, t->tb, (pkt->flags & AV_PKT_FLAG_KEY) != 0,
		    emit, arg);
		return;
	}
	if (av_bsf_send_packet(t->bsf, (AVPacket *)pkt) < 0)
		return;
	while (av_bsf_receive_packet(t->bsf, t->out) == 0) {
		emit_unit(ts, t, t->out->data, (size_t)t->out->size, t->out->pts, t->bsf->time_base_out,
		    (t->out->flags & AV_PKT_FLAG_KEY) != 0, emit, arg);
		av_packet_unref(t->out);
	}
}

void
ff_tracks_packet(struct ff_tracks *ts, const AVPacket *pkt, ff_emit emit, void *arg)
{
	struct ff_track *t = track_of(ts, pkt->stream_index);
	AVPacket *copy;

	if (t == NULL)
		return;
	if (t->audio_transcode) {
		transcode_audio(ts, t, pkt, emit, arg);
		return;
	}
	if (t->transcode) {
		transcode(ts, t, pkt, emit, arg);
		return;
	}
	/* The bitstream filter takes ownership of what it is sent: give it a reference. */
	if (t->bsf && (copy = av_packet_clone(pkt)) != NULL) {
		pass_through(ts, t, copy, emit, arg);
		av_packet_free(&copy);
		return;
	}
	pass_through(ts, t, pkt, emit, arg);
}

void
ff_tracks_force_keyframe(struct ff_tracks *ts)
{
	for (int i = 0; i < ts->n; i++)
		ts->t[i]->force_key = true;
}

void
ff_tracks_discontinuity(struct ff_tracks *ts)
{
	for (int i = 0; i < ts->n; i++) {
		struct ff_track *t = ts->t[i];

		if (t->dec)
			avcodec_flush_buffers(t->dec);
		/*
		 * Transcoded audio keeps its clock across the jump (ff_audio.c):
		 * no discontinuity, which would let the core place the next unit
		 * at "now", on top of the last one when the units come in a burst.
		 */
		if (t->audio_transcode) {
			if (t->audio)
				ff_audio_reset(t->audio);
			continue;
		}
		t->discontinuity = true;
	}
}

/* Every slot: a set-up that failed half-way leaves a track past ts->n. */
void
ff_tracks_free(struct ff_tracks *ts)
{
	for (int i = 0; i < FF_MAX_TRACKS; i++) {
		struct ff_track *t = ts->t[i];

		if (t == NULL)
			continue;
		ff_audio_free(t->audio);
		av_bsf_free(&t->bsf);
		avcodec_free_context(&t->dec);
		avcodec_free_context(&t->enc);
		sws_freeContext(t->sws);
		av_frame_free(&t->frame);
		av_frame_free(&t->scaled);
		av_packet_free(&t->out);
		free(t->buf);
		free(t);
		ts->t[i] = NULL;
	}
	ts->n = 0;
}
