/*
 * jobrun.c - the export threads (see jobs_int.h): a small pool of its own
 * ([export] workers), so that long exports never hold up the daemon's
 * shared workers (snapshots, logins), and the writing of one export: an
 * EFF file and a sidecar per camera (eff_export), the signer's
 * certificates, the manifest and its detached signature.
 *
 * The threads are named "vssgate-export" and run at nice EXPORT_NICE: on a
 * machine with few cores they yield to the I/O thread, so that a burst of
 * exports costs the live readers as little as it can.
 *
 * No logger, no database, no event loop here: what went wrong is written
 * into the run's |error|, which the I/O thread logs and records. Paths in
 * it are cut to the file's name (the folder is the gateway's business).
 */
#include "gateway/gw.h"
#include "gateway/export/eff_int.h"
#include "gateway/export/jobs_int.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdarg.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define XPOOL_MAX_THREADS 32
#define EXPORT_NICE 10
#define HASH_CHUNK (1u << 20)

/* --- the pool ---------------------------------------------------------------------------------- */

TAILQ_HEAD(xrun_list, xrun);

static struct {
	pthread_t threads[XPOOL_MAX_THREADS];
	int nthreads;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct xrun_list todo;		/* under lock */
	struct xrun_list finished;	/* under lock */
	bool quit;			/* under lock */
	struct event *wake;		/* delivers |finished| on the I/O thread */
	void (*done)(struct xrun *r);
} P = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.todo = TAILQ_HEAD_INITIALIZER(P.todo),
	.finished = TAILQ_HEAD_INITIALIZER(P.finished),
};

static void *
pool_thread(void *arg)
{
	struct xrun *r;

	(void)arg;
	pthread_setname_np(pthread_self(), "vssgate-export");
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), EXPORT_NICE);	/* Linux: this thread alone */
	pthread_mutex_lock(&P.lock);
	for (;;) {
		while (TAILQ_EMPTY(&P.todo) && !P.quit)
			pthread_cond_wait(&P.cond, &P.lock);
		if ((r = TAILQ_FIRST(&P.todo)) == NULL)
			break;		/* quit, and nothing left */
		TAILQ_REMOVE(&P.todo, r, link);
		pthread_mutex_unlock(&P.lock);
		xrun_work(r);
		pthread_mutex_lock(&P.lock);
		TAILQ_INSERT_TAIL(&P.finished, r, link);
		event_active(P.wake, EV_READ, 0);
	}
	pthread_mutex_unlock(&P.lock);
	return NULL;
}

/* On the I/O thread: hand each finished run back. */
static void
deliver(evutil_socket_t fd, short what, void *arg)
{
	struct xrun_list got = TAILQ_HEAD_INITIALIZER(got);
	struct xrun *r;

	(void)fd, (void)what, (void)arg;
	pthread_mutex_lock(&P.lock);
	TAILQ_CONCAT(&got, &P.finished, link);
	pthread_mutex_unlock(&P.lock);
	while ((r = TAILQ_FIRST(&got)) != NULL) {
		TAILQ_REMOVE(&got, r, link);
		P.done(r);
	}
}

int
xpool_start(int nthreads, void (*done)(struct xrun *r))
{
	P.done = done;
	P.quit = false;
	if ((P.wake = event_new(gw.base, -1, 0, deliver, NULL)) == NULL)
		return -1;
	for (P.nthreads = 0; P.nthreads < GW_MIN(nthreads, XPOOL_MAX_THREADS); P.nthreads++)
		if (pthread_create(&P.threads[P.nthreads], NULL, pool_thread, NULL) != 0)
			return -1;
	return 0;
}

void
xpool_submit(struct xrun *r)
{
	pthread_mutex_lock(&P.lock);
	TAILQ_INSERT_TAIL(&P.todo, r, link);
	pthread_cond_signal(&P.cond);
	pthread_mutex_unlock(&P.lock);
}

void
xpool_stop(void)
{
	if (P.wake == NULL)
		return;
	pthread_mutex_lock(&P.lock);
	P.quit = true;
	pthread_cond_broadcast(&P.cond);
	pthread_mutex_unlock(&P.lock);
	for (int i = 0; i < P.nthreads; i++)
		pthread_join(P.threads[i], NULL);
	P.nthreads = 0;
	deliver(-1, 0, NULL);
	event_free(P.wake);
	P.wake = NULL;
}

/* --- files --------------------------------------------------------------------------------------- */

/* |err| without the folder of the export: "camera-3.mp4: No space left on device". */
static void
cut_dir(struct xrun *r, char *err)
{
	size_t n = strlen(r->dir);
	char *p;

	while ((p = strstr(err, r->dir)) != NULL) {
		size_t skip = n + (p[n] == '/');

		memmove(p, p + skip, strlen(p + skip) + 1);
	}
}

static void
fail(struct xrun *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fail(struct xrun *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	cut_dir(r, r->error);
}

/* SHA-256 and size of a file we wrote. */
static int
hash_file(const char *path, char hex[65], uint64_t *size)
{
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	uint8_t *buf = malloc(HASH_CHUNK), md[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;
	ssize_t n;

	*size = 0;
	if (h == NULL || buf == NULL || fd < 0 || !EVP_DigestInit_ex(h, EVP_sha256(), NULL))
		goto out;
	while ((n = read(fd, buf, HASH_CHUNK)) > 0) {
		EVP_DigestUpdate(h, buf, (size_t)n);
		*size += (uint64_t)n;
	}
	if (n < 0 || !EVP_DigestFinal_ex(h, md, NULL))
		goto out;
	eff_hex(md, 32, hex);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	EVP_MD_CTX_free(h);
	return rc;
}

/* |len| bytes as the file |name| of the export, written whole or not at all. */
static int
write_whole(struct xrun *r, const char *name, const void *p, size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX], e[EFF_ERRLEN] = "";
	int fd;

	snprintf(path, sizeof(path), "%s/%s", r->dir, name);
	if ((fd = eff_tmp_open(path, tmp, sizeof(tmp), e)) < 0) {
		fail(r, "%s", e);
		return -1;
	}
	if (write(fd, p, len) != (ssize_t)len) {
		fail(r, "writing %s: %s", name, errno ? strerror(errno) : "short write");
		goto bad;
	}
	if (eff_commit(fd, tmp, path, e) < 0) {
		fail(r, "%s", e);
		goto bad;
	}
	close(fd);
	return 0;
bad:
	close(fd);
	unlink(tmp);
	return -1;
}

/* A file of the folder into the list of files (and the total of bytes). */
static int
add_file(struct xrun *r, const char *name, const char *kind, int64_t camera_id)
{
	char path[PATH_MAX], hex[65];
	uint64_t size;
	json_t *f;

	snprintf(path, sizeof(path), "%s/%s", r->dir, name);
	if (hash_file(path, hex, &size) < 0) {
		fail(r, "cannot read back %s: %s", name, strerror(errno));
		return -1;
	}
	f = json_pack("{s:s, s:s, s:I, s:s}", "name", name, "kind", kind, "size", (json_int_t)size,
	    "sha256", hex);
	if (camera_id != 0)
		json_object_set_new(f, "camera_id", json_integer(camera_id));
	json_array_append_new(r->files, f);
	r->bytes += size;
	return 0;
}

void
xrun_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* --- one camera ------------------------------------------------------------------------------ */

static void
on_progress(void *arg, uint64_t done, uint64_t total)
{
	struct xrun *r = arg;
	const struct xcam *c = r->current < r->ncams ? &r->cams[r->current] : NULL;
	uint64_t part;

	part = c != NULL && total > 0 ? (uint64_t)((double)c->est_bytes * done / total) : 0;
	if (r->est_total > 0)
		atomic_store(&r->progress_ppm, GW_MIN(999999u, (r->est_before + part) * 1000000 / r->est_total));
	atomic_store(&r->bytes_done, r->est_before + part);
}

static int
write_camera(struct xrun *r, struct xcam *c)
{
	char out[PATH_MAX], side[PATH_MAX], name[64], sname[64];
	struct eff_request rq = {
		.segments = (const char *const *)c->segments, .nsegments = c->nsegments,
		.from_us = r->from_us, .to_us = r->to_us, .keep = c->keep,
		.events = c->events, .nevents = c->nevents, .info = &c->info,
		.signer = &r->signer->eff, .out_path = out, .sidecar_path = side,
		.progress = on_progress, .progress_arg = r, .cancel = &r->cancel,
	};

	snprintf(name, sizeof(name), "camera-%lld.mp4", (long long)c->camera_id);
	snprintf(sname, sizeof(sname), "camera-%lld.json", (long long)c->camera_id);
	snprintf(out, sizeof(out), "%s/%s", r->dir, name);
	snprintf(side, sizeof(side), "%s/%s", r->dir, sname);
	if (eff_export(&rq, &c->res) < 0) {
		r->cancelled = c->res.cancelled;
		fail(r, "camera %lld: %s", (long long)c->camera_id, c->res.error);
		return -1;
	}
	r->est_before += c->est_bytes;
	return add_file(r, name, "export", c->camera_id) < 0 || add_file(r, sname, "sidecar", c->camera_id) < 0 ?
	    -1 : 0;
}

/* --- the manifest ------------------------------------------------------------------------------- */

static json_t *
camera_summary(const struct xcam *c)
{
	char a[40], b[40];

	eff_iso8601(c->res.start_us, a, sizeof(a));
	eff_iso8601(c->res.end_us, b, sizeof(b));
	return json_pack("{s:I, s:s?, s:s, s:s, s:i, s:i, s:i}", "camera_id", (json_int_t)c->camera_id,
	    "name", c->info.camera_name, "start", a, "end", b, "tracks", c->res.ntracks,
	    "gaps", c->res.ngaps, "events", c->res.nevents);
}

static int
write_manifest(struct xrun *r)
{
	json_t *cams = json_array();
	char *text;
	uint8_t md[32], sig[1024];
	size_t len, siglen = sizeof(sig);
	char e[EFF_ERRLEN] = "";
	int rc = -1;

	for (int i = 0; i < r->ncams; i++)
		json_array_append_new(cams, camera_summary(&r->cams[i]));
	json_object_set_new(r->manifest, "cameras", cams);
	json_object_set_new(r->manifest, "files", json_deep_copy(r->files));
	if ((text = json_dumps(r->manifest, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
		fail(r, "the manifest cannot be built");
		return -1;
	}
	len = strlen(text);
	text[len++] = '\n';	/* json_dumps' NUL gives way to a newline: the file ends like a text file */
	EVP_Digest(text, len, md, NULL, EVP_sha256(), NULL);
	eff_hex(md, 32, r->manifest_sha256);
	if (eff_sign_digest(r->signer->key, md, sig, &siglen, e) < 0) {
		fail(r, "signing the manifest: %s", e);
		goto out;
	}
	/* Listed for the download, not in the manifest: it cannot hold its own hash. */
	if (write_whole(r, "manifest.json", text, len) < 0 ||
	    write_whole(r, "manifest.json.sig", sig, siglen) < 0 ||
	    add_file(r, "manifest.json", "manifest", 0) < 0 ||
	    add_file(r, "manifest.json.sig", "signature", 0) < 0)
		goto out;
	rc = 0;
out:
	free(text);
	return rc;
}

/* --- the export -------------------------------------------------------------------------------- */

/* An empty folder of its own: what an interrupted attempt left goes first. */
static int
make_dir(struct xrun *r)
{
	xrun_remove_dir(r->dir);
	if (mkdir(r->dir, 0750) < 0) {
		fail(r, "cannot make the export's folder: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void
xpool_remove(const char *dir)
{
	struct xrun *r = gw_xcalloc(1, sizeof(*r));

	r->remove_only = true;
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	xpool_submit(r);
}

void
xrun_work(struct xrun *r)
{
	if (r->remove_only) {
		xrun_remove_dir(r->dir);
		return;
	}
	r->files = json_array();
	if (make_dir(r) < 0)
		goto out;
	for (r->current = 0; r->current < r->ncams; r->current++)
		if (write_camera(r, &r->cams[r->current]) < 0)
			goto out;
	if (atomic_load(&r->cancel)) {
		r->cancelled = true;
		fail(r, "cancelled");
		goto out;
	}
	if (write_whole(r, "signer.pem", r->signer->pem, strlen(r->signer->pem)) < 0 ||
	    add_file(r, "signer.pem", "certificate", 0) < 0 || write_manifest(r) < 0)
		goto out;
	atomic_store(&r->progress_ppm, 1000000);
	r->ok = true;
out:
	if (!r->ok)
		xrun_remove_dir(r->dir);	/* nothing of a failed export is ever offered */
}

void
xrun_free(struct xrun *r)
{
	if (r == NULL)
		return;
	for (int i = 0; i < r->ncams; i++) {
		struct xcam *c = &r->cams[i];

		for (int k = 0; k < c->nsegments; k++)
			free(c->segments[k]);
		free(c->segments);
		for (size_t k = 0; k < ARRAY_SIZE(c->strings); k++)
			free(c->strings[k]);
		free(c->events);
		free(c->event_text);
	}
	free(r->cams);
	json_decref(r->manifest);
	json_decref(r->files);
	free(r);
}
