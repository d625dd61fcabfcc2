"""The TimescaleDB engine in WASM (PGlite behind tools/pglite/server.mjs), driven through psycopg.

These tests prove the harness itself: psycopg speaks to the engine over the wire protocol (simple and
extended protocol, pipelines, big statements, errors, reconnects), and the TimescaleDB features the
store relies on really work there (hypertables, compression, retention, continuous aggregates, jobs
run by ``CALL run_job``).

The engine serves one connection at a time, so every test closes its connection before the next.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from devtools.pglite import start_pglite

pytestmark = pytest.mark.timescale

T0 = datetime(2024, 1, 1, tzinfo=UTC)
DEVICES = 3
HOURS = 72


@pytest.fixture(scope="module")
def ts_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One PGlite/TimescaleDB engine for the module (starting it takes a few seconds)."""
    with start_pglite(tmp_path_factory.mktemp("pglite"), conn_wait_ms=1500) as url:
        yield url


@pytest.fixture
def ts_conn(ts_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the engine, closed after the test."""
    with psycopg.connect(ts_url, autocommit=True, connect_timeout=20) as connection:
        yield connection


@pytest.fixture(scope="module")
def readings(ts_url: str) -> str:
    """A hypertable ``readings`` with a (device_id, time) primary key and 3 days of hourly rows."""
    with psycopg.connect(ts_url, autocommit=True) as conn:
        conn.execute(
            """
            CREATE TABLE readings (
                device_id integer NOT NULL,
                time timestamptz NOT NULL,
                value double precision NOT NULL,
                PRIMARY KEY (device_id, time)
            )
            """
        )
        created = conn.execute(
            "SELECT * FROM create_hypertable('readings', by_range('time', INTERVAL '1 day'))"
        ).fetchone()
        assert created is not None and created[1] is True
        rows = [
            (device, T0 + timedelta(hours=hour), float(device * 1000 + hour))
            for device in range(DEVICES)
            for hour in range(HOURS)
        ]
        with conn.cursor() as cur:
            # The duplicates (first 10 rows again) must be skipped, not fail.
            cur.executemany(
                "INSERT INTO readings (device_id, time, value) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                rows + rows[:10],
            )
    return "readings"


def _job_id(conn: psycopg.Connection, proc_name: str, table: str) -> int:
    row = conn.execute(
        "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = %s AND hypertable_name = %s",
        (proc_name, table),
    ).fetchone()
    assert row is not None, f"no {proc_name} job on {table}"
    return int(row[0])


def test_extension_is_timescaledb_2(ts_conn: psycopg.Connection) -> None:
    row = ts_conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    assert row is not None
    assert row[0].startswith("2."), row[0]
    assert ts_conn.info.server_version >= 170000
    assert ts_conn.execute("SELECT time_bucket('1 hour', %s::timestamptz)", (T0,)).fetchone() == (T0,)


def test_hypertable_with_upsert(readings: str, ts_conn: psycopg.Connection) -> None:
    count, devices, first, last = ts_conn.execute(
        "SELECT count(*), count(DISTINCT device_id), min(time), max(time) FROM readings"
    ).fetchone() or (None, None, None, None)
    assert count == DEVICES * HOURS
    assert devices == DEVICES
    assert first == T0
    assert last == T0 + timedelta(hours=HOURS - 1)
    # One chunk per day.
    assert ts_conn.execute("SELECT count(*) FROM show_chunks('readings')").fetchone() == (3,)
    # A conflicting insert is skipped, the row keeps its value.
    cur = ts_conn.execute("INSERT INTO readings VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", (0, T0, -1.0))
    assert cur.rowcount == 0
    assert ts_conn.execute("SELECT value FROM readings WHERE device_id = 0 AND time = %s", (T0,)).fetchone() == (0.0,)


def test_hypertables_view(readings: str, ts_conn: psycopg.Connection) -> None:
    rows = ts_conn.execute(
        "SELECT hypertable_name, num_dimensions, num_chunks FROM timescaledb_information.hypertables"
        " WHERE hypertable_name = 'readings'"
    ).fetchall()
    assert rows == [("readings", 1, 3)]
    dims = ts_conn.execute(
        "SELECT column_name, time_interval FROM timescaledb_information.dimensions WHERE hypertable_name = 'readings'"
    ).fetchall()
    assert dims == [("time", timedelta(days=1))]


def test_compression_and_retention_policies(readings: str, ts_conn: psycopg.Connection) -> None:
    ts_conn.execute(
        "ALTER TABLE readings SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id',"
        " timescaledb.compress_orderby = 'time DESC')"
    )
    compression_job = ts_conn.execute("SELECT add_compression_policy('readings', INTERVAL '7 days')").fetchone()
    retention_job = ts_conn.execute("SELECT add_retention_policy('readings', INTERVAL '3650 days')").fetchone()
    assert compression_job is not None and retention_job is not None

    settings = ts_conn.execute(
        "SELECT segmentby, orderby FROM timescaledb_information.hypertable_compression_settings"
        " WHERE hypertable = 'readings'::regclass"
    ).fetchall()
    assert settings == [("device_id", '"time" DESC')]
    jobs: dict[str, int] = dict(
        ts_conn.execute(
            "SELECT proc_name, job_id FROM timescaledb_information.jobs WHERE hypertable_name = 'readings'"
        ).fetchall()
    )
    assert jobs == {"policy_compression": compression_job[0], "policy_retention": retention_job[0]}
    enabled = ts_conn.execute(
        "SELECT compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_name = 'readings'"
    ).fetchone()
    assert enabled == (True,)

    # Background workers never run in PGlite: run the policies by hand.
    ts_conn.execute("CALL run_job(%s)", (compression_job[0],))
    assert ts_conn.execute(
        "SELECT count(*) FILTER (WHERE is_compressed), count(*) FROM timescaledb_information.chunks"
        " WHERE hypertable_name = 'readings'"
    ).fetchone() == (3, 3)
    # Compressed data still reads the same.
    assert ts_conn.execute("SELECT count(*), sum(value) FROM readings WHERE device_id = 1").fetchone() == (
        HOURS,
        float(sum(1000 + h for h in range(HOURS))),
    )

    # Retention of 10 years keeps everything; dropping older than a fixed date removes whole chunks.
    ts_conn.execute("CALL run_job(%s)", (retention_job[0],))
    assert ts_conn.execute("SELECT count(*) FROM readings").fetchone() == (DEVICES * HOURS,)
    dropped = ts_conn.execute(
        "SELECT count(*) FROM drop_chunks('readings', older_than => %s::timestamptz)",
        (T0 + timedelta(days=1),),
    ).fetchone()
    assert dropped == (1,)
    assert ts_conn.execute("SELECT count(*) FROM readings").fetchone() == (DEVICES * (HOURS - 24),)


def test_continuous_aggregate_refreshed_by_job(ts_conn: psycopg.Connection) -> None:
    ts_conn.execute(
        "CREATE TABLE events (device_id integer NOT NULL, time timestamptz NOT NULL, level integer,"
        " PRIMARY KEY (device_id, time))"
    )
    ts_conn.execute("SELECT create_hypertable('events', by_range('time', INTERVAL '1 day'))")
    with ts_conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO events VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            [(d, T0 + timedelta(minutes=15 * i), i % 4) for d in range(2) for i in range(8)],
        )
    ts_conn.execute(
        """
        CREATE MATERIALIZED VIEW events_hourly WITH (timescaledb.continuous) AS
        SELECT device_id, time_bucket('1 hour', time) AS bucket, count(*) AS n, max(level) AS max_level
        FROM events GROUP BY device_id, bucket
        WITH NO DATA
        """
    )
    job = ts_conn.execute(
        "SELECT add_continuous_aggregate_policy('events_hourly', start_offset => INTERVAL '10 years',"
        " end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour')"
    ).fetchone()
    assert job is not None
    assert ts_conn.execute(
        "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates"
    ).fetchall() == [("events_hourly", True)]
    assert ts_conn.execute(
        "SELECT proc_name FROM timescaledb_information.jobs WHERE job_id = %s", (job[0],)
    ).fetchone() == ("policy_refresh_continuous_aggregate",)
    assert ts_conn.execute("SELECT count(*) FROM events_hourly").fetchone() == (0,)

    ts_conn.execute("CALL run_job(%s)", (job[0],))
    rows = ts_conn.execute(
        "SELECT device_id, bucket, n, max_level FROM events_hourly ORDER BY device_id, bucket"
    ).fetchall()
    assert rows == [(d, T0 + timedelta(hours=h), 4, 3) for d in range(2) for h in range(2)]

    # New data shows up after an explicit refresh of its window.
    ts_conn.execute("INSERT INTO events VALUES (5, %s, 7)", (T0 + timedelta(hours=5),))
    ts_conn.execute(
        "CALL refresh_continuous_aggregate('events_hourly', %s::timestamptz, %s::timestamptz)",
        (T0, T0 + timedelta(days=1)),
    )
    assert ts_conn.execute("SELECT n, max_level FROM events_hourly WHERE device_id = 5").fetchall() == [(1, 7)]


def test_simple_and_extended_protocol(ts_conn: psycopg.Connection) -> None:
    # No parameters: psycopg uses the simple protocol, so a multi-statement script is fine.
    ts_conn.execute(
        "CREATE TABLE script (id int PRIMARY KEY, name text);"
        " INSERT INTO script VALUES (1, 'a');"
        " INSERT INTO script VALUES (2, 'b');"
        " UPDATE script SET name = upper(name)"
    )
    assert ts_conn.execute("SELECT id, name FROM script ORDER BY id").fetchall() == [(1, "A"), (2, "B")]
    # Parameters: Parse/Bind/Describe/Execute/Sync, text and binary, with unicode and NULL.
    row = ts_conn.execute(
        "SELECT %s::int + 1, %s::text, %s::timestamptz, %s::text IS NULL", (41, "héllo ✓", T0, None)
    ).fetchone()
    assert row == (42, "héllo ✓", T0, True)
    with ts_conn.cursor(binary=True) as cur:
        assert cur.execute("SELECT %s::bigint * 2", (2**40,)).fetchone() == (2**41,)
    # Server-side prepared statements (psycopg prepares after repeated use).
    for i in range(8):
        assert ts_conn.execute("SELECT %s::int * 3", (i,), prepare=True).fetchone() == (i * 3,)
    # Pipeline mode.
    with ts_conn.pipeline():
        cursors = [ts_conn.execute("SELECT %s::int", (i,)) for i in range(50)]
    assert [c.fetchone() for c in cursors] == [(i,) for i in range(50)]


def test_transactions(ts_url: str) -> None:
    with psycopg.connect(ts_url) as conn:
        conn.execute("CREATE TABLE tx (id int)")
        conn.commit()
        conn.execute("INSERT INTO tx VALUES (1)")
        conn.rollback()
        with conn.transaction():
            conn.execute("INSERT INTO tx VALUES (2)")
        assert conn.execute("SELECT array_agg(id) FROM tx").fetchone() == ([2],)
        conn.commit()


def test_one_megabyte_statement(ts_conn: psycopg.Connection) -> None:
    payload = "x" * (1024 * 1024)
    # Inline in the SQL text (simple protocol) ...
    assert ts_conn.execute(f"SELECT length('{payload}')").fetchone() == (len(payload),)
    # ... as a bound parameter (extended protocol), and coming back in the result.
    (echo,) = ts_conn.execute("SELECT %s::text", (payload + "y",)).fetchone() or ("",)
    assert echo == payload + "y"
    # A 1 MB multi-row INSERT.
    values = ", ".join(f"({i}, '{'z' * 100}')" for i in range(10_000))
    ts_conn.execute("CREATE TABLE big (id int, pad text)")
    ts_conn.execute(f"INSERT INTO big VALUES {values}")
    assert ts_conn.execute("SELECT count(*), sum(length(pad)) FROM big").fetchone() == (10_000, 1_000_000)


def test_sql_error_leaves_connection_usable(ts_conn: psycopg.Connection) -> None:
    with pytest.raises(errors.DivisionByZero):
        ts_conn.execute("SELECT 1 / 0")
    with pytest.raises(errors.UndefinedTable):
        ts_conn.execute("SELECT * FROM no_such_table WHERE id = %s", (1,))
    with pytest.raises(errors.SyntaxError):
        ts_conn.execute("SELEC nonsense")
    assert ts_conn.execute("SELECT 'still alive'").fetchone() == ("still alive",)

    ts_conn.execute("CREATE TABLE uniq (id int PRIMARY KEY)")
    with pytest.raises(errors.UniqueViolation), ts_conn.cursor() as cur:
        cur.executemany("INSERT INTO uniq VALUES (%s)", [(1,), (2,), (2,), (3,)])
    assert ts_conn.execute("SELECT %s::int", (7,)).fetchone() == (7,)

    # Inside a transaction: the error aborts it, rollback recovers.
    with pytest.raises(errors.DivisionByZero), ts_conn.transaction():
        ts_conn.execute("INSERT INTO uniq VALUES (100)")
        ts_conn.execute("SELECT 1 / 0")
    assert ts_conn.execute("SELECT count(*) FROM uniq WHERE id = 100").fetchone() == (0,)


def test_copy_from_stdin_is_emulated(ts_conn: psycopg.Connection) -> None:
    ts_conn.execute("CREATE TABLE copied (id int, name text, at timestamptz)")
    # Text format.
    with ts_conn.cursor() as cur:
        with cur.copy("COPY copied (id, name, at) FROM STDIN") as copy:
            for i in range(1000):
                copy.write_row((i, f"row {i}\ttab", T0 + timedelta(seconds=i)))
        assert cur.rowcount == 1000
    # Binary format (what store.writer uses), inside a transaction, more than 64 KiB of data.
    with (
        ts_conn.transaction(),
        ts_conn.cursor() as cur,
        cur.copy("COPY copied (id, name, at) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types(["int4", "text", "timestamptz"])
        for i in range(1000, 6000):
            copy.write_row((i, "x" * 20, T0))
    assert ts_conn.execute("SELECT count(*), max(id) FROM copied").fetchone() == (6000, 5999)
    assert ts_conn.execute("SELECT name, at FROM copied WHERE id = 7").fetchone() == (
        "row 7\ttab",
        T0 + timedelta(seconds=7),
    )
    # A client-side failure (CopyFail) rolls the COPY back and leaves the connection usable.
    # (psycopg re-raises the client's own exception after sending CopyFail, as on real PostgreSQL.)
    with (
        pytest.raises(RuntimeError, match="client gave up"),
        ts_conn.cursor() as cur,
        cur.copy("COPY copied (id) FROM STDIN") as copy,
    ):
        copy.write_row((-1,))
        raise RuntimeError("client gave up")
    # Bad data comes back as the server's own error.
    with (
        pytest.raises(errors.InvalidTextRepresentation),
        ts_conn.cursor() as cur,
        cur.copy("COPY copied (id) FROM STDIN") as copy,
    ):
        copy.write(b"not-a-number\n")
    assert ts_conn.execute("SELECT count(*) FROM copied WHERE id < 0").fetchone() == (0,)
    # COPY FROM STDIN inside a multi-statement script is refused, not a trap.
    with pytest.raises(errors.FeatureNotSupported, match="COPY FROM STDIN"):
        ts_conn.execute("SELECT 1; COPY copied (id) FROM STDIN")
    # COPY TO STDOUT works natively.
    with ts_conn.cursor() as cur, cur.copy("COPY (SELECT generate_series(1, 3)) TO STDOUT") as copy:
        got = list(copy.rows())
    assert got == [("1",), ("2",), ("3",)]


def test_notices_pass_but_debug_noise_is_filtered(ts_conn: psycopg.Connection) -> None:
    seen: list[tuple[str, str]] = []
    ts_conn.add_notice_handler(lambda d: seen.append((d.severity_nonlocalized or "", d.message_primary or "")))
    ts_conn.execute("DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$")
    ts_conn.execute("SELECT %s::int", (1,))
    ts_conn.execute("BEGIN; ROLLBACK")
    assert seen == [("NOTICE", "hello 42")]


def test_reconnect_resets_the_session(ts_url: str) -> None:
    with psycopg.connect(ts_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (id int)")
        conn.execute("INSERT INTO kept VALUES (1)")
        conn.execute("CREATE TEMP TABLE scratch (id int)")
        conn.execute("SET TIME ZONE 'Asia/Tokyo'")
        for _ in range(6):
            conn.execute("SELECT count(*) FROM kept WHERE id = %s", (1,), prepare=True)
    # A connection dropped in the middle of a transaction is rolled back.
    conn2 = psycopg.connect(ts_url)
    conn2.execute("INSERT INTO kept VALUES (2)")
    conn2.close()
    for _ in range(2):
        with psycopg.connect(ts_url, autocommit=True) as conn:
            assert conn.execute("SELECT array_agg(id) FROM kept").fetchone() == ([1],)
            assert conn.execute("SELECT to_regclass('scratch')").fetchone() == (None,)
            assert conn.execute("SHOW TimeZone").fetchone() != ("Asia/Tokyo",)
            # The same prepared statement names are free again.
            for _ in range(6):
                assert conn.execute("SELECT count(*) FROM kept WHERE id = %s", (1,), prepare=True).fetchone() == (1,)


def test_startup_options_are_applied(ts_url: str) -> None:
    with psycopg.connect(
        ts_url, application_name="cg-test", options="-c statement_timeout=12345 -c search_path=public"
    ) as conn:
        assert conn.execute("SHOW application_name").fetchone() == ("cg-test",)
        assert conn.execute("SHOW statement_timeout").fetchone() == ("12345ms",)
        assert conn.info.parameter_status("application_name") == "cg-test"
        # PGlite does not report setting changes itself; the harness sends the ParameterStatus.
        conn.execute("SET TIME ZONE 'Asia/Tokyo'")
        assert str(conn.info.timezone) == "Asia/Tokyo"
        conn.commit()
        with conn.transaction():
            conn.execute("SET LOCAL TIME ZONE 'UTC'")
            assert str(conn.info.timezone) == "UTC"
        assert str(conn.info.timezone) == "Asia/Tokyo"


def test_second_concurrent_connection_is_refused(ts_url: str) -> None:
    with psycopg.connect(ts_url) as first:
        first.execute("SELECT 1")
        # Refused by the harness with its own reason, not left to wait for connect_timeout: a timeout would say
        # "timeout expired", so the message alone proves it (no wall-clock assertion needed).
        with pytest.raises(psycopg.OperationalError, match="one connection at a time"):
            psycopg.connect(ts_url, connect_timeout=20)
    # Once the first one is closed, a new connection works.
    with psycopg.connect(ts_url) as again:
        assert again.execute("SELECT 2").fetchone() == (2,)


def test_waiting_connection_gets_the_engine_when_the_first_closes(ts_url: str) -> None:
    first = psycopg.connect(ts_url)
    first.execute("SELECT 1")
    timer = threading.Timer(0.3, first.close)
    timer.start()
    try:
        with psycopg.connect(ts_url, connect_timeout=20) as second:
            assert second.execute("SELECT 3").fetchone() == (3,)
    finally:
        timer.join()


@pytest.mark.slow
def test_data_dir_persists(tmp_path: Path) -> None:
    """A data directory survives a restart (a second engine, so this test is the slow one)."""
    data = tmp_path / "data"
    with start_pglite(tmp_path / "a", data_dir=data) as url, psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE persisted (id int)")
        conn.execute("INSERT INTO persisted VALUES (42)")
    with start_pglite(tmp_path / "b", data_dir=data) as url, psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT id FROM persisted").fetchone() == (42,)
        assert conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone() is not None
