/*
 * eff_verify.c - the EFF verifier (eff_verify.h).
 *
 * One walk over the top-level boxes (headers, moov and moofs read whole,
 * mdat only hashed), one sequential pass hashing [0, meta) once for every
 * signer (each then hashes its own view of meta), and, only when a
 * signature fails, a second pass over the digest index to say where.
 */
#include "vssgate_build.h"

#include "eff_verify.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T(a, b, c, d) MP4_FOURCC(a, b, c, d)
#define CHUNK (4u << 20)

static const struct mp4r_limits vlim = { .max_box = EFF_V_MAX_BOX, .max_samples = 1u << 20 };

struct vstate {
	const struct eff_vreader *r;
	struct eff_vreport *rep;
	uint8_t *moov;			/* kept: the tracks point into it */
	struct mp4r_movie movie;
	bool have_movie, have_ftyp;
	uint32_t last_seq;
	uint64_t meta_pos, meta_size;	/* 0: none */
	uint8_t *meta;
	struct eff_meta_view mv;
	uint64_t end_dts[MP4_MAX_TRACKS];
	bool seen[MP4_MAX_TRACKS];
};

static void __attribute__((format(printf, 5, 6)))
finding(struct eff_vreport *rep, bool error, uint64_t off, uint32_t box, const char *fmt, ...)
{
	struct eff_finding *f;
	va_list ap;

	if (error)
		rep->structure_ok = false;
	if (rep->nfind == EFF_V_MAX_FINDINGS) {
		rep->nfind_more++;
		return;
	}
	f = &rep->find[rep->nfind++];
	f->error = error;
	f->offset = off;
	for (int i = 0; i < 4; i++) {
		char c = (char)(box >> (24 - 8 * i));

		f->box[i] = box ? (c >= 0x20 && c < 0x7f ? c : '?') : '\0';
	}
	f->box[4] = '\0';
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof(f->text), fmt, ap);
	va_end(ap);
}

static char *
fourcc(uint32_t t, char out[5])
{
	for (int i = 0; i < 4; i++) {
		char c = (char)(t >> (24 - 8 * i));

		out[i] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	out[4] = '\0';
	return out;
}

static uint8_t *
read_box(struct vstate *v, const struct mp4r_box *b)
{
	uint8_t *p;

	if (b->size > EFF_V_MAX_BOX) {
		finding(v->rep, true, b->pos, b->type, "box larger than %u bytes", EFF_V_MAX_BOX);
		return NULL;
	}
	if ((p = malloc((size_t)b->size)) == NULL || v->r->read(v->r->arg, b->pos, p,
	    (size_t)b->size) < 0) {
		finding(v->rep, true, b->pos, b->type, "cannot read the box");
		free(p);
		return NULL;
	}
	return p;
}

/* --- structure -------------------------------------------------------------------- */

static void
span_copy(char *dst, size_t cap, struct mp4_span s)
{
	size_t n = s.len < cap - 1 ? s.len : cap - 1;

	memcpy(dst, s.p, n);
	dst[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)dst[i] < 0x20)
			dst[i] = '?';
}

static bool
events_handler(const uint8_t *moov, size_t len, uint64_t base, int i)
{
	char path[64];
	struct mp4r_box b;
	const char *name = EFF_EVENTS_HANDLER_NAME;

	snprintf(path, sizeof(path), "moov/trak[%d]/mdia/hdlr", i);
	return mp4r_find(moov, len, base, path, &vlim, &b) == 1 && b.body_len >= 24 &&
	    b.body_len - 24 >= strlen(name) && memcmp(b.body + 24, name, strlen(name)) == 0;
}

static void
check_moov(struct vstate *v, const struct mp4r_box *b)
{
	struct mp4r_iter it;
	struct mp4r_box m, l;
	int rc;

	if (v->have_movie || v->moov != NULL) {
		finding(v->rep, true, b->pos, b->type, "a second moov");
		return;
	}
	if ((v->moov = read_box(v, b)) == NULL)
		return;
	mp4r_iter_init(&it, v->moov, (size_t)b->size, b->pos, &vlim);
	if (mp4r_iter_next(&it, &m) != 1 || (rc = mp4r_moov_parse(&it, &m, &v->movie)) < 0) {
		finding(v->rep, true, b->pos, b->type, "moov cannot be read");
		return;
	}
	v->have_movie = true;
	if (!v->movie.fragmented)
		finding(v->rep, true, b->pos, b->type, "moov has no mvex: not a fragmented file");
	v->rep->ntracks = v->movie.ntracks;
	for (int i = 0; i < v->movie.ntracks; i++) {
		const struct mp4r_track *t = &v->movie.track[i];

		v->rep->track[i] = (struct eff_vtrack){ .track_id = t->track_id,
		    .handler = t->handler, .codec = t->codec, .timescale = t->timescale,
		    .width = t->width, .height = t->height,
		    .events = events_handler(v->moov, (size_t)b->size, b->pos, i) };
	}
	if (mp4r_find(v->moov, (size_t)b->size, b->pos, "moov/udta/loci", &vlim, &l) == 1) {
		struct eff_loci_view lv;

		if (eff_loci_parse(l.body, l.body_len, &lv) == 0) {
			v->rep->has_location = true;
			span_copy(v->rep->location_name, sizeof(v->rep->location_name), lv.name);
			v->rep->latitude = lv.latitude / 65536.0;
			v->rep->longitude = lv.longitude / 65536.0;
		} else {
			finding(v->rep, true, l.pos, l.type, "loci cannot be read");
		}
	}
}

static int
track_index(const struct vstate *v, uint32_t id)
{
	for (int i = 0; i < v->movie.ntracks; i++)
		if (v->movie.track[i].track_id == id)
			return i;
	return -1;
}

static void
note_gap(struct vstate *v, int i, uint64_t from, uint64_t to)
{
	struct eff_vtrack *t = &v->rep->track[i];
	double a = (double)from / t->timescale, b = (double)to / t->timescale;

	if (b - a < EFF_V_GAP_MIN || t->handler == T('m', 'e', 't', 'a'))
		return;
	if (v->rep->ngaps < EFF_V_MAX_GAPS)
		v->rep->gaps[v->rep->ngaps++] = (struct eff_vgap){ t->track_id, a, b };
}

static void
check_traf(struct vstate *v, const struct mp4r_frag *f, const struct mp4r_traf *tr)
{
	int i = track_index(v, tr->track_id);
	struct eff_vtrack *t;
	char n[5];

	if (i < 0) {
		finding(v->rep, true, f->moof_pos, T('t', 'r', 'a', 'f'),
		    "traf of track %u, which moov does not have", tr->track_id);
		return;
	}
	t = &v->rep->track[i];
	if (!tr->has_tfdt)
		finding(v->rep, true, f->moof_pos, T('t', 'r', 'a', 'f'),
		    "traf of track %u has no tfdt (the EFF requires one in every traf)", tr->track_id);
	if (v->seen[i] && tr->base_dts < v->end_dts[i])
		finding(v->rep, true, f->moof_pos, T('m', 'o', 'o', 'f'),
		    "track %u goes back in time (%s %.3f s after %.3f s): fragments were reordered "
		    "or repeated", tr->track_id, fourcc(T('t', 'f', 'd', 't'), n),
		    (double)tr->base_dts / t->timescale, (double)v->end_dts[i] / t->timescale);
	else if (v->seen[i] && tr->base_dts > v->end_dts[i])
		note_gap(v, i, v->end_dts[i], tr->base_dts);
	if (!v->seen[i])
		t->first_dts = tr->base_dts;
	v->seen[i] = t->seen = true;
	v->end_dts[i] = tr->base_dts + tr->duration;
	t->end_dts = v->end_dts[i];
	t->samples += tr->nsamples;
}

static void
check_moof(struct vstate *v, const struct mp4r_box *b, const struct mp4r_box *mdat)
{
	struct mp4r_iter it;
	struct mp4r_box m;
	struct mp4r_frag f;
	uint8_t *p;

	if (!v->have_movie) {
		finding(v->rep, true, b->pos, b->type, "moof before moov");
		return;
	}
	if ((p = read_box(v, b)) == NULL)
		return;
	mp4r_iter_init(&it, p, (size_t)b->size, b->pos, &vlim);
	if (mp4r_iter_next(&it, &m) != 1 || mp4r_frag_parse(&it, &m, &v->movie, &f) < 0) {
		finding(v->rep, true, b->pos, b->type, "moof cannot be read");
		goto out;
	}
	v->rep->fragments++;
	if (f.seq != v->last_seq + 1)
		finding(v->rep, true, b->pos, b->type, "fragment %u has sequence number %u where %u "
		    "was due: a fragment was removed, inserted or moved here", v->rep->fragments,
		    f.seq, v->last_seq + 1);
	if (f.seq > v->last_seq)
		v->last_seq = f.seq;
	if (mdat == NULL)
		finding(v->rep, true, b->pos, b->type, "moof not followed by its mdat");
	else if (mp4r_frag_check_mdat(&f, mdat) < 0)
		finding(v->rep, true, mdat->pos, mdat->type, "samples of the moof at offset %llu lie "
		    "outside this mdat", (unsigned long long)b->pos);
	for (int i = 0; i < f.ntraf; i++)
		check_traf(v, &f, &f.traf[i]);
out:
	free(p);
}

static int
header_at(struct vstate *v, uint64_t pos, struct mp4r_box *b)
{
	uint8_t h[32];
	size_t n = (size_t)(v->r->size - pos < sizeof(h) ? v->r->size - pos : sizeof(h));
	int rc;

	if (v->r->read(v->r->arg, pos, h, n) < 0)
		return PROTO_EBADMSG;
	if ((rc = mp4r_box_header(h, n, b)) < 0)
		return rc;
	b->pos = pos;
	return 0;
}

/* A box that does not fit in the file: the file was cut. */
static bool
torn(struct vstate *v, const struct mp4r_box *b, int rc)
{
	char n[5];

	if (rc == PROTO_AGAIN) {
		finding(v->rep, true, b->pos, 0, "the file ends inside a box header at offset %llu: "
		    "the file was truncated", (unsigned long long)b->pos);
		return true;
	}
	if (rc < 0 || b->size == 0) {
		finding(v->rep, true, b->pos, 0, "no valid box at offset %llu", (unsigned long long)b->pos);
		return true;
	}
	if (b->size > v->r->size - b->pos) {
		finding(v->rep, true, b->pos, b->type, "the file ends inside box '%s' at offset %llu "
		    "(its size is %llu, %llu bytes are missing): the file was truncated",
		    fourcc(b->type, n), (unsigned long long)b->pos, (unsigned long long)b->size,
		    (unsigned long long)(b->size - (v->r->size - b->pos)));
		return true;
	}
	return false;
}

static void
check_box(struct vstate *v, const struct mp4r_box *b, int nth)
{
	struct mp4r_box next;
	bool has_next;

	switch (b->type) {
	case T('f', 't', 'y', 'p'): {
		uint8_t brand[4];

		v->have_ftyp = true;
		if (nth != 0 || b->size < 16 || v->r->read(v->r->arg, b->pos + 8, brand, 4) < 0 ||
		    proto_rd32(brand) != T('i', 's', 'o', 'm'))
			finding(v->rep, true, b->pos, b->type, "ftyp must come first with brand isom");
		break;
	}
	case T('m', 'o', 'o', 'v'):
		check_moov(v, b);
		break;
	case T('m', 'o', 'o', 'f'):
		has_next = b->pos + b->size < v->r->size &&
		    header_at(v, b->pos + b->size, &next) == 0 && next.type == T('m', 'd', 'a', 't') &&
		    next.size != 0 && next.size <= v->r->size - next.pos;
		check_moof(v, b, has_next ? &next : NULL);
		break;
	case T('m', 'e', 't', 'a'):
		if (v->meta_pos != 0)
			finding(v->rep, true, b->pos, b->type, "a second file-level meta");
		else {
			v->meta_pos = b->pos;
			v->meta_size = b->size;
		}
		break;
	default:
		break;
	}
}

static void
walk(struct vstate *v)
{
	uint64_t pos = 0, last_pos = 0;
	uint32_t last_type = 0;
	struct mp4r_box b;
	int nth = 0, rc;
	char n[5];

	while (pos < v->r->size) {
		rc = header_at(v, pos, &b);
		if (rc < 0)
			b.pos = pos;
		if (torn(v, &b, rc))
			return;
		check_box(v, &b, nth++);
		last_pos = pos;
		last_type = b.type;
		pos += b.size;
	}
	if (!v->have_ftyp)
		finding(v->rep, true, 0, 0, "no ftyp");
	if (!v->have_movie)
		finding(v->rep, true, 0, 0, "no moov: not a movie");
	if (v->meta_pos == 0)
		finding(v->rep, true, v->r->size, T('m', 'e', 't', 'a'), "no file-level meta: the file "
		    "is not signed, or its end was cut off");
	else if (last_type != T('m', 'e', 't', 'a'))
		finding(v->rep, true, last_pos, last_type, "'%s' after the meta box: the EFF meta must "
		    "be the last box (those bytes are covered by isosign's hash, not oxfplayer's)",
		    fourcc(last_type, n));
}

/* --- the meta box ----------------------------------------------------------------- */

static void
note_suep(struct vstate *v)
{
	struct eff_suep_view *s = &v->mv.suep;
	struct eff_vreport *rep = v->rep;

	rep->has_suep = true;
	span_copy(rep->unit_name, sizeof(rep->unit_name), s->unit_name);
	span_copy(rep->unit_url, sizeof(rep->unit_url), s->unit_url);
	span_copy(rep->unit_mac, sizeof(rep->unit_mac), s->unit_mac);
	span_copy(rep->operator_name, sizeof(rep->operator_name), s->operator_name);
	rep->export_time_us = eff_1904_to_unix_us(s->unit_time_1904);
	for (uint32_t k = 0; k < s->ntracks; k++) {
		int i = track_index(v, s->track[k].track_id);

		if (i < 0) {
			finding(rep, true, v->mv.suep_pos, T('s', 'u', 'e', 'p'),
			    "suep names track %u, which moov does not have", s->track[k].track_id);
			continue;
		}
		span_copy(rep->track[i].source_name, sizeof(rep->track[i].source_name),
		    s->track[k].name);
		span_copy(rep->track[i].source_url, sizeof(rep->track[i].source_url), s->track[k].url);
		span_copy(rep->track[i].source_mac, sizeof(rep->track[i].source_mac), s->track[k].mac);
	}
	if (s->version != 1)
		finding(rep, true, v->mv.suep_pos, T('s', 'u', 'e', 'p'), "suep version %u (1 expected)",
		    s->version);
	if ((int)s->ntracks != v->movie.ntracks)
		finding(rep, true, v->mv.suep_pos, T('s', 'u', 'e', 'p'), "suep lists %u tracks, the "
		    "file has %d (it shall describe every track)", s->ntracks, v->movie.ntracks);
}

static void
check_signer_boxes(struct vstate *v, int k)
{
	const struct eff_signer_view *s = &v->mv.signer[k];
	struct eff_vsigner *o = &v->rep->signer[k];

	o->sinf_pos = s->sinf_pos;
	o->cert_pos = s->cert_pos;
	fourcc(s->scheme_type, o->scheme);
	if (!s->has_schm)
		finding(v->rep, true, s->sinf_pos, T('s', 'i', 'n', 'f'), "signer %d: no schm", k + 1);
	else if (s->scheme_type == EFF_SCHEME_OEFF_UPPER)
		finding(v->rep, false, s->sinf_pos, T('s', 'c', 'h', 'm'), "signer %d: scheme written as "
		    "'OEFF' (as isosign does; the EFF says 'oeff'): accepted", k + 1);
	else if (s->scheme_type != EFF_SCHEME_OEFF)
		finding(v->rep, true, s->sinf_pos, T('s', 'c', 'h', 'm'), "signer %d: scheme '%s' is "
		    "not the EFF's 'oeff'", k + 1, o->scheme);
	else if (s->scheme_version != EFF_SCHEME_VERSION)
		finding(v->rep, false, s->sinf_pos, T('s', 'c', 'h', 'm'), "signer %d: scheme version "
		    "0x%08x (0x00010000 expected): accepted", k + 1, s->scheme_version);
	if (s->cstb_in_schi)
		finding(v->rep, false, s->sinf_pos, T('c', 's', 't', 'b'), "signer %d: cstb inside schi "
		    "(as isosign writes it; the EFF puts it in sinf or meta): accepted", k + 1);
	if (s->nsibo != 1 || s->ncert != 1)
		finding(v->rep, true, s->sinf_pos, T('s', 'c', 'h', 'i'), "signer %d: %d sibo and %d "
		    "cert boxes (one of each expected)", k + 1, s->nsibo, s->ncert);
	if (s->auib.len > 0)
		span_copy(o->auib, sizeof(o->auib), s->auib);
}

static void
check_meta(struct vstate *v)
{
	struct mp4r_iter it;
	struct mp4r_box b;
	int rc;

	if (v->meta_pos == 0)
		return;
	b = (struct mp4r_box){ .type = T('m', 'e', 't', 'a'), .pos = v->meta_pos, .size = v->meta_size };
	if ((v->meta = read_box(v, &b)) == NULL)
		return;
	mp4r_iter_init(&it, v->meta, (size_t)v->meta_size, v->meta_pos, &vlim);
	if (mp4r_iter_next(&it, &b) != 1 || (rc = eff_meta_parse(&it, &b, &v->mv)) < 0) {
		finding(v->rep, true, v->meta_pos, T('m', 'e', 't', 'a'), "the meta box cannot be read");
		v->mv.nsigners = 0;
		return;
	}
	if (v->mv.nsuep != 1)
		finding(v->rep, true, v->meta_pos, T('s', 'u', 'e', 'p'), "%d suep boxes (exactly one "
		    "expected)", v->mv.nsuep);
	if (v->mv.has_suep)
		note_suep(v);
	if (!v->mv.has_ipro || v->mv.nipro != 1)
		finding(v->rep, true, v->meta_pos, T('i', 'p', 'r', 'o'), "%d ipro boxes (exactly one "
		    "expected)", v->mv.nipro);
	else if (v->mv.protection_count != 1)
		finding(v->rep, false, v->mv.ipro_pos, T('i', 'p', 'r', 'o'), "protection_count %u "
		    "(the EFF keeps it 1)", v->mv.protection_count);
	if (v->mv.has_ipro && v->mv.nsigners == 0)
		finding(v->rep, true, v->mv.ipro_pos, T('i', 'p', 'r', 'o'), "no sinf: not signed");
	v->rep->nsigners = v->mv.nsigners;
	for (int k = 0; k < v->mv.nsigners; k++)
		check_signer_boxes(v, k);
}

/* --- signatures ------------------------------------------------------------------- */

/* A buffer for reading [from, to) in pieces: no larger than the range. */
static uint8_t *
chunk_for(uint64_t from, uint64_t to)
{
	return malloc(to - from < CHUNK ? (size_t)(to - from) + 1 : CHUNK);
}

static int
hash_range(struct vstate *v, uint64_t from, uint64_t to, EVP_MD_CTX **ctx, int nctx)
{
	uint8_t *buf = chunk_for(from, to);

	if (buf == NULL)
		return -1;
	while (from < to) {
		size_t n = (size_t)(to - from < CHUNK ? to - from : CHUNK);

		if (v->r->read(v->r->arg, from, buf, n) < 0) {
			free(buf);
			return -1;
		}
		for (int i = 0; i < nctx; i++)
			EVP_DigestUpdate(ctx[i], buf, n);
		from += n;
	}
	free(buf);
	return 0;
}

static void
set_size(uint8_t *p, size_t hdr, uint64_t size)
{
	if (hdr >= 16 && proto_rd32(p) == 1) {
		proto_wr32(p + 8, (uint32_t)(size >> 32));
		proto_wr32(p + 12, (uint32_t)size);
	} else {
		proto_wr32(p, (uint32_t)size);
	}
}

/* Signer k's view of the meta box: later sinfs gone, its sibo zeroed. */
static void
hash_meta_for(struct vstate *v, int k, EVP_MD_CTX *ctx)
{
	const struct eff_signer_view *s = &v->mv.signer[k];
	uint64_t cut = s->sinf_pos + s->sinf_size, ipro_end = v->mv.ipro_pos + v->mv.ipro_size;
	uint64_t removed = ipro_end - cut;
	size_t m = (size_t)(cut - v->meta_pos), ipro = (size_t)(v->mv.ipro_pos - v->meta_pos);
	uint8_t *copy = malloc(m);

	if (copy == NULL)
		return;
	memcpy(copy, v->meta, m);
	set_size(copy, v->mv.hdr, v->meta_size - removed);
	set_size(copy + ipro, v->mv.ipro_hdr, v->mv.ipro_size - removed);
	memset(copy + (s->sibo_pos - v->meta_pos), 0, s->sibo.len);
	EVP_DigestUpdate(ctx, copy, m);
	EVP_DigestUpdate(ctx, v->meta + (ipro_end - v->meta_pos),
	    (size_t)(v->meta_pos + v->meta_size - ipro_end));
	free(copy);
}

static bool
pss_verify(EVP_PKEY *key, const uint8_t md[32], const struct mp4_span sig, int salt)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(key, NULL);
	bool ok = pc != NULL && EVP_PKEY_verify_init(pc) > 0 &&
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0 &&
	    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) > 0 &&
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()) > 0 &&
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, salt) > 0 &&
	    EVP_PKEY_verify(pc, sig.p, sig.len, md, 32) == 1;

	EVP_PKEY_CTX_free(pc);
	ERR_clear_error();
	return ok;
}

static void
asn1_time(const ASN1_TIME *t, char *out, size_t cap)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n;

	out[0] = '\0';
	if (b != NULL && ASN1_TIME_print(b, t) == 1 && (n = BIO_read(b, out, (int)cap - 1)) > 0)
		out[n] = '\0';
	BIO_free(b);
}

static X509 *
describe_cert(struct vstate *v, int k)
{
	const struct eff_signer_view *s = &v->mv.signer[k];
	struct eff_vsigner *o = &v->rep->signer[k];
	const uint8_t *p = s->cert.p;
	uint8_t md[32];
	X509 *x = s->has_cert ? d2i_X509(NULL, &p, (long)s->cert.len) : NULL;
	EVP_PKEY *key;

	if (x == NULL) {
		ERR_clear_error();
		finding(v->rep, true, s->cert_pos, T('c', 'e', 'r', 't'), "signer %d: the certificate "
		    "is not a DER X.509 certificate", k + 1);
		return NULL;
	}
	X509_NAME_oneline(X509_get_subject_name(x), o->subject, sizeof(o->subject));
	X509_NAME_oneline(X509_get_issuer_name(x), o->issuer, sizeof(o->issuer));
	asn1_time(X509_get0_notBefore(x), o->not_before, sizeof(o->not_before));
	asn1_time(X509_get0_notAfter(x), o->not_after, sizeof(o->not_after));
	SHA256(s->cert.p, s->cert.len, md);
	for (int i = 0; i < 32; i++)
		snprintf(o->sha256 + 2 * i, 3, "%02x", md[i]);
	key = X509_get0_pubkey(x);
	o->key_bits = key ? EVP_PKEY_get_bits(key) : 0;
	return x;
}

static void
verify_signer(struct vstate *v, int k, EVP_MD_CTX *prefix)
{
	const struct eff_signer_view *s = &v->mv.signer[k];
	struct eff_vsigner *o = &v->rep->signer[k];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	X509 *x = describe_cert(v, k);
	EVP_PKEY *key = x ? X509_get0_pubkey(x) : NULL;
	uint8_t md[32];

	if (ctx == NULL || key == NULL || !s->has_sibo)
		goto out;		/* a missing sibo or cert is already a finding */
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA || o->key_bits < 2048) {
		finding(v->rep, true, s->cert_pos, T('c', 'e', 'r', 't'), "signer %d: the key is not "
		    "RSA of at least 2048 bits", k + 1);
		goto out;
	}
	if (s->sigc.len > 0) {
		finding(v->rep, true, s->sinf_pos, T('s', 'i', 'g', 'C'), "signer %d: a non-default "
		    "signature algorithm (sigC), which this verifier does not implement", k + 1);
		goto out;
	}
	EVP_MD_CTX_copy_ex(ctx, prefix);
	hash_meta_for(v, k, ctx);
	EVP_DigestFinal_ex(ctx, md, NULL);
	o->sig_ok = pss_verify(key, md, s->sibo, 20);
	if (!o->sig_ok)
		o->sig_ok_other_salt = pss_verify(key, md, s->sibo, RSA_PSS_SALTLEN_AUTO);
out:
	X509_free(x);
	EVP_MD_CTX_free(ctx);
}

/* --- where: the digest index ------------------------------------------------------- */

/* Is the box recorded at |off| (|type|, |size| bytes with what follows in its entry) still there? */
static bool
same_place(struct vstate *v, uint32_t type, uint64_t off, uint64_t size)
{
	struct mp4r_box b;
	uint64_t end = off + size, pos = off;

	if (header_at(v, off, &b) < 0 || b.type != type)
		return false;
	while (pos < end && header_at(v, pos, &b) == 0 && b.size > 0)
		pos += b.size;
	return pos == end;
}

static void
report_entry(struct vstate *v, uint32_t type, uint64_t off, uint64_t size, bool *shifted)
{
	char n[5];

	if (type == T('c', 'e', 'r', 't'))
		finding(v->rep, true, off, type, "the certificate at offset %llu is not the one the "
		    "export was signed with: it was replaced", (unsigned long long)off);
	else if (off >= v->meta_pos)
		finding(v->rep, true, off, type, "box '%s' at offset %llu was changed after signing",
		    fourcc(type, n), (unsigned long long)off);
	else if (same_place(v, type, off, size))
		finding(v->rep, true, off, type, "the bytes at offset %llu..%llu ('%s'%s) are not "
		    "those that were signed: the media or headers inside were changed",
		    (unsigned long long)off, (unsigned long long)(off + size), fourcc(type, n),
		    type == T('m', 'o', 'o', 'f') ? " and its mdat" : "");
	else {
		finding(v->rep, true, off, type, "the boxes from offset %llu on are not those that "
		    "were signed ('%s' of %llu bytes was here): boxes were removed, inserted or "
		    "moved", (unsigned long long)off, fourcc(type, n), (unsigned long long)size);
		*shifted = true;
	}
}

static int
locsum_range(struct vstate *v, uint64_t from, uint64_t to, uint64_t *sum)
{
	uint8_t *buf = chunk_for(from, to);
	struct eff_locsum c;

	if (buf == NULL)
		return -1;
	eff_locsum_init(&c);
	while (from < to) {
		size_t n = (size_t)(to - from < CHUNK ? to - from : CHUNK);

		if (v->r->read(v->r->arg, from, buf, n) < 0) {
			free(buf);
			return -1;
		}
		eff_locsum_update(&c, buf, n);
		from += n;
	}
	free(buf);
	*sum = eff_locsum_final(&c);
	return 0;
}

static void
locate(struct vstate *v)
{
	char n[5];
	int told = 0;
	bool shifted = false;

	if (!v->mv.has_index) {
		finding(v->rep, true, v->meta_pos, 0, "no vssgate digest index: the changed bytes "
		    "cannot be located");
		return;
	}
	for (uint32_t i = 0; i < v->mv.index_count && told < 8; i++) {
		uint32_t type;
		uint64_t off, size, want, got;

		eff_index_entry(&v->mv, i, &type, &off, &size, &want);
		if (shifted)
			break;		/* everything after a removal differs: said once */
		if (off > v->r->size || size > v->r->size - off) {
			finding(v->rep, true, off, type, "the file is shorter than when it was signed: "
			    "'%s' at offset %llu (%llu bytes) is missing", fourcc(type, n),
			    (unsigned long long)off, (unsigned long long)size);
			told++;
			continue;
		}
		if (locsum_range(v, off, off + size, &got) < 0)
			break;
		if (got == want)
			continue;
		told++;
		report_entry(v, type, off, size, &shifted);
	}
	if (told == 0)
		finding(v->rep, true, v->meta_pos, T('s', 'i', 'b', 'o'), "every box matches the "
		    "digests recorded at signing: the signature itself or the digest index was changed");
}

static void
check_chain(struct vstate *v, const char *cafile)
{
	X509_STORE *store = X509_STORE_new();

	v->rep->chain_ok = true;
	if (store == NULL || X509_STORE_load_file(store, cafile) != 1) {
		ERR_clear_error();
		finding(v->rep, true, 0, 0, "cannot read the CA file %s", cafile);
		v->rep->chain_ok = false;
		X509_STORE_free(store);
		return;
	}
	for (int k = 0; k < v->mv.nsigners; k++) {
		const struct eff_signer_view *s = &v->mv.signer[k];
		struct eff_vsigner *o = &v->rep->signer[k];
		STACK_OF(X509) *untrusted = sk_X509_new_null();
		X509_STORE_CTX *sc = X509_STORE_CTX_new();
		const uint8_t *p = s->cert.p;
		X509 *x = d2i_X509(NULL, &p, (long)s->cert.len);

		for (int c = 0; c < s->nchain && untrusted != NULL; c++) {
			const uint8_t *q = s->chain[c].p;
			X509 *i = d2i_X509(NULL, &q, (long)s->chain[c].len);

			if (i != NULL && !sk_X509_push(untrusted, i))
				X509_free(i);
		}
		o->chain_checked = true;
		o->chain_ok = x != NULL && sc != NULL && X509_STORE_CTX_init(sc, store, x, untrusted) == 1 &&
		    X509_verify_cert(sc) == 1;
		if (!o->chain_ok) {
			snprintf(o->chain_error, sizeof(o->chain_error), "%s", sc ?
			    X509_verify_cert_error_string(X509_STORE_CTX_get_error(sc)) : "no memory");
			finding(v->rep, true, s->cert_pos, T('c', 'e', 'r', 't'), "signer %d: the "
			    "certificate does not chain to the CA file: %s", k + 1, o->chain_error);
			v->rep->chain_ok = false;
		}
		ERR_clear_error();
		X509_STORE_CTX_free(sc);
		X509_free(x);
		sk_X509_pop_free(untrusted, X509_free);
	}
	X509_STORE_free(store);
}

static void
summarize(struct vstate *v)
{
	struct eff_vreport *rep = v->rep;
	const struct eff_cstb_view *c = NULL;

	if (v->mv.nsigners > 0 && v->mv.signer[0].has_cstb)
		c = &v->mv.signer[0].cstb;
	else if (v->mv.has_cstb)
		c = &v->mv.cstb;
	if (c != NULL && c->n > 0) {
		rep->has_start = true;
		rep->start_us = eff_1601_to_unix_us(c->e[0].start_1601);
	} else if (v->meta_pos != 0) {
		finding(rep, false, v->meta_pos, T('c', 's', 't', 'b'), "no cstb: the capture time "
		    "of the media is not in the file");
	}
	for (int i = 0; i < rep->ntracks; i++) {
		double d = rep->track[i].timescale && !rep->track[i].events ?
		    (double)rep->track[i].end_dts / rep->track[i].timescale : 0;

		if (d > rep->duration_s)
			rep->duration_s = d;
	}
}

static void
verify_all(struct vstate *v, const char *cafile)
{
	EVP_MD_CTX *prefix = EVP_MD_CTX_new();

	v->rep->signatures_ok = v->mv.nsigners > 0;
	if (prefix == NULL || !EVP_DigestInit_ex(prefix, EVP_sha256(), NULL) ||
	    hash_range(v, 0, v->meta_pos, &prefix, 1) < 0) {
		finding(v->rep, true, 0, 0, "cannot read the file to hash it");
		v->rep->signatures_ok = false;
		goto out;
	}
	for (int k = 0; k < v->mv.nsigners; k++) {
		verify_signer(v, k, prefix);
		if (v->rep->signer[k].sig_ok)
			continue;
		v->rep->signatures_ok = false;
		finding(v->rep, true, v->mv.signer[k].sibo_pos, T('s', 'i', 'b', 'o'), "signer %d: %s",
		    k + 1, v->rep->signer[k].sig_ok_other_salt ? "the signature verifies only with a "
		    "salt length other than 20 (not the EFF's default, and no sigC says so)" :
		    "the signature does not match the file: it was changed after signing");
	}
	if (!v->rep->signatures_ok && v->mv.nsigners > 0)
		locate(v);
	if (cafile != NULL)
		check_chain(v, cafile);
out:
	EVP_MD_CTX_free(prefix);
}

int
eff_verify(const struct eff_vreader *r, const char *cafile, struct eff_vreport *rep)
{
	struct vstate v = { .r = r, .rep = rep };

	memset(rep, 0, sizeof(*rep));
	rep->structure_ok = true;
	rep->chain_ok = cafile == NULL;
	walk(&v);
	check_meta(&v);
	if (v.meta != NULL && v.mv.nsigners > 0)
		verify_all(&v, cafile);
	summarize(&v);
	free(v.moov);
	free(v.meta);
	return rep->structure_ok && rep->signatures_ok && rep->chain_ok ? 0 : 1;
}
