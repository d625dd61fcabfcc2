-- Sign-in hardening (issue 16, findings 4 to 6).
--
-- 1. Failed sign-ins by (name, address), the throttle's memory. The audit trail records every failure too, but it
--    is append-only and read by people; this table is the throttle's working state: indexed for its two
--    questions (how many failures of this pair lately, how many from this address lately), pruned as it goes,
--    and cleared for a pair when that pair signs in. ``kind`` also keeps when a throttle was last audited and
--    when the built-in admin's HTTP Basic success was last audited, so neither floods the hash chain.
CREATE TABLE auth_attempts (
    name    text NOT NULL,
    client  text NOT NULL,  -- the peer address as the server trusts it; '' when unknown
    at      timestamptz NOT NULL,
    kind    text NOT NULL CHECK (kind IN ('failed', 'throttled_pair', 'throttled_address', 'basic_ok'))
);
CREATE INDEX auth_attempts_pair ON auth_attempts (name, client, kind, at);
CREATE INDEX auth_attempts_client ON auth_attempts (client, kind, at);
CREATE INDEX auth_attempts_at ON auth_attempts (at);

-- 2. A session ends when what it was granted on changes: the password, the role, the scope, or the account being
--    retired. A trigger, so every path that changes them (the CLI, a site reload, a future API) ends them, and
--    the live sockets hear it on campusguard_sessions (store/channels.py) and close with 4401. A password rehash
--    at sign-in (argon2 parameters raised) ends the person's other sessions too, once.
CREATE FUNCTION campusguard_end_sessions() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    DELETE FROM sessions WHERE user_id = NEW.id;
    PERFORM pg_notify('campusguard_sessions', NEW.id);
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_end_sessions
    AFTER UPDATE OF password_hash, role, scope_id, active ON users
    FOR EACH ROW
    WHEN (OLD.password_hash IS DISTINCT FROM NEW.password_hash OR OLD.role IS DISTINCT FROM NEW.role
          OR OLD.scope_id IS DISTINCT FROM NEW.scope_id OR OLD.active IS DISTINCT FROM NEW.active)
    EXECUTE FUNCTION campusguard_end_sessions();

-- 3. Session tokens are now stored as HMAC-SHA256 under CAMPUSGUARD_SECRET_KEY rather than a bare SHA-256, so
--    rows written into this table without the key log nobody in. Sessions stored the old way can never match
--    again: they end here rather than linger until they expire.
DELETE FROM sessions;
