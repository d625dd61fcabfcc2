-- The one test of "is this unit in that person's subtree", used by every scoped query.
-- Paths are '/city/county/school/' (each ends in '/'), so a plain prefix is exact: '/c/north/' is not a prefix
-- of '/c/north-es/'. starts_with compares characters; the LIKE prefix it replaces read '_' and '%' in ids as
-- wildcards, so a guard of 'north_es' saw 'north-es'. A plain SQL function, inlined by the planner.
CREATE FUNCTION campusguard_within(path text, scope text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN starts_with(path, scope);
