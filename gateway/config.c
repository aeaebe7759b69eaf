/*
 * config.c - the table of configuration keys and everything driven by it.
 *
 * Each key has a section, a name, a type, the offset of its field in struct
 * gw_config, a default (as text, parsed like a value from the file), flags
 * and a one-line help used for the sample file. Adding a key means adding a
 * field and a row here; the sample etc/vssgate.conf is the output of
 * `vssgated --print-defaults`, which a test compares with the file.
 */
#include "gw.h"
#include "config.h"
#include "log.h"
#include "tls.h"
#include "../proto/ini.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum cfg_type {
	CFG_STRING,
	CFG_INT,
	CFG_BOOL,
	CFG_DURATION,		/* int64 milliseconds; "250ms", "5s", "2m", "1h"; bare = seconds */
	CFG_SIZE,		/* int64 bytes; "512", "16k", "1m" */
	CFG_ENUM,		/* int; value is the index in choices */
	CFG_LISTEN,		/* comma-separated host:port list, may be empty */
};

#define CF_NO_RELOAD 0x01	/* needs a restart; reload keeps the old value */

struct cfg_key {
	const char *section;
	const char *name;
	enum cfg_type type;
	size_t offset;
	const char *def;
	unsigned flags;
	int64_t min, max;		/* CFG_INT, CFG_DURATION, CFG_SIZE */
	const char *const *choices;	/* CFG_ENUM, NULL-terminated */
	const char *help;
};

static const char *const log_targets[] = { "stderr", "syslog", NULL };
static const char *const log_levels[] = { "error", "warning", "info", "debug", NULL };

#define F(field) offsetof(struct gw_config, field)
#define DAY_MS (24LL * 3600 * 1000)

static const struct cfg_key cfg_keys[] = {
	{ "daemon", "node_name", CFG_STRING, F(node_name), "", CF_NO_RELOAD, 0, 0, NULL,
	  "Name of this node in logs, the audit log and session rows (empty: the host name). Unique among the nodes sharing a database: at start a node closes the session rows its name left open." },
	{ "daemon", "pid_file", CFG_STRING, F(pid_file), "", CF_NO_RELOAD, 0, 0, NULL,
	  "Write the process id here at start-up (empty: no pid file)." },
	{ "daemon", "log_target", CFG_ENUM, F(log_target), "stderr", 0, 0, 0, log_targets,
	  "Where log lines go: stderr or syslog (facility daemon)." },
	{ "daemon", "log_level", CFG_ENUM, F(log_level), "info", 0, 0, 0, log_levels,
	  "Least severe level logged: error, warning, info or debug." },
	{ "daemon", "state_dir", CFG_STRING, F(state_dir), "/var/lib/vssgate", CF_NO_RELOAD, 0, 0, NULL,
	  "Directory for state kept across restarts (audit records spooled while the database is down)." },
	{ "daemon", "worker_threads", CFG_INT, F(worker_threads), "2", CF_NO_RELOAD, 1, 64, NULL,
	  "Threads for blocking and heavy work (FFmpeg, exports); the I/O loop is one more thread." },
	{ "daemon", "shutdown_timeout", CFG_DURATION, F(shutdown_timeout_ms), "10s", 0, 0, 3600000, NULL,
	  "On SIGTERM, how long sessions may take to close before the daemon exits anyway." },

	{ "database", "conninfo", CFG_STRING, F(db_conninfo), "dbname=vssgate", CF_NO_RELOAD, 0, 0, NULL,
	  "libpq connection string. Prefer a .pgpass file over a password here." },
	{ "database", "connect_timeout", CFG_DURATION, F(db_connect_timeout_ms), "5s", 0, 100, 600000, NULL,
	  "Give up on a connection attempt after this long and retry with backoff." },
	{ "database", "query_timeout", CFG_DURATION, F(db_query_timeout_ms), "10s", 0, 100, 3600000, NULL,
	  "A query running longer than this fails and the connection is reset." },
	{ "database", "reconnect_min_delay", CFG_DURATION, F(db_reconnect_min_ms), "250ms", 0, 10, 600000, NULL,
	  "First delay before reconnecting after the database went away; doubles up to the maximum." },
	{ "database", "reconnect_max_delay", CFG_DURATION, F(db_reconnect_max_ms), "10s", 0, 10, 3600000, NULL,
	  "Longest delay between reconnection attempts (a random jitter of up to 25% is added)." },
	{ "database", "outage_grace", CFG_DURATION, F(db_outage_grace_ms), "5m", 0, 0, DAY_MS, NULL,
	  "While the database is unreachable, live sessions go on under the cached policy for this long; after that every request is denied." },
	{ "database", "model_refresh_delay", CFG_DURATION, F(model_refresh_delay_ms), "20ms", 0, 0, 10000, NULL,
	  "After a change notification, wait this long for more before reloading the policy model." },

	{ "listen", "rtsp", CFG_LISTEN, F(listen_rtsp), "0.0.0.0:8554", CF_NO_RELOAD, 0, 0, NULL,
	  "RTSP listeners, comma-separated host:port (empty: none). Every listener also recognises HTTP." },
	{ "listen", "http", CFG_LISTEN, F(listen_http), "0.0.0.0:8080", CF_NO_RELOAD, 0, 0, NULL,
	  "HTTP listeners (REST API, ONVIF services, RTSP over HTTP and WebSocket), comma-separated host:port." },
	{ "listen", "tls", CFG_LISTEN, F(listen_tls), "", CF_NO_RELOAD, 0, 0, NULL,
	  "TLS listeners (HTTPS with ALPN h2/http/1.1, RTSPS), comma-separated host:port; needs [tls] cert_file and key_file." },

	{ "tls", "cert_file", CFG_STRING, F(tls_cert_file), "", 0, 0, 0, NULL,
	  "PEM certificate chain for the TLS listeners; re-read on reload." },
	{ "tls", "key_file", CFG_STRING, F(tls_key_file), "", 0, 0, 0, NULL,
	  "PEM private key for cert_file; re-read on reload." },
	{ "tls", "client_ca_file", CFG_STRING, F(tls_client_ca_file), "", 0, 0, 0, NULL,
	  "PEM CA bundle; when set, admins may authenticate with a client certificate signed by it." },
	{ "tls", "ciphers", CFG_STRING, F(tls_ciphers), TLS_DEFAULT_CIPHERS, 0, 0, 0, NULL,
	  "OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are OpenSSL's own, all forward secret). The default allows only ECDHE key exchange with AEAD ciphers; a list OpenSSL does not understand is refused." },

	{ "security", "secret_key_file", CFG_STRING, F(secret_key_file), "/etc/vssgate/secret.key", CF_NO_RELOAD, 0, 0, NULL,
	  "Server key (64 hex digits) that encrypts grant passwords and source credentials in the database. Keep it secret and backed up." },
	{ "security", "realm", CFG_STRING, F(realm), "vssgate", 0, 0, 0, NULL,
	  "Realm of HTTP and RTSP Digest authentication. Changing it invalidates nothing stored." },
	{ "security", "websocket_origins", CFG_STRING, F(websocket_origins), "", 0, 0, 0, NULL,
	  "Web page origins (scheme://host[:port], comma-separated) that may open WebSockets to the gateway. A client that sends no Origin (a player) and the gateway's own pages are always allowed." },

	{ "recorder", "dir", CFG_STRING, F(recorder_dir), "/var/lib/vssgate/recordings", CF_NO_RELOAD, 0, 0, NULL,
	  "Where the recorded cameras are kept: one folder per camera of fragmented MP4 segments (ffprobe opens any of them), each with a small .idx beside it." },
	{ "recorder", "retention", CFG_DURATION, F(recorder_retention_ms), "24h", 0, 60000, 3650 * DAY_MS, NULL,
	  "Footage older than this is deleted, for cameras that do not set their own retention." },
	{ "recorder", "max_bytes", CFG_SIZE, F(recorder_max_bytes), "0", 0, 0, INT64_MAX, NULL,
	  "Most bytes all recordings together may take on this node; beyond it the oldest footage goes first (0: no budget but the retention and the disk)." },
	{ "recorder", "segment_duration", CFG_DURATION, F(recorder_segment_ms), "60s", 0, 5000, 3600000, NULL,
	  "Length of a segment file; a new one starts at the first keyframe after it (and after every gap)." },
	{ "recorder", "fragment_duration", CFG_DURATION, F(recorder_fragment_ms), "1s", 0, 100, 10000, NULL,
	  "Longest fragment written in one go (a fragment also starts at each keyframe): what a kill -9 can lose at most." },
	{ "recorder", "queue_max", CFG_SIZE, F(recorder_queue_max), "16m", 0, 65536, 1073741824, NULL,
	  "Most bytes of one camera waiting for the disk; a slower disk drops what is beyond it, recorded as a gap." },
	{ "recorder", "sync_interval", CFG_DURATION, F(recorder_sync_ms), "10s", 0, 0, 3600000, NULL,
	  "How often the open segments are flushed to the disk (fdatasync) against a power loss; a crash of the daemon alone loses nothing written (0: never)." },
	{ "recorder", "disk_retry", CFG_DURATION, F(recorder_disk_retry_ms), "5s", 0, 100, 3600000, NULL,
	  "After the disk was full, how often recording tries again." },

	{ "export", "dir", CFG_STRING, F(export_dir), "/var/lib/vssgate/exports", CF_NO_RELOAD, 0, 0, NULL,
	  "Where finished exports are kept until they are downloaded and [export] keep has passed: one folder per export (the signed files, their sidecars, the signed manifest)." },
	{ "export", "workers", CFG_INT, F(export_workers), "2", CF_NO_RELOAD, 1, 32, NULL,
	  "Exports written at once, each on a thread of its own (the rest wait in the queue)." },
	{ "export", "queue_max", CFG_INT, F(export_queue_max), "32", 0, 1, 100000, NULL,
	  "Exports that may wait for a worker; a request beyond it is refused (HTTP 429, ONVIF ter:Action)." },
	{ "export", "keep", CFG_DURATION, F(export_keep_ms), "7d", 0, 60000, 3650 * DAY_MS, NULL,
	  "A finished export's files are deleted this long after it finished (audited as export.delete)." },
	{ "export", "max_range", CFG_DURATION, F(export_max_range_ms), "24h", 0, 1000, 3650 * DAY_MS, NULL,
	  "Longest time range one export may ask for." },
	{ "export", "max_cameras", CFG_INT, F(export_max_cameras), "16", 0, 1, 256, NULL,
	  "Most cameras one export may name (one signed file each)." },
	{ "export", "sign_key_file", CFG_STRING, F(export_sign_key_file), "", CF_NO_RELOAD, 0, 0, NULL,
	  "PEM private key (RSA, at least 2048 bits) that signs every export and manifest. Keep it readable by vssgated alone; it never leaves the daemon and is never logged. Empty: no exports (requests are refused, waiting ones fail)." },
	{ "export", "sign_cert_file", CFG_STRING, F(export_sign_cert_file), "", CF_NO_RELOAD, 0, 0, NULL,
	  "PEM certificate of sign_key_file, followed by its intermediate CA certificates (written into each file's cert and chain boxes)." },
	{ "export", "time_zone", CFG_STRING, F(export_time_zone), "UTC", 0, 0, 0, NULL,
	  "IANA time zone of the installation (e.g. Europe/Paris), written into each export's sidecar; times in the files are UTC." },

	{ "auth", "nonce_lifetime", CFG_DURATION, F(auth_nonce_lifetime_ms), "5m", 0, 1000, DAY_MS, NULL,
	  "A Digest nonce (RTSP and HTTP alike) older than this is answered with stale=true and a new one." },
	{ "auth", "digest_algorithms", CFG_STRING, F(auth_digest_algorithms), "MD5, SHA-256, MD5", 0, 0, 0, NULL,
	  "The Digest challenges of a 401, in order (MD5, SHA-256), all with one nonce. Clients that take the first (Python urllib) and those that take the last (FFmpeg, GStreamer, live555) find MD5; clients that pick the strongest take SHA-256." },
	{ "auth", "nonce_count_slots", CFG_INT, F(auth_nonce_count_slots), "65536", CF_NO_RELOAD, 1024, 16777216, NULL,
	  "Digest nonces whose last nonce count is remembered against replays; a nonce pushed out is answered stale=true." },
	{ "auth", "clock_window", CFG_DURATION, F(auth_clock_window_ms), "5m", 0, 1000, DAY_MS, NULL,
	  "A WS-UsernameToken whose Created time is further than this from our clock, either way, is refused." },
	{ "auth", "token_cache_size", CFG_INT, F(auth_token_cache_size), "100000", CF_NO_RELOAD, 1024, 10000000, NULL,
	  "UsernameTokens remembered against replay; when full, tokens older than the oldest forgotten one are refused." },
	{ "auth", "failure_window", CFG_DURATION, F(auth_failure_window_ms), "1m", CF_NO_RELOAD, 1000, DAY_MS, NULL,
	  "The window in which failed logins are counted by the limits below." },
	{ "auth", "failures_per_user_and_address", CFG_INT, F(auth_failures_per_user_and_address), "10", 0, 1, 10000, NULL,
	  "Failed logins of one user name from one address in a window; then that pair is refused (RTSP 503, HTTP 429, ONVIF NotAuthorized, with Retry-After) until the window ends. All protocols count together." },
	{ "auth", "failures_per_address", CFG_INT, F(auth_failures_per_address), "20", 0, 1, 100000, NULL,
	  "Failed logins from one address in a window; then the address is refused for the user names that failed from it (a user with no failure still gets in)." },
	{ "auth", "failures_per_user", CFG_INT, F(auth_failures_per_user), "50", 0, 1, 100000, NULL,
	  "Failed logins of one user name in a window, all addresses together; then it is refused from the addresses where it failed, never from another." },
	{ "auth", "failures_per_connection", CFG_INT, F(auth_failures_per_connection), "5", 0, 1, 1000, NULL,
	  "Failed logins in a row after which an RTSP connection (TCP, HTTP tunnel, WebSocket) is closed." },
	{ "auth", "failures_logged_per_second", CFG_INT, F(auth_failures_logged_per_second), "20", 0, 1, 100000, NULL,
	  "Failed logins and access denials logged and audited one by one each second; the rest are summed up once a second." },

	{ "media", "source_idle_timeout", CFG_DURATION, F(source_idle_timeout_ms), "10s", 0, 0, DAY_MS, NULL,
	  "Stop pulling a camera this long after its last reader left (cameras marked always_on keep running)." },
	{ "media", "source_timeout", CFG_DURATION, F(source_timeout_ms), "10s", 0, 1000, 600000, NULL,
	  "A source that does not connect, answer a request or send media for this long has failed (and is retried)." },
	{ "media", "source_retry_min", CFG_DURATION, F(source_retry_min_ms), "500ms", 0, 10, 600000, NULL,
	  "First delay before reconnecting to a source that failed; doubles up to source_retry_max, with jitter." },
	{ "media", "source_retry_max", CFG_DURATION, F(source_retry_max_ms), "15s", 0, 10, 3600000, NULL,
	  "Longest delay between reconnection attempts to a failed source." },
	{ "media", "describe_timeout", CFG_DURATION, F(describe_timeout_ms), "10s", 0, 100, 600000, NULL,
	  "How long a first reader waits for a source to describe its tracks before getting an error." },
	{ "media", "gop_cache_max", CFG_SIZE, F(gop_cache_max), "16m", 0, 0, 1073741824, NULL,
	  "Most bytes of the last group of pictures kept per source so new readers start on a keyframe at once (0: no cache)." },
	{ "media", "reader_queue_max", CFG_SIZE, F(reader_queue_max), "4m", 0, 65536, 1073741824, NULL,
	  "Most bytes queued for one reader; a reader that falls further behind skips to the next keyframe." },

	{ "rtsp", "session_timeout", CFG_DURATION, F(rtsp_session_timeout_ms), "60s", 0, 5000, 3600000, NULL,
	  "An RTSP session without a request or RTCP report for this long is closed (announced in the Session header)." },
	{ "rtsp", "udp_port", CFG_INT, F(rtsp_udp_port), "8000", CF_NO_RELOAD, 0, 65534, NULL,
	  "Even UDP port for RTP to UDP readers (RTCP on the next one); 0 turns RTP over UDP off." },
	{ "rtsp", "udp_pace_rate", CFG_SIZE, F(rtsp_udp_pace_rate), "2m", 0, 0, INT64_MAX, NULL,
	  "Bytes per second at most (or four times the camera's rate, if that is more) at which a UDP reader gets what is queued for it: the cached group of pictures when it starts, a backlog. A receiver with default socket buffers then gets the first keyframe whole (0: no pacing)." },
	{ "rtsp", "multicast_ttl", CFG_INT, F(rtsp_multicast_ttl), "4", 0, 1, 255, NULL,
	  "TTL of multicast RTP; each camera's group and port are set on the camera." },
	{ "rtsp", "max_sessions_per_principal", CFG_INT, F(rtsp_max_sessions_per_principal), "32", 0, 1, 100000, NULL,
	  "Most RTSP sessions one set of grant credentials may hold at once." },

	{ "limits", "max_connections", CFG_INT, F(max_connections), "20000", 0, 1, 1000000, NULL,
	  "Connections accepted at once, all listeners together; more are closed at accept." },
	{ "limits", "max_connections_per_address", CFG_INT, F(max_connections_per_address), "2000", 0, 1, 1000000, NULL,
	  "Connections accepted at once from one peer address." },
	{ "limits", "max_pending_connections_per_address", CFG_INT, F(max_pending_connections_per_address), "128", 0, 1, 1000000, NULL,
	  "Connections from one peer address that may be at once in their TLS handshake or in the middle of a request head; more are closed at accept (slow clients, slowloris). Connections that are being served do not count." },
	{ "limits", "max_header_bytes", CFG_SIZE, F(max_header_bytes), "16k", 0, 1024, 1048576, NULL,
	  "Largest request head (request line and headers) of HTTP and RTSP." },
	{ "limits", "max_headers", CFG_INT, F(max_headers), "64", 0, 8, 1024, NULL,
	  "Most header fields in one HTTP or RTSP request." },
	{ "limits", "max_body_bytes", CFG_SIZE, F(max_body_bytes), "1m", 0, 0, 1073741824, NULL,
	  "Largest request body accepted (REST, SOAP, RTSP)." },
	{ "limits", "idle_timeout", CFG_DURATION, F(idle_timeout_ms), "60s", 0, 1000, DAY_MS, NULL,
	  "Close a connection that has no session and sent nothing for this long." },
	{ "limits", "handshake_timeout", CFG_DURATION, F(handshake_timeout_ms), "10s", 0, 100, 600000, NULL,
	  "Close a connection whose TLS handshake, or first line of its first request, takes longer than this." },
	{ "limits", "header_timeout", CFG_DURATION, F(header_timeout_ms), "10s", 0, 100, 600000, NULL,
	  "A request head (HTTP or RTSP request line and headers) must arrive whole within this long of its first byte; else the connection is closed." },
	{ "limits", "body_timeout", CFG_DURATION, F(body_timeout_ms), "20s", 0, 100, 3600000, NULL,
	  "An HTTP request body must arrive within this long after its head, plus one second for every body_min_rate bytes; else the connection is closed." },
	{ "limits", "body_min_rate", CFG_SIZE, F(body_min_rate), "1k", 0, 0, 1073741824, NULL,
	  "Bytes per second a slow but steady upload earns beyond body_timeout (0: body_timeout is the whole allowance)." },
	{ "limits", "max_output_bytes", CFG_SIZE, F(max_output_bytes), "1m", 0, 65536, 1073741824, NULL,
	  "Unsent response bytes one connection may have queued: beyond this the gateway reads (and answers) no more of its requests until the peer reads; on HTTP/2 it also bounds the buffered answers of its streams." },
	{ "limits", "http2_max_concurrent_streams", CFG_INT, F(h2_max_concurrent_streams), "100", 0, 1, 1000, NULL,
	  "Streams an HTTP/2 client may have open at once on one connection (SETTINGS_MAX_CONCURRENT_STREAMS)." },

	{ "api", "token_lifetime", CFG_DURATION, F(token_lifetime_ms), "12h", 0, 60000, 90 * DAY_MS, NULL,
	  "Bearer tokens issued by POST /api/v1/auth/login expire after this long." },
	{ "api", "login_attempts_per_minute", CFG_INT, F(login_attempts_per_minute), "10", 0, 1, 10000, NULL,
	  "Login attempts allowed per minute from one peer address, and separately for one user name; more get 429." },
	{ "api", "allowed_origins", CFG_STRING, F(allowed_origins), "", 0, 0, 0, NULL,
	  "Browser origins (comma-separated, e.g. https://ops.example.org) allowed to call the API; a request with any other Origin header gets 403." },
	{ "api", "allow_own_origin", CFG_BOOL, F(allow_own_origin), "yes", 0, 0, 0, NULL,
	  "Also allow the gateway's own origin (the scheme and Host of the request itself), which the admin page at /admin/ sends; no: only allowed_origins." },
	{ "api", "max_grant_duration", CFG_DURATION, F(max_grant_duration_ms), "30d", 0, 60000, 3650 * DAY_MS, NULL,
	  "Longest active window of a normal grant; a longer request is refused." },
	{ "api", "max_emergency_duration", CFG_DURATION, F(max_emergency_duration_ms), "4h", 0, 60000, 30 * DAY_MS, NULL,
	  "Longest active window of an emergency grant; a longer request is capped to it." },
	{ "api", "public_host", CFG_STRING, F(public_host), "", 0, 0, 0, NULL,
	  "Host name put in the URLs handed out with grant credentials (empty: the local address the request came in on; never the request's Host header, which the client chooses)." },

	{ "webhook", "url", CFG_STRING, F(webhook_url), "", 0, 0, 0, NULL,
	  "http:// or https:// URL that receives a POST (JSON) for each emergency grant, retried until it answers 2xx (empty: none)." },
	{ "webhook", "secret", CFG_STRING, F(webhook_secret), "", 0, 0, 0, NULL,
	  "When set, each webhook POST carries X-Vssgate-Signature: sha256=<HMAC-SHA256 of the body with this key>." },
	{ "webhook", "timeout", CFG_DURATION, F(webhook_timeout_ms), "5s", 0, 100, 600000, NULL,
	  "A webhook attempt that has no answer after this long counts as failed." },
	{ "webhook", "retry_min_delay", CFG_DURATION, F(webhook_retry_min_ms), "1s", 0, 10, 3600000, NULL,
	  "Delay before the first retry of a failed webhook delivery; doubles up to retry_max_delay." },
	{ "webhook", "retry_max_delay", CFG_DURATION, F(webhook_retry_max_ms), "5m", 0, 10, DAY_MS, NULL,
	  "Longest delay between two attempts of a webhook delivery." },

	{ "onvif", "enable", CFG_BOOL, F(onvif_enable), "yes", CF_NO_RELOAD, 0, 0, NULL,
	  "Serve the ONVIF web services (/onvif/...) to authority clients." },
	{ "onvif", "max_request_bytes", CFG_SIZE, F(onvif_max_request_bytes), "256k", 0, 4096, 16777216, NULL,
	  "Largest SOAP request accepted." },
	{ "onvif", "max_xml_depth", CFG_INT, F(onvif_max_xml_depth), "32", 0, 8, 256, NULL,
	  "Deepest element nesting accepted in a SOAP request." },
	{ "onvif", "max_xml_elements", CFG_INT, F(onvif_max_xml_elements), "4000", 0, 64, 1000000, NULL,
	  "Most elements accepted in one SOAP request." },
	{ "onvif", "max_profiles", CFG_INT, F(onvif_max_profiles), "16", 0, 0, 1000, NULL,
	  "Media profiles one authority may create (besides the fixed ones of its cameras)." },
	{ "onvif", "max_osds", CFG_INT, F(onvif_max_osds), "8", 0, 0, 100, NULL,
	  "On-screen displays one authority may keep per video source." },
	{ "onvif", "max_masks", CFG_INT, F(onvif_max_masks), "8", 0, 0, 100, NULL,
	  "Privacy masks one authority may keep per video source." },
	{ "onvif", "max_subscriptions", CFG_INT, F(onvif_max_subscriptions), "4096", 0, 1, 1000000, NULL,
	  "PullPoint event subscriptions open at once, all authorities together." },
	{ "onvif", "max_subscriptions_per_principal", CFG_INT, F(onvif_max_subscriptions_per_principal), "16", 0, 1, 10000, NULL,
	  "PullPoint subscriptions one set of grant credentials may hold at once." },
	{ "onvif", "event_queue_max", CFG_INT, F(onvif_event_queue_max), "100", 0, 1, 100000, NULL,
	  "Event messages kept per subscription until pulled; beyond this the oldest are dropped." },
	{ "onvif", "subscription_default", CFG_DURATION, F(onvif_subscription_default_ms), "1m", 0, 1000, DAY_MS, NULL,
	  "Lifetime of a subscription created or renewed without a termination time." },
	{ "onvif", "subscription_max", CFG_DURATION, F(onvif_subscription_max_ms), "1h", 0, 1000, DAY_MS, NULL,
	  "Longest lifetime a client may ask for a subscription (longer requests are cut to this)." },
	{ "onvif", "max_pull_timeout", CFG_DURATION, F(onvif_max_pull_timeout_ms), "5m", 0, 60000, 3600000, NULL,
	  "Longest a PullMessages request may wait for events (ONVIF asks for at least one minute)." },
	{ "onvif", "status_poll", CFG_DURATION, F(onvif_status_poll_ms), "1s", 0, 200, 60000, NULL,
	  "How often camera status (online, active connections) is checked for events." },
	{ "onvif", "discovery", CFG_BOOL, F(onvif_discovery), "yes", CF_NO_RELOAD, 0, 0, NULL,
	  "Answer WS-Discovery probes on UDP and announce the gateway with Hello and Bye." },
	{ "onvif", "discovery_address", CFG_STRING, F(onvif_discovery_address), "239.255.255.250", CF_NO_RELOAD, 0, 0, NULL,
	  "Multicast group of WS-Discovery (IPv4)." },
	{ "onvif", "discovery_port", CFG_INT, F(onvif_discovery_port), "3702", CF_NO_RELOAD, 1, 65535, NULL,
	  "UDP port of WS-Discovery." },
	{ "onvif", "name", CFG_STRING, F(onvif_name), "vssgate", 0, 0, 0, NULL,
	  "Name announced in the WS-Discovery scope onvif://www.onvif.org/name/ (never a camera name)." },
	{ "onvif", "location", CFG_STRING, F(onvif_location), "", 0, 0, 0, NULL,
	  "Location announced in the WS-Discovery scope onvif://www.onvif.org/location/ (empty: none)." },
	{ "onvif", "snapshot_max_age", CFG_DURATION, F(onvif_snapshot_max_age_ms), "2s", 0, 0, 600000, NULL,
	  "A snapshot JPEG is shared by the fetches that follow until a newer keyframe arrives, but never for longer than this." },
	{ "onvif", "snapshot_quality", CFG_INT, F(onvif_snapshot_quality), "4", 0, 2, 31, NULL,
	  "JPEG quantiser of snapshots (2: best, 31: smallest)." },
	{ "onvif", "snapshot_max_jobs", CFG_INT, F(onvif_snapshot_max_jobs), "8", 0, 1, 1000, NULL,
	  "Snapshot decodes running at once; a fetch that needs one more is refused with 503 (fetches of a camera being decoded wait for it)." },
	{ "onvif", "max_searches", CFG_INT, F(onvif_max_searches), "256", 0, 1, 100000, NULL,
	  "Recording searches (FindRecordings, FindEvents) open at once, all authorities together; one more is refused with ter:ResourceProblem." },
	{ "onvif", "max_searches_per_principal", CFG_INT, F(onvif_max_searches_per_principal), "8", 0, 1, 1000, NULL,
	  "Recording searches one set of grant credentials may hold open at once." },
	{ "onvif", "search_keepalive_max", CFG_DURATION, F(onvif_search_keepalive_max_ms), "5m", 0, 10000, 3600000, NULL,
	  "Longest KeepAliveTime a search session is kept for without a request (ONVIF asks for at least ten seconds; longer requests are cut to this)." },
	{ "onvif", "search_max_wait", CFG_DURATION, F(onvif_search_max_wait_ms), "1m", 0, 1000, 600000, NULL,
	  "Longest a GetRecordingSearchResults or GetEventSearchResults waits for results (a longer WaitTime is cut to this)." },
	{ "onvif", "search_max_matches", CFG_INT, F(onvif_search_max_matches), "10000", 0, 1, 1000000, NULL,
	  "Results one search finds at most; a smaller MaxMatches of the client stops it sooner." },

	{ "web", "enable", CFG_BOOL, F(web_enable), "yes", CF_NO_RELOAD, 0, 0, NULL,
	  "Serve the admin page at /admin/ on the HTTP and TLS listeners (it uses the REST API with an admin's login)." },
	{ "web", "root", CFG_STRING, F(web_root), "", CF_NO_RELOAD, 0, 0, NULL,
	  "Directory the page's files are read from at start-up (make install puts them in PREFIX/share/vssgate/web); empty: the copy built into vssgated." },
	{ "web", "map_tiles", CFG_STRING, F(web_map_tiles), "", 0, 0, 0, NULL,
	  "Tile URL template of the map, e.g. https://tiles.example.org/{z}/{x}/{y}.png (the browser then loads images from that host); empty: a plain background drawn without tiles, which works offline." },
	{ "web", "map_attribution", CFG_STRING, F(web_map_attribution), "", 0, 0, 0, NULL,
	  "Attribution text shown on the map with the tiles, as the tile server's licence asks." },
	{ "web", "live_view_duration", CFG_DURATION, F(web_live_view_duration_ms), "10m", 0, 60000, 14400000, NULL,
	  "An admin's live view in the page runs under a short grant of its own (audited like any grant); this is its length, renewed while the view stays open." },
};

/* --- value parsing ------------------------------------------------------- */

static int
parse_int64(const char *v, int64_t *out, const char **rest)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (end == v || errno != 0)
		return -1;
	*out = n;
	*rest = end;
	return 0;
}

static int
parse_duration(const char *v, int64_t *ms)
{
	const char *unit;
	int64_t n, mult;

	if (parse_int64(v, &n, &unit) < 0 || n < 0)
		return -1;
	if (*unit == '\0' || strcmp(unit, "s") == 0)
		mult = 1000;
	else if (strcmp(unit, "ms") == 0)
		mult = 1;
	else if (strcmp(unit, "m") == 0 || strcmp(unit, "min") == 0)
		mult = 60000;
	else if (strcmp(unit, "h") == 0)
		mult = 3600000;
	else if (strcmp(unit, "d") == 0)
		mult = DAY_MS;
	else
		return -1;
	if (n > INT64_MAX / mult)
		return -1;
	*ms = n * mult;
	return 0;
}

static int
parse_size(const char *v, int64_t *bytes)
{
	const char *unit;
	int64_t n, mult;

	if (parse_int64(v, &n, &unit) < 0 || n < 0)
		return -1;
	if (*unit == '\0' || strcasecmp(unit, "b") == 0)
		mult = 1;
	else if (strcasecmp(unit, "k") == 0 || strcasecmp(unit, "kb") == 0)
		mult = 1024;
	else if (strcasecmp(unit, "m") == 0 || strcasecmp(unit, "mb") == 0)
		mult = 1024 * 1024;
	else if (strcasecmp(unit, "g") == 0 || strcasecmp(unit, "gb") == 0)
		mult = 1024 * 1024 * 1024;
	else
		return -1;
	if (n > INT64_MAX / mult)
		return -1;
	*bytes = n * mult;
	return 0;
}

static int
parse_bool(const char *v, bool *out)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "on") || !strcasecmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "off") || !strcasecmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return -1;
	return 0;
}

/* "host:port" with a numeric port 1..65535; IPv6 as [addr]:port. */
static bool
valid_listen_addr(const char *a)
{
	const char *colon = strrchr(a, ':');
	int64_t port;
	const char *rest;

	if (colon == NULL || colon == a)
		return false;
	if (a[0] == '[' && colon[-1] != ']')
		return false;
	if (parse_int64(colon + 1, &port, &rest) < 0 || *rest != '\0')
		return false;
	return port >= 1 && port <= 65535;
}

static void
free_listen(struct cfg_listen *l)
{
	for (int i = 0; i < l->count; i++)
		free(l->addr[i]);
	l->count = 0;
}

static int
parse_listen(const char *v, struct cfg_listen *out, char *why, size_t whylen)
{
	struct cfg_listen l = { 0 };
	const char *p = v;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char *item;

		while (n > 0 && (*p == ' ' || *p == '\t'))
			p++, n--;
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		item = gw_xstrndup(p, n);
		if (l.count == CFG_MAX_LISTEN || !valid_listen_addr(item)) {
			if (l.count == CFG_MAX_LISTEN)
				snprintf(why, whylen, "more than %d addresses", CFG_MAX_LISTEN);
			else
				snprintf(why, whylen, "\"%.100s\" is not host:port", item);
			free(item);
			free_listen(&l);
			return -1;
		}
		l.addr[l.count++] = item;
		p = comma ? comma + 1 : p + strlen(p);
	}
	free_listen(out);
	*out = l;
	return 0;
}

static void
describe_range(const struct cfg_key *k, char *why, size_t whylen)
{
	switch (k->type) {
	case CFG_INT:
		snprintf(why, whylen, "expected an integer from %lld to %lld",
		    (long long)k->min, (long long)k->max);
		break;
	case CFG_DURATION:
		snprintf(why, whylen, "expected a duration from %lldms to %llds (units ms, s, m, h, d)",
		    (long long)k->min, (long long)k->max / 1000);
		break;
	case CFG_SIZE:
		snprintf(why, whylen, "expected a size from %lld to %lld bytes (units k, m, g)",
		    (long long)k->min, (long long)k->max);
		break;
	default:
		snprintf(why, whylen, "invalid value");
	}
}

static int
set_value(struct gw_config *cfg, const struct cfg_key *k, const char *v,
    char *why, size_t whylen)
{
	char *field = (char *)cfg + k->offset;
	const char *rest;
	int64_t n;
	bool b;

	switch (k->type) {
	case CFG_STRING:
		free(*(char **)field);
		*(char **)field = gw_xstrdup(v);
		return 0;
	case CFG_INT:
		if (parse_int64(v, &n, &rest) < 0 || *rest != '\0' || n < k->min || n > k->max)
			goto bad_range;
		*(int *)field = (int)n;
		return 0;
	case CFG_DURATION:
		if (parse_duration(v, &n) < 0 || n < k->min || n > k->max)
			goto bad_range;
		*(int64_t *)field = n;
		return 0;
	case CFG_SIZE:
		if (parse_size(v, &n) < 0 || n < k->min || n > k->max)
			goto bad_range;
		*(int64_t *)field = n;
		return 0;
	case CFG_BOOL:
		if (parse_bool(v, &b) < 0) {
			snprintf(why, whylen, "expected yes or no");
			return -1;
		}
		*(bool *)field = b;
		return 0;
	case CFG_ENUM:
		for (int i = 0; k->choices[i]; i++)
			if (strcmp(v, k->choices[i]) == 0) {
				*(int *)field = i;
				return 0;
			}
		snprintf(why, whylen, "expected one of:");
		for (int i = 0; k->choices[i]; i++) {
			size_t used = strlen(why);
			snprintf(why + used, whylen - used, " %s", k->choices[i]);
		}
		return -1;
	case CFG_LISTEN:
		return parse_listen(v, (struct cfg_listen *)field, why, whylen);
	}
	return -1;
bad_range:
	describe_range(k, why, whylen);
	return -1;
}

/* Keys that moved: still read, with a warning, and never written to the sample file. */
static const struct cfg_alias {
	const char *section, *name, *to_section, *to_name;
} cfg_aliases[] = {
	{ "rtsp", "nonce_lifetime", "auth", "nonce_lifetime" },
	{ "rtsp", "auth_failures_per_minute", "auth", "failures_per_address" },
	{ "onvif", "clock_window", "auth", "clock_window" },
	{ "onvif", "nonce_cache_size", "auth", "token_cache_size" },
};

static const struct cfg_key *find_key(const char *section, const char *name);

/* The key a deprecated name stands for (a warning says so), or NULL. */
static const struct cfg_key *
find_alias(const char *file, int line, const char *section, const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_aliases); i++) {
		const struct cfg_alias *a = &cfg_aliases[i];

		if (strcmp(a->section, section) != 0 || strcmp(a->name, name) != 0)
			continue;
		log_warn("%s:%d: key \"%s\" in [%s] is deprecated; it is read as \"%s\" in [%s]",
		    file, line, name, section, a->to_name, a->to_section);
		return find_key(a->to_section, a->to_name);
	}
	return NULL;
}

static const struct cfg_key *
find_key(const char *section, const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++)
		if (strcmp(cfg_keys[i].section, section) == 0 && strcmp(cfg_keys[i].name, name) == 0)
			return &cfg_keys[i];
	return NULL;
}

static bool
known_section(const char *section)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++)
		if (strcmp(cfg_keys[i].section, section) == 0)
			return true;
	return false;
}

/* --- loading ------------------------------------------------------------- */

struct load_ctx {
	struct gw_config *cfg;
	const char *name;
	bool seen[ARRAY_SIZE(cfg_keys)];
	int line[ARRAY_SIZE(cfg_keys)];	/* where each key was set; 0: default */
};

static int
on_entry(void *arg, const char *section, const char *key, const char *value,
    int line, struct ini_error *err)
{
	struct load_ctx *ctx = arg;
	const struct cfg_key *k;
	char why[200];

	if (section[0] == '\0') {
		snprintf(err->msg, sizeof(err->msg), "key \"%s\" is outside any [section]", key);
		return -1;
	}
	if (!known_section(section)) {
		snprintf(err->msg, sizeof(err->msg), "unknown section [%s]", section);
		return -1;
	}
	k = find_key(section, key);
	if (k == NULL)
		k = find_alias(ctx->name, line, section, key);
	if (k == NULL) {
		snprintf(err->msg, sizeof(err->msg), "unknown key \"%s\" in [%s]", key, section);
		return -1;
	}
	if (ctx->seen[k - cfg_keys]) {
		snprintf(err->msg, sizeof(err->msg), "key \"%s\" in [%s] is set twice", key, section);
		return -1;
	}
	ctx->seen[k - cfg_keys] = true;
	ctx->line[k - cfg_keys] = line;
	if (set_value(ctx->cfg, k, value, why, sizeof(why)) < 0) {
		snprintf(err->msg, sizeof(err->msg), "key \"%s\" in [%s]: %s", key, section, why);
		return -1;
	}
	return 0;
}

static struct gw_config *
config_new_defaults(void)
{
	struct gw_config *cfg = gw_xcalloc(1, sizeof(*cfg));
	char why[200];

	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++)
		if (set_value(cfg, &cfg_keys[i], cfg_keys[i].def, why, sizeof(why)) < 0)
			gw_fatal_check(__FILE__, __LINE__, "valid default");
	return cfg;
}

/*
 * The last line of the file that set one of these keys. The defaults pass
 * every check below, so a failing check always has such a line, and the
 * message can point at it like any other ("FILE:LINE: ...").
 */
static int
last_line_of(const struct load_ctx *ctx, const char *section, const char *const *names)
{
	int line = 0;

	for (; *names; names++)
		line = GW_MAX(line, ctx->line[find_key(section, *names) - cfg_keys]);
	return line;
}

/* Checks that need several keys at once; *line gets the line to blame. */
static int
validate_whole(const struct load_ctx *ctx, int *line, char *why, size_t whylen)
{
	static const char *const tls[] = { "tls", NULL };
	static const char *const delays[] = { "reconnect_min_delay", "reconnect_max_delay", NULL };
	static const char *const listeners[] = { "rtsp", "http", "tls", NULL };
	static const char *const signing[] = { "sign_key_file", "sign_cert_file", NULL };
	const struct gw_config *cfg = ctx->cfg;

	if (cfg->listen_tls.count > 0 && (cfg->tls_cert_file[0] == '\0' || cfg->tls_key_file[0] == '\0')) {
		*line = last_line_of(ctx, "listen", tls);
		snprintf(why, whylen, "key \"tls\" in [listen] is set but [tls] cert_file or key_file is empty");
		return -1;
	}
	if (cfg->db_reconnect_min_ms > cfg->db_reconnect_max_ms) {
		*line = last_line_of(ctx, "database", delays);
		snprintf(why, whylen, "key \"reconnect_min_delay\" in [database] is larger than reconnect_max_delay");
		return -1;
	}
	if (cfg->webhook_url[0] != '\0' && strncmp(cfg->webhook_url, "http://", 7) != 0 &&
	    strncmp(cfg->webhook_url, "https://", 8) != 0) {
		snprintf(why, whylen, "[webhook] url must start with http:// or https://");
		return -1;
	}
	if (cfg->webhook_retry_min_ms > cfg->webhook_retry_max_ms) {
		snprintf(why, whylen, "[webhook] retry_min_delay is larger than retry_max_delay");
		return -1;
	}
	if (cfg->web_map_tiles[0] != '\0' && strncmp(cfg->web_map_tiles, "https://", 8) != 0 &&
	    strncmp(cfg->web_map_tiles, "http://", 7) != 0 && cfg->web_map_tiles[0] != '/') {
		snprintf(why, whylen, "[web] map_tiles must be an http:// or https:// URL, or a path on this gateway");
		return -1;
	}
	if ((cfg->export_sign_key_file[0] == '\0') != (cfg->export_sign_cert_file[0] == '\0')) {
		*line = last_line_of(ctx, "export", signing);
		snprintf(why, whylen, "[export] sign_key_file and sign_cert_file go together: set both or neither");
		return -1;
	}
	if (cfg->listen_rtsp.count + cfg->listen_http.count + cfg->listen_tls.count == 0) {
		*line = last_line_of(ctx, "listen", listeners);
		snprintf(why, whylen, "keys \"rtsp\", \"http\" and \"tls\" in [listen] leave no address at all");
		return -1;
	}
	return 0;
}

/*
 * A configuration file must say where the database is, which key seals the
 * secrets and where to listen: the defaults of these are guesses, and a
 * file without them (an empty or truncated file) is a mistake, not a wish
 * to run on defaults. A reload of such a file would otherwise reset every
 * other key to its default without a word.
 */
static int
check_mandatory(const struct load_ctx *ctx, char *why, size_t whylen)
{
	static const char *const keys[][2] = {
		{ "database", "conninfo" }, { "security", "secret_key_file" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!ctx->seen[find_key(keys[i][0], keys[i][1]) - cfg_keys]) {
			snprintf(why, whylen, "key \"%s\" in [%s] must be set (the file has no such line)",
			    keys[i][1], keys[i][0]);
			return -1;
		}
	if (!ctx->seen[find_key("listen", "rtsp") - cfg_keys] &&
	    !ctx->seen[find_key("listen", "http") - cfg_keys] &&
	    !ctx->seen[find_key("listen", "tls") - cfg_keys]) {
		snprintf(why, whylen, "[listen] must set at least one of rtsp, http and tls");
		return -1;
	}
	return 0;
}

static struct gw_config *
parse_text(const char *name, const char *buf, size_t len, bool whole_file, struct cfg_error *err)
{
	struct load_ctx ctx = { .cfg = config_new_defaults(), .name = name };
	struct ini_error ierr;
	char why[300];
	int line = 0;

	if (ini_parse(buf, len, on_entry, &ctx, &ierr) != 0) {
		snprintf(err->msg, sizeof(err->msg), "%s:%d: %s", name, ierr.line, ierr.msg);
		goto fail;
	}
	if (validate_whole(&ctx, &line, why, sizeof(why)) < 0) {
		snprintf(err->msg, sizeof(err->msg), "%s:%d: %s", name, line, why);
		goto fail;
	}
	if (whole_file && check_mandatory(&ctx, why, sizeof(why)) < 0) {
		snprintf(err->msg, sizeof(err->msg), "%s: %s", name, why);
		goto fail;
	}
	return ctx.cfg;
fail:
	config_free(ctx.cfg);
	return NULL;
}

struct gw_config *
config_parse(const char *name, const char *buf, size_t len, struct cfg_error *err)
{
	return parse_text(name, buf, len, false, err);
}

#define CONFIG_MAX_FILE (1024 * 1024)

struct gw_config *
config_load(const char *path, struct cfg_error *err)
{
	struct gw_config *cfg = NULL;
	char *buf = NULL;
	size_t len;
	FILE *f;

	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err->msg, sizeof(err->msg), "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	buf = gw_xmalloc(CONFIG_MAX_FILE + 1);
	len = fread(buf, 1, CONFIG_MAX_FILE + 1, f);
	if (ferror(f))
		snprintf(err->msg, sizeof(err->msg), "%s: cannot read: %s", path, strerror(errno));
	else if (len > CONFIG_MAX_FILE)
		snprintf(err->msg, sizeof(err->msg), "%s: larger than %d bytes", path, CONFIG_MAX_FILE);
	else
		cfg = parse_text(path, buf, len, true, err);
	fclose(f);
	free(buf);
	return cfg;
}

void
config_free(struct gw_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
		char *field = (char *)cfg + cfg_keys[i].offset;

		if (cfg_keys[i].type == CFG_STRING)
			free(*(char **)field);
		else if (cfg_keys[i].type == CFG_LISTEN)
			free_listen((struct cfg_listen *)field);
	}
	free(cfg);
}

/* --- reload -------------------------------------------------------------- */

static bool
field_equal(const struct cfg_key *k, const struct gw_config *a, const struct gw_config *b)
{
	const char *fa = (const char *)a + k->offset, *fb = (const char *)b + k->offset;

	switch (k->type) {
	case CFG_STRING:
		return strcmp(*(char *const *)fa, *(char *const *)fb) == 0;
	case CFG_INT:
	case CFG_ENUM:
		return *(const int *)fa == *(const int *)fb;
	case CFG_BOOL:
		return *(const bool *)fa == *(const bool *)fb;
	case CFG_DURATION:
	case CFG_SIZE:
		return *(const int64_t *)fa == *(const int64_t *)fb;
	case CFG_LISTEN: {
		const struct cfg_listen *la = (const void *)fa, *lb = (const void *)fb;

		if (la->count != lb->count)
			return false;
		for (int i = 0; i < la->count; i++)
			if (strcmp(la->addr[i], lb->addr[i]) != 0)
				return false;
		return true;
	}
	}
	return false;
}

/* Copy the value of |k| from |from| to |to|, freeing what |to| had; |from| is unchanged. */
static void
field_copy(const struct cfg_key *k, struct gw_config *to, const struct gw_config *from)
{
	char *ft = (char *)to + k->offset;
	const char *ff = (const char *)from + k->offset;
	size_t size;

	switch (k->type) {
	case CFG_STRING:
		free(*(char **)ft);
		*(char **)ft = gw_xstrdup(*(char *const *)ff);
		return;
	case CFG_LISTEN: {
		struct cfg_listen *lt = (struct cfg_listen *)ft;
		const struct cfg_listen *lf = (const struct cfg_listen *)ff;

		free_listen(lt);
		for (int i = 0; i < lf->count; i++)
			lt->addr[i] = gw_xstrdup(lf->addr[i]);
		lt->count = lf->count;
		return;
	}
	case CFG_BOOL:
		size = sizeof(bool);
		break;
	case CFG_INT:
	case CFG_ENUM:
		size = sizeof(int);
		break;
	default:
		size = sizeof(int64_t);
	}
	memcpy(ft, ff, size);
}

struct gw_config *
config_reload_prepare(const char *path)
{
	struct gw_config *next;
	struct cfg_error err;

	next = config_load(path, &err);
	if (next == NULL) {
		log_error("reload failed, keeping the running configuration: %s", err.msg);
		return NULL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (!(k->flags & CF_NO_RELOAD) || field_equal(k, gw.cfg, next))
			continue;
		log_warn("key \"%s\" in [%s] changed but needs a restart; keeping the running value",
		    k->name, k->section);
		field_copy(k, next, gw.cfg);
	}
	/* The running TLS listeners stay: the new file must still give them a certificate. */
	if (next->listen_tls.count > 0 && (next->tls_cert_file[0] == '\0' || next->tls_key_file[0] == '\0')) {
		log_error("reload failed, keeping the running configuration: %s: the TLS listeners "
		    "(kept until a restart) need [tls] cert_file and key_file", path);
		config_free(next);
		return NULL;
	}
	return next;
}

void
config_reload_commit(struct gw_config *next)
{
	struct gw_config *old = gw.cfg;

	/* Said at the old log level: a reload to "warning" would hide its own line. */
	log_info("configuration reloaded from %s", gw.config_path);
	gw.cfg = next;
	config_free(old);
	config_apply_globals(next);
}

void
config_apply_globals(const struct gw_config *cfg)
{
	log_setup((enum log_target)cfg->log_target, (enum log_level)cfg->log_level, "vssgated");
}

/* --- the sample file ----------------------------------------------------- */

void
config_print_defaults(void *stream)
{
	FILE *out = stream;
	const char *section = "";

	fprintf(out, "# vssgate.conf - configuration of vssgated.\n"
	    "#\n"
	    "# Every key is shown with its default value. Durations take ms, s, m, h\n"
	    "# or d (a bare number is seconds); sizes take k, m or g. Check a file with\n"
	    "# `vssgated -t -c FILE`; SIGHUP reloads it (keys marked \"restart\" keep\n"
	    "# their running value until the next start).\n"
	    "# This file is generated by `vssgated --print-defaults`; a test keeps them equal.\n");
	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (strcmp(section, k->section) != 0) {
			section = k->section;
			fprintf(out, "\n[%s]\n", section);
		}
		fprintf(out, "\n# %s%s\n", k->help, (k->flags & CF_NO_RELOAD) ? " (restart)" : "");
		if (k->def[0] == '\0' || strchr(k->def, ' ') != NULL)
			fprintf(out, "%s = \"%s\"\n", k->name, k->def);
		else
			fprintf(out, "%s = %s\n", k->name, k->def);
	}
}

/* --- the manual page --------------------------------------------------------- */

/*
 * |s| as troff text: backslashes escaped, no line may start with a control
 * character; with |breaks| a line may break after a ':' or ',' (a cipher
 * list is one long word).
 */
static void
man_text_breaks(FILE *out, const char *s, bool breaks)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", out);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", out);
		else if (*s == '-')
			fputs("\\-", out);
		else if (breaks && (*s == ':' || *s == ','))
			fprintf(out, "%c\\:", *s);
		else
			fputc(*s, out);
	}
}

static void
man_text(FILE *out, const char *s)
{
	man_text_breaks(out, s, false);
}

#define MAN_TAG_DEFAULT_MAX 48	/* a longer default does not fit the tag line */

static void
man_range(FILE *out, const struct cfg_key *k)
{
	switch (k->type) {
	case CFG_INT:
		fprintf(out, "An integer from %lld to %lld.", (long long)k->min, (long long)k->max);
		break;
	case CFG_DURATION:
		fprintf(out, "A duration from %lldms to %llds.", (long long)k->min, (long long)k->max / 1000);
		break;
	case CFG_SIZE:
		fprintf(out, "A size from %lld to %lld bytes.", (long long)k->min, (long long)k->max);
		break;
	case CFG_BOOL:
		fputs("yes or no.", out);
		break;
	case CFG_ENUM:
		fputs("One of:", out);
		for (int i = 0; k->choices[i]; i++)
			fprintf(out, " %s", k->choices[i]);
		fputc('.', out);
		break;
	case CFG_LISTEN:
		fputs("A comma-separated list of host:port.", out);
		break;
	case CFG_STRING:
		fputs("A string.", out);
		break;
	}
}

/*
 * The KEYS part of vssgate.conf(5), in man(7) markup: one .SS per section and
 * one tagged paragraph per key, from the same table as the sample file.
 */
void
config_print_man(void *stream)
{
	FILE *out = stream;
	const char *section = "";

	fputs(".ad l\n", out);	/* ragged right: long values leave no room to justify */
	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (strcmp(section, k->section) != 0) {
			section = k->section;
			fprintf(out, ".SS [%s]\n", section);
		}
		fprintf(out, ".TP\n\\fB%s\\fR", k->name);
		if (k->def[0] == '\0') {
			fputs(" = \\fI(empty)\\fR\n", out);
		} else if (strlen(k->def) <= MAN_TAG_DEFAULT_MAX) {
			fputs(" = \\fB", out);
			man_text(out, k->def);
			fputs("\\fR\n", out);
		} else {
			/* A long default goes in the paragraph, where a line can break. */
			fputs("\nDefault: \\fB", out);
			man_text_breaks(out, k->def, true);
			fputs("\\fR.\n", out);
		}
		man_text(out, k->help);
		fputc(' ', out);
		man_range(out, k);
		if (k->flags & CF_NO_RELOAD)
			fputs(" Changing it needs a restart; a reload keeps the running value.", out);
		fputc('\n', out);
	}
}
