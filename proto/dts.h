/*
 * dts.h - decode times for a video track whose packets carry presentation
 * times only (RTP), in decode order. With B frames the presentation times
 * go back and forth, and an MP4 track needs decode times that grow, the
 * difference kept as each sample's composition offset.
 *
 * A unit's decode time is the smallest of the depth + 1 largest
 * presentation times seen so far (how FFmpeg guesses decode times for
 * streams that carry none), shifted so that the first unit's decode time
 * is its presentation time: B frames then get negative composition offsets
 * (ISO BMFF trun version 1, as CMAF writes them). The depth (how many
 * units a picture may be shown before, though decoded after) is learnt: a
 * unit that comes back further than it allows makes it one deeper, at the
 * cost of a one-tick step there, once per stream. Without B frames the
 * decode time is the presentation time. A presentation time a second or
 * more back is the source's clock going back, not reordering: the guess
 * starts again from there, still growing.
 *
 * Pure: no I/O, no allocation. Times are in the track's ticks, unwrapped.
 */
#ifndef PROTO_DTS_H
#define PROTO_DTS_H

#include <stdbool.h>
#include <stdint.h>

#define DTS_REORDER_MAX 4	/* x264's B pyramid needs 2 */

struct dts_guess {
	int reorder;			/* learnt depth; kept by dts_guess_start */
	int64_t pbuf[DTS_REORDER_MAX + 1];	/* the reorder + 1 largest presentation times, ascending */
	int64_t shift;			/* added to pbuf[0] */
	int64_t last;			/* the last decode time given */
	bool started;
};

/* The next unit starts a new file or segment: its decode time will be its presentation time. */
void dts_guess_start(struct dts_guess *g);

/* The decode time of the next unit in decode order. |step|: a frame's duration in ticks (a
 * guess is fine; at least 1), |one_second|: ticks in a second. */
int64_t dts_guess_next(struct dts_guess *g, int64_t pts, int64_t step, int64_t one_second);

#endif
