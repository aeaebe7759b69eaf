/*
 * mcast.h - RTP multicast of a camera to the group and port configured on
 * it, one sender per camera shared by every holder: RTSP sessions that
 * chose multicast and ONVIF StartMulticastStreaming.
 *
 * Track t goes to port + 2 * slot(t) (RTCP to the next port), where the
 * first video, audio and metadata tracks have slots 0, 1 and 2, as the
 * ONVIF configurations say, and any further track 3 + t. A group starts at
 * the next keyframe, not with the cached GOP: a burst of the past would
 * overflow its receivers' socket buffers. Multicast is best effort: what
 * the kernel will not take now is dropped.
 *
 * Joining needs a principal that may receive every track of the camera
 * (the group is visible to the whole network).
 *
 * Threads: I/O thread. Return convention: gateway/ (see gw.h).
 */
#ifndef GW_MEDIA_MCAST_H
#define GW_MEDIA_MCAST_H

#include "gateway/gw.h"

struct hub;
struct gw_principal;
struct mcast_group;

int mcast_init(void) GW_MUSTCHECK;
void mcast_shutdown(void);

/* A reference to the camera's group, made if need be; NULL with |why|. Drop it with mcast_leave(). */
struct mcast_group *mcast_join(const struct gw_principal *p, struct hub *hub, const char **why);
void mcast_leave(struct mcast_group *g);
bool mcast_allowed(const struct gw_principal *p, const struct hub *hub);
int mcast_slot(const struct hub *hub, int track);
/* The group's running total of bytes sent (session_share_counter); valid until its last leave. */
const uint64_t *mcast_counter(const struct mcast_group *g);

#endif
