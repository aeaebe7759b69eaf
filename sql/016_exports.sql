-- 016_exports.sql - signed evidence exports (levels 0V, 0M, 0E): the jobs,
-- where they are, and what they produced.
--
-- One row per export. The node that runs it keeps the files under its
-- [export] dir/<id>/ (one signed EFF file per camera, its JSON sidecar, and
-- the signed manifest over them) until expires_at; the row stays after that
-- (state 'expired'), with the hashes of what was handed out. The chain of
-- custody itself (request, finished file, every download, cancellation,
-- deletion) is in audit_log, action 'export.*'.
--
-- states: queued -> running -> done -> expired
--                           \-> failed | cancelled
-- A row left 'running' by a daemon that died is taken up again when that
-- node starts (queued again, or failed after its second interruption).
-- Numbered 016: 014 and 015 are taken by work merged at the same time.

CREATE TABLE exports (
	id            bigserial PRIMARY KEY,
	node          text NOT NULL,
	authority_id  bigint NOT NULL REFERENCES authorities(id) ON DELETE RESTRICT,
	grant_id      bigint NOT NULL REFERENCES grants(id) ON DELETE RESTRICT,
	requested_by  text NOT NULL,			-- "admin:alice", "grant:17:u1234"
	via           text NOT NULL CHECK (via IN ('api', 'authority', 'onvif')),
	reason        text NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 2000),
	camera_ids    bigint[] NOT NULL CHECK (cardinality(camera_ids) BETWEEN 1 AND 256),
	range_from    timestamptz NOT NULL,
	range_until   timestamptz NOT NULL,
	levels        text[] NOT NULL CHECK (levels <@ ARRAY['0V', '0M', '0E']::text[] AND '0V' = ANY (levels)),
	state         text NOT NULL DEFAULT 'queued'
	                  CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled', 'expired')),
	error         text,
	attempts      integer NOT NULL DEFAULT 0,
	created_at    timestamptz NOT NULL DEFAULT now(),
	started_at    timestamptz,
	finished_at   timestamptz,
	expires_at    timestamptz,
	bytes         bigint,
	files         jsonb NOT NULL DEFAULT '[]',	-- [{name, kind, camera_id, size, sha256}]
	manifest_sha256 text,
	CHECK (range_until > range_from)
);
CREATE INDEX exports_authority_idx ON exports (authority_id, id);
CREATE INDEX exports_node_idx ON exports (node, id) WHERE state IN ('queued', 'running', 'done');

-- The one JSON shape of an export in every answer (REST, the authorities'
-- endpoint). |live| is {"<id>": {progress}} of the jobs this node runs now.
CREATE FUNCTION api_export_json(e exports, live jsonb) RETURNS json
LANGUAGE sql STABLE AS $$
	SELECT json_build_object(
		'id', e.id,
		'operation_token', 'export-' || e.id,
		'node', e.node,
		'authority_id', e.authority_id,
		'authority', (SELECT name FROM authorities WHERE id = e.authority_id),
		'grant_id', e.grant_id,
		'requested_by', e.requested_by,
		'via', e.via,
		'reason', e.reason,
		'camera_ids', e.camera_ids,
		'from', api_ts(e.range_from),
		'until', api_ts(e.range_until),
		'levels', e.levels,
		'state', e.state,
		'progress', coalesce(live -> e.id::text, CASE WHEN e.state IN ('done', 'expired')
			THEN json_build_object('percent', 100, 'bytes', e.bytes)::jsonb
			ELSE json_build_object('percent', 0, 'bytes', 0)::jsonb END),
		'error', e.error,
		'attempts', e.attempts,
		'created_at', api_ts(e.created_at),
		'started_at', api_ts(e.started_at),
		'finished_at', api_ts(e.finished_at),
		'expires_at', api_ts(e.expires_at),
		'bytes', e.bytes,
		'files', e.files,
		'manifest_sha256', e.manifest_sha256)
$$;
