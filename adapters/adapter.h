/*
 * adapter.h - the only interface between the core and a kind of source.
 *
 * An adapter turns one camera's source (an RTSP camera, anything FFmpeg can
 * open, a vendor API) into tracks and access units. The core (the hub)
 * never branches on the kind of source: it looks the adapter up by the
 * camera's `adapter` column in the registry and talks to it through struct
 * adapter_ops; the adapter talks back only through the adapter_source_*
 * functions below.
 *
 * Threads: every ops function is called on the I/O thread, and every
 * adapter_source_* function must be called on the I/O thread. An adapter
 * that blocks (FFmpeg) runs its own thread and hands its results back
 * through the worker completion queue (gateway/worker.h) or its own queue
 * woken with event_active().
 *
 * Lifetime: the core calls open() once, and close() once (which must stop
 * all callbacks before it returns, or make them no-ops). After a failure
 * reported with adapter_source_failed() the core calls close() and, after
 * a backoff, open() again.
 */
#ifndef ADAPTERS_ADAPTER_H
#define ADAPTERS_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define ADAPTER_MAX_TRACKS 4

struct adapter_source;			/* the core's handle; opaque to adapters */
struct event_base;

enum adapter_media {
	ADAPTER_VIDEO,
	ADAPTER_AUDIO,
	ADAPTER_METADATA,
};

/* One track as the core will describe it to readers (SDP). */
struct adapter_track {
	enum adapter_media media;
	char encoding[32];		/* RTP encoding name: H264, H265, JPEG, MPEG4-GENERIC, PCMU, PCMA, vnd.onvif.metadata */
	int payload_type;		/* static PT (0, 8, 26) or a dynamic one (96..127) */
	int clock_rate;
	int channels;			/* audio; 0 otherwise */
	char fmtp[1024];		/* "packetization-mode=1;sprop-parameter-sets=..." or "" */
	int width, height;		/* video, when known */
};

/*
 * One access unit (a video frame, an audio frame, a metadata document) as
 * RTP payloads, ready to go: the core adds the RTP header (its own
 * sequence numbers, timestamps and SSRC) and the marker bit on the last
 * payload. The payload memory is only borrowed for the call.
 *
 * An adapter may hand a large unit over in pieces as its packets arrive
 * (partial = true on all but the last piece, the same rtp_ts, keyframe only
 * on the first), so that readers do not wait for the end of a keyframe.
 */
struct adapter_frame {
	int track;
	uint32_t rtp_ts;		/* source timestamp, in the track's clock */
	int64_t capture_wall_us;	/* capture time from the source (RTCP SR), 0 if unknown: the hub
					 * then follows rtp_ts from the arrival of the first frame */
	bool keyframe;			/* a decoder can start here */
	bool discontinuity;		/* the source restarted or lost data before this frame */
	bool partial;			/* more of this access unit follows (no marker bit yet) */
	int npayloads;
	const struct iovec *payloads;
};

/* Read-only facts about the camera, for the adapter. */
struct adapter_params {
	int64_t camera_id;
	const char *ident;		/* for log lines: "cam=3 rtsp" */
	const char *uri;		/* source URI, without credentials */
	const char *username;		/* source credentials, or NULL */
	const char *password;		/* clear text, only for this call: copy what you need */
	struct event_base *base;
	int64_t timeout_us;		/* [media] source_timeout: no answer, no connection or no media this long is a failure */
};

struct adapter_ops {
	const char *name;
	/* Start connecting. Return 0, or -1 after adapter_source_failed(). May allocate *state. */
	int (*open)(struct adapter_source *src, const struct adapter_params *params, void **state);
	/* Stop and free |state|; no callback may reach the core afterwards. */
	void (*close)(void *state);
	/* Ask for a keyframe soon (a new reader, SetSynchronizationPoint). Optional. */
	void (*request_keyframe)(void *state);
};

/* Called by adapters (I/O thread only). */

/* The tracks are known (once per open(); may come again after a reconnect with a change). */
void adapter_source_described(struct adapter_source *src, const struct adapter_track *tracks,
    int ntracks);
/* A complete access unit. */
void adapter_source_frame(struct adapter_source *src, const struct adapter_frame *frame);
/* The source failed or ended; the core closes it and retries with backoff. */
void adapter_source_failed(struct adapter_source *src, const char *why);
/* For log lines of the adapter: the camera's identity. */
const char *adapter_source_ident(const struct adapter_source *src);

/*
 * A line in the gateway's log under |ident| (copy adapter_source_ident()
 * at open: a worker thread must not reach the source). Safe from any
 * thread. Warnings are for what an operator must hear of once (a track
 * dropped), debug for the rest.
 */
enum adapter_log_level {
	ADAPTER_LOG_DEBUG,
	ADAPTER_LOG_WARN,
};
bool adapter_log_enabled(enum adapter_log_level level);
void adapter_log(enum adapter_log_level level, const char *ident, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Registry (adapters/registry.c). adapters_init() once at start-up. */
void adapters_init(void);
const struct adapter_ops *adapter_lookup(const char *name);
/* Comma-separated names, for error messages and /healthz. */
const char *adapter_names(void);

#endif
