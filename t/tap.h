/*
 * tap.h - a small TAP producer for the C unit tests (read by automake's
 * tap-driver.sh). Tests print "ok N - name" / "not ok N - name" and end
 * with done_testing(), which prints the plan and returns the exit code.
 */
#ifndef T_TAP_H
#define T_TAP_H

#include <stdbool.h>
#include <stdint.h>

bool tap_ok(bool cond, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
bool tap_is_int(long long got, long long want, const char *file, int line, const char *name);
bool tap_is_str(const char *got, const char *want, const char *file, int line, const char *name);
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int tap_done(void);
/* Path of a file under t/data (uses $top_srcdir, else the current directory). */
const char *tap_data_path(const char *name);

#define ok(cond, ...)           tap_ok((cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, name) tap_is_int((got), (want), __FILE__, __LINE__, (name))
#define is_str(got, want, name) tap_is_str((got), (want), __FILE__, __LINE__, (name))
#define diag(...)               tap_diag(__VA_ARGS__)
#define done_testing()          tap_done()

#endif
