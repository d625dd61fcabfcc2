"""Classes and their bus rosters in the caller's scope: a head teacher's own class, a school's or a county's all.

A head teacher (班主任) is scoped to their class: this is where they see the buses their pupils ride and where
each one is, without seeing the rest of the school.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from command_ui.deps import ConnDep, CurrentUser
from store import class_repo

router = APIRouter(prefix="/api/v1", tags=["classes"])


class RosterBusOut(BaseModel):
    """A bus on a class's roster and its newest fix."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    plate: str | None
    last_fix: datetime | None
    lon: float | None
    lat: float | None


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


@router.get("/classes")
def list_classes(conn: ConnDep, user: CurrentUser) -> list[ClassOut]:
    """Classes under the caller's scope with their bus rosters (a head teacher: their own class only)."""
    return [ClassOut(id=c.id, name=c.name, school_id=c.school_id, school_name=c.school_name,
                     timezone=c.timezone, head_teacher_id=c.head_teacher_id, head_teacher_name=c.head_teacher_name,
                     buses=[RosterBusOut(id=b.id, name=b.name, plate=b.plate, last_fix=b.last_fix, lon=b.lon,
                                         lat=b.lat) for b in c.buses])
            for c in class_repo.classes(conn, user.scope_path)]
