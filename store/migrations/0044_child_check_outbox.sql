-- The head teachers' child-check confirmations as an outbox the geo stage drains (issue 18, from a review).
--
-- Reading rows past the last seq seen lost confirmations: an identity value is taken when a row is inserted, not
-- when it commits, so a confirmation committed after a later one was skipped for good (and rows given while the
-- geo stage was down were skipped on purpose). Now the geo stage claims what it has not applied (applied_at is
-- NULL), applies it, and marks it applied: nothing is lost to ordering, restarts or a failed pass.
ALTER TABLE child_check_confirmations ADD COLUMN applied_at timestamptz;
-- What was given before this migration was read the old way.
UPDATE child_check_confirmations SET applied_at = confirmed_at;
CREATE INDEX child_check_confirmations_pending ON child_check_confirmations (bus_id, arrived_at)
    WHERE applied_at IS NULL;
