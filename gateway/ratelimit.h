/*
 * ratelimit.h - fixed-window counters by key: "at most N hits per window
 * under this key" (a peer address, a user name). The REST API counts login
 * attempts with one; the RTSP server counts failed logins with another.
 *
 * Each key has a window that starts at its first hit and ends |window_us|
 * later; the next hit after that starts a new one. The number of keys is
 * capped so that a flood of names cannot take the memory: a key that is
 * not known while the table is full is refused (fail closed) until
 * ratelimit_prune() makes room.
 *
 * No I/O and no clock of its own: the caller passes the (monotonic) time.
 * The instance belongs to the I/O thread that made it.
 *
 * Return convention: ratelimit_new() cannot fail (running out of memory
 * aborts, as in gw_xmalloc()); the questions return bool (true: allowed).
 */
#ifndef GW_RATELIMIT_H
#define GW_RATELIMIT_H

#include "gw.h"

#define RATELIMIT_KEY_MAX 79		/* longer keys are cut: their first 79 bytes count */

struct ratelimit;

/* A table of |window_us| windows holding at most |max_entries| keys. The
 * caller owns it and frees it with ratelimit_free(). */
struct ratelimit *ratelimit_new(int64_t window_us, int max_entries);
void ratelimit_free(struct ratelimit *rl);

/*
 * Count one hit under |key| at |now_us|. True while the key has had at most
 * |limit| hits in its window. False when it is over, or when the key is new
 * and the table is full. *retry_s: whole seconds (at least 1) until the key's
 * window ends, or the window length when the key could not be counted.
 */
bool ratelimit_hit(struct ratelimit *rl, const char *key, int limit, int64_t now_us, int *retry_s);
/* The same question without counting: would one more hit be allowed? */
bool ratelimit_check(struct ratelimit *rl, const char *key, int limit, int64_t now_us, int *retry_s);
/*
 * For one log line per key and window when a key is refused: true the first
 * time it is asked in the key's window, false after. Keys that could not be
 * counted (the table is full) share one answer per window length.
 */
bool ratelimit_first_refusal(struct ratelimit *rl, const char *key, int64_t now_us);

/* Forget the keys whose window has ended; at most once a second, so the
 * janitor may call it at every tick. */
void ratelimit_prune(struct ratelimit *rl, int64_t now_us);
/* Forget every key, and the number of keys held (for the tests). */
void ratelimit_clear(struct ratelimit *rl);
int ratelimit_count(const struct ratelimit *rl);

/* The usual key of a peer: the address part of "1.2.3.4:5678" or "[::1]:5678". */
void ratelimit_peer_address(const char *peer, char *out, size_t outlen);

#endif
