-- TimescaleDB: hypertables chunked as retention_policies says, compressed by device after a week.
-- Retention policies are (re)registered from the settings by the migration runner after this file.

SELECT create_hypertable('positions', by_range('time', INTERVAL '1 day'));
SELECT create_hypertable('device_events', by_range('time', INTERVAL '7 days'));
SELECT create_hypertable('sensor_readings', by_range('time', INTERVAL '7 days'));
SELECT create_hypertable('detections', by_range('time', INTERVAL '1 day'));
SELECT create_hypertable('incident_events', by_range('time', INTERVAL '30 days'));

ALTER TABLE positions SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id',
                           timescaledb.compress_orderby = 'time DESC');
ALTER TABLE device_events SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id',
                               timescaledb.compress_orderby = 'time DESC');
ALTER TABLE sensor_readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id',
                                 timescaledb.compress_orderby = 'time DESC');
ALTER TABLE detections SET (timescaledb.compress, timescaledb.compress_segmentby = 'camera_id',
                            timescaledb.compress_orderby = 'time DESC');

SELECT add_compression_policy('positions', INTERVAL '7 days');
SELECT add_compression_policy('device_events', INTERVAL '7 days');
SELECT add_compression_policy('sensor_readings', INTERVAL '7 days');
SELECT add_compression_policy('detections', INTERVAL '3 days');
