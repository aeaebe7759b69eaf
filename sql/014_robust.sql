-- 014_robust.sql - the audit chain under concurrent writers, spooled audit
-- rows written once, and session rows a node can settle after a crash.
--
-- Forward-only, like the others.

-- The chain: a row's id used to come from the column default, drawn when
-- the row was formed, before the trigger took the lock; two writers could
-- take ids in one order and the lock in the other, and the row with the
-- smaller id then chained to the one with the larger ("row 4 does not
-- follow the previous row"), though nothing was tampered with. The id is
-- now drawn under the lock, which is held until commit, so id order, chain
-- order and commit order are one, for every writer on every node.
ALTER TABLE audit_log ALTER COLUMN id DROP DEFAULT;

CREATE OR REPLACE FUNCTION audit_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	last bytea;
BEGIN
	-- One writer at a time extends the chain; the lock is held until commit.
	PERFORM pg_advisory_xact_lock(72671123);
	NEW.id := nextval(pg_get_serial_sequence('audit_log', 'id'));
	SELECT hash INTO last FROM audit_log ORDER BY id DESC LIMIT 1;
	NEW.at := clock_timestamp();
	NEW.prev_hash := coalesce(last, '\x'::bytea);
	NEW.hash := sha256(NEW.prev_hash || convert_to(audit_canonical(NEW), 'UTF8'));
	RETURN NEW;
END
$$;

-- A row written to the spool while the database was away carries a random
-- detail.spool_id; writing the spool again after a crash (or a lost answer)
-- inserts each such row once.
CREATE UNIQUE INDEX audit_log_spool_idx ON audit_log ((detail ->> 'spool_id'))
	WHERE detail ? 'spool_id';

-- When the node last confirmed a session was live (each write of its row):
-- a node that restarts after a crash closes the rows it left open at that
-- time, not at the time of the restart.
ALTER TABLE sessions ADD COLUMN seen_at timestamptz;
CREATE INDEX sessions_node_open_idx ON sessions (node) WHERE ended_at IS NULL;

-- A grant is never committed without the credentials it issues. The API
-- writes both in one statement; this keeps every other path (a script, a
-- later change) to the same rule: checked at commit, so the credentials
-- may come later in the same transaction.
CREATE FUNCTION grant_has_credentials() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM grants WHERE id = NEW.id) AND
	   NOT EXISTS (SELECT 1 FROM grant_credentials WHERE grant_id = NEW.id) THEN
		RAISE EXCEPTION 'grant % has no credentials: write a grant and its credentials in one transaction',
			NEW.id USING ERRCODE = '23514';
	END IF;
	RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER grants_have_credentials AFTER INSERT ON grants
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION grant_has_credentials();
