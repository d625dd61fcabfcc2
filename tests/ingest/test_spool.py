"""The spool across processes and worker counts: partitioned by topic, and nothing stranded by scaling down."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest.spool import Envelope, PartitionedSpool, Spool, partition_of, repartition, spool_path

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def envelopes(count: int, devices: int = 7) -> list[Envelope]:
    return [Envelope("mqtt", f"campusguard/v1/s/gps/dev-{n % devices}", f"fix {n}".encode(),
                     T0 + timedelta(seconds=n), maybe_copy=n % 5 == 0) for n in range(count)]


def drain(spool: Spool) -> list[Envelope]:
    items = spool.peek(100_000)
    if items:
        spool.remove_through(items[-1].seq)
    return [item.envelope for item in items]


def test_a_partitioned_append_keeps_each_topic_in_one_spool_and_in_order(tmp_path: Path) -> None:
    sent = envelopes(200)
    sink = PartitionedSpool(tmp_path, 3)
    sink.append(sent[:120])
    sink.append(sent[120:])
    assert sink.depth() == 200
    sink.close()
    got: dict[int, list[Envelope]] = {}
    for index in range(3):
        spool = Spool(spool_path(tmp_path, index))
        got[index] = drain(spool)
        spool.close()
    assert sorted((e for part in got.values() for e in part), key=lambda e: e.received_at) == sent
    for index, part in got.items():
        assert all(partition_of(e.topic, 3) == index for e in part)
        assert part == sorted(part, key=lambda e: e.received_at)  # one topic's messages in arrival order


def test_scaling_down_moves_what_retired_spools_hold_into_the_live_ones(tmp_path: Path) -> None:
    sent = envelopes(300)
    three = PartitionedSpool(tmp_path, 3)
    three.append(sent)
    three.close()
    assert repartition(tmp_path, 2) > 0
    assert not spool_path(tmp_path, 2).exists()
    remaining = []
    for index in range(2):
        spool = Spool(spool_path(tmp_path, index))
        remaining += drain(spool)
        spool.close()
    assert sorted(remaining, key=lambda e: e.received_at) == sent  # the possible-copy flag travels too
    assert [e.maybe_copy for e in sorted(remaining, key=lambda e: e.received_at)] == [e.maybe_copy for e in sent]
    assert repartition(tmp_path, 2) == 0


def test_a_spool_written_before_the_copy_flag_opens_and_replays(tmp_path: Path) -> None:
    path = spool_path(tmp_path, 0)
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL,"
                    " topic TEXT NOT NULL, payload BLOB NOT NULL, received_at REAL NOT NULL)")
        old.execute("INSERT INTO spool (source, topic, payload, received_at) VALUES ('mqtt', 't', x'01', ?)",
                    (T0.timestamp(),))
    spool = Spool(path)
    assert drain(spool) == [Envelope("mqtt", "t", b"\x01", T0)]
    spool.close()
