/*
 * eff_verify.h - checks an EFF export: its box structure, every signature,
 * the signers' certificates against a CA file; and, when something is
 * wrong, says what and where (byte offset, box). The core of
 * contrib/verify/vssgate-verify and of the fuzz target t/fuzz/fuzz_effverify;
 * it needs OpenSSL and proto/ only.
 *
 * The bytes come through a read callback (a file, or memory for the fuzz
 * target); what is read at once is bounded (a box other than mdat at most
 * EFF_V_MAX_BOX, the file hashed in 4 MiB pieces), whatever the file's size.
 *
 * What is checked:
 *   structure  ftyp first (brand isom), one moov before any fragment, every
 *              moof followed by its mdat with its samples inside it, mfhd
 *              sequence numbers 1, 2, 3..., every traf with tfdt, decode
 *              times that never go back, the file-level meta LAST, with
 *              exactly one suep, an ipro with protection_count 1, one sinf
 *              per signer, each with schm 'oeff' 0x00010000, one sibo, one
 *              cert
 *   signatures for signer k: the file with the later sinfs removed (ipro's
 *              and meta's sizes reduced), k's sibo payload zeroed, SHA-256,
 *              RSASSA-PSS with MGF1-SHA-256 and salt 20 with the key of k's
 *              cert
 *   chain      each cert (with the intermediates the signer stored) against
 *              the CA file, when one is given
 * Where: when a signature fails, vssgate's box digest index (eff_boxes.h)
 * names the boxes whose bytes are not those that were signed.
 *
 * Deviations of other writers that are accepted and reported (standards.md
 * §2.3): schm scheme_type 'OEFF' (isosign), cstb inside schi (isosign),
 * any salt length (oxfplayer's way) is reported, not accepted.
 *
 * Return convention: eff_verify() returns 0 when everything checked is
 * good, 1 when something is not (the report says what), -1 when it could
 * not run (out of memory; the report's first finding says so).
 */
#ifndef GW_EXPORT_EFF_VERIFY_H
#define GW_EXPORT_EFF_VERIFY_H

#include "proto/eff_boxes.h"

#include <stdbool.h>
#include <stdint.h>

#define EFF_V_MAX_BOX		(64u << 20)
#define EFF_V_MAX_FINDINGS	32
#define EFF_V_MAX_GAPS		64
#define EFF_V_GAP_MIN		0.5	/* seconds */

struct eff_vreader {
	/* n bytes at pos into p: 0, or -1 (short read or error). */
	int (*read)(void *arg, uint64_t pos, void *p, size_t n);
	void *arg;
	uint64_t size;
};

struct eff_finding {
	bool error;			/* false: a note (an accepted deviation) */
	uint64_t offset;
	char box[5];			/* the box it is about, "" for none */
	char text[240];
};

struct eff_vtrack {
	uint32_t track_id, handler;
	enum mp4_codec codec;
	uint32_t timescale;
	uint16_t width, height;
	bool events;			/* the events track (handler name) */
	uint64_t samples, first_dts, end_dts;
	bool seen;
	char source_name[128], source_url[256], source_mac[40];
};

struct eff_vgap {
	uint32_t track_id;
	double from_s, to_s;		/* on the media timeline */
};

struct eff_vsigner {
	uint64_t sinf_pos, cert_pos;
	bool sig_ok;			/* RSASSA-PSS, salt 20 */
	bool sig_ok_other_salt;		/* verifies only with another salt length */
	bool chain_checked, chain_ok;
	char chain_error[160];
	char subject[256], issuer[256], not_before[40], not_after[40], sha256[65];
	int key_bits;
	char auib[256];
	char scheme[5];
};

struct eff_vreport {
	bool structure_ok, signatures_ok, chain_ok;
	int nfind;
	struct eff_finding find[EFF_V_MAX_FINDINGS];
	int nfind_more;			/* findings beyond the list */
	bool has_suep;
	char unit_name[128], unit_url[256], unit_mac[40], operator_name[256];
	int64_t export_time_us;
	bool has_start;
	int64_t start_us;		/* cstb: the media timeline's origin */
	double duration_s;
	int ntracks;
	struct eff_vtrack track[MP4_MAX_TRACKS];
	int ngaps;
	struct eff_vgap gaps[EFF_V_MAX_GAPS];
	uint32_t fragments;
	int nsigners;
	struct eff_vsigner signer[EFF_MAX_SIGNERS];
	bool has_location;
	char location_name[256];
	double latitude, longitude;
};

int eff_verify(const struct eff_vreader *r, const char *cafile, struct eff_vreport *rep);

#endif
