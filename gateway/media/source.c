/*
 * source.c - sources: adapters, backoff, idle stop, the model (see source.h).
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/crypto.h"
#include "gateway/log.h"
#include "gateway/loop.h"
#include "gateway/model.h"
#include "gateway/media/hub.h"
#include "gateway/media/source.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SOURCE_MAGIC 0x68627372U	/* "hbsr" */
#define RATE_WINDOW_US 2000000

enum src_state {
	SRC_STARTING,
	SRC_ONLINE,
	SRC_RETRY,
};

/* The adapters' handle on a source. */
struct adapter_source {
	uint32_t magic;
	struct media_source *src;
};

TAILQ_HEAD(wait_list, source_wait);

struct media_source {
	uint32_t magic;
	struct adapter_source handle;
	int64_t camera_id;
	char ident[64];
	char fingerprint[65];		/* of adapter, URI and credentials: a change restarts */
	enum src_state state;
	const struct adapter_ops *ops;
	void *astate;			/* the adapter's state; NULL when closed */
	bool always_on;
	struct hub *hub;
	struct wait_list waits;
	int64_t idle_since_us;		/* 0 while in use */
	int64_t retry_at_us;
	int64_t backoff_ms;
	int64_t offline_since_us;
	bool failure_logged;
	char last_error[128];
	int64_t rate_start_us;
	uint64_t rate_bytes;
	double bitrate_bps;
	int64_t last_frame_wall_us;
	struct loop_deferred close_adapter;
	TAILQ_ENTRY(media_source) link;
};

struct source_wait {
	struct media_source *src;
	source_ready_cb cb;
	void *arg;
	int64_t deadline_us;
	TAILQ_ENTRY(source_wait) link;
};

TAILQ_HEAD(source_list, media_source);

static struct source_list sources = TAILQ_HEAD_INITIALIZER(sources);

static void source_start(struct media_source *s);

/* --- what the adapters call ------------------------------------------------------- */

static void
finish_waits(struct media_source *s, const char *error)
{
	struct source_wait *w;

	while ((w = TAILQ_FIRST(&s->waits)) != NULL) {
		TAILQ_REMOVE(&s->waits, w, link);
		w->cb(w->arg, error ? NULL : s->hub, error);
		free(w);
	}
}

static void
account_rate(struct media_source *s, size_t bytes)
{
	int64_t now = gw_mono_us();

	if (s->rate_start_us == 0)
		s->rate_start_us = now;
	s->rate_bytes += bytes;
	if (now - s->rate_start_us >= RATE_WINDOW_US) {
		s->bitrate_bps = (double)s->rate_bytes * 8e6 / (double)(now - s->rate_start_us);
		s->rate_start_us = now;
		s->rate_bytes = 0;
	}
}

static void
source_online(struct media_source *s)
{
	if (s->state == SRC_ONLINE)
		return;
	if (s->offline_since_us != 0 && s->failure_logged)
		olog_info(s, "source back online after %.1f s",
		    (double)(gw_mono_us() - s->offline_since_us) / 1e6);
	else
		olog_info(s, "source online");
	s->state = SRC_ONLINE;
	s->offline_since_us = 0;
	s->failure_logged = false;
	s->backoff_ms = 0;
	s->last_error[0] = '\0';
}

void
adapter_source_frame(struct adapter_source *h, const struct adapter_frame *in)
{
	struct media_source *s = h->src;
	size_t len;

	GW_CHECK(h, SOURCE_MAGIC);
	/* After a failure the adapter is closing: what it still delivers is stale. */
	if (s->state == SRC_RETRY || !hub_described(s->hub))
		return;
	if ((len = hub_ingest(s->hub, in)) == 0)
		return;
	source_online(s);
	s->last_frame_wall_us = gw_wall_us();
	account_rate(s, len);
}

void
adapter_source_described(struct adapter_source *h, const struct adapter_track *tracks, int n)
{
	struct media_source *s = h->src;

	GW_CHECK(h, SOURCE_MAGIC);
	hub_describe(s->hub, tracks, n);
	olog_debug(s, "source described: %d tracks", n);
	finish_waits(s, NULL);
}

static void
close_adapter_now(void *arg)
{
	struct media_source *s = arg;

	if (s->astate != NULL)
		s->ops->close(s->astate);
	s->astate = NULL;
}

static int64_t
next_backoff(struct media_source *s)
{
	int64_t b = s->backoff_ms ? s->backoff_ms * 2 : gw.cfg->source_retry_min_ms;

	b = GW_MIN(b, gw.cfg->source_retry_max_ms);
	s->backoff_ms = b;
	return b + (int64_t)(gw_random32() % (uint32_t)(b / 4 + 1));
}

void
adapter_source_failed(struct adapter_source *h, const char *why)
{
	struct media_source *s = h->src;
	int64_t delay;

	GW_CHECK(h, SOURCE_MAGIC);
	if (s->state == SRC_RETRY)
		return;
	snprintf(s->last_error, sizeof(s->last_error), "%s", why);
	delay = next_backoff(s);
	if (!s->failure_logged) {
		olog_warn(s, "source %s: %s; retrying with backoff",
		    s->state == SRC_ONLINE ? "lost" : "unavailable", why);
		s->failure_logged = true;
		s->offline_since_us = gw_mono_us();
	} else {
		olog_debug(s, "source still unavailable: %s; next attempt in %lld ms", why, (long long)delay);
	}
	s->state = SRC_RETRY;
	s->retry_at_us = gw_mono_us() + delay * 1000;
	hub_source_lost(s->hub);
	/* The adapter is inside its own callback: close it after this loop pass. */
	loop_defer(&s->close_adapter, close_adapter_now, s);
	if (!hub_described(s->hub))
		finish_waits(s, why);
}

const char *
adapter_source_ident(const struct adapter_source *h)
{
	return h->src->ident;
}

static enum log_level
adapter_level(enum adapter_log_level level)
{
	return level == ADAPTER_LOG_WARN ? LOG_LVL_WARN : LOG_LVL_DEBUG;
}

bool
adapter_log_enabled(enum adapter_log_level level)
{
	return log_enabled(adapter_level(level));
}

void
adapter_log(enum adapter_log_level level, const char *ident, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(adapter_level(level), ident, fmt, ap);
	va_end(ap);
}

/* --- lifecycle ------------------------------------------------------------------------ */

/* Fingerprint of what makes a source: a change in the model restarts it. */
static void
fingerprint(const struct model_camera *cam, char out[65])
{
	char *text = gw_xasprintf("%s\n%s\n%s\n%zu", cam->adapter, cam->source_uri,
	    cam->source_username ? cam->source_username : "", cam->source_secret_len);
	unsigned char hash[32];
	size_t n = strlen(text);

	text = gw_xrealloc(text, n + 1 + cam->source_secret_len);
	if (cam->source_secret_len)
		memcpy(text + n + 1, cam->source_secret, cam->source_secret_len);
	crypto_sha256(text, n + 1 + cam->source_secret_len, hash);
	gw_hex(hash, sizeof(hash), out);
	free(text);
}

static const char *
why_not_startable(const struct model_camera *cam, const struct adapter_ops **ops)
{
	if (cam == NULL)
		return "camera no longer exists";
	if (!cam->pc.enabled)
		return "camera disabled";
	if ((*ops = adapter_lookup(cam->adapter)) == NULL)
		return "no adapter of that kind";
	return NULL;
}

static void
source_start(struct media_source *s)
{
	const struct model_camera *cam = gw.model ? model_camera(gw.model, s->camera_id) : NULL;
	struct adapter_params p = { .camera_id = s->camera_id, .ident = s->ident, .base = gw.base,
		.timeout_us = gw.cfg->source_timeout_ms * 1000 };
	char password[CRYPTO_SECRET_BUF];
	const char *why;

	loop_defer_cancel(&s->close_adapter);
	close_adapter_now(s);
	s->state = SRC_STARTING;
	if ((why = why_not_startable(cam, &s->ops)) != NULL) {
		adapter_source_failed(&s->handle, why);
		return;
	}
	fingerprint(cam, s->fingerprint);
	p.uri = cam->source_uri;
	p.username = cam->source_username;
	if (cam->source_secret != NULL) {
		if (crypto_open_secret(cam->source_secret, cam->source_secret_len, password) < 0) {
			adapter_source_failed(&s->handle, "cannot decrypt the source credentials (wrong server key?)");
			return;
		}
		p.password = password;
	}
	s->always_on = cam->always_on;
	olog_debug(s, "opening source with the %s adapter", s->ops->name);
	if (s->ops->open(&s->handle, &p, &s->astate) < 0 && s->state != SRC_RETRY)
		adapter_source_failed(&s->handle, "the adapter could not start");
	OPENSSL_cleanse(password, sizeof(password));
}

static struct media_source *
source_find(int64_t camera_id)
{
	struct media_source *s;

	TAILQ_FOREACH(s, &sources, link)
		if (s->camera_id == camera_id)
			return s;
	return NULL;
}

static void
request_keyframe(void *host)
{
	struct media_source *s = host;

	if (s->astate && s->ops->request_keyframe)
		s->ops->request_keyframe(s->astate);
}

static const struct hub_host_ops hub_host = {
	.request_keyframe = request_keyframe,
};

static struct media_source *
source_new(int64_t camera_id)
{
	struct media_source *s = gw_xcalloc(1, sizeof(*s));

	s->magic = SOURCE_MAGIC;
	s->handle.magic = SOURCE_MAGIC;
	s->handle.src = s;
	s->camera_id = camera_id;
	snprintf(s->ident, sizeof(s->ident), "cam=%lld", (long long)camera_id);
	s->hub = hub_new(camera_id, s->ident, &hub_host, s);
	TAILQ_INIT(&s->waits);
	TAILQ_INSERT_TAIL(&sources, s, link);
	s->idle_since_us = gw_mono_us();
	source_start(s);
	return s;
}

static void
source_free(struct media_source *s)
{
	olog_info(s, "source stopped");
	finish_waits(s, "source stopped");
	hub_free(s->hub, "source stopped");
	s->hub = NULL;
	loop_defer_cancel(&s->close_adapter);
	close_adapter_now(s);
	TAILQ_REMOVE(&sources, s, link);
	s->magic = 0;
	s->handle.magic = 0;
	free(s);
}

struct source_wait *
source_get(int64_t camera_id, source_ready_cb cb, void *arg)
{
	struct media_source *s = source_find(camera_id);
	struct source_wait *w;

	if (s == NULL)
		s = source_new(camera_id);
	if (hub_described(s->hub)) {
		cb(arg, s->hub, NULL);
		return NULL;
	}
	w = gw_xcalloc(1, sizeof(*w));
	w->src = s;
	w->cb = cb;
	w->arg = arg;
	w->deadline_us = gw_mono_us() + gw.cfg->describe_timeout_ms * 1000;
	TAILQ_INSERT_TAIL(&s->waits, w, link);
	s->idle_since_us = 0;
	return w;
}

void
source_wait_cancel(struct source_wait *w)
{
	if (w == NULL)
		return;
	TAILQ_REMOVE(&w->src->waits, w, link);
	free(w);
}

/* --- what media.c asks --------------------------------------------------------------- */

static void
fill_info(const struct media_source *s, struct source_info *out)
{
	out->online = s->state == SRC_ONLINE;
	out->bitrate_bps = out->online ? s->bitrate_bps : 0;
	out->last_frame_wall_us = s->last_frame_wall_us;
	out->last_error = s->last_error;
	out->hub = s->hub;
}

bool
source_info(int64_t camera_id, struct source_info *out)
{
	const struct media_source *s = source_find(camera_id);

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return false;
	fill_info(s, out);
	return true;
}

void
source_foreach(void (*fn)(const struct source_info *info, void *arg), void *arg)
{
	const struct media_source *s;
	struct source_info info;

	TAILQ_FOREACH(s, &sources, link) {
		fill_info(s, &info);
		fn(&info, arg);
	}
}

/* --- the janitor and the model ------------------------------------------------------------ */

static void
expire_waits(struct media_source *s, int64_t now)
{
	struct source_wait *w, *next;

	for (w = TAILQ_FIRST(&s->waits); w != NULL; w = next) {
		next = TAILQ_NEXT(w, link);
		if (now < w->deadline_us)
			continue;
		TAILQ_REMOVE(&s->waits, w, link);
		w->cb(w->arg, NULL, s->last_error[0] ? s->last_error : "the source did not answer in time");
		free(w);
	}
}

/* True when the source has been unused for source_idle_timeout. */
static bool
idle_long_enough(struct media_source *s, int64_t now)
{
	if (hub_nreaders(s->hub) > 0 || !TAILQ_EMPTY(&s->waits) || s->always_on) {
		s->idle_since_us = 0;
		return false;
	}
	if (s->idle_since_us == 0)
		s->idle_since_us = now;
	return now - s->idle_since_us >= gw.cfg->source_idle_timeout_ms * 1000;
}

static void
source_janitor(int64_t now)
{
	struct media_source *s, *next;

	for (s = TAILQ_FIRST(&sources); s != NULL; s = next) {
		next = TAILQ_NEXT(s, link);
		expire_waits(s, now);
		if (idle_long_enough(s, now)) {
			source_free(s);
			continue;
		}
		if (s->state == SRC_RETRY && now >= s->retry_at_us)
			source_start(s);
	}
}

/* Cameras changed: stop the removed or disabled, restart the changed, start the always-on. */
static void
source_model_changed(void)
{
	struct media_source *s, *next;
	const struct gw_model *m = gw.model;
	char fp[65];

	for (s = TAILQ_FIRST(&sources); s != NULL; s = next) {
		const struct model_camera *cam = model_camera(m, s->camera_id);

		next = TAILQ_NEXT(s, link);
		if (cam == NULL || !cam->pc.enabled) {
			source_free(s);
			continue;
		}
		s->always_on = cam->always_on;
		fingerprint(cam, fp);
		if (strcmp(fp, s->fingerprint) != 0) {
			olog_info(s, "source settings changed; reconnecting");
			hub_source_lost(s->hub);
			source_start(s);
		}
	}
	for (int i = 0; i < m->ncameras; i++) {
		const struct model_camera *cam = &m->cameras[i];

		if (cam->always_on && cam->pc.enabled && source_find(cam->pc.id) == NULL)
			source_new(cam->pc.id);
	}
}

int
source_init(void)
{
	loop_janitor_add(source_janitor);
	model_on_change(source_model_changed);
	return 0;
}

void
source_shutdown(void)
{
	struct media_source *s;

	while ((s = TAILQ_FIRST(&sources)) != NULL)
		source_free(s);
}
