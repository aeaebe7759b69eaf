/*
 * media.h - helpers of the packetizer/depacketizer tests: read the samples
 * of t/data/media/, cut Annex B streams into access units, ADTS into raw
 * AAC frames, a baseline JPEG into RFC 2435 payloads, and decode JPEG with
 * libavcodec. Written independently of proto/ so that they can judge it.
 */
#ifndef T_MEDIA_H
#define T_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEDIA_MAX_UNITS 256

/* A slice of a caller-owned buffer. */
struct media_unit {
	const uint8_t *p;
	size_t len;
	bool key;			/* IDR / IRAP inside */
};

/* Reads t/data/<name> into a malloc'd buffer (*len bytes); NULL on error. */
uint8_t *media_read(const char *name, size_t *len);

/* Access units of an Annex B stream (h265: false for H.264). Each unit
 * slice includes its start codes. Returns the count. */
int media_split_annexb(const uint8_t *b, size_t len, bool h265, struct media_unit *au, int max);
/* The NAL units of one access unit (no start codes, no trailing zeros). */
int media_nals(const uint8_t *b, size_t len, struct media_unit *nal, int max);
/* The access unit as depay writes it: 4-byte start code before every NAL.
 * Returns the length written into |out| (malloc'd by the caller). */
size_t media_annexb4(const uint8_t *au, size_t len, uint8_t *out, size_t cap);

/* Raw AAC frames of an ADTS stream (the 7- or 9-byte headers removed). */
int media_split_adts(const uint8_t *b, size_t len, struct media_unit *frame, int max,
    uint8_t asc[2]);

/* A baseline JPEG split into its parts, for building RFC 2435 payloads. */
struct media_jpeg {
	int width, height;
	int type;			/* 0: 4:2:2, 1: 4:2:0 */
	int restart_interval;
	uint8_t qt[2][64];		/* luma, chroma (zigzag order, as in DQT) */
	const uint8_t *scan;		/* entropy-coded data, without EOI */
	size_t scan_len;
};

bool media_jpeg_parse(const uint8_t *b, size_t len, struct media_jpeg *j);
/* RFC 2435 payloads of |j| with this Q (>= 128: tables in the first packet),
 * each at most |max| bytes, into pkt[] (malloc'd; free each). */
int media_jpeg_payloads(const struct media_jpeg *j, int q, size_t max, uint8_t **pkt,
    size_t *pkt_len, int maxpkts);

/* Decodes a JPEG with libavcodec: size and a checksum of the planes. */
bool media_jpeg_decode(const uint8_t *b, size_t len, int *width, int *height, uint64_t *digest);

#endif
