-- The audit page's search by target ("everything recorded about incident 4711", a person, a camera): with no index
-- on target it walked the whole trail in id order, filtering; a year of a city's trail is about a million records.
-- Measured on a generated year (bench/year, bench/REPORT.md): warm p95 of one incident's records 230 ms at the
-- full year's 798 k records without it, 1.8 ms with it. (target, id) answers the search's ORDER BY id too, so a
-- page is an index range read. No other index was added: the year's other questions did not ask for one
-- (docs/scaling.md).
CREATE INDEX audit_log_target ON audit_log (target, id);
