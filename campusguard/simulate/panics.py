"""Panic presses now and then, on random Zigbee2MQTT buttons, with an action each button calls panic.

Paced in wall-clock seconds, not simulated ones: Zigbee2MQTT carries no device time (ingest times a press at
receipt), and an operator watching a demo at 60x should not see sixty times the incidents. The default is
one press every five minutes across the district, drawn as a Poisson process from the seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from campusguard.simulate.model import DeviceRef
from domain.site import Site

DEFAULT_EVERY_S = 300.0


@dataclass(frozen=True, slots=True)
class PlannedPress:
    """A press due ``after_s`` wall-clock seconds into the run."""

    after_s: float
    device: DeviceRef
    action: str


def panic_buttons(site: Site) -> list[tuple[DeviceRef, tuple[str, ...]]]:
    """Return every Zigbee2MQTT panic button with its panic actions, in id order."""
    found = [(DeviceRef(b.id, e.school.id, b.source, b.external_id), b.panic_actions)
             for e in site.iter_schools() for b in e.school.panic_buttons if b.source == "zigbee2mqtt"]
    return sorted(found, key=lambda d: d[0].id)


def panic_schedule(site: Site, seed: int, every_s: float = DEFAULT_EVERY_S) -> Iterator[PlannedPress]:
    """Yield presses forever, gaps exponential with mean ``every_s``; nothing when no button qualifies."""
    buttons = panic_buttons(site)
    if not buttons or every_s <= 0:
        return
    rng = random.Random(f"panics/{seed}")  # noqa: S311 - a seeded simulation, not a secret
    after = 0.0
    while True:
        after += rng.expovariate(1.0 / every_s)
        device, actions = rng.choice(buttons)
        yield PlannedPress(after, device, rng.choice(actions))
