/* mp4.c - codec names and the Annex B <-> length-prefixed conversions (mp4.h). */
#include "mp4.h"

#include <string.h>

const char *
mp4_codec_name(enum mp4_codec c)
{
	switch (c) {
	case MP4_CODEC_H264:
		return "H264";
	case MP4_CODEC_H265:
		return "H265";
	case MP4_CODEC_AAC:
		return "AAC";
	case MP4_CODEC_PCMU:
		return "PCMU";
	case MP4_CODEC_PCMA:
		return "PCMA";
	case MP4_CODEC_JPEG:
		return "JPEG";
	case MP4_CODEC_ONVIF_META:
		return "ONVIF-META";
	case MP4_CODEC_UNKNOWN:
		break;
	}
	return "unknown";
}

bool
mp4_codec_is_nal(enum mp4_codec c)
{
	return c == MP4_CODEC_H264 || c == MP4_CODEC_H265;
}

/* Index of the first 00 00 01 at or after |from|, or |len|. */
static size_t
start_code_at(const uint8_t *b, size_t len, size_t from)
{
	for (size_t i = from; i + 2 < len; i++) {
		if (b[i + 2] > 1)
			i += 2;	/* none of i, i + 1, i + 2 can start one */
		else if (b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 1)
			return i;
	}
	return len;
}

/* Does |in| open with a start code after nothing but zero bytes? */
static bool
opens_with_start_code(const uint8_t *in, size_t len, size_t *first)
{
	size_t i = 0;

	while (i < len && in[i] == 0)
		i++;
	if (i < 2 || i >= len || in[i] != 1)
		return false;
	*first = i - 2;
	return true;
}

int
mp4_annexb_to_nal4(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	size_t sc, o = 0;
	int nals = 0;

	if (!opens_with_start_code(in, len, &sc))
		return PROTO_EBADMSG;
	while (sc < len) {
		size_t start = sc + 3, next = start_code_at(in, len, start), end = next;

		while (end > start && in[end - 1] == 0)
			end--;	/* trailing_zero_8bits, or a 4-byte start code's first byte */
		sc = next;
		if (end == start)
			continue;
		if (end - start > (size_t)INT32_MAX - 4 || o > (size_t)INT32_MAX - 4 - (end - start))
			return PROTO_ETOOBIG;	/* the result must fit an int */
		if (out != NULL) {
			if (cap - o < 4 + (end - start))
				return PROTO_ETOOBIG;
			proto_wr32(out + o, (uint32_t)(end - start));
			memcpy(out + o + 4, in + start, end - start);
		}
		o += 4 + (end - start);
		nals++;
	}
	return nals == 0 ? PROTO_EBADMSG : (int)o;
}

static size_t
read_len(const uint8_t *p, int lensize)
{
	size_t n = 0;

	for (int i = 0; i < lensize; i++)
		n = n << 8 | p[i];
	return n;
}

int
mp4_nal_to_annexb(const uint8_t *in, size_t len, int lensize, uint8_t *out, size_t cap)
{
	size_t i = 0, o = 0;

	if (lensize != 1 && lensize != 2 && lensize != 4)
		return PROTO_EBADMSG;
	if (len == 0 || len > INT32_MAX / 4)
		return len == 0 ? PROTO_EBADMSG : PROTO_ETOOBIG;
	while (i < len) {
		size_t n;

		if (len - i < (size_t)lensize)
			return PROTO_EBADMSG;
		n = read_len(in + i, lensize);
		i += (size_t)lensize;
		if (n == 0 || n > len - i)
			return PROTO_EBADMSG;
		if (out != NULL) {
			if (cap - o < 4 + n)
				return PROTO_ETOOBIG;
			memcpy(out + o, "\0\0\0\1", 4);
			memcpy(out + o + 4, in + i, n);
		}
		o += 4 + n;
		i += n;
	}
	return (int)o;
}

int
mp4_nal4_to_annexb_inplace(uint8_t *buf, size_t len)
{
	size_t i = 0;

	if (len == 0)
		return PROTO_EBADMSG;
	while (i < len) {
		size_t n;

		if (len - i < 4)
			return PROTO_EBADMSG;
		n = proto_rd32(buf + i);
		if (n == 0 || n > len - i - 4)
			return PROTO_EBADMSG;
		memcpy(buf + i, "\0\0\0\1", 4);
		i += 4 + n;
	}
	return 0;
}
