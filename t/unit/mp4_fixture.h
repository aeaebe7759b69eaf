/*
 * mp4_fixture.h - what test_mp4.c works with: the media of t/data/media
 * (and G.711 made by ffmpeg) as samples of the MP4 writer, a driver that
 * writes sources into a fragmented file the way a recorder would (samples
 * interleaved by time, a fragment every N seconds, prft on track 0), and
 * ffprobe/ffmpeg run on a file. Written apart from proto/ so that it can
 * judge it; it asserts nothing itself.
 */
#ifndef T_MP4_FIXTURE_H
#define T_MP4_FIXTURE_H

#include "proto/mp4w.h"
#include "t/unit/media.h"

#define T4(s) MP4_FOURCC((s)[0], (s)[1], (s)[2], (s)[3])
#define MAXS 128			/* samples of one source */
#define MAXF 64				/* fragments of one file */
#define NTP_1S ((uint64_t)1 << 32)
#define NTP_BASE ((uint64_t)3960000000u << 32)	/* 2025-06-27 in NTP seconds */

struct src_sample {
	const uint8_t *p;
	size_t len;
	uint32_t duration;
	bool key;
	int32_t cto;
};

/* One track's parameters and samples, and what ffprobe must say of it. */
struct source {
	const char *name;
	struct mp4w_track track;
	struct src_sample s[MAXS];
	int n;
	const char *probe_codec;	/* codec_name, or codec_tag_string for data */
	double seconds;
};

struct fixture_media {
	uint8_t *h264, *hevc, *adts, *jpeg, *ulaw, *alaw;
	size_t h264_len, hevc_len, adts_len, jpeg_len, ulaw_len, alaw_len;
	struct media_unit h264_au[MEDIA_MAX_UNITS], hevc_au[MEDIA_MAX_UNITS];
	struct media_unit aac[MEDIA_MAX_UNITS];
	int n_h264, n_hevc, n_aac;
	uint8_t asc[2];
	struct media_unit h264_ps[2], hevc_ps[3];	/* sps pps / vps sps pps */
	char tmp[64];
};

extern struct fixture_media fx;

/* Reads the samples; false when one is missing or not as gen.sh made it. */
bool load_media(void);
/* A source from real media: 320x240 at 10 fps (90 kHz), AAC 48 kHz stereo,
 * G.711 8 kHz in 20 ms samples, five ONVIF metadata documents. */
void src_h264(struct source *s);
void src_h265(struct source *s);
void src_jpeg(struct source *s);
void src_aac(struct source *s);
void src_pcmu(struct source *s);
void src_pcma(struct source *s);
void src_meta(struct source *s);

struct written {
	struct mp4w_buf out;
	size_t bounds[MAXF + 1];	/* end of the init segment, then of each fragment */
	int nfrags;
	bool has_prft[MAXF];
	uint64_t prft_ntp[MAXF], prft_media[MAXF];
};

/* Init segment + fragments of |frag_seconds|, with prft when asked (and
 * track 0 has a sample in the fragment). 0 or the writer's error. */
int write_sources(struct source *src[], int nsrc, double frag_seconds, bool prft,
    struct written *wr);
/* Sample |s| of |src| as it must be stored (NAL units behind 4-byte lengths),
 * built from the test's own Annex B cutter. */
size_t expected_bytes(const struct source *src, const struct src_sample *s, uint8_t *out,
    size_t cap);

struct probe_stream {
	char codec_name[32], codec_type[16], codec_tag[16];
	long width, height, sample_rate, channels, frames, packets;
	double duration;
};

struct probe {
	struct probe_stream st[8];
	int n;
	bool ran;			/* exit 0 */
	char err[512];			/* what it wrote on stderr */
};

/* ffprobe -v error -count_frames -count_packets -show_streams on |path|. */
void probe_file(const char *path, struct probe *p);
/* ffmpeg -v error -i |path| -f null -: true when it exits 0 and says nothing. */
bool decode_file(const char *path, char *err, size_t cap);
/* A shell command's stdout (malloc'd, NUL-terminated) and exit status. */
uint8_t *run_capture(const char *cmd, size_t *len, int *status);
bool have_tool(const char *tool);
bool save(const char *path, const uint8_t *p, size_t len);
/* |name| in the test's temporary directory (fx.tmp); four in rotation. */
const char *tmp_path(const char *name);
/* Within 1.5 ms. */
bool near(double a, double b);

struct pkt {
	uint32_t size;
	int64_t dts;
	bool key;
};

/* ffprobe's packets of stream |index| (size, dts, K flag), in order; -1 on failure. */
int probe_packets(const char *path, int index, struct pkt *p, int max);
/* CLOCK_MONOTONIC in seconds. */
double now(void);

#endif
