/*
 * jobs_int.h - what the parts of the export jobs share: jobs.c on the I/O
 * thread (requests, the queue, the table, the audit log), jobrun.c on the
 * export threads (the files), signkey.c (the key and certificates).
 *
 * A struct xrun is what one export needs to be written, built on the I/O
 * thread and handed to a thread with xpool_submit(): from then until its
 * completion runs on the I/O thread, the thread owns it, except for
 * |cancel| and the progress counters, which are atomics that the I/O
 * thread reads and sets. Everything it points to is its own (copied),
 * but the signer, which lives until the pool is stopped.
 */
#ifndef GW_EXPORT_JOBS_INT_H
#define GW_EXPORT_JOBS_INT_H

#include "gateway/gw.h"
#include "gateway/export/eff.h"

#include <limits.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdatomic.h>

struct json_t;

/* --- the signing key (signkey.c) ------------------------------------------------------- */

struct xsigner {
	EVP_PKEY *key;
	X509 *cert;
	STACK_OF(X509) *chain;		/* the intermediates after the certificate, or NULL */
	struct eff_signer eff;		/* borrows the three above */
	char *pem;			/* the certificate and the chain as PEM (signer.pem) */
	char subject[256], issuer[256];
	char fingerprint[65];		/* SHA-256 of the certificate's DER, hex */
	int bits;
};

/*
 * Load the key and the certificate file (certificate first, then its
 * chain), check that they belong together and that the key is RSA of at
 * least 2048 bits. On failure, |why| says what is wrong with which file,
 * never anything of the key itself.
 */
int xsigner_load(const char *key_file, const char *cert_file, struct xsigner *out, char *why,
    size_t whylen);
void xsigner_free(struct xsigner *s);

/* --- one export to write (jobrun.c) ------------------------------------------------------ */

struct xcam {
	int64_t camera_id;
	char **segments;		/* absolute paths, in time order */
	int nsegments;
	uint64_t est_bytes;		/* the segments' bytes: the progress weight */
	unsigned keep;			/* EFF_KEEP_* */
	struct eff_info info;		/* its strings in |strings| */
	char *strings[10];
	struct eff_event *events;	/* 0E; strings in |event_text| */
	int nevents;
	char *event_text;
	/* results */
	struct eff_result res;
};

#define XRUN_DIR_MAX 2048		/* [export] dir and the id: room left for a file name in PATH_MAX */

struct xrun {
	bool remove_only;		/* not an export: remove |dir| (off the I/O thread) */
	int64_t export_id;
	char dir[XRUN_DIR_MAX];
	int64_t from_us, to_us;
	int ncams;
	struct xcam *cams;
	struct json_t *manifest;	/* the record without "files": the thread adds them and signs */
	const struct xsigner *signer;
	atomic_bool cancel;
	atomic_uint_fast64_t progress_ppm;	/* 0..1000000 */
	atomic_uint_fast64_t bytes_done;	/* recorded bytes copied so far */
	uint64_t est_total;
	uint64_t est_before;		/* thread's own: est_bytes of the cameras already done */
	int current;			/* thread's own: the camera being written */
	/* results, read by the I/O thread after completion */
	bool ok, cancelled;
	char error[300];
	struct json_t *files;		/* [{name, kind, camera_id, size, sha256}] */
	uint64_t bytes;			/* of every file */
	char manifest_sha256[65];
	void *job;			/* the I/O thread's struct xjob */
	TAILQ_ENTRY(xrun) link;
};

/* Write the export (the thread). */
void xrun_work(struct xrun *r);
void xrun_free(struct xrun *r);
/* Remove a job's folder and what is in it (a failed, cancelled or expired export): on the thread. */
void xrun_remove_dir(const char *dir);
/* The same from the I/O thread: handed to an export thread, as unlinking big files takes a while. */
void xpool_remove(const char *dir);

/* The pool: |nthreads| threads; |done| runs on the I/O thread for each finished run. */
int xpool_start(int nthreads, void (*done)(struct xrun *r)) GW_MUSTCHECK;
void xpool_submit(struct xrun *r);
/* Join the threads after the runs in hand are finished (cancel them first to be quick). */
void xpool_stop(void);

#endif
