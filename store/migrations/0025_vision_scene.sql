-- Fixed things a vision worker learned as part of a camera's scene: a traffic cone, a sign post or a boulder that
-- the detector kept taking for a person and that stood exactly still from its first sighting for learn_s. The
-- worker drops detections there before tracking. A person un-learns one on the operations page: forgotten_at and
-- forgotten_by are set (the row stays, for the record) and the worker stops masking it at its next reread.
-- box is [x1, y1, x2, y2] in normalised image coordinates, 0..1.
CREATE TABLE vision_scene_objects (
    id            bigserial PRIMARY KEY,
    camera_id     text NOT NULL REFERENCES devices (id),
    label         text NOT NULL,
    box           double precision[] NOT NULL CHECK (cardinality(box) = 4),
    learned_at    timestamptz NOT NULL,
    forgotten_at  timestamptz,
    forgotten_by  text
);
CREATE INDEX vision_scene_objects_live ON vision_scene_objects (camera_id) WHERE forgotten_at IS NULL;
