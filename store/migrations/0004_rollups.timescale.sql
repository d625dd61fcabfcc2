-- Continuous aggregates: per-device daily distance and speed, per-school daily incident counts.
-- Real-time aggregation is on, so today's bucket is always current between refreshes.

CREATE MATERIALIZED VIEW device_daily_stats
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT device_id,
       time_bucket(INTERVAL '1 day', time) AS day,
       count(*) AS fixes,
       sum(step_m) AS distance_m,
       avg(speed_kmh) AS avg_speed_kmh,
       max(speed_kmh) AS max_speed_kmh,
       min(time) AS first_fix,
       max(time) AS last_fix
FROM positions
GROUP BY device_id, time_bucket(INTERVAL '1 day', time)
WITH NO DATA;

SELECT add_continuous_aggregate_policy('device_daily_stats',
    start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '30 minutes');

CREATE MATERIALIZED VIEW school_daily_incidents
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT school_id,
       time_bucket(INTERVAL '1 day', time) AS day,
       count(*) FILTER (WHERE kind = 'raised') AS raised,
       count(*) FILTER (WHERE kind = 'resolved') AS resolved
FROM incident_events
GROUP BY school_id, time_bucket(INTERVAL '1 day', time)
WITH NO DATA;

SELECT add_continuous_aggregate_policy('school_daily_incidents',
    start_offset => INTERVAL '7 days', end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '1 hour');
