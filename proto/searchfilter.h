/*
 * searchfilter.h - the XPath dialect of ONVIF Recording Search (Dialect
 * http://www.onvif.org/ver10/tse/searchFilter): the recording information
 * filter of a search scope and the message content filter of FindEvents.
 *
 * The dialect is a small part of XPath 1.0 (RecordingSearch, "Xpath
 * dialect"): expressions joined by and, or, not() and parentheses over
 *
 *   boolean(//SimpleItem[@Name = "IsDataPresent" and @Value = "false"])
 *   boolean(//ElementItem[@Name = "Status"])
 *   boolean(//Track[TrackType = "Video"])             an element path with
 *   boolean(//Source/Address[@x != "y"])               one test on it
 *   contains(//Source/Name, "Gare")
 *
 * A path starts with "//" (anywhere in the document) or "/" (from its
 * root element); its steps name elements by local name (a prefix such as
 * "tt:" is ignored, namespaces are not checked). Inside the brackets,
 * comparisons of an attribute (@Name) or of a child element's text with
 * a string, joined by and, or, not(). Strings are quoted with ' or ",
 * and also with the typographic quotes the specification's own examples
 * use (“ ” „ ‘ ’); a number may go unquoted. A bare path counts as
 * boolean(path), as in XPath.
 *
 * Comparisons follow XPath: true if any node on the path satisfies them,
 * false when there is none (even for !=); < <= > >= compare numbers when
 * both sides are numbers, else the strings byte by byte (which orders
 * xs:dateTime values written alike). contains() is true if the text of any
 * node on the path contains the string.
 *
 * sf_parse() reads the whole expression (it is not a stream) within the
 * limits and returns 0, or PROTO_EBADMSG (not this dialect), PROTO_ETOOBIG
 * (a limit), PROTO_ENOMEM, with a static reason in *why. The filter owns
 * its memory (sf_free()). sf_match() evaluates it on an element and its
 * descendants. Pure: no I/O.
 */
#ifndef PROTO_SEARCHFILTER_H
#define PROTO_SEARCHFILTER_H

#include "proto.h"

#include <libxml/tree.h>

#define SF_MAX_STEPS 8			/* elements in one path */

struct sf_limits {
	size_t max_len;			/* bytes of the expression */
	int max_nodes;			/* operators, paths and comparisons in it */
	int max_depth;			/* nesting of (), not() and [] */
	size_t max_string;		/* bytes of one name or string */
};

struct sf_filter;

int sf_parse(const char *text, size_t len, const struct sf_limits *lim, struct sf_filter **out,
    const char **why);
bool sf_match(const struct sf_filter *f, const xmlNode *root);
void sf_free(struct sf_filter *f);

#endif
