/*
 * hub.h - one hub per active source: frames in from the adapter, fanned
 * out to readers.
 *
 * Frames and their RTP packets are built once, in one allocation, in the
 * form RTSP interleaving sends them: each packet is "$ channel len16" then
 * the RTP header and payload, packets back to back. A reader whose
 * interleaved channels are the usual ones (2 x track) writes a whole frame
 * with one iovec; other readers and UDP skip the 4-byte prefix.
 *
 * Each frame is reference-counted (I/O thread only, no atomics): the GOP
 * cache holds the frames since the last video keyframe, and each reader's
 * queue holds references to what it has not written yet. A reader's queue
 * is bounded in bytes; a reader that falls behind loses its queue and
 * waits for the next keyframe (counted), and never slows anyone else.
 *
 * Readers are woken once per loop pass with everything that arrived in it,
 * so a writer can send several frames in one writev.
 */
#ifndef GW_HUB_H
#define GW_HUB_H

#include "gw.h"
#include "adapters/adapter.h"

#include <sys/uio.h>

#define HUB_MAX_TRACKS ADAPTER_MAX_TRACKS
#define HUB_MAX_RTP_PAYLOAD 1400	/* what packetizers aim for; sources may send more */

struct hub_source;
struct hub_reader;
struct hub_wait;

struct hub_frame {
	int refcnt;
	uint8_t track;
	bool keyframe;			/* video: a decoder can start here */
	bool control;			/* a per-reader RTCP packet, not media */
	uint16_t npkts;
	uint16_t first_seq;		/* hub sequence number of the first packet */
	uint32_t rtp_ts;		/* hub timestamp */
	int64_t wall_us;		/* capture (or arrival) time */
	uint32_t len;			/* bytes in data */
	uint8_t data[];			/* npkts x ('$' ch len16 RTP-header payload) */
};

void hub_frame_ref(struct hub_frame *f);
void hub_frame_unref(struct hub_frame *f);
/* Packet |*off| of |f| (advance *off with the returned length incl. the 4-byte prefix). */
static inline uint32_t
hub_packet_len(const struct hub_frame *f, uint32_t off)
{
	return 4u + ((uint32_t)f->data[off + 2] << 8 | f->data[off + 3]);
}

/* Where a reader starts, per track: for RTP-Info. */
struct hub_play_info {
	bool valid[HUB_MAX_TRACKS];
	uint16_t seq[HUB_MAX_TRACKS];
	uint32_t rtp_ts[HUB_MAX_TRACKS];
	int64_t start_wall_us;		/* capture time of the first frame sent */
};

struct hub_reader_ops {
	/* New frames are queued (called after the loop pass that queued them). */
	void (*wake)(struct hub_reader *r);
	/* The source went away for good (camera removed or disabled): close the reader. */
	void (*gone)(struct hub_reader *r, const char *why);
};

struct hub_reader_stats {
	uint64_t frames_sent, bytes_sent, frames_dropped, skips;
};

int hub_init(void) GW_MUSTCHECK;
void hub_shutdown(void);

/*
 * Get the running source of a camera, starting it if needed. |cb| runs once
 * the tracks are known (or with an error); it may run before hub_get_source
 * returns when the source is already described. The returned handle
 * cancels the wait; it is invalid after the callback ran.
 */
typedef void (*hub_ready_cb)(void *arg, struct hub_source *src, const char *error);
struct hub_wait *hub_get_source(int64_t camera_id, hub_ready_cb cb, void *arg);
void hub_wait_cancel(struct hub_wait *w);

int hub_source_ntracks(const struct hub_source *src);
const struct adapter_track *hub_source_track(const struct hub_source *src, int i);
uint32_t hub_source_ssrc(const struct hub_source *src, int track);
int64_t hub_source_camera(const struct hub_source *src);
/*
 * The newest cached keyframe of |track| (the first frame of the GOP cache),
 * with a reference the caller must drop with hub_frame_unref(); NULL when
 * none is cached yet. For snapshots.
 */
struct hub_frame *hub_source_last_keyframe(struct hub_source *src, int track);
/*
 * The newest cached keyframe as a whole access unit: the pieces an adapter
 * handed over one by one (same timestamp), from the first frame of the GOP
 * cache on. Up to |max| references go to |out| (drop each with
 * hub_frame_unref()); returns how many, 0 when no keyframe is cached.
 * *complete says whether the unit is whole: a later unit of the track is
 * cached, or its last packet carries the marker bit.
 */
int hub_source_keyframe_unit(struct hub_source *src, int track, struct hub_frame **out, int max,
    bool *complete);
/* Ask the adapter for a keyframe (SetSynchronizationPoint). */
void hub_source_request_keyframe(struct hub_source *src);
/*
 * RTCP SR mapping: the hub timestamp at wall time |wall_us| for |track|.
 * false while the track has no frame yet: an SR then would name a
 * timestamp the stream never uses, and players would sync to it.
 */
bool hub_source_rtp_at(const struct hub_source *src, int track, int64_t wall_us, uint32_t *ts);

/*
 * A reader of the tracks in |track_mask|, with a queue of at most
 * |byte_budget| bytes (0: the configured default). It receives nothing
 * until hub_reader_play().
 */
struct hub_reader *hub_reader_new(struct hub_source *src, unsigned track_mask,
    size_t byte_budget, const struct hub_reader_ops *ops, void *owner);
/* Start: queue the cached GOP (from the last keyframe) and then live frames. */
void hub_reader_play(struct hub_reader *r, struct hub_play_info *info);
/*
 * Start at the next keyframe, without the cached GOP: for a multicast
 * group, whose receivers would lose a burst of the past rather than use it.
 */
void hub_reader_play_live(struct hub_reader *r);
void hub_reader_pause(struct hub_reader *r);
void hub_reader_free(struct hub_reader *r);
void *hub_reader_owner(const struct hub_reader *r);
struct hub_source *hub_reader_source(const struct hub_reader *r);

/*
 * The writer's view of the queue. hub_reader_iov() describes up to |max|
 * iovecs / |max_bytes| bytes from the current position. |channels| gives
 * the interleaved channel of each track's RTP (RTCP is +1); NULL means no
 * prefix at all is wanted (UDP: one iovec per packet, prefix skipped).
 * hub_reader_consumed() advances by |n| bytes of what was described.
 */
int hub_reader_iov(struct hub_reader *r, struct iovec *iov, int max, size_t max_bytes,
    const uint8_t channels[HUB_MAX_TRACKS], int *tracks_out);
void hub_reader_consumed(struct hub_reader *r, size_t n);
bool hub_reader_pending(const struct hub_reader *r);
/* True when the next byte to write starts a packet (control bytes may go in between). */
bool hub_reader_at_boundary(const struct hub_reader *r);
/* Drop everything queued, even a frame half written (datagrams only). */
void hub_reader_discard(struct hub_reader *r);
/* Queue a reader-specific packet (an RTCP SR) as a control frame on |track|'s RTCP channel. */
void hub_reader_queue_control(struct hub_reader *r, int track, const void *pkt, size_t len);
void hub_reader_stats(const struct hub_reader *r, struct hub_reader_stats *out);
/* Packets and octets sent on |track| (for RTCP SR). */
void hub_reader_track_counts(const struct hub_reader *r, int track, uint32_t *packets,
    uint32_t *octets);

#endif
