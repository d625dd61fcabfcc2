"""The audit trail: an intact chain under concurrent writers, edits refused, and tampering found.

Tampering is done as a superuser who got past the database's guards (the trigger disabled), which verify
must still find.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from alerts.audit_cli import export_command, verify_command
from domain.audit import (
    GENESIS,
    AuditFilter,
    AuditRecord,
    BreakReason,
    StoredAudit,
    canonical_bytes,
    chain_hash,
    verify_chain,
)
from store import audit_repo

T0 = datetime(2024, 9, 2, 7, 30, tzinfo=UTC)


def record(
    n: int, actor: str = "guard-1", action: str = "incident.acknowledge", target: str | None = None
) -> AuditRecord:
    return AuditRecord(
        at=T0 + timedelta(seconds=n), actor=actor, action=action, target=target or f"incident:{n}",
        detail={"n": n, "note": "ça va", "nested": {"b": [1, 2.5, None], "a": True}},
    )


def fill(conn: psycopg.Connection, count: int) -> list[int]:
    return [audit_repo.append(conn, record(n)) for n in range(count)]


@pytest.fixture
def unguarded(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """The connection with the append-only trigger disabled, as a superuser could; re-enabled afterwards."""
    conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete")
    yield conn
    conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete")


# --- the pure chain ---------------------------------------------------------------------------------------


def test_canonical_form_is_stable_across_time_zones_and_key_order() -> None:
    east = timezone(timedelta(hours=3))
    a = AuditRecord(T0, "x", "y", None, {"b": 1, "a": 2})
    b = AuditRecord(T0.astimezone(east), "x", "y", None, {"a": 2, "b": 1})
    assert canonical_bytes(a) == canonical_bytes(b)
    assert json.loads(canonical_bytes(a))["at"] == "2024-09-02T07:30:00.000000+00:00"
    assert chain_hash(GENESIS, a) != chain_hash(bytes(31) + b"\x01", a)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        AuditRecord(datetime(2024, 1, 1), "x", "y")  # noqa: DTZ001 - the point of the test


def test_verify_chain_in_memory() -> None:
    chain, prev = [], GENESIS
    for n in range(4):
        digest = chain_hash(prev, record(n))
        chain.append(StoredAudit(n + 1, record(n), prev, digest))
        prev = digest
    assert verify_chain(chain).ok
    assert verify_chain(chain).head_hash == prev
    assert verify_chain([]).records == 0
    swapped = [chain[0], chain[2], chain[1], chain[3]]
    result = verify_chain(swapped)
    assert (result.broken_id, result.reason) == (3, BreakReason.REORDERED)


# --- append and the database's guards --------------------------------------------------------------------


def test_many_appends_form_an_intact_chain(conn: psycopg.Connection) -> None:
    ids = fill(conn, 60)
    assert ids == sorted(ids)
    result = audit_repo.verify(conn, batch=7)  # a small batch makes the server-side cursor fetch many times
    assert result.ok and result.records == 60
    first, last = conn.execute(
        "SELECT (SELECT prev_hash FROM audit_log ORDER BY id LIMIT 1),"
        " (SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1)"
    ).fetchone() or (None, None)
    assert first == GENESIS
    assert result.head_hash == last


def test_numbers_jsonb_rewrites_still_verify(conn: psycopg.Connection) -> None:
    # jsonb gives 1e16 back as 10000000000000000 (an int to json.loads); the hash must agree with that.
    audit_repo.append(conn, AuditRecord(T0, "a", "b", None, {"big": 1e16, "tiny": 1.5e-7, "exact": 0.1, "k": "\u00e9"}))
    assert audit_repo.verify(conn).ok


def test_concurrent_appends_do_not_fork_the_chain(migrated_url: str) -> None:
    writers, each = 8, 25
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(w: int) -> None:
        try:
            with psycopg.connect(migrated_url, autocommit=True) as own:
                start.wait()
                for n in range(each):
                    audit_repo.append(own, record(n, actor=f"writer-{w}"))
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which fails the test
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures
    with psycopg.connect(migrated_url, autocommit=True) as check:
        result = audit_repo.verify(check)
        assert result.ok, result.explanation
        assert result.records == writers * each


def test_append_inside_a_rolled_back_transaction_leaves_no_trace(conn: psycopg.Connection) -> None:
    fill(conn, 2)
    with pytest.raises(RuntimeError), conn.transaction():
        audit_repo.append(conn, record(9))
        raise RuntimeError("the action being audited failed")
    audit_repo.append(conn, record(10))
    result = audit_repo.verify(conn)
    assert result.ok and result.records == 3


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET actor = 'someone-else' WHERE id = (SELECT min(id) FROM audit_log)",
     "DELETE FROM audit_log WHERE id = (SELECT min(id) FROM audit_log)",
     "TRUNCATE audit_log"],
)
def test_the_database_refuses_changes(conn: psycopg.Connection, statement: str) -> None:
    fill(conn, 3)
    with pytest.raises(errors.InsufficientPrivilege, match="audit_log is append-only"):
        conn.execute(statement)
    assert audit_repo.verify(conn).records == 3


def test_a_fork_is_refused_by_the_unique_index(conn: psycopg.Connection) -> None:
    fill(conn, 2)
    head = conn.execute("SELECT hash FROM audit_log ORDER BY id LIMIT 1").fetchone()
    assert head is not None
    with pytest.raises(errors.UniqueViolation):
        conn.execute(
            "INSERT INTO audit_log (at, actor, action, detail, prev_hash, hash) VALUES (now(), 'x', 'y', '{}', %s, %s)",
            (head[0], bytes(32)),
        )


# --- tampering that got past the guards ------------------------------------------------------------------


def test_an_edited_detail_is_found(unguarded: psycopg.Connection) -> None:
    ids = fill(unguarded, 6)
    unguarded.execute("UPDATE audit_log SET detail = jsonb_set(detail, '{n}', '99') WHERE id = %s", (ids[3],))
    result = audit_repo.verify(unguarded)
    assert (result.ok, result.broken_id, result.reason) == (False, ids[3], BreakReason.EDITED)
    assert result.records == 4


def test_an_edit_with_its_hash_recomputed_shows_at_the_next_record(unguarded: psycopg.Connection) -> None:
    ids = fill(unguarded, 5)
    edited = AuditRecord(T0, "guard-1", "incident.acknowledge", "incident:2", {"forged": True})
    prev = unguarded.execute("SELECT prev_hash FROM audit_log WHERE id = %s", (ids[2],)).fetchone()
    assert prev is not None
    unguarded.execute(
        "UPDATE audit_log SET at = %s, detail = %s, hash = %s WHERE id = %s",
        (edited.at, json.dumps(edited.detail), chain_hash(bytes(prev[0]), edited), ids[2]),
    )
    result = audit_repo.verify(unguarded)
    assert (result.broken_id, result.reason) == (ids[3], BreakReason.GAP)


@pytest.mark.parametrize("position", [0, 3])
def test_a_deleted_record_is_found_as_a_gap(unguarded: psycopg.Connection, position: int) -> None:
    ids = fill(unguarded, 6)
    unguarded.execute("DELETE FROM audit_log WHERE id = %s", (ids[position],))
    result = audit_repo.verify(unguarded)
    assert (result.broken_id, result.reason) == (ids[position + 1], BreakReason.GAP)
    assert "deleted" in result.explanation


def test_swapped_records_are_found_as_reordered(unguarded: psycopg.Connection) -> None:
    ids = fill(unguarded, 6)
    # Identity ids cannot be updated, so a reorder swaps everything else between two rows; mid-swap two rows
    # share a prev_hash, so the tamperer drops the unique index too.
    unguarded.execute("DROP INDEX audit_log_prev_hash")
    unguarded.execute(
        "UPDATE audit_log a SET at = b.at, actor = b.actor, action = b.action, target = b.target,"
        " detail = b.detail, prev_hash = b.prev_hash, hash = b.hash"
        " FROM audit_log b WHERE (a.id, b.id) IN ((%s, %s), (%s, %s))",
        (ids[2], ids[3], ids[3], ids[2]),
    )
    result = audit_repo.verify(unguarded)
    assert (result.broken_id, result.reason) == (ids[2], BreakReason.REORDERED)
    assert f"predecessor is record {ids[3]}" in result.explanation


# --- search, export and the CLI --------------------------------------------------------------------------


def test_search_filters(conn: psycopg.Connection) -> None:
    audit_repo.append(conn, record(0, actor="guard-1", action="incident.acknowledge", target="incident:7"))
    audit_repo.append(conn, record(1, actor="guard-2", action="incident.acknowledge", target="incident:7"))
    audit_repo.append(conn, record(2, actor="guard-1", action="incident.resolve", target="incident:7"))
    audit_repo.append(conn, record(3, actor="admin", action="user.disable", target="user:guard-2"))

    def actors(**filters: object) -> list[str]:
        return [s.record.actor for s in audit_repo.search(conn, **filters)]  # type: ignore[arg-type]

    assert actors() == ["guard-1", "guard-2", "guard-1", "admin"]
    assert actors(actor="guard-1") == ["guard-1", "guard-1"]
    assert actors(action="incident.acknowledge") == ["guard-1", "guard-2"]
    assert actors(target="user:guard-2") == ["admin"]
    assert actors(actor="guard-1", action="incident.resolve") == ["guard-1"]
    assert actors(since=T0 + timedelta(seconds=1), until=T0 + timedelta(seconds=3)) == ["guard-2", "guard-1"]
    assert actors(limit=2, offset=1) == ["guard-2", "guard-1"]
    found = audit_repo.search(conn, target="user:guard-2")[0]
    assert found.record.at == T0 + timedelta(seconds=3)
    assert found.record.detail["nested"] == {"a": True, "b": [1, 2.5, None]}
    with pytest.raises(ValueError, match="limit"):
        audit_repo.search(conn, limit=0)


def test_csv_export_can_be_verified_on_its_own(conn: psycopg.Connection) -> None:
    fill(conn, 5)
    audit_repo.append(conn, record(5, actor="admin"))
    out = io.StringIO()
    assert audit_repo.export_csv(conn, out) == 6
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == list(audit_repo.CSV_HEADER)
    rebuilt = [
        StoredAudit(
            int(r["id"]),
            AuditRecord(datetime.fromisoformat(r["at"]), r["actor"], r["action"], r["target"] or None,
                        json.loads(r["detail"])),
            bytes.fromhex(r["prev_hash"]), bytes.fromhex(r["hash"]),
        )
        for r in rows
    ]
    assert verify_chain(rebuilt).ok

    only_admin = io.StringIO()
    assert audit_repo.export_csv(conn, only_admin, actor="admin") == 1
    assert "admin" in only_admin.getvalue().splitlines()[1]


def test_cli_commands(
    migrated_url: str, conn: psycopg.Connection, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(conn, 3)
    assert verify_command(migrated_url) == 0
    assert "audit chain intact: 3 records" in capsys.readouterr().out

    out_path = tmp_path / "audit.csv"
    assert export_command(migrated_url, out_path, AuditFilter(since=T0 + timedelta(seconds=1))) == 0
    assert len(out_path.read_text(encoding="utf-8").splitlines()) == 3  # header and two records

    conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete")
    conn.execute("UPDATE audit_log SET actor = 'intruder' WHERE id = (SELECT max(id) FROM audit_log)")
    conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete")
    assert verify_command(migrated_url) == 1
    assert "BROKEN" in capsys.readouterr().err
