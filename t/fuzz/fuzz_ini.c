/*
 * fuzz_ini.c - proto/ini.c: ini_parse() with a callback that checks what
 * the parser hands it, then config_parse() on the same bytes, which is the
 * callback the daemon really uses.
 */
#include "vssgate_build.h"

#include "gateway/gw.h"
#include "gateway/config.h"
#include "proto/ini.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* config.c refers to the process state that main.c defines. */
struct gw_state gw;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What ini.h promises: bounded names, a key, lines in increasing order. */
static int
check_entry(void *arg, const char *section, const char *key, const char *value, int line,
    struct ini_error *err)
{
	int *last_line = arg;

	if (strlen(section) >= INI_MAX_NAME || key[0] == '\0' || strlen(key) >= INI_MAX_NAME ||
	    strlen(value) > INI_MAX_LINE || line <= *last_line)
		abort();
	*last_line = line;
	if (strcmp(key, "stop") == 0) {
		snprintf(err->msg, sizeof(err->msg), "stopped by the callback");
		return 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ini_error err;
	struct cfg_error cerr;
	int last_line = 0;

	/* Every failure names a line and says why. */
	if (ini_parse((const char *)data, size, check_entry, &last_line, &err) != 0 &&
	    (err.line < 1 || err.msg[0] == '\0'))
		abort();
	config_free(config_parse("fuzz", (const char *)data, size, &cerr));
	return 0;
}
