-- Drill reports say who answered: for each person, the time from the press to their "seen" receipt and to
-- their acknowledgement, and who acknowledged (the drill runner's own actor when nobody did in time).
ALTER TABLE drills
    ADD COLUMN acknowledged_by text,
    ADD COLUMN responses       jsonb NOT NULL DEFAULT '[]';
