/*
 * httprange.h - the Range request header of HTTP (RFC 9110 §14), as far as
 * a download of one file needs it: one byte range, or none.
 *
 *   bytes=FIRST-LAST   bytes=FIRST-   bytes=-SUFFIX
 *
 * A header this parser does not take (several ranges, another unit, a
 * syntax error) is to be ignored and the whole file sent, as RFC 9110
 * allows; a well-formed range that selects nothing of the file is
 * "unsatisfiable" (416).
 *
 * Pure, bounded: a value longer than HTTP_RANGE_MAX_LEN bytes is ignored.
 */
#ifndef PROTO_HTTPRANGE_H
#define PROTO_HTTPRANGE_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_RANGE_MAX_LEN 256

enum http_range_result {
	HTTP_RANGE_NONE,		/* no range to honour: send the whole file (200) */
	HTTP_RANGE_OK,			/* [first, last] of the file (206) */
	HTTP_RANGE_UNSATISFIABLE,	/* 416 with Content-Range: bytes * / size */
};

/* |value| is the header's value (|len| bytes, not NUL-terminated); |size| the file's. */
enum http_range_result http_range_parse(const char *value, size_t len, uint64_t size,
    uint64_t *first, uint64_t *last);

#endif
