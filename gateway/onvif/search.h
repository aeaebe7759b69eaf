/*
 * search.h - what the Recording Search (search.c, search_session.c,
 * search_events.c), Replay (replay.c) and the recordings view
 * (recordings.c) share, and the store of camera events (evstore.c).
 *
 * A principal's recordings: one per camera of its view that its levels
 * let it replay (1V, 1M) and that is recorded or has footage, named
 * rec-<camera id>. A camera it may not replay, or that does not exist,
 * is not a recording at all: the same answer for both. Every time handed
 * out is cut to the grant's footage window and to now.
 *
 * Threads: I/O thread. Return convention: gateway/ (see gw.h).
 */
#ifndef GW_ONVIF_SEARCH_H
#define GW_ONVIF_SEARCH_H

#include "gateway/loop.h"
#include "onvif.h"

struct ev_msg;

/* --- the recordings of a principal (recordings.c) ------------------------------------- */

#define REC_MAX_TRACKS 4
#define REC_TOKEN_LEN 32

enum rec_track_type {
	RT_VIDEO,
	RT_AUDIO,
	RT_METADATA,
};

struct rec_track {
	enum rec_track_type type;
	char token[16];			/* VIDEO001, AUDIO001, METADATA001 */
	char encoding[16];		/* H264, H265, JPEG; AAC, G711; "" for metadata */
	int width, height;		/* 0 when unknown */
	double fps;			/* 0 when unknown */
	int sample_rate;		/* audio */
};

struct recording {
	const struct view_cam *vc;	/* in the view it was made from */
	char token[REC_TOKEN_LEN];	/* rec-<camera id> */
	bool recorded;			/* the camera is set to record now */
	bool has_data;			/* footage inside the grant's footage window */
	int64_t from_us, to_us;		/* that footage, cut to the window (when has_data) */
	struct rec_track tracks[REC_MAX_TRACKS];	/* those the principal's levels show */
	int ntracks;
};

/*
 * The footage window of the view's grant, now: [*lo_us, *hi_us], never
 * after now. false when it is empty (it begins in the future).
 */
bool rec_window(const struct onvif_view *v, int64_t *lo_us, int64_t *hi_us);
void rec_token(int64_t camera_id, char *out, size_t outlen);
/* The camera of a recording token; false if it is not one of ours. */
bool rec_parse_token(const char *token, int64_t *camera_id);
/* The recording of a camera of the view; false when it is not one for this principal. */
bool rec_of(const struct onvif_view *v, const struct view_cam *vc, struct recording *out);
/* The same by token. */
bool rec_find(const struct onvif_view *v, const char *token, struct recording *out);
/* Every recording of the principal, sorted by camera id, into a malloc'ed array. */
int rec_list(const struct onvif_view *v, struct recording **out);
/* The first track's token (what a recording-wide event names), "" when none. */
const char *rec_main_track(const struct recording *rec);
/* tt:RecordingInformation (or |tag|) of one recording. */
void rec_write_information(struct xmlw *w, const char *tag, const struct onvif_req *r,
    const struct recording *rec);
/* tt:TrackAttributes of the recording's tracks at a segment that holds |bytes| over [from, to]. */
void rec_write_track_attributes(struct xmlw *w, const struct recording *rec, int64_t from_us,
    int64_t to_us, uint64_t bytes);

/* --- search sessions (search_session.c) -------------------------------------------------- */

enum search_kind {
	SEARCH_RECORDINGS,		/* FindRecordings */
	SEARCH_EVENTS,			/* FindEvents */
};

/* One result, rendered at search time, checked again against the policy when handed out. */
struct search_result {
	int64_t camera_id;
	unsigned need_caps;		/* CAP_* the principal must still have */
	char *xml;			/* tt:RecordingInformation or tt:Result; owned */
};

struct search;

/* What a kind of search does for the session (search_events.c for events). */
struct search_ops {
	/* Find more results, if the search still may (from the session's wants). */
	void (*pump)(struct search *s);
	/* The session ends: cancel what is in flight, free the kind's state. */
	void (*release)(struct search *s);
};

#define SEARCH_MAGIC 0x73726368U	/* "srch" */

struct search {
	uint32_t magic;
	char token[48];
	enum search_kind kind;
	struct gw_principal principal;
	bool tls;
	int64_t keepalive_us;
	int64_t expires_us;		/* monotonic: after this with nothing parked, it ends */
	struct search_result *res;	/* results not yet handed out, from res[head] */
	int head, count, cap;
	int64_t matches, max_matches;	/* results found so far, and where the search stops */
	bool exhausted;			/* no more results will come */
	int64_t start_us, end_us;	/* FindEvents: StartPoint and EndPoint as asked (EndSearch) */
	int64_t reached_us;		/* how far the search got on the timeline */
	struct onvif_req *parked;	/* a Get*Results waiting for results */
	int parked_min, parked_max;
	int64_t parked_deadline_us;	/* monotonic */
	struct loop_deferred answer;
	const struct search_ops *ops;
	void *kind_state;		/* the kind's own (owned through ops->release) */
	TAILQ_ENTRY(search) link;
};

/*
 * A new session for |r|'s principal, or NULL with |why| when the limits
 * of [onvif] max_searches(_per_principal) are reached. |keepalive_us| is
 * adapted to what the gateway supports; |max_matches| 0: no limit of the
 * client's (the gateway's own [onvif] search_max_matches still applies).
 */
struct search *search_new(const struct onvif_req *r, enum search_kind kind, int64_t keepalive_us,
    int64_t max_matches, const struct search_ops *ops, const char **why);
/* The session of this token owned by r's principal, of |kind|; NULL (both kinds: kind < 0). */
struct search *search_find(const struct onvif_req *r, const char *token, int kind);
/* Add a result (takes |xml|). false once MaxMatches is reached: the search is then exhausted. */
bool search_add(struct search *s, int64_t camera_id, unsigned need_caps, char *xml);
/* How many results a waiting request (or the next one) would like buffered. */
int search_wanted(const struct search *s);
/* Results were added, or the search is exhausted: answer a waiting request if it may go now. */
void search_progress(struct search *s);
/* End a session now (EndSearch, expiry, the grant gone, shutdown). Frees it. */
void search_end(struct search *s, const char *reason);
/* The session's search state as ONVIF names it. */
const char *search_state_name(const struct search *s);

/* The Get*Results operations (search.c routes them here). */
void search_get_results(struct onvif_req *r, enum search_kind kind);
void search_get_state(struct onvif_req *r);
void search_end_op(struct onvif_req *r);

int onvif_search_init(void) GW_MUSTCHECK;
void onvif_search_shutdown(void);

/*
 * The scope of a Find: the recordings of the principal that its
 * IncludedSources, IncludedRecordings and RecordingInformationFilter
 * select (sorted by camera id, malloc'ed). false after a fault.
 */
bool search_scope(struct onvif_req *r, const struct onvif_view *v, struct recording **out, int *n);

#define DIALECT_SEARCH_FILTER "http://www.onvif.org/ver10/tse/searchFilter"

struct sf_filter;
/* The XPath dialect of the search (proto/searchfilter.h) within the service's limits. */
int search_filter_parse(const char *text, struct sf_filter **out, const char **why);
/* Does |f| hold on the first element of |xml| (our markup, with tt:, tns1:, wsnt: prefixes)? */
bool search_filter_match_xml(const struct sf_filter *f, const char *xml);
/* KeepAliveTime and MaxMatches (0: none) of a Find; false after a fault. */
bool search_find_args(struct onvif_req *r, int64_t *keepalive_us, int64_t *max_matches);
/* Answer a Find with <resp><tse:SearchToken>. */
void search_reply_token(struct onvif_req *r, const char *resp, const struct search *s);

/* --- FindEvents (search_events.c) ---------------------------------------------------------- */

void search_find_events(struct onvif_req *r);

/* --- camera events kept for FindEvents (evstore.c) ------------------------------------------ */

/* An event the events service published: kept when it concerns a recorded camera. */
void evstore_note(const struct ev_msg *m);
/* Are camera events being kept at all (some camera is recorded)? */
bool evstore_active(void);
int evstore_init(void) GW_MUSTCHECK;
void evstore_shutdown(void);	/* writes what is pending (before db_shutdown) */

#endif
