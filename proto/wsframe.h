/*
 * wsframe.h - where a WebSocket frame (RFC 6455 §5.2) ends, read from its
 * header alone. wslay parses and unmasks the frames; the gateway only needs
 * the boundaries, to hand wslay whole frames and to know when nothing is
 * half-read (then the wslay context can be freed until more input comes).
 *
 * Pure: no I/O, no allocation. Return convention: proto.h.
 */
#ifndef PROTO_WSFRAME_H
#define PROTO_WSFRAME_H

#include "proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ws_frame_span {
	size_t len;		/* header + payload */
	uint8_t opcode;		/* 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong */
	bool fin;
};

/*
 * The frame at the start of |p|: 0 with |out| filled when all of it is in
 * |len| bytes; PROTO_AGAIN when more bytes are needed; PROTO_ETOOBIG when its
 * payload exceeds |max_payload|; PROTO_EBADMSG for a 64-bit length with the
 * top bit set.
 */
int ws_frame_span(const uint8_t *p, size_t len, uint64_t max_payload, struct ws_frame_span *out);

#endif
