-- 005_onvif.sql - what the ONVIF clients of an authority create through the
-- gateway: media profiles, on-screen displays (OSD) and privacy masks.
--
-- Every row belongs to one authority and is shown to no other (the gateway
-- reads them by authority_id only). None of them changes a camera: they are
-- the authority's own view. Configurations and sources are named by camera
-- id, so a profile, OSD or mask follows its camera and goes with it.

CREATE TABLE onvif_profiles (
	authority_id  bigint NOT NULL REFERENCES authorities(id) ON DELETE CASCADE,
	token         text NOT NULL CHECK (token ~ '^p[0-9a-f]{16}$'),
	name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
	camera_id     bigint REFERENCES cameras(id) ON DELETE SET NULL,	-- NULL: no configurations
	configs       text[] NOT NULL DEFAULT '{}' CHECK (configs <@
	                  ARRAY['VideoSource','AudioSource','VideoEncoder','AudioEncoder','Metadata']::text[]),
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (authority_id, token)
);

-- spec: the tt:OSDConfiguration or tr2:Mask fields the gateway keeps, as JSON
-- (written by gateway/onvif/media2_osd.c, never shown to another authority).
CREATE TABLE onvif_osds (
	authority_id  bigint NOT NULL REFERENCES authorities(id) ON DELETE CASCADE,
	token         text NOT NULL CHECK (token ~ '^osd[0-9a-f]{16}$'),
	camera_id     bigint NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
	spec          jsonb NOT NULL CHECK (jsonb_typeof(spec) = 'object'),
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (authority_id, token)
);

CREATE TABLE onvif_masks (
	authority_id  bigint NOT NULL REFERENCES authorities(id) ON DELETE CASCADE,
	token         text NOT NULL CHECK (token ~ '^mask[0-9a-f]{16}$'),
	camera_id     bigint NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
	spec          jsonb NOT NULL CHECK (jsonb_typeof(spec) = 'object'),
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (authority_id, token)
);
CREATE INDEX onvif_osds_camera_idx ON onvif_osds (camera_id);
CREATE INDEX onvif_masks_camera_idx ON onvif_masks (camera_id);
CREATE INDEX onvif_profiles_camera_idx ON onvif_profiles (camera_id);

-- Tell every vssgated which authority's ONVIF objects changed, so that the
-- copy it caches is read again (gateway/onvif/store.c).
CREATE FUNCTION notify_onvif_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('vssgate_onvif',
		(CASE WHEN TG_OP = 'DELETE' THEN OLD.authority_id ELSE NEW.authority_id END)::text);
	RETURN NULL;
END
$$;

CREATE TRIGGER onvif_profiles_notify AFTER INSERT OR UPDATE OR DELETE ON onvif_profiles
	FOR EACH ROW EXECUTE FUNCTION notify_onvif_change();
CREATE TRIGGER onvif_osds_notify AFTER INSERT OR UPDATE OR DELETE ON onvif_osds
	FOR EACH ROW EXECUTE FUNCTION notify_onvif_change();
CREATE TRIGGER onvif_masks_notify AFTER INSERT OR UPDATE OR DELETE ON onvif_masks
	FOR EACH ROW EXECUTE FUNCTION notify_onvif_change();
