-- The audit trail follows the reader's scope like every other read (issue 16, finding 3).
--
-- Each record carries the organisation path of what it is about, resolved from its target when it is appended:
-- an incident, a shelf, a drill mode or a geofence by its school, a camera or a snapshot by the camera's school,
-- a person by the unit they are scoped to. Records about nothing in the tree (a site load, a failed login under
-- a name nobody has, a person with no scope) keep NULL and are read only by those who see the whole tree.
-- The path is derived data, outside the hash: it says who may read a record, never what the record says, and
-- it can be recomputed from the target at any time.

ALTER TABLE audit_log ADD COLUMN scope_path text;

CREATE FUNCTION campusguard_audit_scope(target text) RETURNS text
    LANGUAGE plpgsql STABLE
AS $$
DECLARE
    kind text := split_part(target, ':', 1);
    key  text := substr(target, length(split_part(target, ':', 1)) + 2);
BEGIN
    IF target IS NULL OR position(':' IN target) = 0 THEN
        RETURN NULL;
    END IF;
    -- Numeric ids are checked before the cast: a malformed target must not fail the append it describes.
    IF kind IN ('incident', 'shelf', 'snapshot') AND key !~ '^[0-9]{1,18}$' THEN
        RETURN NULL;
    END IF;
    RETURN CASE kind
        WHEN 'school' THEN (SELECT path FROM org_units WHERE id = key)
        WHEN 'user' THEN (SELECT o.path FROM users u JOIN org_units o ON o.id = u.scope_id WHERE u.id = key)
        WHEN 'incident' THEN (SELECT o.path FROM incidents i JOIN org_units o ON o.id = i.school_id
                              WHERE i.id = key::bigint)
        WHEN 'shelf' THEN (SELECT o.path FROM shelves s JOIN org_units o ON o.id = s.school_id
                           WHERE s.id = key::bigint)
        WHEN 'geofence' THEN (SELECT o.path FROM geofences g JOIN org_units o ON o.id = g.school_id
                              WHERE g.id = key)
        WHEN 'camera' THEN (SELECT o.path FROM devices d JOIN org_units o ON o.id = d.school_id WHERE d.id = key)
        WHEN 'device' THEN (SELECT o.path FROM devices d JOIN org_units o ON o.id = d.school_id WHERE d.id = key)
        WHEN 'snapshot' THEN (SELECT o.path FROM snapshots s JOIN devices d ON d.id = s.camera_id
                              JOIN org_units o ON o.id = d.school_id WHERE s.id = key::bigint)
        ELSE NULL
    END;
END;
$$;

CREATE FUNCTION audit_log_scope() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    NEW.scope_path := coalesce(NEW.scope_path, campusguard_audit_scope(NEW.target));
    RETURN NEW;
END;
$$;

-- Every writer gets its records scoped without knowing about it: the one place that appends stays simple.
CREATE TRIGGER audit_log_scope BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_scope();

-- Existing records: the append-only guard is lifted for this one derived column and put back at once.
ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete;
UPDATE audit_log SET scope_path = campusguard_audit_scope(target) WHERE target IS NOT NULL;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete;
