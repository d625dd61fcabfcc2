"""The position hub's conflation, without a database: rows as ``moved_since`` returns them, handed to ``update``."""

from __future__ import annotations

import asyncio
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from hypothesis import given
from hypothesis import strategies as st

from command_ui.live_detail import HISTORY, KEEP_ALIVE, TURN_DEG, detail_level, shows_differently
from command_ui.live_hub import PositionHub, View, in_scope
from command_ui.live_messages import UnreadableMessageError, Watch, read_client_message
from store.db import keep_running

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
NORTH, SOUTH = "/city/north/", "/city/south/"


def row(device: str, second: float, lon: float = 10.0, lat: float = 50.0, path: str | None = NORTH,
        heading: float | None = 90.0, bus: str | None = None) -> tuple[Any, ...]:
    time = T0 + timedelta(seconds=second)
    return (device, "bus_tracker", bus or f"bus-{device}", "school" if path else None, lon, lat, time, 30.0,
            heading, time, path)


def pixels(zoom: int, count: float) -> float:
    """``count`` screen pixels at ``zoom`` as degrees of longitude (Web Mercator: 256 pixels round the world)."""
    return count * 360.0 / (256 * 2.0**zoom)


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


def test_a_zoomed_out_map_gets_a_fix_once_it_moved_a_pixel_at_its_zoom() -> None:
    hub = PositionHub("unused")
    city, street, every = hub.subscribe("/"), hub.subscribe("/"), hub.subscribe("/")
    city.watch(View(zoom=12))
    street.watch(View(zoom=14))
    every.watch(View())  # no zoom said: every fix, as before zooms were
    hub.update([row("a", 0)])
    assert set(taken(hub, city)) == set(taken(hub, street)) == set(taken(hub, every)) == {"a"}  # snapshots
    city.wake.clear()  # as the socket's sender does before it takes
    hub.update([row("a", 1, lon=10.0 + pixels(12, 0.999))])  # 3.99 pixels at zoom 14, under one at 12
    assert taken(hub, city) == {} and not city.wake.is_set()  # not even woken
    assert set(taken(hub, street)) == set(taken(hub, every)) == {"a"}
    hub.update([row("a", 2, lon=10.0 + pixels(12, 1.001))])  # a pixel from what zoom 12 was last sent
    assert taken(hub, city)["a"]["lon"] == round(10.0 + pixels(12, 1.001), 6)
    hub.update([row("a", 3, lon=10.0 + pixels(12, 1.6))])  # 0.6 pixels on: held, however many fixes came
    hub.update([row("a", 4, lon=10.0 + pixels(12, 1.9))])
    assert taken(hub, city) == {}
    hub.update([row("a", 5, lon=10.0 + pixels(12, 2.002))])  # the moves add up: a pixel since the last sent
    assert set(taken(hub, city)) == {"a"}
    # North: on the Mercator map a degree of latitude at 50° is 1 / cos(50°) times a degree of longitude.
    east, shrink = 10.0 + pixels(12, 2.002), math.cos(math.radians(50.0))
    hub.update([row("a", 6, lon=east, lat=50.0 + pixels(12, 0.99) * shrink)])
    assert taken(hub, city) == {}
    hub.update([row("a", 7, lon=east, lat=50.0 + pixels(12, 1.01) * shrink)])
    assert set(taken(hub, city)) == {"a"}


def test_a_map_that_sees_nothing_move_still_hears_from_a_device_every_ten_seconds() -> None:
    # A parked bus that keeps reporting: its last seen time on the map stays within KEEP_ALIVE of the truth.
    hub = PositionHub("unused")
    city = hub.subscribe("/")
    city.watch(View(zoom=10))
    hub.update([row("a", 0)])
    taken(hub, city)
    step = KEEP_ALIVE.total_seconds()
    for second in (1, step / 2, step - 0.001):
        hub.update([row("a", second)])
        assert taken(hub, city) == {}
    hub.update([row("a", step)])
    assert taken(hub, city)["a"]["time"] == "2026-11-23T08:00:10.000Z"


def test_a_turn_or_another_marker_is_sent_however_small_the_move() -> None:
    hub = PositionHub("unused")
    city = hub.subscribe("/")
    city.watch(View(zoom=10))
    hub.update([row("a", 0, heading=350.0)])
    taken(hub, city)
    hub.update([row("a", 1, heading=350.0 + TURN_DEG - 0.5)])  # through north, not quite far enough
    assert taken(hub, city) == {}
    hub.update([row("a", 2, heading=(350.0 + TURN_DEG) % 360)])
    assert set(taken(hub, city)) == {"a"}
    hub.update([row("a", 3, heading=(350.0 + TURN_DEG) % 360, bus="bus-b")])  # the tracker moved to another bus
    assert taken(hub, city)["a"]["bus_id"] == "bus-b"
    hub.update([row("a", 4, heading=None, bus="bus-b")])  # the heading went: the arrow goes
    assert set(taken(hub, city)) == {"a"}


def test_zooming_in_brings_a_snapshot_of_every_newest_fix() -> None:
    hub = PositionHub("unused")
    screen = hub.subscribe("/")
    screen.watch(View(zoom=11))
    hub.update([row("a", 0), row("b", 0)])
    taken(hub, screen)
    hub.update([row("a", 1, lon=10.0 + pixels(11, 0.5))])
    assert taken(hub, screen) == {}
    screen.watch(View(zoom=16))  # the page zoomed in and said so: what it shows is exact again
    snapshot = taken(hub, screen)
    assert set(snapshot) == {"a", "b"} and snapshot["a"]["lon"] == round(10.0 + pixels(11, 0.5), 6)
    hub.update([row("a", 2, lon=10.0 + pixels(11, 0.6))])
    assert set(taken(hub, screen)) == {"a"}  # zoom 16 and over: every fix


def test_maps_at_one_level_and_one_box_share_one_encoded_message() -> None:
    hub = PositionHub("unused")
    box = (9.0, 49.0, 11.0, 51.0)
    twelve, also_twelve, finer = hub.subscribe("/"), hub.subscribe("/"), hub.subscribe("/")
    boxed, same_box = hub.subscribe("/"), hub.subscribe("/")
    twelve.watch(View(zoom=12))
    also_twelve.watch(View(zoom=11.5))  # between levels: the finer one, twelve
    finer.watch(View(zoom=13))
    boxed.watch(View(box, 12))
    same_box.watch(View(box, 12))
    hub.update([row("a", 0), row("b", 0)])
    assert hub.take(twelve) is hub.take(also_twelve) is hub.take(finer)  # a snapshot: the same at any level
    assert hub.take(boxed) is hub.take(same_box) is not None
    hub.update([row("a", 1, lon=10.0 + pixels(12, 0.7)), row("b", 1, lon=10.0 + pixels(12, 1.5))])
    first, second, third = hub.take(twelve), hub.take(also_twelve), hub.take(finer)
    assert first is second and first is not None and first is not third and third is not None
    assert '"a"' not in first and '"a"' in third
    assert hub.take(boxed) is hub.take(same_box) == first


def test_levels_of_detail() -> None:
    assert detail_level(None) is None and detail_level(15) is None and detail_level(22) is None
    assert detail_level(14.01) is None  # the finer level, and 15 shows every fix
    assert detail_level(14) == 14 and detail_level(10.2) == 11 and detail_level(0) == 0


@given(st.lists(st.tuples(st.sampled_from("abc"), st.floats(-3, 3), st.floats(-3, 3), st.integers(0, 15)),
                min_size=1, max_size=40),
       st.lists(st.booleans(), min_size=1, max_size=40), st.sampled_from([9, 11.5, 13]))
def test_a_zoomed_out_map_is_never_a_pixel_from_the_newest_fixes(moves: list[tuple[str, float, float, int]],
                                                                  takes: list[bool], zoom: float) -> None:
    # Whatever the moves (in pixels), turns and pauses, and whenever the screen takes: once it has taken, it
    # holds for each device the fix its level last sent or a newer one, and the newest fix would be drawn no
    # differently from that one (a socket that took late got the newest fix of each device that had moved).
    hub = PositionHub("unused")
    screen = hub.subscribe("/")
    screen.watch(View(zoom=zoom))
    level = detail_level(zoom)
    assert level is not None
    shown: dict[str, dict[str, Any]] = {}
    where = {device: (10.0, 50.0) for device in "abc"}
    second = 0.0
    for n, (device, east, north, pause) in enumerate(moves):
        second += 1 + pause
        lon, lat = where[device]
        where[device] = lon + pixels(level, east), lat + pixels(level, north) * 0.64
        hub.update([row(device, second, *where[device], heading=(n * 7) % 360)])
        if takes[n % len(takes)]:
            shown |= taken(hub, screen)
    shown |= taken(hub, screen)
    for device, newest in hub._latest.items():
        held = hub._streams[level].sent[device]
        assert shown[device]["time"] >= json.loads(held.encoded)[6]  # ISO 8601 in UTC: ordered as text
        assert not shows_differently(newest, held, 2.0**-level)


def test_a_watch_says_its_zoom_within_leaflets_range() -> None:
    assert read_client_message('{"type": "watch", "zoom": 11}') == Watch(type="watch", zoom=11.0)
    old, zoomed = read_client_message('{"type": "watch"}'), read_client_message('{"type": "watch", "zoom": 12.5}')
    assert isinstance(old, Watch) and isinstance(zoomed, Watch)
    assert old.view() == View() and zoomed.view() == View(None, 12.5)  # an old page: every fix
    for zoom, why in (("-1", "greater than or equal to 0"), ("23", "less than or equal to 22"),
                      ('"11"', "valid number"), ("true", "valid number")):
        try:
            read_client_message(f'{{"type": "watch", "zoom": {zoom}}}')
        except UnreadableMessageError as exc:
            assert str(exc).startswith("watch.zoom: ") and why in str(exc)
        else:
            raise AssertionError(f"zoom {zoom} was taken")

