-- The audit log is append-only in the database itself, not just by convention in our code.
-- A record is corrected by appending another record that says so, never by editing the old one.
--
-- These guards stop mistakes and ordinary roles. A superuser or the table owner can still disable the
-- trigger or drop the index; the hash chain (alerts/audit.py, `campusguard audit verify`) is what shows
-- that such tampering happened.

-- Every record is on the chain: the first one links to 32 zero bytes, never to NULL, so the unique index
-- below covers it too (NULLs never collide in a unique index, so two "first" records would be allowed).
ALTER TABLE audit_log ALTER COLUMN prev_hash SET NOT NULL;
ALTER TABLE audit_log ALTER COLUMN hash SET NOT NULL;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_hash_is_sha256
    CHECK (octet_length(hash) = 32 AND octet_length(prev_hash) = 32);

-- Each hash has at most one successor: two writers that read the same head cannot both append (a fork).
CREATE UNIQUE INDEX audit_log_prev_hash ON audit_log (prev_hash);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Record a correction by appending a new audit record.';
END;
$$;

CREATE TRIGGER audit_log_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();

-- TRUNCATE fires no row triggers, so it needs a statement trigger of its own.
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
