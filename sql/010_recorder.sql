-- 010_recorder.sql - the recorder: which cameras are recorded and for how
-- long, and the index of what is on disk.
--
-- The media stays on the disk of the node that recorded it (fragmented MP4
-- segment files under its [recorder] dir, with a small index file beside
-- each); this table says what is there, so that what is recorded (camera,
-- from, until, gaps, bytes) can be asked without reading any media, from
-- any node. A gap is the time between a segment's started_at and the
-- ended_at of the segment of the same camera before it; start_reason says
-- why the footage is not contiguous there.

ALTER TABLE cameras
	ADD COLUMN record boolean NOT NULL DEFAULT false,
	ADD COLUMN retention interval CHECK (retention >= interval '1 minute');	-- NULL: [recorder] retention

CREATE TABLE recording_segments (
	id           bigserial PRIMARY KEY,
	camera_id    bigint NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
	node         text NOT NULL,
	path         text NOT NULL CHECK (length(path) BETWEEN 1 AND 255),	-- relative to the node's [recorder] dir
	started_at   timestamptz NOT NULL,		-- capture time of the first frame
	ended_at     timestamptz NOT NULL,		-- of the last frame written so far
	bytes        bigint NOT NULL DEFAULT 0 CHECK (bytes >= 0),
	start_reason text NOT NULL CHECK (start_reason IN
	                 ('start', 'source', 'behind', 'disk_full', 'parameters', 'restart', 'next')),
	closed       boolean NOT NULL DEFAULT false,
	UNIQUE (node, path),
	CHECK (ended_at >= started_at)
);

CREATE INDEX recording_segments_camera_idx ON recording_segments (camera_id, started_at);
