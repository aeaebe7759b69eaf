/*
 * source.h - the adapter host: one running source per camera in use, its
 * lifecycle, its sealed credentials, reconnection with backoff, and the
 * hub its media goes to. Control operations towards a camera (PTZ,
 * imaging) will be added here, next to the adapter that can carry them.
 *
 * A source moves through
 *
 *   SRC_STARTING --described + first frame--> SRC_ONLINE
 *        \                                       |
 *         `------------- failed ---------> SRC_RETRY --backoff--> SRC_STARTING
 *
 * It starts on demand (source_get) or at start-up for always_on cameras,
 * and stops source_idle_timeout after its last reader left. The hub and
 * its track list survive a retry, so readers stay attached and DESCRIBE is
 * answered while the camera is away. A change of the camera's adapter,
 * URI or credentials in the model restarts it; removing or disabling the
 * camera stops it (its readers are told, hub.h).
 *
 * Threads: I/O thread only. Return convention: gateway/ (see gw.h).
 */
#ifndef GW_MEDIA_SOURCE_H
#define GW_MEDIA_SOURCE_H

#include "gateway/gw.h"

struct hub;
struct source_wait;

/*
 * The hub of camera |camera_id|'s running source, starting it if needed.
 * |cb| runs once the tracks are known (|hub| set) or with an error (|hub|
 * NULL); it may run before source_get() returns when the source is
 * already described, and then NULL is returned. The returned handle
 * cancels the wait; it is invalid after the callback ran.
 */
typedef void (*source_ready_cb)(void *arg, struct hub *hub, const char *error);
struct source_wait *source_get(int64_t camera_id, source_ready_cb cb, void *arg);
void source_wait_cancel(struct source_wait *w);

/* What media.c reports of a camera's source; false when none runs. */
struct source_info {
	bool online;
	double bitrate_bps;
	int64_t last_frame_wall_us;
	const char *last_error;		/* "" when none; valid until the next loop pass */
	const struct hub *hub;
};
bool source_info(int64_t camera_id, struct source_info *out);
/* Visit every running source (for totals). */
void source_foreach(void (*fn)(const struct source_info *info, void *arg), void *arg);

int source_init(void) GW_MUSTCHECK;
void source_shutdown(void);

#endif
