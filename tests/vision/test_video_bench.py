"""bench/video.py's short form runs to the end and measures something (its figures mean nothing at this size).

It includes live view in Chromium: a latency read from the burnt-in clock of frames the browser showed.
"""

from __future__ import annotations

import math
import shutil

import pytest

from bench import video
from tests.support.rtsp import unavailable_reason


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_the_short_form_runs_to_the_end() -> None:
    if (reason := unavailable_reason()) is not None:
        pytest.skip(reason)
    figures = video.run(short=True)
    assert len(figures) == 6
    for figure in figures:
        assert math.isfinite(figure.value) and figure.value > 0, figure
        assert math.isfinite(figure.baseline_value) and figure.baseline_value > 0, figure
