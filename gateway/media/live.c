/*
 * live.c - the live stream: a hub reader feeding the stream's queue, and
 * the parts of stream.h every kind of stream shares.
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/media/stream.h"

#include <stdlib.h>
#include <string.h>

struct live_stream {
	struct media_stream base;	/* first: the stream's address is the live stream's */
	struct hub_reader *reader;	/* NULL once the hub went away */
};

/* --- shared --------------------------------------------------------------------- */

static int
start_track_of(const struct media_stream *st, unsigned mask)
{
	for (int i = 0; i < media_stream_ntracks(st); i++)
		if ((mask & (1u << i)) && media_stream_track(st, i)->media == ADAPTER_VIDEO)
			return i;
	return -1;
}

void
media_stream_set_tracks(struct media_stream *st, unsigned mask)
{
	frameq_set_tracks(&st->q, mask, start_track_of(st, mask));
}

int
media_stream_play(struct media_stream *st, struct media_play_info *info)
{
	if (st->gone)
		return -1;
	return st->ops->play(st, info);
}

void
media_stream_pause(struct media_stream *st)
{
	if (!st->gone)
		st->ops->pause(st);
}

bool
media_stream_rtp_at(const struct media_stream *st, int track, int64_t wall_us, uint32_t *ts)
{
	return !st->gone && st->ops->rtp_at(st, track, wall_us, ts);
}

void
media_stream_free(struct media_stream *st)
{
	if (st == NULL)
		return;
	frameq_clear(&st->q);
	st->ops->free(st);
}

enum gw_action
media_track_action(const struct adapter_track *t)
{
	switch (t->media) {
	case ADAPTER_AUDIO:
		return ACT_LIVE_AUDIO;
	case ADAPTER_METADATA:
		return ACT_METADATA;
	default:
		return ACT_LIVE_VIDEO;
	}
}

/* --- live ------------------------------------------------------------------------- */

static struct hub *
hub_of(const struct media_stream *st)
{
	const struct live_stream *ls = (const struct live_stream *)st;

	return ls->reader ? hub_reader_hub(ls->reader) : NULL;
}

static int
live_ntracks(const struct media_stream *st)
{
	struct hub *h = hub_of(st);

	return h ? hub_ntracks(h) : 0;
}

static const struct adapter_track *
live_track(const struct media_stream *st, int i)
{
	return hub_track(hub_of(st), i);
}

static uint32_t
live_ssrc(const struct media_stream *st, int track)
{
	return hub_ssrc(hub_of(st), track);
}

static int
live_play(struct media_stream *st, struct media_play_info *info)
{
	hub_reader_play(((struct live_stream *)st)->reader, info);
	return 0;
}

static void
live_pause(struct media_stream *st)
{
	hub_reader_pause(((struct live_stream *)st)->reader);
}

static bool
live_rtp_at(const struct media_stream *st, int track, int64_t wall_us, uint32_t *ts)
{
	return hub_rtp_at(hub_of(st), track, wall_us, ts);
}

static void
live_free(struct media_stream *st)
{
	struct live_stream *ls = (struct live_stream *)st;

	hub_reader_free(ls->reader);
	free(ls);
}

static const struct media_stream_ops live_ops = {
	.kind = "live",
	.ntracks = live_ntracks,
	.track = live_track,
	.ssrc = live_ssrc,
	.play = live_play,
	.pause = live_pause,
	.rtp_at = live_rtp_at,
	.free = live_free,
};

static void
queue_wake(struct frameq *q)
{
	struct media_stream *st = q->owner;

	st->owner_ops->wake(st);
}

static const struct frameq_ops queue_ops = {
	.wake = queue_wake,
};

/* The hub went away: the reader is freed now, the stream by its owner. */
static void
reader_gone(struct hub_reader *r, const char *why)
{
	struct live_stream *ls = hub_reader_owner(r);

	hub_reader_free(r);
	ls->reader = NULL;
	ls->base.gone = true;
	ls->base.owner_ops->gone(&ls->base, why);
}

static const struct hub_reader_ops reader_ops = {
	.gone = reader_gone,
};

struct media_stream *
live_stream_open(struct hub *hub, const struct media_stream_owner_ops *ops, void *owner)
{
	struct live_stream *ls = gw_xcalloc(1, sizeof(*ls));

	ls->base.ops = &live_ops;
	ls->base.owner_ops = ops;
	ls->base.owner = owner;
	ls->base.camera_id = hub_camera(hub);
	frameq_init(&ls->base.q, (size_t)gw.cfg->reader_queue_max, &queue_ops, &ls->base);
	ls->reader = hub_reader_new(hub, &ls->base.q, &reader_ops, ls);
	return &ls->base;
}

struct hub *
live_stream_hub(const struct media_stream *st)
{
	return st->ops == &live_ops ? hub_of(st) : NULL;
}
