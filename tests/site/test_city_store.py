"""Loading the example city into PostgreSQL: classes as units, enrolment, rosters replaced as the file changes."""

from __future__ import annotations

from pathlib import Path

import psycopg

from command_ui.routers.auth import HASHER
from domain.site import Site, Tracker, load_site
from store.config import RetentionSettings, StorageBackend
from store.migrate import migrate
from store.site_repo import load_site as store_site
from tests.command_ui.district import PASSWORD, api, sign_in

CITY = Path(__file__).resolve().parents[2] / "examples" / "city.yaml"
SCHOOL = "wangzhuang-zxxx"


def edit_first_class(site: Site, **changes: object) -> Site:
    """A copy of the site whose first class of SCHOOL has ``changes`` (a frozen tree is rebuilt, not mutated)."""
    county = next(u for u in site.organisation.units if u.id == "junchuan")
    town = next(u for u in county.units if u.id == "wangzhuang")
    school = next(s for s in town.schools if s.id == SCHOOL)
    first = school.classes[0].model_copy(update=changes)
    school = school.model_copy(update={"classes": (first, *school.classes[1:])})
    town = town.model_copy(update={"schools": tuple(school if s.id == SCHOOL else s for s in town.schools)})
    county = county.model_copy(update={"units": tuple(town if u.id == town.id else u for u in county.units)})
    root = site.organisation.model_copy(
        update={"units": tuple(county if u.id == county.id else u for u in site.organisation.units)})
    return site.model_copy(update={"organisation": root})


def test_rosters_and_a_head_teachers_phone_follow_the_file(fresh_database_url: str) -> None:
    site = load_site(CITY)
    with psycopg.connect(fresh_database_url) as conn:
        migrate(conn, StorageBackend.AUTO, RetentionSettings())
        first = store_site(conn, site)
        assert first.tables["class_buses"].inserted == sum(len(c.buses) for e in site.iter_schools()
                                                           for c in e.school.classes)
        teacher = next(e.school.classes[0].head_teacher for e in site.iter_schools() if e.school.id == SCHOOL)
        with_phone = teacher.model_copy(update={"tracker": Tracker(id="teacher-phone", source="owntracks",
                                                                   external_id="teacher/phone")})
        changed = edit_first_class(site, buses=(), head_teacher=with_phone)
        second = store_site(conn, changed)
        assert (second.tables["class_buses"].retired, second.tables["class_buses"].inserted) == (1, 0)
        assert conn.execute("SELECT count(*) FROM class_buses WHERE class_id = %s",
                            (f"{SCHOOL}-c1",)).fetchone() == (0,)
        # A head teacher's phone belongs to the school of their class, so the school's scope covers it.
        assert conn.execute("SELECT school_id, user_id FROM devices WHERE id = 'teacher-phone'").fetchone() == (
            SCHOOL, teacher.id)
        assert conn.execute("SELECT role, scope_id, locale FROM users WHERE id = %s", (teacher.id,)).fetchone() == (
            "head_teacher", f"{SCHOOL}-c1", "zh-CN")
        third = store_site(conn, site)
        assert third.tables["class_buses"].inserted == 1


def test_a_class_removed_from_the_file_leaves_the_class_list(fresh_database_url: str, tmp_path: Path) -> None:
    """Load the city, drop a class from the file, reload: it is gone from /api/v1/classes; put back, it returns."""
    site = load_site(CITY)
    removed = f"{SCHOOL}-c1"
    with psycopg.connect(fresh_database_url) as conn:
        migrate(conn, StorageBackend.AUTO, RetentionSettings())
        store_site(conn, site)
        conn.execute("UPDATE users SET password_hash = %s", (HASHER.hash(PASSWORD),))
        conn.commit()
    officer = next(p.id for p, at in site.iter_people() if p.role == "district_admin" and at == "hechuan")
    with api(fresh_database_url, tmp_path) as client:
        def listed() -> set[str]:
            answer = client.get("/api/v1/classes", headers=sign_in(client, officer))
            assert answer.status_code == 200, answer.text
            return {c["id"] for c in answer.json()}

        before = listed()
        assert removed in before
        with psycopg.connect(fresh_database_url) as conn:
            report = store_site(conn, without_first_class(site))
            assert report.tables["classes"].retired == 1
        assert listed() == before - {removed}
        with psycopg.connect(fresh_database_url) as conn:
            assert store_site(conn, site).tables["classes"].updated == 1  # back in the file, back in the list
        assert listed() == before


def without_first_class(site: Site) -> Site:
    """A copy of the site whose SCHOOL has lost its first class (and so that class's head teacher)."""
    county = next(u for u in site.organisation.units if u.id == "junchuan")
    town = next(u for u in county.units if u.id == "wangzhuang")
    school = next(s for s in town.schools if s.id == SCHOOL)
    school = school.model_copy(update={"classes": school.classes[1:]})
    town = town.model_copy(update={"schools": tuple(school if s.id == SCHOOL else s for s in town.schools)})
    county = county.model_copy(update={"units": tuple(town if u.id == town.id else u for u in county.units)})
    root = site.organisation.model_copy(
        update={"units": tuple(county if u.id == county.id else u for u in site.organisation.units)})
    return site.model_copy(update={"organisation": root})


def test_the_children_on_each_bus_follow_the_file(fresh_database_url: str) -> None:
    """Per-child rosters: loaded with their stops and trips; a child gone, a stop moved, a child added."""
    site = load_site(CITY)
    first_class = next(e.school.classes[0] for e in site.iter_schools() if e.school.id == SCHOOL)
    riders = first_class.riders
    assert riders and all(r.bus in first_class.buses for r in riders)
    with psycopg.connect(fresh_database_url) as conn:
        migrate(conn, StorageBackend.AUTO, RetentionSettings())
        loaded = store_site(conn, site)
        everyone = sum(len(c.riders) for e in site.iter_schools() for c in e.school.classes)
        assert loaded.tables["class_riders"].inserted == everyone > 0
        moved = riders[1].model_copy(update={"stop": riders[0].stop if riders[0].stop != riders[1].stop
                                             else None, "morning": False})
        added = riders[0].model_copy(update={"pupil": "新同学"})
        changed = store_site(conn, edit_first_class(site, riders=(moved, *riders[2:], added)))
        counts = changed.tables["class_riders"]
        assert (counts.retired, counts.updated, counts.inserted) == (1, 1, 1)
        held = conn.execute("SELECT pupil, stop_id, morning, afternoon FROM class_riders WHERE class_id = %s"
                            " ORDER BY pupil", (first_class.id,)).fetchall()
    expected = sorted((r.pupil, r.stop, r.morning, r.afternoon) for r in (moved, *riders[2:], added))
    assert held == expected
