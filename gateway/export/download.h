/*
 * download.h - serving one file of a finished export (download.c), for
 * the REST API and the authorities' endpoint: who may download is their
 * business; this decides what to send.
 *
 * export_prepare_file() looks at the export's document (export_get()) and
 * the request's Range, If-Range and If-None-Match, adds the response's
 * headers to |req| and fills |out|:
 *   200 / 206   |fd| (owned by |out|), |offset|, |len|: hand them to
 *               http_respond_file() with export_download_done and |dl|,
 *               which audits the download (export.download) when it ends
 *   304 / 416   answer with no body
 *   >= 400      refused: answer with |error|, |detail|, |hint|
 * Returns 0, or -1 when refused. export_send_discard() frees what an
 * |out| holds when it is not handed on.
 */
#ifndef GW_EXPORT_DOWNLOAD_H
#define GW_EXPORT_DOWNLOAD_H

#include "gateway/gw.h"
#include "gateway/http.h"

#include <jansson.h>

struct export_dl;

struct export_send {
	int status;
	int fd;
	uint64_t offset, len;
	const char *ctype;
	const char *error, *hint;
	char detail[200];
	struct export_dl *dl;
};

int export_prepare_file(struct http_request *req, json_t *doc, const char *name, const char *actor,
    struct export_send *out);
void export_download_done(void *arg, uint64_t sent, bool complete);
void export_send_discard(struct export_send *s);

#endif
