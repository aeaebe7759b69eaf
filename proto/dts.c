/* dts.c - decode times from presentation times in decode order (see dts.h). */
#include "proto/dts.h"

#include <string.h>

void
dts_guess_start(struct dts_guess *g)
{
	g->started = false;
}

/* The buffer as if |n| frames of |step| had been shown just before |pts|. */
static void
seed(struct dts_guess *g, int64_t pts, int64_t step)
{
	int n = g->reorder + 1;

	for (int k = 0; k < n; k++)
		g->pbuf[k] = pts - (int64_t)(n - k) * step;
}

int64_t
dts_guess_next(struct dts_guess *g, int64_t pts, int64_t step, int64_t one_second)
{
	int n = g->reorder + 1;
	int64_t dts;

	if (step <= 0)
		step = 1;
	if (!g->started) {
		seed(g, pts, step);
		g->shift = (int64_t)g->reorder * step;
		g->last = INT64_MIN;
		g->started = true;
	} else if (pts < g->pbuf[0] - one_second) {
		seed(g, pts, step);
		g->shift = g->last + step - (pts - (int64_t)g->reorder * step);
	}
	if (pts > g->pbuf[0]) {
		g->pbuf[0] = pts;
	} else if (pts < g->pbuf[0] && g->reorder < DTS_REORDER_MAX) {
		memmove(g->pbuf + 1, g->pbuf, (size_t)n * sizeof(*g->pbuf));
		g->pbuf[0] = pts;
		g->reorder++;
		g->shift += step;
		n++;
	}
	for (int k = 0; k + 1 < n && g->pbuf[k] > g->pbuf[k + 1]; k++) {
		int64_t x = g->pbuf[k];

		g->pbuf[k] = g->pbuf[k + 1];
		g->pbuf[k + 1] = x;
	}
	dts = g->pbuf[0] + g->shift;
	if (g->last != INT64_MIN && dts <= g->last)
		dts = g->last + 1;
	g->last = dts;
	return dts;
}
