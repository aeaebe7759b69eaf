/*
 * test_frameq.c - gateway/media/frameq.c without sockets: frame reference
 * counts across threads, queue order and marks, the byte budget and the
 * skip to the next keyframe, half-written frames, iovecs with and without
 * remapped channels, control frames, the ring growing, and waking the
 * owner once per loop pass.
 */
#include "vssgate_build.h"

#include "gateway/gw.h"
#include "gateway/loop.h"
#include "gateway/media/frameq.h"
#include "proto/proto.h"
#include "t/tap.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct gw_state gw;

/* A frame of |npkts| packets of |plen| payload bytes on |track|, RTP sequence from |seq|. */
static struct media_frame *
frame(int track, bool key, int npkts, int plen, uint16_t seq)
{
	struct media_frame *f = media_frame_new((size_t)npkts * (16 + (size_t)plen));
	uint8_t *p = f->data;

	f->track = (uint8_t)track;
	f->keyframe = key;
	f->npkts = (uint16_t)npkts;
	f->first_seq = seq;
	for (int i = 0; i < npkts; i++, p += 16 + plen) {
		p[0] = '$';
		p[1] = (uint8_t)(2 * track);
		proto_wr16(p + 2, (uint16_t)(12 + plen));
		memset(p + 4, 0, 12);
		p[4] = 0x80;
		p[5] = i == npkts - 1 ? 0x80 : 0;
		proto_wr16(p + 6, (uint16_t)(seq + i));
		memset(p + 16, 'a' + track, (size_t)plen);
	}
	return f;
}

static int wakes;

static void
on_wake(struct frameq *q)
{
	(void)q;
	wakes++;
}

static int spaces;

static void
on_space(struct frameq *q)
{
	(void)q;
	spaces++;
}

static const struct frameq_ops ops = { .wake = on_wake };
static const struct frameq_ops ops_space = { .wake = on_wake, .space = on_space };

/* Offer a new frame and drop the caller's reference. */
static bool
offer(struct frameq *q, struct media_frame *f)
{
	bool queued = frameq_offer(q, f);

	media_frame_unref(f);
	return queued;
}

/* --- frames --------------------------------------------------------------------- */

static void *
ref_unref_loop(void *arg)
{
	struct media_frame *f = arg;

	for (int i = 0; i < 200000; i++) {
		media_frame_ref(f);
		media_frame_unref(f);
	}
	return NULL;
}

static void
test_refcount_across_threads(void)
{
	struct media_frame *f = frame(0, true, 1, 10, 1);
	pthread_t t[4];

	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, ref_unref_loop, f);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	is_int(atomic_load(&f->refcnt), 1, "four threads taking and dropping references leave one");
	ok(media_frame_marked(f), "the last packet carries the marker");
	media_frame_unref(f);	/* ASan reports a leak or a double free if the count is off */
}

/* --- order, marks, budget ---------------------------------------------------------- */

static void
test_order_and_marks(void)
{
	struct frameq q;
	unsigned flags = 99;

	frameq_init(&q, 1 << 20, &ops, NULL);
	frameq_set_tracks(&q, 0x3, 0);
	ok(offer(&q, frame(0, true, 2, 100, 10)), "a keyframe is queued");
	ok(offer(&q, frame(1, false, 1, 50, 20)), "audio is queued");
	ok(!offer(&q, frame(2, false, 1, 50, 30)), "a track the reader does not take is not");
	is_int(frameq_peek(&q, &flags)->first_seq, 10, "oldest first");
	is_int(flags, 0, "no mark on a frame that follows what came before");
	is_int((long long)frameq_bytes(&q), 2 * 116 + 66, "bytes queued");
	frameq_pop(&q);
	is_int(frameq_peek(&q, NULL)->track, 1, "then the next");
	frameq_pop(&q);
	ok(!frameq_pending(&q), "empty");
	frameq_clear(&q);
}

static void
test_budget_skips_to_the_next_keyframe(void)
{
	struct frameq q;
	struct frameq_stats st;
	unsigned flags;

	frameq_init(&q, 1300, &ops, NULL);
	frameq_set_tracks(&q, 0x1, 0);
	for (int i = 0; i < 3; i++)
		offer(&q, frame(0, i == 0, 2, 200, (uint16_t)(100 + 2 * i)));
	is_int((long long)frameq_bytes(&q), 3 * 432, "three frames may pass the budget one at a time");
	ok(!offer(&q, frame(0, false, 1, 200, 106)), "one more is over the budget: dropped");
	ok(!frameq_pending(&q), "and what was queued, not started, went with it");
	ok(!offer(&q, frame(0, false, 1, 200, 107)), "a delta frame is not a place to start");
	ok(offer(&q, frame(0, true, 1, 200, 108)), "the next keyframe is");
	frameq_peek(&q, &flags);
	ok(flags & FQ_DISCONT, "and is marked: what came before it is not all there");
	frameq_stats(&q, &st);
	is_int((long long)st.skips, 1, "one skip counted");
	is_int((long long)st.frames_dropped, 5, "five frames dropped");
	frameq_clear(&q);
}

static void
test_audio_only_reader_starts_anywhere(void)
{
	struct frameq q;
	struct frameq_stats st;

	frameq_init(&q, 100, &ops, NULL);
	frameq_set_tracks(&q, 0x2, 0);	/* the start track is not taken: any frame will do */
	is_int(q.start_track, -1, "no start track");
	offer(&q, frame(1, false, 1, 60, 1));
	ok(offer(&q, frame(1, false, 1, 60, 2)), "over the budget, yet the new frame is taken");
	frameq_stats(&q, &st);
	ok(st.skips == 1 && q.count == 1 && frameq_peek(&q, NULL)->first_seq == 2,
	    "what was queued went: the reader skipped to the newest frame");
	frameq_clear(&q);
}

static void
test_half_written_frame_is_kept(void)
{
	struct frameq q;
	struct iovec iov[8];
	static const uint8_t chans[MEDIA_MAX_TRACKS] = { 0, 2, 4, 6 };
	int n;

	frameq_init(&q, 400, &ops, NULL);
	frameq_set_tracks(&q, 0x1, 0);
	offer(&q, frame(0, true, 2, 100, 1));
	n = frameq_iov(&q, iov, 8, 1 << 20, chans);
	is_int(n, 1, "a frame on its usual channels is one iovec");
	frameq_consumed(&q, 50);
	ok(!frameq_at_boundary(&q), "50 bytes in: inside a packet");
	frameq_consumed(&q, 66);
	ok(frameq_at_boundary(&q), "116 bytes in: between packets");
	ok(!offer(&q, frame(0, false, 2, 100, 3)), "a second frame is over the budget");
	is_int(frameq_peek(&q, NULL)->first_seq, 1, "the frame half written stays");
	is_int((int)q.count, 1, "and only it");
	frameq_discard(&q);
	ok(!frameq_pending(&q), "discard drops even that (datagrams only)");
	frameq_clear(&q);
}

static void
test_iov_remaps_channels(void)
{
	struct frameq q;
	struct iovec iov[16];
	static const uint8_t chans[MEDIA_MAX_TRACKS] = { 6, 2, 4, 0 };
	uint8_t *hdr;
	int n;

	frameq_init(&q, 1 << 20, &ops, NULL);
	frameq_set_tracks(&q, 0x1, 0);
	offer(&q, frame(0, true, 3, 100, 1));
	n = frameq_iov(&q, iov, 16, 1 << 20, chans);
	is_int(n, 6, "three packets on another channel: a header and a payload each");
	hdr = iov[0].iov_base;
	ok(iov[0].iov_len == 4 && hdr[0] == '$' && hdr[1] == 6, "the header says channel 6");
	is_int((long long)iov[1].iov_len, 112, "then RTP header and payload from the frame");
	frameq_consumed(&q, 4 + 112 + 2);
	n = frameq_iov(&q, iov, 16, 1 << 20, chans);
	ok(n == 4 && iov[0].iov_len == 2, "resuming inside the second header");
	frameq_clear(&q);
}

static void
test_control_frames(void)
{
	struct frameq q;
	struct media_frame *f;
	struct frameq_stats st;
	uint8_t sr[28] = { 0x80, 200 };

	frameq_init(&q, 1 << 20, &ops, NULL);
	frameq_set_tracks(&q, 0x1, 0);
	frameq_queue_control(&q, 0, sr, sizeof(sr));
	f = frameq_peek(&q, NULL);
	ok(f != NULL && f->control && f->data[1] == 1 && f->len == 4 + sizeof(sr),
	    "an RTCP packet on the track's RTCP channel");
	frameq_consumed(&q, f->len);
	frameq_stats(&q, &st);
	is_int((long long)st.frames_sent, 0, "control frames are not media frames sent");
	frameq_clear(&q);
}

static void
test_ring_grows_and_caps(void)
{
	struct frameq q;
	struct frameq_stats st;
	int queued = 0;

	frameq_init(&q, 1 << 30, &ops, NULL);
	frameq_set_tracks(&q, 0x2, 0);
	for (int i = 0; i < 9000; i++)
		queued += offer(&q, frame(1, false, 1, 4, (uint16_t)i));
	frameq_stats(&q, &st);
	ok(st.skips == 1 && q.count < 8192, "a reader 8,192 frames behind is behind, whatever its bytes");
	ok(queued > 8192, "the ring grew past its first size");
	frameq_clear(&q);
}

static void
test_wake_once_per_pass(void)
{
	struct frameq q;

	frameq_init(&q, 1 << 20, &ops, NULL);
	frameq_set_tracks(&q, 0x1, 0);
	wakes = 0;
	offer(&q, frame(0, true, 1, 10, 1));
	offer(&q, frame(0, false, 1, 10, 2));
	is_int(wakes, 0, "not woken inside the pass");
	loop_run_deferred_once();
	is_int(wakes, 1, "woken once after it, for both frames");
	offer(&q, frame(0, false, 1, 10, 3));
	frameq_clear(&q);
	loop_run_deferred_once();
	is_int(wakes, 1, "a queue cleared before the end of the pass is not woken");
}

/* Clearing a queue whose owner asked for space (a replay stream waiting for
 * its writer) pops frames below the low-water mark: that must not wake the
 * owner that is going away. */
static void
test_clear_wakes_no_one(void)
{
	struct frameq q;

	frameq_init(&q, 1 << 20, &ops_space, NULL);
	frameq_set_tracks(&q, 0x1, 0);
	offer(&q, frame(0, true, 4, 1000, 1));
	offer(&q, frame(0, false, 4, 1000, 2));
	loop_run_deferred_once();
	wakes = spaces = 0;
	frameq_want_space(&q, 100);
	frameq_clear(&q);
	loop_run_deferred_once();
	is_int(spaces, 0, "no space callback after a clear, though the frames went below the mark");
	is_int(wakes, 0, "and no wake");
}

int
main(void)
{
	gw_time_refresh();
	test_refcount_across_threads();
	test_order_and_marks();
	test_budget_skips_to_the_next_keyframe();
	test_audio_only_reader_starts_anywhere();
	test_half_written_frame_is_kept();
	test_iov_remaps_channels();
	test_control_frames();
	test_ring_grows_and_caps();
	test_wake_once_per_pass();
	test_clear_wakes_no_one();
	return done_testing();
}
