"""How many guards a school needs: the staffing rule of GB/T 29315-2022 (中小学、幼儿园安全技术防范系统要求).

The standard asks for full-time security staff by enrolment: at least one for a school under 100 pupils, at
least two from 100, at least three from 1,000, and one more for every full further 500 (1,499 pupils: three;
1,500: four). A pure function, so the example city's generator and a later compliance scorecard count alike.
"""

from __future__ import annotations

SMALL_SCHOOL = 100
"""Under this many pupils one guard is enough."""
LARGE_SCHOOL = 1000
"""From this many pupils three guards, plus one per :data:`PUPILS_PER_EXTRA_GUARD` beyond it."""
PUPILS_PER_EXTRA_GUARD = 500


def guards_required(pupils: int) -> int:
    """Return the fewest guards GB/T 29315-2022 allows for a school of ``pupils``."""
    if pupils < 0:
        raise ValueError(f"a school has no negative number of pupils, got {pupils}")
    if pupils < SMALL_SCHOOL:
        return 1
    if pupils < LARGE_SCHOOL:
        return 2
    return 3 + (pupils - LARGE_SCHOOL) // PUPILS_PER_EXTRA_GUARD
