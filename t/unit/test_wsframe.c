/* test_wsframe.c - WebSocket frame boundaries: every length form, masks, limits, short input. */
#include "proto/wsframe.h"
#include "t/tap.h"

#include <string.h>

static void
test_lengths(void)
{
	uint8_t f[70000] = { 0 };
	struct ws_frame_span s;

	/* FIN + binary, masked, 5 bytes of payload: 2 + 4 + 5. */
	f[0] = 0x82, f[1] = 0x80 | 5;
	is_int(ws_frame_span(f, 11, 1 << 20, &s), 0, "7-bit length, masked");
	is_int((long long)s.len, 11, "its span");
	ok(s.fin && s.opcode == 2, "FIN and binary");
	is_int(ws_frame_span(f, 10, 1 << 20, &s), PROTO_AGAIN, "one byte short");
	is_int(ws_frame_span(f, 1, 1 << 20, &s), PROTO_AGAIN, "half a header");
	/* Continuation without FIN, 16-bit length 300, unmasked: 4 + 300. */
	f[0] = 0x00, f[1] = 126, f[2] = 0x01, f[3] = 0x2c;
	is_int(ws_frame_span(f, 3, 1 << 20, &s), PROTO_AGAIN, "16-bit length cut");
	is_int(ws_frame_span(f, 304, 1 << 20, &s), 0, "16-bit length");
	ok(s.len == 304 && !s.fin && s.opcode == 0, "continuation, 304 bytes");
	/* 64-bit length 65536, masked: 2 + 8 + 4 + 65536. */
	memset(f, 0, 14);
	f[0] = 0x81, f[1] = 0x80 | 127, f[7] = 0x01;
	is_int(ws_frame_span(f, 65549, 1 << 20, &s), PROTO_AGAIN, "64-bit length, payload short");
	is_int(ws_frame_span(f, 65550, 1 << 20, &s), 0, "64-bit length");
	is_int((long long)s.len, 65550, "its span");
	is_int(ws_frame_span(f, 65550, 65535, &s), PROTO_ETOOBIG, "over the limit");
	f[2] = 0x80;
	is_int(ws_frame_span(f, 65550, 1 << 20, &s), PROTO_EBADMSG, "64-bit length with the top bit set");
	/* A ping with no payload: the smallest frame. */
	f[0] = 0x89, f[1] = 0;
	is_int(ws_frame_span(f, 2, 0, &s), 0, "empty ping");
	ok(s.len == 2 && s.opcode == 9, "2 bytes, opcode 9");
}

int
main(void)
{
	test_lengths();
	return done_testing();
}
