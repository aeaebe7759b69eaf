/*
 * vssgate-verify - checks a signed export (ONVIF Export File Format) on its
 * own: no daemon, no database, OpenSSL only.
 *
 *   vssgate-verify FILE [--ca CAFILE] [--json]
 *
 * Prints the cameras, the time range, the gaps, the signers and their
 * certificates, and every problem with its byte offset and box. Exit
 * status: 0 when the structure, every signature and (with --ca) every
 * certificate chain verify; 1 when something does not; 2 on a usage error
 * or a file that cannot be opened.
 */
#include "vssgate_build.h"

#include "gateway/export/eff_verify.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int
file_read(void *arg, uint64_t pos, void *p, size_t n)
{
	int fd = *(int *)arg;
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, (uint8_t *)p + done, n - done, (off_t)(pos + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

static void
iso(int64_t us, char *out, size_t cap)
{
	time_t s = (time_t)(us / 1000000);
	struct tm tm;
	char day[32];

	gmtime_r(&s, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, cap, "%.20s.%03dZ", day, (int)(us % 1000000 / 1000));
}

static const char *
kind(const struct eff_vtrack *t)
{
	if (t->events)
		return "events";
	switch (t->handler) {
	case MP4_FOURCC('v', 'i', 'd', 'e'): return "video";
	case MP4_FOURCC('s', 'o', 'u', 'n'): return "audio";
	case MP4_FOURCC('m', 'e', 't', 'a'): return "metadata";
	default: return "other";
	}
}

static void
print_text(const char *path, const struct eff_vreport *r, int rc, const char *cafile)
{
	char a[40], b[40];

	printf("file: %s\n", path);
	if (r->has_suep)
		printf("exported by: %s (%s, MAC %s), operator %s, at %s\n", r->unit_name, r->unit_url,
		    r->unit_mac, r->operator_name[0] ? r->operator_name : "-",
		    (iso(r->export_time_us, a, sizeof(a)), a));
	if (r->has_location)
		printf("location: %s (lat %.6f, lon %.6f)\n", r->location_name, r->latitude,
		    r->longitude);
	if (r->has_start) {
		iso(r->start_us, a, sizeof(a));
		iso(r->start_us + (int64_t)(r->duration_s * 1e6), b, sizeof(b));
		printf("time range: %s .. %s (%.3f s, %u fragments)\n", a, b, r->duration_s,
		    r->fragments);
	}
	for (int i = 0; i < r->ntracks; i++) {
		const struct eff_vtrack *t = &r->track[i];

		printf("track %u: %s %s", t->track_id, kind(t), mp4_codec_name(t->codec));
		if (t->width)
			printf(" %ux%u", t->width, t->height);
		printf(", %llu samples; source \"%s\" %s %s\n", (unsigned long long)t->samples,
		    t->source_name, t->source_url, t->source_mac);
	}
	printf("gaps: %d\n", r->ngaps);
	for (int i = 0; i < r->ngaps; i++) {
		if (r->has_start) {
			iso(r->start_us + (int64_t)(r->gaps[i].from_s * 1e6), a, sizeof(a));
			iso(r->start_us + (int64_t)(r->gaps[i].to_s * 1e6), b, sizeof(b));
		} else {
			snprintf(a, sizeof(a), "%.3f s", r->gaps[i].from_s);
			snprintf(b, sizeof(b), "%.3f s", r->gaps[i].to_s);
		}
		printf("  track %u: %s .. %s (%.3f s)\n", r->gaps[i].track_id, a, b,
		    r->gaps[i].to_s - r->gaps[i].from_s);
	}
	for (int k = 0; k < r->nsigners; k++) {
		const struct eff_vsigner *s = &r->signer[k];

		printf("signer %d: signature %s; certificate %s\n", k + 1,
		    s->sig_ok ? "VALID" : "INVALID", s->subject);
		printf("  issuer %s; valid %s .. %s; RSA %d bits; SHA-256 %s\n", s->issuer,
		    s->not_before, s->not_after, s->key_bits, s->sha256);
		printf("  chain: %s%s\n", !s->chain_checked ? "not checked (no --ca)" :
		    s->chain_ok ? "verified against " : "NOT verified: ",
		    !s->chain_checked ? "" : s->chain_ok ? cafile : s->chain_error);
		if (s->auib[0])
			printf("  user information: %s\n", s->auib);
	}
	for (int i = 0; i < r->nfind; i++)
		printf("%s at offset %llu%s%s%s: %s\n", r->find[i].error ? "ERROR" : "note",
		    (unsigned long long)r->find[i].offset, r->find[i].box[0] ? " (box '" : "",
		    r->find[i].box, r->find[i].box[0] ? "')" : "", r->find[i].text);
	if (r->nfind_more)
		printf("... and %d more\n", r->nfind_more);
	printf("result: %s\n", rc == 0 ? "VERIFIED" : "NOT VERIFIED");
}

static json_t *
signers_json(const struct eff_vreport *r)
{
	json_t *a = json_array();

	for (int k = 0; k < r->nsigners; k++) {
		const struct eff_vsigner *s = &r->signer[k];

		json_array_append_new(a, json_pack("{s:b, s:b, s:b, s:s, s:s, s:s, s:s, s:s, s:i, "
		    "s:s, s:s, s:I, s:s}", "signature_valid", s->sig_ok, "chain_checked",
		    s->chain_checked, "chain_valid", s->chain_ok, "chain_error", s->chain_error,
		    "subject", s->subject, "issuer", s->issuer, "not_before", s->not_before,
		    "not_after", s->not_after, "key_bits", s->key_bits, "cert_sha256", s->sha256,
		    "scheme", s->scheme, "sinf_offset", (json_int_t)s->sinf_pos, "auib", s->auib));
	}
	return a;
}

static json_t *
tracks_json(const struct eff_vreport *r)
{
	json_t *a = json_array();

	for (int i = 0; i < r->ntracks; i++) {
		const struct eff_vtrack *t = &r->track[i];

		json_array_append_new(a, json_pack("{s:i, s:s, s:s, s:i, s:I, s:f, s:s, s:s, s:s}",
		    "track_id", (int)t->track_id, "kind", kind(t), "codec", mp4_codec_name(t->codec),
		    "timescale", (int)t->timescale, "samples", (json_int_t)t->samples, "seconds",
		    t->timescale ? (double)(t->end_dts - t->first_dts) / t->timescale : 0.0,
		    "source_name", t->source_name, "source_url", t->source_url, "source_mac",
		    t->source_mac));
	}
	return a;
}

static void
print_json(const char *path, const struct eff_vreport *r, int rc)
{
	json_t *o = json_object(), *f = json_array(), *g = json_array();
	char a[40];

	for (int i = 0; i < r->nfind; i++)
		json_array_append_new(f, json_pack("{s:s, s:I, s:s, s:s}", "level", r->find[i].error ?
		    "error" : "note", "offset", (json_int_t)r->find[i].offset, "box", r->find[i].box,
		    "text", r->find[i].text));
	for (int i = 0; i < r->ngaps; i++)
		json_array_append_new(g, json_pack("{s:i, s:f, s:f}", "track_id",
		    (int)r->gaps[i].track_id, "from_s", r->gaps[i].from_s, "to_s", r->gaps[i].to_s));
	json_object_set_new(o, "file", json_string(path));
	json_object_set_new(o, "verified", json_boolean(rc == 0));
	json_object_set_new(o, "signatures_valid", json_boolean(r->signatures_ok));
	json_object_set_new(o, "fragments", json_integer(r->fragments));
	if (r->has_start) {
		iso(r->start_us, a, sizeof(a));
		json_object_set_new(o, "start", json_string(a));
	}
	json_object_set_new(o, "duration_s", json_real(r->duration_s));
	if (r->has_suep)
		json_object_set_new(o, "export", json_pack("{s:s, s:s, s:s, s:s, s:I}", "unit_name",
		    r->unit_name, "unit_url", r->unit_url, "unit_mac", r->unit_mac, "operator",
		    r->operator_name, "time_us", (json_int_t)r->export_time_us));
	json_object_set_new(o, "tracks", tracks_json(r));
	json_object_set_new(o, "gaps", g);
	json_object_set_new(o, "signers", signers_json(r));
	json_object_set_new(o, "findings", f);
	json_dumpf(o, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(o);
}

static void
usage(void)
{
	fprintf(stderr, "usage: vssgate-verify FILE [--ca CAFILE] [--json]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *path = NULL, *cafile = NULL;
	struct eff_vreport *rep;
	struct eff_vreader r;
	struct stat st;
	bool json = false;
	int fd, rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc)
			cafile = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (argv[i][0] != '-' && path == NULL)
			path = argv[i];
		else
			usage();
	}
	if (path == NULL)
		usage();
	if ((fd = open(path, O_RDONLY)) < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "vssgate-verify: %s: %s\n", path, strerror(errno));
		return 2;
	}
	if ((rep = calloc(1, sizeof(*rep))) == NULL) {	/* large: not on the stack */
		fprintf(stderr, "vssgate-verify: out of memory\n");
		close(fd);
		return 2;
	}
	r = (struct eff_vreader){ .read = file_read, .arg = &fd, .size = (uint64_t)st.st_size };
	rc = eff_verify(&r, cafile, rep);
	if (json)
		print_json(path, rep, rc);
	else
		print_text(path, rep, rc, cafile);
	close(fd);
	free(rep);
	return rc == 0 ? 0 : 1;
}
