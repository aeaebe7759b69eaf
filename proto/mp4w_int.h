/* mp4w_int.h - what mp4w.c (buffers, fragments) and mp4w_moov.c (the init segment) share. */
#ifndef PROTO_MP4W_INT_H
#define PROTO_MP4W_INT_H

#include "mp4w.h"

/* 0 when mp4w_write_init() can describe |t|, else PROTO_EBADMSG or
 * PROTO_EUNSUPPORTED. */
int mp4w_track_check(const struct mp4w_track *t);

/* True for the codecs whose every sample is a sync sample. */
static inline bool
mp4w_always_sync(enum mp4_codec c)
{
	return !mp4_codec_is_nal(c);
}

#endif
