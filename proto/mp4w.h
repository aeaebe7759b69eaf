/*
 * mp4w.h - a fragmented MP4 (ISO BMFF) writer: track parameters in, an
 * init segment out; samples in, media fragments out. The recorder stores
 * each camera this way and the export cuts its files with the same boxes.
 *
 *   struct mp4w_buf out;                    // fixed caller memory or growing
 *   mp4w_buf_growing(&out, 16 << 20);
 *   mp4w_write_init(&movie, &out);          // ftyp + moov
 *   mp4w_init(&w, &movie, &limits);
 *   mp4w_frag_begin(&w, &(struct mp4w_prft){ .track = 0, .ntp = ntp });
 *   mp4w_frag_add(&w, &(struct mp4w_sample){ .track = 0, .data = au, ... });
 *   n = mp4w_frag_end(&w, &out);            // prft + moof + mdat appended
 *   mp4w_free(&w); mp4w_buf_free(&out);
 *
 * Init segment (mp4w_write_init):
 *   ftyp  major 'isom', minor 0x200, compatible isom iso6 mp41
 *   moov  mvhd (timescale 1000, duration 0: fragmented)
 *         trak per track, track_ID = index + 1
 *           tkhd (enabled, in movie; width/height for video; volume for audio)
 *           mdia  mdhd (timescale = the track's RTP clock, language 'und')
 *                 hdlr (vide | soun | meta)
 *                 minf  vmhd | smhd | nmhd
 *                       dinf/dref/'url ' (self-contained)
 *                       stbl  stsd (one entry, below), stts stsc stsz stco (empty)
 *         mvex  trex per track (sample description 1, no defaults)
 *         [moov_extra: boxes the caller built, e.g. udta/loci for the export]
 *   Sample entries: H.264 avc1 + avcC (from SPS/PPS, 4-byte lengths, the
 *   High-profile extension from the SPS); H.265 hvc1 + hvcC (profile, tier,
 *   level, chroma format and bit depths from the SPS; VPS, SPS, PPS arrays,
 *   complete); AAC mp4a + esds (object type 0x40, the AudioSpecificConfig);
 *   G.711 'ulaw' / 'alaw' (16-bit sound description, as QuickTime and
 *   FFmpeg read it); JPEG mp4v + esds (object type 0x6C); ONVIF metadata
 *   metx (content_encoding, namespace, empty schema_location).
 *   Parameter sets sent in band stay in the samples as received.
 *
 * Media fragment (mp4w_frag_end):
 *   [prft] version 1: reference track, NTP time of that track's first
 *          sample in the fragment, its presentation time (decode time +
 *          composition offset, 0 if that is negative) as media_time
 *   moof   mfhd (sequence number, from 1)
 *          traf per track with samples, in track order
 *            tfhd (default-base-is-moof), tfdt (version 1: 64-bit decode time)
 *            trun (data offset; per sample duration, size, flags, and the
 *                  composition offset when one is not 0, version 1 when
 *                  one is negative)
 *   mdat   the samples grouped by track in traf order, each track's in the
 *          order added. H.264/H.265 samples given in Annex B are stored
 *          as 4-byte length-prefixed NAL units.
 *   Audio, JPEG and metadata samples are always sync samples; video ones
 *   are sync when the caller says keyframe.
 *
 * Time: each track's decode time starts at 0 and advances by the durations
 * of its samples; mp4w_set_decode_time() moves it (a gap), between
 * fragments or before the track's first sample of a fragment.
 *
 * Return convention (proto/proto.h): functions that write return the bytes
 * written or a PROTO_E* code; others 0 or a PROTO_E* code.
 *   PROTO_ETOOBIG       a limit of mp4w_limits, or the output buffer's
 *                       capacity or maximum, was exceeded
 *   PROTO_EBADMSG       bad parameters (unknown track, H.264 without SPS,
 *                       an Annex B sample with no start code, ...)
 *   PROTO_EUNSUPPORTED  a valid thing we do not write (a sample rate
 *                       above 65535 Hz)
 *   PROTO_ENOMEM        a growing buffer could not grow
 * On error nothing is left half-written: |out| keeps its length from
 * before the call. A sample refused by mp4w_frag_add() leaves the fragment
 * as it was; the fragment can go on or be dropped with mp4w_frag_abort().
 *
 * Ownership: struct mp4w owns its sample table and the staged fragment
 * payload (malloc, bounded by the limits), freed by mp4w_free(). Sample
 * data is copied by mp4w_frag_add(); track parameters are read during the
 * call that takes them (mp4w_init() copies what fragments need). A
 * growing mp4w_buf's memory belongs to the caller, released with
 * mp4w_buf_free(); a fixed one's memory is the caller's and never freed.
 */
#ifndef PROTO_MP4W_H
#define PROTO_MP4W_H

#include "mp4.h"

#define MP4W_MAX_SAMPLES_DEFAULT	1024
#define MP4W_MAX_FRAG_DEFAULT		(8u << 20)	/* 8 MiB */
#define MP4W_MAX_FRAG			0x7fff0000u	/* a 32-bit mdat, an int result */
#define MP4W_PS_MAX			4096	/* a parameter set or AudioSpecificConfig */

/* --- the output buffer and box primitives -------------------------------- */

struct mp4w_buf {
	uint8_t *p;
	size_t len, cap;
	size_t max;			/* growing: largest capacity allowed */
	bool growing;			/* p is malloc'd and may be realloc'd */
	int err;			/* first error (PROTO_ETOOBIG, PROTO_ENOMEM), sticky */
};

/* Writes into |mem| (caller-owned), never past |cap|. */
void mp4w_buf_fixed(struct mp4w_buf *b, uint8_t *mem, size_t cap);
/* Starts empty and grows as needed (malloc/realloc) up to |max| bytes. */
void mp4w_buf_growing(struct mp4w_buf *b, size_t max);
/* len = 0 and the error cleared; the memory is kept. */
void mp4w_buf_reset(struct mp4w_buf *b);
void mp4w_buf_free(struct mp4w_buf *b);
/* b->len, or the sticky error. */
int mp4w_buf_result(const struct mp4w_buf *b);

/*
 * Appends; after an error every append is a no-op (check once at the
 * end). The export's boxes (udta/loci, meta/suep, ipro/sinf...) are built
 * with these.
 */
void mp4w_put(struct mp4w_buf *b, const void *p, size_t n);
void mp4w_put8(struct mp4w_buf *b, uint8_t v);
void mp4w_put16(struct mp4w_buf *b, uint16_t v);
void mp4w_put32(struct mp4w_buf *b, uint32_t v);
void mp4w_put64(struct mp4w_buf *b, uint64_t v);
void mp4w_put_zeros(struct mp4w_buf *b, size_t n);
void mp4w_put_fourcc(struct mp4w_buf *b, const char type[4]);
void mp4w_put_cstring(struct mp4w_buf *b, const char *s);	/* with its NUL */
/* Opens a box (size patched by mp4w_box_close()); returns where it starts. */
size_t mp4w_box_open(struct mp4w_buf *b, const char type[4]);
size_t mp4w_fullbox_open(struct mp4w_buf *b, const char type[4], uint8_t version,
    uint32_t flags);
/* Writes the size of the box opened at |at| (PROTO_ETOOBIG above 4 GiB). */
void mp4w_box_close(struct mp4w_buf *b, size_t at);

/* --- the movie --------------------------------------------------------------- */

struct mp4w_track {
	enum mp4_codec codec;
	uint32_t timescale;		/* ticks per second: the RTP clock */
	uint16_t width, height;		/* video */
	uint16_t channels;		/* audio; 0: 1 */
	uint32_t sample_rate;		/* audio; 0: the timescale */
	/* H.264: sps, pps; H.265: vps, sps, pps. NAL units without start code. */
	const uint8_t *vps, *sps, *pps;
	size_t vps_len, sps_len, pps_len;
	const uint8_t *asc;		/* AAC AudioSpecificConfig */
	size_t asc_len;
	const char *meta_namespace;	/* metx; NULL: MP4_ONVIF_NAMESPACE */
	const char *meta_encoding;	/* metx content_encoding; NULL: "" (xml) */
	bool samples_nal4;		/* H.26x samples are already length-prefixed */
};

struct mp4w_movie {
	const struct mp4w_track *tracks;
	int ntracks;
	uint32_t creation_time;		/* seconds since 1904-01-01 UTC; 0: unknown */
	const uint8_t *moov_extra;	/* whole boxes appended inside moov, or NULL */
	size_t moov_extra_len;
};

/* Appends ftyp + moov to |out|; returns the bytes written. */
int mp4w_write_init(const struct mp4w_movie *mv, struct mp4w_buf *out);

/* --- fragments ----------------------------------------------------------------- */

struct mp4w_limits {
	int max_tracks;			/* 0: MP4_MAX_TRACKS (more is refused) */
	uint32_t max_samples;		/* per fragment; 0: MP4W_MAX_SAMPLES_DEFAULT */
	size_t max_frag_bytes;		/* prft + moof + mdat; 0: MP4W_MAX_FRAG_DEFAULT */
};

struct mp4w_sample {
	int track;			/* index into mp4w_movie.tracks */
	const uint8_t *data;
	size_t size;
	uint32_t duration;		/* in the track's timescale */
	bool keyframe;			/* video: a sync sample */
	int32_t pts_offset;		/* composition offset: pts - dts */
};

struct mp4w_prft {
	int track;			/* reference track (index) */
	uint64_t ntp;			/* NTP time (RFC 5905 format) of its first sample */
	uint32_t flags;			/* 0: the time the frame was captured / encoded */
};

enum mp4w_state {
	MP4W_BETWEEN,			/* no fragment open */
	MP4W_IN_FRAGMENT,		/* mp4w_frag_begin() called, samples being added */
};

/* What a fragment needs to know of a track (copied by mp4w_init()). */
struct mp4w_trackstate {
	enum mp4_codec codec;
	bool samples_nal4;
	uint64_t next_dts;		/* decode time of its next sample */
	uint32_t nsamples;		/* in the open fragment */
	uint64_t first_pts;		/* of its first sample in the open fragment */
};

struct mp4w_entry {			/* one staged sample */
	uint8_t track;
	bool sync;
	uint32_t size, duration;
	int32_t cto;
	size_t off;			/* in the staged payload */
};

/* Where the last fragment's parts went, relative to its first byte. */
struct mp4w_frag_info {
	uint32_t seq;
	size_t size;			/* the whole fragment */
	size_t moof_off, mdat_off;	/* 0 / prft size; mdat header */
	uint64_t base_dts[MP4_MAX_TRACKS];	/* tfdt of each track's traf */
	uint32_t nsamples[MP4_MAX_TRACKS];
};

struct mp4w {
	enum mp4w_state state;
	struct mp4w_limits lim;
	int ntracks;
	struct mp4w_trackstate track[MP4_MAX_TRACKS];
	uint32_t seq;			/* of the last fragment written */
	bool has_prft;
	struct mp4w_prft prft;
	struct mp4w_entry *entry;	/* lim.max_samples of them */
	uint32_t nentries;
	struct mp4w_buf payload;	/* staged sample data */
	struct mp4w_frag_info last;
};

/* Checks |mv| and takes what fragments need from it. PROTO_ETOOBIG for
 * more tracks than the limit, PROTO_EBADMSG for a track mp4w_write_init()
 * would refuse, PROTO_ENOMEM. */
int mp4w_init(struct mp4w *w, const struct mp4w_movie *mv, const struct mp4w_limits *lim);
void mp4w_free(struct mp4w *w);
/* The decode time of |track|'s next sample (e.g. after a gap). */
int mp4w_set_decode_time(struct mp4w *w, int track, uint64_t dts);
/* Opens a fragment; |prft| may be NULL (no prft box). */
int mp4w_frag_begin(struct mp4w *w, const struct mp4w_prft *prft);
/* Stages one sample (converted and copied). */
int mp4w_frag_add(struct mp4w *w, const struct mp4w_sample *s);
/* Appends the fragment to |out| and advances the decode times; returns its
 * size. PROTO_EBADMSG for an empty fragment or a prft whose track has no
 * sample in it. On an error the fragment stays open. */
int mp4w_frag_end(struct mp4w *w, struct mp4w_buf *out);
/* Drops the open fragment; the decode times stay where they were. */
void mp4w_frag_abort(struct mp4w *w);
const char *mp4w_state_str(enum mp4w_state s);

#endif
