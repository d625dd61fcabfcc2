"""Panic presses now and then, on random Zigbee2MQTT buttons, with an action each button calls panic.

Paced in wall-clock seconds, not simulated ones: Zigbee2MQTT carries no device time (ingest times a press at
receipt), and an operator watching a demo at 60x should not see sixty times the incidents. The default is
one press every five minutes across the district, drawn as a Poisson process from the seed. The emergency
buttons of JT/T 808 and GT06 bus trackers are pressed too, less often, on a schedule of their own.
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


def tracker_sos_buttons(site: Site, trackers: frozenset[str]) -> list[tuple[DeviceRef, tuple[str, ...]]]:
    """Return these bus trackers (JT/T 808, GT06 terminals, by id) as emergency buttons that press ``sos``."""
    found = [(DeviceRef(t.id, e.school.id, t.source, t.external_id), ("sos",))
             for e in site.iter_schools() for bus in e.school.buses for t in bus.trackers if t.id in trackers]
    return sorted(found, key=lambda d: d[0].id)


def panic_schedule(site: Site, seed: int, every_s: float = DEFAULT_EVERY_S,
                   buttons: list[tuple[DeviceRef, tuple[str, ...]]] | None = None) -> Iterator[PlannedPress]:
    """Yield presses forever, gaps exponential with mean ``every_s``; nothing when no button qualifies.

    ``buttons`` defaults to the Zigbee2MQTT panic buttons; the bus trackers' emergency buttons run a schedule
    of their own (its own random stream), so adding them leaves the buttons' presses as they were.
    """
    stream = "panics" if buttons is None else "tracker-sos"
    buttons = panic_buttons(site) if buttons is None else buttons
    if not buttons or every_s <= 0:
        return
    rng = random.Random(f"{stream}/{seed}")  # noqa: S311 - a seeded simulation, not a secret
    after = 0.0
    while True:
        after += rng.expovariate(1.0 / every_s)
        device, actions = rng.choice(buttons)
        yield PlannedPress(after, device, rng.choice(actions))
