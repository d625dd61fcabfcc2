-- Geofences beyond what the engine derives from campuses and depots: restricted areas from the site file
-- (source 'site') and fences drawn by an administrator through the API (source 'api'). The geo service reads
-- them, so an edit here reaches the rules without a redeploy.
CREATE TABLE geofences (
    id               text PRIMARY KEY,
    school_id        text REFERENCES schools (id),
    kind             text NOT NULL CHECK (kind IN ('restricted', 'custom')),
    name             text NOT NULL,
    geometry         jsonb NOT NULL,
    speed_limit_kmh  real,
    source           text NOT NULL CHECK (source IN ('site', 'api')),
    active           boolean NOT NULL DEFAULT true,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX geofences_school ON geofences (school_id);
