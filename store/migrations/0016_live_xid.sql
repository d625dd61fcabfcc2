-- Which transaction last wrote each latest position. The live map reads the rows written since the oldest
-- transaction still running at its previous read (the snapshot's xmin): exactly what it may not have seen,
-- in place of a fixed look-back in time that re-read every moving bus several times a second.
ALTER TABLE latest_positions ADD COLUMN written_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX latest_positions_written_xid ON latest_positions (written_xid);

-- Every writer's update is stamped, not only the ingest writer's: a forgotten column would hide a move.
CREATE FUNCTION latest_positions_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.written_xid := pg_current_xact_id();
    NEW.stored_at := clock_timestamp();
    RETURN NEW;
END $$;
CREATE TRIGGER latest_positions_stamp BEFORE UPDATE ON latest_positions
    FOR EACH ROW EXECUTE FUNCTION latest_positions_stamp();
