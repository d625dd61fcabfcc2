-- The archive of monthly bulletins (月度通报, issue 18): every bulletin made, kept as the bytes that were handed out.
--
-- One row per document: a unit (the city or a county), a month, a language and a format (HTML or PDF). The
-- scheduler's bulletin of a month is made once (the partial unique index: a second pass of the job finds it and
-- does nothing); one made again on demand is a new version beside it, so what was sent out is never overwritten.
-- The bytes live here rather than under the data directory so a database backup holds the archive whole; a
-- month's PDF of a 30-school city is a few hundred kB, a province's a few MB. Plain table on both storage paths.
CREATE TABLE bulletins (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_id      text NOT NULL REFERENCES org_units (id),
    month        text NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    lang         text NOT NULL CHECK (lang IN ('en', 'zh-CN')),
    format       text NOT NULL CHECK (format IN ('html', 'pdf')),
    -- 1 for the first made of its unit, month, language and format; each later one the next number.
    version      integer NOT NULL CHECK (version >= 1),
    scheduled    boolean NOT NULL,
    body         bytea NOT NULL,
    sha256       bytea NOT NULL CHECK (length(sha256) = 32),
    generated_at timestamptz NOT NULL,
    -- A person's id, or 'scheduler' for the monthly job (the audit trail's actor, as text).
    generated_by text NOT NULL,
    UNIQUE (unit_id, month, lang, format, version)
);

CREATE UNIQUE INDEX bulletins_scheduled_once ON bulletins (unit_id, month, lang, format) WHERE scheduled;
CREATE INDEX bulletins_by_month ON bulletins (unit_id, month DESC);
