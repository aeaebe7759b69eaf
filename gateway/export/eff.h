/*
 * eff.h - the signed evidence export: recorded fMP4 segments of one camera
 * in, one ONVIF Export File Format (EFF) file out, signed RSASSA-PSS, with
 * a human-readable JSON sidecar; and a counter-signature appended to such
 * a file later.
 *
 * Called on a worker thread: no event loop, no database, no logger. Every
 * function here blocks (file I/O, signing) and reports failure as a text
 * in the caller's result, never on stderr. Nothing it says contains key
 * material.
 *
 * The file (box tree; proto/eff_boxes.h has the meta part):
 *   ftyp  'isom' (compatible isom iso6 mp41)
 *   moov  mvhd, one trak per kept track (copied from the first segment,
 *         track_IDs renumbered 1..n in the order video, audio, metadata,
 *         events), mvex, udta/loci (when the camera has a position)
 *   moof/mdat pairs: one per recorded fragment in the range, every traf
 *         with tfdt; samples byte for byte as recorded (every NAL unit,
 *         SEI included), never transcoded
 *   meta  (the last box) hdlr, suep, vssgate's box digest index, ipro with
 *         one sinf per signer: cstb (first signer), schm 'oeff', schi
 *         {sibo, cert, [chain], [auib]}
 * The media timeline starts (decode time 0) at the first exported video
 * sample, a keyframe at or before |from|; cstb gives that instant in the
 * 1601 epoch for every track. Samples at or after |to| are left out.
 * A hole in the recording stays a hole: the next sample's tfdt says when
 * it was recorded, and the hole is listed (eff_result.gaps, the sidecar).
 *
 * Level 0E: the events are an extra timed-metadata track (handler 'meta',
 * handler name EFF_EVENTS_HANDLER_NAME, sample entry metx with the ONVIF
 * schema namespace); each sample is one document
 *   <tt:MetadataStream><tt:Event><wsnt:NotificationMessage>
 *     <wsnt:Topic Dialect="...ConcreteSet">TOPIC</wsnt:Topic>
 *     <wsnt:Message><tt:Message UtcTime="..."><tt:Source>SOURCE</tt:Source>
 *       <tt:Data>DATA</tt:Data></tt:Message></wsnt:Message>
 *   </wsnt:NotificationMessage></tt:Event></tt:MetadataStream>
 * at the event's time, lasting until the next event (the last one until
 * |to|). No events in the range: no events track.
 *
 * Signature (EFF §Signature): RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 20,
 * over every byte of the file with the sibo payload zeroed; the key must
 * be RSA of at least 2048 bits. The hash is taken while the file is
 * written, so the file is read once (the segments) and written once.
 *
 * Memory: at most one recorded fragment in, one staged and one written out
 * (each bounded by EFF_MAX_FRAGMENT), the first segment's init segment and
 * the digest index (at most EFF_MAX_INDEX entries): under 64 MiB for any
 * length of export.
 *
 * Files: the export is written to "<out_path>.part-XXXXXX" in the same
 * directory, fsync'd, then renamed to out_path; on any failure, cancel
 * included, the temporary file is removed and nothing is at out_path. The
 * sidecar is written the same way after the export.
 *
 * Return convention: 0 on success, -1 on failure with the reason in
 * eff_result.error (or |err|); never a partial success.
 */
#ifndef GW_EXPORT_EFF_H
#define GW_EXPORT_EFF_H

#include "proto/eff_boxes.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define EFF_MAX_FRAGMENT	(12u << 20)	/* a recorded fragment (moof + mdat) */
#define EFF_MAX_INIT		(4u << 20)	/* a segment's ftyp + moov */
#define EFF_MAX_INDEX		65536		/* digest index entries */
#define EFF_MAX_GAPS		256		/* listed; more are counted */
#define EFF_MAX_EVENTS		100000
#define EFF_GAP_MIN_US		500000		/* a hole shorter than this is jitter */

/* What to keep (levels: 0V = VIDEO | AUDIO, 0M adds METADATA, 0E adds EVENTS). */
#define EFF_KEEP_VIDEO		0x1u
#define EFF_KEEP_AUDIO		0x2u
#define EFF_KEEP_METADATA	0x4u
#define EFF_KEEP_EVENTS		0x8u

/* One event (0E). The strings are the caller's and are read during the call. */
struct eff_event {
	int64_t time_us;		/* wall clock, microseconds since 1970 UTC */
	const char *topic;		/* "tns1:VideoSource/SignalLoss"; escaped as text */
	const char *source;		/* well-formed XML for inside tt:Source, or NULL */
	const char *data;		/* well-formed XML for inside tt:Data, or NULL */
};

/* IEC 62676-2-11 Annex A fields, as the location API has them (api/location.c). */
struct eff_location {
	const char *site, *address, *floor;	/* NULL: unknown */
	double latitude, longitude, altitude_m;	/* NAN: unknown; loci needs lat and lon */
	double indoor_x, indoor_y, indoor_z;	/* NAN: unknown */
	double heading_deg, tilt_deg, fov_deg;	/* NAN: unknown */
};

/* The static metadata: suep, loci, the sidecar. NULL strings are empty. */
struct eff_info {
	const char *camera_name, *camera_url, *camera_mac, *camera_line;
	const char *mic_name, *mic_url, *mic_mac;	/* audio source; NULL: the camera's */
	struct eff_location location;
	const char *time_zone;		/* IANA name, e.g. "Europe/Paris" */
	const char *unit_name, *unit_url, *unit_mac;	/* the exporting gateway */
	const char *operator_name;	/* who asked: admin or authority, and why */
	int64_t export_time_us;		/* when the export started */
};

/* The signing key and certificates: borrowed for the call, never copied. */
struct eff_signer {
	EVP_PKEY *key;			/* RSA, >= 2048 bits */
	X509 *cert;			/* its certificate, into 'cert' */
	STACK_OF(X509) *chain;		/* intermediates (may be NULL), into the chain box */
	const char *auib;		/* AdditionalUserInformation, or NULL */
};

struct eff_request {
	const char *const *segments;	/* recorded segment files, in time order */
	int nsegments;
	int64_t from_us, to_us;		/* [from, to), wall clock */
	unsigned keep;			/* EFF_KEEP_* */
	const struct eff_event *events;	/* in time order; only those in [from, to) are kept */
	int nevents;
	const struct eff_info *info;
	const struct eff_signer *signer;
	const char *out_path;
	const char *sidecar_path;	/* NULL: no sidecar */
	/* Called between fragments: bytes of recorded fragments done / to do. */
	void (*progress)(void *arg, uint64_t done, uint64_t total);
	void *progress_arg;
	atomic_bool *cancel;		/* set by another thread; NULL: none */
};

struct eff_gap {
	int64_t from_us, to_us;		/* last sample's end, next sample's start */
};

struct eff_track_summary {
	uint32_t track_id;
	unsigned kind;			/* EFF_KEEP_VIDEO, _AUDIO, _METADATA or _EVENTS */
	enum mp4_codec codec;		/* MP4_CODEC_ONVIF_META for events */
	uint32_t timescale;
	uint16_t width, height, channels;
	uint32_t sample_rate;
	uint64_t samples, bytes;
	uint64_t duration;		/* in timescale units, gaps included */
};

struct eff_result {
	bool cancelled;
	char error[256];
	uint64_t file_size;
	uint8_t sha256[32];		/* of the finished file, signature included */
	char sha256_hex[65];
	int64_t start_us, end_us;	/* first exported sample, end of the last */
	int ntracks;
	struct eff_track_summary track[MP4_MAX_TRACKS];
	int ngaps;			/* found; the first EFF_MAX_GAPS are listed */
	struct eff_gap gaps[EFF_MAX_GAPS];
	int nevents;			/* events written */
	uint32_t fragments;
};

/* Writes the export (and the sidecar). */
int eff_export(const struct eff_request *rq, struct eff_result *res);

/*
 * Appends |signer|'s signature as a further sinf at the end of ipro of
 * the export at |in_path| and writes the result to |out_path| (may be the
 * same path; written to a temporary name and renamed). The earlier
 * signatures stay valid: each covers the file as it was when it signed.
 */
int eff_countersign(const char *in_path, const char *out_path, const struct eff_signer *signer,
    char *err, size_t errlen);

/* The sidecar alone, from a finished export's result (eff_export calls it). */
int eff_write_sidecar(const char *path, const char *export_path, const struct eff_request *rq,
    const struct eff_result *res, char *err, size_t errlen);

#endif
