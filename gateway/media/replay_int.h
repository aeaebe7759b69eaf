/*
 * replay_int.h - what replay's two halves share: replay.c on the I/O
 * thread (streams, positions, pacing, the policy window) and
 * replay_read.c on the worker pool (files: a segment's header and index,
 * its fragments, and RTP packets built from their samples).
 *
 * A job (struct rp_job) is owned by the worker pool from worker_submit()
 * until its done() runs on the I/O thread. While a job is in flight the
 * segment it reads and the stream's packetizers are lent to it and the
 * I/O thread leaves them alone: a stream has at most one job in flight.
 */
#ifndef GW_MEDIA_REPLAY_INT_H
#define GW_MEDIA_REPLAY_INT_H

#include "gateway/gw.h"
#include "gateway/worker.h"
#include "gateway/media/frameq.h"
#include "gateway/media/recorder.h"
#include "proto/mp4r.h"
#include "proto/pay.h"
#include "proto/recidx.h"

#include <limits.h>

#define RP_INIT_MAX (1u << 20)		/* bytes of ftyp + moov read at most */
#define RP_INDEX_MAX (8u << 20)		/* an index larger than this is not read */
#define RP_FRAG_MAX (64u << 20)		/* the recorder's own fragment limit */
#define RP_MAX_PAYLOAD 1400
#define RP_EXT_LEN 16			/* the 0xABAC extension: 4-byte header, 3 words */

/* What a stream plays of each track, as the recording describes it. */
struct rp_track {
	struct adapter_track desc;	/* SDP and the stream's ops */
	enum mp4_codec codec;
	uint32_t ssrc;
};

/* One segment file as replay reads it. Owned by its stream (or by the job that opens it). */
struct rp_seg {
	struct rec_segment cat;		/* the catalog's entry when it was opened */
	int fd;				/* -1 until opened */
	uint8_t *init;			/* ftyp + moov; |movie| points into it */
	size_t init_len;
	struct mp4r_movie movie;
	int map[MEDIA_MAX_TRACKS];	/* stream track -> index in movie.track[], or -1 */
	struct recidx_entry *idx;	/* one per whole fragment, in time order */
	size_t nidx;
	int64_t origin_us;		/* wall time at decode time 0 */
};

enum rp_job_kind {
	RJ_OPEN,			/* open (or re-read the index of) a segment */
	RJ_READ,			/* build the frames of fragments [from, to) */
};

/* Which samples a read keeps. */
struct rp_filter {
	bool video_only;		/* reverse and intra play: no audio, no metadata */
	bool intra;			/* clean points only */
	uint32_t intra_interval_us;	/* at least this far apart (recording time) */
	int64_t last_intra_us;		/* in and out: the last one kept */
	bool predicted;			/* drop frames nothing refers to */
	int64_t not_before_us;		/* INT64_MIN: none */
	int64_t before_us;		/* samples at or after it are not kept; INT64_MAX: none */
};

struct rp_job {
	struct worker_job job;
	enum rp_job_kind kind;
	void *stream;			/* the replay stream it is for (I/O thread's business) */
	struct rp_seg *seg;		/* lent (RJ_READ) or being filled (RJ_OPEN) */
	/* RJ_OPEN */
	char path[PATH_MAX];		/* the segment file */
	int ntracks;			/* the stream's tracks, to map */
	const struct rp_track *tracks;	/* lent */
	/* RJ_READ */
	size_t from, to;		/* entries of seg->idx */
	struct rp_filter filter;
	struct pay *pay;		/* lent: one packetizer per stream track */
	/* results */
	int error;			/* 0, or an errno (RJ_OPEN), PROTO_E* (a damaged fragment) */
	char why[160];
	struct media_frame **frames;	/* RJ_READ: in time order, one reference each */
	int nframes, cap;
	uint64_t bytes_read;
	bool past_end;			/* a sample at or after filter.before_us was seen */
};

void rp_job_run(struct worker_job *w);
/* Close and free a segment (any thread that owns it). NULL is a no-op. */
void rp_seg_free(struct rp_seg *s);
/* The stream track whose frames |f| carries: f->track. Its sample's decode time is f->rtp_ts. */
/* Bytes of a frame's first packet before its payload: the ONVIF flags byte is at RP_FLAGS_OFF. */
#define RP_FLAGS_OFF (4 + 12 + 4 + 8)

#endif
