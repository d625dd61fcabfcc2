-- Each incident's first move and first resolve, kept beside it as its timeline grows (issue 21).
--
-- The response-time report found them in the timeline: a year's report read ~800 k timeline entries for 100 k
-- incidents (1.0 s p95 warm, docs/scaling.md). The database keeps them itself, not the alert stage, so that every
-- writer keeps them alike: the alert stage, COPY loads of history (COPY fires row triggers), a repair by hand.
-- A move is acknowledge, respond, or resolve (a false alarm resolved straight away). The earliest wins whatever
-- order the rows arrive in, and a reopen does not reset them: the report measures the first response, which
-- incidents.acknowledged_at (reset by a reopen) cannot give. Drills are kept too; the report leaves them out.
ALTER TABLE incidents ADD COLUMN first_move_at timestamptz;
ALTER TABLE incidents ADD COLUMN first_resolved_at timestamptz;

CREATE FUNCTION incident_first_moves() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- least() skips a NULL, so an incident's first move sets the column and a later one leaves it. Only a row that
    -- moves a time earlier is updated: the usual later move (respond after acknowledge) writes no new row version.
    UPDATE incidents
    SET first_move_at = least(first_move_at, NEW.time),
        first_resolved_at = CASE WHEN NEW.kind = 'resolve' THEN least(first_resolved_at, NEW.time)
                                 ELSE first_resolved_at END
    WHERE id = NEW.incident_id
      AND (first_move_at IS NULL OR NEW.time < first_move_at
           OR (NEW.kind = 'resolve' AND (first_resolved_at IS NULL OR NEW.time < first_resolved_at)));
    RETURN NULL;
END $$;

-- On the partitioned table (plain path) the trigger is cloned onto every partition, present and future; on a
-- hypertable TimescaleDB copies it onto every chunk.
CREATE TRIGGER incident_first_moves AFTER INSERT ON incident_events
    FOR EACH ROW WHEN (NEW.kind IN ('acknowledge', 'respond', 'resolve'))
    EXECUTE FUNCTION incident_first_moves();

-- The timelines written before this migration.
UPDATE incidents i
SET first_move_at = m.first_move, first_resolved_at = m.first_resolved
FROM (SELECT incident_id, min(time) AS first_move, min(time) FILTER (WHERE kind = 'resolve') AS first_resolved
      FROM incident_events WHERE kind IN ('acknowledge', 'respond', 'resolve') GROUP BY incident_id) m
WHERE i.id = m.incident_id;
