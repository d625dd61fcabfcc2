-- Materialized rollups with the same names and columns as the TimescaleDB continuous aggregates;
-- `campusguard db maintain` (scheduled by the app) refreshes them concurrently.

CREATE MATERIALIZED VIEW device_daily_stats AS
SELECT device_id,
       date_bin(INTERVAL '1 day', time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS day,
       count(*) AS fixes,
       sum(step_m) AS distance_m,
       avg(speed_kmh) AS avg_speed_kmh,
       max(speed_kmh) AS max_speed_kmh,
       min(time) AS first_fix,
       max(time) AS last_fix
FROM positions
GROUP BY 1, 2
WITH DATA;
CREATE UNIQUE INDEX device_daily_stats_key ON device_daily_stats (device_id, day);

CREATE MATERIALIZED VIEW school_daily_incidents AS
SELECT school_id,
       date_bin(INTERVAL '1 day', time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS day,
       count(*) FILTER (WHERE kind = 'raised') AS raised,
       count(*) FILTER (WHERE kind = 'resolved') AS resolved
FROM incident_events
GROUP BY 1, 2
WITH DATA;
CREATE UNIQUE INDEX school_daily_incidents_key ON school_daily_incidents (school_id, day);
