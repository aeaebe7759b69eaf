/* proto.c - helpers shared by the parsers in proto/. */
#include "proto.h"

#include <string.h>
#include <strings.h>

const char *
proto_strerror(int code)
{
	switch (code) {
	case PROTO_AGAIN:
		return "incomplete message";
	case PROTO_EBADMSG:
		return "malformed message";
	case PROTO_ETOOBIG:
		return "message exceeds a limit";
	case PROTO_EUNSUPPORTED:
		return "unsupported feature";
	case PROTO_EVERSION:
		return "unsupported protocol version";
	case PROTO_ENOMEM:
		return "out of memory";
	case PROTO_ECREDENTIALS:
		return "credentials embedded in a URL";
	default:
		return code >= 0 ? "no error" : "unknown error";
	}
}

bool
proto_str_eq(struct proto_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && memcmp(s.p, lit, n) == 0;
}

bool
proto_str_ieq(struct proto_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && strncasecmp(s.p, lit, n) == 0;
}

struct proto_str
proto_str_trim(struct proto_str s)
{
	while (s.len > 0 && (s.p[0] == ' ' || s.p[0] == '\t'))
		s.p++, s.len--;
	while (s.len > 0 && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
		s.len--;
	return s;
}

bool
proto_parse_uint(struct proto_str s, size_t max_digits, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s.len == 0 || s.len > max_digits)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		if (!proto_is_digit(s.p[i]))
			return false;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

int
proto_hexval(char c)
{
	if (proto_is_digit(c))
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool
proto_line_is_clean(struct proto_str l)
{
	for (size_t i = 0; i < l.len; i++) {
		unsigned char c = (unsigned char)l.p[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}
