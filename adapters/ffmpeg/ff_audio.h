/*
 * ff_audio.h - audio that RTP cannot carry as the source sends it (MP3,
 * PCM, Opus, AC-3...) decoded, resampled and encoded to AAC-LC with
 * FFmpeg's native encoder, so that readers get one more AAC track.
 * Runs on the adapter's thread; no libevent, no core.
 *
 * Return convention: int functions return 0, or -1 with the reason in
 * |why|; the caller then drops the track (the source goes on). Pointer
 * functions return NULL the same way.
 */
#ifndef ADAPTERS_FF_AUDIO_H
#define ADAPTERS_FF_AUDIO_H

#include <libavformat/avformat.h>
#include <stddef.h>
#include <stdint.h>

struct ff_audio;

/* What the encoder makes, for the SDP: the AudioSpecificConfig is the encoder's. */
struct ff_audio_desc {
	int sample_rate;
	int channels;
	const uint8_t *asc;
	size_t asc_len;
};

/*
 * One raw AAC access unit, |pts| in 1/sample_rate, always after the last
 * one's (whatever the input's timestamps do); the bytes are borrowed for the call.
 */
typedef void (*ff_audio_out)(void *arg, const uint8_t *data, size_t len, int64_t pts);

/* A transcoder for the audio stream |par| whose timestamps are in |tb|. The caller owns it. */
struct ff_audio *ff_audio_new(const AVCodecParameters *par, AVRational tb, char *why, size_t whylen);
/* Valid as long as |a| lives. */
struct ff_audio_desc ff_audio_describe(const struct ff_audio *a);
/* Feed one demuxed packet; the AAC units it completes go to |out|. */
int ff_audio_packet(struct ff_audio *a, const AVPacket *pkt, ff_audio_out out, void *arg, char *why,
    size_t whylen);
/* The input jumped (a file looped): the output clock goes on, without a discontinuity. */
void ff_audio_reset(struct ff_audio *a);
/* Takes |a|; NULL is fine. */
void ff_audio_free(struct ff_audio *a);

#endif
