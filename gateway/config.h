/*
 * config.h - the configuration: one table of keys (config.c) drives parsing,
 * defaults, `vssgated -t`, reload and the sample in etc/vssgate.conf.
 *
 * A struct gw_config is immutable once loaded. Reload builds a complete new
 * one and swaps it in (config_reload_*); on any error the old one stays.
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include "gw.h"

#define CFG_MAX_LISTEN 8

/* "host:port" entries of a listen key, resolved when the listener opens. */
struct cfg_listen {
	int count;
	char *addr[CFG_MAX_LISTEN];
};

struct gw_config {
	/* [daemon] */
	char *node_name;
	char *pid_file;
	int log_target;			/* enum log_target */
	int log_level;			/* enum log_level */
	char *state_dir;
	int worker_threads;
	int64_t shutdown_timeout_ms;

	/* [database] */
	char *db_conninfo;
	int64_t db_connect_timeout_ms;
	int64_t db_query_timeout_ms;
	int64_t db_reconnect_min_ms;
	int64_t db_reconnect_max_ms;
	int64_t db_outage_grace_ms;
	int64_t model_refresh_delay_ms;

	/* [listen] */
	struct cfg_listen listen_rtsp;
	struct cfg_listen listen_http;
	struct cfg_listen listen_tls;

	/* [tls] */
	char *tls_cert_file;
	char *tls_key_file;
	char *tls_client_ca_file;
	char *tls_ciphers;

	/* [security] */
	char *secret_key_file;
	char *realm;
	char *websocket_origins;
	/* [recorder] */
	char *recorder_dir;
	int64_t recorder_retention_ms;
	int64_t recorder_max_bytes;
	int64_t recorder_segment_ms;
	int64_t recorder_fragment_ms;
	int64_t recorder_queue_max;
	int64_t recorder_sync_ms;
	int64_t recorder_disk_retry_ms;
	/* [export] */
	char *export_dir;
	int export_workers;
	int export_queue_max;
	int64_t export_keep_ms;
	int64_t export_max_range_ms;
	int export_max_cameras;
	char *export_sign_key_file;
	char *export_sign_cert_file;
	char *export_time_zone;
	/* [auth] */
	int64_t auth_nonce_lifetime_ms;
	char *auth_digest_algorithms;
	int auth_nonce_count_slots;
	int64_t auth_clock_window_ms;
	int auth_token_cache_size;
	int64_t auth_failure_window_ms;
	int auth_failures_per_user_and_address;
	int auth_failures_per_address;
	int auth_failures_per_user;
	int auth_failures_per_connection;
	int auth_failures_logged_per_second;

	/* [media] */
	int64_t source_idle_timeout_ms;
	int64_t source_retry_min_ms;
	int64_t source_retry_max_ms;
	int64_t source_timeout_ms;
	int64_t describe_timeout_ms;
	int64_t gop_cache_max;
	int64_t reader_queue_max;

	/* [rtsp] */
	int64_t rtsp_session_timeout_ms;
	int rtsp_udp_port;
	int64_t rtsp_udp_pace_rate;
	int rtsp_multicast_ttl;
	int rtsp_max_sessions_per_principal;

	/* [limits] */
	int max_connections;
	int max_connections_per_address;
	int max_pending_connections_per_address;
	int64_t max_header_bytes;
	int max_headers;
	int64_t max_body_bytes;
	int64_t idle_timeout_ms;
	int64_t handshake_timeout_ms;
	int64_t header_timeout_ms;
	int64_t body_timeout_ms;
	int64_t body_min_rate;
	int64_t max_output_bytes;
	int h2_max_concurrent_streams;

	/* [api] */
	int64_t token_lifetime_ms;
	int login_attempts_per_minute;
	char *allowed_origins;
	bool allow_own_origin;
	int64_t max_grant_duration_ms;
	int64_t max_emergency_duration_ms;
	char *public_host;

	/* [webhook] */
	char *webhook_url;
	char *webhook_secret;
	int64_t webhook_timeout_ms;
	int64_t webhook_retry_min_ms;
	int64_t webhook_retry_max_ms;

	/* [onvif] */
	bool onvif_enable;
	int64_t onvif_max_request_bytes;
	int onvif_max_xml_depth;
	int onvif_max_xml_elements;
	int onvif_max_profiles;
	int onvif_max_osds;
	int onvif_max_masks;
	int onvif_max_subscriptions;
	int onvif_max_subscriptions_per_principal;
	int onvif_event_queue_max;
	int64_t onvif_subscription_default_ms;
	int64_t onvif_subscription_max_ms;
	int64_t onvif_max_pull_timeout_ms;
	int64_t onvif_status_poll_ms;
	bool onvif_discovery;
	char *onvif_discovery_address;
	int onvif_discovery_port;
	char *onvif_name;
	char *onvif_location;
	int64_t onvif_snapshot_max_age_ms;
	int onvif_snapshot_quality;
	int onvif_snapshot_max_jobs;
	int onvif_max_searches;
	int onvif_max_searches_per_principal;
	int64_t onvif_search_keepalive_max_ms;
	int64_t onvif_search_max_wait_ms;
	int onvif_search_max_matches;

	/* [web] */
	bool web_enable;
	char *web_root;
	char *web_map_tiles;
	char *web_map_attribution;
	int64_t web_live_view_duration_ms;
};

struct cfg_error {
	char msg[1024];		/* "FILE:LINE: key \"x\": why" */
};

/*
 * Load and validate a file. Returns a new config (caller owns) or NULL with
 * err filled. A file must set [database] conninfo, [security]
 * secret_key_file and one [listen] key (an empty or cut file is refused).
 */
struct gw_config *config_load(const char *path, struct cfg_error *err);

/* Parse from memory, without the mandatory keys of a file; |name| is used in messages. For tests and fuzzing. */
struct gw_config *config_parse(const char *name, const char *buf, size_t len,
    struct cfg_error *err);

void config_free(struct gw_config *cfg);

/*
 * Reload in two steps, so that what depends on the new file (TLS material)
 * is checked before anything is applied. config_reload_prepare() loads
 * |path| completely and copies in the running values of the keys that
 * cannot change at run time (with a warning for each that differs); on
 * failure it logs why and returns NULL, and nothing changed. Then the
 * caller either frees the result (config_free, after logging why) or hands
 * it to config_reload_commit(), which swaps it into gw.cfg and frees the
 * old one.
 */
struct gw_config *config_reload_prepare(const char *path);
void config_reload_commit(struct gw_config *next);

/* Print every key with its default, in the format of etc/vssgate.conf. */
void config_print_defaults(void *stream);

/* Print every key as the KEYS section of vssgate.conf(5) (man(7) markup). */
void config_print_man(void *stream);

/* Apply settings that have a global effect (logging). */
void config_apply_globals(const struct gw_config *cfg);

#endif
