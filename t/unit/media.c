/* media.c - see media.h. */
#include "media.h"

#include <libavcodec/avcodec.h>
#include <libavutil/common.h>
#include <libavutil/pixdesc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t/tap.h"

uint8_t *
media_read(const char *name, size_t *len)
{
	FILE *fp = fopen(tap_data_path(name), "rb");
	uint8_t *buf = NULL;
	long n;

	*len = 0;
	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) > 0 && fseek(fp, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n)) != NULL && fread(buf, 1, (size_t)n, fp) == (size_t)n)
		*len = (size_t)n;
	fclose(fp);
	if (*len == 0) {
		free(buf);
		buf = NULL;
	}
	return buf;
}

/* Start of each NAL unit payload (after 00 00 01) and its end. */
int
media_nals(const uint8_t *b, size_t len, struct media_unit *nal, int max)
{
	int n = 0;
	size_t i = 0;

	while (i + 3 <= len && n < max) {
		size_t s, e;

		if (!(b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 1)) {
			i++;
			continue;
		}
		s = i + 3;
		for (e = s; e + 3 <= len && !(b[e] == 0 && b[e + 1] == 0 && b[e + 2] == 1); e++)
			;
		if (e + 3 > len)
			e = len;
		i = e;
		while (e > s && b[e - 1] == 0)
			e--;
		if (e > s)
			nal[n++] = (struct media_unit){ b + s, e - s, false };
	}
	return n;
}

static bool
is_vcl(const uint8_t *nal, bool h265)
{
	int t = h265 ? (nal[0] >> 1) & 0x3f : nal[0] & 0x1f;

	return h265 ? t < 32 : t >= 1 && t <= 5;
}

static bool
is_key(const uint8_t *nal, bool h265)
{
	int t = h265 ? (nal[0] >> 1) & 0x3f : nal[0] & 0x1f;

	return h265 ? t >= 16 && t <= 21 : t == 5;
}

/* Does this NAL unit open a new access unit once the current one has a picture? */
static bool
opens_au(const uint8_t *nal, bool h265)
{
	int t = h265 ? (nal[0] >> 1) & 0x3f : nal[0] & 0x1f;

	if (is_vcl(nal, h265))	/* first_mb_in_slice == 0 / first_slice_segment_in_pic_flag */
		return h265 ? (nal[2] & 0x80) != 0 : (nal[1] & 0x80) != 0;
	return h265 ? (t >= 32 && t <= 35) || t == 39 : t == 6 || t == 7 || t == 8 || t == 9;
}

int
media_split_annexb(const uint8_t *b, size_t len, bool h265, struct media_unit *au, int max)
{
	static struct media_unit nal[4096];
	int nn = media_nals(b, len, nal, 4096), n = 0;
	bool has_vcl = false;

	for (int i = 0; i < nn && n <= max; i++) {
		/* the slice starts at the start code in front of the NAL unit */
		const uint8_t *sc = nal[i].p - 3;

		if (sc > b && sc[-1] == 0)
			sc--;
		if (n == 0 || (has_vcl && opens_au(nal[i].p, h265))) {
			if (n == max)
				break;
			au[n++] = (struct media_unit){ sc, 0, false };
			has_vcl = false;
		}
		au[n - 1].len = (size_t)(nal[i].p + nal[i].len - au[n - 1].p);
		has_vcl = has_vcl || is_vcl(nal[i].p, h265);
		au[n - 1].key = au[n - 1].key || is_key(nal[i].p, h265);
	}
	return n;
}

size_t
media_annexb4(const uint8_t *au, size_t len, uint8_t *out, size_t cap)
{
	struct media_unit nal[256];
	int nn = media_nals(au, len, nal, 256);
	size_t o = 0;

	for (int i = 0; i < nn && o + 4 + nal[i].len <= cap; i++) {
		memcpy(out + o, "\0\0\0\1", 4);
		memcpy(out + o + 4, nal[i].p, nal[i].len);
		o += 4 + nal[i].len;
	}
	return o;
}

int
media_split_adts(const uint8_t *b, size_t len, struct media_unit *frame, int max, uint8_t asc[2])
{
	size_t i = 0;
	int n = 0;

	while (i + 7 <= len && n < max) {
		size_t flen = (size_t)((b[i + 3] & 3) << 11 | b[i + 4] << 3 | b[i + 5] >> 5);
		size_t hlen = (b[i + 1] & 1) ? 7 : 9;	/* protection_absent */
		int profile = b[i + 2] >> 6, sfi = (b[i + 2] >> 2) & 15;
		int ch = (b[i + 2] & 1) << 2 | b[i + 3] >> 6;

		if (b[i] != 0xff || (b[i + 1] & 0xf0) != 0xf0 || flen < hlen || i + flen > len)
			break;
		asc[0] = (uint8_t)((profile + 1) << 3 | sfi >> 1);
		asc[1] = (uint8_t)((sfi & 1) << 7 | ch << 3);
		frame[n++] = (struct media_unit){ b + i + hlen, flen - hlen, true };
		i += flen;
	}
	return n;
}

static bool
jpeg_dqt(const uint8_t *s, size_t len, struct media_jpeg *j, uint8_t qt[4][64])
{
	size_t o = 0;

	(void)j;
	while (o < len) {
		int id = s[o] & 15;

		if ((s[o] >> 4) != 0 || id > 3 || o + 65 > len)
			return false;
		memcpy(qt[id], s + o + 1, 64);
		o += 65;
	}
	return true;
}

bool
media_jpeg_parse(const uint8_t *b, size_t len, struct media_jpeg *j)
{
	uint8_t qt[4][64];
	int tq[3] = { 0, 0, 0 };
	size_t i = 2;

	memset(j, 0, sizeof(*j));
	if (len < 4 || b[0] != 0xff || b[1] != 0xd8)
		return false;
	while (i + 4 <= len && b[i] == 0xff) {
		int m = b[i + 1];
		size_t l = (size_t)(b[i + 2] << 8 | b[i + 3]);
		const uint8_t *s = b + i + 4;

		if (i + 2 + l > len)
			return false;
		if (m == 0xdb && !jpeg_dqt(s, l - 2, j, qt))
			return false;
		if (m == 0xdd)
			j->restart_interval = s[0] << 8 | s[1];
		if (m == 0xc0) {
			j->height = s[1] << 8 | s[2];
			j->width = s[3] << 8 | s[4];
			j->type = s[7] == 0x22 ? 1 : 0;
			for (int c = 0; c < 3; c++)
				tq[c] = s[8 + 3 * c];
		}
		if (m == 0xda) {
			j->scan = b + i + 2 + l;
			j->scan_len = len - (i + 2 + l);
			while (j->scan_len >= 2 && j->scan[j->scan_len - 2] == 0xff &&
			    j->scan[j->scan_len - 1] == 0xd9)
				j->scan_len -= 2;
			memcpy(j->qt[0], qt[tq[0]], 64);
			memcpy(j->qt[1], qt[tq[1]], 64);
			return j->width > 0;
		}
		i += 2 + l;
	}
	return false;
}

int
media_jpeg_payloads(const struct media_jpeg *j, int q, size_t max, uint8_t **pkt,
    size_t *pkt_len, int maxpkts)
{
	size_t off = 0;
	int n = 0;

	while (off < j->scan_len && n < maxpkts) {
		uint8_t *p = malloc(max);
		size_t h = 0, chunk;

		p[h++] = 0;	/* type-specific */
		p[h++] = (uint8_t)(off >> 16);
		p[h++] = (uint8_t)(off >> 8);
		p[h++] = (uint8_t)off;
		p[h++] = (uint8_t)(j->type + (j->restart_interval ? 64 : 0));
		p[h++] = (uint8_t)q;
		p[h++] = (uint8_t)(j->width / 8);
		p[h++] = (uint8_t)(j->height / 8);
		if (j->restart_interval) {	/* F=L=1, count 0x3fff: not aligned to packets */
			p[h++] = (uint8_t)(j->restart_interval >> 8);
			p[h++] = (uint8_t)j->restart_interval;
			p[h++] = 0xff;
			p[h++] = 0xff;
		}
		if (q >= 128 && off == 0) {
			p[h++] = 0;
			p[h++] = 0;	/* 8-bit tables */
			p[h++] = 0;
			p[h++] = 128;
			memcpy(p + h, j->qt[0], 64);
			memcpy(p + h + 64, j->qt[1], 64);
			h += 128;
		}
		chunk = j->scan_len - off < max - h ? j->scan_len - off : max - h;
		memcpy(p + h, j->scan + off, chunk);
		pkt[n] = p;
		pkt_len[n++] = h + chunk;
		off += chunk;
	}
	return n;
}

bool
media_jpeg_decode(const uint8_t *b, size_t len, int *width, int *height, uint64_t *digest)
{
	const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
	AVCodecContext *ctx = NULL;
	AVPacket *pkt = NULL;
	AVFrame *frame = NULL;
	bool ok = false;
	int hs, vs;

	if (codec == NULL || (ctx = avcodec_alloc_context3(codec)) == NULL ||
	    avcodec_open2(ctx, codec, NULL) < 0 || (pkt = av_packet_alloc()) == NULL ||
	    (frame = av_frame_alloc()) == NULL || av_new_packet(pkt, (int)len) < 0)
		goto out;
	memcpy(pkt->data, b, len);
	if (avcodec_send_packet(ctx, pkt) < 0 || avcodec_send_packet(ctx, NULL) < 0 ||
	    avcodec_receive_frame(ctx, frame) < 0)
		goto out;
	*width = frame->width;
	*height = frame->height;
	*digest = 1469598103934665603ull;	/* FNV-1a over the three planes */
	av_pix_fmt_get_chroma_sub_sample(frame->format, &hs, &vs);
	for (int pl = 0; pl < 3; pl++) {
		int h = pl == 0 ? frame->height : AV_CEIL_RSHIFT(frame->height, vs);
		int w = pl == 0 ? frame->width : AV_CEIL_RSHIFT(frame->width, hs);

		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++) {
				*digest ^= frame->data[pl][y * frame->linesize[pl] + x];
				*digest *= 1099511628211ull;
			}
	}
	ok = true;
out:
	av_frame_free(&frame);
	av_packet_free(&pkt);
	avcodec_free_context(&ctx);
	return ok;
}
