/*
 * test_ratelimit.c - gateway/ratelimit.c: fixed windows per key, the clock
 * passed in; counting, looking without counting, the retry delay, the
 * entry cap that fails closed, one refusal report per window, pruning.
 */
#include "vssgate_build.h"

#include "gateway/ratelimit.h"
#include "t/tap.h"

#include <stdio.h>
#include <string.h>

#define SEC 1000000LL
#define WINDOW (60 * SEC)
#define T0 (1000 * SEC)		/* any monotonic origin */

static void
test_window(void)
{
	struct ratelimit *rl = ratelimit_new(WINDOW, 100);
	int retry = 0;

	for (int i = 1; i <= 3; i++)
		ok(ratelimit_hit(rl, "a:10.0.0.1", 3, T0 + i * SEC, &retry), "hit %d of 3 is allowed", i);
	ok(!ratelimit_hit(rl, "a:10.0.0.1", 3, T0 + 10 * SEC, &retry), "the 4th hit is refused");
	is_int(retry, 52, "retry: 51 s left of the window (first hit at 1 s, now 10 s), rounded up past");
	ok(ratelimit_hit(rl, "a:10.0.0.2", 3, T0 + 10 * SEC, &retry), "another key has its own count");
	ok(!ratelimit_hit(rl, "a:10.0.0.1", 3, T0 + 60 * SEC, &retry), "still refused just before the end");
	is_int(retry, 2, "retry is rounded up, never 0");
	ok(ratelimit_hit(rl, "a:10.0.0.1", 3, T0 + 61 * SEC, &retry), "a new window starts at its end");
	is_int(retry, 61, "and runs a whole window from this hit");
	ok(ratelimit_hit(rl, "a:10.0.0.1", 3, T0 + 62 * SEC, &retry) &&
	    ratelimit_hit(rl, "a:10.0.0.1", 3, T0 + 63 * SEC, &retry) &&
	    !ratelimit_hit(rl, "a:10.0.0.1", 3, T0 + 64 * SEC, &retry), "three hits in it again, not four");
	ok(ratelimit_hit(rl, "u:alice", 1, T0, &retry) && !ratelimit_hit(rl, "u:alice", 1, T0, &retry) &&
	    ratelimit_hit(rl, "u:alice", 5, T0, &retry), "the limit is the caller's at each hit (a reload)");
	ratelimit_free(rl);
}

static void
test_check(void)
{
	struct ratelimit *rl = ratelimit_new(WINDOW, 100);
	int retry = 0;

	ok(ratelimit_check(rl, "x", 2, T0, &retry), "an unknown key may try");
	is_int(ratelimit_count(rl), 0, "looking adds no key");
	ok(ratelimit_hit(rl, "x", 2, T0, &retry) && ratelimit_check(rl, "x", 2, T0, &retry),
	    "one hit of two: one more allowed");
	ok(ratelimit_check(rl, "x", 2, T0, &retry), "looking does not count");
	ok(ratelimit_hit(rl, "x", 2, T0 + SEC, &retry), "the second hit is allowed");
	ok(!ratelimit_check(rl, "x", 2, T0 + 2 * SEC, &retry), "then the key is over its budget");
	is_int(retry, 59, "until its window ends");
	ok(ratelimit_check(rl, "x", 2, T0 + WINDOW, &retry), "and may try again when it has ended");
	ratelimit_prune(rl, T0 + WINDOW);
	is_int(ratelimit_count(rl), 0, "looking did not restart the ended window: prune drops it");
	ratelimit_free(rl);
}

static void
test_cap(void)
{
	struct ratelimit *rl = ratelimit_new(WINDOW, 2);
	int retry = 0;

	ok(ratelimit_hit(rl, "a", 10, T0, &retry) && ratelimit_hit(rl, "b", 10, T0 + 30 * SEC, &retry),
	    "two keys fill the table");
	ok(!ratelimit_hit(rl, "c", 10, T0 + 30 * SEC, &retry), "a third key is refused (fail closed)");
	is_int(retry, 60, "for a whole window");
	ok(!ratelimit_check(rl, "c", 10, T0 + 30 * SEC, &retry), "looking says the same");
	ok(ratelimit_hit(rl, "a", 10, T0 + 30 * SEC, &retry), "known keys still count");
	ratelimit_prune(rl, T0 + 60 * SEC);
	is_int(ratelimit_count(rl), 1, "prune drops the key whose window ended");
	ok(ratelimit_hit(rl, "c", 10, T0 + 60 * SEC, &retry), "which makes room");
	ratelimit_clear(rl);
	is_int(ratelimit_count(rl), 0, "clear forgets every key");
	ok(ratelimit_check(rl, "a", 1, T0 + 60 * SEC, &retry), "a cleared key starts afresh");
	ratelimit_free(rl);
}

static void
test_refusal_reports(void)
{
	struct ratelimit *rl = ratelimit_new(WINDOW, 1);
	int retry = 0;

	ratelimit_hit(rl, "a", 1, T0, &retry);
	ok(ratelimit_first_refusal(rl, "a", T0 + SEC), "the first refusal of a window is reported");
	ok(!ratelimit_first_refusal(rl, "a", T0 + 2 * SEC), "the next ones are not");
	ratelimit_hit(rl, "a", 1, T0 + WINDOW, &retry);
	ok(ratelimit_first_refusal(rl, "a", T0 + WINDOW + SEC), "a new window is reported again");
	ok(ratelimit_first_refusal(rl, "b", T0 + WINDOW + SEC), "keys the full table cannot hold: once");
	ok(!ratelimit_first_refusal(rl, "c", T0 + WINDOW + 2 * SEC), "for all of them");
	ok(ratelimit_first_refusal(rl, "c", T0 + 2 * WINDOW + SEC), "per window");
	ratelimit_free(rl);
}

static void
test_keys(void)
{
	struct ratelimit *rl = ratelimit_new(WINDOW, 10);
	char long_a[200], long_b[200], addr[64];
	int retry = 0;

	memset(long_a, 'k', sizeof(long_a) - 1);
	long_a[sizeof(long_a) - 1] = '\0';
	memcpy(long_b, long_a, sizeof(long_b));
	long_b[150] = 'z';
	ok(ratelimit_hit(rl, long_a, 1, T0, &retry) && !ratelimit_hit(rl, long_b, 1, T0, &retry),
	    "keys longer than RATELIMIT_KEY_MAX count by their first bytes");
	is_int(ratelimit_count(rl), 1, "as one entry");
	ratelimit_free(rl);

	ratelimit_peer_address("10.0.0.5:4410", addr, sizeof(addr));
	is_str(addr, "10.0.0.5", "peer address of IPv4");
	ratelimit_peer_address("[::1]:4410", addr, sizeof(addr));
	is_str(addr, "[::1]", "peer address of IPv6");
	ratelimit_peer_address("unix", addr, sizeof(addr));
	is_str(addr, "unix", "no port");
}

int
main(void)
{
	test_window();
	test_check();
	test_cap();
	test_refusal_reports();
	test_keys();
	return done_testing();
}
