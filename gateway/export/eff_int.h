/*
 * eff_int.h - what the parts of the exporter share: a recorded segment
 * read fragment by fragment (eff_seg.c), the output file with its running
 * hashes (eff_out.c), the sidecar (eff_sidecar.c).
 *
 * Return convention: 0 / -1 (or 1 / 0 / -1 for "next"), the reason
 * written into the caller's |err| buffer.
 */
#ifndef GW_EXPORT_EFF_INT_H
#define GW_EXPORT_EFF_INT_H

#include "eff.h"

#include <stdarg.h>
#include <stdio.h>

#define EFF_ERRLEN 256

void eff_seterr(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Wall clock (microseconds since 1970) of an NTP timestamp (RFC 5905). */
int64_t eff_ntp_to_unix_us(uint64_t ntp);
uint64_t eff_unix_us_to_ntp(int64_t us);
/* |ticks| of |timescale| in microseconds, and back (rounded). */
int64_t eff_ticks_to_us(int64_t ticks, uint32_t timescale);
int64_t eff_us_to_ticks(int64_t us, uint32_t timescale);

/* --- a recorded segment ----------------------------------------------------------- */

/*
 * A segment file read with pread: its init segment kept in memory, then
 * one fragment at a time ([prft] moof in |moof|, the mdat payload in
 * |mdat| when asked for). A torn tail (the segment being written, or a
 * crash) ends the segment at its last complete fragment.
 * Owns its fd and buffers; eff_seg_close() frees them.
 */
struct eff_seg {
	const char *path;		/* borrowed */
	int fd;
	uint64_t size;
	uint8_t *head;			/* ftyp + moov */
	size_t head_len;
	struct mp4r_movie movie;	/* spans into head */
	uint64_t pos;			/* the next top-level box */
	uint8_t *moof;			/* [prft] moof of the current fragment */
	size_t moof_cap;
	uint8_t *mdat;			/* its mdat payload */
	size_t mdat_cap;
	uint64_t mdat_payload_pos;
	struct mp4r_frag frag;
	bool has_origin;
	int64_t origin_us;		/* wall clock of the movie's decode time 0 */
	bool torn;			/* the file ends inside a box */
};

int eff_seg_open(struct eff_seg *s, const char *path, char *err);
/* 1: s->frag is the next fragment (its mdat read if |with_mdat|); 0: the
 * segment ended; -1: error. */
int eff_seg_next(struct eff_seg *s, bool with_mdat, char *err);
/* The bytes of a sample of the current fragment (read with mdat). */
const uint8_t *eff_seg_sample(const struct eff_seg *s, const struct mp4r_sample *smp);
/* Wall clock of decode time |dts| of a track with |timescale|. */
int64_t eff_seg_wall_us(const struct eff_seg *s, uint64_t dts, uint32_t timescale);
void eff_seg_close(struct eff_seg *s);
/* The trak box of |track_id| in s->head (for copying), or false. */
bool eff_seg_trak(const struct eff_seg *s, uint32_t track_id, const uint8_t **p, size_t *len);

/* --- signing --------------------------------------------------------------------- */

/* RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 20) of a SHA-256 digest. */
int eff_sign_digest(EVP_PKEY *key, const uint8_t md[32], uint8_t *sig, size_t *siglen,
    char *err);
/* Checks the key: RSA, >= 2048 bits; its signature length. */
int eff_check_key(EVP_PKEY *key, size_t *siglen, char *err);
/* DER of |cert| and of each certificate in |chain| (malloc'd; eff_der_free). */
struct eff_der {
	uint8_t *cert;
	size_t cert_len;
	int nchain;
	uint8_t *chain[EFF_MAX_CHAIN];
	size_t chain_len[EFF_MAX_CHAIN];
};
int eff_der_get(const struct eff_signer *s, struct eff_der *d, char *err);
void eff_der_free(struct eff_der *d);

/* The temporary name next to |path| and the final rename, fsync'd. */
int eff_tmp_open(const char *path, char *tmp, size_t tmpcap, char *err);
int eff_commit(int fd, const char *tmp, const char *path, char *err);
void eff_hex(const uint8_t *p, size_t n, char *out);
void eff_iso8601(int64_t us, char *out, size_t cap);

#endif
