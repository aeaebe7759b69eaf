/*
 * httprange.c - one byte range of a Range header (see httprange.h).
 */
#include "httprange.h"
#include "proto.h"

#include <string.h>

/* Digits of [p, end), at most 19 (below 2^63); false if none or too many. */
static bool
number(const char *p, const char *end, uint64_t *out)
{
	struct proto_str s = { p, (size_t)(end - p) };

	return proto_parse_uint(s, 19, INT64_MAX, out);
}

enum http_range_result
http_range_parse(const char *value, size_t len, uint64_t size, uint64_t *first, uint64_t *last)
{
	struct proto_str v = proto_str_trim((struct proto_str){ value, len });
	const char *p, *end, *dash;
	uint64_t a, b;

	if (v.len < 7 || v.len > HTTP_RANGE_MAX_LEN || memchr(v.p, ',', v.len) != NULL)
		return HTTP_RANGE_NONE;
	if (!proto_str_ieq((struct proto_str){ v.p, 6 }, "bytes="))
		return HTTP_RANGE_NONE;
	p = v.p + 6;
	end = v.p + v.len;
	if ((dash = memchr(p, '-', (size_t)(end - p))) == NULL)
		return HTTP_RANGE_NONE;
	if (dash == p) {			/* the last SUFFIX bytes */
		if (!number(dash + 1, end, &b))
			return HTTP_RANGE_NONE;
		if (b == 0 || size == 0)
			return HTTP_RANGE_UNSATISFIABLE;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return HTTP_RANGE_OK;
	}
	if (!number(p, dash, &a))
		return HTTP_RANGE_NONE;
	if (dash + 1 == end)
		b = UINT64_MAX;
	else if (!number(dash + 1, end, &b) || b < a)
		return HTTP_RANGE_NONE;	/* last < first is invalid syntax: ignored */
	if (a >= size)
		return HTTP_RANGE_UNSATISFIABLE;
	*first = a;
	*last = b >= size ? size - 1 : b;
	return HTTP_RANGE_OK;
}
