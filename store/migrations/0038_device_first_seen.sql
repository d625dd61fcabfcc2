-- When each device was first heard from: uptime counts a device only from then (command_ui/uptime.py), so a
-- camera installed yesterday is not "100 % up" over last month, nor down over the weeks before it existed.
--
-- Written once, by the INSERT of ingest's liveness upsert (store/ingest_repo.py), never by its ON CONFLICT
-- update. Back-filled here from the earliest position or device event on record (each an index range read on
-- its (device_id, ...) primary key), else from the newest message we have: the row's first write is all we know.
-- Left NULL only by a row written without it (a tool, a test's fixture): unknown, so uptime judges that device
-- over the whole window, as before this column.
ALTER TABLE device_liveness ADD COLUMN first_seen timestamptz;

UPDATE device_liveness l SET first_seen = least(
    l.last_seen,
    (SELECT min(p.time) FROM positions p WHERE p.device_id = l.device_id),
    (SELECT min(e.time) FROM device_events e WHERE e.device_id = l.device_id));

-- A class removed from the site file is retired, not deleted (head teachers' audit records and rosters' history
-- point at it), and leaves the class lists: NULL while the file has it (store/site_repo.py, store/class_repo.py).
-- Named retired_at rather than active: org_units is joined into many queries beside tables with an active column.
ALTER TABLE org_units ADD COLUMN retired_at timestamptz;
