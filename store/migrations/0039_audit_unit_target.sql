-- A record about a unit of the tree (a county's or the city's monthly bulletin, command_ui/routers/compliance.py)
-- is read inside that unit: the target kind 'unit:<org unit id>' resolves to the unit's path, as 'school:' does
-- for a school. The function is 0027's with that one line added; records already stored are unchanged (no
-- 'unit:' target was written before this).

CREATE OR REPLACE FUNCTION campusguard_audit_scope(target text) RETURNS text
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
        WHEN 'unit' THEN (SELECT path FROM org_units WHERE id = key)
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
