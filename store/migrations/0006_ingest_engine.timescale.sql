-- TimescaleDB: dead letters are a hypertable like the other time series; retention comes from the settings.
SELECT create_hypertable('dead_letters', by_range('time', INTERVAL '1 day'));
