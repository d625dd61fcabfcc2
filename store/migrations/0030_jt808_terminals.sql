-- JT/T 808 terminal authentication codes (issue 19). A terminal registers (0x0100) and is answered with a code
-- (0x8100) that it presents on every connection after (0x0102). Only the code's SHA-256 is kept: the code is
-- random (128 bits), so a keyed or slow hash would add nothing, and a leaked table lets nobody authenticate.
-- One live (unrevoked) code per terminal number. A code never used may be replaced by registering again (the
-- answer may have been lost on the way); once used, the number is taken until a person revokes its code.
CREATE TABLE jt808_auth_codes (
    phone       text NOT NULL,           -- the terminal number as the site file's external_id
    code_hash   bytea NOT NULL,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    used_at     timestamptz,             -- the first authentication with it
    revoked_at  timestamptz,
    revoked_by  text
);
CREATE UNIQUE INDEX jt808_auth_codes_live ON jt808_auth_codes (phone) WHERE revoked_at IS NULL;
