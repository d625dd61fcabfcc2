"""Classes and their bus rosters in the caller's scope: a head teacher's own class, a school's or a county's all.

A head teacher (班主任) is scoped to their class: this is where they see the buses their pupils ride, where each
one is and which of the class's children ride it, without seeing the rest of the school. Once a bus's trip has
ended at its depot, the head teacher (or the school's admin) confirms here that all the class's children got off
(下车清点): the same end-of-route check the driver's button confirms. The confirmation is stored
(store/child_check_repo.py), audited, and read from there by the geo stage, whose rule it satisfies like a press.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from command_ui.deps import ConnDep, CurrentUser, User, require
from domain.audit import AuditRecord
from store import audit_repo, child_check_repo, class_repo

router = APIRouter(prefix="/api/v1", tags=["classes"])

# Who counts a class's children off a bus: its head teacher, the school's admin (a class without its teacher
# that day), and the built-in admin. Officers above a school read the outcome; they were not at the bus.
CONFIRM_CHILD_CHECK = frozenset({"head_teacher", "school_admin", "admin"})
ChildChecker = Annotated[User, Depends(require(CONFIRM_CHILD_CHECK, "confirm a bus's child check"))]


class RiderOut(BaseModel):
    """A child of the class on this bus: their stop, and whether they ride the morning and afternoon runs."""

    model_config = ConfigDict(frozen=True)

    pupil: str
    stop_name: str | None
    morning: bool
    afternoon: bool


class ConfirmationOut(BaseModel):
    """The class's confirmation that all its children got off the bus after the trip that ended at ``arrived_at``."""

    model_config = ConfigDict(frozen=True)

    arrived_at: datetime
    person_id: str
    person_name: str | None
    pupils: int | None
    confirmed_at: datetime


class TripOut(BaseModel):
    """The bus's newest trip that ended at its depot, and its child check: owed, missed, or done (by whom)."""

    model_config = ConfigDict(frozen=True)

    arrived_at: datetime
    deadline: datetime | None
    done_at: datetime | None
    done_by: str | None
    missed: bool
    waiting_for: int = Field(0, description="Classes riding the bus that have not confirmed this trip yet: the "
                                            "teachers' confirmations complete the bus's check when none is left.")


class RosterBusOut(BaseModel):
    """A bus on a class's roster: its newest fix, the class's riders on it, and its last trip's child check."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    plate: str | None
    last_fix: datetime | None
    lon: float | None
    lat: float | None
    riders: list[RiderOut]
    trip: TripOut | None
    confirmation: ConfirmationOut | None


class ClassOut(BaseModel):
    """A class, its school (and the school's timezone, that times are shown in), its head teacher, its buses."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    school_id: str
    school_name: str
    timezone: str
    head_teacher_id: str | None
    head_teacher_name: str | None
    buses: list[RosterBusOut]


class ChildCheckIn(BaseModel):
    """Which trip the confirmation is for: the arrival the page showed (a newer trip is not confirmed by it)."""

    model_config = ConfigDict(extra="forbid")

    arrived_at: Annotated[datetime, Field(description="The trip's arrival at the depot, as GET /classes gave it.")]


class ChildCheckOut(ConfirmationOut):
    """The confirmation stored; ``created`` is false when the class had already given it (nothing changed)."""

    bus_id: str
    class_id: str
    created: bool


def _confirmation(c: child_check_repo.Confirmation | None) -> ConfirmationOut | None:
    return None if c is None else ConfirmationOut(arrived_at=c.arrived_at, person_id=c.person_id,
                                                  person_name=c.person_name, pupils=c.pupils,
                                                  confirmed_at=c.confirmed_at)


def _bus(b: class_repo.RosterBus) -> RosterBusOut:
    trip = None if b.trip is None else TripOut(arrived_at=b.trip.arrived_at, deadline=b.trip.deadline,
                                               done_at=b.trip.done_at, done_by=b.trip.done_by, missed=b.trip.missed,
                                               waiting_for=b.trip.waiting)
    return RosterBusOut(id=b.id, name=b.name, plate=b.plate, last_fix=b.last_fix, lon=b.lon, lat=b.lat,
                        riders=[RiderOut(pupil=r.pupil, stop_name=r.stop_name, morning=r.morning,
                                         afternoon=r.afternoon) for r in b.riders],
                        trip=trip, confirmation=_confirmation(b.confirmation))


@router.get("/classes")
def list_classes(conn: ConnDep, user: CurrentUser) -> list[ClassOut]:
    """Classes under the caller's scope with their bus rosters (a head teacher: their own class only)."""
    return [ClassOut(id=c.id, name=c.name, school_id=c.school_id, school_name=c.school_name,
                     timezone=c.timezone, head_teacher_id=c.head_teacher_id, head_teacher_name=c.head_teacher_name,
                     buses=[_bus(b) for b in c.buses])
            for c in class_repo.classes(conn, user.scope_path)]


@router.post("/classes/{class_id}/buses/{bus_id}/child-check")
def confirm_child_check(class_id: str, bus_id: str, body: ChildCheckIn, conn: ConnDep,
                        user: ChildChecker) -> ChildCheckOut:
    """Confirm that all the class's children got off the bus after its trip; audited, once per bus, trip and class.

    404 for a class outside the caller's scope or a bus not on its roster (the same answer: nothing about another
    class is told); 409 ``class.child_check.no_trip`` before the bus has ended a trip, ``stale_trip`` when the
    trip named is not its newest (a newer trip ended since the page was drawn: it needs its own check).
    """
    found = class_repo.class_bus(conn, class_id, bus_id)
    if found is None or not user.sees(found.class_path):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no bus {bus_id!r} on a class {class_id!r} of yours")
    trip = child_check_repo.trip_ends(conn, [bus_id]).get(bus_id)
    if trip is None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="class.child_check.no_trip")
    if trip.arrived_at != body.arrived_at:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="class.child_check.stale_trip")
    now = datetime.now(UTC)
    with conn.transaction():
        given, created = child_check_repo.confirm(conn, trip, class_id, user.id, found.riders, now)
        if created:
            # Target the bus's tracker: the record is scoped to the bus's school like the check's own events.
            audit_repo.append(conn, AuditRecord(now, user.id, "class.child_check", f"device:{trip.device_id}", {
                "bus_id": bus_id, "class_id": class_id, "school_id": found.school_id,
                "arrived_at": trip.arrived_at.isoformat(), "pupils": found.riders}))
    out = _confirmation(given)
    assert out is not None  # confirm returns the stored row
    return ChildCheckOut(**out.model_dump(), bus_id=bus_id, class_id=class_id, created=created)
