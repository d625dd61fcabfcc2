"""Patrol checkpoints and plans in the site file: what validates, what is refused and where, and how they load.

:func:`with_patrols` is the example district with checkpoints and a plan at one school; the API, alert and page
tests of patrols load it.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import yaml

from domain.site import OrgUnit, Site, check_site, load_site
from domain.site.patrols import Checkpoint, PatrolPlan
from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate
from store.site_repo import load_site as store_site

DISTRICT = Path(__file__).resolve().parents[2] / "examples" / "district.yaml"
SCHOOL = "antelope-park-es"
GATE = (-96.6905, 40.8005)
"""Where the gate checkpoint's code hangs; a scan counts within 50 m of it."""
CHECKPOINTS = (
    Checkpoint(id="ap-gate", name="Main gate", location=GATE, radius_m=50.0),
    Checkpoint(id="ap-boiler", name="Boiler room <b>door</b>"),  # markup in a name must show as text
)
PLAN = PatrolPlan(every_hours=4, grace_min=60, min_rounds=5)


def with_patrols(site: Site, school_id: str = SCHOOL, plan: PatrolPlan = PLAN) -> Site:
    """Return the site with :data:`CHECKPOINTS` and ``plan`` at ``school_id`` and no patrols anywhere else.

    The example district gives every school its own checkpoints and plan; these tests count, scan and miss
    against one school's known two, so the others' are taken away (a frozen tree is rebuilt).
    """
    def unit(u: OrgUnit) -> OrgUnit:
        schools = tuple(s.model_copy(update={"checkpoints": CHECKPOINTS, "patrol": plan}) if s.id == school_id
                        else s.model_copy(update={"checkpoints": (), "patrol": None}) for s in u.schools)
        return u.model_copy(update={"schools": schools, "units": tuple(unit(c) for c in u.units)})
    return site.model_copy(update={"organisation": unit(site.organisation)})


def district_with_patrols() -> Site:
    """Return the example district with patrols at :data:`SCHOOL`."""
    return with_patrols(load_site(DISTRICT))


def _school_text(patrol: dict[str, object], checkpoints: list[dict[str, object]]) -> str:
    data = yaml.safe_load(DISTRICT.read_text())
    school = data["organisation"]["schools"][0] if data["organisation"].get("schools") else None
    if school is None:
        school = next(s for u in data["organisation"]["units"] for s in u.get("schools", ()))
    school["checkpoints"] = checkpoints
    school["patrol"] = patrol
    return yaml.safe_dump(data, allow_unicode=True)


def test_a_plan_with_checkpoints_validates_and_round_times_follow_it() -> None:
    site = district_with_patrols()
    school = next(e.school for e in site.iter_schools() if e.school.id == SCHOOL)
    assert school.patrol is not None
    assert [f"{t:%H:%M}" for t in school.patrol.times()] == ["00:00", "04:00", "08:00", "12:00", "16:00", "20:00"]


def test_a_plan_visiting_an_unknown_checkpoint_is_refused_at_its_path() -> None:
    text = _school_text({"at": ["06:00", "09:00", "12:00", "15:00", "18:00"], "checkpoints": ["nowhere"]},
                        [{"id": "cp-1", "name": "Gate"}])
    site, errors = check_site(text, "district.yaml")
    assert site is None
    assert any("unknown checkpoints: nowhere" in e.message and e.path.endswith("patrol") for e in errors), errors


def test_too_few_rounds_and_a_radius_without_a_place_are_refused() -> None:
    text = _school_text({"at": ["06:00", "18:00"]}, [{"id": "cp-1", "name": "Gate", "radius_m": 30}])
    _, errors = check_site(text, "district.yaml")
    messages = " ".join(e.message for e in errors)
    assert "fewer than min_rounds (5)" in messages
    assert "radius_m needs a location" in messages


def test_a_checkpoint_id_shares_the_one_namespace() -> None:
    text = _school_text({"every_hours": 3}, [{"id": "pioneers-hs", "name": "Gate"}])
    _, errors = check_site(text, "district.yaml")
    assert any("pioneers-hs" in e.message for e in errors), errors


def test_loading_keeps_a_rotated_key_and_retires_a_removed_checkpoint(fresh_database_url: str) -> None:
    site = district_with_patrols()
    with psycopg.connect(fresh_database_url) as conn:
        migrate(conn, StorageBackend.AUTO, RetentionSettings())
        first = store_site(conn, site)
        assert first.tables["patrol_checkpoints"].inserted == 2
        assert first.tables["patrol_plans"].inserted == 1
        conn.execute("UPDATE patrol_checkpoints SET key_version = 3 WHERE id = 'ap-gate'")
        assert not store_site(conn, site).changed  # loading the same file twice changes nothing
        trimmed = site.model_copy(update={"organisation": _without_boiler(site)})
        again = store_site(conn, trimmed)
        assert again.tables["patrol_checkpoints"].retired == 1
        assert conn.execute("SELECT id, key_version, active FROM patrol_checkpoints ORDER BY id").fetchall() == [
            ("ap-boiler", 1, False), ("ap-gate", 3, True)]


def _without_boiler(site: Site) -> OrgUnit:
    def unit(u: OrgUnit) -> OrgUnit:
        schools = tuple(s.model_copy(update={"checkpoints": tuple(c for c in s.checkpoints if c.id != "ap-boiler")})
                        for s in u.schools)
        return u.model_copy(update={"schools": schools, "units": tuple(unit(c) for c in u.units)})
    return unit(site.organisation)
