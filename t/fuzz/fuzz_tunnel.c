/*
 * fuzz_tunnel.c - the RTSP-over-HTTP tunnel's request side as the server
 * runs it: a POST body of base64 text, cut into chunks at places the input
 * chooses, decoded incrementally (proto/base64.c) into a byte stream that
 * the RTSP parser reads unit by unit, interleaved frames included, with
 * the step rtsp_server.c's read loop takes (msg_next_unit, proto/msg.c).
 *
 * Input: a first byte picks the chunk size (1..64), the rest is the body.
 * Besides crashes, it aborts when a parse result points outside the
 * decoded stream or consumes more than it was given.
 */
#include "vssgate_build.h"

#include "proto/base64.h"
#include "proto/msg.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STREAM_MAX 8192

static const struct msg_limits lim = { 512, 16, 1024 };

/* Take whole units off the front of the stream with the server's own step (msg_next_unit). */
static size_t
consume(struct msg_parser *p, const uint8_t *s, size_t len)
{
	size_t off = 0;

	while (off < len) {
		struct msg m;
		size_t unit = 0;
		int rc = msg_next_unit(p, (const char *)s + off, len - off, len - off, &lim, &m, &unit);

		if (rc == PROTO_AGAIN)
			break;
		if (rc < 0)
			return len;	/* the server answers 400 and closes: drop it all */
		if (unit == 0 || unit > len - off || (m.kind != MSG_FRAME && m.head_len > unit))
			abort();
		off += unit;
	}
	return off;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t stream[STREAM_MAX + BASE64_DECODED_MAX(64)];
	struct base64_dec d;
	struct msg_parser p = { 0 };
	size_t chunk, len = 0, used;

	if (size < 1)
		return 0;
	chunk = (size_t)(data[0] % 64) + 1;
	base64_dec_init(&d);
	for (size_t off = 1; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		int w = base64_dec_push(&d, (const char *)data + off, n, stream + len, sizeof(stream) - len);

		if (w < 0)
			return 0;	/* not base64: the tunnel is closed */
		len += (size_t)w;
		used = consume(&p, stream, len);
		memmove(stream, stream + used, len - used);
		len -= used;
		if (len > STREAM_MAX)
			return 0;	/* the server closes a flood too */
	}
	return 0;
}
