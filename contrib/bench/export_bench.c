/*
 * export_bench - the driver of contrib/bench/export-bench.sh.
 *
 *   export_bench segments DIR MINUTES CLIP.h264   recorder-like segments
 *   export_bench export OUT KEY CERT SEGMENT...   one signed EFF export
 *
 * "segments" loops an H.264 Annex B clip (each access unit led by an AUD,
 * 25 fps) into files of 2 minutes written with proto/mp4w the way the
 * recorder writes them: an init segment, then prft + moof + mdat every
 * second. "export" exports all of them (0V) with gateway/export/eff.h and
 * prints its wall time and its peak memory (ru_maxrss).
 */
#include "vssgate_build.h"

#include "gateway/export/eff.h"
#include "proto/mp4w.h"

#include <math.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define FPS 25
#define SEG_SECONDS 120
#define T0_US ((int64_t)1796119200 * 1000000)

struct au {
	const uint8_t *p;
	size_t len;
	bool key;
};

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *p;
	long n;

	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) <= 0)
		return NULL;
	rewind(fp);
	p = malloc((size_t)n);
	if (p == NULL || fread(p, 1, (size_t)n, fp) != (size_t)n)
		return NULL;
	fclose(fp);
	*len = (size_t)n;
	return p;
}

/* Access units: from one AUD (type 9) start code to the next. */
static int
split(const uint8_t *b, size_t len, struct au *au, int max, struct au *sps, struct au *pps)
{
	int n = 0;

	for (size_t i = 0; i + 4 < len; i++) {
		int t;

		if (!(b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 1))
			continue;
		t = b[i + 3] & 0x1f;
		if (t == 9 && n < max) {
			size_t start = i > 0 && b[i - 1] == 0 ? i - 1 : i;

			if (n > 0)
				au[n - 1].len = (size_t)(b + start - au[n - 1].p);
			au[n++] = (struct au){ b + start, 0, false };
		}
		if (t == 5 && n > 0)
			au[n - 1].key = true;
		if ((t == 7 || t == 8) && (t == 7 ? sps : pps)->p == NULL) {
			size_t e = i + 3;

			while (e + 3 < len && !(b[e] == 0 && b[e + 1] == 0 && (b[e + 2] == 1 ||
			    (b[e + 2] == 0 && b[e + 3] == 1))))
				e++;
			*(t == 7 ? sps : pps) = (struct au){ b + i + 3, e - (i + 3), false };
		}
	}
	if (n > 0)
		au[n - 1].len = (size_t)(b + len - au[n - 1].p);
	return n;
}

static uint64_t
ntp_of(int64_t us)
{
	return (uint64_t)(us / 1000000 + 2208988800LL) << 32 |
	    (uint64_t)(us % 1000000) * 4294967296ull / 1000000;
}

static int
write_segment(const char *path, int index, const struct au *au, int nau, struct au sps,
    struct au pps)
{
	struct mp4w_track t = { .codec = MP4_CODEC_H264, .timescale = 90000, .width = 1920,
	    .height = 1080, .sps = sps.p, .sps_len = sps.len, .pps = pps.p, .pps_len = pps.len };
	struct mp4w_movie mv = { .tracks = &t, .ntracks = 1 };
	struct mp4w w;
	struct mp4w_buf out;
	FILE *fp = fopen(path, "wb");
	int rc = 0;

	mp4w_buf_growing(&out, 64u << 20);
	if (fp == NULL || mp4w_write_init(&mv, &out) < 0 || mp4w_init(&w, &mv, NULL) < 0)
		return -1;
	for (int s = 0; s < SEG_SECONDS && rc == 0; s++) {
		int64_t us = T0_US + ((int64_t)index * SEG_SECONDS + s) * 1000000;

		rc = mp4w_frag_begin(&w, &(struct mp4w_prft){ .track = 0, .ntp = ntp_of(us) });
		for (int k = 0; k < FPS && rc == 0; k++) {
			const struct au *a = &au[(s * FPS + k) % nau];

			rc = mp4w_frag_add(&w, &(struct mp4w_sample){ .track = 0, .data = a->p,
			    .size = a->len, .duration = 90000 / FPS, .keyframe = a->key });
		}
		if (rc == 0 && (rc = mp4w_frag_end(&w, &out)) > 0) {
			rc = fwrite(out.p, 1, out.len, fp) == out.len ? 0 : -1;
			mp4w_buf_reset(&out);
		}
	}
	mp4w_free(&w);
	mp4w_buf_free(&out);
	return fclose(fp) == 0 && rc == 0 ? 0 : -1;
}

static int
segments(const char *dir, int minutes, const char *clip)
{
	static struct au au[100000];
	struct au sps = { 0 }, pps = { 0 };
	size_t len;
	uint8_t *b = slurp(clip, &len);
	int n = b ? split(b, len, au, 100000, &sps, &pps) : 0;
	char path[4096];

	if (n == 0 || !au[0].key || sps.p == NULL || pps.p == NULL) {
		fprintf(stderr, "%s: no H.264 access units with AUDs starting at a keyframe\n", clip);
		return 1;
	}
	for (int i = 0; i < minutes * 60 / SEG_SECONDS; i++) {
		snprintf(path, sizeof(path), "%s/seg%04d.mp4", dir, i);
		if (write_segment(path, i, au, n, sps, pps) < 0) {
			fprintf(stderr, "%s: cannot write\n", path);
			return 1;
		}
		printf("%s\n", path);
	}
	return 0;
}

static int
export(const char *out, const char *keyfile, const char *certfile, const char *const *seg,
    int nseg)
{
	FILE *kf = fopen(keyfile, "r"), *cf = fopen(certfile, "r");
	struct eff_signer sg = { .key = kf ? PEM_read_PrivateKey(kf, NULL, NULL, NULL) : NULL,
	    .cert = cf ? PEM_read_X509(cf, NULL, NULL, NULL) : NULL };
	struct eff_info info = { .camera_name = "bench camera", .location = { .latitude = NAN,
	    .longitude = NAN }, .unit_name = "export_bench", .export_time_us = T0_US };
	struct eff_request rq = { .segments = seg, .nsegments = nseg, .from_us = T0_US,
	    .to_us = T0_US + (int64_t)nseg * SEG_SECONDS * 1000000, .keep = EFF_KEEP_VIDEO,
	    .info = &info, .signer = &sg, .out_path = out };
	static struct eff_result res;
	struct timespec a, b;
	struct rusage ru;

	clock_gettime(CLOCK_MONOTONIC, &a);
	if (eff_export(&rq, &res) < 0) {
		fprintf(stderr, "export failed: %s\n", res.error);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	getrusage(RUSAGE_SELF, &ru);
	printf("export: %.3f s wall, %llu bytes, %u fragments, peak RSS %ld KiB\n",
	    (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9,
	    (unsigned long long)res.file_size, res.fragments, ru.ru_maxrss);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "segments") == 0)
		return segments(argv[2], atoi(argv[3]), argv[4]);
	if (argc >= 6 && strcmp(argv[1], "export") == 0)
		return export(argv[2], argv[3], argv[4], (const char *const *)argv + 5, argc - 5);
	fprintf(stderr, "usage: export_bench segments DIR MINUTES CLIP.h264\n"
	    "       export_bench export OUT KEY CERT SEGMENT...\n");
	return 2;
}
