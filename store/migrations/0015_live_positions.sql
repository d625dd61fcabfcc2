-- When each latest position was last written, in commit order rather than device time. The live map follows
-- this column: a late fix, two workers committing out of order, or a tracker whose clock runs ahead can no
-- longer hide other devices' moves from the screens.
ALTER TABLE latest_positions ADD COLUMN stored_at timestamptz NOT NULL DEFAULT clock_timestamp();
CREATE INDEX latest_positions_stored_at ON latest_positions (stored_at);
