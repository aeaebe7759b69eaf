/*
 * frameq.h - media frames, and the queue through which every reader of
 * media (an RTSP session, a multicast group, the recorder) receives them.
 *
 * A frame is one access unit of one track, or a piece of one, in the form
 * RTSP interleaving sends it: RTP packets back to back, each "$ channel
 * len16" then the RTP header and payload. Whoever makes frames (the hub
 * for live media, replay for recorded media) builds each once; every queue
 * that holds it holds a reference. A reader whose interleaved channels
 * are the usual ones (2 x track) writes a whole frame with one iovec;
 * other readers and UDP get the prefix rewritten or skipped.
 *
 * Threads: frame reference counts are atomic and a frame's bytes never
 * change once it is built, so a worker thread (the recorder's disk writer)
 * may hold references and read frames while the I/O thread goes on. Every
 * other function here is for the I/O thread, which owns the queues.
 *
 * A queue is bounded in bytes. A frame offered beyond the budget drops
 * what the reader has not started writing, and the reader waits for the
 * next frame it can start at (a keyframe of its start track), counted as
 * a skip. The first frame after a skip, and a frame that follows a
 * discontinuity of its source, carry FQ_DISCONT in the queue: the frame is
 * shared, the mark is the reader's.
 *
 * The queue's owner is woken (ops->wake) once per loop pass with
 * everything that was queued in it, so that a writer can send several
 * frames with one writev.
 *
 * Ownership: a struct frameq is embedded in its owner, initialised with
 * frameq_init() and emptied with frameq_clear(). Frames come from
 * media_frame_new() with one reference, owned by the caller.
 */
#ifndef GW_MEDIA_FRAMEQ_H
#define GW_MEDIA_FRAMEQ_H

#include "gateway/gw.h"
#include "adapters/adapter.h"

#include <stdatomic.h>
#include <sys/uio.h>

#define MEDIA_MAX_TRACKS ADAPTER_MAX_TRACKS

struct media_frame {
	atomic_int refcnt;
	uint8_t track;
	bool keyframe;			/* video: a decoder can start here */
	bool control;			/* a per-reader RTCP packet, not media */
	bool discont;			/* the source lost data or restarted before this frame */
	uint16_t npkts;
	uint16_t first_seq;		/* sequence number of the first packet */
	uint32_t rtp_ts;
	int32_t cto;			/* replay: presentation minus decode time (rtp_ts is the decode
					 * time there), in rtp_ts's ticks: B frames; 0 for live frames */
	int64_t wall_us;		/* capture (or arrival) time, wall clock */
	uint32_t len;			/* bytes in data */
	uint8_t data[];			/* npkts x ('$' ch len16 RTP-header payload) */
};

/* A frame of |len| data bytes with one reference; the caller fills it. */
struct media_frame *media_frame_new(size_t len);
void media_frame_ref(struct media_frame *f);
/* Drop a reference (any thread); NULL is a no-op. */
void media_frame_unref(struct media_frame *f);

/* Length of the packet at byte |off| of |f|, its 4-byte prefix included. */
static inline uint32_t
media_packet_len(const struct media_frame *f, uint32_t off)
{
	return 4u + ((uint32_t)f->data[off + 2] << 8 | f->data[off + 3]);
}

/* True when the last packet of |f| has the RTP marker bit. */
bool media_frame_marked(const struct media_frame *f);

/* The marks a queue entry carries for its reader. */
#define FQ_DISCONT 0x01u		/* what came before this frame is not all there */

struct frameq;

struct frameq_ops {
	/* Frames were queued (called after the loop pass that queued them). */
	void (*wake)(struct frameq *q);
	/* Optional: the queue came down to its low-water mark (frameq_want_space). */
	void (*space)(struct frameq *q);
};

struct frameq_stats {
	uint64_t frames_sent, bytes_sent, frames_dropped, skips;
};

/*
 * A queue entry is the frame's address with the reader's marks in its low
 * bits (frames come from malloc, so at least 8-byte aligned): a reader's
 * ring costs a pointer per frame, as it did before the marks existed.
 */
typedef uintptr_t fq_entry;
#define FQ_FLAG_BITS 0x7u

struct frameq {
	const struct frameq_ops *ops;
	void *owner;
	unsigned track_mask;		/* tracks this reader takes */
	int start_track;		/* a skip waits for a keyframe of this track; -1: any frame */
	size_t budget;			/* bytes */
	bool waiting_keyframe;
	bool mark_next;			/* the next frame queued gets FQ_DISCONT */
	bool scheduled;			/* on the wake list */
	bool want_space, space_due;	/* frameq_want_space(): waiting for, reached */
	size_t low_water;
	fq_entry *ring;
	uint32_t cap, head, count;
	size_t queued_bytes;
	uint32_t pos;			/* bytes of the head frame already written */
	uint8_t scratch[256][4];	/* '$' headers of remapped channels, for one iov call */
	struct frameq_stats stats;
	uint32_t track_packets[MEDIA_MAX_TRACKS];
	uint32_t track_octets[MEDIA_MAX_TRACKS];
	TAILQ_ENTRY(frameq) wake_link;
};

void frameq_init(struct frameq *q, size_t budget, const struct frameq_ops *ops, void *owner);
/* Drop every frame and the ring; the queue can be used again after frameq_init(). */
void frameq_clear(struct frameq *q);
void frameq_set_tracks(struct frameq *q, unsigned track_mask, int start_track);

/*
 * Offer a frame as its source made it (live): kept to the budget, skipping
 * to the next start point when the reader is behind. Frames of tracks the
 * queue does not take are ignored. True when it was queued.
 */
bool frameq_offer(struct frameq *q, struct media_frame *f);
/* Queue a frame whatever the budget (a cached GOP at start, replayed media). */
void frameq_push(struct frameq *q, struct media_frame *f, unsigned flags);
/* Take nothing until the next start point (a reader that starts live). */
void frameq_wait_start(struct frameq *q);
/* Drop what the reader has not started writing (pause, seek). */
void frameq_drop_unsent(struct frameq *q);
/* Drop everything, even a frame half written (datagrams only). */
void frameq_discard(struct frameq *q);
/*
 * Call ops->space once, in a later loop pass, when at most |low_water|
 * bytes are queued (at once if that is so already): a feed that is not
 * paced by a source (replay as fast as the reader reads) refills on it.
 */
void frameq_want_space(struct frameq *q, size_t low_water);
/* Queue a reader-specific packet (an RTCP SR) on |track|'s RTCP channel. */
void frameq_queue_control(struct frameq *q, int track, const void *pkt, size_t len);

/* Frame access, for readers that want frames rather than bytes. */
bool frameq_pending(const struct frameq *q);
size_t frameq_bytes(const struct frameq *q);
/* The oldest frame queued and its marks (borrowed), or NULL. */
struct media_frame *frameq_peek(const struct frameq *q, unsigned *flags);
/* The |i|th frame queued (0: the oldest), borrowed; NULL past the end. */
struct media_frame *frameq_nth(const struct frameq *q, uint32_t i);
/* Remove the oldest frame, counting it as sent. */
void frameq_pop(struct frameq *q);

/*
 * Byte access, for writers. frameq_iov() describes up to |max| iovecs or
 * |max_bytes| bytes from the current position. |channels| gives the
 * interleaved channel of each track's RTP (RTCP is +1). frameq_consumed()
 * advances by |n| bytes of what was described.
 */
int frameq_iov(struct frameq *q, struct iovec *iov, int max, size_t max_bytes,
    const uint8_t channels[MEDIA_MAX_TRACKS]);
void frameq_consumed(struct frameq *q, size_t n);
/* True when the next byte to write starts a packet (control bytes may go in between). */
bool frameq_at_boundary(const struct frameq *q);

void frameq_stats(const struct frameq *q, struct frameq_stats *out);
/* Packets and octets sent on |track| (for RTCP SR). */
void frameq_track_counts(const struct frameq *q, int track, uint32_t *packets, uint32_t *octets);

/* Totals of every queue since start, for /metrics. */
void frameq_totals(uint64_t *bytes_out, uint64_t *frames_dropped);

#endif
