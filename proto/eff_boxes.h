/*
 * eff_boxes.h - the boxes of the ONVIF Export File Format (EFF, ONVIF
 * ExportFileFormat 26.06) that proto/mp4w.h does not write, and their
 * readers: the file-level meta with suep, ipro/sinf/schm/schi{sibo, cert,
 * sigC, auib, cstb}, udta/loci, and the two vssgate boxes a signed export
 * also carries (below). Pure: bytes in, structs out; structs in, bytes out.
 *
 * The file-level meta an export ends with (vssgate writes it in this order):
 *   meta (FullBox 0)
 *     hdlr        handler 'null', name "vssgate export"
 *     suep        FullBox version 1: export unit name, URL, MAC, time (1904
 *                 epoch, seconds), operator, then per track: track_ID,
 *                 source name, URL, MAC, line
 *     uuid        EFF_UUID_INDEX: the box digest index (below)
 *     ipro        FullBox 0, protection_count 1
 *       sinf      one per signer, in signing order
 *         cstb    [first signer] entry_count, per track: track_ID, start
 *                 time of the media timeline (1601 epoch, 100 ns)
 *         schm    FullBox 0: scheme 'oeff', version 0x00010000
 *         schi    sibo (the RSASSA-PSS signature), cert (DER), [uuid
 *                 EFF_UUID_CHAIN: the intermediate certificates], [auib]
 *
 * vssgate's boxes (uuid boxes, so that no reader mistakes them for a
 * registered type; both are covered by the signature like every byte):
 *   EFF_UUID_INDEX  u32 version (1), u32 count, then per entry: u32 type,
 *                   u64 offset, u64 size, u64 eff_locsum of the bytes. One
 *                   entry for ftyp, for moov, for each fragment (moof +
 *                   mdat; a run of fragments in a very long export), and
 *                   for meta's hdlr and suep and the first signer's cert
 *                   (written before signing). It tells a verifier WHERE a
 *                   broken signature was broken. It is a locator, not a
 *                   seal: the signature is what proves; a forger who made
 *                   a change keep its locsum would still break the
 *                   signature, and only the "where" would be lost. (A
 *                   second SHA-256 would cost a third of an export's time.)
 *   EFF_UUID_CHAIN  per certificate: u32 length, DER bytes.
 *
 * Times: proto/ keeps no clock; the conversions below are arithmetic on
 * microseconds since 1970-01-01 UTC.
 *
 * Return convention (proto/proto.h): writers append to an mp4w_buf (its
 * sticky error is the result: mp4w_buf_result()); readers return 0 or
 * PROTO_EBADMSG (a field runs past its box, a string has no NUL, a count
 * is larger than the box can hold) or PROTO_ETOOBIG (more entries than the
 * struct has room for). Readers copy nothing: spans point into the box.
 */
#ifndef PROTO_EFF_BOXES_H
#define PROTO_EFF_BOXES_H

#include "mp4.h"
#include "mp4r.h"
#include "mp4w.h"

#define EFF_SCHEME_OEFF		MP4_FOURCC('o', 'e', 'f', 'f')
#define EFF_SCHEME_OEFF_UPPER	MP4_FOURCC('O', 'E', 'F', 'F')	/* isosign's */
#define EFF_SCHEME_VERSION	0x00010000u
#define EFF_MAX_SIGNERS		8
#define EFF_MAX_CHAIN		8
#define EFF_INDEX_ENTRY		28	/* u32 type, u64 offset, u64 size, u64 locsum */

extern const uint8_t EFF_UUID_INDEX[16];
extern const uint8_t EFF_UUID_CHAIN[16];

/* --- time ------------------------------------------------------------------------ */

/* 100 ns intervals since 1601-01-01 UTC (cstb, Windows FILETIME). */
uint64_t eff_unix_us_to_1601(int64_t unix_us);
int64_t eff_1601_to_unix_us(uint64_t t);
/* Seconds since 1904-01-01 UTC (ISO/IEC 14496-12: mvhd, suep ExportUnitTime). */
uint64_t eff_unix_us_to_1904(int64_t unix_us);
int64_t eff_1904_to_unix_us(uint64_t t);

/* --- values ----------------------------------------------------------------------- */

struct eff_source_info {		/* one suep entry */
	uint16_t track_id;
	const char *name, *url, *mac, *line;	/* NULL: empty */
};

struct eff_suep {
	const char *unit_name, *unit_url, *unit_mac;	/* NULL: empty */
	uint64_t unit_time_1904;
	const char *operator_name;
	int ntracks;
	struct eff_source_info track[MP4_MAX_TRACKS];
};

struct eff_loci {
	const char *name;		/* street address */
	double longitude, latitude;	/* degrees, stored 16.16 fixed point */
	double altitude;		/* metres, 16.16 fixed point as TS 26.244 has it */
	const char *astronomical_body;	/* NULL: "earth" */
	const char *notes;
};

struct eff_cstb_entry {
	uint32_t track_id;
	uint64_t start_1601;
};

/* --- writers ---------------------------------------------------------------------- */

/* udta { loci } (ETSI TS 126 244), for mp4w_movie.moov_extra. */
void eff_put_udta_loci(struct mp4w_buf *b, const struct eff_loci *l);
void eff_put_suep(struct mp4w_buf *b, const struct eff_suep *s);
void eff_put_cstb(struct mp4w_buf *b, const struct eff_cstb_entry *e, int n);
/*
 * The export's own moov parts (its traks are the segments' traks, copied):
 * mvhd (timescale 1000, fragmented: duration 0), mvex with one trex per
 * track_ID 1..n, and the trak of the events track: handler 'meta', name
 * EFF_EVENTS_HANDLER_NAME, nmhd, sample entry metx (namespace of the ONVIF
 * schema), each sample one tt:MetadataStream with one tt:Event.
 */
#define EFF_EVENTS_HANDLER_NAME	"vssgate ONVIF events"
void eff_put_mvhd(struct mp4w_buf *b, uint32_t time_1904, uint32_t next_track_id);
void eff_put_mvex(struct mp4w_buf *b, int ntracks);
void eff_put_events_trak(struct mp4w_buf *b, uint32_t track_id, uint32_t timescale,
    uint32_t time_1904);
/* The hdlr of the file-level meta. */
void eff_put_meta_hdlr(struct mp4w_buf *b);
void eff_put_index_entry(struct mp4w_buf *b, uint32_t type, uint64_t off, uint64_t size,
    uint64_t locsum);

/*
 * The index's checksum: four 64-bit lanes over 32-byte blocks, each word
 * xored in, multiplied by an odd constant and folded (each step is a
 * bijection of the lane, so a change of one word always changes the sum),
 * the lanes and the length mixed at the end. Incremental: any split of
 * the input gives the same sum.
 */
struct eff_locsum {
	uint64_t lane[4];
	uint8_t tail[32];
	size_t ntail;
	uint64_t len;
};
void eff_locsum_init(struct eff_locsum *c);
void eff_locsum_update(struct eff_locsum *c, const uint8_t *p, size_t n);
uint64_t eff_locsum_final(const struct eff_locsum *c);
uint64_t eff_locsum(const uint8_t *p, size_t n);

struct eff_sinf_params {
	const struct eff_cstb_entry *cstb;	/* NULL: none */
	int ncstb;
	size_t sig_len;			/* sibo payload: the key's modulus bytes */
	const uint8_t *cert;		/* DER */
	size_t cert_len;
	const uint8_t *const *chain;	/* DER intermediates, or NULL */
	const size_t *chain_len;
	int nchain;
	const char *auib;		/* NULL: no auib */
};

/* Where the parts of a written sinf are, relative to the buffer start. */
struct eff_sinf_layout {
	size_t sinf_at, sibo_payload, cert_box, cert_box_size;
};

/* sinf{[cstb] schm schi{sibo(zeros) cert [uuid chain] [auib]}}. */
void eff_put_sinf(struct mp4w_buf *b, const struct eff_sinf_params *p,
    struct eff_sinf_layout *where);

/* --- readers ---------------------------------------------------------------------- */

struct eff_suep_view {
	uint8_t version;
	struct mp4_span unit_name, unit_url, unit_mac;	/* without the NUL */
	uint64_t unit_time_1904;
	struct mp4_span operator_name;
	uint32_t ntracks;
	struct {
		uint16_t track_id;
		struct mp4_span name, url, mac, line;
	} track[MP4_MAX_TRACKS];
};

struct eff_loci_view {
	uint16_t language;
	struct mp4_span name, astronomical_body, notes;
	uint8_t role;
	int32_t longitude, latitude, altitude;	/* as stored */
};

struct eff_cstb_view {
	uint32_t n;
	struct eff_cstb_entry e[MP4_MAX_TRACKS];
};

/* The payload of a suep (FullBox: version/flags first). */
int eff_suep_parse(const uint8_t *p, size_t len, struct eff_suep_view *v);
int eff_loci_parse(const uint8_t *p, size_t len, struct eff_loci_view *v);
int eff_cstb_parse(const uint8_t *p, size_t len, struct eff_cstb_view *v);

struct eff_signer_view {
	uint64_t sinf_pos, sinf_size;
	bool has_schm;
	uint32_t scheme_type, scheme_version;
	bool has_sibo, has_cert;
	uint64_t sibo_pos;		/* of the sibo payload */
	struct mp4_span sibo, cert, sigc, auib;
	uint64_t cert_pos, cert_size;	/* the cert box */
	int nchain;
	struct mp4_span chain[EFF_MAX_CHAIN];
	bool has_cstb, cstb_in_schi;	/* isosign puts it in schi */
	struct eff_cstb_view cstb;
	int nsibo, ncert;		/* counted: each must be 1 */
};

struct eff_meta_view {
	uint64_t pos, size;		/* the meta box */
	size_t hdr;
	uint32_t handler;
	bool has_suep;
	int nsuep;
	uint64_t suep_pos;
	struct eff_suep_view suep;
	bool has_cstb;			/* a cstb directly in meta */
	struct eff_cstb_view cstb;
	bool has_index;
	uint64_t index_pos;
	struct mp4_span index;		/* the entries (count * EFF_INDEX_ENTRY bytes) */
	uint32_t index_count;
	bool has_ipro;
	uint64_t ipro_pos, ipro_size;
	size_t ipro_hdr;
	uint16_t protection_count;
	int nsigners;
	struct eff_signer_view signer[EFF_MAX_SIGNERS];
	int nipro;
};

/*
 * The file-level meta box |meta| (complete, read by |it|): every box the
 * EFF puts in it, checked for its place and count where the EFF fixes
 * them. Unknown boxes are skipped. PROTO_ETOOBIG beyond EFF_MAX_SIGNERS.
 */
int eff_meta_parse(const struct mp4r_iter *it, const struct mp4r_box *meta,
    struct eff_meta_view *v);
/* Index entry |i| of |v|. */
void eff_index_entry(const struct eff_meta_view *v, uint32_t i, uint32_t *type, uint64_t *off,
    uint64_t *size, uint64_t *locsum);

#endif
