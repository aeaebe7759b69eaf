/*
 * digest.c - Digest and Basic authentication (see digest.h).
 *
 * One small tokenizer serves both directions: auth-params are
 * "token = (token / quoted-string)" separated by commas; a token not
 * followed by '=' starts a new challenge (WWW-Authenticate may carry
 * several), and a token68 ("Basic dXNlcjpwYXNz") follows a scheme name.
 * Every copy is bounded by its field's limit, quoted-pairs are unescaped,
 * control characters are refused: live555's CVE-2019-9215 was an
 * Authorization parser that trusted its input.
 */
#include "digest.h"
#include "base64.h"
#include "pbuf.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

/* --- tokenizer ------------------------------------------------------------ */

struct cursor {
	const char *p, *end;
};

static bool
is_tchar(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void
skip_ows(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

static bool
at_end(const struct cursor *c)
{
	return c->p >= c->end;
}

static struct proto_str
read_token(struct cursor *c)
{
	struct proto_str t = { c->p, 0 };

	while (c->p < c->end && is_tchar(*c->p))
		c->p++;
	t.len = (size_t)(c->p - t.p);
	return t;
}

/* A quoted-string into out (cap includes the NUL), unescaped. */
static int
read_quoted(struct cursor *c, char *out, size_t cap)
{
	size_t n = 0;

	c->p++;	/* the opening quote */
	while (c->p < c->end && *c->p != '"') {
		unsigned char ch = (unsigned char)*c->p;

		if (ch == '\\') {
			if (++c->p >= c->end)
				return PROTO_EBADMSG;
			ch = (unsigned char)*c->p;
		}
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return PROTO_EBADMSG;
		if (n + 1 >= cap)
			return PROTO_ETOOBIG;
		out[n++] = (char)ch;
		c->p++;
	}
	if (c->p >= c->end)
		return PROTO_EBADMSG;	/* no closing quote */
	c->p++;
	out[n] = '\0';
	return 0;
}

/* token / quoted-string */
static int
read_value(struct cursor *c, char *out, size_t cap)
{
	struct proto_str t;

	if (c->p < c->end && *c->p == '"')
		return read_quoted(c, out, cap);
	t = read_token(c);
	if (t.len == 0)
		return PROTO_EBADMSG;
	if (t.len >= cap)
		return PROTO_ETOOBIG;
	memcpy(out, t.p, t.len);
	out[t.len] = '\0';
	return 0;
}

/* After a value: OWS, then ',' or the end. */
static int
end_of_item(struct cursor *c)
{
	skip_ows(c);
	if (at_end(c))
		return 0;
	if (*c->p != ',')
		return PROTO_EBADMSG;
	c->p++;
	return 0;
}

/* Skips OWS and empty list elements (", ,"). */
static void
skip_separators(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == ','))
		c->p++;
}

/* Is the cursor on "= value" (a parameter) rather than on a token68 tail or a new scheme? */
static bool
at_param_value(const struct cursor *c)
{
	struct cursor k = *c;

	skip_ows(&k);
	if (at_end(&k) || *k.p != '=')
		return false;
	while (k.p < k.end && *k.p == '=')
		k.p++;
	skip_ows(&k);
	return !(at_end(&k) || *k.p == ',');	/* "abc==" then the end: token68 */
}

/* The rest of a token68 (base64 characters and '=' padding). */
static void
skip_token68(struct cursor *c)
{
	while (c->p < c->end && (is_tchar(*c->p) || *c->p == '/' || *c->p == '='))
		c->p++;
}

/* --- Authorization ------------------------------------------------------- */

enum cred_field {
	CF_USERNAME,
	CF_REALM,
	CF_NONCE,
	CF_URI,
	CF_RESPONSE,
	CF_ALGORITHM,
	CF_QOP,
	CF_NC,
	CF_CNONCE,
	CF_OPAQUE,
	CF_USERHASH,
	CF_UNKNOWN,
};

static const char *const cred_names[] = {
	[CF_USERNAME] = "username", [CF_REALM] = "realm", [CF_NONCE] = "nonce",
	[CF_URI] = "uri", [CF_RESPONSE] = "response", [CF_ALGORITHM] = "algorithm",
	[CF_QOP] = "qop", [CF_NC] = "nc", [CF_CNONCE] = "cnonce", [CF_OPAQUE] = "opaque",
	[CF_USERHASH] = "userhash",
};

static enum cred_field
cred_lookup(struct proto_str name)
{
	for (int i = 0; i < CF_UNKNOWN; i++)
		if (proto_str_ieq(name, cred_names[i]))
			return (enum cred_field)i;
	return CF_UNKNOWN;
}

static int
parse_algo(const char *v, enum digest_algo *a)
{
	if (strcasecmp(v, "MD5") == 0)
		*a = DIGEST_MD5;
	else if (strcasecmp(v, "MD5-sess") == 0)
		*a = DIGEST_MD5_SESS;
	else if (strcasecmp(v, "SHA-256") == 0)
		*a = DIGEST_SHA256;
	else if (strcasecmp(v, "SHA-256-sess") == 0)
		*a = DIGEST_SHA256_SESS;
	else
		return PROTO_EUNSUPPORTED;
	return 0;
}

static bool
all_hex(const char *s, size_t want)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f') ||
		    (s[n] >= 'A' && s[n] <= 'F')))
			return false;
	return want == 0 ? n > 0 : n == want;
}

/* Where each field goes, and its capacity. */
static char *
cred_slot(struct digest_credentials *c, enum cred_field f, size_t *cap)
{
	switch (f) {
	case CF_USERNAME:
		*cap = sizeof(c->username);
		return c->username;
	case CF_REALM:
		*cap = sizeof(c->realm);
		return c->realm;
	case CF_NONCE:
		*cap = sizeof(c->nonce);
		return c->nonce;
	case CF_URI:
		*cap = sizeof(c->uri);
		return c->uri;
	case CF_RESPONSE:
		*cap = sizeof(c->response);
		return c->response;
	case CF_CNONCE:
		*cap = sizeof(c->cnonce);
		return c->cnonce;
	case CF_OPAQUE:
		*cap = sizeof(c->opaque);
		return c->opaque;
	case CF_NC:
		*cap = sizeof(c->nc);
		return c->nc;
	default:
		return NULL;
	}
}

/* The fields that are not plain strings. */
static int
cred_apply(struct digest_credentials *c, enum cred_field f, const char *v)
{
	switch (f) {
	case CF_ALGORITHM:
		return parse_algo(v, &c->algo);
	case CF_QOP:
		if (strcasecmp(v, "auth") == 0) {
			c->qop = DIGEST_QOP_AUTH;
			return 0;
		}
		return strcasecmp(v, "auth-int") == 0 ? PROTO_EUNSUPPORTED : PROTO_EBADMSG;
	case CF_USERHASH:
		return strcasecmp(v, "false") == 0 ? 0 : PROTO_EUNSUPPORTED;
	case CF_NC:
		return all_hex(v, 8) ? 0 : PROTO_EBADMSG;
	case CF_OPAQUE:
		c->has_opaque = true;
		return 0;
	default:
		return 0;
	}
}

static int
cred_param(struct cursor *cur, struct digest_credentials *c, unsigned *seen)
{
	char scratch[DIGEST_PARAM_MAX + 1];	/* values we skip: never read */
	struct proto_str name = read_token(cur);
	enum cred_field f;
	size_t cap = sizeof(scratch);
	char *slot, tmp[32];
	int rc;

	if (name.len == 0)
		return PROTO_EBADMSG;
	skip_ows(cur);
	if (at_end(cur) || *cur->p != '=')
		return PROTO_EBADMSG;
	cur->p++;
	skip_ows(cur);
	f = cred_lookup(name);
	if (f != CF_UNKNOWN && (*seen & (1u << f)))
		return PROTO_EBADMSG;	/* a repeated parameter */
	if (f != CF_UNKNOWN)
		*seen |= 1u << f;
	slot = cred_slot(c, f, &cap);
	if (slot == NULL) {
		slot = f == CF_UNKNOWN ? scratch : tmp;
		cap = f == CF_UNKNOWN ? sizeof(scratch) : sizeof(tmp);
	}
	if ((rc = read_value(cur, slot, cap)) < 0 || (rc = cred_apply(c, f, slot)) < 0)
		return rc;
	return end_of_item(cur);
}

static bool
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Required fields, qop companions, the response's length for the algorithm. */
static int
cred_check(struct digest_credentials *c, unsigned seen)
{
	unsigned need = 1u << CF_USERNAME | 1u << CF_REALM | 1u << CF_NONCE | 1u << CF_URI |
	    1u << CF_RESPONSE;
	unsigned with_qop = 1u << CF_NC | 1u << CF_CNONCE;
	bool sha = c->algo == DIGEST_SHA256 || c->algo == DIGEST_SHA256_SESS;

	if ((seen & need) != need)
		return PROTO_EBADMSG;
	if ((seen & (1u << CF_QOP)) ? (seen & with_qop) != with_qop : (seen & with_qop) != 0)
		return PROTO_EBADMSG;
	if (!all_hex(c->response, sha ? 64 : 32) || c->username[0] == '\0' ||
	    has_ctl(c->username) || c->nonce[0] == '\0' || c->uri[0] == '\0')
		return PROTO_EBADMSG;
	for (char *r = c->response; *r != '\0'; r++)
		if (*r >= 'A' && *r <= 'F')
			*r = (char)(*r - 'A' + 'a');
	return 0;
}

static int
parse_digest(struct cursor *cur, struct digest_credentials *c)
{
	unsigned seen = 0;
	int rc;

	c->scheme = DIGEST_SCHEME_DIGEST;
	c->algo = DIGEST_MD5;
	for (skip_separators(cur); !at_end(cur); skip_separators(cur))
		if ((rc = cred_param(cur, c, &seen)) < 0)
			return rc;
	return cred_check(c, seen);
}

static int
parse_basic(struct cursor *cur, struct digest_credentials *c)
{
	uint8_t plain[DIGEST_USERNAME_MAX + DIGEST_PASSWORD_MAX + 2];
	const char *b64, *colon;
	size_t blen;
	int n;

	c->scheme = DIGEST_SCHEME_BASIC;
	skip_ows(cur);
	b64 = cur->p;
	blen = (size_t)(cur->end - cur->p);
	while (blen > 0 && (b64[blen - 1] == ' ' || b64[blen - 1] == '\t'))
		blen--;
	if (blen > BASE64_ENCODED_LEN(sizeof(plain)))
		return PROTO_ETOOBIG;
	if ((n = base64_decode(b64, blen, plain, sizeof(plain))) <= 0)
		return n < 0 ? n : PROTO_EBADMSG;
	colon = memchr(plain, ':', (size_t)n);
	if (colon == NULL || colon == (const char *)plain)
		return PROTO_EBADMSG;
	for (int i = 0; i < n; i++)
		if (plain[i] < 0x20 || plain[i] == 0x7f)
			return PROTO_EBADMSG;
	if ((size_t)(colon - (const char *)plain) > DIGEST_USERNAME_MAX ||
	    (size_t)n - (size_t)(colon - (const char *)plain) - 1 > DIGEST_PASSWORD_MAX)
		return PROTO_ETOOBIG;
	memcpy(c->username, plain, (size_t)(colon - (const char *)plain));
	memcpy(c->password, colon + 1, (size_t)n - (size_t)(colon - (const char *)plain) - 1);
	OPENSSL_cleanse(plain, sizeof(plain));
	return 0;
}

int
digest_parse_authorization(const char *value, size_t len, struct digest_credentials *out)
{
	struct cursor cur = { value, value + len };
	struct proto_str scheme;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len > DIGEST_HEADER_MAX)
		return PROTO_ETOOBIG;
	skip_ows(&cur);
	scheme = read_token(&cur);
	if (scheme.len == 0 || at_end(&cur) || (*cur.p != ' ' && *cur.p != '\t'))
		return PROTO_EBADMSG;
	if (proto_str_ieq(scheme, "Digest"))
		rc = parse_digest(&cur, out);
	else if (proto_str_ieq(scheme, "Basic"))
		rc = parse_basic(&cur, out);
	else
		rc = PROTO_EUNSUPPORTED;
	if (rc < 0) {
		OPENSSL_cleanse(out, sizeof(*out));
		out->scheme = DIGEST_SCHEME_NONE;
	}
	return rc;
}

const char *
digest_algo_name(enum digest_algo a)
{
	switch (a) {
	case DIGEST_MD5:
		return "MD5";
	case DIGEST_MD5_SESS:
		return "MD5-sess";
	case DIGEST_SHA256:
		return "SHA-256";
	case DIGEST_SHA256_SESS:
		return "SHA-256-sess";
	}
	return "?";
}

/* --- hashing ------------------------------------------------------------ */

static bool
is_sha256(enum digest_algo a)
{
	return a == DIGEST_SHA256 || a == DIGEST_SHA256_SESS;
}

/* H(p[0] ":" p[1] ":" ... ) in lowercase hex. */
static int
hash_join(enum digest_algo algo, const char *const *parts, int n, char out[DIGEST_HEX_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = PROTO_ENOMEM;

	if (ctx == NULL)
		goto out;
	if (EVP_DigestInit_ex(ctx, is_sha256(algo) ? EVP_sha256() : EVP_md5(), NULL) != 1)
		goto out;
	for (int i = 0; i < n; i++)
		if ((i > 0 && EVP_DigestUpdate(ctx, ":", 1) != 1) ||
		    EVP_DigestUpdate(ctx, parts[i], strlen(parts[i])) != 1)
			goto out;
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen * 2 > DIGEST_HEX_MAX)
		goto out;
	for (unsigned int i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * mdlen] = '\0';
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_cleanse(md, sizeof(md));
	return rc;
}

int
digest_ha1(enum digest_algo algo, const char *username, const char *realm, const char *password,
    char out[DIGEST_HEX_MAX + 1])
{
	const char *parts[3] = { username, realm, password };

	return hash_join(algo, parts, 3, out);
}

int
digest_response(const struct digest_credentials *c, const char *method, const char *ha1_hex,
    char out[DIGEST_HEX_MAX + 1])
{
	char ha1[DIGEST_HEX_MAX + 1], ha2[DIGEST_HEX_MAX + 1];
	const char *a2[2] = { method, c->uri };
	int rc;

	if (strlen(ha1_hex) != (is_sha256(c->algo) ? 64u : 32u))
		return PROTO_EBADMSG;
	memcpy(ha1, ha1_hex, strlen(ha1_hex) + 1);
	if (c->algo == DIGEST_MD5_SESS || c->algo == DIGEST_SHA256_SESS) {
		const char *s[3] = { ha1_hex, c->nonce, c->cnonce };

		if ((rc = hash_join(c->algo, s, 3, ha1)) < 0)
			return rc;
	}
	if ((rc = hash_join(c->algo, a2, 2, ha2)) < 0)
		return rc;
	if (c->qop == DIGEST_QOP_AUTH) {
		const char *r[6] = { ha1, c->nonce, c->nc, c->cnonce, "auth", ha2 };

		rc = hash_join(c->algo, r, 6, out);
	} else {
		const char *r[3] = { ha1, c->nonce, ha2 };

		rc = hash_join(c->algo, r, 3, out);
	}
	OPENSSL_cleanse(ha1, sizeof(ha1));
	return rc;
}

bool
digest_verify(const struct digest_credentials *c, const char *method, const char *ha1_hex)
{
	char want[DIGEST_HEX_MAX + 1];
	size_t n;

	if (c->scheme != DIGEST_SCHEME_DIGEST || digest_response(c, method, ha1_hex, want) < 0)
		return false;
	n = strlen(want);
	return strlen(c->response) == n && CRYPTO_memcmp(want, c->response, n) == 0;
}

bool
digest_verify_password(const struct digest_credentials *c, const char *method,
    const char *password)
{
	char ha1[DIGEST_HEX_MAX + 1];
	size_t n = strlen(password);
	bool ok;

	if (c->scheme == DIGEST_SCHEME_BASIC)
		return strlen(c->password) == n && CRYPTO_memcmp(c->password, password, n) == 0;
	if (c->scheme != DIGEST_SCHEME_DIGEST ||
	    digest_ha1(c->algo, c->username, c->realm, password, ha1) < 0)
		return false;
	ok = digest_verify(c, method, ha1);
	OPENSSL_cleanse(ha1, sizeof(ha1));
	return ok;
}

/* --- challenges ------------------------------------------------------- */

int
digest_challenge_format(const char *realm, const char *nonce, const char *opaque,
    enum digest_algo algo, bool stale, char *out, size_t outlen)
{
	struct pbuf b;

	if (!pbuf_text_is_safe(realm) || !pbuf_text_is_safe(nonce) || *nonce == '\0' ||
	    (opaque != NULL && !pbuf_text_is_safe(opaque)))
		return PROTO_EBADMSG;
	pbuf_init(&b, out, outlen);
	/* realm, then nonce: live555 reads the challenge with a fixed pattern in this order. */
	pbuf_puts(&b, "Digest realm=");
	pbuf_quoted(&b, realm);
	pbuf_puts(&b, ", nonce=");
	pbuf_quoted(&b, nonce);
	pbuf_puts(&b, ", qop=\"auth\"");
	if (opaque != NULL) {
		pbuf_puts(&b, ", opaque=");
		pbuf_quoted(&b, opaque);
	}
	pbuf_printf(&b, ", algorithm=%s", digest_algo_name(algo));
	if (stale)
		pbuf_puts(&b, ", stale=true");
	return pbuf_result(&b);
}

int
digest_basic_challenge_format(const char *realm, char *out, size_t outlen)
{
	struct pbuf b;

	if (!pbuf_text_is_safe(realm))
		return PROTO_EBADMSG;
	pbuf_init(&b, out, outlen);
	pbuf_puts(&b, "Basic realm=");
	pbuf_quoted(&b, realm);
	return pbuf_result(&b);
}

int
digest_challenges_format(const char *realm, const char *nonce, const char *opaque,
    const enum digest_algo *algos, int nalgos, bool stale, bool allow_basic, char *out,
    size_t outlen)
{
	struct pbuf b;
	int n;

	pbuf_init(&b, out, outlen);
	for (int i = 0; i <= nalgos; i++) {
		if (i == nalgos && !allow_basic)
			break;
		pbuf_puts(&b, "WWW-Authenticate: ");
		if (b.overflow)
			return PROTO_ETOOBIG;
		n = i < nalgos ? digest_challenge_format(realm, nonce, opaque, algos[i], stale,
		    out + b.len, outlen - b.len) : digest_basic_challenge_format(realm, out + b.len,
		    outlen - b.len);
		if (n < 0)
			return n;
		b.len += (size_t)n;
		pbuf_puts(&b, "\r\n");
	}
	return pbuf_result(&b);
}

/* --- client: picking a challenge ------------------------------------------ */

void
digest_challenge_init(struct digest_challenge *best)
{
	memset(best, 0, sizeof(*best));
}

/* Higher is stronger; 0: cannot be answered. */
static int
challenge_rank(const struct digest_challenge *c, unsigned flags)
{
	static const int digest_rank[] = {
		[DIGEST_MD5_SESS] = 2, [DIGEST_MD5] = 3, [DIGEST_SHA256_SESS] = 4, [DIGEST_SHA256] = 5,
	};

	if (c->scheme == DIGEST_SCHEME_BASIC)
		return (flags & DIGEST_ALLOW_BASIC) ? 1 : 0;
	if (c->scheme == DIGEST_SCHEME_DIGEST && c->nonce[0] != '\0')
		return digest_rank[c->algo];
	return 0;
}

/* One challenge being read, with what makes it unusable. */
struct chal_state {
	struct digest_challenge c;
	bool unusable;
	unsigned seen;
};

enum chal_field {
	CH_REALM,
	CH_NONCE,
	CH_OPAQUE,
	CH_ALGORITHM,
	CH_QOP,
	CH_STALE,
	CH_UNKNOWN,
};

static enum chal_field
chal_lookup(struct proto_str n)
{
	static const char *const names[] = { "realm", "nonce", "opaque", "algorithm", "qop",
		"stale" };

	for (int i = 0; i < CH_UNKNOWN; i++)
		if (proto_str_ieq(n, names[i]))
			return (enum chal_field)i;
	return CH_UNKNOWN;
}

/* qop="auth,auth-int": is "auth" one of the options? */
static bool
qop_has_auth(const char *v)
{
	struct cursor c = { v, v + strlen(v) };

	while (!at_end(&c)) {
		struct proto_str t;

		skip_separators(&c);
		t = read_token(&c);
		if (proto_str_ieq(t, "auth"))
			return true;
		if (t.len == 0 && !at_end(&c))
			c.p++;
	}
	return false;
}

static void
chal_apply(struct chal_state *s, enum chal_field f, const char *v)
{
	switch (f) {
	case CH_ALGORITHM:
		if (parse_algo(v, &s->c.algo) < 0)
			s->unusable = true;
		break;
	case CH_QOP:
		s->c.qop_auth = qop_has_auth(v);
		if (!s->c.qop_auth)
			s->unusable = true;	/* only auth-int, or nonsense */
		break;
	case CH_STALE:
		s->c.stale = strcasecmp(v, "true") == 0;
		break;
	case CH_OPAQUE:
		s->c.has_opaque = true;
		break;
	default:
		break;
	}
}

static int
chal_param(struct cursor *cur, struct proto_str name, struct chal_state *s)
{
	char scratch[DIGEST_PARAM_MAX + 1];
	enum chal_field f = chal_lookup(name);
	char *slot = scratch;
	size_t cap = sizeof(scratch);
	int rc;

	skip_ows(cur);
	cur->p++;	/* '=' */
	skip_ows(cur);
	if (f != CH_UNKNOWN && (s->seen & (1u << f)))
		return PROTO_EBADMSG;
	if (f != CH_UNKNOWN)
		s->seen |= 1u << f;
	if (f == CH_REALM) {
		slot = s->c.realm;
		cap = sizeof(s->c.realm);
	} else if (f == CH_NONCE) {
		slot = s->c.nonce;
		cap = sizeof(s->c.nonce);
	} else if (f == CH_OPAQUE) {
		slot = s->c.opaque;
		cap = sizeof(s->c.opaque);
	}
	if ((rc = read_value(cur, slot, cap)) < 0)
		return rc;
	chal_apply(s, f, slot);
	return end_of_item(cur);
}

/* Keeps |s| in *best when it is usable and stronger. */
static int
chal_finish(const struct chal_state *s, unsigned flags, struct digest_challenge *best)
{
	if (s->c.scheme == DIGEST_SCHEME_NONE || s->unusable)
		return 0;
	if (s->c.scheme == DIGEST_SCHEME_DIGEST && !(s->seen & (1u << CH_REALM)))
		return 0;
	if (challenge_rank(&s->c, flags) <= challenge_rank(best, flags))
		return 0;
	*best = s->c;
	return 1;
}

/* A scheme name starts a challenge. */
static void
chal_start(struct proto_str scheme, struct chal_state *s)
{
	memset(s, 0, sizeof(*s));
	if (proto_str_ieq(scheme, "Digest"))
		s->c.scheme = DIGEST_SCHEME_DIGEST;
	else if (proto_str_ieq(scheme, "Basic"))
		s->c.scheme = DIGEST_SCHEME_BASIC;
	else
		s->unusable = true;	/* Negotiate, Bearer, ... */
	s->c.algo = DIGEST_MD5;
}

int
digest_challenge_pick(const char *value, size_t len, unsigned flags,
    struct digest_challenge *best)
{
	struct cursor cur = { value, value + len };
	struct chal_state s;
	int improved = 0, rc;

	memset(&s, 0, sizeof(s));
	if (len > DIGEST_HEADER_MAX)
		return PROTO_ETOOBIG;
	while (skip_separators(&cur), !at_end(&cur)) {
		struct proto_str t = read_token(&cur);

		if (t.len == 0 && *cur.p == '/' && (s.c.scheme != DIGEST_SCHEME_NONE || s.unusable)) {
			skip_token68(&cur);	/* e.g. "Negotiate YII/..." */
			continue;
		}
		if (t.len == 0)
			return PROTO_EBADMSG;
		if (at_param_value(&cur)) {
			if (s.c.scheme == DIGEST_SCHEME_NONE && !s.unusable)
				return PROTO_EBADMSG;	/* a parameter before any scheme */
			if ((rc = chal_param(&cur, t, &s)) < 0)
				return rc;
			continue;
		}
		while (cur.p < cur.end && *cur.p == '=')
			cur.p++;	/* the padding of a token68 */
		if (s.c.scheme != DIGEST_SCHEME_NONE || s.unusable)
			improved |= chal_finish(&s, flags, best);
		chal_start(t, &s);
	}
	improved |= chal_finish(&s, flags, best);
	return improved;
}

/* --- client: answering -------------------------------------------------- */

static int
format_basic(const char *username, const char *password, char *out, size_t outlen)
{
	char plain[DIGEST_USERNAME_MAX + DIGEST_PASSWORD_MAX + 2];
	struct pbuf b;
	int n, rc;

	if (strchr(username, ':') != NULL || strlen(username) > DIGEST_USERNAME_MAX ||
	    strlen(password) > DIGEST_PASSWORD_MAX)
		return PROTO_EBADMSG;
	n = snprintf(plain, sizeof(plain), "%s:%s", username, password);
	pbuf_init(&b, out, outlen);
	pbuf_puts(&b, "Basic ");
	rc = b.overflow ? PROTO_ETOOBIG : base64_encode(plain, (size_t)n, out + b.len,
	    outlen - b.len);
	OPENSSL_cleanse(plain, sizeof(plain));
	return rc < 0 ? rc : (int)b.len + rc;
}

/* Fills the credentials the response is computed from. */
static int
client_credentials(const struct digest_challenge *c, const char *username, const char *uri,
    uint32_t nc, const char *cnonce, struct digest_credentials *cr)
{
	memset(cr, 0, sizeof(*cr));
	cr->scheme = DIGEST_SCHEME_DIGEST;
	cr->algo = c->algo;
	cr->qop = c->qop_auth ? DIGEST_QOP_AUTH : DIGEST_QOP_NONE;
	if (strlen(uri) > DIGEST_URI_MAX || (c->qop_auth && (cnonce == NULL || *cnonce == '\0' ||
	    strlen(cnonce) > DIGEST_CNONCE_MAX)))
		return PROTO_EBADMSG;
	memcpy(cr->uri, uri, strlen(uri) + 1);
	memcpy(cr->nonce, c->nonce, sizeof(cr->nonce));
	if (c->qop_auth) {
		memcpy(cr->cnonce, cnonce, strlen(cnonce) + 1);
		snprintf(cr->nc, sizeof(cr->nc), "%08x", (unsigned)nc);
	}
	return 0;
}

/* The Digest answer's text, once the response is known. */
static int
put_digest_answer(const struct digest_challenge *c, const struct digest_credentials *cr,
    const char *username, const char *resp, char *out, size_t outlen)
{
	struct pbuf b;

	pbuf_init(&b, out, outlen);
	pbuf_puts(&b, "Digest username=");
	pbuf_quoted(&b, username);
	pbuf_puts(&b, ", realm=");
	pbuf_quoted(&b, c->realm);
	pbuf_puts(&b, ", nonce=");
	pbuf_quoted(&b, c->nonce);
	pbuf_puts(&b, ", uri=");
	pbuf_quoted(&b, cr->uri);
	pbuf_printf(&b, ", response=\"%s\", algorithm=%s", resp, digest_algo_name(c->algo));
	if (c->qop_auth) {
		pbuf_printf(&b, ", qop=auth, nc=%s, cnonce=", cr->nc);
		pbuf_quoted(&b, cr->cnonce);
	}
	if (c->has_opaque) {
		pbuf_puts(&b, ", opaque=");
		pbuf_quoted(&b, c->opaque);
	}
	return pbuf_result(&b);
}

int
digest_authorization_format(const struct digest_challenge *c, const char *username,
    const char *password, const char *method, const char *uri, uint32_t nc, const char *cnonce,
    char *out, size_t outlen)
{
	struct digest_credentials cr;
	char ha1[DIGEST_HEX_MAX + 1], resp[DIGEST_HEX_MAX + 1];
	int rc;

	if (has_ctl(username) || has_ctl(password) || has_ctl(uri) || has_ctl(method) ||
	    (cnonce != NULL && has_ctl(cnonce)))
		return PROTO_EBADMSG;
	if (c->scheme == DIGEST_SCHEME_BASIC)
		return format_basic(username, password, out, outlen);
	if (c->scheme != DIGEST_SCHEME_DIGEST)
		return PROTO_EBADMSG;
	ha1[0] = '\0';
	if ((rc = client_credentials(c, username, uri, nc, cnonce, &cr)) < 0 ||
	    (rc = digest_ha1(c->algo, username, c->realm, password, ha1)) < 0 ||
	    (rc = digest_response(&cr, method, ha1, resp)) < 0)
		goto out;
	rc = put_digest_answer(c, &cr, username, resp, out, outlen);
out:
	OPENSSL_cleanse(ha1, sizeof(ha1));
	return rc;
}
