/*
 * test_hub.c - gateway/media/hub.c without sockets or adapters: the RTP
 * packets it builds, its timestamp line across a source's restart and
 * jumps, the GOP cache and a reader joining mid-GOP, a reader that starts
 * without a cache (and the keyframe asked of the source), a slow reader
 * skipping while another keeps everything, a multicast-style live start,
 * the whole keyframe unit for snapshots, and readers told when the hub goes.
 */
#include "vssgate_build.h"

#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/loop.h"
#include "gateway/media/hub.h"
#include "proto/proto.h"
#include "t/tap.h"

#include <stdlib.h>
#include <string.h>

struct gw_state gw;

static int keyframe_requests, gone_calls;

static void
request_keyframe(void *host)
{
	(void)host;
	keyframe_requests++;
}

static const struct hub_host_ops host_ops = { .request_keyframe = request_keyframe };

static void
on_wake(struct frameq *q)
{
	(void)q;
}

static const struct frameq_ops q_ops = { .wake = on_wake };

static void
on_gone(struct hub_reader *r, const char *why)
{
	(void)why;
	gone_calls++;
	hub_reader_free(r);
}

static const struct hub_reader_ops r_ops = { .gone = on_gone };

static struct hub *
described_hub(void)
{
	struct adapter_track t[2] = {
		{ .media = ADAPTER_VIDEO, .encoding = "H264", .payload_type = 96, .clock_rate = 90000 },
		{ .media = ADAPTER_AUDIO, .encoding = "PCMU", .payload_type = 0, .clock_rate = 8000, .channels = 1 },
	};
	struct hub *h = hub_new(7, "cam=7", &host_ops, NULL);

	hub_describe(h, t, 2);
	return h;
}

/* One access unit of |npay| payloads of |len| bytes. */
static size_t
ingest(struct hub *h, int track, uint32_t ts, bool key, int npay, size_t len)
{
	static uint8_t payload[4][3000];
	struct iovec iov[4];
	struct adapter_frame f = { .track = track, .rtp_ts = ts, .keyframe = key, .npayloads = npay,
	    .payloads = iov };

	for (int i = 0; i < npay; i++) {
		memset(payload[i], 0x40 + i, len);
		iov[i] = (struct iovec){ payload[i], len };
	}
	return hub_ingest(h, &f);
}

static uint32_t
rtp_ts(const struct media_frame *f)
{
	return proto_rd32(f->data + 8);
}

static void
test_packets(void)
{
	struct hub *h = described_hub();
	struct frameq q;
	struct hub_reader *r;
	struct media_frame *f;
	const uint8_t *p;

	is_int(hub_ntracks(h), 2, "two tracks");
	is_int(hub_video_track(h), 0, "video first");
	ok(hub_ssrc(h, 0) != hub_ssrc(h, 1) || hub_ssrc(h, 0) != 0, "an SSRC per track");
	frameq_init(&q, 1 << 20, &q_ops, NULL);
	frameq_set_tracks(&q, 0x3, 0);
	r = hub_reader_new(h, &q, &r_ops, NULL);
	hub_reader_play(r, NULL);
	ingest(h, 0, 1000, true, 3, 1000);
	f = frameq_peek(&q, NULL);
	ok(f != NULL && f->npkts == 3 && f->len == 3 * (16 + 1000), "three packets with '$' prefixes");
	p = f->data;
	ok(p[0] == '$' && p[1] == 0 && proto_rd16(p + 2) == 1012, "interleaved prefix: channel 0, length");
	ok(p[4] == 0x80 && (p[5] & 0x7f) == 96 && !(p[5] & 0x80), "RTP v2, PT 96, no marker on the first");
	ok(proto_rd32(p + 12) == hub_ssrc(h, 0), "the track's SSRC");
	ok((f->data[2 * 1016 + 5] & 0x80) != 0, "marker on the last packet");
	ok(proto_rd16(f->data + 1016 + 6) == (uint16_t)(proto_rd16(p + 6) + 1), "sequence numbers follow");
	frameq_pop(&q);
	ingest(h, 1, 500, false, 1, 160);
	f = frameq_peek(&q, NULL);
	ok(f != NULL && !(f->data[5] & 0x80), "G.711 never sets the marker");
	hub_reader_free(r);
	frameq_clear(&q);
	hub_free(h, "test over");
}

static void
test_timestamps(void)
{
	struct hub *h = described_hub();
	struct frameq q;
	struct hub_reader *r;
	uint32_t a, b, c;
	struct media_frame *f;

	frameq_init(&q, 1 << 20, &q_ops, NULL);
	frameq_set_tracks(&q, 0x1, 0);
	r = hub_reader_new(h, &q, &r_ops, NULL);
	hub_reader_play(r, NULL);
	ingest(h, 0, 90000, true, 1, 100);
	ingest(h, 0, 93600, false, 1, 100);
	a = rtp_ts(frameq_nth(&q, 0));
	b = rtp_ts(frameq_nth(&q, 1));
	is_int((long long)(uint32_t)(b - a), 3600, "the source's step is kept");
	hub_source_lost(h);
	ingest(h, 0, 5, true, 1, 100);	/* the restarted source counts from anywhere */
	f = frameq_nth(&q, 2);
	c = rtp_ts(f);
	ok(f->discont, "the first frame after a restart is marked");
	ok((int32_t)(c - b) >= 3600 && (int32_t)(c - b) < 90000, "and lands a step after the last, not back");
	ingest(h, 0, 5 + 90000 * 60, false, 1, 100);	/* a jump of a minute */
	ok(frameq_nth(&q, 3)->discont && (int32_t)(rtp_ts(frameq_nth(&q, 3)) - c) < 90000 * 10,
	    "a jump of more than ten seconds is rebased too");
	hub_reader_free(r);
	frameq_clear(&q);
	hub_free(h, "test over");
}

/* A source without capture times (the ffmpeg adapter) sending B frames in decode order:
 * the frames' times follow their RTP timestamps, not their arrival. */
static void
test_capture_times_follow_the_rtp_clock(void)
{
	struct hub *h = described_hub();
	struct frameq q;
	struct hub_reader *r;
	int64_t i, p, b;

	frameq_init(&q, 1 << 20, &q_ops, NULL);
	frameq_set_tracks(&q, 0x1, 0);
	r = hub_reader_new(h, &q, &r_ops, NULL);
	hub_reader_play(r, NULL);
	gw_time_refresh();
	ingest(h, 0, 90000, true, 1, 100);		/* I, shown first */
	ingest(h, 0, 90000 + 3 * 3600, false, 1, 100);	/* P, shown fourth */
	ingest(h, 0, 90000 + 3600, false, 1, 100);	/* B, shown second */
	i = frameq_nth(&q, 0)->wall_us;
	p = frameq_nth(&q, 1)->wall_us;
	b = frameq_nth(&q, 2)->wall_us;
	is_int(p - i, 120000, "the P frame is three frames after the I one");
	is_int(b - i, 40000, "the B frame that came after it, one frame after the I one");
	ingest(h, 0, 90000 + 90000 * 5, false, 1, 100);	/* a clock five seconds ahead of arrival */
	ingest(h, 0, 90000 + 90000 * 5 + 3600, false, 1, 100);
	ok(llabs(frameq_nth(&q, 3)->wall_us - gw_wall_us() - 500000) < 100000 &&
	    frameq_nth(&q, 4)->wall_us >= frameq_nth(&q, 3)->wall_us,
	    "a clock ahead of arrival: held half a second ahead, not stepping back");
	ingest(h, 0, 90000 - 90000 * 5, false, 1, 100);	/* then one far behind */
	ok(llabs(frameq_nth(&q, 5)->wall_us - gw_wall_us()) < 100000, "a clock behind: the arrival time");
	hub_reader_free(r);
	frameq_clear(&q);
	hub_free(h, "test over");
}

static void
test_gop_cache_and_late_joiner(void)
{
	struct hub *h = described_hub();
	struct frameq early, late;
	struct hub_reader *r1, *r2;
	struct media_play_info info;
	struct media_frame *f;

	frameq_init(&early, 1 << 20, &q_ops, NULL);
	frameq_set_tracks(&early, 0x3, 0);
	r1 = hub_reader_new(h, &early, &r_ops, NULL);
	keyframe_requests = 0;
	hub_reader_play(r1, &info);
	is_int(keyframe_requests, 1, "no GOP cached: the source is asked for a keyframe");
	ok(!info.valid[0], "nothing to say in RTP-Info yet");
	ingest(h, 0, 3000, false, 1, 100);
	ok(!frameq_pending(&early), "a reader without a GOP waits for a keyframe");
	ingest(h, 0, 6000, true, 2, 500);
	ingest(h, 1, 100, false, 1, 160);
	ingest(h, 0, 9000, false, 1, 300);
	is_int((int)early.count, 3, "then takes everything");
	frameq_init(&late, 1 << 20, &q_ops, NULL);
	frameq_set_tracks(&late, 0x1, 0);
	r2 = hub_reader_new(h, &late, &r_ops, NULL);
	hub_reader_play(r2, &info);
	is_int((int)late.count, 2, "a reader joining mid-GOP gets the GOP of its tracks");
	f = frameq_peek(&late, NULL);
	ok(f->keyframe && info.valid[0] && info.seq[0] == f->first_seq && info.rtp_ts[0] == f->rtp_ts,
	    "from the keyframe, and RTP-Info says where it starts");
	ok(!info.valid[1], "no audio in its RTP-Info: it takes video only");
	ingest(h, 0, 12000, true, 1, 500);
	is_int((int)late.count, 3, "live frames follow");
	hub_reader_free(r1);
	hub_reader_free(r2);
	frameq_clear(&early);
	frameq_clear(&late);
	hub_free(h, "test over");
}

static void
test_slow_reader_does_not_slow_another(void)
{
	struct hub *h = described_hub();
	struct frameq slow, fast;
	struct hub_reader *rs, *rf;
	struct frameq_stats st;

	frameq_init(&slow, 8000, &q_ops, NULL);
	frameq_init(&fast, 1 << 20, &q_ops, NULL);
	frameq_set_tracks(&slow, 0x1, 0);
	frameq_set_tracks(&fast, 0x1, 0);
	rs = hub_reader_new(h, &slow, &r_ops, NULL);
	rf = hub_reader_new(h, &fast, &r_ops, NULL);
	hub_reader_play(rs, NULL);
	hub_reader_play(rf, NULL);
	for (int i = 0; i <= 20; i++)
		ingest(h, 0, (uint32_t)(3600 * i), i % 10 == 0, 1, 1000);
	frameq_stats(&slow, &st);
	ok(st.skips >= 1 && slow.count < 21, "the slow reader skipped");
	ok(frameq_peek(&slow, NULL) && frameq_peek(&slow, NULL)->keyframe, "and went on at a keyframe");
	is_int((int)fast.count, 21, "the other one has every frame");
	hub_reader_free(rs);
	hub_reader_free(rf);
	frameq_clear(&slow);
	frameq_clear(&fast);
	hub_free(h, "test over");
}

static void
test_live_start_and_keyframe_unit(void)
{
	struct hub *h = described_hub();
	struct frameq q;
	struct hub_reader *r;
	struct media_frame *unit[8];
	struct iovec iov[1] = { { (void *)"xx", 2 } };
	struct adapter_frame piece = { .track = 0, .rtp_ts = 90000, .keyframe = true, .partial = true,
	    .npayloads = 1, .payloads = iov };
	bool complete;
	int n;

	ingest(h, 0, 0, true, 1, 100);
	ingest(h, 0, 3600, false, 1, 100);
	frameq_init(&q, 1 << 20, &q_ops, NULL);
	frameq_set_tracks(&q, 0x3, 0);
	r = hub_reader_new(h, &q, &r_ops, NULL);
	hub_reader_play_live(r);
	ok(!frameq_pending(&q), "a live start takes none of the cached GOP");
	ingest(h, 0, 7200, false, 1, 100);
	ok(!frameq_pending(&q), "nor a delta frame");
	hub_ingest(h, &piece);	/* a keyframe handed over in two pieces */
	n = hub_keyframe_unit(h, 0, unit, 8, &complete);
	ok(n == 1 && !complete, "a keyframe still arriving is not complete");
	for (int i = 0; i < n; i++)
		media_frame_unref(unit[i]);
	piece.partial = false;
	piece.keyframe = false;
	hub_ingest(h, &piece);
	n = hub_keyframe_unit(h, 0, unit, 8, &complete);
	ok(n == 2 && complete, "its last piece has the marker: the unit is whole");
	for (int i = 0; i < n; i++)
		media_frame_unref(unit[i]);
	is_int((int)q.count, 2, "the live reader started at the keyframe");
	gone_calls = 0;
	hub_free(h, "camera removed");
	is_int(gone_calls, 1, "its reader is told the hub went away");
	frameq_clear(&q);
}

int
main(void)
{
	static const char text[] = "[database]\nconninfo = dbname=test\n[security]\nsecret_key_file = /dev/null\n";
	struct cfg_error err;

	gw.cfg = config_parse("test.conf", text, strlen(text), &err);
	if (gw.cfg == NULL) {
		diag("config: %s", err.msg);
		return 1;
	}
	gw_time_refresh();
	test_packets();
	test_timestamps();
	test_capture_times_follow_the_rtp_clock();
	test_gop_cache_and_late_joiner();
	test_slow_reader_does_not_slow_another();
	test_live_start_and_keyframe_unit();
	loop_run_deferred_once();
	config_free(gw.cfg);
	return done_testing();
}
