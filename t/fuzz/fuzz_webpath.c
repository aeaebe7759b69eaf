/*
 * fuzz_webpath.c - libFuzzer target for the admin page's request paths
 * (gateway/web/webpath.c): the input is a raw request target, decoded as the
 * HTTP layer does (http_decode_path) and mapped to a file name; any name
 * that passes must stay inside the page's table: no empty or dot-led
 * segment, only [A-Za-z0-9._-] and '/', no leading or trailing '/', bounded
 * length. A violation traps.
 */
#include "vssgate_build.h"

#include "gateway/gw.h"
#include "gateway/http.h"
#include "gateway/web/web.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct gw_state gw;	/* http.c links the daemon's process state */

static void
check_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > WEB_NAME_MAX || name[0] == '/' || name[n - 1] == '/' || name[0] == '.' ||
	    strstr(name, "//") || strstr(name, "/.") || strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/") != n || !web_valid_name(name))
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char decoded[512], name[WEB_NAME_MAX + 1];
	const char *q;
	size_t plen;

	if (size == 0 || size >= sizeof(decoded))
		return 0;
	q = memchr(data, '?', size);
	plen = q ? (size_t)(q - (const char *)data) : size;
	if (!http_decode_path((const char *)data, plen, decoded, sizeof(decoded)))
		return 0;
	if (web_path_name(decoded, name, sizeof(name))) {
		check_name(name);
		(void)web_content_type(name);
	}
	/* The loader's rule on the raw bytes as a name. */
	memcpy(decoded, data, size);
	decoded[size] = '\0';
	if (web_valid_name(decoded))
		check_name(decoded);
	return 0;
}
