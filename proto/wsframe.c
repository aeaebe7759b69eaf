/*
 * wsframe.c - WebSocket frame boundaries. See wsframe.h.
 */
#include "wsframe.h"

int
ws_frame_span(const uint8_t *p, size_t len, uint64_t max_payload, struct ws_frame_span *out)
{
	size_t head = 2;
	uint64_t payload;

	if (len < 2)
		return PROTO_AGAIN;
	payload = p[1] & 0x7f;
	if (payload == 126)
		head += 2;
	else if (payload == 127)
		head += 8;
	if (p[1] & 0x80)
		head += 4;	/* the masking key */
	if (len < head)
		return PROTO_AGAIN;
	if (payload == 126) {
		payload = (uint64_t)p[2] << 8 | p[3];
	} else if (payload == 127) {
		payload = 0;
		for (int i = 0; i < 8; i++)
			payload = payload << 8 | p[2 + i];
		if (payload >> 63)
			return PROTO_EBADMSG;
	}
	if (payload > max_payload)
		return PROTO_ETOOBIG;
	if (len - head < payload)
		return PROTO_AGAIN;
	out->len = head + (size_t)payload;
	out->opcode = p[0] & 0x0f;
	out->fin = (p[0] & 0x80) != 0;
	return 0;
}
