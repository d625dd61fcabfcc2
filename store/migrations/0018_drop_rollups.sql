-- The daily rollups (device_daily_stats, school_daily_incidents) were read by nothing but their own tests, and
-- the step distance that fed the first (positions.step_m) cost every positions batch a window over each
-- device's previous fix. A rollup comes back with the query that needs it, measured (README, Storage).
DROP MATERIALIZED VIEW IF EXISTS device_daily_stats;
DROP MATERIALIZED VIEW IF EXISTS school_daily_incidents;
ALTER TABLE positions DROP COLUMN IF EXISTS step_m;
