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
