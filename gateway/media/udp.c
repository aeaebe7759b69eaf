/*
 * udp.c - a frame queue out as datagrams (see udp.h).
 *
 * The queue describes whole packets with their 4-byte '$' prefixes (the
 * channel says the track and whether it is RTCP); each is split off and
 * sent without the prefix. If the kernel buffer is full the packets stay
 * queued.
 */
#include "gateway/gw.h"
#include "gateway/media/udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#define UDP_BATCH 64
#define UDP_MAX_BYTES (512 * 1024)

socklen_t
udp_addr_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

struct batch {
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	int n;
	size_t bytes;			/* with prefixes, as the queue counts them */
	size_t skipped;			/* bytes of packets no destination takes */
};

static void
batch_add(struct batch *b, uint8_t *pkt, size_t plen, const struct sockaddr_storage *to)
{
	b->iov[b->n].iov_base = pkt + 4;
	b->iov[b->n].iov_len = plen - 4;
	memset(&b->msgs[b->n], 0, sizeof(b->msgs[b->n]));
	b->msgs[b->n].msg_hdr.msg_iov = &b->iov[b->n];
	b->msgs[b->n].msg_hdr.msg_iovlen = 1;
	b->msgs[b->n].msg_hdr.msg_name = (void *)to;
	b->msgs[b->n].msg_hdr.msg_namelen = udp_addr_len(to);
	b->n++;
}

/*
 * Split the queue's next bytes into datagrams, up to a batch or |cap|
 * bytes (the first packet always goes). Packets of a track the destination
 * does not take are only skipped before the first one batched, so that
 * consuming "skipped, then sent" keeps the queue's position right.
 */
static void
batch_fill(struct frameq *q, const struct udp_dest *dest, size_t cap, struct batch *b)
{
	static const uint8_t chans[MEDIA_MAX_TRACKS] = { 0, 2, 4, 6 };
	struct iovec raw[UDP_BATCH * 2];
	int n = frameq_iov(q, raw, UDP_BATCH * 2, GW_MIN(cap, (size_t)UDP_MAX_BYTES), chans);

	b->n = 0;
	b->bytes = b->skipped = 0;
	for (int i = 0; i < n; i++) {
		uint8_t *p = raw[i].iov_base;
		size_t left = raw[i].iov_len;

		while (left >= 4) {
			size_t plen = 4 + ((size_t)p[2] << 8 | p[3]);
			const struct sockaddr_storage *to = dest->to[(p[1] >> 1) % MEDIA_MAX_TRACKS][p[1] & 1];

			if (plen > left || b->n == UDP_BATCH || (b->n > 0 && (to == NULL || b->bytes + plen > cap)))
				return;
			if (to == NULL) {
				b->skipped += plen;
			} else {
				batch_add(b, p, plen, to);
				b->bytes += plen;
			}
			p += plen;
			left -= plen;
		}
		if (left > 0)
			return;
	}
}

bool
udp_send_queue(struct frameq *q, int fd, const struct udp_dest *dest, size_t max_bytes,
    uint64_t *sent)
{
	size_t budget = max_bytes ? max_bytes : SIZE_MAX;
	struct batch b;

	*sent = 0;
	while (frameq_pending(q) && budget > 0) {
		int n;
		size_t done = 0;

		batch_fill(q, dest, budget, &b);
		if (b.skipped > 0)
			frameq_consumed(q, b.skipped);
		if (b.n == 0) {
			if (b.skipped > 0)
				continue;
			return true;
		}
		n = sendmmsg(fd, b.msgs, (unsigned)b.n, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
				return false;
			n = b.n;	/* unreachable peer and the like: the packets are lost */
		}
		for (int i = 0; i < n; i++)
			done += 4 + b.iov[i].iov_len;
		frameq_consumed(q, done);
		*sent += done;
		budget = done >= budget ? 0 : budget - done;
		if (n < b.n)
			return false;
	}
	return true;
}
