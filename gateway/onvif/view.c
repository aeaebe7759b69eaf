/*
 * view.c - what one principal sees: the cameras its grant covers now,
 * what its levels permit on each, the tokens derived from camera ids, and
 * its media profiles (see onvif.h).
 *
 * The view is rebuilt for every request from the current model, so a
 * grant that changes or ends changes what the next request sees; nothing
 * of it is kept across requests.
 *
 * Tokens: cam<id> (the fixed profile of a camera), cam<id>_meta (its
 * metadata-only profile, for grants with metadata but no video), vs<id> /
 * as<id> (video and audio source), vsc/asc/vec/aec/meta<id> (the
 * configurations). Profiles an authority creates have random tokens
 * (p + 16 hex, store.c).
 */
#include "gateway/gw.h"
#include "gateway/media.h"
#include "gateway/model.h"
#include "gateway/policy.h"
#include "onvif.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEDIA_CACHE_MAX 65536

/* Stream descriptions seen on running sources, kept after they stop (sorted by id). */
static struct media_memo {
	int64_t camera_id;
	struct cam_media media;
	int picture_w, picture_h;	/* of the last snapshot decoded: the size the SDP did not say */
} *memo;
static int nmemo, memo_cap;

static const char *const cfg_names[CFG_KIND_COUNT] = {
	"VideoSource", "AudioSource", "VideoEncoder", "AudioEncoder", "Metadata",
};
static const char *const cfg_prefixes[CFG_KIND_COUNT] = { "vsc", "asc", "vec", "aec", "meta" };

const char *
onvif_cfg_kind_name(enum cfg_kind k)
{
	return (unsigned)k < CFG_KIND_COUNT ? cfg_names[k] : "";
}

int
onvif_cfg_kind_parse(const char *name)
{
	for (int i = 0; i < CFG_KIND_COUNT; i++)
		if (strcmp(cfg_names[i], name) == 0)
			return i;
	return -1;
}

/* --- stream descriptions ------------------------------------------------------- */

static struct media_memo *
memo_find(int64_t id)
{
	int lo = 0, hi = nmemo - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;

		if (memo[mid].camera_id == id)
			return &memo[mid];
		if (memo[mid].camera_id < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

static void memo_insert(int64_t id, const struct cam_media *m);

static void
memo_put(int64_t id, const struct cam_media *m)
{
	struct media_memo *e = memo_find(id);

	if (e != NULL) {
		e->media = *m;
		return;
	}
	memo_insert(id, m);
}

void
view_note_picture(int64_t camera_id, int width, int height)
{
	struct media_memo *e = memo_find(camera_id);
	struct cam_media m;

	if (e == NULL) {
		view_camera_media(camera_id, &m);
		if ((e = memo_find(camera_id)) == NULL)
			return;
	}
	e->picture_w = width;
	e->picture_h = height;
}

static void
memo_insert(int64_t id, const struct cam_media *m)
{
	int at = 0;

	if (nmemo == MEDIA_CACHE_MAX)
		return;
	if (nmemo == memo_cap) {
		memo_cap = memo_cap ? memo_cap * 2 : 64;
		memo = gw_xrealloc(memo, (size_t)memo_cap * sizeof(*memo));
	}
	while (at < nmemo && memo[at].camera_id < id)
		at++;
	memmove(&memo[at + 1], &memo[at], (size_t)(nmemo - at) * sizeof(*memo));
	memset(&memo[at], 0, sizeof(memo[at]));
	memo[at].camera_id = id;
	memo[at].media = *m;
	nmemo++;
}

void
view_forget_media(void)
{
	free(memo);
	memo = NULL;
	nmemo = memo_cap = 0;
}

static bool
is_video_codec(const char *c)
{
	return strcmp(c, "H264") == 0 || strcmp(c, "H265") == 0 || strcmp(c, "JPEG") == 0 ||
	    strcmp(c, "MP4V-ES") == 0;
}

static void
from_status(const struct media_status *st, struct cam_media *out)
{
	memset(out, 0, sizeof(*out));
	out->known = true;
	for (int i = 0; i < st->ntracks && i < 4; i++) {
		const struct media_track_status *t = &st->tracks[i];

		if (strcmp(t->codec, "metadata") == 0) {
			out->metadata = true;
		} else if (is_video_codec(t->codec)) {
			if (out->video[0] != '\0')
				continue;
			snprintf(out->video, sizeof(out->video), "%s", t->codec);
			out->width = t->width;
			out->height = t->height;
		} else if (out->audio[0] == '\0') {
			snprintf(out->audio, sizeof(out->audio), "%s",
			    strcmp(t->codec, "MPEG4-GENERIC") == 0 ? "AAC" : t->codec);
			out->audio_rate = t->clock_rate;
			out->audio_channels = 1;
		}
	}
}

/*
 * A camera whose source never ran on this node is assumed to send H.264
 * video of unknown size (0x0): what most cameras send, and what the
 * configurations then claim until the source has been seen.
 */
void
view_camera_media(int64_t camera_id, struct cam_media *out)
{
	struct media_status st;
	const struct media_memo *e;

	media_camera_status(camera_id, &st);
	if (st.active && st.ntracks > 0) {
		from_status(&st, out);
		memo_put(camera_id, out);
	} else if ((e = memo_find(camera_id)) != NULL) {
		*out = e->media;
	} else {
		memset(out, 0, sizeof(*out));
		snprintf(out->video, sizeof(out->video), "H264");
	}
	if (out->width == 0 && (e = memo_find(camera_id)) != NULL && e->picture_w > 0) {
		out->width = e->picture_w;
		out->height = e->picture_h;
	}
	out->online = st.online;
	out->readers = st.readers;
	out->bitrate_bps = st.bitrate_bps;
}

/* --- the view ------------------------------------------------------------------ */

/* The cameras the model says |p| may list now, each with what its grant's levels permit. */
int
view_build(const struct gw_principal *p, struct onvif_view *v)
{
	struct gw_model *m = gw.model;
	const struct model_camera **cams = NULL;
	unsigned caps;
	int n;

	memset(v, 0, sizeof(*v));
	if (m == NULL)
		return 0;
	model_ref(m);
	v->model = m;
	v->grant = model_grant(m, p->grant_id);
	if (v->grant == NULL || model_policy_stale())
		return 0;
	caps = policy_caps(v->grant->pg.levels);
	n = model_cameras_for(m, p, gw_wall_us(), &cams);
	v->cams = gw_xcalloc((size_t)GW_MAX(n, 1), sizeof(*v->cams));
	for (int i = 0; i < n; i++) {
		struct view_cam *vc = &v->cams[v->ncams++];

		vc->cam = cams[i];
		vc->caps = caps;
		view_camera_media(cams[i]->pc.id, &vc->media);
	}
	free(cams);
	return 0;
}

void
view_free(struct onvif_view *v)
{
	free(v->cams);
	if (v->model != NULL)
		model_unref(v->model);
	memset(v, 0, sizeof(*v));
}

unsigned
view_caps(const struct onvif_view *v)
{
	return v->grant ? policy_caps(v->grant->pg.levels) : 0;
}

const struct view_cam *
view_find(const struct onvif_view *v, int64_t camera_id)
{
	int lo = 0, hi = v->ncams - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		int64_t id = v->cams[mid].cam->pc.id;

		if (id == camera_id)
			return &v->cams[mid];
		if (id < camera_id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

unsigned
view_cfgs_allowed(const struct view_cam *vc)
{
	unsigned cfgs = 0;

	if (vc == NULL)
		return 0;
	if ((vc->caps & CAP_VIDEO) && vc->media.video[0] != '\0')
		cfgs |= CFG_BIT(CFG_VIDEO_SOURCE) | CFG_BIT(CFG_VIDEO_ENCODER);
	if ((vc->caps & CAP_AUDIO) && vc->media.audio[0] != '\0')
		cfgs |= CFG_BIT(CFG_AUDIO_SOURCE) | CFG_BIT(CFG_AUDIO_ENCODER);
	if (vc->caps & CAP_METADATA)
		cfgs |= CFG_BIT(CFG_METADATA);
	return cfgs;
}

/* --- tokens ------------------------------------------------------------------------ */

void
view_cfg_token(enum cfg_kind k, int64_t camera_id, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%lld", cfg_prefixes[k], (long long)camera_id);
}

void
view_token(enum tok_kind k, int64_t camera_id, char *out, size_t outlen)
{
	static const char *const prefix[] = { "cam", "cam", "vs", "as" };

	if (k > TOK_AUDIO_SOURCE) {
		out[0] = '\0';
		return;
	}
	snprintf(out, outlen, "%s%lld%s", prefix[k], (long long)camera_id,
	    k == TOK_META_PROFILE ? "_meta" : "");
}

/* A canonical positive id (no sign, no leading zero) at |s|, ending at |end| or NUL. */
static bool
parse_id(const char *s, const char **end, int64_t *id)
{
	int64_t v = 0;
	int n = 0;

	if (*s < '1' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++, n++) {
		if (n == 18)
			return false;
		v = v * 10 + (*s - '0');
	}
	*end = s;
	*id = v;
	return true;
}

bool
view_parse_token(const char *tok, enum tok_kind *kind, enum cfg_kind *cfg, int64_t *camera_id)
{
	static const char *const order[] = { "meta", "vsc", "asc", "vec", "aec" };
	const char *end;

	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		size_t n = strlen(order[i]);

		if (strncmp(tok, order[i], n) == 0 && parse_id(tok + n, &end, camera_id) && *end == '\0') {
			*kind = TOK_CFG;
			for (int k = 0; k < CFG_KIND_COUNT; k++)
				if (strcmp(cfg_prefixes[k], order[i]) == 0)
					*cfg = (enum cfg_kind)k;
			return true;
		}
	}
	if ((strncmp(tok, "vs", 2) == 0 || strncmp(tok, "as", 2) == 0) &&
	    parse_id(tok + 2, &end, camera_id) && *end == '\0') {
		*kind = tok[0] == 'v' ? TOK_VIDEO_SOURCE : TOK_AUDIO_SOURCE;
		return true;
	}
	if (strncmp(tok, "cam", 3) == 0 && parse_id(tok + 3, &end, camera_id)) {
		if (*end == '\0')
			*kind = TOK_PROFILE;
		else if (strcmp(end, "_meta") == 0)
			*kind = TOK_META_PROFILE;
		else
			return false;
		return true;
	}
	return false;
}

/* --- profiles --------------------------------------------------------------------- */

/* Copy at most |max| bytes of UTF-8 |s|, never cutting a character. */
static void
copy_utf8(char *out, size_t outlen, const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max)
		n = max;
	if (n >= outlen)
		n = outlen - 1;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	memcpy(out, s, n);
	out[n] = '\0';
}

static bool
fixed_profile(const struct view_cam *vc, bool meta, struct onvif_profile *p)
{
	unsigned allowed = view_cfgs_allowed(vc);
	char name[128];

	memset(p, 0, sizeof(*p));
	p->fixed = true;
	p->camera_id = vc->cam->pc.id;
	if (!meta) {
		if (!(allowed & CFG_BIT(CFG_VIDEO_ENCODER)))
			return false;
		p->cfgs = allowed;
		view_token(TOK_PROFILE, p->camera_id, p->token, sizeof(p->token));
		copy_utf8(p->name, sizeof(p->name), vc->cam->name, 64);
		return true;
	}
	if ((vc->caps & CAP_VIDEO) || !(allowed & CFG_BIT(CFG_METADATA)))
		return false;
	p->cfgs = CFG_BIT(CFG_METADATA);
	view_token(TOK_META_PROFILE, p->camera_id, p->token, sizeof(p->token));
	snprintf(name, sizeof(name), "%.48s metadata", vc->cam->name);
	copy_utf8(p->name, sizeof(p->name), name, 64);
	return true;
}

/*
 * Profiles belong to the authority, but one bound to a camera is for the
 * principals that may act on that camera: another grant of the same
 * authority neither sees nor changes it. An empty profile (no camera yet)
 * is the authority's to share.
 */
bool
view_sees_profile(const struct onvif_view *v, const struct store_profile *sp)
{
	return sp->camera_id == 0 || view_find(v, sp->camera_id) != NULL;
}

const struct store_profile *
view_store_profile(const struct onvif_view *v, const struct authority_store *st, const char *token)
{
	const struct store_profile *sp = st ? onvif_store_find_profile(st, token) : NULL;

	return sp != NULL && view_sees_profile(v, sp) ? sp : NULL;
}

static void
stored_profile(const struct onvif_view *v, const struct store_profile *sp, struct onvif_profile *p)
{
	const struct view_cam *vc = sp->camera_id ? view_find(v, sp->camera_id) : NULL;

	memset(p, 0, sizeof(*p));
	snprintf(p->token, sizeof(p->token), "%s", sp->token);
	snprintf(p->name, sizeof(p->name), "%s", sp->name);
	p->camera_id = sp->camera_id;
	/* Configurations of a camera the grant no longer covers (or permits) are left out. */
	p->cfgs = sp->cfgs & view_cfgs_allowed(vc);
}

int
view_profiles(const struct onvif_view *v, const struct authority_store *st,
    struct onvif_profile **out)
{
	int n = 0, cap = 2 * v->ncams + (st ? st->nprofiles : 0);
	struct onvif_profile *p = gw_xcalloc((size_t)(cap ? cap : 1), sizeof(*p));

	for (int i = 0; i < v->ncams; i++) {
		if (fixed_profile(&v->cams[i], false, &p[n]))
			n++;
		if (fixed_profile(&v->cams[i], true, &p[n]))
			n++;
	}
	for (int i = 0; st != NULL && i < st->nprofiles; i++)
		if (view_sees_profile(v, &st->profiles[i]))
			stored_profile(v, &st->profiles[i], &p[n++]);
	*out = p;
	return n;
}

bool
view_profile(const struct onvif_view *v, const struct authority_store *st, const char *token,
    struct onvif_profile *out)
{
	enum tok_kind kind;
	enum cfg_kind cfg;
	int64_t id;
	const struct view_cam *vc;
	const struct store_profile *sp;

	if (view_parse_token(token, &kind, &cfg, &id)) {
		if ((kind != TOK_PROFILE && kind != TOK_META_PROFILE) || (vc = view_find(v, id)) == NULL)
			return false;
		return fixed_profile(vc, kind == TOK_META_PROFILE, out);
	}
	if ((sp = view_store_profile(v, st, token)) == NULL)
		return false;
	stored_profile(v, sp, out);
	return true;
}
