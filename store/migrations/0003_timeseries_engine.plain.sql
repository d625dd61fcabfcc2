-- Plain PostgreSQL: native range partitions created ahead of time and dropped by retention, BRIN on time.
-- Partitions are named <table>_p<YYYYMMDD> after the start of their range, which is how retention finds
-- their age without parsing partition bounds.

CREATE INDEX positions_time_brin ON positions USING brin (time);
CREATE INDEX device_events_time_brin ON device_events USING brin (time);
CREATE INDEX sensor_readings_time_brin ON sensor_readings USING brin (time);
CREATE INDEX detections_time_brin ON detections USING brin (time);
CREATE INDEX incident_events_time_brin ON incident_events USING brin (time);

INSERT INTO retention_policies (table_name, keep, chunk_interval)
VALUES ('incident_events', INTERVAL '100 years', INTERVAL '30 days')
ON CONFLICT (table_name) DO NOTHING;

-- Creates the partitions of p_table that cover [p_from, p_to); returns how many it created.
CREATE FUNCTION cg_ensure_partitions(p_table text, p_from timestamptz, p_to timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    step     interval;
    lower_ts timestamptz;
    part     text;
    created  integer := 0;
BEGIN
    SELECT chunk_interval INTO STRICT step FROM retention_policies WHERE table_name = p_table;
    lower_ts := date_bin(step, p_from, TIMESTAMPTZ '2000-01-01 00:00:00+00');
    WHILE lower_ts < p_to LOOP
        part := format('%s_p%s', p_table, to_char(lower_ts AT TIME ZONE 'UTC', 'YYYYMMDD'));
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                           part, p_table, lower_ts, lower_ts + step);
            created := created + 1;
        END IF;
        lower_ts := lower_ts + step;
    END LOOP;
    RETURN created;
END;
$$;

-- Drops the partitions of p_table whose whole range is older than its retention; returns how many.
CREATE FUNCTION cg_drop_expired_partitions(p_table text, p_now timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    policy   record;
    child    record;
    starts   timestamptz;
    dropped  integer := 0;
BEGIN
    SELECT keep, chunk_interval INTO STRICT policy FROM retention_policies WHERE table_name = p_table;
    FOR child IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = p_table::regclass
    LOOP
        starts := to_timestamp(right(child.relname, 8), 'YYYYMMDD') AT TIME ZONE 'UTC';
        IF starts + policy.chunk_interval <= p_now - policy.keep THEN
            EXECUTE format('DROP TABLE %I', child.relname);
            dropped := dropped + 1;
        END IF;
    END LOOP;
    RETURN dropped;
END;
$$;
