-- Login sessions: the cookie carries a random token, the database only its SHA-256, so a leaked table does
-- not log anyone in. Logging out or disabling a user ends the session at once.
CREATE TABLE sessions (
    token_hash  bytea PRIMARY KEY,
    user_id     text NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    client      text
);
CREATE INDEX sessions_user ON sessions (user_id);
