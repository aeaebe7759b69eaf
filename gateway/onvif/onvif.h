/*
 * onvif.h - the ONVIF web services (IEC 62676-2-31) for authority clients:
 * what the files of gateway/onvif/ share.
 *
 * A SOAP request goes: HTTP POST -> soap_parse (proto/soap) -> operation
 * lookup by the body element's namespace and name -> authentication
 * (WS-UsernameToken or HTTP credentials, gateway/authn.c) -> the operation's
 * handler, which builds the per-principal view (view.c) and answers with
 * onvif_reply() or onvif_fault(), now or later (a parked PullMessages, a
 * database write).
 *
 * Ownership: struct onvif_req is owned by this module from the POST that
 * made it until onvif_reply() or onvif_fault(), which answer the HTTP
 * request and free both. A handler calls exactly one of them, or hands the
 * request on (a parked PullMessages, a database write) to code that will.
 *
 * Return convention: gateway/ (0/-1, bool), see gw.h.
 */
#ifndef GW_ONVIF_H
#define GW_ONVIF_H

#include "gateway/gw.h"
#include "gateway/model.h"
#include "gateway/policy.h"
#include "proto/soap.h"
#include "proto/xmlw.h"

struct http_request;

/* Namespaces, with the prefixes every response declares on its Envelope. */
#define NS_TT    "http://www.onvif.org/ver10/schema"
#define NS_TDS   "http://www.onvif.org/ver10/device/wsdl"
#define NS_TRT   "http://www.onvif.org/ver10/media/wsdl"
#define NS_TR2   "http://www.onvif.org/ver20/media/wsdl"
#define NS_TMD   "http://www.onvif.org/ver10/deviceIO/wsdl"
#define NS_TIMG  "http://www.onvif.org/ver20/imaging/wsdl"
#define NS_TEV   "http://www.onvif.org/ver10/events/wsdl"
#define NS_TSE   "http://www.onvif.org/ver10/search/wsdl"
#define NS_TRP   "http://www.onvif.org/ver10/replay/wsdl"
#define NS_TRC   "http://www.onvif.org/ver10/recording/wsdl"
#define NS_WSNT  "http://docs.oasis-open.org/wsn/b-2"
#define NS_TNS1  "http://www.onvif.org/ver10/topics"
#define NS_TER   "http://www.onvif.org/ver10/error"
#define NS_DN    "http://www.onvif.org/ver10/network/wsdl"

/* --- requests ---------------------------------------------------------------- */

enum onvif_service {
	SVC_DEVICE,
	SVC_MEDIA1,
	SVC_MEDIA2,
	SVC_DEVICEIO,
	SVC_IMAGING,
	SVC_EVENTS,
	SVC_RECORDING,			/* Recording Control: the export operations (recording.c) */
	SVC_PULLPOINT,			/* /onvif/events_service/pullpoint/<id> */
	SVC_SEARCH,
	SVC_REPLAY,
	SVC_COUNT,
};

#define ONVIF_REQ_MAGIC 0x6f6e7672U	/* "onvr" */

struct onvif_op;
struct onvif_view;
struct authority_store;

struct onvif_req {
	uint32_t magic;
	struct http_request *http;
	struct soap_msg msg;
	enum onvif_service path_svc;	/* the service whose address was posted to */
	const struct onvif_op *op;
	bool authenticated;
	bool quiet;			/* its fault is logged elsewhere (or counted): not again */
	struct gw_principal principal;	/* valid when authenticated */
	bool tls;			/* came over a TLS listener */
	char scheme[8];			/* "http" or "https" */
	char host[272];			/* for URLs: "gw.example", "10.0.0.1", "[::1]" */
	int port;			/* the port the request came in on */
	char subscription[40];		/* SVC_PULLPOINT: the id in the path */
	char ident[200];		/* log prefix: connection, principal */
	struct xmlw out;			/* the body of the response (inside env:Body) */
	const char *reply_action;	/* wsa:Action of the response, or NULL */
	void *data;			/* the handler's state while the request is parked */
	int arg;			/* a small argument of the handler (a configuration kind) */
	void (*cont)(struct onvif_req *r, struct onvif_view *v, struct authority_store *st);
};

#define OP_PRE_AUTH 0x01		/* ONVIF PRE_AUTH: answered without credentials */
#define OP_WRITES   0x02		/* changes the authority's store: refused while it cannot be read */

struct onvif_op {
	const char *name;
	void (*fn)(struct onvif_req *r);
	unsigned flags;
};

struct onvif_service_ops {
	const char *ns;
	const struct onvif_op *ops;
	size_t nops;
};

/* Each service file exports its table. */
extern const struct onvif_service_ops onvif_device_ops, onvif_media1_ops, onvif_media2_ops,
    onvif_deviceio_ops, onvif_imaging_ops, onvif_events_ops, onvif_pullpoint_ops,
    onvif_notification_ops, onvif_search_ops, onvif_replay_ops,
    onvif_recording_ops;

/* Answer with r->out as the body (200). Frees |r|. */
void onvif_reply(struct onvif_req *r);

/*
 * Answer with a SOAP fault: |code| "env:Sender" or "env:Receiver", then up
 * to two ter: subcodes (NULL to stop), and a reason in plain words (no
 * secrets). HTTP status: 400 for Sender, 500 for Receiver, unless |status|
 * is non-zero. Logs one line. Frees |r|.
 */
void onvif_fault(struct onvif_req *r, int status, const char *code, const char *sub1,
    const char *sub2, const char *reason);

/* The same with an env:Detail (markup written by our own code). */
void onvif_fault_detail(struct onvif_req *r, int status, const char *code, const char *sub1,
    const char *sub2, const char *reason, const struct xmlw *detail);

/* Shorthands for the common faults. */
void onvif_fault_arg(struct onvif_req *r, const char *sub2, const char *reason);	/* Sender/InvalidArgVal/sub2 */
void onvif_fault_not_authorized(struct onvif_req *r, const char *why);
void onvif_fault_not_supported(struct onvif_req *r, const char *what);

/* Base URL of this request's service endpoint: "http://host:port". */
void onvif_base_url(const struct onvif_req *r, char *out, size_t outlen);
/* Host part for URLs handed out: [api] public_host, else the one the request used. */
const char *onvif_public_host(const struct onvif_req *r);

/*
 * Build the principal's view and fetch its authority's store, then call
 * |cont| (now, or when the store is loaded). |cont| must answer |r| or hand
 * it on; the view is freed when |cont| returns.
 */
void onvif_with_view(struct onvif_req *r,
    void (*cont)(struct onvif_req *r, struct onvif_view *v, struct authority_store *st));

/* The first element child of the operation with this local name (any namespace). */
xmlNode *onvif_arg(const struct onvif_req *r, const char *name);
/* Its text; false if absent or too long. */
bool onvif_arg_text(const struct onvif_req *r, const char *name, char *out, size_t outlen);

/* The wall clock as xs:dateTime. */
void onvif_now(char *out, size_t outlen);

/* --- the per-principal view (view.c) ------------------------------------------- */

/* What is known of a camera's stream (from the hub, or remembered). */
struct cam_media {
	bool known;			/* described by a running source at least once */
	char video[16];			/* "H264", "H265", "JPEG"; "" when there is no video */
	int width, height;		/* 0 when unknown */
	uint8_t profile_idc;		/* of the video (H.264: 66 Baseline, 77 Main, 100 High); 0: unknown */
	double fps;			/* signalled by the video; 0: not said */
	char audio[16];			/* "PCMU", "PCMA", "AAC"; "" when none or unknown */
	int audio_rate, audio_channels;
	bool metadata;
	bool online;
	int readers;
	double bitrate_bps;
};

struct view_cam {
	const struct model_camera *cam;	/* in view->model */
	unsigned caps;			/* enum policy_cap bits */
	struct cam_media media;
};

struct onvif_view {
	struct gw_model *model;		/* a reference, dropped by view_free */
	const struct model_grant *grant;
	struct view_cam *cams;		/* sorted by camera id */
	int ncams;
};

/* The cameras |p| may list now, each with what its grant permits on it. */
int view_build(const struct gw_principal *p, struct onvif_view *v) GW_MUSTCHECK;
void view_free(struct onvif_view *v);
const struct view_cam *view_find(const struct onvif_view *v, int64_t camera_id);
/* Capabilities (policy_caps()) of the principal's grant (0 when the grant is gone). */
unsigned view_caps(const struct onvif_view *v);
/* What the hub knows of the camera's stream, or what we remember of it. */
void view_camera_media(int64_t camera_id, struct cam_media *out);
/* The size of a picture decoded from the camera (its SDP may not say it). */
void view_note_picture(int64_t camera_id, int width, int height);
/* Forget remembered stream descriptions (shutdown). */
void view_forget_media(void);
/* Read the descriptions kept in camera_media (start-up; the answer arrives later). */
void view_load_media(void);

/* Configuration kinds, in the order of tr2:ConfigurationSet. */
enum cfg_kind {
	CFG_VIDEO_SOURCE,
	CFG_AUDIO_SOURCE,
	CFG_VIDEO_ENCODER,
	CFG_AUDIO_ENCODER,
	CFG_METADATA,
	CFG_KIND_COUNT,
};
#define CFG_BIT(k) (1u << (k))
#define CFG_ALL ((1u << CFG_KIND_COUNT) - 1)

/* Tokens derived from camera ids. */
enum tok_kind {
	TOK_PROFILE,			/* cam<id> */
	TOK_META_PROFILE,		/* cam<id>_meta */
	TOK_VIDEO_SOURCE,		/* vs<id> */
	TOK_AUDIO_SOURCE,		/* as<id> */
	TOK_CFG,			/* a configuration token; kind in *cfg */
};

void view_cfg_token(enum cfg_kind k, int64_t camera_id, char *out, size_t outlen);
void view_token(enum tok_kind k, int64_t camera_id, char *out, size_t outlen);
/* Parse any derived token; false if it is not one of ours. */
bool view_parse_token(const char *tok, enum tok_kind *kind, enum cfg_kind *cfg, int64_t *camera_id);
/* Which configurations the principal may see of this camera. */
unsigned view_cfgs_allowed(const struct view_cam *vc);
const char *onvif_cfg_kind_name(enum cfg_kind k);	/* "VideoSource", ... */
int onvif_cfg_kind_parse(const char *name);		/* -1 if not one we have */

/* A media profile as the principal sees it. */
struct onvif_profile {
	char token[48];
	char name[72];
	bool fixed;
	int64_t camera_id;		/* 0: no configurations */
	unsigned cfgs;			/* CFG_BIT()s, already cut to what the principal may see */
};

struct authority_store;

/*
 * The principal's profiles: fixed ones first (cam<id>, cam<id>_meta), then
 * the authority's own from |st| (may be NULL). The array is malloc'ed.
 */
int view_profiles(const struct onvif_view *v, const struct authority_store *st,
    struct onvif_profile **out);
struct store_profile;
/* The authority's profile |token| if this principal may see it (see view.c), else NULL. */
const struct store_profile *view_store_profile(const struct onvif_view *v,
    const struct authority_store *st, const char *token);
bool view_sees_profile(const struct onvif_view *v, const struct store_profile *sp);
/* One profile by token, or false. */
bool view_profile(const struct onvif_view *v, const struct authority_store *st, const char *token,
    struct onvif_profile *out);

/* --- the per-authority store (store.c) ----------------------------------------- */

struct store_profile {
	char token[24];			/* p + 16 hex */
	char name[72];
	int64_t camera_id;		/* 0: none */
	unsigned cfgs;			/* CFG_BIT()s */
};

struct store_item {			/* an OSD or a privacy mask */
	char token[24];			/* osd/mask + 16 hex */
	int64_t camera_id;
	struct json_t *spec;		/* owned (a reference) */
};

struct authority_store {
	int64_t authority_id;
	bool ready;
	struct store_profile *profiles;
	int nprofiles;
	struct store_item *osds;
	int nosds;
	struct store_item *masks;
	int nmasks;
};

int onvif_store_init(void) GW_MUSTCHECK;
void onvif_store_shutdown(void);
/*
 * Call |cb| with the authority's store, loading it first if needed (then
 * |cb| runs later, from a database callback). |error| is set when it
 * cannot be loaded; |st| is then NULL. |st| is only valid during |cb|.
 */
typedef void (*store_cb)(void *arg, struct authority_store *st, const char *error);
void onvif_store_with(int64_t authority_id, store_cb cb, void *arg);

/* Writes: the database first, then the cached copy; |done| gets NULL or an error text. */
typedef void (*store_done)(void *arg, const char *error);
void onvif_store_profile_put(int64_t authority_id, const struct store_profile *p, bool create,
    store_done done, void *arg);
void onvif_store_profile_delete(int64_t authority_id, const char *token, store_done done, void *arg);
enum store_kind { STORE_OSD, STORE_MASK };
void onvif_store_item_put(int64_t authority_id, enum store_kind kind, const char *token,
    int64_t camera_id, struct json_t *spec, bool create, store_done done, void *arg);
void onvif_store_item_delete(int64_t authority_id, enum store_kind kind, const char *token,
    store_done done, void *arg);
const struct store_profile *onvif_store_find_profile(const struct authority_store *st, const char *token);
const struct store_item *onvif_store_find_item(const struct authority_store *st, enum store_kind kind,
    const char *token);
/* A fresh random token with a prefix ("p", "osd", "mask"). */
int onvif_store_new_token(const char *prefix, char *out, size_t outlen) GW_MUSTCHECK;

/* --- events (events.c) --------------------------------------------------------- */

enum ev_topic {
	TOPIC_PROFILE_CHANGED,		/* tns1:Media/ProfileChanged */
	TOPIC_CONFIGURATION_CHANGED,	/* tns1:Media/ConfigurationChanged */
	TOPIC_ACTIVE_CONNECTIONS,	/* tns1:Monitoring/Profile/ActiveConnections */
	TOPIC_SIGNAL_LOSS,		/* tns1:VideoSource/SignalLoss: camera online/offline */
	TOPIC_OPERATION_STATUS,		/* tns1:Monitoring/AsynchronousOperationStatus: exports */
	TOPIC_COUNT,
};

int onvif_events_init(void) GW_MUSTCHECK;
void onvif_events_shutdown(void);
/* An authority changed one of its profiles (created, deleted, configurations). */
void onvif_events_profile_changed(int64_t authority_id, const char *profile_token);
/*
 * The progress of an asynchronous operation of |authority_id| (an
 * ExportRecordedData): only that authority's subscriptions hear it.
 * |initialized| for the first message of the operation; |error| when it
 * failed, else NULL.
 */
void onvif_events_operation_status(int64_t authority_id, const char *token, const char *operation,
    const char *service, double progress, const char *error, bool initialized);
/* A configuration of a camera changed (everyone who sees the camera hears it). */
void onvif_events_configuration_changed(int64_t camera_id, enum cfg_kind kind, const char *token);
/*
 * Which of the topics |paths| (without "tns1:") a wsnt:TopicExpression
 * names, as bits (1 << index of the path); 0 and *fault (a wsnt: fault
 * subcode) for an unknown dialect or an empty expression.
 */
unsigned onvif_topic_filter(const xmlNode *expr, const char *const *paths, int npaths, const char **fault);

/* --- capabilities and identity -------------------------------------------------- */

/* Each service's Capabilities element, for GetServiceCapabilities and GetServices. */
void onvif_caps_device(struct xmlw *w, const struct onvif_req *r);
void onvif_caps_media1(struct xmlw *w, const struct onvif_req *r);
void onvif_caps_media2(struct xmlw *w, const struct onvif_req *r);
void onvif_caps_events(struct xmlw *w, const struct onvif_req *r);
void onvif_caps_deviceio(struct xmlw *w, const struct onvif_req *r);
void onvif_caps_imaging(struct xmlw *w, const struct onvif_req *r);
void onvif_caps_search(struct xmlw *w, const struct onvif_req *r);
void onvif_caps_replay(struct xmlw *w, const struct onvif_req *r);
void onvif_caps_recording(struct xmlw *w, const struct onvif_req *r);
/* recording.c: progress events of the exports asked for over ONVIF. */
void onvif_recording_init(void);

#define ONVIF_SCOPE_MAX 8
#define ONVIF_SCOPE_LEN 320
/* The gateway's scopes (GetScopes, WS-Discovery); returns how many. Never a camera name. */
int onvif_scopes(char scopes[ONVIF_SCOPE_MAX][ONVIF_SCOPE_LEN]);
/* The endpoint reference of this node: "urn:uuid:..." derived from its name (stable). */
void onvif_endpoint(char *out, size_t outlen);

/* --- the rest ---------------------------------------------------------------- */

int onvif_discovery_init(void) GW_MUSTCHECK;
void onvif_discovery_shutdown(void);
int onvif_snapshot_init(void) GW_MUSTCHECK;
void onvif_snapshot_stop(void);		/* answer waiting fetches */
void onvif_snapshot_shutdown(void);		/* free the cache (after the workers stopped) */

/*
 * Shared writers (media_common.c): one configuration or source of a camera
 * as the element |tag| ("tr2:Configurations", "tt:VideoSourceConfiguration",
 * ...), with |use| as its UseCount.
 */
void onvif_write_video_source_cfg(struct xmlw *w, const char *tag, const struct view_cam *vc, int use);
void onvif_write_audio_source_cfg(struct xmlw *w, const char *tag, const struct view_cam *vc, int use);
void onvif_write_video_encoder_cfg(struct xmlw *w, const char *tag, const struct view_cam *vc, int use,
    bool v2);
void onvif_write_audio_encoder_cfg(struct xmlw *w, const char *tag, const struct view_cam *vc, int use,
    bool v2);
void onvif_write_metadata_cfg(struct xmlw *w, const char *tag, const struct view_cam *vc, int use);
void onvif_write_video_source(struct xmlw *w, const char *tag, const struct view_cam *vc);
/* The frame rate the stream signals, whole (0 when it says none). */
int onvif_frame_rate(const struct view_cam *vc);
/* tt:H264Profile of the stream: Baseline (also Constrained Baseline), Main (also unknown), Extended, High. */
const char *onvif_h264_profile(const struct view_cam *vc);
void onvif_write_audio_source(struct xmlw *w, const char *tag, const struct view_cam *vc);
void onvif_write_cfg(struct xmlw *w, enum cfg_kind k, const char *tag, const struct view_cam *vc, int use,
    bool v2);
/* How many of the principal's profiles use configuration |k| of |camera_id|. */
int onvif_use_count(const struct onvif_profile *p, int n, enum cfg_kind k, int64_t camera_id);
/* The transports a stream URI is handed out for. */
enum stream_proto {
	STREAM_RTSP_UDP,		/* RtspUnicast */
	STREAM_RTSP_MULTICAST,		/* RtspMulticast */
	STREAM_RTSP_TCP,		/* RTSP (interleaved) */
	STREAM_RTSP_HTTP,		/* RtspOverHttp: the web-service port */
	STREAM_RTSPS,			/* RtspsUnicast */
};
/* What a URI names: the camera live, or its recording (replay). */
enum stream_target {
	STREAM_LIVE,			/* /cameras/<id> */
	STREAM_REPLAY,			/* /recordings/<id> */
};
/*
 * The RTSP URI of a camera's live stream or recording for a transport, on
 * the host the request used ([api] public_host first); false with |why| if
 * the gateway does not offer it. Live and replay URIs differ in the path only.
 */
bool onvif_stream_uri(const struct onvif_req *r, const struct view_cam *vc, enum stream_target target,
    enum stream_proto proto, char *out, size_t outlen, const char **why);
/* Where RTSP over WebSocket is served, as the request reached us: ws://... or wss://... */
void onvif_websocket_uri(const struct onvif_req *r, char *out, size_t outlen);
void onvif_snapshot_uri(const struct onvif_req *r, const char *profile_token, char *out,
    size_t outlen);

/* Module entry points (main.c). */
int onvif_init(void) GW_MUSTCHECK;
void onvif_stop(void);			/* before db_shutdown() */
void onvif_shutdown(void);		/* after worker_pool_stop() */

#endif
