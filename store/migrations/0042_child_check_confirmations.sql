-- The head teacher's end-of-route check (下车清点) and the class's riders (issue 18).
--
-- After a trip ends at the depot the driver's button confirms that nobody is left on the bus; a head teacher (or
-- the school's admin) may confirm it too, for their class, on the class page. Each confirmation is a row here,
-- one per bus, trip and class (a trip is named by the time the bus was back: its geo.child_check_due), so a
-- second press of the same button is the same row. The geo stage reads the rows in seq order and applies each
-- to the bus's child-check state like a press of the bus's button (store/child_check_repo.py).
CREATE TABLE child_check_confirmations (
    seq          bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    bus_id       text NOT NULL REFERENCES buses (id),
    arrived_at   timestamptz NOT NULL,
    class_id     text NOT NULL REFERENCES org_units (id),
    -- The tracker whose arrival made the check due: the geo state and its events are that device's.
    device_id    text NOT NULL,
    -- Who confirmed: a person's id (or the built-in admin), kept as text like the audit trail's actor.
    person_id    text NOT NULL,
    -- How many of the class's riders on this bus the confirmation vouched for (NULL: no roster on file).
    pupils       integer CHECK (pupils >= 0),
    confirmed_at timestamptz NOT NULL,
    PRIMARY KEY (bus_id, arrived_at, class_id)
);

-- The children of a class who ride a bus, and on which runs (morning to school, afternoon home): what the head
-- teacher counts off. Names are shown as text only and to the class's scope.
CREATE TABLE class_riders (
    class_id   text NOT NULL REFERENCES org_units (id),
    bus_id     text NOT NULL REFERENCES buses (id),
    pupil      text NOT NULL CHECK (length(pupil) BETWEEN 1 AND 100),
    stop_id    text,
    morning    boolean NOT NULL DEFAULT true,
    afternoon  boolean NOT NULL DEFAULT true,
    PRIMARY KEY (class_id, bus_id, pupil),
    CHECK (morning OR afternoon)
);
