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

/* --- failed logins -------------------------------------------------------------- */

/*
 * Failed logins of one kind of credentials (grant logins of every
 * protocol together, administrators' logins), counted in one window per
 * (address, user name) pair, per address and per user name. Before a
 * password is checked the rule is:
 *
 *   - a pair that has failed per_pair times is refused;
 *   - an address that has failed per_address times is refused for the
 *     user names that failed from it (strict_address: for every name), so
 *     that a user with the right password and no failure of its own still
 *     gets in from a busy address (one typo of a colleague does not lock
 *     out a control room);
 *   - a user name that has failed per_user times is refused from the
 *     addresses where it failed, never from one where it did not: nobody
 *     can lock an account out from elsewhere.
 *
 * Keys are capped like any table here (fail closed when full).
 */
struct login_limit_cfg {
	int per_pair, per_address, per_user;
	bool strict_address;
};

enum login_verdict {
	LOGIN_CHECK,
	LOGIN_REFUSE,
};

struct login_limit;

struct login_limit *login_limit_new(int64_t window_us, int max_entries);
void login_limit_free(struct login_limit *ll);
/* May |user| from |addr| have its password checked now? *retry_s: for LOGIN_REFUSE. */
enum login_verdict login_limit_ask(struct login_limit *ll, const struct login_limit_cfg *cfg,
    const char *addr, const char *user, int64_t now_us, int *retry_s);
/* Count one failure (or, for a limit on attempts, one attempt). */
void login_limit_count(struct login_limit *ll, const char *addr, const char *user, int64_t now_us);
/* One log line per address and window when it is refused. */
bool login_limit_first_refusal(struct login_limit *ll, const char *addr, int64_t now_us);
void login_limit_prune(struct login_limit *ll, int64_t now_us);
void login_limit_clear(struct login_limit *ll);

/* The usual key of a peer: the address part of "1.2.3.4:5678" or "[::1]:5678". */
void ratelimit_peer_address(const char *peer, char *out, size_t outlen);

#endif
