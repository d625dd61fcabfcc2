"""The geo service's I/O: fences drawn through the store reach the rules, and events are named for storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from domain.messages import Position
from geo.events import FenceEntered
from geo.service import build_engine, stored
from store import queries
from tests.support.ingest import EXAMPLE, ingest_settings, prepare_database

SQUARE = {"type": "Polygon", "coordinates": [[[-96.6895, 40.8005], [-96.6890, 40.8005], [-96.6890, 40.8009],
                                              [-96.6895, 40.8009], [-96.6895, 40.8005]]]}


def test_a_fence_drawn_in_the_store_raises_entry_events(fresh_database_url: str, tmp_path: Path) -> None:
    prepare_database(fresh_database_url)
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        queries.save_geofence(conn, {"id": "roof-access", "school_id": "antelope-park-es", "kind": "restricted",
                                     "name": "Roof access", "geometry": SQUARE, "speed_limit_kmh": None})
    settings = ingest_settings(fresh_database_url, "mqtt://127.0.0.1:1", tmp_path).model_copy(
        update={"site_file": EXAMPLE})
    engine = build_engine(settings)
    state = engine.new_state("leah-wang-phone")
    start = datetime.now(UTC)
    events = []
    for second in range(0, 60, 5):  # a guard's phone standing on the roof for a minute
        fix = Position("leah-wang-phone", start + timedelta(seconds=second), start, -96.68925, 40.8007, "owntracks")
        state, found = engine.evaluate(state, fix)
        events += found
    entered = [e for e in events if isinstance(e, FenceEntered)]
    # The roof is on the campus, so the campus and its school zone are entered too.
    assert {e.fence_id for e in entered} == {"roof-access", "antelope-park-es/campus", "antelope-park-es/zone"}
    assert all(stored(e, e.position.device_id, start).kind == "geo.fence_entered" for e in entered)
