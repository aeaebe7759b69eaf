/*
 * rtsp.h - the RTSP server (IEC 62676-2-31 / ONVIF Streaming): what its
 * files share. Only rtsp_init()/rtsp_shutdown() are for the rest of the
 * daemon.
 *
 * One RTSP "connection" (struct rtsp_conn) is a request stream in and a
 * response + media stream out. It rides on:
 *   WIRE_TCP        one TCP (or TLS) connection both ways, media interleaved;
 *   WIRE_TUNNEL     RTSP over HTTP: requests in base64 on a POST connection,
 *                   responses and media on the paired GET connection;
 *   WIRE_WEBSOCKET  one WebSocket connection (gateway/ws.h), RTSP and
 *                   interleaved media as a byte stream in binary frames.
 * Media for UDP and multicast sessions goes out of shared UDP sockets
 * (rtsp_out.c, media/mcast.c); their control connection may come and go.
 *
 * A request is dispatched through the method table of rtsp_methods.c
 * ({name, needs authentication, needs a session, handler}); who asks is
 * found by the one authenticator (gateway/authn.h) and what they may do by
 * the one policy entry (model_authorize). The target names a session
 * kind: /cameras/<id> is live; /recordings/<id> is replay (media/replay.h),
 * which is where Require: onvif-replay is accepted.
 *
 * A session (struct rtsp_media_session) is created by the first SETUP,
 * belongs to the principal that authenticated it, and is bound to its
 * connection (interleaved transports) or to its principal and peer
 * address (UDP). Its id is 128 random bits. It plays a media stream
 * (media/stream.h): the writers read the stream's frame queue and never
 * see where the frames come from.
 *
 * Files: rtsp_server.c (connections, parsing, responses), rtsp_methods.c
 * (the method table, the methods, SDP), rtsp_session.c (sessions,
 * keep-alive, RTCP, the registry), rtsp_out.c (writers, UDP),
 * rtsp_tunnel.c (the HTTP tunnel and RTSP over WebSocket).
 */
#ifndef GW_RTSP_H
#define GW_RTSP_H

#include "gateway/gw.h"
#include "gateway/authn.h"
#include "gateway/model.h"
#include "gateway/ws.h"
#include "gateway/media/replay.h"
#include "gateway/media/stream.h"
#include "proto/base64.h"
#include "proto/msg.h"

#include <sys/socket.h>

#define RTSP_CONN_MAGIC 0x7274636eU	/* "rtcn" */
#define RTSP_SESSION_MAGIC 0x72747373U	/* "rtss" */
#define RTSP_SESSION_ID_LEN 32		/* hex digits of 128 random bits */
#define RTSP_MAX_BODY 4096
#define RTSP_SR_INTERVAL_US 5000000

struct gw_conn;
struct gw_session;
struct rtsp_media_session;
struct mcast_group;
struct source_wait;
struct replay_wait;

enum rtsp_wire {
	WIRE_TCP,
	WIRE_TUNNEL,
	WIRE_WEBSOCKET,
};

/* Where a request is in its life; one at a time per connection. */
enum rtsp_req_state {
	REQ_IDLE,			/* waiting for a request */
	REQ_WAITING,			/* an asynchronous method: DESCRIBE/SETUP wait for the
					 * source's tracks or the recording's description, a
					 * replay PLAY for its start point */
};

/* What a request's URL names. */
enum rtsp_session_kind {
	RSK_LIVE,			/* /cameras/<id>: the live relay */
	RSK_REPLAY,			/* /recordings/<id>[?start=<clock>&end=<clock>]: the recorder's store */
	RSK_COUNT,
};

struct rtsp_target {
	enum rtsp_session_kind kind;
	int64_t camera_id;
	int track;			/* -1: the aggregate */
	bool has_start, has_end;	/* replay: the URL's start= and end= */
	int64_t start_us, end_us;
};

/* The request being handled (copied out of the input buffer). */
struct rtsp_request {
	char method[16];
	char url[512];			/* as sent, without any user:pass@ */
	int64_t cseq;
	char session_id[RTSP_SESSION_ID_LEN + 1];
	bool has_session;
	char *headers;			/* the whole head, NUL-terminated, for lookups */
	struct msg msg;			/* points into |headers| */
	void *pending;			/* what an asynchronous method keeps; freed with the request */
};

struct rtsp_conn {
	uint32_t magic;
	enum rtsp_wire wire;
	struct gw_conn *conn;		/* responses and media go here */
	struct gw_conn *post_conn;	/* WIRE_TUNNEL: requests come from here */
	struct evbuffer *in;		/* request bytes to parse: TCP conn->in; else owned, NULL when empty */
	struct msg_parser parser;
	enum rtsp_req_state req_state;
	struct rtsp_request *req;	/* while REQ_WAITING */
	struct source_wait *wait;	/* one of these three while REQ_WAITING */
	struct replay_wait *rwait;
	bool seek_wait;			/* a replay PLAY waits for its session's stream */
	struct rtsp_media_session *session;	/* the session bound to this connection */
	struct authn_conn authn;
	struct ws ws;			/* WIRE_WEBSOCKET */
	/* WIRE_TUNNEL */
	bool had_post;			/* a POST side was attached once: no other ever is */
	char cookie[65];
	struct base64_dec b64;
	TAILQ_ENTRY(rtsp_conn) tunnel_link;
};

enum rtsp_transport_kind {
	RT_NONE,
	RT_INTERLEAVED,
	RT_UDP,
	RT_MULTICAST,
};

struct rtsp_track_setup {
	enum rtsp_transport_kind kind;
	uint8_t channel;		/* RT_INTERLEAVED: RTP channel (RTCP is +1) */
	struct sockaddr_storage rtp_to;	/* RT_UDP */
	struct sockaddr_storage rtcp_to;
	socklen_t addr_len;
};

enum rtsp_session_state {
	RS_READY,			/* set up, not playing */
	RS_PLAYING,
};

struct rtsp_media_session {
	uint32_t magic;
	char id[RTSP_SESSION_ID_LEN + 1];
	enum rtsp_session_kind kind;
	enum rtsp_session_state state;
	struct rtsp_conn *rc;		/* bound connection; NULL for a UDP session left by it */
	struct gw_principal principal;
	struct sockaddr_storage peer;	/* address of the client that set it up */
	char peer_str[64];
	int64_t camera_id;
	struct media_stream *stream;	/* what it plays; owned */
	struct gw_session *gs;		/* the registry's view, from the first PLAY */
	struct rtsp_track_setup tracks[MEDIA_MAX_TRACKS];
	unsigned track_mask;
	uint8_t channels[MEDIA_MAX_TRACKS];
	struct mcast_group *mcast;	/* RT_MULTICAST */
	bool udp;			/* media over UDP (unicast) */
	/* UDP pacing (rtsp_out.c): bytes it may send now, earned at pace_rate since pace_at_us */
	int64_t pace_credit, pace_rate, pace_at_us;
	struct event *pace_timer;	/* owned; resumes a reader held back by its pace */
	int64_t last_seen_us;		/* keep-alive */
	int64_t last_sr_us;
	unsigned sr_sent_mask;		/* tracks with an SR since PLAY */
	int64_t started_us;
	bool ending;
	/* replay */
	int64_t origin_us;		/* npt 0: the URL's start, else the recording's first instant */
	bool has_url_end;
	int64_t url_end_us;
	bool replay_played;		/* positioned once: a PLAY without Range resumes */
	struct replay_request replay_rq;	/* how it plays */
	TAILQ_ENTRY(rtsp_media_session) link;
};

/* rtsp_server.c */
extern const struct conn_proto rtsp_tcp_proto;
struct rtsp_conn *rtsp_conn_new(struct gw_conn *conn, enum rtsp_wire wire);
/* rc->in, made if need be (the tunnel and WebSocket free it between requests). */
struct evbuffer *rtsp_conn_input(struct rtsp_conn *rc);
void rtsp_conn_free(struct rtsp_conn *rc);
void rtsp_conn_process(struct rtsp_conn *rc);	/* parse and handle what is in rc->in */
void rtsp_send(struct rtsp_conn *rc, const void *data, size_t len);	/* control bytes */
void rtsp_reply(struct rtsp_conn *rc, const struct rtsp_request *req, int status,
    const char *extra_headers, const char *ctype, const void *body, size_t len);
void rtsp_request_done(struct rtsp_conn *rc);	/* an asynchronous request has been answered */
const char *rtsp_status_text(int status);
void rtsp_conn_close(struct rtsp_conn *rc, const char *reason);
/* The frame queue the connection's writer reads now (a playing interleaved session), or NULL. */
struct frameq *rtsp_conn_queue(const struct rtsp_conn *rc);

/* rtsp_methods.c */
void rtsp_handle(struct rtsp_conn *rc, struct rtsp_request *req);
/* "OPTIONS, DESCRIBE, ...": the methods of the table. */
const char *rtsp_public_methods(void);

/* rtsp_session.c */
struct rtsp_media_session *rtsp_session_new(struct rtsp_conn *rc, const struct gw_principal *p,
    const struct rtsp_target *t, struct media_stream *stream);
struct rtsp_media_session *rtsp_session_find(const char *id);
int rtsp_session_count_for(int64_t grant_id);
int rtsp_session_play(struct rtsp_media_session *s, struct media_play_info *info);
void rtsp_session_pause(struct rtsp_media_session *s);
void rtsp_session_end(struct rtsp_media_session *s, const char *reason);
void rtsp_session_detach(struct rtsp_media_session *s);	/* its connection is going away */
void rtsp_session_touch(struct rtsp_media_session *s);
struct rtsp_media_session *rtsp_session_by_udp_peer(const struct sockaddr_storage *from);
void rtsp_sessions_init(void);
void rtsp_sessions_shutdown(void);
/* Wake every UDP session with media queued (the shared socket can take more). */
void rtsp_sessions_udp_resume(void);
/* The owner callbacks of every session's stream. */
extern const struct media_stream_owner_ops rtsp_stream_owner_ops;

/* rtsp_out.c */
int rtsp_out_init(void) GW_MUSTCHECK;
void rtsp_out_shutdown(void);
void rtsp_write(struct rtsp_conn *rc);	/* control and media to rc->conn, as far as it takes */
int rtsp_udp_server_port(void);		/* 0 when UDP is off */
void rtsp_udp_wake(struct rtsp_media_session *s);
void rtsp_udp_send_rtcp(struct rtsp_media_session *s, int track, const void *pkt, size_t len);

/* rtsp_tunnel.c */
bool rtsp_http_takeover(struct gw_conn *c, const struct msg *m);
void rtsp_tunnel_init(void);
void rtsp_tunnel_unlink(struct rtsp_conn *rc);

/* Public. */
int rtsp_init(void) GW_MUSTCHECK;
void rtsp_shutdown(void);

#endif
