/*
 * eff_sign.c - a counter-signature (eff.h): a further sinf at the end of
 * ipro, the sizes of ipro and meta grown by it, the new sibo signed over
 * the whole new file with its own payload zeroed. The earlier signers'
 * bytes are not touched, so dropping the new sinf and shrinking the two
 * sizes back gives the file they signed (EFF §Repeated signing).
 */
#include "vssgate_build.h"

#include "eff_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T(a, b, c, d) MP4_FOURCC(a, b, c, d)
#define META_MAX (64u << 20)
#define COPY_CHUNK (1u << 20)

/* The last top-level box of |fd| (walking the headers from the start). */
static int
last_box(int fd, uint64_t size, struct mp4r_box *last, char *err)
{
	uint64_t pos = 0;
	uint8_t h[32];

	memset(last, 0, sizeof(*last));
	while (pos < size) {
		size_t n = (size_t)GW_PROTO_MIN(size - pos, (uint64_t)sizeof(h));
		struct mp4r_box b;

		if (pread(fd, h, n, (off_t)pos) != (ssize_t)n || mp4r_box_header(h, n, &b) < 0 ||
		    b.size == 0 || b.size > size - pos) {
			eff_seterr(err, "not a complete MP4 file: bad or torn box at offset %llu",
			    (unsigned long long)pos);
			return -1;
		}
		b.pos = pos;
		*last = b;
		pos += b.size;
	}
	return 0;
}

static int
read_all(int fd, uint64_t pos, uint8_t *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, p + done, n - done, (off_t)(pos + done));

		if (r <= 0 && !(r < 0 && errno == EINTR))
			return -1;
		if (r > 0)
			done += (size_t)r;
	}
	return 0;
}

static int
write_all(int fd, const uint8_t *p, size_t n, EVP_MD_CTX *h, char *err)
{
	EVP_DigestUpdate(h, p, n);
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			eff_seterr(err, "writing the counter-signed file: %s", strerror(errno));
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Adds |grow| to the size field of the box whose header is at meta[at]. */
static void
grow_size(uint8_t *meta, size_t at, size_t hdr, uint64_t grow)
{
	if (proto_rd32(meta + at) == 1 && hdr >= 16) {
		uint64_t v = (uint64_t)proto_rd32(meta + at + 8) << 32 | proto_rd32(meta + at + 12);

		v += grow;
		proto_wr32(meta + at + 8, (uint32_t)(v >> 32));
		proto_wr32(meta + at + 12, (uint32_t)v);
	} else {
		proto_wr32(meta + at, proto_rd32(meta + at) + (uint32_t)grow);
	}
}

struct csign {
	int in, out;
	char tmp[4096];
	uint64_t size;
	struct mp4r_box meta;
	uint8_t *mbuf;			/* the meta box */
	struct eff_meta_view v;
	struct mp4w_buf sinf;
	struct eff_sinf_layout at;
	EVP_MD_CTX *hash;
	uint8_t *chunk;
};

static int
load_meta(struct csign *c, char *err)
{
	struct mp4r_iter it;
	struct mp4r_box b;

	if (last_box(c->in, c->size, &c->meta, err) < 0)
		return -1;
	if (c->meta.type != T('m', 'e', 't', 'a') || c->meta.size > META_MAX) {
		eff_seterr(err, "the last box is not the export's meta box: not an EFF export");
		return -1;
	}
	if ((c->mbuf = malloc((size_t)c->meta.size)) == NULL ||
	    read_all(c->in, c->meta.pos, c->mbuf, (size_t)c->meta.size) < 0) {
		eff_seterr(err, "cannot read the meta box");
		return -1;
	}
	mp4r_iter_init(&it, c->mbuf, (size_t)c->meta.size, c->meta.pos, NULL);
	if (mp4r_iter_next(&it, &b) != 1 || eff_meta_parse(&it, &b, &c->v) < 0 ||
	    !c->v.has_ipro || c->v.nsigners == 0) {
		eff_seterr(err, "the meta box has no signature to counter-sign");
		return -1;
	}
	if (c->v.ipro_pos + c->v.ipro_size != c->meta.pos + c->meta.size) {
		eff_seterr(err, "ipro is not the last box of meta: cannot append a signature");
		return -1;
	}
	if (c->v.nsigners == EFF_MAX_SIGNERS) {
		eff_seterr(err, "already %d signatures", EFF_MAX_SIGNERS);
		return -1;
	}
	return 0;
}

static int
copy_prefix(struct csign *c, char *err)
{
	uint64_t pos = 0;

	while (pos < c->meta.pos) {
		size_t n = (size_t)GW_PROTO_MIN(c->meta.pos - pos, (uint64_t)COPY_CHUNK);

		if (read_all(c->in, pos, c->chunk, n) < 0) {
			eff_seterr(err, "reading the export: %s", strerror(errno));
			return -1;
		}
		if (write_all(c->out, c->chunk, n, c->hash, err) < 0)
			return -1;
		pos += n;
	}
	return 0;
}

static int
sign_and_write(struct csign *c, const struct eff_signer *signer, size_t siglen, char *err)
{
	size_t ipro_at = (size_t)(c->v.ipro_pos - c->meta.pos);
	uint8_t md[32];
	EVP_MD_CTX *h2 = EVP_MD_CTX_new();
	size_t n = siglen;
	int rc = -1;

	grow_size(c->mbuf, 0, c->meta.hdr, c->sinf.len);
	grow_size(c->mbuf, ipro_at, c->v.ipro_hdr, c->sinf.len);
	EVP_MD_CTX_copy_ex(h2, c->hash);
	EVP_DigestUpdate(h2, c->mbuf, (size_t)c->meta.size);
	EVP_DigestUpdate(h2, c->sinf.p, c->sinf.len);
	EVP_DigestFinal_ex(h2, md, NULL);
	if (eff_sign_digest(signer->key, md, c->sinf.p + c->at.sibo_payload, &n, err) < 0)
		goto out;
	if (write_all(c->out, c->mbuf, (size_t)c->meta.size, c->hash, err) < 0 ||
	    write_all(c->out, c->sinf.p, c->sinf.len, c->hash, err) < 0)
		goto out;
	rc = 0;
out:
	EVP_MD_CTX_free(h2);
	return rc;
}

int
eff_countersign(const char *in_path, const char *out_path, const struct eff_signer *signer,
    char *err, size_t errlen)
{
	struct csign c = { .in = -1, .out = -1 };
	struct eff_der der = { 0 };
	struct stat st;
	char e[EFF_ERRLEN] = "";
	size_t siglen;
	int rc = -1;

	mp4w_buf_growing(&c.sinf, 1u << 20);
	if ((c.in = open(in_path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(c.in, &st) < 0) {
		eff_seterr(e, "cannot open %s: %s", in_path, strerror(errno));
		goto out;
	}
	c.size = (uint64_t)st.st_size;
	if (eff_check_key(signer->key, &siglen, e) < 0 || eff_der_get(signer, &der, e) < 0 ||
	    load_meta(&c, e) < 0)
		goto out;
	eff_put_sinf(&c.sinf, &(struct eff_sinf_params){ .sig_len = siglen, .cert = der.cert,
	    .cert_len = der.cert_len, .chain = (const uint8_t *const *)der.chain,
	    .chain_len = der.chain_len, .nchain = der.nchain, .auib = signer->auib }, &c.at);
	c.hash = EVP_MD_CTX_new();
	c.chunk = malloc(COPY_CHUNK);
	if (mp4w_buf_result(&c.sinf) < 0 || c.hash == NULL || c.chunk == NULL) {
		eff_seterr(e, "out of memory");
		goto out;
	}
	EVP_DigestInit_ex(c.hash, EVP_sha256(), NULL);
	if ((c.out = eff_tmp_open(out_path, c.tmp, sizeof(c.tmp), e)) < 0 ||
	    copy_prefix(&c, e) < 0 || sign_and_write(&c, signer, siglen, e) < 0 ||
	    eff_commit(c.out, c.tmp, out_path, e) < 0)
		goto out;
	rc = 0;
out:
	if (c.out >= 0)
		close(c.out);
	if (rc < 0 && c.tmp[0] != '\0')
		unlink(c.tmp);
	if (c.in >= 0)
		close(c.in);
	snprintf(err, errlen, "%s", e);
	eff_der_free(&der);
	EVP_MD_CTX_free(c.hash);
	mp4w_buf_free(&c.sinf);
	free(c.mbuf);
	free(c.chunk);
	return rc;
}
