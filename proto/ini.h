/*
 * ini.h - parser of the configuration file format.
 *
 *   # comment            (also ';'; only as the first non-blank character)
 *   [section]
 *   key = value          value runs to the end of the line, trimmed
 *   key = "value"        quotes keep blanks; \" and \\ are the only escapes
 *
 * The parser is not incremental: a configuration file is parsed whole.
 * ini_parse() calls |on_entry| for each key in order and stops at the first
 * error, which it describes in |err| together with the line number.
 */
#ifndef PROTO_INI_H
#define PROTO_INI_H

#include <stddef.h>

#define INI_MAX_LINE    4096
#define INI_MAX_NAME    64

struct ini_error {
	int line;
	char msg[400];
};

/* Return 0 to go on, or nonzero to stop (the callback fills err->msg). */
typedef int (*ini_entry_cb)(void *arg, const char *section, const char *key,
    const char *value, int line, struct ini_error *err);

/* Returns 0 when the whole buffer parsed and every callback returned 0. */
int ini_parse(const char *buf, size_t len, ini_entry_cb on_entry, void *arg,
    struct ini_error *err);

#endif
