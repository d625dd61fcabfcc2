-- Guard patrols (issue 18): a school's checkpoints and plan from the site file, the key version of each
-- checkpoint's printed code, and every scan a guard's phone made.
--
-- Checkpoints and plans are upserted by each site load (store/patrol_repo.py). A checkpoint's key version is
-- not the site file's: rotating it (which voids the printed codes) is a person's act, kept across reloads.

CREATE TABLE patrol_checkpoints (
    id          text PRIMARY KEY,
    school_id   text NOT NULL REFERENCES schools (id),
    name        text NOT NULL,
    lon         double precision,
    lat         double precision,
    radius_m    double precision CHECK (radius_m > 0),
    key_version integer NOT NULL DEFAULT 1 CHECK (key_version >= 1),
    rotated_at  timestamptz,
    active      boolean NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX patrol_checkpoints_school ON patrol_checkpoints (school_id);

-- One plan per school, as the site file's model dumps it (domain.site.patrols.PatrolPlan).
CREATE TABLE patrol_plans (
    id          text PRIMARY KEY REFERENCES schools (id),
    plan        jsonb NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every accepted scan, counted or not (a replay or a scan from too far is kept with why it did not count).
-- scanned_at is the server's clock (rounds are decided by it); device_time is what the phone said.
CREATE TABLE patrol_scans (
    id            bigserial PRIMARY KEY,
    checkpoint_id text NOT NULL REFERENCES patrol_checkpoints (id),
    school_id     text NOT NULL REFERENCES schools (id),
    user_id       text NOT NULL,
    round_start   timestamptz NOT NULL,
    scanned_at    timestamptz NOT NULL,
    device_time   timestamptz,
    lon           double precision,
    lat           double precision,
    accuracy_m    double precision,
    counted       boolean NOT NULL,
    reason        text NOT NULL
);
-- At most one counted scan per checkpoint and round, whatever two phones race to send.
CREATE UNIQUE INDEX patrol_scans_counted ON patrol_scans (checkpoint_id, round_start) WHERE counted;
CREATE INDEX patrol_scans_school_time ON patrol_scans (school_id, scanned_at);
