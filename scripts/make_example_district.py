"""Generate ``examples/district.yaml``, the example site file: two school districts in Lincoln, Nebraska.

Deterministic (seeded), so running it rewrites the committed file byte for byte; a test checks that. The
street grid follows Lincoln's arterials approximately; schools, people and devices are fictional. Run:

    .venv/bin/python scripts/make_example_district.py [OUTPUT]
"""

from __future__ import annotations

import json
import math
import random
import re
import sys
from pathlib import Path
from typing import Any

import shapely

from domain.site.geometry import metre_projection

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "examples" / "district.yaml"
SEED = 20240901
TIMEZONE = "America/Chicago"

# Lincoln's arterial grid (approximate centrelines): north-south streets by longitude, east-west by latitude.
NS = {
    "10th St": -96.7114,
    "27th St": -96.6806,
    "33rd St": -96.6693,
    "48th St": -96.6446,
    "56th St": -96.6303,
    "70th St": -96.6055,
    "84th St": -96.5808,
}
EW = {
    "Superior St": 40.8561,
    "Holdrege St": 40.8285,
    "O St": 40.8136,
    "A St": 40.8000,
    "Van Dorn St": 40.7855,
    "Pioneers Blvd": 40.7710,
    "Old Cheney Rd": 40.7565,
    "Pine Lake Rd": 40.7420,
}
LOCAL = [
    "Elm",
    "Cedar",
    "Maple",
    "Walnut",
    "Linden",
    "Aspen",
    "Birch",
    "Sumner",
    "Calvert",
    "Dudley",
    "Garfield",
    "Sheridan",
    "Lowell",
    "Franklin",
    "Ryons",
    "Otoe",
    "Dakota",
    "Kearney",
    "Mohawk",
    "Orchard",
]
FIRST = [
    "Maria",
    "James",
    "Wei",
    "Aisha",
    "Daniel",
    "Grace",
    "Luis",
    "Hannah",
    "Omar",
    "Emily",
    "Jin",
    "Sofia",
    "Marcus",
    "Priya",
    "Tom",
    "Leah",
    "Ahmed",
    "Chloe",
    "Ray",
    "Nora",
    "Li",
    "Carlos",
    "Ruth",
]
LAST = [
    "Garcia",
    "Olsen",
    "Zhang",
    "Bello",
    "Kowalski",
    "Nguyen",
    "Herrera",
    "Fischer",
    "Haddad",
    "Larsen",
    "Chen",
    "Novak",
    "Reyes",
    "Patel",
    "Schultz",
    "Brooks",
    "Yilmaz",
    "Moreau",
    "Lindqvist",
    "Wang",
]

# (id, name, district, fronting east-west arterial, longitude of campus centre, width m, depth m, level)
SCHOOLS = [
    ("antelope-park-es", "Antelope Park Elementary", "salt-creek-sd", "A St", -96.6900, 190, 160, "es"),
    ("holdrege-es", "Holdrege Street Elementary", "salt-creek-sd", "Holdrege St", -96.6560, 200, 170, "es"),
    ("salt-creek-ms", "Salt Creek Middle School", "salt-creek-sd", "Van Dorn St", -96.6620, 250, 200, "ms"),
    ("pioneers-hs", "Pioneers High School", "salt-creek-sd", "Pioneers Blvd", -96.6400, 300, 240, "hs"),
    ("bluestem-es", "Bluestem Elementary", "salt-creek-sd", "Old Cheney Rd", -96.6180, 180, 150, "es"),
    ("walton-road-es", "Walton Road Elementary", "east-prairie-sd", "O St", -96.5930, 200, 160, "es"),
    ("east-prairie-ms", "East Prairie Middle School", "east-prairie-sd", "Van Dorn St", -96.5900, 260, 210, "ms"),
]
DEPOTS = {"salt-creek-sd": (-96.6580, 40.8190), "east-prairie-sd": (-96.5850, 40.8060)}
START = {"es": (8, 0), "ms": (7, 50), "hs": (7, 40)}
ORIGIN = (-96.66, 40.79)
TO_M = metre_projection(ORIGIN)
M_PER_DEG_LAT = 111_195.0
M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(ORIGIN[1]))


def length_m(points: list[tuple[float, float]]) -> float:
    """Return the length of a lon/lat polyline in metres."""
    return float(TO_M(shapely.LineString(points)).length)


def campus(lon: float, lat_road: float, width: float, depth: float, rng: random.Random) -> list[Any]:
    """Outline a campus just north of its road: a rectangle, some with a corner cut out (L-shaped)."""
    w, d = width / M_PER_DEG_LON, depth / M_PER_DEG_LAT
    south = lat_road + 30 / M_PER_DEG_LAT
    west, east, north = lon - w / 2, lon + w / 2, south + d
    if rng.random() < 0.5:
        ring = [(west, south), (east, south), (east, north), (west, north)]
    else:
        cut_w, cut_d = w * rng.uniform(0.25, 0.4), d * rng.uniform(0.25, 0.4)
        ring = [
            (west, south),
            (east, south),
            (east, north - cut_d),
            (east - cut_w, north - cut_d),
            (east - cut_w, north),
            (west, north),
        ]
    ring = [(round(x, 6), round(y, 6)) for x, y in ring]
    return [[*ring, ring[0]]]


def inside(polygon: shapely.Polygon, rng: random.Random) -> tuple[float, float]:
    """Pick a random point inside the campus, away from its edge."""
    inner = polygon.buffer(-0.0002)
    minx, miny, maxx, maxy = inner.bounds
    while True:
        point = (round(rng.uniform(minx, maxx), 6), round(rng.uniform(miny, maxy), 6))
        if inner.contains(shapely.Point(point)):
            return point


def route_path(entrance: tuple[float, float], rng: random.Random) -> list[tuple[float, float]]:
    """Draw a staircase along the arterials ending at the school entrance, 3.5 to 11 km long."""
    lons, lats = list(NS.values()), list(EW.values())
    while True:
        if rng.random() < 0.5:
            x1 = rng.choice(lons)
            points = [(x1, rng.uniform(min(lats), max(lats))), (x1, entrance[1]), entrance]
        else:
            x1, x2 = rng.sample(lons, 2)
            y1, y2 = rng.sample(lats, 2)
            start = (x1 + rng.choice([-1, 1]) * rng.uniform(0.006, 0.02), y1)
            points = [start, (x1, y1), (x1, y2), (x2, y2), (x2, entrance[1]), entrance]
        points = [(round(x, 6), round(y, 6)) for x, y in points]
        points = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
        if len(points) >= 2 and shapely.LineString(points).is_simple and 3500 <= length_m(points) <= 11000:
            return points


def street_of(a: tuple[float, float], b: tuple[float, float]) -> str:
    """Name the arterial a segment runs along."""
    if a[0] == b[0]:
        # Lincoln's numbered streets are "N" north of O Street and "S" south of it.
        side = "N" if (a[1] + b[1]) / 2 > EW["O St"] else "S"
        return f"{side} " + min(NS, key=lambda name: abs(NS[name] - a[0]))
    return min(EW, key=lambda name: abs(EW[name] - a[1]))


def stops(
    bus_id: str, path: list[tuple[float, float]], school: str, start: tuple[int, int], rng: random.Random
) -> list[dict[str, Any]]:
    """Spread stops along the path, timed back from arrival 15 minutes before school starts."""
    line = shapely.LineString(path)
    metric = TO_M(line)
    count = rng.randint(5, 10)
    total = metric.length
    marks = sorted(rng.sample(range(1, count * 4), count - 2))
    fractions = [0.0, *(m / (count * 4) for m in marks), 1.0]
    arrive = start[0] * 60 + start[1] - 15
    # 22 km/h between stops on average plus a minute's dwell at each.
    minutes = [arrive - round((1 - f) * total / 22000 * 60) - (count - 1 - i) for i, f in enumerate(fractions)]
    for i in range(len(minutes) - 2, -1, -1):
        minutes[i] = min(minutes[i], minutes[i + 1] - 1)
    result = []
    for i, fraction in enumerate(fractions):
        point = line.interpolate(fraction, normalized=True)
        location = (round(point.x, 6), round(point.y, 6))
        segment = min(
            range(len(path) - 1), key=lambda k: shapely.LineString(path[k : k + 2]).distance(shapely.Point(location))
        )
        name = (
            f"{school} (front entrance)"
            if i == count - 1
            else f"{street_of(path[segment], path[segment + 1])} & {rng.choice(LOCAL)} St"
        )
        result.append(
            {
                "id": f"{bus_id}-s{i + 1}",
                "name": name,
                "location": list(location),
                "scheduled": f"{minutes[i] // 60:02d}:{minutes[i] % 60:02d}",
            }
        )
    return result


def osmand_id(bus_id: str) -> str:
    """Make an OsmAnd tracker's device id: 80 random-looking bits, not a counter (``402104``).

    The id is all the OsmAnd protocol has for a credential: whoever knows it can move the bus or raise its
    alarm, so a guessable one is an open door (docs/ingest.md). Drawn from a generator of its own, seeded by the
    bus, so the file stays reproducible and no other draw moves. These are published: a deployment makes its
    own (``openssl rand -hex 10``).
    """
    return f"{random.Random(f'{SEED}-osmand-{bus_id}').getrandbits(80):020x}"  # noqa: S311 - published example


def people_pool(rng: random.Random) -> list[tuple[str, str]]:
    """Return distinct (id, full name) pairs in a seeded order."""
    names = [(f"{f.lower()}-{s.lower()}", f"{f} {s}") for f in FIRST for s in LAST]
    rng.shuffle(names)
    return names


def person(pid: str, name: str, role: str, domain: str, index: int, **extra: Any) -> dict[str, Any]:
    """Make a person record with an example.org email and a fictional 555-01xx phone number."""
    return {
        "id": pid,
        "name": name,
        "role": role,
        "email": f"{pid}@{domain}",
        "phone": f"+1 402 555 01{index % 100:02d}",
        **extra,
    }


# Guard patrol rounds in local time (docs/patrols.md): five from before the first bell to after the buses leave,
# a sixth in the evening at the high school, whose gym and fields are used after hours.
DAY_ROUNDS = ("06:45", "09:30", "12:00", "14:30", "17:00")
EVENING_ROUND = "20:30"


def patrols(short: str, gate: tuple[float, float], ring: list[tuple[float, float]],
            level: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """List a school's patrol checkpoints (front entrance, two fence corners, boiler room) and its plan.

    Derived from the outline and the entrance alone (no draw from the random stream), so adding patrols left
    every other value of the file as it was.
    """
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    points: list[dict[str, Any]] = [
        {"id": f"{short}-cp-entrance", "name": "Front entrance", "location": list(gate), "radius_m": 40},
        {"id": f"{short}-cp-ne", "name": "North-east fence corner", "location": [round(max(xs), 6), round(max(ys), 6)],
         "radius_m": 50},
        {"id": f"{short}-cp-sw", "name": "South-west fence corner", "location": [round(min(xs), 6), round(min(ys), 6)],
         "radius_m": 50},
        # Indoors, where phones seldom get a fix: its tag counts once per round, with no radius.
        {"id": f"{short}-cp-boiler", "name": "Boiler room door"},
    ]
    rounds = (*DAY_ROUNDS, EVENING_ROUND) if level == "hs" else DAY_ROUNDS
    return points, {"at": list(rounds), "grace_min": 45}


def build() -> dict[str, Any]:
    """Build the whole site as plain data."""
    rng = random.Random(SEED)  # noqa: S311 - example data, not secrets
    pool = people_pool(rng)
    taken = 0

    def next_person() -> tuple[str, str]:
        nonlocal taken
        taken += 1
        return pool[taken - 1]

    districts: dict[str, dict[str, Any]] = {
        "salt-creek-sd": {
            "id": "salt-creek-sd",
            "kind": "district",
            "name": "Salt Creek School District",
            "schools": [],
            "people": [],
        },
        "east-prairie-sd": {
            "id": "east-prairie-sd",
            "kind": "district",
            "name": "East Prairie School District",
            "schools": [],
            "people": [],
        },
    }
    bus_number = 0
    for s_index, (sid, sname, district, road, lon, width, depth, level) in enumerate(SCHOOLS):
        rng_s = random.Random(f"{SEED}-{sid}")  # noqa: S311 - example data, not secrets
        ring = campus(lon, EW[road], width, depth, rng_s)
        shape = shapely.Polygon(ring[0])
        short = sid.rsplit("-", 1)[0]
        entrance = (round(lon, 6), EW[road])
        start = START[level]
        hours = (
            [
                {"days": ["mon", "tue", "thu", "fri"], "start": f"{start[0]:02d}:{start[1]:02d}", "end": "15:15"},
                {"days": ["wed"], "start": f"{start[0]:02d}:{start[1]:02d}", "end": "13:30"},
            ]
            if level == "es"
            else [
                {"days": ["mon", "tue", "wed", "thu", "fri"], "start": f"{start[0]:02d}:{start[1]:02d}", "end": "15:05"}
            ]
        )
        buses = []
        for _ in range(3):
            bus_number += 1
            bus_id = f"bus-{bus_number:02d}"
            trackers: list[dict[str, Any]] = [{"id": f"{bus_id}-gps", "source": "campusguard"}]
            if bus_number % 4 == 0:
                trackers.append({"id": f"{bus_id}-osmand", "source": "osmand", "external_id": osmand_id(bus_id)})
            if bus_number % 5 == 0:
                trackers.append(
                    {"id": f"{bus_id}-driver", "source": "owntracks", "external_id": f"driver{bus_number:02d}/android"}
                )
            if bus_number % 3 == 2:
                # The terminal Chinese school buses carry (JT/T 794, speaking JT/T 808): its number is its SIM's.
                trackers.append({"id": f"{bus_id}-jt808", "source": "jt808", "external_id": f"1380571{bus_number:04d}"})
            if bus_number % 6 == 1:
                # A cheap GT06 tracker, known by its IMEI; every other one set to Beijing time, as many are sold.
                gt06: dict[str, Any] = {"id": f"{bus_id}-gt06", "source": "gt06",
                                        "external_id": f"86813004{bus_number:07d}"}
                if bus_number % 12 == 7:
                    gt06["clock_offset_min"] = 480
                trackers.append(gt06)
            path = route_path(entrance, rng_s)
            buses.append(
                {
                    "id": bus_id,
                    "name": f"Route {bus_number}",
                    "plate": f"SB {4000 + 17 * bus_number}",
                    "capacity": rng_s.choice([48, 66, 72, 77]),
                    "trackers": trackers,
                    "route": {
                        "path": {"type": "LineString", "coordinates": [list(p) for p in path]},
                        "corridor_m": 60,
                        "speed_limit_kmh": rng_s.choice([40, 50, 55]),
                        "stops": stops(bus_id, path, sname, start, rng_s),
                        "depot": list(DEPOTS[district]),
                    },
                    "service_windows": [
                        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "06:30", "end": "09:00"},
                        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "13:00", "end": "17:00"},
                    ],
                }
            )
        buttons = [
            {
                "id": f"{short}-office-panic-1",
                "kind": "wall",
                "location": list(inside(shape, rng_s)),
                "place": "Main office, behind the front desk",
                "source": "zigbee2mqtt",
                "external_id": f"{short}/office_panic_1",
                "panic_actions": ["single", "hold"],
            },
            {
                "id": f"{short}-gym-panic",
                "kind": "wall",
                "location": list(inside(shape, rng_s)),
                "place": "Gymnasium, by the east doors",
                "source": "zigbee2mqtt",
                "external_id": f"{short}/gym_panic",
                "panic_actions": ["hold"],
            },
            {
                "id": f"{short}-nurse-panic",
                "kind": "wall",
                "location": list(inside(shape, rng_s)),
                "place": "Nurse's office",
                "source": "campusguard",
            },
            {
                "id": f"{short}-principal-badge",
                "kind": "badge",
                "place": "Worn by the principal",
                "source": "zigbee2mqtt",
                "external_id": f"{short}/principal_badge",
                "panic_actions": ["double", "hold"],
            },
            {
                "id": f"{short}-front-desk-phone",
                "kind": "phone",
                "place": "Front desk phone app",
                "source": "campusguard",
            },
        ]
        gate_xy = (round(entrance[0] + 0.0003, 6), round(EW[road] + 35 / M_PER_DEG_LAT, 6))
        inner_kind = ["kitchen", "canteen", "corridor", "playground"][s_index % 4]
        zones = {
            "kitchen": [
                {
                    "name": "Cold room door",
                    "kind": "restricted",
                    "polygon": [[0.62, 0.2], [0.9, 0.2], [0.9, 0.85], [0.62, 0.85]],
                },
                {
                    "name": "Cooking line",
                    "kind": "kitchen",
                    "polygon": [[0.05, 0.4], [0.55, 0.35], [0.6, 0.95], [0.05, 0.95]],
                },
            ],
            "canteen": [
                {"name": "Serving queue", "kind": "crowd", "polygon": [[0.1, 0.3], [0.7, 0.3], [0.75, 0.9], [0.1, 0.9]]}
            ],
            "corridor": [
                {
                    "name": "Server room door",
                    "kind": "restricted",
                    "polygon": [[0.7, 0.15], [0.85, 0.15], [0.85, 0.7], [0.7, 0.7]],
                }
            ],
            "playground": [
                {
                    "name": "Fence line",
                    "kind": "restricted",
                    "polygon": [[0.0, 0.0], [1.0, 0.0], [1.0, 0.12], [0.0, 0.12]],
                },
                {"name": "Play area", "kind": "general", "polygon": [[0.1, 0.2], [0.9, 0.2], [0.5, 0.95]]},
            ],
        }[inner_kind]
        cameras = [
            {
                "id": f"{short}-cam-gate",
                "name": f"{sname} main gate",
                "rtsp_url": f"rtsp://10.20.{s_index + 1}.11:554/stream1",
                "location": list(gate_xy),
                "place_kind": "gate",
                "zones": [
                    {"name": "Gate", "kind": "gate", "polygon": [[0.3, 0.35], [0.7, 0.35], [0.75, 1.0], [0.25, 1.0]]},
                    {
                        "name": "Pavement",
                        "kind": "general",
                        "polygon": [[0.0, 0.0], [1.0, 0.0], [1.0, 0.3], [0.0, 0.3]],
                    },
                ],
            },
            {
                "id": f"{short}-cam-{inner_kind}",
                "name": f"{sname} {inner_kind}",
                "rtsp_url": f"rtsps://10.20.{s_index + 1}.12:322/{inner_kind}",
                "location": list(inside(shape, rng_s)),
                "place_kind": inner_kind,
                "zones": zones,
            },
        ]
        sensors = [
            {
                "id": f"{short}-kitchen-freezer",
                "kind": "temperature",
                "place": "Kitchen walk-in freezer",
                "location": list(inside(shape, rng_s)),
                "source": "zigbee2mqtt",
                "external_id": f"{short}/kitchen_freezer_temp",
            }
        ]
        if s_index % 2 == 0:
            sensors.append(
                {
                    "id": f"{short}-kitchen-smoke",
                    "kind": "smoke",
                    "place": "Kitchen ceiling",
                    "location": list(inside(shape, rng_s)),
                    "source": "zigbee2mqtt",
                    "external_id": f"{short}/kitchen_smoke",
                }
            )
        # A corner of the campus that is out of bounds; derived from the outline (no draw from the random
        # stream, so adding it left every other value of the file as it was).
        xs, ys = [p[0] for p in ring[0]], [p[1] for p in ring[0]]
        x1, y1 = max(xs), max(ys)
        x0, y0 = x1 - (x1 - min(xs)) / 4, y1 - (y1 - min(ys)) / 4
        area = [[round(x, 6), round(y, 6)] for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))]
        restricted = [{"id": f"{short}-boiler-yard", "name": "Boiler room yard",
                       "polygon": {"type": "Polygon", "coordinates": [area]}}]
        checkpoints, patrol = patrols(short, gate_xy, ring[0], level)
        domain = f"{district}.example.org"
        staff = []
        for g in range(3 if level == "hs" else 2):
            pid, name = next_person()
            extra: dict[str, Any] = {}
            if g == 0:
                extra["tracker"] = {"id": f"{pid}-phone", "source": "owntracks", "external_id": f"{pid}/phone"}
            staff.append(person(pid, name, "guard", domain, taken, **extra))
        pid, name = next_person()
        staff.append(person(pid, name, "school_admin", domain, taken, **({"locale": "zh-CN"} if s_index == 2 else {})))
        districts[district]["schools"].append(
            {
                "id": sid,
                "name": sname,
                "timezone": TIMEZONE,
                "campus": {"type": "Polygon", "coordinates": [[list(p) for p in ring[0]]]},
                "address": f"{rng_s.randint(1, 89) * 100 + rng_s.choice([0, 20, 50])} {road}, Lincoln, NE",
                "hours": hours,
                "school_zone_speed_kmh": 30,
                "buses": buses,
                "panic_buttons": buttons,
                "cameras": cameras,
                "sensors": sensors,
                "restricted_areas": restricted,
                "people": staff,
                "checkpoints": checkpoints,
                "patrol": patrol,
            }
        )
    for unit in districts.values():
        domain = f"{unit['id']}.example.org"
        for _ in range(2):
            pid, name = next_person()
            unit["people"].append(person(pid, name, "district_officer", domain, taken))
    city_people = []
    for role in ("district_admin", "auditor"):
        pid, name = next_person()
        city_people.append(person(pid, name, role, "lincoln.example.org", taken))
    return {
        "version": 1,
        "organisation": {
            "id": "lincoln",
            "kind": "city",
            "name": "City of Lincoln, Nebraska",
            "people": city_people,
            "units": list(districts.values()),
        },
    }


PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9 _.'/()&-]*")
RESERVED = {"yes", "no", "on", "off", "true", "false", "null", "y", "n"}


def scalar(value: Any) -> str:
    """Render a YAML scalar: plain where unambiguous, else double-quoted (JSON strings are YAML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if PLAIN.fullmatch(text) and text.lower() not in RESERVED and not text.endswith(" "):
        return text
    return json.dumps(text)


def flow(value: Any) -> str:
    """Render a flow sequence of scalars or of sequences."""
    if isinstance(value, list):
        return "[" + ", ".join(flow(item) for item in value) + "]"
    return scalar(value)


def wrap(head: str, body: str, indent: int, width: int = 110) -> list[str]:
    """Break a long flow sequence after commas; continuation lines are indented past the key."""
    lines, current = [], head + body
    while len(current) > width:
        cut = current.rfind("], ", 0, width)
        if cut <= len(head):
            break
        lines.append(current[: cut + 2])
        current = " " * (indent + 2) + current[cut + 3 :]
    return [*lines, current]


def emit(data: dict[str, Any], indent: int) -> list[str]:
    """Block-style YAML for a mapping; lists of mappings as block sequences, other lists in flow style."""
    pad, lines = " " * indent, []
    for key, value in data.items():
        if isinstance(value, dict):
            lines += [f"{pad}{key}:", *emit(value, indent + 2)]
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            lines.append(f"{pad}{key}:")
            for item in value:
                block = emit(item, indent + 4)
                lines += [f"{pad}  - {block[0].lstrip()}", *block[1:]]
        elif isinstance(value, list):
            lines += wrap(f"{pad}{key}: ", flow(value), indent)
        else:
            lines.append(f"{pad}{key}: {scalar(value)}")
    return lines


def render() -> str:
    """Return the example file's text."""
    header = [
        "# Example campusguard site file: two school districts in Lincoln, Nebraska (America/Chicago).",
        "# Generated by scripts/make_example_district.py; edit the script, not this file.",
        "# Streets follow Lincoln's arterial grid approximately; schools, people and devices are fictional.",
        "",
    ]
    return "\n".join([*header, *emit(build(), 0)]) + "\n"


def main() -> None:
    """Write the example (to OUTPUT, or the path given)."""
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main()
