/*
 * proto.h - the return convention and shared limits of proto/.
 *
 * proto/ holds wire formats only: bytes in, structs out, and structs in,
 * bytes out. It never touches a socket, the clock, the logger or the
 * database, and never includes anything from gateway/.
 *
 * Return convention of every incremental parser in proto/:
 *   >= 0          bytes consumed (a complete unit was parsed)
 *   PROTO_AGAIN   need more bytes; call again with the same buffer, grown
 *   PROTO_E*      a specific violation; the stream cannot go on
 * Serializers return the number of bytes written or PROTO_ETOOBIG.
 */
#ifndef PROTO_H
#define PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum proto_result {
	PROTO_AGAIN = -1,
	PROTO_EBADMSG = -2,	/* malformed: not this protocol, or broken syntax */
	PROTO_ETOOBIG = -3,	/* a limit set at init was exceeded */
	PROTO_EUNSUPPORTED = -4,	/* well-formed but not something we implement */
	PROTO_EVERSION = -5,	/* unknown protocol version */
	PROTO_ENOMEM = -6,
	PROTO_ECREDENTIALS = -7,	/* credentials where they must not be (user:pass@ in a URL) */
};

#define GW_PROTO_MIN(a, b) ((a) < (b) ? (a) : (b))

const char *proto_strerror(int code);

/* A byte range inside a caller-owned buffer; not NUL-terminated. */
struct proto_str {
	const char *p;
	size_t len;
};

bool proto_str_eq(struct proto_str s, const char *lit);	/* exact */
bool proto_str_ieq(struct proto_str s, const char *lit);	/* ASCII case-insensitive */
/* Without leading and trailing blanks (spaces and tabs). */
struct proto_str proto_str_trim(struct proto_str s);
/* Decimal digits only, 1..max_digits of them, value <= max. */
bool proto_parse_uint(struct proto_str s, size_t max_digits, uint64_t max, uint64_t *out);
/* The value of one hexadecimal digit, or -1. */
int proto_hexval(char c);

/* True when |l| holds no control character but tab (header and SDP lines). */
bool proto_line_is_clean(struct proto_str l);

/* Network byte order. */
static inline uint16_t
proto_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
proto_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void
proto_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
proto_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline bool
proto_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
proto_is_alnum(char c)
{
	return proto_is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

#endif
