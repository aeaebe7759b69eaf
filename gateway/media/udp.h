/*
 * udp.h - sending a frame queue as datagrams: one RTP (or RTCP) packet per
 * datagram, in batches with sendmmsg, to a destination per track. Used by
 * the RTSP server's UDP readers and by multicast groups.
 *
 * Threads: I/O thread. Return convention: gateway/ (see gw.h).
 */
#ifndef GW_MEDIA_UDP_H
#define GW_MEDIA_UDP_H

#include "gateway/gw.h"
#include "gateway/media/frameq.h"

#include <sys/socket.h>

/* RTP ([0]) and RTCP ([1]) destination of each track; NULL: the track is not sent. */
struct udp_dest {
	const struct sockaddr_storage *to[MEDIA_MAX_TRACKS][2];
};

/*
 * Send what |q| has queued on |fd|, packet by packet, at most |max_bytes|
 * (0: no cap) in this call. *sent gets the bytes that left. Returns false
 * when the socket is full (the rest stays queued: wait for EV_WRITE),
 * true when the queue is empty or the cap was reached.
 */
bool udp_send_queue(struct frameq *q, int fd, const struct udp_dest *dest, size_t max_bytes,
    uint64_t *sent);

socklen_t udp_addr_len(const struct sockaddr_storage *ss);

#endif
