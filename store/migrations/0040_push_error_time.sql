-- When a Web Push subscription's last push failed (issue 17: push delivery health on the operations page).
-- last_error (0031) says why; this says since when, so an administrator tells a phone that failed once last
-- month from one that has not rung since this morning. Written with last_error by the push notifier
-- (store/push_repo.py failed), cleared with it by a delivery or a new subscription. One statement for both
-- storage paths: push_subscriptions is a plain table under TimescaleDB too.
ALTER TABLE push_subscriptions ADD COLUMN last_error_at timestamptz;
