-- Alerts: the incident state the lifecycle and escalation need, which upstream events were already turned
-- into incident decisions (so a re-scan or a second alert service never counts one twice), and every
-- notification delivery with its outcome.

ALTER TABLE incidents
    ADD COLUMN last_signal_at    timestamptz,
    ADD COLUMN escalation_level  integer NOT NULL DEFAULT 0,
    ADD COLUMN last_notified_at  timestamptz,
    ADD COLUMN seen_by           text[] NOT NULL DEFAULT '{}',
    ADD COLUMN event_seq         integer NOT NULL DEFAULT 0;

CREATE TABLE alert_signals (
    signal_id     text PRIMARY KEY,
    incident_id   bigint REFERENCES incidents (id),
    decision      text NOT NULL,
    processed_at  timestamptz NOT NULL
);
CREATE INDEX alert_signals_incident ON alert_signals (incident_id);

CREATE TABLE notification_deliveries (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id  bigint NOT NULL REFERENCES incidents (id),
    notifier     text NOT NULL,
    event        text NOT NULL,
    ok           boolean NOT NULL,
    attempts     integer NOT NULL,
    error        text,
    at           timestamptz NOT NULL
);
CREATE INDEX notification_deliveries_incident ON notification_deliveries (incident_id);

-- The alert service scans recent device events by arrival; NOTIFY only wakes it, the table is the queue.
CREATE INDEX device_events_received ON device_events (received_at);

-- `campusguard drill` reports: how long a synthetic panic took to become an incident, reach each channel and
-- be acknowledged. This is how a district proves its response times.
CREATE TABLE drills (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    school_id      text NOT NULL REFERENCES schools (id),
    device_id      text NOT NULL,
    started_at     timestamptz NOT NULL,
    incident_id    bigint REFERENCES incidents (id),
    raised_ms      double precision,
    acknowledged_ms double precision,
    deliveries     jsonb NOT NULL DEFAULT '[]',
    ok             boolean NOT NULL,
    note           text
);
