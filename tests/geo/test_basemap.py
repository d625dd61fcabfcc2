"""The generated basemap: streets the buses drive on, named from their stops, and a map any site gets unasked.

The example district (Lincoln) and the example city (a Chinese prefecture) both come out of the one generator;
the checks are on what an officer would read: the route's streets are there and carry the stops' names, the
school's address street exists, no invented street runs through a campus, and everything has a name.
"""

from __future__ import annotations

import itertools
import json
from functools import cache
from pathlib import Path

import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon, shape

from domain.site import Site, load_site
from geo.basemap import Basemap, BasemapInput, CampusInput, RouteInput, StopInput, generate_basemap
from geo.basemap_clip import clip_basemap, scope_area
from geo.basemap_names import address_street, language_of, stop_streets
from geo.projection import LocalProjection

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@cache
def site(name: str) -> Site:
    return load_site(EXAMPLES / f"{name}.yaml")


@cache
def made(name: str, seed: int = 0) -> Basemap:
    return generate_basemap(site(name), seed=seed)


def streets(basemap: Basemap, detail: str | None = None) -> dict[str, list[LineString]]:
    found: dict[str, list[LineString]] = {}
    for f in basemap.features:
        if f.kind == "street" and (detail is None or f.detail == detail):
            assert isinstance(f.geometry, LineString)
            found.setdefault(f.name, []).append(f.geometry)
    return found


def metres(lon_lat: object, proj: LocalProjection) -> shapely.Geometry:
    return proj.to_metres(lon_lat)


def _unsigned(street: str) -> str:
    return street.removeprefix("N ").removeprefix("S ")


@pytest.mark.parametrize(("stop", "expected"), [
    ("A St & Franklin St", ("A St", "Franklin St")),
    ("S 48th St / Linden St", ("S 48th St", "Linden St")),
    ("人民路与解放路交叉口", ("人民路", "解放路")),
    ("文昌路站", ("文昌路",)),
    ("Antelope Park Elementary (front entrance)", ()),
    ("新河口村口", ()),
])
def test_a_stop_names_the_streets_of_its_corner(stop: str, expected: tuple[str, ...]) -> None:
    assert stop_streets(stop) == expected


@pytest.mark.parametrize(("address", "expected"), [
    ("6420 A St, Lincoln, NE", "A St"), ("1450 Pioneers Blvd, Lincoln, NE", "Pioneers Blvd"),
    ("鹤川市淇源区九州路街道文昌路124号", "文昌路"), ("Somewhere without a number", None), (None, None),
])
def test_an_address_names_the_street_in_front(address: str | None, expected: str | None) -> None:
    assert address_street(address) == expected


def test_every_stretch_a_bus_drives_is_a_street_named_from_its_stops() -> None:
    basemap = made("district")
    proj = LocalProjection(-96.65, 40.8)
    arterials = {name: shapely.union_all([metres(line, proj) for line in lines])
                 for name, lines in streets(basemap, "arterial").items()}
    for entry in site("district").iter_schools():
        for bus in entry.school.buses:
            path = bus.route.path.coordinates
            for a, b in itertools.pairwise(path):
                middle = metres(Point((a[0] + b[0]) / 2, (a[1] + b[1]) / 2), proj)
                # The street under the stretch's middle is named as most of the stops on that stretch say.
                # Within 5 m: a straight line in metres bows a metre or two off a 10 km parallel of latitude.
                under = [name for name, line in arterials.items() if line.distance(middle) < 5.0]
                assert under, (bus.id, a, b)
                stretch = metres(LineString([a, b]), proj)
                said = [part for stop in bus.route.stops if stretch.distance(metres(Point(stop.location), proj)) < 5
                        for part in stop_streets(stop.name)]
                top = max(set(said), key=said.count, default=None)
                if top is not None and said.count(top) >= 2:  # one stop alone does not say which way it faces
                    # One line may be N 70th St north of O St and S 70th St south of it: one name for both.
                    assert _unsigned(top) in {_unsigned(u) for u in under}, (bus.id, under, said)
    # The schools' addresses are streets on the map, as are the cross streets the stops name.
    names = set(streets(basemap))
    assert {"A St", "Holdrege St", "Van Dorn St", "Pioneers Blvd", "Old Cheney Rd", "O St"} <= names
    assert {"Calvert St", "Kearney St", "Franklin St"} <= names


@pytest.mark.parametrize("name", ["district", "city"])
def test_everything_is_named_and_no_invented_street_crosses_a_campus(name: str) -> None:
    basemap = made(name)
    kinds = {f.kind for f in basemap.features}
    assert kinds == {"street", "block", "park", "water", "landmark", "place"}
    assert all(f.name for f in basemap.features)
    campuses = [Polygon(e.school.campus.coordinates[0]) for e in site(name).iter_schools()]
    for f in basemap.features:
        if f.kind == "street" and f.detail == "local":
            assert not any(f.geometry.intersects(c) for c in campuses), f.name
        if f.kind == "water" and f.detail == "river":
            assert not any(f.geometry.intersects(c) for c in campuses)
    landmarks = {f.detail for f in basemap.features if f.kind == "landmark"}
    assert {"depot", "hospital", "police", "fire_station"} <= landmarks
    west, south, east, north = basemap.bounds
    assert all(west <= x <= east and south <= y <= north
               for e in site(name).iter_schools() for x, y in e.school.campus.coordinates[0])


def test_the_same_site_and_seed_give_the_same_map_and_another_seed_another() -> None:
    first = json.dumps(made("district").to_geojson())
    assert json.dumps(generate_basemap(site("district"), seed=0).to_geojson()) == first
    other = generate_basemap(site("district"), seed=7)
    assert json.dumps(other.to_geojson()) != first
    # The streets the buses drive on do not depend on the seed; what is invented around them does.
    assert set(streets(other, "arterial")) == set(streets(made("district"), "arterial"))


def test_the_geojson_is_a_feature_collection_of_valid_named_features() -> None:
    collection = made("district").to_geojson()
    assert collection["type"] == "FeatureCollection" and len(collection["bbox"]) == 4
    ids = [f["id"] for f in collection["features"]]
    assert len(ids) == len(set(ids))
    for feature in collection["features"][::25]:
        assert shape(feature["geometry"]).is_valid or feature["properties"]["kind"] == "block"
        assert set(feature["properties"]) == {"kind", "name", "rank", "detail"}


def test_a_chinese_city_gets_a_chinese_map_with_no_extra_work() -> None:
    basemap = made("city")
    assert language_of(f.name for f in basemap.features) == "zh"
    assert all(f.name for f in basemap.features)
    named = set(streets(basemap))
    addresses = {address_street(e.school.address) for e in site("city").iter_schools()} - {None}
    assert addresses and addresses <= named
    assert any(f.kind == "park" and f.name.endswith("公园") for f in basemap.features)


def test_a_school_with_no_bus_still_stands_on_its_address_street() -> None:
    given = BasemapInput(campuses=(CampusInput("第一小学", ((114.0, 35.0), (114.002, 35.0), (114.002, 35.001),
                                                         (114.0, 35.001), (114.0, 35.0)), "某市某区人民路1号"),),
                         routes=())
    basemap = generate_basemap(given, seed=3)
    assert "人民路" in streets(basemap, "arterial")
    assert all("路" in name or "街" in name or "巷" in name for name in streets(basemap))


def test_a_route_at_an_angle_turns_the_grid_with_it() -> None:
    # A route running north-east: the local streets run parallel and perpendicular to it, not north-south.
    path = ((10.0, 50.0), (10.03, 50.02))
    given = BasemapInput(campuses=(), routes=(RouteInput("R", path, (
        StopInput("Main St & First St", path[0]), StopInput("Main St & Second St", path[1])), None),))
    basemap = generate_basemap(given)
    assert "Main St" in streets(basemap, "arterial")
    proj = LocalProjection(10.015, 50.01)
    main = metres(LineString(path), proj)
    main_angle = shapely.get_coordinates(main)
    along = main_angle[1] - main_angle[0]
    for lines in streets(basemap, "local").values():
        xy = shapely.get_coordinates(metres(lines[0], proj))
        d = xy[-1] - xy[0]
        cos = abs(float(d @ along)) / (float((d @ d) ** 0.5) * float((along @ along) ** 0.5))
        assert cos < 0.01 or cos > 0.99


def test_nothing_to_draw_gives_an_empty_map() -> None:
    assert generate_basemap(BasemapInput((), ())).features == ()


def _part(name: str, school_ids: set[str]) -> BasemapInput:
    """The generator's input for some of a site's schools: what a guard or a school's head sees."""
    schools = [e.school for e in site(name).iter_schools() if e.school.id in school_ids]
    return BasemapInput(
        campuses=tuple(CampusInput(s.name, tuple(s.campus.coordinates[0]), s.address) for s in schools),
        routes=tuple(RouteInput(b.name, tuple(b.route.path.coordinates),
                                tuple(StopInput(st.name, st.location) for st in b.route.stops), b.route.depot)
                     for s in schools for b in s.buses))


def _near(basemap: Basemap, around: Polygon, metres_: float, proj: LocalProjection) -> dict[tuple[str, str], object]:
    """The streets within so many metres of a campus: (name, detail) to their union inside that reach."""
    reach = proj.to_lonlat(proj.to_metres(around).buffer(metres_))
    found: dict[tuple[str, str], list[object]] = {}
    for f in basemap.features:
        if f.kind == "street" and f.geometry.intersects(reach):
            found.setdefault((f.name, f.detail), []).append(f.geometry.intersection(reach))
    return {key: shapely.union_all(parts) for key, parts in found.items()}


@pytest.mark.parametrize("name", ["district", "city"])
def test_a_guard_and_the_district_officer_read_the_same_streets_around_the_guards_school(name: str) -> None:
    whole = made(name)
    for entry in list(site(name).iter_schools())[:3]:
        campus = Polygon(entry.school.campus.coordinates[0])
        proj = LocalProjection(campus.centroid.x, campus.centroid.y)
        guard = clip_basemap(whole, _part(name, {entry.school.id}))
        officer = _near(whole, campus, 900, proj)
        seen = _near(guard, campus, 900, proj)
        assert seen and set(seen) == set(officer), entry.school.id
        for key, geometry in seen.items():
            # The same streets, to rounding (Hausdorff: no point of either is a metre from the other).
            assert shapely.hausdorff_distance(metres(officer[key], proj), metres(geometry, proj)) < 1.0, key
        # Nothing beyond the guard's reach: no feature lies further than it from their campus and routes.
        area = scope_area(_part(name, {entry.school.id}))
        assert all(area.buffer(1e-6).contains(f.geometry) for f in guard.features)
        assert len(guard.features) < len(whole.features)


def test_a_school_added_elsewhere_renames_no_street_near_another() -> None:
    given = BasemapInput.from_site(site("district"))
    first = next(iter(site("district").iter_schools())).school
    campus = Polygon(first.campus.coordinates[0])
    proj = LocalProjection(campus.centroid.x, campus.centroid.y)
    # A new school some 15 km east of everything, with no bus: the whole site's input and digest change.
    east = max(x for c in given.campuses for x, _ in c.outline) + 0.18
    added = CampusInput("Far East Elementary", ((east, 40.8), (east + 0.003, 40.8), (east + 0.003, 40.802),
                                                (east, 40.802), (east, 40.8)), "100 Faraway Rd, Lincoln, NE")
    grown = generate_basemap(BasemapInput((*given.campuses, added), given.routes), seed=0)
    before, after = _near(made("district"), campus, 900, proj), _near(grown, campus, 900, proj)
    assert before and set(before) == set(after)
    for key, geometry in before.items():
        assert shapely.hausdorff_distance(metres(after[key], proj), metres(geometry, proj)) < 1.0, key
