/*
 * recorder.h - the rolling store of recorded cameras: what replay, export
 * and the API ask of it.
 *
 * Every camera with `record` on is a reader of its hub like any other
 * (a frame queue with its own budget), so recording keeps the source up
 * and a slow disk never slows a live reader: what the recorder cannot
 * keep up with is dropped and recorded as a gap. Frames go to one writer
 * thread (recwriter.c), which depacketizes them (proto/depay), muxes them
 * into fragmented MP4 (proto/mp4w), and writes one segment file per
 * [recorder] segment_duration with an index beside it (proto/recidx):
 *
 *   <dir>/<camera id>/<UTC start, 20261206T101500.000Z>.mp4 and .idx
 *
 * A fragment starts at every video keyframe and at least every [recorder]
 * fragment_duration, so a kill -9 loses at most that; a gap (the source
 * lost or restarted, the recorder behind, new parameter sets, the disk
 * full) closes the segment and the next one starts after it. On start-up
 * every segment is checked: a torn tail is cut at the last whole fragment,
 * an index that is missing or does not match is rebuilt from the file.
 * Retention (per camera, else [recorder] retention) and the byte budget
 * ([recorder] max_bytes, oldest first) are applied by the writer.
 *
 * The catalog (on the I/O thread) knows every segment of this node, kept
 * in step with PostgreSQL's recording_segments rows, which other nodes
 * and the API read.
 *
 * Threads: every function here is for the I/O thread. Return convention:
 * gateway/ (see gw.h).
 */
#ifndef GW_MEDIA_RECORDER_H
#define GW_MEDIA_RECORDER_H

#include "gateway/gw.h"

/* Why footage is not contiguous with what was before it (recording_segments.start_reason). */
enum rec_reason {
	REC_START,			/* the first segment since recording was switched on */
	REC_NEXT,			/* contiguous: the previous one reached its duration */
	REC_SOURCE,			/* the source was lost or restarted */
	REC_BEHIND,			/* the disk did not keep up: frames were dropped */
	REC_DISK_FULL,
	REC_PARAMETERS,			/* new codec parameters (a resolution change) */
	REC_RESTART,			/* the daemon stopped (or was killed) in between */
	REC_REASON_COUNT,
};

const char *rec_reason_str(enum rec_reason r);

/* One segment file of the catalog (a copy: valid until the caller frees its array). */
struct rec_segment {
	int64_t camera_id;
	char path[128];			/* relative to [recorder] dir: "<camera id>/<name>.mp4" */
	int64_t start_wall_us;		/* capture time of its first frame */
	int64_t end_wall_us;		/* of the end of its last fragment written */
	uint64_t bytes;
	enum rec_reason reason;
	bool open;			/* still being written */
};

/*
 * The segments of |camera_id| that overlap [from_us, to_us), in time
 * order, into a malloc'ed array (*out, freed by the caller). Returns how
 * many.
 */
int recorder_segments(int64_t camera_id, int64_t from_us, int64_t to_us, struct rec_segment **out);
/* The first and last recorded instants of a camera; false when nothing is recorded. */
bool recorder_span(int64_t camera_id, int64_t *from_us, int64_t *to_us);
/* The absolute path of a segment (and of its index with |index|). */
void recorder_path(const struct rec_segment *s, bool index, char *out, size_t outlen);

struct recorder_status {
	bool recording;			/* the camera is set to record and its writer runs */
	bool disk_full;
	int64_t oldest_us, newest_us;	/* 0: nothing recorded */
	uint64_t bytes;
	int segments;
	uint64_t gaps;			/* since start */
	uint64_t dropped_frames;
};
void recorder_camera_status(int64_t camera_id, struct recorder_status *out);

struct recorder_totals {
	int cameras;			/* being recorded */
	uint64_t bytes_written;		/* since start */
	uint64_t bytes_stored;		/* on disk now */
	int segments;
	uint64_t gaps;
	uint64_t dropped_frames;
	bool disk_full;
	int64_t budget_bytes;		/* [recorder] max_bytes; 0: none */
};
void recorder_totals(struct recorder_totals *out);

struct adapter_track;
/*
 * The tracks being recorded now (those of the source the recorder reads),
 * at most |max| into |out|; returns how many, 0 when the camera is not
 * being recorded at the moment.
 */
int recorder_tracks(int64_t camera_id, struct adapter_track *out, int max);

/*
 * Evidence holds (the exports of gateway/export/): a segment of |camera_id|
 * that overlaps one of |ranges| is not deleted by retention or the byte
 * budget while the hold stands. Each call replaces the camera's holds
 * (n == 0 lifts them); the array is copied. Until recorder_holds_known()
 * has been called (the exports waiting since before a restart are known),
 * nothing is pruned at all, for at most REC_HOLD_WAIT_US after start-up.
 */
struct rec_range {
	int64_t from_us, to_us;
};
#define REC_HOLD_WAIT_US (120 * 1000000LL)
void recorder_hold(int64_t camera_id, const struct rec_range *ranges, int n);
void recorder_holds_known(void);

int recorder_init(void) GW_MUSTCHECK;
/* Stop recording: the writer finishes what it has and closes every segment. */
void recorder_shutdown(void);

#endif
