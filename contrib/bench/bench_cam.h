/*
 * bench_cam.h - the benchmark's own camera, inside rtsp_load: an H.264
 * file served over RTSP with interleaved RTP, paced in real time, so that
 * the time each packet left the camera is known exactly (the latency the
 * gateway adds is measured from it).
 *
 * Ownership: the camera owns its sockets and the file's bytes; the payload
 * handed to the callback is only valid during the call.
 */
#ifndef BENCH_CAM_H
#define BENCH_CAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Called just before each RTP packet is written: payload, RTP timestamp, wall time (realtime, us). */
typedef void (*cam_sent_fn)(const uint8_t *payload, size_t len, uint32_t ts, int64_t sent_us);

/*
 * Listen on 127.0.0.1:|port| and register with |epfd| (the event's data.ptr
 * is the camera's: pass every event to cam_on_event() when cam_owns() says
 * so). |file| is Annex B H.264 with access unit delimiters. Exits the
 * program with a message on failure.
 */
void cam_start(int epfd, int port, const char *file, int fps, cam_sent_fn sent);
bool cam_owns(const void *ptr);
void cam_on_event(void *ptr, uint32_t events);
/* Realtime clock in microseconds: the clock of the kernel's receive timestamps. */
int64_t bench_wall_us(void);
/* Packets the gateway's socket would not take (it should never happen). */
uint64_t cam_packets_refused(void);

#endif
