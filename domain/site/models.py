"""The site file's models: an organisation tree of units and schools, with their devices and people.

One YAML file describes a whole deployment. Everything in it has a :data:`Slug` id, and all ids share one
namespace (checked in ``validate.py`` together with other rules that span the tree). Times of day are local
wall-clock times in the school's timezone; positions are WGS-84 ``[lon, lat]``.

The building blocks (``common``), geometry (``geometry``) and devices (``devices``) live in their own
modules and are re-exported here, so ``domain.site.models`` names every model of the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from domain.site.common import Frozen, SchoolHours, Slug, Source, WallTime, Weekday
from domain.site.devices import Camera, CameraZone, PanicButton, Sensor, Tracker
from domain.site.geometry import GeoPoint, LineString, Polygon, located_error
from domain.site.patrols import Checkpoint, PatrolPlan, check_school_patrols

__all__ = [
    "CLASS_ROLES",
    "SCHOOL_ROLES",
    "Bus",
    "BusStop",
    "Camera",
    "CameraZone",
    "GeoPoint",
    "LineString",
    "OrgUnit",
    "PanicButton",
    "Person",
    "PersonEntry",
    "Polygon",
    "Role",
    "Route",
    "School",
    "SchoolClass",
    "SchoolEntry",
    "SchoolHours",
    "SchoolStage",
    "Sensor",
    "Site",
    "Slug",
    "Source",
    "Tracker",
    "UnitEntry",
    "WallTime",
    "Weekday",
]


class BusStop(Frozen):
    """A stop on a route with its scheduled local time."""

    id: Annotated[Slug, Field(description="Stop id.")]
    name: Annotated[str, Field(min_length=1, description="What riders call the stop.")]
    location: Annotated[GeoPoint, Field(description="[lon, lat] of the stop, on the route.")]
    scheduled: Annotated[WallTime, Field(description='Scheduled local time, "HH:MM".')]


class Route(Frozen):
    """The path a bus drives, its corridor and its stops in order."""

    path: Annotated[LineString, Field(description="The road path from first stop to school.")]
    corridor_m: Annotated[
        float, Field(gt=0, le=2000, description="Half-width in metres beyond which the bus is off route.")
    ] = 50.0
    speed_limit_kmh: Annotated[int, Field(ge=5, le=130, description="Speed limit along the route.")] = 50
    stops: Annotated[tuple[BusStop, ...], Field(min_length=1, description="Stops in driving order.")]
    depot: Annotated[GeoPoint | None, Field(description="[lon, lat] where the bus is parked overnight.")] = None

    @field_validator("stops")
    @classmethod
    def _increasing(cls, stops: tuple[BusStop, ...]) -> tuple[BusStop, ...]:
        for index in range(1, len(stops)):
            before, here = stops[index - 1].scheduled, stops[index].scheduled
            if here <= before:
                raise located_error(
                    f"stop times must increase along the route ({here:%H:%M} is not after {before:%H:%M})",
                    index,
                    "scheduled",
                )
        return stops


class Bus(Frozen):
    """A school bus: its trackers and its route."""

    id: Annotated[Slug, Field(description="Bus id.")]
    name: Annotated[str, Field(min_length=1, description="Name shown on the map, e.g. the route number.")]
    plate: Annotated[str | None, Field(description="Licence plate.")] = None
    capacity: Annotated[int | None, Field(ge=1, le=200, description="Seats.")] = None
    trackers: Annotated[tuple[Tracker, ...], Field(min_length=1, description="Position sources on board.")]
    route: Annotated[Route, Field(description="The route it drives.")]
    service_windows: Annotated[
        tuple[SchoolHours, ...], Field(description="When it is in service; outside them no route alerts.")
    ] = ()


Role = Literal["guard", "school_admin", "head_teacher", "district_officer", "district_admin", "auditor"]
"""What a person may do; where they sit in the tree says what they see (their subtree).

The names are capability classes, not titles: a city bureau's officer is a ``district_admin`` at the city, a
county's (or district's, or functional zone's) officer a ``district_officer`` at the county, a township centre
school's admin a ``district_officer`` at the township; ``school_admin`` and ``guard`` sit at a school, a
``head_teacher`` (班主任) at a class; an ``auditor`` reads wherever they sit.
"""
SCHOOL_ROLES: frozenset[str] = frozenset({"guard", "school_admin"})
"""Roles that belong under a school; every other role but a class's belongs under an organisational unit."""
CLASS_ROLES: frozenset[str] = frozenset({"head_teacher"})
"""Roles that belong to one class of a school (its head teacher, 班主任): their scope is the class."""

Level = Literal["unit", "school", "class"]
_PLACE: dict[Level, str] = {"unit": "an organisational unit (city, county, township)", "school": "a school",
                            "class": "a class of a school (its head_teacher)"}


class Person(Frozen):
    """Someone who signs in or is alerted, with an optional phone tracker."""

    id: Annotated[Slug, Field(description="Person id, also their login name.")]
    name: Annotated[str, Field(min_length=1, description="Full name.")]
    role: Annotated[Role, Field(description="What they may see and do.")]
    email: Annotated[str | None, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", description="Email for alerts.")] = None
    phone: Annotated[
        str | None, Field(pattern=r"^\+[0-9][0-9 ()-]{5,24}$", description="Phone in international form.")
    ] = None
    locale: Annotated[Literal["en", "zh-CN"], Field(description="Language of their screens and alerts.")] = "en"
    tracker: Annotated[Tracker | None, Field(description="Their phone as a position source.")] = None


def _level_of(role: str) -> Level:
    return "school" if role in SCHOOL_ROLES else "class" if role in CLASS_ROLES else "unit"


def _check_role(person: Person, level: Level, *loc: str | int) -> None:
    # Where a person sits is their scope, so a role in the wrong place would see too much or too little.
    if (belongs := _level_of(person.role)) != level:
        raise located_error(f"a {person.role} belongs under {_PLACE[belongs]}, not under {_PLACE[level]}",
                            *loc, "role")


def _check_roles(people: tuple[Person, ...], *, school: bool) -> tuple[Person, ...]:
    for index, person in enumerate(people):
        _check_role(person, "school" if school else "unit", index)
    return people


class RestrictedArea(Frozen):
    """A part of the campus nobody should be in (a roof, a boiler yard); entering it is a geofence event."""

    id: Annotated[Slug, Field(description="Area id.")]
    name: Annotated[str, Field(min_length=1, description="Name shown with alerts.")]
    polygon: Annotated[Polygon, Field(description="The area as a GeoJSON Polygon.")]


SchoolStage = Literal["kindergarten", "primary", "middle", "nine_year", "high", "vocational"]
"""What a school teaches: 幼儿园, 小学, 初中, 九年一贯制, 高中, 职业学校."""


class Rider(Frozen):
    """A child of a class who rides one of its buses (乘车学生): whom the head teacher counts off the bus."""

    pupil: Annotated[str, Field(min_length=1, max_length=100,
                                description="The child's name, as the class knows it.")]
    bus: Annotated[Slug, Field(description="The bus they ride: one of the class's buses.")]
    stop: Annotated[Slug | None, Field(description="Where they get on and off (a stop of the bus's route).")] = None
    morning: Annotated[bool, Field(description="Rides the morning trip to school.")] = True
    afternoon: Annotated[bool, Field(description="Rides the afternoon trip home.")] = True

    @model_validator(mode="after")
    def _rides(self) -> Rider:
        if not (self.morning or self.afternoon):
            raise ValueError(f"{self.pupil} rides neither trip: set morning or afternoon")
        return self


class SchoolClass(Frozen):
    """A class of a school (班级) with its head teacher, the fifth level of the tree."""

    id: Annotated[Slug, Field(description="Class id, unique in the whole file like every id.")]
    name: Annotated[str, Field(min_length=1, description='Class name, e.g. "三年级二班".')]
    head_teacher: Annotated[Person, Field(description="The head teacher (班主任), role head_teacher; their "
                                                      "scope is this class.")]
    pupils: Annotated[int | None, Field(ge=1, le=200, description="Pupils in the class.")] = None
    buses: Annotated[tuple[Slug, ...], Field(description="Ids of the school's buses its pupils ride (the bus "
                                                         "roster the head teacher follows).")] = ()
    riders: Annotated[tuple[Rider, ...], Field(description="The children who ride the class's buses, each with "
                                                           "their bus and stop (per-child rosters).")] = ()

    @model_validator(mode="after")
    def _riders_ride_the_class_buses(self) -> SchoolClass:
        for rider in self.riders:
            if rider.bus not in self.buses:
                raise ValueError(f"{rider.pupil} rides {rider.bus}, which is not one of the class's buses")
        names = [(r.bus, r.pupil) for r in self.riders]
        if len(names) != len(set(names)):
            raise ValueError("a child is listed twice on the same bus")
        return self

    @field_validator("head_teacher")
    @classmethod
    def _teacher(cls, person: Person) -> Person:
        _check_role(person, "class")
        return person


class School(Frozen):
    """A school: its campus, hours and everything on or serving it."""

    id: Annotated[Slug, Field(description="School id.")]
    name: Annotated[str, Field(min_length=1, description="School name.")]
    timezone: Annotated[str, Field(description='IANA timezone, e.g. "America/Chicago".')]
    campus: Annotated[Polygon, Field(description="Campus outline as a GeoJSON Polygon.")]
    address: Annotated[str | None, Field(description="Street address.")] = None
    stage: Annotated[SchoolStage | None, Field(description="What the school teaches, kindergarten to high.")] = None
    pupils: Annotated[
        int | None,
        Field(ge=1, le=20000, description="Pupils enrolled; decides how many guards GB/T 29315 asks for."),
    ] = None
    boarding: Annotated[bool, Field(description="Pupils sleep at school (寄宿制): dormitories are watched.")] = False
    hours: Annotated[tuple[SchoolHours, ...], Field(min_length=1, description="Weekly school hours.")]
    school_zone_speed_kmh: Annotated[int, Field(ge=5, le=80, description="Speed limit near the campus.")] = 30
    buses: Annotated[tuple[Bus, ...], Field(description="Buses serving the school.")] = ()
    panic_buttons: Annotated[tuple[PanicButton, ...], Field(description="Panic buttons.")] = ()
    cameras: Annotated[tuple[Camera, ...], Field(description="Cameras.")] = ()
    sensors: Annotated[tuple[Sensor, ...], Field(description="Sensors.")] = ()
    restricted_areas: Annotated[
        tuple[RestrictedArea, ...], Field(description="Restricted areas on or near the campus (geofences).")
    ] = ()
    people: Annotated[tuple[Person, ...], Field(description="Guards and school admins.")] = ()
    classes: Annotated[tuple[SchoolClass, ...], Field(description="Classes with their head teachers.")] = ()
    checkpoints: Annotated[tuple[Checkpoint, ...], Field(description="Patrol checkpoints (QR codes, NFC tags).")] = ()
    patrol: Annotated[PatrolPlan | None, Field(description="The guards' patrol rounds; none: no plan.")] = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError("site_rule", f"unknown timezone {name!r} (use an IANA name)") from None
        return name

    @field_validator("people")
    @classmethod
    def _school_roles(cls, people: tuple[Person, ...]) -> tuple[Person, ...]:
        return _check_roles(people, school=True)

    @model_validator(mode="after")
    def _patrols(self) -> School:
        try:
            check_school_patrols(self.checkpoints, self.patrol)
        except ValueError as bad:
            raise located_error(str(bad), "patrol") from None
        return self

    def zone(self) -> ZoneInfo:
        """Return the school's timezone."""
        return ZoneInfo(self.timezone)


class OrgUnit(Frozen):
    """A unit of the organisation (city, district, county, ...) holding sub-units, schools and staff."""

    id: Annotated[Slug, Field(description="Unit id.")]
    kind: Annotated[
        str,
        Field(pattern=r"^[a-z][a-z -]*$", description="What sort of unit, lowercase: city, district, ..."),
    ]
    name: Annotated[str, Field(min_length=1, description="Unit name.")]
    units: Annotated[tuple[OrgUnit, ...], Field(description="Sub-units.")] = ()
    schools: Annotated[tuple[School, ...], Field(description="Schools directly under this unit.")] = ()
    people: Annotated[tuple[Person, ...], Field(description="District officers, admins and auditors.")] = ()

    @field_validator("people")
    @classmethod
    def _unit_roles(cls, people: tuple[Person, ...]) -> tuple[Person, ...]:
        return _check_roles(people, school=False)


class UnitEntry(NamedTuple):
    """A unit with its parent's id (none for the root) and its depth (0 for the root)."""

    unit: OrgUnit
    parent_id: str | None
    depth: int


class SchoolEntry(NamedTuple):
    """A school with the id of the unit it sits directly under."""

    school: School
    unit_id: str


class PersonEntry(NamedTuple):
    """A person with the id of the unit, school or class they belong to."""

    person: Person
    scope_id: str


class Site(Frozen):
    """The whole site file."""

    version: Annotated[Literal[1], Field(description="Site file format version.")]
    organisation: Annotated[OrgUnit, Field(description="The root unit of the organisation.")]

    def iter_units(self) -> Iterator[UnitEntry]:
        """Yield every unit, parents before children (depth first)."""
        stack: list[UnitEntry] = [UnitEntry(self.organisation, None, 0)]
        while stack:
            entry = stack.pop()
            yield entry
            stack.extend(UnitEntry(u, entry.unit.id, entry.depth + 1) for u in reversed(entry.unit.units))

    def iter_schools(self) -> Iterator[SchoolEntry]:
        """Yield every school with its unit's id."""
        for entry in self.iter_units():
            for school in entry.unit.schools:
                yield SchoolEntry(school, entry.unit.id)

    def iter_people(self) -> Iterator[PersonEntry]:
        """Yield every person with the id of the unit, school or class they belong to."""
        for entry in self.iter_units():
            yield from (PersonEntry(p, entry.unit.id) for p in entry.unit.people)
            for school in entry.unit.schools:
                yield from (PersonEntry(p, school.id) for p in school.people)
                yield from (PersonEntry(c.head_teacher, c.id) for c in school.classes)
