/*
 * ws.h - the server side of WebSocket (RFC 6455) on a connection: the
 * upgrade handshake with its Origin check, the client's frames through
 * wslay, the server's binary frames around a byte stream that its user
 * writes with writev, and close frames. RTSP over WebSocket rides on it;
 * so will anything later that speaks over a WebSocket.
 *
 * Input: ws_read() hands wslay only whole frames (proto/wsframe.h finds
 * their ends), so wslay never holds half of one; its context (about
 * 8 KiB) exists only while input is being parsed. Each data message goes
 * to the user's on_message().
 *
 * Output: the user writes a byte stream (RTSP responses and interleaved
 * media). ws_frame_iov() puts a binary frame header in front of the next
 * bytes when a frame is due, and ws_frame_written() accounts what the
 * socket took, so that a frame is always finished before anything else
 * (a control message, a close frame) goes out.
 *
 * Ownership: struct ws is embedded in its user's connection state;
 * ws_release() frees what it holds. Threads: I/O thread.
 * Return convention: gateway/ (see gw.h).
 */
#ifndef GW_WS_H
#define GW_WS_H

#include "gateway/gw.h"

#include <sys/uio.h>

struct gw_conn;
struct msg;
struct wslay_event_context;

#define WS_MAX_MESSAGE 65536
#define WS_CLOSE_POLICY 1008		/* the gateway's policy ended the connection */

struct ws {
	struct gw_conn *conn;
	void (*on_message)(void *arg, const uint8_t *data, size_t len);
	void *arg;
	struct wslay_event_context *ctx;	/* only while input is being parsed */
	size_t feed;			/* bytes of whole frames in conn->in that wslay may read */
	bool fragmented;		/* a fragmented message is open: wslay holds part of it */
	bool peer_closed;		/* the client sent a close frame */
	uint64_t left;			/* payload bytes left in the binary frame being written */
	uint8_t hdr[10];
	uint8_t hdr_len, hdr_sent;
};

/*
 * Is |m| (a GET) a WebSocket upgrade? Then ws_accept() checks it (key,
 * version, Origin, a subprotocol of |subprotocols|, NULL-terminated, in
 * the server's order of preference), answers 101 and returns true; or
 * answers the HTTP error, logs once and returns false. Either way the
 * request head is consumed.
 */
bool ws_is_upgrade(const struct msg *m);
bool ws_accept(struct ws *w, struct gw_conn *c, const struct msg *m, const char *const *subprotocols,
    void (*on_message)(void *arg, const uint8_t *data, size_t len), void *arg);

/*
 * Parse what arrived on the connection: 0; 1 when the client closed the
 * WebSocket (the caller closes after flushing); -1 on a protocol error
 * (logged; the caller closes).
 */
int ws_read(struct ws *w) GW_MUSTCHECK;
/* Nothing is half read or waiting: the wslay context can go until more input comes. */
void ws_sleep_if_idle(struct ws *w);
void ws_release(struct ws *w);

/* A whole binary frame of |len| bytes into the connection's output buffer. */
void ws_send_binary(struct ws *w, const void *data, size_t len);
/*
 * Prepare the frame header for the next |len| bytes of the stream (when no
 * frame is open) and return how many of them the open frame can take.
 * ws_frame_iov() fills iov[0] with what is left of the header (maybe
 * nothing); ws_frame_written() accounts |n| bytes written of header and
 * payload, and returns the payload part.
 */
size_t ws_frame_open(struct ws *w, size_t len);
void ws_frame_iov(const struct ws *w, struct iovec *iov);
size_t ws_frame_written(struct ws *w, size_t n);
/* A binary frame is started and not finished. */
bool ws_in_frame(const struct ws *w);
/* A close frame (|code| and a reason cut to fit), unless a frame is half written. */
void ws_send_close(struct ws *w, uint16_t code, const char *reason);

#endif
