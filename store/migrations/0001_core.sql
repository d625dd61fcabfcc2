-- Relational core: the organisation tree, schools and their assets, people, incidents and the audit log.
-- Geometry is GeoJSON (WGS-84 lon/lat) in jsonb, points as lon/lat columns, so the schema needs no PostGIS.

CREATE TABLE org_units (
    id          text PRIMARY KEY,
    parent_id   text REFERENCES org_units (id),
    kind        text NOT NULL,
    name        text NOT NULL,
    -- '/city/district/school/': a user scoped to a unit sees every row whose path starts with the unit's.
    path        text NOT NULL UNIQUE,
    depth       integer NOT NULL CHECK (depth >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE schools (
    id                     text PRIMARY KEY REFERENCES org_units (id),
    name                   text NOT NULL,
    timezone               text NOT NULL,
    campus                 jsonb NOT NULL,
    address                text,
    hours                  jsonb NOT NULL DEFAULT '[]',
    school_zone_speed_kmh  integer NOT NULL,
    active                 boolean NOT NULL DEFAULT true,
    updated_at             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id             text PRIMARY KEY,
    display_name   text NOT NULL,
    role           text NOT NULL CHECK (role IN ('guard', 'school_admin', 'district_officer',
                                                 'district_admin', 'auditor', 'admin')),
    scope_id       text REFERENCES org_units (id),
    email          text,
    phone          text,
    locale         text NOT NULL DEFAULT 'en',
    password_hash  text,
    active         boolean NOT NULL DEFAULT true,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE buses (
    id                text PRIMARY KEY,
    school_id         text NOT NULL REFERENCES schools (id),
    name              text NOT NULL,
    plate             text,
    capacity          integer,
    route             jsonb NOT NULL,
    corridor_m        double precision NOT NULL,
    speed_limit_kmh   integer NOT NULL,
    depot_lon         double precision,
    depot_lat         double precision,
    service_windows   jsonb NOT NULL DEFAULT '[]',
    active            boolean NOT NULL DEFAULT true,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE bus_stops (
    id          text PRIMARY KEY,
    bus_id      text NOT NULL REFERENCES buses (id) ON DELETE CASCADE,
    seq         integer NOT NULL,
    name        text NOT NULL,
    lon         double precision NOT NULL,
    lat         double precision NOT NULL,
    scheduled   time NOT NULL,
    UNIQUE (bus_id, seq)
);

-- Every thing that sends data: bus trackers, people's phones, panic buttons, cameras, sensors.
CREATE TABLE devices (
    id           text PRIMARY KEY,
    -- NULL only for the phone of someone scoped above a school (a district officer).
    school_id    text REFERENCES schools (id),
    kind         text NOT NULL CHECK (kind IN ('bus_tracker', 'person_tracker', 'panic_button',
                                               'camera', 'sensor')),
    subtype      text,
    name         text NOT NULL,
    bus_id       text REFERENCES buses (id),
    user_id      text REFERENCES users (id),
    source       text NOT NULL,
    external_id  text,
    lon          double precision,
    lat          double precision,
    place        text,
    config       jsonb NOT NULL DEFAULT '{}',
    active       boolean NOT NULL DEFAULT true,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
-- Ingest resolves the id a device speaks (Zigbee friendly name, OsmAnd id...) through this index.
CREATE UNIQUE INDEX devices_external_id ON devices (source, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX devices_school ON devices (school_id);

CREATE TABLE incidents (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    school_id        text NOT NULL REFERENCES schools (id),
    type             text NOT NULL,
    severity         text NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low', 'info')),
    status           text NOT NULL CHECK (status IN ('raised', 'acknowledged', 'responding',
                                                     'resolved', 'closed')),
    outcome          text CHECK (outcome IN ('real', 'false_alarm', 'drill')),
    title            text NOT NULL,
    lon              double precision,
    lat              double precision,
    occurrences      integer NOT NULL DEFAULT 1,
    evidence         jsonb NOT NULL DEFAULT '[]',
    opened_at        timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    acknowledged_at  timestamptz,
    resolved_at      timestamptz
);
CREATE INDEX incidents_school_opened ON incidents (school_id, opened_at DESC);
CREATE INDEX incidents_open ON incidents (status) WHERE status NOT IN ('resolved', 'closed');

-- Append-only; the alerts stage chains each record's hash to the previous one.
CREATE TABLE audit_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL,
    actor      text NOT NULL,
    action     text NOT NULL,
    target     text,
    detail     jsonb NOT NULL DEFAULT '{}',
    prev_hash  bytea,
    hash       bytea
);
CREATE INDEX audit_log_at ON audit_log (at);

-- How long each time-series table keeps data and how it is chunked; both storage paths read it.
CREATE TABLE retention_policies (
    table_name      text PRIMARY KEY,
    keep            interval NOT NULL,
    chunk_interval  interval NOT NULL
);
INSERT INTO retention_policies (table_name, keep, chunk_interval) VALUES
    ('positions',       INTERVAL '180 days', INTERVAL '1 day'),
    ('device_events',   INTERVAL '365 days', INTERVAL '7 days'),
    ('sensor_readings', INTERVAL '90 days',  INTERVAL '7 days'),
    ('detections',      INTERVAL '30 days',  INTERVAL '1 day');
