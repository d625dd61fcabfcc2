-- Time-series tables, the same columns on both storage paths. The marker comment after each table is
-- replaced by "PARTITION BY RANGE (time)" on plain PostgreSQL; on TimescaleDB it stays a comment and the
-- next migration turns the table into a hypertable.
-- Each primary key includes the device's own timestamp, so a re-delivered message cannot add a row.

CREATE TABLE positions (
    device_id    text NOT NULL,
    time         timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    lon          double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat          double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    speed_kmh    real,
    heading_deg  real,
    altitude_m   real,
    accuracy_m   real,
    battery_pct  real,
    -- Metres from the device's previous fix (0 for a late fix): lets the daily rollup sum distance
    -- without window functions, which continuous aggregates do not allow.
    step_m       real NOT NULL DEFAULT 0,
    source       text NOT NULL,
    PRIMARY KEY (device_id, time)
) /*@partition_by_time*/;

CREATE TABLE device_events (
    device_id    text NOT NULL,
    time         timestamptz NOT NULL,
    kind         text NOT NULL,
    received_at  timestamptz NOT NULL,
    detail       jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (device_id, kind, time)
) /*@partition_by_time*/;

CREATE TABLE sensor_readings (
    device_id    text NOT NULL,
    time         timestamptz NOT NULL,
    metric       text NOT NULL,
    value        double precision NOT NULL,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (device_id, metric, time)
) /*@partition_by_time*/;

CREATE TABLE detections (
    camera_id    text NOT NULL,
    time         timestamptz NOT NULL,
    label        text NOT NULL,
    track_id     bigint NOT NULL,
    confidence   real NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    zone         text,
    -- x, y, width, height in normalised image coordinates.
    bbox         real[] NOT NULL,
    PRIMARY KEY (camera_id, track_id, label, time)
) /*@partition_by_time*/;

-- Every state change of an incident, in order; kept as long as the incident (no retention).
CREATE TABLE incident_events (
    incident_id  bigint NOT NULL REFERENCES incidents (id),
    seq          integer NOT NULL,
    time         timestamptz NOT NULL,
    school_id    text NOT NULL,
    kind         text NOT NULL,
    actor        text,
    note         text,
    detail       jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (incident_id, seq, time)
) /*@partition_by_time*/;

-- The last fix of each device by device time; a late fix never moves it backwards.
CREATE TABLE latest_positions (
    device_id    text PRIMARY KEY,
    time         timestamptz NOT NULL,
    lon          double precision NOT NULL,
    lat          double precision NOT NULL,
    speed_kmh    real,
    heading_deg  real,
    battery_pct  real,
    source       text NOT NULL
);
