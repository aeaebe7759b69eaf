-- 017_camera_media.sql - what each camera's stream was the last time a
-- source described it (codec, picture size, profile, frame rate, audio,
-- metadata), so that the ONVIF profiles say the truth after a restart,
-- before anyone has streamed the camera again: an NVR that enrols the
-- gateway then stores what it is told. Written by the node that saw the
-- stream change (rarely: at a source's first description and when its
-- parameters change), read once at start-up.

CREATE TABLE camera_media (
	camera_id   bigint PRIMARY KEY REFERENCES cameras(id) ON DELETE CASCADE,
	description jsonb NOT NULL CHECK (jsonb_typeof(description) = 'object' AND length(description::text) <= 4096),
	node        text NOT NULL,
	described_at timestamptz NOT NULL DEFAULT now()
);
