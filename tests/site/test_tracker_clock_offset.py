"""A tracker's clock offset in the site file: GT06 units set to local time say so; nothing else may."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.site.devices import Tracker


def test_a_gt06_tracker_may_run_on_beijing_time_and_defaults_to_utc() -> None:
    assert Tracker(id="bus-07-gt06", source="gt06", external_id="868130040000007").clock_offset_min == 0
    beijing = Tracker(id="bus-07-gt06", source="gt06", external_id="868130040000007", clock_offset_min=480)
    assert beijing.clock_offset_min == 480


@pytest.mark.parametrize(("source", "external_id", "minutes"), [
    ("jt808", "13805710002", 480),  # JT/T 808 times are Beijing time by the standard: nothing to set
    ("gt06", "868130040000007", 15 * 60),  # beyond any time zone
])
def test_an_offset_elsewhere_or_beyond_any_zone_is_refused(source: str, external_id: str, minutes: int) -> None:
    with pytest.raises(ValidationError, match=r"clock_offset_min|less than or equal"):
        Tracker.model_validate({"id": "t", "source": source, "external_id": external_id,
                                "clock_offset_min": minutes})
