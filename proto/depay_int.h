/*
 * depay_int.h - helpers shared by the depacketizers (depay*.c only).
 *
 * The unit in progress is built in d->work. Completed units are registered
 * with depay_ready_add() (offsets into work) and made visible with
 * depay_publish(), which swaps work and done: the units then live in done
 * and work starts empty. Two publishes in one push are fine (the first
 * units stay in the other buffer until the next push appends to it).
 */
#ifndef PROTO_DEPAY_INT_H
#define PROTO_DEPAY_INT_H

#include "depay.h"

/* Appends to d->work, growing it up to max_au (PROTO_ETOOBIG, PROTO_ENOMEM). */
int depay_append(struct depay *d, const void *p, size_t n);
/* Registers work[off, off + len) as a unit (PROTO_ETOOBIG past DEPAY_MAX_READY). */
int depay_ready_add(struct depay *d, size_t off, size_t len, bool key, uint32_t ts);
void depay_publish(struct depay *d);
/* The whole of work as one unit, published; state back to DEPAY_IDLE. */
int depay_emit(struct depay *d, bool key, uint32_t ts);
/* Drops the unit in progress (counted when there was one). */
void depay_drop_partial(struct depay *d);
/* DEPAY_SKIPPING by timestamp: true when this packet belongs to the damaged
 * unit and must be dropped; moves on to DEPAY_IDLE at its end. */
bool depay_skip_damaged(struct depay *d, uint32_t ts, bool marker);
/* Copies a parameter set when it differs from the remembered one. */
void depay_remember_ps(struct depay *d, struct depay_ps *ps, const uint8_t *nal, size_t len);

/* --- NAL-based codecs (depay_nal.c, for H.264 and H.265) --------------- */

/* Called on each complete NAL unit (without start code) in the work buffer. */
typedef void (*depay_nal_inspect_fn)(struct depay *d, const uint8_t *nal, size_t len);

/*
 * Before a packet: handles DEPAY_SKIPPING, closes the previous unit when
 * the timestamp changed without a marker (emitted if whole, dropped when a
 * NAL was still fragmented), opens a unit. Returns 1 to drop the packet,
 * 0 to go on.
 */
int depay_nal_begin(struct depay *d, uint32_t ts, bool marker);
/* A whole NAL unit: start code, |hdr| (its rebuilt header, or NULL) and |body|. */
int depay_nal_whole(struct depay *d, const uint8_t *hdr, size_t hdr_len, const uint8_t *body,
    size_t body_len, depay_nal_inspect_fn inspect);
/*
 * An aggregation packet (H.264 STAP-A, H.265 AP): (16-bit size, NAL unit)+
 * from |off| to the end; each NAL at least |min_nal| bytes and |valid|.
 */
int depay_nal_aggregate(struct depay *d, const uint8_t *p, size_t len, size_t off, size_t min_nal,
    bool (*valid)(const uint8_t *nal), depay_nal_inspect_fn inspect);
/* A fragment: |start| opens a NAL with header |hdr|, |end| closes it. */
int depay_nal_fragment(struct depay *d, bool start, bool end, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *body, size_t body_len, depay_nal_inspect_fn inspect);
/* After a packet: the marker closes the unit (an open fragment is an error). */
int depay_nal_end(struct depay *d, bool marker);

#endif
