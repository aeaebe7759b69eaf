/*
 * sdp.h - Session Description Protocol (RFC 4566): a bounded parser for the
 * SDP of DESCRIBE answers (from cameras, for the RTSP source adapter), the
 * builder of our own DESCRIBE answers, and the fmtp helpers of the payload
 * formats we relay: H.264 (RFC 6184), H.265 (RFC 7798) and AAC
 * mpeg4-generic (RFC 3640).
 *
 * Return convention (proto/proto.h):
 *   sdp_parse() and the *_parse() helpers   0, or PROTO_EBADMSG (syntax,
 *       a number out of range, a repeated rtpmap/fmtp/control or fmtp key),
 *       PROTO_ETOOBIG (a limit below, or |max_size|), PROTO_EVERSION (v= not 0),
 *       PROTO_EUNSUPPORTED (well formed but not something we can use)
 *   builders and *_format()                 bytes written (NUL not counted;
 *       the output is NUL-terminated), PROTO_ETOOBIG, or PROTO_EBADMSG when
 *       a caller string would break a line (CR, LF, control characters)
 *
 * Ownership: every struct proto_str in struct sdp points into the buffer
 * given to sdp_parse(); keep it unchanged while the struct is used. The
 * parameter-set and config bytes of the fmtp helpers are copied into the
 * structs. Nothing here allocates; struct sdp is about 20 KB, so callers
 * allocate it rather than put it on a small stack.
 */
#ifndef PROTO_SDP_H
#define PROTO_SDP_H

#include "proto.h"

#define SDP_MAX_MEDIA		8	/* m= sections */
#define SDP_MAX_FMTS		16	/* payload types of one m= line (also rtpmap/fmtp) */
#define SDP_MAX_ATTRS		32	/* a= lines at the session level or in one media */
#define SDP_MAX_LINE		2048	/* one line */
#define SDP_PS_MAX		512	/* one H.264/H.265 parameter set, decoded */
#define SDP_AAC_CONFIG_MAX	64	/* AudioSpecificConfig bytes */

enum sdp_dir {
	SDP_DIR_NONE,			/* not stated (sendrecv implied) */
	SDP_SENDRECV,
	SDP_SENDONLY,
	SDP_RECVONLY,
	SDP_INACTIVE,
};

struct sdp_attr {
	struct proto_str name;
	struct proto_str value;		/* after ':'; empty for a flag */
	bool has_value;
};

struct sdp_conn {
	bool present;
	bool ip6;
	struct proto_str addr;
	int ttl;			/* IP4 multicast "/ttl"; -1 when absent */
	unsigned naddr;			/* "/number of addresses"; 1 when absent */
};

struct sdp_rtpmap {
	int pt;
	struct proto_str encoding;	/* "H264", "mpeg4-generic", "vnd.onvif.metadata" */
	uint32_t clock_rate;
	unsigned channels;		/* 0 when absent */
};

struct sdp_fmtp {
	int pt;
	struct proto_str params;	/* "packetization-mode=1;profile-level-id=..." */
};

struct sdp_media {
	struct proto_str type;		/* video, audio, application, ... */
	uint16_t port;
	uint16_t nports;		/* "port/n"; 1 when absent */
	struct proto_str proto;		/* RTP/AVP, RTP/AVP/TCP, ... */
	bool rtp;			/* an RTP profile: formats are payload types */
	int fmts[SDP_MAX_FMTS];
	int nfmts;
	struct sdp_rtpmap rtpmap[SDP_MAX_FMTS];
	int nrtpmap;
	struct sdp_fmtp fmtp[SDP_MAX_FMTS];
	int nfmtp;
	struct proto_str control;	/* a=control: */
	struct proto_str onvif_track;	/* a=x-onvif-track: (replay) */
	uint32_t framerate_milli;	/* a=framerate:29.97 -> 29970; 0 when absent */
	enum sdp_dir dir;
	struct sdp_conn conn;		/* media-level c= */
	struct sdp_attr attrs[SDP_MAX_ATTRS];	/* every a= line, in order */
	int nattrs;
};

struct sdp {
	struct proto_str origin;	/* o= line value, raw */
	struct proto_str session_name;
	struct sdp_conn conn;
	struct proto_str control;	/* session-level a=control: (often "*") */
	struct proto_str range;		/* session-level a=range: */
	enum sdp_dir dir;
	struct sdp_attr attrs[SDP_MAX_ATTRS];
	int nattrs;
	struct sdp_media media[SDP_MAX_MEDIA];
	int nmedia;
};

/* Parses a whole SDP body of at most |max_size| bytes. Lines end with
 * CRLF or LF; the first must be v=0. Lines of unknown types are skipped. */
int sdp_parse(const char *buf, size_t len, size_t max_size, struct sdp *out);

const struct sdp_rtpmap *sdp_media_rtpmap(const struct sdp_media *m, int pt);
/* The fmtp parameters of |pt|; false when there is no a=fmtp for it. */
bool sdp_media_fmtp(const struct sdp_media *m, int pt, struct proto_str *params);
/* The first a=<name> of the media, or NULL. */
const struct sdp_attr *sdp_media_attr(const struct sdp_media *m, const char *name);
/*
 * Value of |key| (ASCII case-insensitive) in fmtp parameters
 * "k1=v1; k2=v2". Returns 1 when found (value trimmed), 0 when absent,
 * PROTO_EBADMSG when the key is there twice.
 */
int sdp_fmtp_get(struct proto_str params, const char *key, struct proto_str *value);

/* --- builder of our DESCRIBE answers --------------------------------- */

struct sdp_build_media {
	const char *type;		/* "video", "audio", "application" */
	uint16_t port;			/* 0 for unicast; the group's port for multicast */
	int pt;				/* 0..127 */
	const char *encoding;		/* rtpmap encoding name */
	uint32_t clock_rate;
	unsigned channels;		/* 0: not written */
	const char *fmtp;		/* parameters after "a=fmtp:<pt> ", or NULL */
	unsigned track;			/* a=control:trackID=<track> */
	uint32_t framerate_milli;	/* 0: no a=framerate */
	enum sdp_dir dir;		/* SDP_DIR_NONE: not written */
	const char *onvif_track;	/* replay: a=x-onvif-track:<TrackReference>; NULL: none */
};

struct sdp_build {
	uint64_t session_id, session_version;	/* o= */
	const char *origin_addr;	/* o= address; NULL: "0.0.0.0" */
	const char *session_name;	/* s=; NULL or "": "-" */
	const char *multicast_addr;	/* NULL: c=IN IP4 0.0.0.0 */
	unsigned ttl;			/* with multicast_addr (IPv4), 1..255 */
	const char *range;		/* a=range: value; NULL: "npt=now-" */
	const struct sdp_build_media *media;
	int nmedia;			/* 1..SDP_MAX_MEDIA */
};

/*
 * v=0, o=, s=, c=, t=0 0, a=control:*, a=range:, then per media an m=
 * line, ALWAYS an a=rtpmap (media-stream-library stops at the first media
 * without one, static payload types included), a=fmtp, a=framerate, the
 * direction, a=x-onvif-track (replay) and a=control:trackID=N. Lines end
 * with CRLF.
 */
int sdp_build(const struct sdp_build *b, char *out, size_t outlen);

/* --- H.264 (RFC 6184) --------------------------------------------------- */

struct sdp_h264 {
	int packetization_mode;		/* 0 when absent */
	bool has_profile_level_id;
	uint8_t profile_idc, profile_iop, level_idc;
	uint8_t sps[SDP_PS_MAX];	/* first SPS of sprop-parameter-sets */
	size_t sps_len;
	uint8_t pps[SDP_PS_MAX];	/* first PPS */
	size_t pps_len;
};

int sdp_h264_fmtp_parse(struct proto_str params, struct sdp_h264 *out);
/* "packetization-mode=1;profile-level-id=XXXXXX;sprop-parameter-sets=S,P"
 * (profile-level-id from SPS bytes 1..3). The SPS and PPS are NAL units
 * without start code; their type is checked. */
int sdp_h264_fmtp_format(const uint8_t *sps, size_t sps_len, const uint8_t *pps, size_t pps_len,
    char *out, size_t outlen);

/* --- H.265 (RFC 7798) --------------------------------------------------- */

struct sdp_h265 {
	uint8_t vps[SDP_PS_MAX];
	size_t vps_len;
	uint8_t sps[SDP_PS_MAX];
	size_t sps_len;
	uint8_t pps[SDP_PS_MAX];
	size_t pps_len;
	unsigned max_don_diff;		/* sprop-max-don-diff; depay needs 0 */
};

int sdp_h265_fmtp_parse(struct proto_str params, struct sdp_h265 *out);
/* "sprop-vps=V;sprop-sps=S;sprop-pps=P" */
int sdp_h265_fmtp_format(const uint8_t *vps, size_t vps_len, const uint8_t *sps, size_t sps_len,
    const uint8_t *pps, size_t pps_len, char *out, size_t outlen);

/* --- AAC, mpeg4-generic (RFC 3640) and AudioSpecificConfig (ISO 14496-3) -- */

struct sdp_aac_asc {
	int object_type;		/* 2: AAC LC */
	int freq_index;			/* 15: explicit 24-bit rate */
	uint32_t sample_rate;
	int channel_config;
	bool frame_length_960;		/* GASpecificConfig frameLengthFlag */
	bool has_sync_ext;		/* the 0x2b7 sync extension was present */
	int ext_object_type;		/* 5 (SBR) or 0 */
	bool sbr_present;
	uint32_t ext_sample_rate;	/* with SBR */
};

enum sdp_aac_mode {
	SDP_AAC_HBR,
	SDP_AAC_LBR,
	SDP_AAC_OTHER,
};

struct sdp_aac {
	enum sdp_aac_mode mode;
	int sizelength, indexlength, indexdeltalength;	/* 0 when absent */
	uint8_t config[SDP_AAC_CONFIG_MAX];
	size_t config_len;
	struct sdp_aac_asc asc;		/* parsed from config */
};

/* Object type, sampling rate (index or explicit), channels, and the
 * 0x2b7 SBR sync extension of FFmpeg's 5-byte configs. */
int sdp_aac_asc_parse(const uint8_t *cfg, size_t len, struct sdp_aac_asc *out);
/* A 2-byte AudioSpecificConfig for |object_type| (< 31), a tabled rate and
 * channel configuration 1..7; PROTO_EUNSUPPORTED otherwise. Returns 2. */
int sdp_aac_asc_build(int object_type, uint32_t sample_rate, int channels, uint8_t out[2]);
/* mode, sizelength/indexlength/indexdeltalength (bits 0..16) and config=. */
int sdp_aac_fmtp_parse(struct proto_str params, struct sdp_aac *out);
/* "streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;
 * indexdeltalength=3;config=<hex>" */
int sdp_aac_fmtp_format(const uint8_t *asc, size_t len, char *out, size_t outlen);

#endif
