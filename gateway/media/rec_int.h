/*
 * rec_int.h - what the recorder's two halves exchange: recorder.c on the
 * I/O thread (readers of the hubs, the catalog, the database) and
 * recwriter.c on its own thread (depacketizing, muxing, files).
 *
 * They share no state: messages go to the writer through one locked
 * queue (recw_post), notices come back through another, whose arrival
 * wakes the I/O thread with event_active(). A message or notice belongs to
 * whoever holds it; a frame in a message holds one reference, dropped by
 * the writer.
 */
#ifndef GW_MEDIA_REC_INT_H
#define GW_MEDIA_REC_INT_H

#include "gateway/gw.h"
#include "gateway/media/frameq.h"
#include "gateway/media/recorder.h"
#include "adapters/adapter.h"

enum recw_kind {
	RW_CAMERA,			/* start (or reconfigure) recording a camera: tracks, retention */
	RW_FRAME,			/* a frame of a camera being recorded */
	RW_STOP,			/* stop recording a camera: close its segment */
	RW_RETENTION,			/* its retention changed */
	RW_CONFIG,			/* [recorder] keys changed (a reload) */
	RW_HOLD,			/* the camera's evidence holds (replaced) */
	RW_HOLDS_KNOWN,			/* every hold was stated once: pruning may start */
};

/* The reloadable [recorder] keys, as the thread keeps them. */
struct recw_cfg {
	int64_t retention_ms, max_bytes, segment_ms, fragment_ms, sync_ms, disk_retry_ms;
};

struct recw_msg {
	enum recw_kind kind;
	int64_t camera_id;
	struct media_frame *frame;	/* RW_FRAME: one reference */
	unsigned flags;			/* RW_FRAME: FQ_DISCONT */
	int64_t retention_ms;		/* RW_CAMERA, RW_RETENTION; 0: the default */
	struct recw_cfg cfg;		/* RW_CONFIG */
	int ntracks;			/* RW_CAMERA */
	struct adapter_track *tracks;	/* RW_CAMERA: malloc'ed copy, freed with the message */
	int nholds;			/* RW_HOLD */
	struct rec_range *holds;	/* RW_HOLD: malloc'ed copy, freed with the message */
	TAILQ_ENTRY(recw_msg) link;
};

enum recn_kind {
	RN_SEGMENT,			/* a segment opened, grew or closed (seg) */
	RN_PRUNED,			/* a segment was deleted (seg.path) */
	RN_DRAINED,			/* |bytes| of a camera's frames are done with */
	RN_DISK_FULL,			/* writing failed for lack of space: recording paused */
	RN_DISK_OK,			/* it works again */
	RN_GAP,				/* a gap began (reason) */
	RN_RECOVERED,			/* the start-up check of the store is over */
};

struct recn {
	enum recn_kind kind;
	int64_t camera_id;
	struct rec_segment seg;
	uint64_t bytes;
	enum rec_reason reason;
	char why[128];
	TAILQ_ENTRY(recn) link;
};

TAILQ_HEAD(recw_list, recw_msg);
TAILQ_HEAD(recn_list, recn);

/*
 * recwriter.c: the thread. recw_start() starts it; it checks the store
 * (torn tails, indexes) first and reports every segment found.
 */
int recw_start(void) GW_MUSTCHECK;
/* Finish every message, close every segment, join the thread. */
void recw_stop(void);
/* Hand the messages of |msgs| over (ownership passes, the list is left empty); wakes the writer once. */
void recw_post(struct recw_list *msgs);
struct recw_msg *recw_msg_new(enum recw_kind kind, int64_t camera_id);
void recw_msg_free(struct recw_msg *m);
struct gw_config;
void recw_config_of(const struct gw_config *g, struct recw_cfg *out);

/* recorder.c: a notice from the writer, on the I/O thread (ownership passes). */
void recorder_notice(struct recn *n);

#endif
