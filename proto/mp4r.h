/*
 * mp4r.h - a bounded, incremental ISO BMFF (MP4) box reader: the boxes of
 * a byte range, the tracks of an init segment, the sample tables of each
 * movie fragment, any box by path, and a scanner that walks a recording
 * unit by unit and says where a torn tail must be cut.
 *
 * Layers, each usable alone:
 *   mp4r_box_header()       one box header (size, type, largesize, uuid)
 *   mp4r_iter_*()           the boxes of a range, or the children of a box
 *   mp4r_find()             a box by path: "moov/trak[1]/mdia/hdlr",
 *                           "meta/ipro/sinf[0]/schi/sibo" (4-character
 *                           types, '/' between, [n] = the n-th of that
 *                           type, from 0). Knows where the children of
 *                           the containers it descends start (meta as a
 *                           FullBox or QuickTime's, stsd, dref, ipro,
 *                           sample entries...).
 *   mp4r_movie_parse()      ftyp + moov: the tracks (codec, timescale,
 *                           size, parameter sets, AudioSpecificConfig,
 *                           metx namespace, trex defaults)
 *   mp4r_frag_parse()       a moof: mfhd, per traf tfhd/tfdt and its truns;
 *                           the samples are then located with
 *                           mp4r_frag_sample() or walked with
 *                           mp4r_samples_*() from the trun tables alone,
 *                           never reading mdat
 *   mp4r_scan_next()        init segment, then [prft] moof mdat fragments,
 *                           one unit per call, each fragment's samples
 *                           checked to lie inside its mdat
 *
 * Positions: a range is given with the position of its first byte in the
 * caller's coordinates (a file offset), and every position reported
 * (struct mp4r_box.pos, sample positions, good_end) is in those. Sizes and
 * offsets read from the file are never trusted: each is checked against
 * the range and the enclosing box before anything is read through it.
 *
 * Return convention (proto/proto.h, with one exception: a box can exceed
 * what an int counts, so iterators return 1 for "a unit", not bytes):
 *   mp4r_box_header()   the header's size (8, 16, 24 or 32)
 *   mp4r_iter_next(), mp4r_scan_next(), mp4r_find()
 *                       1  a box / a unit / found
 *                       0  the range ended at a box boundary / not found
 *   mp4r_movie_parse()  the bytes from the range start to moov's end
 *   others              0
 *   PROTO_AGAIN         the range ends inside a box (top level only; in a
 *                       complete parent that is PROTO_EBADMSG)
 *   PROTO_EBADMSG       a size smaller than its header or past its parent,
 *                       a box too short for its fields, samples outside
 *                       their mdat, boxes out of order
 *   PROTO_ETOOBIG       a limit of mp4r_limits: box size, mdat size,
 *                       nesting depth, tracks, trafs, truns, samples
 *   PROTO_EUNSUPPORTED  a valid layout we do not read (a size-0 box below
 *                       the top level, more sample entries than one...)
 *
 * Ownership: nothing is allocated or copied. Boxes, spans, tracks and the
 * trun tables of a fragment point into the caller's buffer and are valid
 * as long as it is. The limits are copied.
 */
#ifndef PROTO_MP4R_H
#define PROTO_MP4R_H

#include "mp4.h"

#define MP4R_MAX_DEPTH_DEFAULT		16
#define MP4R_MAX_BOX_DEFAULT		(16u << 20)	/* any box but mdat */
#define MP4R_MAX_MDAT_DEFAULT		((uint64_t)1 << 32)
#define MP4R_MAX_SAMPLES_DEFAULT	(1u << 16)	/* per fragment */
#define MP4R_MAX_PS			4	/* parameter sets of one kind kept */
#define MP4R_MAX_TRUNS			16	/* per traf */

struct mp4r_limits {
	int max_depth;			/* 0: MP4R_MAX_DEPTH_DEFAULT */
	uint64_t max_box;		/* 0: MP4R_MAX_BOX_DEFAULT */
	uint64_t max_mdat;		/* 0: MP4R_MAX_MDAT_DEFAULT */
	uint32_t max_samples;		/* 0: MP4R_MAX_SAMPLES_DEFAULT */
	int max_tracks;			/* 0 or above: MP4_MAX_TRACKS */
};

/* --- boxes ------------------------------------------------------------------------ */

struct mp4r_box {
	uint32_t type;
	uint8_t uuid[16];		/* type 'uuid': the extended type */
	uint64_t pos;			/* first byte of the header */
	uint64_t size;			/* header included */
	size_t hdr;			/* header bytes */
	bool to_end;			/* size 0: extends to the end of the range */
	const uint8_t *body;		/* the payload if the whole box is in the range */
	size_t body_len;
	int depth;			/* 0: top level */
};

struct mp4r_iter {
	const uint8_t *p;
	size_t len, off;		/* the range and the next box in it */
	uint64_t base;			/* position of p[0] */
	int depth;
	bool bounded;			/* inside a complete box: no PROTO_AGAIN */
	struct mp4r_limits lim;
};

/* The header at p[0]: type, size (0 left as 0), uuid. */
int mp4r_box_header(const uint8_t *p, size_t len, struct mp4r_box *b);
/* Top-level boxes of p[0, len), p[0] being at position |base|. */
void mp4r_iter_init(struct mp4r_iter *it, const uint8_t *p, size_t len, uint64_t base,
    const struct mp4r_limits *lim);
/* The same range grown (or moved in memory): same base, the walk goes on. */
void mp4r_iter_feed(struct mp4r_iter *it, const uint8_t *p, size_t len);
/* The next box. On PROTO_AGAIN |b| has the torn box's header when it was
 * readable (b->body NULL) and the walk stays before it. */
int mp4r_iter_next(struct mp4r_iter *it, struct mp4r_box *b);
/* The children of a complete box |b| read by |parent|, from |skip| bytes
 * into its payload (PROTO_ETOOBIG beyond max_depth). */
int mp4r_iter_children(const struct mp4r_iter *parent, const struct mp4r_box *b, size_t skip,
    struct mp4r_iter *child);
/* Where the children of |b| start in its payload: 0 for plain containers
 * and unknown types, the fixed fields of the known ones; PROTO_EBADMSG if
 * the payload is shorter than them. */
int mp4r_child_offset(const struct mp4r_box *b);
/* A box by path among the top-level boxes of p[0, len) at |base|, or in
 * the children of |from| (mp4r_find_in). */
int mp4r_find(const uint8_t *p, size_t len, uint64_t base, const char *path,
    const struct mp4r_limits *lim, struct mp4r_box *out);
int mp4r_find_in(const struct mp4r_iter *parent, const struct mp4r_box *from, const char *path,
    struct mp4r_box *out);

/* --- the init segment --------------------------------------------------------------- */

struct mp4r_track {
	uint32_t track_id;
	uint32_t handler;		/* hdlr: 'vide', 'soun', 'meta', ... */
	uint32_t entry_type;		/* the sample entry: 'avc1', 'mp4a', ... */
	enum mp4_codec codec;
	uint32_t timescale;		/* mdhd */
	uint16_t width, height;		/* sample entry (video) */
	uint16_t channels;		/* sample entry (audio) */
	uint32_t sample_rate;
	int nal_length_size;		/* avcC/hvcC: 1, 2 or 4 */
	struct mp4_span vps[MP4R_MAX_PS], sps[MP4R_MAX_PS], pps[MP4R_MAX_PS];
	int nvps, nsps, npps;		/* kept; more are counted in none */
	struct mp4_span config;		/* the avcC/hvcC/esds payload as stored */
	uint8_t object_type;		/* esds objectTypeIndication */
	struct mp4_span asc;		/* esds DecoderSpecificInfo (AAC: AudioSpecificConfig) */
	struct mp4_span meta_encoding;	/* metx strings, without their NUL */
	struct mp4_span meta_namespace;
	bool has_trex;
	uint32_t trex_sdi, trex_duration, trex_size, trex_flags;
};

struct mp4r_movie {
	uint32_t major_brand;		/* ftyp; 0 when there is none */
	uint32_t timescale;		/* mvhd */
	uint64_t duration;
	bool fragmented;		/* mvex present */
	int ntracks;
	struct mp4r_track track[MP4_MAX_TRACKS];
	uint64_t moov_pos, moov_end;
};

/* Reads top-level boxes from p[0] (at |base|) up to the end of moov. */
int mp4r_movie_parse(const uint8_t *p, size_t len, uint64_t base, const struct mp4r_limits *lim,
    struct mp4r_movie *m);
/* The moov box itself, read by |it|. */
int mp4r_moov_parse(const struct mp4r_iter *it, const struct mp4r_box *moov,
    struct mp4r_movie *m);
/* The track with this ID, or NULL. */
const struct mp4r_track *mp4r_movie_track(const struct mp4r_movie *m, uint32_t track_id);

/* --- fragments ------------------------------------------------------------------ */

struct mp4r_prft {
	uint8_t version;
	uint32_t flags;
	uint32_t track_id;
	uint64_t ntp;			/* NTP format: seconds since 1900 << 32 | fraction */
	uint64_t media_time;		/* in the reference track's timescale */
};

struct mp4r_trun {
	uint8_t version;
	uint32_t flags;
	uint32_t count;
	uint32_t first_flags;		/* with flag 0x4 */
	uint64_t data_pos;		/* position of its first sample */
	uint64_t bytes, duration;	/* of all its samples */
	const uint8_t *entries;		/* count * entry_size bytes, inside the moof */
	size_t entry_size;
};

struct mp4r_traf {
	uint32_t track_id;
	uint32_t tfhd_flags;
	uint32_t sdi;			/* sample description index (1-based) */
	uint32_t def_duration, def_size, def_flags;	/* tfhd, else trex, else 0 */
	bool has_tfdt;
	uint64_t base_dts;		/* tfdt */
	int ntrun;
	struct mp4r_trun trun[MP4R_MAX_TRUNS];
	uint32_t nsamples;
	uint64_t duration;
};

struct mp4r_frag {
	uint32_t seq;			/* mfhd */
	bool has_prft;
	struct mp4r_prft prft;		/* the prft right before the moof */
	uint64_t pos;			/* first byte: the prft, else the moof */
	uint64_t moof_pos, moof_size;
	uint64_t mdat_pos, mdat_size;	/* 0 until mp4r_frag_check_mdat() */
	uint64_t end;			/* after the mdat */
	int ntraf;
	struct mp4r_traf traf[MP4_MAX_TRACKS];
	uint32_t nsamples;
};

struct mp4r_sample {
	uint32_t index;			/* in its traf */
	uint64_t pos;			/* position of its first byte */
	uint32_t size, duration, flags;
	int64_t cto;			/* composition offset */
	uint64_t dts;			/* tfdt + the durations before it */
	bool sync;
};

struct mp4r_sample_iter {
	const struct mp4r_traf *t;
	int trun;
	uint32_t i, index;
	uint64_t pos, dts;
};

/* A prft box (complete). */
int mp4r_prft_parse(const struct mp4r_box *b, struct mp4r_prft *out);
/* A complete moof read by |it|; |mv| (may be NULL) gives the trex defaults
 * and the known track IDs. */
int mp4r_frag_parse(const struct mp4r_iter *it, const struct mp4r_box *moof,
    const struct mp4r_movie *mv, struct mp4r_frag *f);
/* Every sample of |f| inside the payload of |mdat|; records it in |f|. */
int mp4r_frag_check_mdat(struct mp4r_frag *f, const struct mp4r_box *mdat);
const struct mp4r_traf *mp4r_frag_traf(const struct mp4r_frag *f, uint32_t track_id);
void mp4r_samples_begin(const struct mp4r_traf *t, struct mp4r_sample_iter *it);
bool mp4r_samples_next(struct mp4r_sample_iter *it, struct mp4r_sample *s);
/* Sample |n| of |t| (0-based); PROTO_EBADMSG when there is none. */
int mp4r_frag_sample(const struct mp4r_traf *t, uint32_t n, struct mp4r_sample *s);

/* --- scanning a recording ------------------------------------------------------------- */

enum mp4r_scan_state {
	MP4R_SCAN_HEAD,			/* before moov: ftyp, styp, free... or a first fragment */
	MP4R_SCAN_BETWEEN,		/* at a unit boundary after moov */
	MP4R_SCAN_AFTER_PRFT,		/* prft read: its moof must follow */
	MP4R_SCAN_AFTER_MOOF,		/* moof read: its mdat must follow */
};

enum mp4r_unit {
	MP4R_UNIT_NONE,
	MP4R_UNIT_INIT,			/* moov (s->movie) */
	MP4R_UNIT_FRAGMENT,		/* [prft] moof mdat (s->frag) */
	MP4R_UNIT_OTHER,		/* any other whole top-level box (ftyp, free, meta...) */
};

struct mp4r_scan {
	enum mp4r_scan_state state;
	struct mp4r_iter it;
	uint64_t good_end;		/* end of the last complete unit */
	uint64_t bad_pos;		/* on an error: the box that caused it */
	enum mp4r_unit unit;		/* what the last call completed */
	struct mp4r_box box;		/* its last box */
	bool have_movie;
	struct mp4r_movie movie;
	struct mp4r_frag frag;		/* the last (or the pending) fragment */
	uint32_t fragments;		/* complete ones so far */
};

/* The scanner starts at position 0 of a file. */
void mp4r_scan_init(struct mp4r_scan *s, const struct mp4r_limits *lim);
/*
 * The next unit of the file whose first |len| bytes are at |p| (the same
 * file each call, possibly grown or mapped elsewhere). 1: s->unit is
 * complete (s->movie, s->frag valid until |p| changes); 0: the range ends
 * after a complete unit; PROTO_AGAIN: it ends inside one, and a file that
 * stops here must be cut at s->good_end; PROTO_E*: s->bad_pos is the box
 * at fault, s->good_end the end of what was good before it; the scan
 * cannot go on past an error (mp4r_scan_init() starts again).
 */
int mp4r_scan_next(struct mp4r_scan *s, const uint8_t *p, size_t len);
const char *mp4r_scan_state_str(enum mp4r_scan_state st);

#endif
