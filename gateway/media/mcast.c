/*
 * mcast.c - multicast groups (see mcast.h).
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/log.h"
#include "gateway/model.h"
#include "gateway/media/hub.h"
#include "gateway/media/mcast.h"
#include "gateway/media/stream.h"
#include "gateway/media/udp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MCAST_SNDBUF (4 * 1024 * 1024)

struct mcast_group {
	int64_t camera_id;
	struct sockaddr_storage addrs[MEDIA_MAX_TRACKS][2];
	struct udp_dest dest;
	char group[64];
	int port, ttl;
	int refs;
	uint64_t bytes_sent;
	struct frameq q;
	struct hub_reader *reader;	/* NULL once the hub went away */
	TAILQ_ENTRY(mcast_group) link;
};

TAILQ_HEAD(mcast_list, mcast_group);

static struct mcast_list groups = TAILQ_HEAD_INITIALIZER(groups);
static int mcast_fd = -1;

static void
group_wake(struct frameq *q)
{
	struct mcast_group *g = q->owner;
	uint64_t sent = 0;

	if (!udp_send_queue(q, mcast_fd, &g->dest, 0, &sent))
		frameq_discard(q);
	g->bytes_sent += sent;
}

static const struct frameq_ops group_queue_ops = {
	.wake = group_wake,
};

/* The holders keep their reference; a group without a hub sends nothing more. */
static void
group_gone(struct hub_reader *r, const char *why)
{
	struct mcast_group *g = hub_reader_owner(r);

	hub_reader_free(r);
	g->reader = NULL;
	frameq_discard(&g->q);
}

static const struct hub_reader_ops group_reader_ops = {
	.gone = group_gone,
};

int
mcast_slot(const struct hub *hub, int track)
{
	const struct adapter_track *t = hub_track(hub, track);

	/* The first track of each kind has the slot ONVIF configurations name. */
	for (int i = 0; i < track; i++)
		if (hub_track(hub, i)->media == t->media)
			return 3 + track;
	return t->media == ADAPTER_VIDEO ? 0 : t->media == ADAPTER_AUDIO ? 1 : 2;
}

bool
mcast_allowed(const struct gw_principal *p, const struct hub *hub)
{
	for (int i = 0; i < hub_ntracks(hub); i++) {
		struct policy_request req = { .action = media_track_action(hub_track(hub, i)),
		    .now_us = gw_wall_us() };

		if (!model_authorize(p, hub_camera(hub), &req).allow)
			return false;
	}
	return true;
}

/* The group's destinations, track by track: port + 2 * slot (RTP) and the next port (RTCP). */
static bool
set_destinations(struct mcast_group *g, const struct hub *hub)
{
	for (int t = 0; t < hub_ntracks(hub); t++)
		for (int k = 0; k < 2; k++) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&g->addrs[t][k];

			sin->sin_family = AF_INET;
			sin->sin_port = htons((uint16_t)(g->port + 2 * mcast_slot(hub, t) + k));
			if (inet_pton(AF_INET, g->group, &sin->sin_addr) != 1)
				return false;
			g->dest.to[t][k] = &g->addrs[t][k];
		}
	return true;
}

static struct mcast_group *
group_find(int64_t camera_id)
{
	struct mcast_group *g;

	TAILQ_FOREACH(g, &groups, link)
		if (g->camera_id == camera_id && g->reader)
			return g;
	return NULL;
}

static struct mcast_group *
group_start(struct hub *hub, const struct model_camera *cam, const char **why)
{
	struct mcast_group *g = gw_xcalloc(1, sizeof(*g));

	g->camera_id = hub_camera(hub);
	snprintf(g->group, sizeof(g->group), "%s", cam->multicast_group);
	g->port = cam->multicast_port;
	g->ttl = gw.cfg->rtsp_multicast_ttl;
	if (!set_destinations(g, hub)) {
		free(g);
		*why = "the camera's multicast group is not an IPv4 address";
		return NULL;
	}
	g->refs = 1;
	frameq_init(&g->q, (size_t)gw.cfg->reader_queue_max, &group_queue_ops, g);
	frameq_set_tracks(&g->q, (1u << hub_ntracks(hub)) - 1, hub_video_track(hub));
	g->reader = hub_reader_new(hub, &g->q, &group_reader_ops, g);
	setsockopt(mcast_fd, IPPROTO_IP, IP_MULTICAST_TTL, &g->ttl, sizeof(g->ttl));
	hub_reader_play_live(g->reader);
	TAILQ_INSERT_TAIL(&groups, g, link);
	log_info("multicast of cam=%lld started on %s:%d", (long long)g->camera_id, g->group, g->port);
	return g;
}

struct mcast_group *
mcast_join(const struct gw_principal *p, struct hub *hub, const char **why)
{
	const struct model_camera *cam = model_camera(gw.model, hub_camera(hub));
	struct mcast_group *g;

	if (!mcast_allowed(p, hub)) {
		*why = "a multicast group carries every track of the camera; the grant does not cover them all";
		return NULL;
	}
	if ((g = group_find(hub_camera(hub))) != NULL) {
		g->refs++;
		return g;
	}
	if (cam == NULL || cam->multicast_group == NULL || cam->multicast_port == 0) {
		*why = "no multicast group is configured for this camera";
		return NULL;
	}
	if (mcast_fd < 0) {
		*why = "multicast is not available";
		return NULL;
	}
	return group_start(hub, cam, why);
}

void
mcast_leave(struct mcast_group *g)
{
	if (--g->refs > 0)
		return;
	log_info("multicast of cam=%lld stopped", (long long)g->camera_id);
	hub_reader_free(g->reader);
	frameq_clear(&g->q);
	TAILQ_REMOVE(&groups, g, link);
	free(g);
}

const uint64_t *
mcast_counter(const struct mcast_group *g)
{
	return &g->bytes_sent;
}

int
mcast_init(void)
{
	int size = MCAST_SNDBUF;

	mcast_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (mcast_fd >= 0)
		setsockopt(mcast_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	return 0;
}

void
mcast_shutdown(void)
{
	if (mcast_fd >= 0)
		close(mcast_fd);
	mcast_fd = -1;
}
