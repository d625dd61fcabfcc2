-- Camera snapshots: the JPEG a vision event was raised on, kept twice. `jpeg_blurred` has every face the
-- face detector found blurred and is what screens show by default; `jpeg_original` is shown only to roles
-- allowed to see faces, and every view of either is audited. Events point at their snapshot by id in
-- device_events.detail.snapshot_id; rows past the detections retention are deleted by maintenance.
CREATE TABLE snapshots (
    id             bigserial PRIMARY KEY,
    camera_id      text NOT NULL REFERENCES devices (id),
    time           timestamptz NOT NULL,
    kind           text NOT NULL,
    width          integer NOT NULL CHECK (width > 0),
    height         integer NOT NULL CHECK (height > 0),
    faces          integer NOT NULL CHECK (faces >= 0),
    jpeg_blurred   bytea NOT NULL,
    jpeg_original  bytea NOT NULL
);
CREATE INDEX snapshots_camera_time ON snapshots (camera_id, time);
CREATE INDEX snapshots_time ON snapshots (time);
