-- 015_camera_events.sql - what the events service published about recorded
-- cameras (a source lost or regained, a configuration changed), kept so
-- that Recording Search's FindEvents finds it after a restart and from any
-- node; and an index on the places where footage is not contiguous with
-- what came before, which FindEvents walks (recording_segments, 010).
--
-- The node that saw an event writes it, in batches; rows go once they are
-- older than the camera's retention (the footage they describe is gone).
-- (Numbered 015: another branch may add 014.)

CREATE TABLE camera_events (
	id        bigserial PRIMARY KEY,
	camera_id bigint NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
	node      text NOT NULL,
	at        timestamptz NOT NULL,
	topic     text NOT NULL CHECK (length(topic) BETWEEN 1 AND 128),	-- under tns1:, "VideoSource/SignalLoss"
	-- what a principal's levels must show besides events to see it
	need      text NOT NULL CHECK (need IN ('events', 'video', 'audio', 'metadata')),
	message   text NOT NULL CHECK (length(message) BETWEEN 1 AND 16384)	-- the tt:Message as published
);

CREATE INDEX camera_events_camera_idx ON camera_events (camera_id, at);

CREATE INDEX recording_segments_gaps_idx ON recording_segments (camera_id, started_at)
	WHERE start_reason <> 'next';
