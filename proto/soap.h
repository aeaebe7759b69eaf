/*
 * soap.h - SOAP envelopes (1.2, and 1.1 for old WS-Discovery peers) read
 * with libxml2, bounded and without any of XML's dangerous parts.
 *
 * soap_parse() takes one complete message from memory (a SOAP message is
 * not a stream: the HTTP body or the UDP datagram is complete when we see
 * it), so it returns the bytes consumed or a PROTO_E* code, never
 * PROTO_AGAIN:
 *
 *   PROTO_ETOOBIG       more bytes, deeper nesting or more elements than
 *                       the limits allow
 *   PROTO_EUNSUPPORTED  a document type declaration (SOAP forbids them, and
 *                       they carry the entity bombs), or not UTF-8
 *   PROTO_EBADMSG       not well-formed XML, or no Envelope/Body
 *   PROTO_EVERSION      an Envelope of another SOAP version
 *
 * The parser never loads anything from the network or the file system,
 * never substitutes entities and never reads a DTD. On success the message
 * owns its libxml2 document; every pointer into it (nodes, op_ns, op_name)
 * lives until soap_msg_free().
 *
 * The WS-Security UsernameToken and the WS-Addressing headers a SOAP 1.2
 * ONVIF request carries are extracted at parse time into fixed buffers.
 * Values that do not fit mark the token malformed instead of being cut.
 */
#ifndef PROTO_SOAP_H
#define PROTO_SOAP_H

#include "proto.h"

#include <libxml/tree.h>

#define SOAP_ENV12_NS "http://www.w3.org/2003/05/soap-envelope"
#define SOAP_ENV11_NS "http://schemas.xmlsoap.org/soap/envelope/"
#define SOAP_WSSE_NS  "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
#define SOAP_WSU_NS   "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
#define SOAP_WSA_NS   "http://www.w3.org/2005/08/addressing"
#define SOAP_WSA04_NS "http://schemas.xmlsoap.org/ws/2004/08/addressing"
#define SOAP_PASSWORD_DIGEST \
	"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
#define SOAP_PASSWORD_TEXT \
	"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"

struct soap_limits {
	size_t max_bytes;		/* the whole message */
	int max_depth;			/* element nesting, the Envelope is 1 */
	int max_elements;		/* elements in the whole message */
};

enum soap_version {
	SOAP_12,
	SOAP_11,
};

#define SOAP_UT_FIELD_MAX 128

/* A wsse:UsernameToken as received; nothing here is verified. */
struct soap_username_token {
	bool present;
	bool malformed;			/* a field too long, repeated or missing its text */
	bool password_digest;		/* Type is PasswordDigest (absent: PasswordText) */
	char username[SOAP_UT_FIELD_MAX];
	char password[SOAP_UT_FIELD_MAX];	/* the digest (base64) or the text */
	char nonce[SOAP_UT_FIELD_MAX];		/* base64; "" when absent */
	char created[SOAP_UT_FIELD_MAX];	/* xs:dateTime; "" when absent */
};

#define SOAP_WSA_MAX 256

struct soap_msg {
	xmlDoc *doc;			/* owned */
	enum soap_version version;
	xmlNode *header;		/* NULL when the message has none */
	xmlNode *body;
	xmlNode *op;			/* first element in Body; NULL for an empty Body */
	const char *op_ns;		/* "" when the operation has no namespace */
	const char *op_name;		/* "" when there is no operation */
	/*
	 * The first header block marked mustUnderstand that is not WS-Security
	 * or WS-Addressing (the receiver must fault), or NULL.
	 */
	xmlNode *not_understood;
	struct soap_username_token ut;
	char wsa_to[SOAP_WSA_MAX];	/* "" when absent or too long */
	char wsa_action[SOAP_WSA_MAX];
	char wsa_message_id[SOAP_WSA_MAX];
	const char *why;		/* static text: why parsing failed, for the fault */
};

/* Once per process, before any thread parses (libxml2's global state). */
void soap_global_init(void);
void soap_global_cleanup(void);

/* Parse |len| bytes. On failure |out| holds no document, only |why|. */
int soap_parse(const char *buf, size_t len, const struct soap_limits *lim, struct soap_msg *out);
void soap_msg_free(struct soap_msg *m);

/* Does |n| have this namespace (NULL: any) and local name? */
bool soap_is(const xmlNode *n, const char *ns, const char *name);
/* First element child of |parent| matching (ns NULL: any namespace), or NULL. */
xmlNode *soap_child(const xmlNode *parent, const char *ns, const char *name);
/* The next element sibling after |n| matching, or NULL. */
xmlNode *soap_next(const xmlNode *n, const char *ns, const char *name);
/* First element child, whatever its name. */
xmlNode *soap_first_element(const xmlNode *parent);
xmlNode *soap_next_element(const xmlNode *n);

/*
 * The text content of a simple element, whitespace trimmed, copied into
 * |out|. false if |n| is NULL, has element children, or the text does not
 * fit in |outlen| bytes.
 */
bool soap_text(const xmlNode *n, char *out, size_t outlen);
/* soap_text() of the first child element matching. */
bool soap_child_text(const xmlNode *parent, const char *ns, const char *name, char *out,
    size_t outlen);
/* An attribute without namespace (or with |ns|), copied; false if absent or too long. */
bool soap_attr(const xmlNode *n, const char *ns, const char *name, char *out, size_t outlen);

/* The local part of a QName ("dn:NetworkVideoTransmitter" -> "NetworkVideoTransmitter"). */
const char *soap_qname_local(const char *qname);

/*
 * xs:dateTime ("2026-11-21T10:00:00Z", fractions, "+01:00" offsets) to
 * microseconds since 1970 UTC. A time without a zone is refused: nothing
 * here may guess one. Returns 0 or PROTO_EBADMSG.
 */
int soap_parse_datetime(const char *s, int64_t *unix_us);
/* Format as "YYYY-MM-DDThh:mm:ss.mmmZ" (|out| >= 25 bytes). */
void soap_format_datetime(int64_t unix_us, char *out, size_t outlen);
/*
 * xs:duration ("PT1M", "PT60S", "P1DT2H", "PT0.5S"); negative durations
 * and years or months (no fixed length) are refused. Returns 0 or
 * PROTO_EBADMSG.
 */
int soap_parse_duration(const char *s, int64_t *us);

#endif
