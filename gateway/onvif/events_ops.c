/*
 * events_ops.c - the SOAP operations of the Event service: capabilities,
 * event properties, CreatePullPointSubscription with its filters, and on a
 * pull point address PullMessages, SetSynchronizationPoint, Renew and
 * Unsubscribe (see events.c for the subscriptions themselves).
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/log.h"
#include "onvif.h"
#include "events.h"

#include <libxml/xpath.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTENT_FILTER_MAX 1024
#define CONTENT_FILTER_NESTING 32
#define DIALECT_CONCRETE_SET "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet"
#define DIALECT_CONCRETE "http://docs.oasis-open.org/wsn/t-1/TopicExpression/Concrete"
#define DIALECT_SIMPLE "http://docs.oasis-open.org/wsn/t-1/TopicExpression/Simple"
#define DIALECT_ITEM_FILTER "http://www.onvif.org/ver10/tev/messageContentFilter/ItemFilter"
#define DIALECT_XPATH "http://www.w3.org/TR/1999/REC-xpath-19991116"

void
onvif_caps_events(struct xmlw *w, const struct onvif_req *r)
{
	xmlw_fmt(w, "<tev:Capabilities WSSubscriptionPolicySupport=\"true\""
	    " WSPausableSubscriptionManagerInterfaceSupport=\"false\" MaxNotificationProducers=\"0\""
	    " MaxPullPoints=\"%d\" PersistentNotificationStorage=\"false\"/>",
	    gw.cfg->onvif_max_subscriptions_per_principal);
}

static void
get_service_capabilities(struct onvif_req *r)
{
	xmlw_lit(&r->out, "<tev:GetServiceCapabilitiesResponse>");
	onvif_caps_events(&r->out, r);
	xmlw_lit(&r->out, "</tev:GetServiceCapabilitiesResponse>");
	onvif_reply(r);
}

static void
get_event_properties(struct onvif_req *r)
{
	xmlw_lit(&r->out, "<tev:GetEventPropertiesResponse>"
	    "<tev:TopicNamespaceLocation>http://www.onvif.org/onvif/ver10/topics/topicns.xml"
	    "</tev:TopicNamespaceLocation><wsnt:FixedTopicSet>true</wsnt:FixedTopicSet><wstop:TopicSet>"
	    "<tns1:Media><tns1:ProfileChanged wstop:topic=\"true\"><tt:MessageDescription IsProperty=\"false\">"
	    "<tt:Source><tt:SimpleItemDescription Name=\"Token\" Type=\"tt:ReferenceToken\"/></tt:Source>"
	    "</tt:MessageDescription></tns1:ProfileChanged><tns1:ConfigurationChanged wstop:topic=\"true\">"
	    "<tt:MessageDescription IsProperty=\"false\"><tt:Source><tt:SimpleItemDescription Name=\"Token\""
	    " Type=\"tt:ReferenceToken\"/><tt:SimpleItemDescription Name=\"Type\" Type=\"xs:string\"/>"
	    "</tt:Source></tt:MessageDescription></tns1:ConfigurationChanged></tns1:Media>"
	    "<tns1:Monitoring><tns1:Profile><tns1:ActiveConnections wstop:topic=\"true\">"
	    "<tt:MessageDescription IsProperty=\"true\"><tt:Source><tt:SimpleItemDescription Name=\"Profile\""
	    " Type=\"tt:ReferenceToken\"/></tt:Source><tt:Data><tt:ElementItemDescription Name=\"Status\""
	    " Type=\"tt:ProfileStatus\"/></tt:Data></tt:MessageDescription></tns1:ActiveConnections>"
	    "</tns1:Profile><tns1:AsynchronousOperationStatus wstop:topic=\"true\">"
	    "<tt:MessageDescription IsProperty=\"true\"><tt:Source><tt:SimpleItemDescription Name=\"Token\""
	    " Type=\"tt:ReferenceToken\"/><tt:SimpleItemDescription Name=\"OperationName\" Type=\"xs:string\"/>"
	    "<tt:SimpleItemDescription Name=\"ServiceName\" Type=\"xs:string\"/></tt:Source><tt:Data>"
	    "<tt:SimpleItemDescription Name=\"Progress\" Type=\"xs:float\"/><tt:ElementItemDescription"
	    " Name=\"Error\" Type=\"env:Fault\"/></tt:Data></tt:MessageDescription>"
	    "</tns1:AsynchronousOperationStatus></tns1:Monitoring><tns1:VideoSource><tns1:SignalLoss wstop:topic=\"true\">"
	    "<tt:MessageDescription IsProperty=\"true\"><tt:Source><tt:SimpleItemDescription"
	    " Name=\"VideoSource\" Type=\"tt:ReferenceToken\"/></tt:Source><tt:Data>"
	    "<tt:SimpleItemDescription Name=\"State\" Type=\"xs:boolean\"/></tt:Data>"
	    "</tt:MessageDescription></tns1:SignalLoss></tns1:VideoSource></wstop:TopicSet>"
	    "<wsnt:TopicExpressionDialect>" DIALECT_CONCRETE_SET "</wsnt:TopicExpressionDialect>"
	    "<wsnt:TopicExpressionDialect>" DIALECT_CONCRETE "</wsnt:TopicExpressionDialect>"
	    "<tev:MessageContentFilterDialect>" DIALECT_ITEM_FILTER "</tev:MessageContentFilterDialect>"
	    "<tev:MessageContentSchemaLocation>http://www.onvif.org/onvif/ver10/schema/onvif.xsd"
	    "</tev:MessageContentSchemaLocation></tev:GetEventPropertiesResponse>");
	onvif_reply(r);
}

/* --- filters ---------------------------------------------------------------------------- */

/* One item of a topic expression ("tns1:Media/ProfileChanged", "tns1:VideoSource//."). */
static unsigned
topics_of_item(const xmlNode *expr, char *item, const char *const *paths, int npaths)
{
	char *colon = strchr(item, ':'), *path = colon ? colon + 1 : item;
	size_t n;
	bool subtree = false;
	unsigned bits = 0;
	xmlNs *ns;

	if (colon != NULL) {
		*colon = '\0';
		ns = xmlSearchNs(expr->doc, (xmlNode *)expr, BAD_CAST item);
		if (ns == NULL || strcmp((const char *)ns->href, NS_TNS1) != 0)
			return 0;	/* a topic of someone else's namespace: none of ours */
	}
	n = strlen(path);
	if (n >= 3 && strcmp(path + n - 3, "//.") == 0) {
		subtree = true;
		path[n - 3] = '\0';
		n -= 3;
	}
	for (int t = 0; t < npaths; t++) {
		const char *tp = paths[t];

		if (strcmp(tp, path) == 0 || (subtree && strncmp(tp, path, n) == 0 && tp[n] == '/'))
			bits |= 1u << t;
	}
	return bits;
}

unsigned
onvif_topic_filter(const xmlNode *expr, const char *const *paths, int npaths, const char **fault)
{
	char dialect[160] = DIALECT_CONCRETE_SET, text[1024], *save = NULL, *item;
	unsigned bits = 0;

	soap_attr(expr, NULL, "Dialect", dialect, sizeof(dialect));
	if (strcmp(dialect, DIALECT_CONCRETE_SET) != 0 && strcmp(dialect, DIALECT_CONCRETE) != 0 &&
	    strcmp(dialect, DIALECT_SIMPLE) != 0) {
		*fault = "wsnt:TopicExpressionDialectUnknownFault";
		return 0;
	}
	if (!soap_text(expr, text, sizeof(text)) || text[0] == '\0') {
		*fault = "wsnt:InvalidTopicExpressionFault";
		return 0;
	}
	for (item = strtok_r(text, "|", &save); item != NULL; item = strtok_r(NULL, "|", &save)) {
		while (*item == ' ' || *item == '\t' || *item == '\n' || *item == '\r')
			item++;
		item[strcspn(item, " \t\r\n")] = '\0';
		bits |= topics_of_item(expr, item, paths, npaths);
	}
	return bits;
}

static unsigned
topics_of(const xmlNode *expr, const char **fault)
{
	const char *paths[TOPIC_COUNT];

	for (int t = 0; t < TOPIC_COUNT; t++)
		paths[t] = pullpoint_topic_path((enum ev_topic)t);
	return onvif_topic_filter(expr, paths, TOPIC_COUNT, fault);
}

/* libxml2 compiles XPath recursively: refuse deep nesting before it does. */
static bool
shallow(const char *s)
{
	int depth = 0;

	for (; *s != '\0'; s++) {
		if (*s == '(' || *s == '[')
			depth++;
		else if (*s == ')' || *s == ']')
			depth--;
		if (depth > CONTENT_FILTER_NESTING)
			return false;
	}
	return true;
}

static void *
content_of(const xmlNode *mc, const char **fault)
{
	char dialect[160] = DIALECT_ITEM_FILTER, text[CONTENT_FILTER_MAX + 1];
	xmlXPathCompExpr *comp;

	soap_attr(mc, NULL, "Dialect", dialect, sizeof(dialect));
	if (strcmp(dialect, DIALECT_ITEM_FILTER) != 0 && strcmp(dialect, DIALECT_XPATH) != 0) {
		*fault = "wsnt:InvalidFilterFault";
		return NULL;
	}
	if (!soap_text(mc, text, sizeof(text)) || text[0] == '\0' || !shallow(text) ||
	    (comp = xmlXPathCompile(BAD_CAST text)) == NULL) {
		*fault = "wsnt:InvalidMessageContentExpressionFault";
		return NULL;
	}
	return comp;
}

/* Topic expressions narrow each other (WS-BaseNotification ANDs filters); none: every topic. */
static bool
read_filter(const xmlNode *filter, unsigned *topics, void **content, const char **fault)
{
	*topics = (1u << TOPIC_COUNT) - 1;
	*content = NULL;
	*fault = NULL;
	for (xmlNode *c = soap_first_element(filter); c != NULL; c = soap_next_element(c)) {
		if (soap_is(c, NS_WSNT, "TopicExpression")) {
			*topics &= topics_of(c, fault);
		} else if (soap_is(c, NS_WSNT, "MessageContent")) {
			if (*content != NULL)
				xmlXPathFreeCompExpr(*content);
			*content = content_of(c, fault);
		} else {
			*fault = "wsnt:InvalidFilterFault";
		}
		if (*fault != NULL) {
			if (*content != NULL)
				xmlXPathFreeCompExpr(*content);
			*content = NULL;
			return false;
		}
	}
	return true;
}

/*
 * wsnt:AbsoluteOrRelativeTimeType: an xs:duration from now, or an
 * xs:dateTime; absent: the default. Cut to subscription_max. false if it
 * is malformed or not in the future.
 */
static bool
termination_of(const xmlNode *n, int64_t *out)
{
	char text[64];
	int64_t now = gw_wall_us(), v;

	if (n == NULL) {
		*out = now + gw.cfg->onvif_subscription_default_ms * 1000;
		return true;
	}
	if (!soap_text(n, text, sizeof(text)))
		return false;
	if (text[0] == 'P') {
		if (soap_parse_duration(text, &v) < 0 || v <= 0)
			return false;
		v += now;
	} else if (soap_parse_datetime(text, &v) < 0 || v <= now) {
		return false;
	}
	*out = GW_MIN(v, now + gw.cfg->onvif_subscription_max_ms * 1000);
	return true;
}

static void
fault_wsn(struct onvif_req *r, const char *code, const char *fault, const char *reason)
{
	onvif_fault(r, 0, code, fault, NULL, reason);
}

/* --- CreatePullPointSubscription ---------------------------------------------------------- */

static bool
changed_only(const struct onvif_req *r)
{
	char v[8];
	xmlNode *policy = onvif_arg(r, "SubscriptionPolicy");

	return soap_child_text(policy, NULL, "ChangedOnly", v, sizeof(v)) &&
	    (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

static bool
events_allowed(const struct onvif_req *r)
{
	struct policy_request req = { .action = ACT_EVENTS, .now_us = gw_wall_us() };

	return model_authorize_grant(&r->principal, &req).allow;
}

static void
create_pull_point(struct onvif_req *r)
{
	unsigned topics;
	void *content;
	const char *fault, *why;
	int64_t termination;
	struct pullpoint *pp;
	char base[320];

	if (!events_allowed(r)) {
		onvif_fault(r, 400, "env:Sender", "ter:NotAuthorized", NULL,
		    "event subscriptions need a grant with level 1M or 3");
		return;
	}
	if (!read_filter(onvif_arg(r, "Filter"), &topics, &content, &fault)) {
		fault_wsn(r, "env:Sender", fault, "the filter is not supported");
		return;
	}
	if (!termination_of(onvif_arg(r, "InitialTerminationTime"), &termination)) {
		if (content != NULL)
			xmlXPathFreeCompExpr(content);
		fault_wsn(r, "env:Sender", "wsnt:UnacceptableInitialTerminationTimeFault",
		    "the termination time must be a duration or a time in the future");
		return;
	}
	if ((pp = pullpoint_create(r, topics, content, termination, changed_only(r), &why)) == NULL) {
		fault_wsn(r, "env:Receiver", "wsnt:SubscribeCreationFailedFault", why);
		return;
	}
	onvif_base_url(r, base, sizeof(base));
	xmlw_lit(&r->out, "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference><wsa:Address>");
	xmlw_esc(&r->out, base);
	xmlw_lit(&r->out, "/onvif/events_service/pullpoint/");
	xmlw_esc(&r->out, pp->id);
	xmlw_lit(&r->out, "</wsa:Address></tev:SubscriptionReference>");
	{
		char now[40], term[40];

		onvif_now(now, sizeof(now));
		soap_format_datetime(pp->termination_us, term, sizeof(term));
		xmlw_el(&r->out, "wsnt:CurrentTime", now);
		xmlw_el(&r->out, "wsnt:TerminationTime", term);
	}
	xmlw_lit(&r->out, "</tev:CreatePullPointSubscriptionResponse>");
	r->reply_action = "http://www.onvif.org/ver10/events/wsdl/EventPortType/"
	    "CreatePullPointSubscriptionResponse";
	onvif_reply(r);
}

static void
not_supported(struct onvif_req *r)
{
	onvif_fault_not_supported(r, "only PullPoint subscriptions are offered");
}

/* --- on a pull point --------------------------------------------------------------------- */

static struct pullpoint *
subscription(struct onvif_req *r)
{
	struct pullpoint *pp = pullpoint_find(r);

	if (pp == NULL)
		fault_wsn(r, "env:Sender", "wsrf-rw:ResourceUnknownFault", "the subscription does not exist");
	return pp;
}

/* A non-negative xs:int; false if it is not one. */
static bool
parse_count(const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end != '\0' || v < 0 || v > INT32_MAX)
		return false;
	*out = (int)v;
	return true;
}

static void
pull_messages(struct onvif_req *r)
{
	struct pullpoint *pp = subscription(r);
	char timeout[64], limit_text[16];
	int64_t us;
	int limit;
	struct xmlw detail;

	if (pp == NULL)
		return;
	if (!onvif_arg_text(r, "Timeout", timeout, sizeof(timeout)) ||
	    soap_parse_duration(timeout, &us) < 0 ||
	    !onvif_arg_text(r, "MessageLimit", limit_text, sizeof(limit_text)) ||
	    !parse_count(limit_text, &limit)) {
		onvif_fault(r, 0, "env:Sender", "ter:InvalidArgs", NULL, "Timeout and MessageLimit are required");
		return;
	}
	if (us > gw.cfg->onvif_max_pull_timeout_ms * 1000) {
		xmlw_init(&detail);
		xmlw_fmt(&detail, "<tev:PullMessagesFaultResponse><tev:MaxTimeout>PT%lldS</tev:MaxTimeout>"
		    "<tev:MaxMessageLimit>1000</tev:MaxMessageLimit></tev:PullMessagesFaultResponse>",
		    (long long)(gw.cfg->onvif_max_pull_timeout_ms / 1000));
		onvif_fault_detail(r, 0, "env:Sender", "ter:InvalidArgVal", NULL,
		    "the timeout is longer than the gateway waits", &detail);
		xmlw_free(&detail);
		return;
	}
	if (pullpoint_busy(pp)) {
		onvif_fault(r, 0, "env:Receiver", "ter:Action", NULL,
		    "UnableToGetMessagesFault: another PullMessages is waiting on this subscription");
		return;
	}
	pullpoint_pull(pp, r, us, limit);
}

static void
set_synchronization_point(struct onvif_req *r)
{
	struct pullpoint *pp = subscription(r);

	if (pp == NULL)
		return;
	pullpoint_resync(pp);
	xmlw_lit(&r->out, "<tev:SetSynchronizationPointResponse/>");
	onvif_reply(r);
}

static void
renew(struct onvif_req *r)
{
	struct pullpoint *pp = subscription(r);
	int64_t termination;
	char now[40], term[40];

	if (pp == NULL)
		return;
	if (!termination_of(onvif_arg(r, "TerminationTime"), &termination)) {
		fault_wsn(r, "env:Sender", "wsnt:UnacceptableTerminationTimeFault",
		    "the termination time must be a duration or a time in the future");
		return;
	}
	pp->termination_us = termination;
	onvif_now(now, sizeof(now));
	soap_format_datetime(termination, term, sizeof(term));
	xmlw_lit(&r->out, "<wsnt:RenewResponse>");
	xmlw_el(&r->out, "wsnt:TerminationTime", term);
	xmlw_el(&r->out, "wsnt:CurrentTime", now);
	xmlw_lit(&r->out, "</wsnt:RenewResponse>");
	r->reply_action = "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewResponse";
	onvif_reply(r);
}

static void
unsubscribe(struct onvif_req *r)
{
	struct pullpoint *pp = subscription(r);

	if (pp == NULL)
		return;
	pullpoint_end(pp, "unsubscribed");
	xmlw_lit(&r->out, "<wsnt:UnsubscribeResponse/>");
	r->reply_action = "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeResponse";
	onvif_reply(r);
}

static const struct onvif_op event_ops[] = {
	{ "GetServiceCapabilities", get_service_capabilities, OP_PRE_AUTH },
	{ "GetEventProperties", get_event_properties, 0 },
	{ "CreatePullPointSubscription", create_pull_point, 0 },
	{ "GetEventBrokers", not_supported, 0 },
	{ "AddEventBroker", not_supported, 0 },
	{ "DeleteEventBroker", not_supported, 0 },
};

static const struct onvif_op pull_ops[] = {
	{ "PullMessages", pull_messages, 0 },
	{ "SetSynchronizationPoint", set_synchronization_point, 0 },
	{ "Seek", not_supported, 0 },
};

static const struct onvif_op notify_ops[] = {
	{ "Renew", renew, 0 },
	{ "Unsubscribe", unsubscribe, 0 },
};

const struct onvif_service_ops onvif_events_ops = { NS_TEV, event_ops, ARRAY_SIZE(event_ops) };
const struct onvif_service_ops onvif_pullpoint_ops = { NS_TEV, pull_ops, ARRAY_SIZE(pull_ops) };
const struct onvif_service_ops onvif_notification_ops = { NS_WSNT, notify_ops, ARRAY_SIZE(notify_ops) };
