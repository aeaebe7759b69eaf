/*
 * depay.h - RTP depacketizers behind one interface: RTP payloads in,
 * complete access units out.
 *
 *   struct depay d;
 *   depay_init(&d, &depay_h264_ops, &cfg);
 *   for each RTP packet (rtp.h gives payload, marker, timestamp, seq):
 *       n = depay_push(&d, payload, len, marker, ts, seq);
 *       while (depay_pop(&d, &au)) hand au.data/au.len on;
 *   depay_free(&d);
 *
 * Codecs: depay_h264_ops (RFC 6184: single NAL, STAP-A, FU-A; Annex B out),
 * depay_h265_ops (RFC 7798: single NAL, AP, FU; Annex B out; no DONL, i.e.
 * sprop-max-don-diff=0), depay_jpeg_ops (RFC 2435: a complete JFIF file
 * out), depay_aac_ops (RFC 3640 AAC-hbr: raw AAC frames out),
 * depay_g711_ops (PCMU/PCMA: each payload as it is), depay_meta_ops (ONVIF
 * metadata: one XML document, or one gzip member passed through as it is).
 *
 * Sequence numbers: a packet that is not after the last one (duplicate or
 * reordered) is dropped and counted; a gap drops the partial access unit
 * and the depacketizer skips to the next clean start (a new timestamp, a
 * JPEG fragment at offset 0, a complete AAC frame...). A broken unit is
 * never emitted.
 *
 * Return convention (proto/proto.h), depay_push():
 *   >= 0               access units now ready for depay_pop()
 *   PROTO_EBADMSG      the payload breaks its RFC (the partial unit is dropped)
 *   PROTO_ETOOBIG      an access unit would exceed max_au (dropped)
 *   PROTO_EUNSUPPORTED a valid mode we do not implement (STAP-B, MTAP,
 *                      PACI, interleaved AAC, JPEG types other than 0/1/64/65
 *                      or sizes beyond 2040 px)
 *   PROTO_ENOMEM
 * Unlike a byte-stream parser, a depacketizer stays usable after an
 * error: the next packet is processed normally (after the resync above).
 * Call depay_pop() until it returns false after every push, whatever the
 * push returned: a packet that fails may still have closed the previous
 * unit (a new timestamp after a lost marker).
 *
 * Ownership: struct depay owns two growing buffers (malloc, at most max_au
 * bytes each), freed by depay_free(). An access unit from depay_pop()
 * points into them and is valid until the next depay_push(), depay_reset()
 * or depay_free(). The payload given to depay_push() is copied; the caller
 * keeps it.
 */
#ifndef PROTO_DEPAY_H
#define PROTO_DEPAY_H

#include "proto.h"

#define DEPAY_MAX_AU_DEFAULT	(4u << 20)	/* 4 MiB */
#define DEPAY_MAX_READY		64	/* access units one packet may complete */
#define DEPAY_PS_MAX		512	/* a remembered parameter set */

enum depay_state {
	DEPAY_IDLE,			/* between access units */
	DEPAY_COLLECTING,		/* an access unit is being assembled */
	DEPAY_FRAGMENT,			/* inside a fragmented NAL unit, frame or AU */
	DEPAY_SKIPPING,			/* data was lost: waiting for a clean start */
};

struct depay_au {
	const uint8_t *data;
	size_t len;
	bool keyframe;			/* IDR / IRAP; always true for JPEG and audio */
	uint32_t rtp_ts;
};

struct depay_config {
	size_t max_au;			/* 0: DEPAY_MAX_AU_DEFAULT */
	int aac_sizelength;		/* 0: 13 (AAC-hbr) */
	int aac_indexlength;		/* 0 with sizelength 0: 3 */
	int aac_indexdeltalength;	/* 0 with sizelength 0: 3 */
	uint32_t aac_frame_ticks;	/* RTP ticks per AAC frame; 0: 1024 */
	bool meta_gzip;			/* vnd.onvif.metadata+gzip: each unit is a gzip member */
};

/* A remembered H.264/H.265 parameter set (NAL unit without start code). */
struct depay_ps {
	uint8_t data[DEPAY_PS_MAX];
	size_t len;			/* 0: none seen */
};

struct depay_buf {
	uint8_t *p;
	size_t len, cap;
};

/* Codec-specific state; only the member of the codec in use is touched. */
struct depay_jpeg {
	uint32_t next_off;		/* the fragment offset expected next */
	uint8_t type, q, width, height;	/* of the frame being assembled */
	uint16_t restart_interval;
	uint8_t qt_precision;		/* bit 0: luma table 16-bit, bit 1: chroma */
	uint8_t qt[256];		/* the frame's tables: 64 or 128 bytes each */
	uint8_t cached_q;		/* Q of the in-band tables kept below, 0: none */
	uint8_t cached_precision;
	uint8_t cached_qt[256];		/* for a later "length 0" table header */
	uint16_t width_px, height_px;	/* of the last frame emitted */
};

struct depay;

struct depay_ops {
	const char *name;
	/* One payload whose sequence number is in order; may emit units. */
	int (*push)(struct depay *d, const uint8_t *p, size_t len, bool marker, uint32_t ts);
};

struct depay {
	const struct depay_ops *ops;
	struct depay_config cfg;
	enum depay_state state;
	bool have_seq;
	uint16_t last_seq;
	uint32_t au_ts;			/* timestamp of the unit being assembled */
	bool au_key;
	bool have_skip_ts;
	uint32_t skip_ts;		/* DEPAY_SKIPPING: the damaged unit's timestamp */
	size_t nal_start;		/* H.26x: where the NAL being reassembled starts */
	uint32_t frag_total;		/* AAC: size of the fragmented frame */
	struct depay_jpeg jpeg;
	struct depay_buf work, done;	/* the unit in progress / the units out */
	struct depay_au ready[DEPAY_MAX_READY];
	size_t ready_off[DEPAY_MAX_READY];	/* offsets until published */
	int nready, npublished, next;
	/* H.264: sps, pps; H.265: vps, sps, pps. ps_version grows on each change. */
	struct depay_ps vps, sps, pps;
	unsigned ps_version;
	/* counters for the caller's statistics */
	uint64_t gaps, late_packets, dropped_units, errors;
};

extern const struct depay_ops depay_h264_ops;
extern const struct depay_ops depay_h265_ops;
extern const struct depay_ops depay_jpeg_ops;
extern const struct depay_ops depay_aac_ops;
extern const struct depay_ops depay_g711_ops;
extern const struct depay_ops depay_meta_ops;

/* |cfg| may be NULL (defaults). PROTO_EBADMSG for AAC lengths out of 1..16. */
int depay_init(struct depay *d, const struct depay_ops *ops, const struct depay_config *cfg);
void depay_free(struct depay *d);
int depay_push(struct depay *d, const uint8_t *payload, size_t len, bool marker, uint32_t ts,
    uint16_t seq);
/* The next ready access unit, in order; false when none is left. */
bool depay_pop(struct depay *d, struct depay_au *au);
/* Drops the partial unit and forgets the sequence (e.g. after a seek). */
void depay_reset(struct depay *d);
const char *depay_state_str(enum depay_state s);

#endif
