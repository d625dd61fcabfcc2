-- Plain PostgreSQL: dead letters are partitioned by day like the other time series.
CREATE INDEX dead_letters_time_brin ON dead_letters USING brin (time);
