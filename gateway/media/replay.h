/*
 * replay.h - recorded media played back as a media stream (stream.h), so
 * that every RTSP writer (TCP, UDP, the HTTP tunnel, WebSocket, TLS) sends
 * recorded frames exactly as it sends live ones.
 *
 * A recording is a camera's segments in the recorder's store (recorder.h),
 * described by its newest segment (replay_describe). A replay stream is
 * positioned with replay_stream_seek(), which finds the clean point to
 * start at, and then played, paused and played again through the
 * media_stream ops. It follows ONVIF Streaming's replay rules:
 *
 *   - the first frame is the clean point at or before the start (in a gap:
 *     the next section going forward, the previous one in reverse), never
 *     one outside the grant's footage window;
 *   - Scale: forward at any speed, reverse (GOPs in reverse order, frames
 *     forward within a GOP, no audio or metadata); Frames: intra[/ms] and
 *     predicted; Rate-Control: yes paces by the recording's clock (gaps
 *     are skipped), no sends as fast as the reader takes it;
 *   - the 0xABAC extension on the first packet of every access unit:
 *     capture time, C (clean point), E (last before a gap or the end),
 *     D (after a seek, a gap, or each GOP in reverse), T (the end), and
 *     the low byte of the PLAY's CSeq;
 *   - at the live edge it waits for what the recorder writes next and goes
 *     on (no E while recording); at the end of the range, of the footage
 *     window, or of a recording that stopped, the last frames carry E and
 *     T and the owner is told (ended), to send RTCP BYE.
 *
 * Files and indexes are read on the worker pool (replay_read.c); the I/O
 * thread never touches the disk. A stream holds one segment open, so a
 * segment pruned by retention while it is read stays readable to it.
 *
 * Threads: every function here is for the I/O thread. Return convention:
 * gateway/ (see gw.h).
 */
#ifndef GW_MEDIA_REPLAY_H
#define GW_MEDIA_REPLAY_H

#include "gateway/gw.h"
#include "gateway/media/stream.h"

struct replay_desc;
struct replay_wait;

/*
 * What camera |camera_id|'s recording holds, from its newest segment.
 * |cb| runs with the description (borrowed: take a reference to keep it)
 * or with an error (nothing recorded, a file that cannot be read); it may
 * run before replay_describe() returns, which then returns NULL. The
 * handle cancels the wait and is invalid after the callback ran.
 */
typedef void (*replay_describe_cb)(void *arg, struct replay_desc *d, const char *error);
struct replay_wait *replay_describe(int64_t camera_id, replay_describe_cb cb, void *arg);
void replay_wait_cancel(struct replay_wait *w);

void replay_desc_ref(struct replay_desc *d);
void replay_desc_unref(struct replay_desc *d);
int replay_desc_ntracks(const struct replay_desc *d);
const struct adapter_track *replay_desc_track(const struct replay_desc *d, int i);
int64_t replay_desc_camera(const struct replay_desc *d);

/* The recorded span of a camera now: false when nothing is recorded; *recording: it is still growing. */
bool replay_span(int64_t camera_id, int64_t *from_us, int64_t *to_us, bool *recording);

enum replay_frames {
	REPLAY_FRAMES_ALL,
	REPLAY_FRAMES_INTRA,
	REPLAY_FRAMES_PREDICTED,
};

/* One PLAY: where and how. Times are microseconds since 1970. */
struct replay_request {
	bool has_start;			/* false: from where the stream is (or the start of the footage) */
	int64_t start_us;
	bool has_end;			/* forward: later than start; reverse: earlier */
	int64_t end_us;
	int32_t scale_milli;		/* 1000: forward at 1x; negative: reverse */
	int32_t speed_milli;		/* RFC 2326 Speed: delivery this much faster (Rate-Control); 1000 */
	bool rate_control;		/* true: paced by the recording's clock */
	enum replay_frames frames;
	uint32_t intra_interval_ms;
	uint8_t cseq;			/* low byte of the PLAY's CSeq */
	int64_t grant_id;		/* its footage window is applied to every frame */
};

enum replay_status {
	REPLAY_OK,
	REPLAY_OUTSIDE_WINDOW,		/* nothing of the range is inside the grant's footage window */
	REPLAY_NO_FOOTAGE,		/* nothing recorded there, and nothing coming */
	REPLAY_BAD_REQUEST,		/* e.g. Rate-Control: no with a Scale other than +-1 */
	REPLAY_FAILED,			/* the store could not be read */
};

/* Where a PLAY starts: what its response says. */
struct replay_position {
	int64_t start_us;		/* the clean point's capture time */
	bool has_end;
	int64_t end_us;
};

/*
 * A replay stream of |d|'s tracks (the stream keeps a reference), for the
 * owner's callbacks as media_stream_open's. Not playing until positioned.
 */
struct media_stream *replay_stream_open(struct replay_desc *d, const struct media_stream_owner_ops *ops,
    void *owner);
/*
 * Position the stream for |rq|: what was not sent yet is dropped (an
 * ONVIF Immediate: yes). REPLAY_OK: |cb| runs once the start point is
 * found, or with why not (never before this returns); any other status:
 * refused at once, |cb| will not run. media_stream_play() then starts
 * from there; a play without a new seek resumes where it paused.
 */
typedef void (*replay_seek_cb)(void *arg, enum replay_status status, const struct replay_position *pos);
enum replay_status replay_stream_seek(struct media_stream *st, const struct replay_request *rq,
    replay_seek_cb cb, void *arg);
/* Capture time of the next frame to send (where a pause stopped). */
int64_t replay_stream_position(const struct media_stream *st);
/* The earliest and latest capture times queued to the writer so far; false if none. */
bool replay_stream_sent(const struct media_stream *st, int64_t *from_us, int64_t *until_us);
/* Forget a pending seek callback (its owner goes away). */
void replay_stream_cancel_seek(struct media_stream *st);
/* Is |st| a replay stream? */
bool replay_stream_is(const struct media_stream *st);

/* The recorder wrote more of camera |camera_id|: streams waiting at the live edge go on. */
void replay_recorded(int64_t camera_id);

int replay_init(void) GW_MUSTCHECK;
void replay_shutdown(void);

#endif
