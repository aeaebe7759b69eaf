/*
 * test_dts.c - decode times from presentation times in decode order
 * (proto/dts): identity without B frames, growth always, even steps once
 * the depth is learnt (B frames and a B pyramid), a new segment starting
 * at its presentation time with no short step, a clock going back.
 */
#include "proto/dts.h"
#include "t/tap.h"

#include <stdlib.h>

#define STEP 3600
#define SECOND 90000

/* Decode times of |n| units whose presentation times are |order| (in frames) + |base|. */
static void
run(struct dts_guess *g, const int *order, int n, int64_t base, int64_t *dts)
{
	for (int i = 0; i < n; i++)
		dts[i] = dts_guess_next(g, base + (int64_t)order[i] * STEP, STEP, SECOND);
}

static bool
grows(const int64_t *dts, int n)
{
	for (int i = 1; i < n; i++)
		if (dts[i] <= dts[i - 1])
			return false;
	return true;
}

static bool
even_steps(const int64_t *dts, int from, int n)
{
	for (int i = from + 1; i < n; i++)
		if (dts[i] - dts[i - 1] != STEP)
			return false;
	return true;
}

static void
test_no_b_frames(void)
{
	struct dts_guess g = { 0 };
	int64_t dts[50];
	int order[50], same = 0;

	for (int i = 0; i < 50; i++)
		order[i] = i;
	dts_guess_start(&g);
	run(&g, order, 50, 12345, dts);
	for (int i = 0; i < 50; i++)
		same += dts[i] == 12345 + (int64_t)i * STEP;
	is_int(same, 50, "without B frames a decode time is the presentation time");
	is_int(g.reorder, 0, "and the depth stays 0");
}

/* I P B B, decode order: 0 3 1 2 6 4 5 9 7 8 ... */
static void
test_two_b_frames(void)
{
	struct dts_guess g = { 0 };
	int order[60], neg = 0, bad = 0;
	int64_t dts[60];

	order[0] = 0;
	for (int i = 1; i < 60; i++)
		order[i] = (i - 1) % 3 == 0 ? i + 2 : i - 1;
	dts_guess_start(&g);
	run(&g, order, 60, 0, dts);
	ok(dts[0] == 0, "the first unit's decode time is its presentation time");
	ok(grows(dts, 60), "decode times grow");
	is_int(g.reorder, 1, "one picture waits: depth 1 learnt");
	ok(even_steps(dts, 4, 60), "after the first B frames, every step is a frame");
	for (int i = 0; i < 60; i++) {
		int64_t cto = (int64_t)order[i] * STEP - dts[i];

		neg += cto < 0;
		bad += i >= 4 && cto < -(int64_t)g.reorder * STEP;	/* past the learning */
	}
	ok(neg > 0 && bad == 0, "B frames have negative composition offsets of at most a frame (%d of them)", neg);
	dts_guess_start(&g);
	run(&g, order, 60, 10 * SECOND, dts);
	ok(dts[0] == 10 * SECOND && grows(dts, 60) && even_steps(dts, 0, 60),
	    "a new segment with the depth known: first time kept, every step a frame from the start");
}

/* A B pyramid (x264's default): I P B b b, decode order 0 4 2 1 3 8 6 5 7 ... */
static void
test_pyramid(void)
{
	static const int gop[4] = { 4, 2, 1, 3 };
	struct dts_guess g = { 0 };
	int order[81];
	int64_t dts[81];

	order[0] = 0;
	for (int i = 1; i < 81; i++)
		order[i] = ((i - 1) / 4) * 4 + gop[(i - 1) % 4];
	dts_guess_start(&g);
	run(&g, order, 81, 0, dts);
	ok(grows(dts, 81), "a B pyramid: decode times grow");
	is_int(g.reorder, 2, "depth 2 learnt");
	ok(even_steps(dts, 8, 81), "every step a frame once learnt");
}

static void
test_clock_goes_back(void)
{
	struct dts_guess g = { 0 };
	int64_t a = 0, b;

	dts_guess_start(&g);
	for (int i = 0; i < 10; i++)
		a = dts_guess_next(&g, 50 * SECOND + (int64_t)i * STEP, STEP, SECOND);
	b = dts_guess_next(&g, 2 * SECOND, STEP, SECOND);
	ok(b == a + STEP, "a clock 48 s back: the next decode time is one frame on");
	is_int(g.reorder, 0, "and it is not taken for reordering");
	ok(dts_guess_next(&g, 2 * SECOND + STEP, STEP, SECOND) == b + STEP, "then it goes on from there");
}

int
main(void)
{
	test_no_b_frames();
	test_two_b_frames();
	test_pyramid();
	test_clock_goes_back();
	return done_testing();
}
