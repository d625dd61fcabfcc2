-- Ingest: rejected input kept with its reason, messages from devices nobody registered, and liveness.

-- Everything ingest refused, with the raw payload, so a bad firmware or a typo in a device's settings can
-- be diagnosed. Keyed by content and arrival, so replaying a spool does not duplicate a record.
CREATE TABLE dead_letters (
    time         timestamptz NOT NULL,
    digest       bytea NOT NULL,
    source       text NOT NULL,
    topic        text NOT NULL,
    reason       text NOT NULL,
    message      text NOT NULL,
    payload      bytea NOT NULL,
    PRIMARY KEY (digest, time)
) /*@partition_by_time*/;

-- Devices that spoke but are not in the site file: counted, never silently dropped.
CREATE TABLE unregistered_devices (
    source       text NOT NULL,
    external_id  text NOT NULL,
    first_seen   timestamptz NOT NULL,
    last_seen    timestamptz NOT NULL,
    messages     bigint NOT NULL,
    last_topic   text NOT NULL,
    PRIMARY KEY (source, external_id)
);

-- When each device was last heard from (device time of its newest message) and whether it counts as online.
CREATE TABLE device_liveness (
    device_id    text PRIMARY KEY,
    last_seen    timestamptz NOT NULL,
    online       boolean NOT NULL DEFAULT true,
    battery_pct  real,
    battery_low  boolean NOT NULL DEFAULT false
);

INSERT INTO retention_policies (table_name, keep, chunk_interval)
VALUES ('dead_letters', INTERVAL '14 days', INTERVAL '1 day');
