-- Alarm management (ISA-18.2 / IEC 62682, adapted to a district): server time for the SLA clock, drill marking,
-- chattering, shelving and a school's drill mode.

-- When the alert stage raised the incident (server time). opened_at stays the device time of its first signal
-- (a fact); the acknowledgement SLA, escalation and the response-time reports run from raised_at, so a panic
-- delivered late from a backlog, or from a tracker whose clock is minutes off, still gets its full escalation.
ALTER TABLE incidents ADD COLUMN raised_at timestamptz;
UPDATE incidents SET raised_at = opened_at;
ALTER TABLE incidents ALTER COLUMN raised_at SET NOT NULL;
-- Rows written without it (imports, tools) are dated at their opening, as the rows before this migration were.
CREATE FUNCTION campusguard_raised_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.raised_at := coalesce(NEW.raised_at, NEW.opened_at);
    RETURN NEW;
END $$;
CREATE TRIGGER incidents_raised_at BEFORE INSERT ON incidents
    FOR EACH ROW EXECUTE FUNCTION campusguard_raised_at();

-- Raised while the school was in drill mode (or by `campusguard drill`): never counted or listed as real.
ALTER TABLE incidents ADD COLUMN drill boolean NOT NULL DEFAULT false;
UPDATE incidents SET drill = true WHERE type = 'drill' OR outcome = 'drill';

-- Condition changes (cleared, then holding again), server times of the latest few, and their count: a source
-- toggling three times a minute is chattering, shown as one incident with a count, not paged again each time.
ALTER TABLE incidents ADD COLUMN toggles integer NOT NULL DEFAULT 0;
ALTER TABLE incidents ADD COLUMN recent_toggles timestamptz[] NOT NULL DEFAULT '{}';

CREATE INDEX incidents_raised ON incidents (raised_at DESC);

-- A noisy source shelved by a person for a bounded time, with a reason. Signals it sends meanwhile are decided
-- as "shelved" (kept in device_events and alert_signals, counted here), its open incidents are not escalated.
-- Panics are never shelved. type NULL: every type from the source.
CREATE TABLE shelves (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    school_id       text NOT NULL REFERENCES schools (id),
    source_id       text NOT NULL,
    type            text,
    reason          text NOT NULL CHECK (length(btrim(reason)) > 0),
    shelved_by      text NOT NULL,
    shelved_at      timestamptz NOT NULL,
    until           timestamptz NOT NULL CHECK (until > shelved_at),
    suppressed      integer NOT NULL DEFAULT 0,
    ended_at        timestamptz,
    ended_by        text
);
CREATE INDEX shelves_active ON shelves (school_id, source_id) WHERE ended_at IS NULL;

-- A school in drill mode: every incident it raises meanwhile is marked as a drill (and still notified, marked).
CREATE TABLE drill_modes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    school_id       text NOT NULL REFERENCES schools (id),
    reason          text NOT NULL CHECK (length(btrim(reason)) > 0),
    started_by      text NOT NULL,
    started_at      timestamptz NOT NULL,
    until           timestamptz NOT NULL CHECK (until > started_at),
    ended_at        timestamptz,
    ended_by        text
);
CREATE INDEX drill_modes_active ON drill_modes (school_id) WHERE ended_at IS NULL;
