/*
 * frameq.c - media frames and per-reader frame queues (see frameq.h).
 *
 * The queue is a ring of (frame, marks) entries that doubles when full,
 * up to RING_MAX entries: beyond that a reader is behind whatever its
 * bytes (thousands of tiny audio frames would otherwise pass the budget).
 */
#include "gateway/gw.h"
#include "gateway/loop.h"
#include "gateway/media/frameq.h"
#include "proto/proto.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define RING_MIN 64
_Static_assert(_Alignof(max_align_t) > FQ_FLAG_BITS, "malloc leaves no low bits for the marks");
#define RING_MAX 8192

TAILQ_HEAD(frameq_list, frameq);

static struct frameq_list wake_list = TAILQ_HEAD_INITIALIZER(wake_list);
static struct loop_deferred wake_deferred;
static uint64_t total_bytes_out, total_frames_dropped;

/* --- frames ------------------------------------------------------------------ */

struct media_frame *
media_frame_new(size_t len)
{
	struct media_frame *f = gw_xmalloc(sizeof(*f) + len);

	memset(f, 0, sizeof(*f));
	atomic_init(&f->refcnt, 1);
	f->len = (uint32_t)len;
	return f;
}

void
media_frame_ref(struct media_frame *f)
{
	atomic_fetch_add_explicit(&f->refcnt, 1, memory_order_relaxed);
}

void
media_frame_unref(struct media_frame *f)
{
	if (f != NULL && atomic_fetch_sub_explicit(&f->refcnt, 1, memory_order_acq_rel) == 1)
		free(f);
}

bool
media_frame_marked(const struct media_frame *f)
{
	uint32_t off = 0, last = 0;

	while (off + 4 <= f->len) {
		last = off;
		off += media_packet_len(f, off);
	}
	return f->len >= last + 6 && (f->data[last + 5] & 0x80) != 0;
}

/* --- waking the owners --------------------------------------------------------- */

/*
 * The queue whose owner wake_all() is calling, and whether frameq_clear()
 * came for it meanwhile: a space callback may end the owner's stream (the
 * last frames go out, the peer is found gone, the session ends and frees
 * the stream with its queue), and then nothing more may touch it.
 */
static struct frameq *waking;
static bool waking_cleared;

static void
wake_all(void *arg)
{
	struct frameq *q;

	(void)arg;
	while ((q = TAILQ_FIRST(&wake_list)) != NULL) {
		TAILQ_REMOVE(&wake_list, q, wake_link);
		q->scheduled = false;
		if (q->space_due) {
			q->space_due = false;
			waking = q;
			waking_cleared = false;
			q->ops->space(q);	/* may queue frames: the wake below sends them */
			waking = NULL;
			if (waking_cleared)
				continue;	/* its owner freed it */
		}
		q->ops->wake(q);
	}
}

static void
schedule_wake(struct frameq *q)
{
	if (q->scheduled)
		return;
	q->scheduled = true;
	TAILQ_INSERT_TAIL(&wake_list, q, wake_link);
	loop_defer(&wake_deferred, wake_all, NULL);
}

/* --- the ring ------------------------------------------------------------------- */

static fq_entry
entry_make(struct media_frame *f, unsigned flags)
{
	return (uintptr_t)f | (flags & FQ_FLAG_BITS);
}

static struct media_frame *
entry_frame(fq_entry e)
{
	return (struct media_frame *)(e & ~(uintptr_t)FQ_FLAG_BITS);
}

static fq_entry *
entry_at(const struct frameq *q, uint32_t i)
{
	return &q->ring[(q->head + i) % q->cap];
}

static struct media_frame *
frame_at(const struct frameq *q, uint32_t i)
{
	return entry_frame(*entry_at(q, i));
}

static void
ring_grow(struct frameq *q)
{
	uint32_t ncap = q->cap ? 2 * q->cap : RING_MIN;
	fq_entry *nring = gw_xmalloc(ncap * sizeof(*nring));

	for (uint32_t i = 0; i < q->count; i++)
		nring[i] = *entry_at(q, i);
	free(q->ring);
	q->ring = nring;
	q->cap = ncap;
	q->head = 0;
}

static void
ring_push(struct frameq *q, struct media_frame *f, unsigned flags)
{
	if (q->count == q->cap)
		ring_grow(q);
	media_frame_ref(f);
	*entry_at(q, q->count) = entry_make(f, flags);
	q->count++;
	q->queued_bytes += f->len;
}

static void
ring_pop(struct frameq *q)
{
	struct media_frame *f = frame_at(q, 0);

	q->queued_bytes -= f->len;
	q->head = (q->head + 1) % q->cap;
	q->count--;
	q->pos = 0;
	media_frame_unref(f);
	if (q->want_space && q->queued_bytes <= q->low_water) {
		q->want_space = false;
		q->space_due = true;
		schedule_wake(q);
	}
}

/* --- the queue ------------------------------------------------------------------- */

void
frameq_init(struct frameq *q, size_t budget, const struct frameq_ops *ops, void *owner)
{
	memset(q, 0, sizeof(*q));
	q->ops = ops;
	q->owner = owner;
	q->budget = budget;
	q->start_track = -1;
}

void
frameq_clear(struct frameq *q)
{
	if (q == waking)
		waking_cleared = true;
	/* Popping must not ask for a space callback: the owner is going away
	 * (a replay stream may outlive its session while a read is out). */
	q->want_space = q->space_due = false;
	while (q->count > 0)
		ring_pop(q);
	if (q->scheduled) {
		TAILQ_REMOVE(&wake_list, q, wake_link);
		q->scheduled = false;
	}
	free(q->ring);
	q->ring = NULL;
	q->cap = q->head = 0;
}

void
frameq_set_tracks(struct frameq *q, unsigned track_mask, int start_track)
{
	q->track_mask = track_mask;
	q->start_track = start_track >= 0 && (track_mask & (1u << start_track)) ? start_track : -1;
}

static bool
is_start_point(const struct frameq *q, const struct media_frame *f)
{
	return q->start_track < 0 || (f->keyframe && f->track == q->start_track);
}

void
frameq_drop_unsent(struct frameq *q)
{
	uint32_t keep = q->pos > 0 ? 1 : 0;

	while (q->count > keep) {
		struct media_frame *f = frame_at(q, q->count - 1);

		q->queued_bytes -= f->len;
		q->count--;
		if (!f->control) {
			q->stats.frames_dropped++;
			total_frames_dropped++;
			q->mark_next = true;
		}
		media_frame_unref(f);
	}
}

void
frameq_discard(struct frameq *q)
{
	frameq_drop_unsent(q);
	if (q->count > 0)
		ring_pop(q);
}

void
frameq_wait_start(struct frameq *q)
{
	q->waiting_keyframe = q->start_track >= 0;
}

void
frameq_push(struct frameq *q, struct media_frame *f, unsigned flags)
{
	if (q->mark_next && !f->control) {
		flags |= FQ_DISCONT;
		q->mark_next = false;
	}
	if (f->discont)
		flags |= FQ_DISCONT;
	ring_push(q, f, flags);
	schedule_wake(q);
}

bool
frameq_offer(struct frameq *q, struct media_frame *f)
{
	if (!(q->track_mask & (1u << f->track)))
		return false;
	if (q->queued_bytes + f->len > q->budget || q->count >= RING_MAX) {
		frameq_drop_unsent(q);
		if (!q->waiting_keyframe)
			q->stats.skips++;
		q->waiting_keyframe = true;
	}
	if (q->waiting_keyframe) {
		if (!is_start_point(q, f)) {
			q->stats.frames_dropped++;
			total_frames_dropped++;
			q->mark_next = true;
			return false;
		}
		q->waiting_keyframe = false;
	}
	frameq_push(q, f, 0);
	return true;
}

void
frameq_want_space(struct frameq *q, size_t low_water)
{
	if (q->ops->space == NULL)
		return;
	q->low_water = low_water;
	if (q->queued_bytes <= low_water) {
		q->space_due = true;
		schedule_wake(q);
	} else {
		q->want_space = true;
	}
}

void
frameq_queue_control(struct frameq *q, int track, const void *pkt, size_t len)
{
	struct media_frame *f;

	if (len > 65535 || track < 0 || track >= MEDIA_MAX_TRACKS)
		return;
	f = media_frame_new(4 + len);
	f->track = (uint8_t)track;
	f->control = true;
	f->npkts = 1;
	f->data[0] = '$';
	f->data[1] = (uint8_t)(2 * track + 1);
	proto_wr16(f->data + 2, (uint16_t)len);
	memcpy(f->data + 4, pkt, len);
	ring_push(q, f, 0);
	media_frame_unref(f);
	schedule_wake(q);
}

/* --- frame access ------------------------------------------------------------------ */

bool
frameq_pending(const struct frameq *q)
{
	return q->count > 0;
}

size_t
frameq_bytes(const struct frameq *q)
{
	return q->queued_bytes;
}

struct media_frame *
frameq_peek(const struct frameq *q, unsigned *flags)
{
	fq_entry e;

	if (q->count == 0)
		return NULL;
	e = *entry_at(q, 0);
	if (flags != NULL)
		*flags = (unsigned)(e & FQ_FLAG_BITS);
	return entry_frame(e);
}

struct media_frame *
frameq_nth(const struct frameq *q, uint32_t i)
{
	return i < q->count ? frame_at(q, i) : NULL;
}

static void
count_frame_sent(struct frameq *q, const struct media_frame *f)
{
	if (f->control)
		return;
	q->stats.frames_sent++;
	q->track_packets[f->track] += f->npkts;
	q->track_octets[f->track] += f->len - 16u * f->npkts;
}

void
frameq_pop(struct frameq *q)
{
	struct media_frame *f;

	if (q->count == 0)
		return;
	f = frame_at(q, 0);
	q->stats.bytes_sent += f->len - q->pos;
	count_frame_sent(q, f);
	ring_pop(q);
}

/* --- byte access -------------------------------------------------------------------- */

bool
frameq_at_boundary(const struct frameq *q)
{
	const struct media_frame *f;
	uint32_t off = 0;

	if (q->pos == 0)
		return true;
	f = frame_at(q, 0);
	while (off < q->pos)
		off += media_packet_len(f, off);
	return off == q->pos;
}

static uint8_t
wanted_channel(const struct media_frame *f, const uint8_t channels[MEDIA_MAX_TRACKS])
{
	return (uint8_t)(channels[f->track] + (f->control ? 1 : 0));
}

/*
 * A frame whose stored channels are what the reader wants is one iovec;
 * otherwise each packet gets its own 4-byte header from the scratch area.
 */
int
frameq_iov(struct frameq *q, struct iovec *iov, int max, size_t max_bytes,
    const uint8_t channels[MEDIA_MAX_TRACKS])
{
	size_t bytes = 0;
	uint32_t pos = q->pos;
	int n = 0, nscratch = 0;

	for (uint32_t i = 0; i < q->count && n < max && bytes < max_bytes; i++, pos = 0) {
		struct media_frame *f = frame_at(q, i);
		uint8_t want = wanted_channel(f, channels);

		if (f->data[1] == want) {
			iov[n].iov_base = f->data + pos;
			iov[n].iov_len = f->len - pos;
			bytes += iov[n++].iov_len;
			continue;
		}
		for (uint32_t off = 0; off < f->len && n + 2 <= max && nscratch < 256;) {
			uint32_t plen = media_packet_len(f, off);

			if (off + plen <= pos) {
				off += plen;
				continue;
			}
			if (pos < off + 4) {
				uint32_t skip = pos > off ? pos - off : 0;

				memcpy(q->scratch[nscratch], f->data + off, 4);
				q->scratch[nscratch][1] = want;
				iov[n].iov_base = q->scratch[nscratch] + skip;
				iov[n].iov_len = 4 - skip;
				bytes += iov[n++].iov_len;
				nscratch++;
			}
			iov[n].iov_base = f->data + GW_MAX(off + 4, pos);
			iov[n].iov_len = off + plen - GW_MAX(off + 4, pos);
			bytes += iov[n++].iov_len;
			off += plen;
		}
		if (n + 2 > max || nscratch >= 256)
			break;
	}
	return n;
}

void
frameq_consumed(struct frameq *q, size_t n)
{
	q->stats.bytes_sent += n;
	total_bytes_out += n;
	while (n > 0 && q->count > 0) {
		struct media_frame *f = frame_at(q, 0);
		size_t left = f->len - q->pos;

		if (n < left) {
			q->pos += (uint32_t)n;
			return;
		}
		n -= left;
		count_frame_sent(q, f);
		ring_pop(q);
	}
}

void
frameq_stats(const struct frameq *q, struct frameq_stats *out)
{
	*out = q->stats;
}

void
frameq_track_counts(const struct frameq *q, int track, uint32_t *packets, uint32_t *octets)
{
	*packets = q->track_packets[track];
	*octets = q->track_octets[track];
}

void
frameq_totals(uint64_t *bytes_out, uint64_t *frames_dropped)
{
	*bytes_out = total_bytes_out;
	*frames_dropped = total_frames_dropped;
}
