-- 001_init.sql - schema v1: the model every part of vssgate uses.
--
-- Applied by vssgated in one transaction and recorded in schema_version.
-- Forward-only: a later change is a new numbered file, never an edit here.

-- Sites group cameras (a station, a street, a building).
CREATE TABLE sites (
	id          bigserial PRIMARY KEY,
	name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
	address     text,
	created_at  timestamptz NOT NULL DEFAULT now(),
	updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A camera and its source. The location columns follow IEC 62676-2-11
-- clause 4.2 / Annex A: geographic position (WGS 84), floor or level and an
-- indoor position for complex spaces, and where the camera looks.
CREATE TABLE cameras (
	id              bigserial PRIMARY KEY,
	name            text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
	site_id         bigint REFERENCES sites(id) ON DELETE SET NULL,
	source_uri      text NOT NULL CHECK (length(source_uri) BETWEEN 1 AND 2000),
	adapter         text NOT NULL DEFAULT 'rtsp' CHECK (adapter ~ '^[a-z0-9_]{1,32}$'),
	source_username text,
	source_secret   bytea,		-- encrypted with the server key (crypto.c), never clear text
	enabled         boolean NOT NULL DEFAULT true,
	always_on       boolean NOT NULL DEFAULT false,
	latitude        double precision CHECK (latitude BETWEEN -90 AND 90),
	longitude       double precision CHECK (longitude BETWEEN -180 AND 180),
	altitude        double precision,	-- metres above sea level
	floor           text,			-- floor or level, e.g. "-2" or "quai 1"
	indoor_x        double precision,	-- metres in the site's local frame
	indoor_y        double precision,
	indoor_z        double precision,
	heading         double precision CHECK (heading >= 0 AND heading < 360),	-- degrees from north
	tilt            double precision CHECK (tilt BETWEEN -90 AND 90),		-- degrees, negative = down
	field_of_view   double precision CHECK (field_of_view > 0 AND field_of_view <= 360),
	address         text,
	multicast_group inet,
	multicast_port  integer CHECK (multicast_port BETWEEN 1024 AND 65534 AND multicast_port % 2 = 0),
	created_at      timestamptz NOT NULL DEFAULT now(),
	updated_at      timestamptz NOT NULL DEFAULT now(),
	CHECK ((latitude IS NULL) = (longitude IS NULL))
);
CREATE INDEX cameras_site_idx ON cameras (site_id);

-- The outside organisations that receive access (police unit, regulator, ...).
CREATE TABLE authorities (
	id          bigserial PRIMARY KEY,
	name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
	kind        text,
	contact     text,
	created_at  timestamptz NOT NULL DEFAULT now(),
	updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Administrators of the gateway. password_hash is a self-describing KDF string.
CREATE TABLE admins (
	id            bigserial PRIMARY KEY,
	username      text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.@-]{1,64}$'),
	password_hash text NOT NULL,
	role          text NOT NULL CHECK (role IN ('admin', 'operator', 'auditor')),
	created_at    timestamptz NOT NULL DEFAULT now(),
	disabled_at   timestamptz
);

-- A grant: which authority may do what (levels of IEC 62676-2-11), on which
-- cameras (by id, by site, or by a geographic area), when, and over which
-- recorded time (footage window).
CREATE TABLE grants (
	id              bigserial PRIMARY KEY,
	authority_id    bigint NOT NULL REFERENCES authorities(id) ON DELETE RESTRICT,
	levels          text[] NOT NULL CHECK (cardinality(levels) > 0 AND
	                    levels <@ ARRAY['0V','0M','0E','1V','1M','2','3']::text[]),
	scope_kind      text NOT NULL CHECK (scope_kind IN ('cameras', 'sites', 'area')),
	camera_ids      bigint[] NOT NULL DEFAULT '{}',
	site_ids        bigint[] NOT NULL DEFAULT '{}',
	area_lat        double precision CHECK (area_lat BETWEEN -90 AND 90),
	area_lon        double precision CHECK (area_lon BETWEEN -180 AND 180),
	area_radius_m   double precision CHECK (area_radius_m > 0),
	area_polygon    jsonb,		-- [[lat, lon], ...], at least 3 points
	active_from     timestamptz NOT NULL,
	active_until    timestamptz NOT NULL,
	footage_from    timestamptz,	-- oldest recorded time that replay/export may reach
	footage_until   timestamptz,	-- newest; NULL = up to now
	reason          text NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 2000),
	emergency       boolean NOT NULL DEFAULT false,
	created_by      bigint REFERENCES admins(id) ON DELETE SET NULL,
	created_at      timestamptz NOT NULL DEFAULT now(),
	revoked_at      timestamptz,
	revoked_by      bigint REFERENCES admins(id) ON DELETE SET NULL,
	revoke_reason   text,
	CHECK (active_until > active_from),
	CHECK (footage_until IS NULL OR footage_from IS NULL OR footage_until >= footage_from),
	CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL)),
	CHECK (scope_kind <> 'cameras' OR cardinality(camera_ids) > 0),
	CHECK (scope_kind <> 'sites' OR cardinality(site_ids) > 0),
	CHECK (scope_kind <> 'area' OR
	       (area_lat IS NOT NULL AND area_lon IS NOT NULL AND area_radius_m IS NOT NULL) OR
	       (jsonb_typeof(area_polygon) = 'array' AND jsonb_array_length(area_polygon) >= 3))
);
CREATE INDEX grants_authority_idx ON grants (authority_id);
CREATE INDEX grants_active_idx ON grants (active_until) WHERE revoked_at IS NULL;

-- The credentials a grant issues. The password is needed in clear for
-- WS-UsernameToken, so it is stored encrypted with the server key.
CREATE TABLE grant_credentials (
	id            bigserial PRIMARY KEY,
	grant_id      bigint NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
	username      text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.-]{3,64}$'),
	password_enc  bytea NOT NULL,
	created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX grant_credentials_grant_idx ON grant_credentials (grant_id);

-- Media and service sessions, as seen by every node.
CREATE TABLE sessions (
	id            bigserial PRIMARY KEY,
	node          text NOT NULL,
	grant_id      bigint REFERENCES grants(id) ON DELETE SET NULL,
	credential_id bigint REFERENCES grant_credentials(id) ON DELETE SET NULL,
	authority_id  bigint REFERENCES authorities(id) ON DELETE SET NULL,
	camera_id     bigint REFERENCES cameras(id) ON DELETE SET NULL,
	protocol      text NOT NULL,	-- rtsp, onvif, ...
	transport     text,		-- udp, tcp, http, websocket, multicast, tls
	peer          text NOT NULL,
	started_at    timestamptz NOT NULL DEFAULT now(),
	ended_at      timestamptz,
	bytes_sent    bigint NOT NULL DEFAULT 0,
	end_reason    text
);
CREATE INDEX sessions_open_idx ON sessions (camera_id) WHERE ended_at IS NULL;

-- The audit log: append-only, each row chained to the previous one by hash.
-- hash = sha256(prev_hash || canonical text of the row), computed by the
-- trigger below under a lock so that concurrent writers form one chain.
-- vssgated recomputes the chain to verify it (audit_verify in audit.c); the
-- canonical text is produced by audit_canonical() and nowhere else.
CREATE TABLE audit_log (
	id            bigserial PRIMARY KEY,
	at            timestamptz NOT NULL DEFAULT clock_timestamp(),
	node          text NOT NULL,
	actor         text NOT NULL,	-- "admin:alice", "grant:17/user", "system"
	action        text NOT NULL,	-- "session.start", "grant.create", ...
	outcome       text NOT NULL CHECK (outcome IN ('ok', 'denied', 'error')),
	authority_id  bigint,
	grant_id      bigint,
	camera_id     bigint,
	session_id    bigint,
	peer          text,
	detail        jsonb NOT NULL DEFAULT '{}',
	prev_hash     bytea NOT NULL,
	hash          bytea NOT NULL
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_authority_idx ON audit_log (authority_id, at);
CREATE INDEX audit_log_camera_idx ON audit_log (camera_id, at);

CREATE FUNCTION audit_canonical(r audit_log) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT concat_ws('|',
		r.id::text,
		to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		r.node, r.actor, r.action, r.outcome,
		coalesce(r.authority_id::text, '-'), coalesce(r.grant_id::text, '-'),
		coalesce(r.camera_id::text, '-'), coalesce(r.session_id::text, '-'),
		coalesce(r.peer, '-'), r.detail::text)
$$;

CREATE FUNCTION audit_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	last bytea;
BEGIN
	-- One writer at a time extends the chain.
	PERFORM pg_advisory_xact_lock(72671123);
	SELECT hash INTO last FROM audit_log ORDER BY id DESC LIMIT 1;
	NEW.at := clock_timestamp();
	NEW.prev_hash := coalesce(last, '\x'::bytea);
	NEW.hash := sha256(NEW.prev_hash || convert_to(audit_canonical(NEW), 'UTF8'));
	RETURN NEW;
END
$$;

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_chain();

CREATE FUNCTION audit_forbid_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'the audit log is append-only';
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_forbid_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_forbid_change();

-- Tell every vssgated that the policy model changed (see model.c).
CREATE FUNCTION notify_model_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('vssgate_model', TG_TABLE_NAME);
	RETURN NULL;
END
$$;

CREATE TRIGGER sites_notify AFTER INSERT OR UPDATE OR DELETE ON sites
	FOR EACH STATEMENT EXECUTE FUNCTION notify_model_change();
CREATE TRIGGER cameras_notify AFTER INSERT OR UPDATE OR DELETE ON cameras
	FOR EACH STATEMENT EXECUTE FUNCTION notify_model_change();
CREATE TRIGGER authorities_notify AFTER INSERT OR UPDATE OR DELETE ON authorities
	FOR EACH STATEMENT EXECUTE FUNCTION notify_model_change();
CREATE TRIGGER grants_notify AFTER INSERT OR UPDATE OR DELETE ON grants
	FOR EACH STATEMENT EXECUTE FUNCTION notify_model_change();
CREATE TRIGGER grant_credentials_notify AFTER INSERT OR UPDATE OR DELETE ON grant_credentials
	FOR EACH STATEMENT EXECUTE FUNCTION notify_model_change();
