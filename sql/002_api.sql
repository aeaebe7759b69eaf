-- 002_api.sql - what the REST API adds to schema v1: admin bearer tokens,
-- webhook deliveries, the JSON shape of a grant, and the all-or-nothing
-- import of camera locations (IEC 62676-2-11 Annex A).
--
-- Forward-only, like 001: a later change is a new numbered file.

-- Bearer tokens of administrators. Only the SHA-256 of a token is stored;
-- the token itself is shown once, at login. vssgated keeps the live ones in
-- memory (gateway/api/auth.c) and reloads them on NOTIFY vssgate_auth.
CREATE TABLE admin_tokens (
	id          bigserial PRIMARY KEY,
	admin_id    bigint NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
	token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
	label       text CHECK (length(label) <= 200),
	peer        text,
	created_at  timestamptz NOT NULL DEFAULT now(),
	expires_at  timestamptz NOT NULL,
	revoked_at  timestamptz,
	revoked_by  bigint REFERENCES admins(id) ON DELETE SET NULL,
	CHECK (expires_at > created_at)
);
CREATE INDEX admin_tokens_admin_idx ON admin_tokens (admin_id);

CREATE FUNCTION notify_auth_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('vssgate_auth', TG_TABLE_NAME);
	RETURN NULL;
END
$$;

CREATE TRIGGER admins_notify AFTER INSERT OR UPDATE OR DELETE ON admins
	FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_change();
CREATE TRIGGER admin_tokens_notify AFTER INSERT OR UPDATE OR DELETE ON admin_tokens
	FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_change();

-- Notifications of emergency grants, written in the same statement as the
-- grant and retried by the node that wrote them until the receiver answers
-- 2xx (gateway/api/webhook.c).
CREATE TABLE webhook_deliveries (
	id              bigserial PRIMARY KEY,
	node            text NOT NULL,
	event           text NOT NULL,
	grant_id        bigint REFERENCES grants(id) ON DELETE CASCADE,
	payload         jsonb NOT NULL,
	created_at      timestamptz NOT NULL DEFAULT now(),
	attempts        integer NOT NULL DEFAULT 0,
	last_attempt_at timestamptz,
	last_error      text,
	delivered_at    timestamptz
);
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (node, id)
	WHERE delivered_at IS NULL;

-- Filters of GET /api/v1/audit and of the grant list.
CREATE INDEX audit_log_action_idx ON audit_log (action, id);
CREATE INDEX audit_log_grant_idx ON audit_log (grant_id, id);
CREATE INDEX sessions_grant_idx ON sessions (grant_id);

-- Timestamps as the API writes them: RFC 3339, UTC, milliseconds.
CREATE FUNCTION api_ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

CREATE FUNCTION api_grant_state(g grants) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN g.revoked_at IS NOT NULL THEN 'revoked'
		WHEN now() < g.active_from THEN 'pending'
		WHEN now() >= g.active_until THEN 'expired'
		ELSE 'active' END
$$;

-- The one JSON shape of a grant in every answer of the API. It never holds
-- a password: those are shown once, by the request that created them.
CREATE FUNCTION api_grant_json(g grants, username text) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT json_build_object(
		'id', g.id,
		'authority_id', g.authority_id,
		'authority', (SELECT name FROM authorities WHERE id = g.authority_id),
		'levels', g.levels,
		'scope', g.scope_kind,
		'camera_ids', g.camera_ids,
		'site_ids', g.site_ids,
		'area', CASE WHEN g.scope_kind = 'area' THEN json_build_object(
			'lat', g.area_lat, 'lon', g.area_lon, 'radius_m', g.area_radius_m,
			'polygon', g.area_polygon) END,
		'active_from', api_ts(g.active_from),
		'active_until', api_ts(g.active_until),
		'footage_from', api_ts(g.footage_from),
		'footage_until', api_ts(g.footage_until),
		'reason', g.reason,
		'emergency', g.emergency,
		'state', api_grant_state(g),
		'username', username,
		'created_by', (SELECT a.username FROM admins a WHERE a.id = g.created_by),
		'created_at', api_ts(g.created_at),
		'revoked_at', api_ts(g.revoked_at),
		'revoked_by', (SELECT a.username FROM admins a WHERE a.id = g.revoked_by),
		'revoke_reason', g.revoke_reason)
$$;

-- Import camera locations (Annex A): |rows| is a JSON array of objects, one
-- per CSV line, already checked for syntax and ranges by vssgated; |cols|
-- names the columns the file had (a column that is absent keeps its value,
-- an empty cell clears it). A row names its camera by camera_id or by name;
-- a name that is not known yet creates the camera (source_uri needed). Sites
-- are found by name and created when missing. Any problem raises an error
-- that starts with "line N:", and the whole import is rolled back. One audit
-- record describes the import.
CREATE FUNCTION api_import_locations(rows jsonb, cols text[], actor text, node text, peer text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	cam bigint;
	site bigint;
	created int := 0;
	updated int := 0;
BEGIN
	FOR r IN SELECT * FROM jsonb_to_recordset(rows) AS x(
		line int, camera_id bigint, name text, site text, address text,
		latitude float8, longitude float8, altitude_m float8, floor text,
		indoor_x float8, indoor_y float8, indoor_z float8,
		heading_deg float8, tilt_deg float8, fov_deg float8, source_uri text)
	LOOP
		site := NULL;
		IF 'site' = ANY (cols) AND r.site IS NOT NULL THEN
			INSERT INTO sites (name) VALUES (r.site) ON CONFLICT (name) DO NOTHING;
			SELECT id INTO site FROM sites WHERE name = r.site;
		END IF;
		IF r.camera_id IS NOT NULL THEN
			SELECT id INTO cam FROM cameras WHERE id = r.camera_id;
			IF cam IS NULL THEN
				RAISE EXCEPTION 'line %: there is no camera with id %', r.line, r.camera_id
					USING ERRCODE = 'P0001';
			END IF;
		ELSE
			SELECT id INTO cam FROM cameras WHERE name = r.name;
		END IF;
		BEGIN
			IF cam IS NULL THEN
				IF r.source_uri IS NULL THEN
					RAISE EXCEPTION 'line %: there is no camera named "%", and without a source_uri it cannot be created',
						r.line, r.name USING ERRCODE = 'P0001';
				END IF;
				INSERT INTO cameras (name, site_id, source_uri, address, latitude, longitude,
					altitude, floor, indoor_x, indoor_y, indoor_z, heading, tilt, field_of_view)
				VALUES (r.name, site, r.source_uri, r.address, r.latitude, r.longitude,
					r.altitude_m, r.floor, r.indoor_x, r.indoor_y, r.indoor_z,
					r.heading_deg, r.tilt_deg, r.fov_deg);
				created := created + 1;
			ELSE
				UPDATE cameras SET
					name = CASE WHEN 'name' = ANY (cols) AND r.name IS NOT NULL THEN r.name ELSE name END,
					site_id = CASE WHEN 'site' = ANY (cols) THEN site ELSE site_id END,
					source_uri = CASE WHEN 'source_uri' = ANY (cols) AND r.source_uri IS NOT NULL
						THEN r.source_uri ELSE source_uri END,
					address = CASE WHEN 'address' = ANY (cols) THEN r.address ELSE address END,
					latitude = CASE WHEN 'latitude' = ANY (cols) THEN r.latitude ELSE latitude END,
					longitude = CASE WHEN 'longitude' = ANY (cols) THEN r.longitude ELSE longitude END,
					altitude = CASE WHEN 'altitude_m' = ANY (cols) THEN r.altitude_m ELSE altitude END,
					floor = CASE WHEN 'floor' = ANY (cols) THEN r.floor ELSE floor END,
					indoor_x = CASE WHEN 'indoor_x' = ANY (cols) THEN r.indoor_x ELSE indoor_x END,
					indoor_y = CASE WHEN 'indoor_y' = ANY (cols) THEN r.indoor_y ELSE indoor_y END,
					indoor_z = CASE WHEN 'indoor_z' = ANY (cols) THEN r.indoor_z ELSE indoor_z END,
					heading = CASE WHEN 'heading_deg' = ANY (cols) THEN r.heading_deg ELSE heading END,
					tilt = CASE WHEN 'tilt_deg' = ANY (cols) THEN r.tilt_deg ELSE tilt END,
					field_of_view = CASE WHEN 'fov_deg' = ANY (cols) THEN r.fov_deg ELSE field_of_view END,
					updated_at = now()
				WHERE id = cam;
				updated := updated + 1;
			END IF;
		EXCEPTION
			WHEN unique_violation THEN
				RAISE EXCEPTION 'line %: another camera is already named "%"', r.line, r.name
					USING ERRCODE = 'P0001';
			WHEN check_violation THEN
				RAISE EXCEPTION 'line %: the values break a rule of the cameras table (%)', r.line, SQLERRM
					USING ERRCODE = 'P0001';
		END;
	END LOOP;
	INSERT INTO audit_log (node, actor, action, outcome, peer, detail)
	VALUES (node, actor, 'camera.import_locations', 'ok', peer,
		jsonb_build_object('created', created, 'updated', updated, 'columns', cols));
	RETURN jsonb_build_object('created', created, 'updated', updated);
END
$$;

-- The JSON shape of an administrator (never the password hash).
CREATE FUNCTION api_admin_json(a admins) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT json_build_object('id', a.id, 'username', a.username, 'role', a.role,
		'disabled', a.disabled_at IS NOT NULL, 'created_at', api_ts(a.created_at),
		'disabled_at', api_ts(a.disabled_at))
$$;

CREATE FUNCTION api_site_json(s sites) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT json_build_object('id', s.id, 'name', s.name, 'address', s.address,
		'cameras', (SELECT count(*) FROM cameras c WHERE c.site_id = s.id),
		'created_at', api_ts(s.created_at), 'updated_at', api_ts(s.updated_at))
$$;

CREATE FUNCTION api_authority_json(a authorities) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT json_build_object('id', a.id, 'name', a.name, 'kind', a.kind, 'contact', a.contact,
		'active_grants', (SELECT count(*) FROM grants g WHERE g.authority_id = a.id
			AND g.revoked_at IS NULL AND now() < g.active_until),
		'created_at', api_ts(a.created_at), 'updated_at', api_ts(a.updated_at))
$$;

CREATE FUNCTION api_session_json(s sessions, live jsonb) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT json_build_object('id', s.id, 'node', s.node, 'grant_id', s.grant_id,
		'authority_id', s.authority_id,
		'authority', (SELECT name FROM authorities WHERE id = s.authority_id),
		'camera_id', s.camera_id, 'camera', (SELECT name FROM cameras WHERE id = s.camera_id),
		'username', (SELECT username FROM grant_credentials WHERE id = s.credential_id),
		'protocol', s.protocol, 'transport', s.transport, 'peer', s.peer,
		'started_at', api_ts(s.started_at), 'ended_at', api_ts(s.ended_at),
		'duration_s', round(extract(epoch FROM coalesce(s.ended_at, now()) - s.started_at)::numeric, 3),
		'bytes_sent', coalesce((live ->> s.id::text)::bigint, s.bytes_sent),
		'live_here', live ? s.id::text, 'end_reason', s.end_reason)
$$;

CREATE FUNCTION api_audit_json(a audit_log) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT json_build_object('id', a.id, 'at', to_char(a.at AT TIME ZONE 'UTC',
		'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 'node', a.node, 'actor', a.actor, 'action', a.action,
		'outcome', a.outcome, 'authority_id', a.authority_id, 'grant_id', a.grant_id,
		'camera_id', a.camera_id, 'session_id', a.session_id, 'peer', a.peer, 'detail', a.detail)
$$;

-- Grants change often (a burst of emergency grants, revocations): instead
-- of a full reload of the policy model for each statement, each changed
-- grant is named on channel vssgate_grant and vssgated reads only those
-- again (gateway/model.c). TRUNCATE still asks for a full reload.
CREATE FUNCTION notify_grant_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_TABLE_NAME = 'grants' THEN
		IF TG_OP <> 'INSERT' THEN
			PERFORM pg_notify('vssgate_grant', OLD.id::text);
		END IF;
		IF TG_OP <> 'DELETE' THEN
			PERFORM pg_notify('vssgate_grant', NEW.id::text);
		END IF;
	ELSE
		IF TG_OP <> 'INSERT' THEN
			PERFORM pg_notify('vssgate_grant', OLD.grant_id::text);
		END IF;
		IF TG_OP <> 'DELETE' THEN
			PERFORM pg_notify('vssgate_grant', NEW.grant_id::text);
		END IF;
	END IF;
	RETURN NULL;
END
$$;

DROP TRIGGER grants_notify ON grants;
DROP TRIGGER grant_credentials_notify ON grant_credentials;
CREATE TRIGGER grants_notify_row AFTER INSERT OR UPDATE OR DELETE ON grants
	FOR EACH ROW EXECUTE FUNCTION notify_grant_change();
CREATE TRIGGER grant_credentials_notify_row AFTER INSERT OR UPDATE OR DELETE ON grant_credentials
	FOR EACH ROW EXECUTE FUNCTION notify_grant_change();
CREATE TRIGGER grants_truncate_notify AFTER TRUNCATE ON grants
	FOR EACH STATEMENT EXECUTE FUNCTION notify_model_change();
CREATE TRIGGER grant_credentials_truncate_notify AFTER TRUNCATE ON grant_credentials
	FOR EACH STATEMENT EXECUTE FUNCTION notify_model_change();
