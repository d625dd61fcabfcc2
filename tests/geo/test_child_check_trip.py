"""The child-check rule takes a confirmation for the trip it names only (the class page names the trip it showed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.messages import Position
from geo.rules.child_check import ChildCheckConfirmation, ChildCheckState, confirm_child_check

BACK = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
ARRIVED = Position("bus-1-gps", BACK, BACK, 114.6, 35.6, "jt808")
OWED = ChildCheckState("awaiting", ARRIVED, BACK + timedelta(minutes=10))


def test_a_confirmation_of_another_trip_completes_nothing() -> None:
    earlier = ChildCheckConfirmation("bus-1", BACK + timedelta(minutes=2), "he-juan", BACK - timedelta(hours=4))
    assert confirm_child_check(OWED, earlier, "bus-1") == (OWED, [])


def test_a_confirmation_of_this_trip_or_a_button_press_completes_it() -> None:
    for pressed in (ChildCheckConfirmation("bus-1", BACK + timedelta(minutes=2), "he-juan", BACK),
                    ChildCheckConfirmation("bus-1", BACK + timedelta(minutes=2))):
        state, [done] = confirm_child_check(OWED, pressed, "bus-1")
        assert state.phase == "done" and done.person_id == pressed.person_id and not done.late
