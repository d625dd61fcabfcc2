-- Video for people (issue 20): the index of continuously recorded segments and the clips kept with incidents.
-- Segment and clip files live on disk under the video root (settings: vision.video.root); `path` is relative
-- to it. Times are when the recorder received the segment's first and last frame (server clock, UTC); every
-- segment begins at a keyframe, so any segment plays on its own. Segments are deleted oldest first by the
-- retention sweep; clips belong to their incident and outlive the rolling retention.
CREATE TABLE video_segments (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    camera_id text NOT NULL REFERENCES devices (id),
    path      text NOT NULL UNIQUE,
    start_at  timestamptz NOT NULL,
    end_at    timestamptz NOT NULL CHECK (end_at >= start_at),
    bytes     bigint NOT NULL CHECK (bytes >= 0)
);
CREATE INDEX video_segments_camera_time ON video_segments (camera_id, start_at);
CREATE INDEX video_segments_start ON video_segments (start_at);

CREATE TABLE video_clips (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id     bigint NOT NULL REFERENCES incidents (id),
    camera_id       text NOT NULL REFERENCES devices (id),
    path            text NOT NULL UNIQUE,
    finding_at      timestamptz NOT NULL,
    start_at        timestamptz NOT NULL,
    end_at          timestamptz NOT NULL CHECK (end_at >= start_at),
    bytes           bigint NOT NULL CHECK (bytes >= 0),
    sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    created_at      timestamptz NOT NULL,
    UNIQUE (incident_id, camera_id)
);
CREATE INDEX video_clips_camera ON video_clips (camera_id, start_at);
