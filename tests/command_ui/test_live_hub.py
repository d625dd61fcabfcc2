"""The position hub's conflation, without a database: rows as ``moved_since`` returns them, handed to ``update``."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from hypothesis import given
from hypothesis import strategies as st

from command_ui.live_hub import HISTORY, PositionHub, View, in_scope
from store.db import keep_running

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
NORTH, SOUTH = "/city/north/", "/city/south/"


def row(device: str, second: int, lon: float = 10.0, lat: float = 50.0, path: str | None = NORTH) -> tuple[Any, ...]:
    time = T0 + timedelta(seconds=second)
    return (device, "bus_tracker", f"bus-{device}", "school" if path else None, lon, lat, time, 30.0, 90.0,
            time, path)


def taken(hub: PositionHub, subscription: Any) -> dict[str, dict[str, Any]]:
    message = hub.take(subscription)
    if message is None:
        return {}
    decoded = json.loads(message)
    return {r[0]: dict(zip(decoded["fields"], r, strict=True)) for r in decoded["rows"]}


def test_a_socket_that_fell_behind_gets_each_device_once_with_its_newest_fix() -> None:
    hub = PositionHub("unused")
    behind = hub.subscribe("/city/")
    behind.watch(View())
    level = hub.subscribe("/city/")
    level.watch(View())
    hub.update([row("a", 1), row("b", 1)])
    assert set(taken(hub, behind)) == {"a", "b"} and set(taken(hub, level)) == {"a", "b"}
    for second in range(2, 6):
        hub.update([row("a", second)])
        assert set(taken(hub, level)) == {"a"}
    hub.update([row("c", 6)])
    caught_up = taken(hub, behind)
    assert set(caught_up) == {"a", "c"}
    assert caught_up["a"]["time"] == "2026-11-23T08:00:05.000Z"
    assert taken(hub, behind) == {}  # nothing new since


def test_a_fix_read_again_through_the_overlap_is_not_a_new_tick() -> None:
    hub = PositionHub("unused")
    hub.update([row("a", 1)])
    hub.update([row("a", 1)])
    assert hub.seq == 1


def test_sockets_level_with_the_hub_share_one_encoded_message_per_scope() -> None:
    hub = PositionHub("unused")
    first, second, other = hub.subscribe("/city/"), hub.subscribe("/city/"), hub.subscribe(SOUTH)
    for s in (first, second, other):
        s.watch(View())
    hub.update([row("a", 1), row("s", 1, path=SOUTH)])
    a, b, c = hub.take(first), hub.take(second), hub.take(other)
    assert a is b and a is not None and c is not None and '"s"' in c and '"a"' not in c


def test_a_socket_behind_the_kept_history_gets_a_snapshot() -> None:
    hub = PositionHub("unused")
    old = hub.subscribe("/")
    old.watch(View())
    hub.update([row("a", 0), row("b", 0)])
    assert set(taken(hub, old)) == {"a", "b"}
    for second in range(1, HISTORY + 3):
        hub.update([row("a", second)])
    assert set(taken(hub, old)) == {"a", "b"}  # b did not move, but the history no longer says so


def test_scope_view_and_watching_nothing() -> None:
    hub = PositionHub("unused")
    boxed, idle, root = hub.subscribe(NORTH), hub.subscribe(NORTH), hub.subscribe("/")
    boxed.watch(View((9.5, 49.5, 10.5, 50.5)))
    root.watch(View())
    hub.update([row("in", 1), row("out", 1, lon=12.0), row("south", 1, path=SOUTH), row("loose", 1, path=None)])
    assert set(taken(hub, boxed)) == {"in"}
    assert hub.take(idle) is None and not idle.wake.is_set()
    assert set(taken(hub, root)) == {"in", "out", "south", "loose"}  # a device of no school: the root sees it
    boxed.watch(View())
    assert set(taken(hub, boxed)) == {"in", "out"}  # a new view starts with a snapshot


def test_a_box_across_the_antimeridian() -> None:
    view = View((170.0, -20.0, -170.0, 0.0))
    assert view.covers(175.0, -10.0) and view.covers(-175.0, -10.0)
    assert not view.covers(0.0, -10.0) and not view.covers(175.0, 5.0)


@given(st.lists(st.tuples(st.sampled_from("abcdef"), st.integers(0, 5)), min_size=1, max_size=40),
       st.lists(st.booleans(), min_size=1, max_size=40))
def test_whenever_a_socket_takes_it_ends_level_with_the_newest_fixes(moves: list[tuple[str, int]],
                                                                     takes: list[bool]) -> None:
    # Whatever the pattern of ticks and sends, what a screen holds after taking is the hub's newest fix of
    # every device it has been told about: nothing skipped, nothing stale.
    hub = PositionHub("unused")
    screen = hub.subscribe("/")
    screen.watch(View())
    shown: dict[str, str] = {}
    second = 0
    for n, (device, step) in enumerate(moves):
        second += step + 1
        hub.update([row(device, second)])
        if takes[n % len(takes)]:
            shown |= {d: f["time"] for d, f in taken(hub, screen).items()}
    shown |= {d: f["time"] for d, f in taken(hub, screen).items()}
    newest = {d: json.loads(f.encoded)[6] for d, f in hub._latest.items()}
    assert shown == newest


def test_in_scope() -> None:
    assert in_scope(NORTH, "/city/") and not in_scope(SOUTH, NORTH)
    assert in_scope(None, "/") and not in_scope(None, "/city/")


def test_the_feeds_start_again_after_any_error_and_stop_when_cancelled() -> None:
    calls: list[str] = []
    third = asyncio.Event()

    async def feed() -> None:
        async for attempt in keep_running("test feed", pause_s=0):
            with attempt:
                calls.append("run")
                if len(calls) == 1:
                    raise psycopg.OperationalError("the database went away")
                if len(calls) == 2:
                    raise KeyError("a bug")  # not a database error: still started again, with its traceback
                third.set()
                await asyncio.sleep(60)

    async def main() -> None:
        task = asyncio.create_task(feed())
        await asyncio.wait_for(third.wait(), 10)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            calls.append("cancelled")

    asyncio.run(main())
    assert calls == ["run", "run", "run", "cancelled"]
