"""Generate ``examples/city.yaml``: a prefecture-level city of Henan shaped like Hebi, in Chinese (Asia/Shanghai).

Five levels: the city's education bureau, five county-level districts and counties plus two functional zones,
the townships and subdistricts under them, about 30 schools from kindergartens to middle schools (boarding ones
in the countryside), and classes with their head teachers. Rural school buses carry JT/T 808 terminals and run
from village entrances to their township school in the morning; a few people carry GT06 trackers. Every school
has its gate, perimeter and canteen-kitchen cameras (stove, prep and storage zones), its dormitory where pupils
board, and as many guards as GB/T 29315-2022 asks for its enrolment.

Positions lie near the real city (114.3E 35.75N, WGS-84); every name, person, phone number and device is
fictional. Deterministic (seeded), so running it rewrites the committed file byte for byte; a test checks that::

    .venv/bin/python scripts/make_example_city.py [OUTPUT]
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path
from typing import Any, NamedTuple

import shapely
import yaml

from domain.site.geometry import metre_projection
from domain.site.staffing import guards_required

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "examples" / "city.yaml"
SEED = 20260901
TIMEZONE = "Asia/Shanghai"
ORIGIN = (114.30, 35.75)
TO_M = metre_projection(ORIGIN)
M_PER_DEG_LAT = 111_195.0
M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(ORIGIN[1]))
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


class SchoolPlan(NamedTuple):
    """One school as planned: id suffix, name, stage, enrolment, whether pupils board, how many buses."""

    key: str
    name: str
    stage: str
    pupils: int
    boarding: bool = False
    buses: int = 0


class TownPlan(NamedTuple):
    """A township-level unit (镇, 乡 or 街道) with its centre and its schools."""

    id: str
    name: str
    kind: str
    centre: tuple[float, float]
    schools: tuple[SchoolPlan, ...]


class CountyPlan(NamedTuple):
    """A county-level unit: a district (区), a county (县) or a functional zone (功能区)."""

    id: str
    name: str
    kind: str
    towns: tuple[TownPlan, ...]


S = SchoolPlan
CITY = ("hechuan", "鹤川市")
COUNTIES = (
    CountyPlan("qiyuan", "淇源区", "district", (
        TownPlan("jiuzhoulu", "九州路街道", "subdistrict", (114.2950, 35.7450), (
            S("sy-xx", "淇源区实验小学", "primary", 1850), S("yz", "淇源区第一中学", "middle", 1420),
            S("yey", "九州路幼儿园", "kindergarten", 260))),
        TownPlan("jinshan", "金山街道", "subdistrict", (114.2720, 35.7230), (
            S("xx", "金山小学", "primary", 999), S("wgy", "鹤川市外国语中学", "middle", 2300))),
        TownPlan("dahejian", "大河涧乡", "township", (114.2380, 35.7780), (
            S("zxxx", "大河涧乡中心小学", "primary", 420, boarding=True, buses=2),
            S("zxyey", "大河涧乡中心幼儿园", "kindergarten", 95))),
    )),
    CountyPlan("shanyang", "山阳区", "district", (
        TownPlan("hongqi", "红旗街道", "subdistrict", (114.1850, 35.8950), (
            S("dexx", "山阳区第二小学", "primary", 1100), S("yey", "红旗街道中心幼儿园", "kindergarten", 180))),
        TownPlan("shilin", "石林镇", "town", (114.1450, 35.8720), (
            S("zxxx", "石林镇中心小学", "primary", 520, boarding=True, buses=2),
            S("cz", "石林镇初级中学", "middle", 760, boarding=True, buses=1))),
    )),
    CountyPlan("heling", "鹤岭区", "district", (
        TownPlan("helingzhen", "鹤岭镇", "town", (114.1600, 35.9550), (
            S("zxxx", "鹤岭镇中心小学", "primary", 380, boarding=True, buses=1),
            S("syzx", "鹤岭区实验中学", "middle", 1250))),
        TownPlan("jijiashan", "姬家山乡", "township", (114.1000, 35.9700), (
            S("jyxx", "姬家山乡九年一贯制学校", "nine_year", 310, boarding=True, buses=2),)),
    )),
    CountyPlan("junchuan", "浚川县", "county", (
        TownPlan("chengguan", "城关镇", "town", (114.5500, 35.6750), (
            S("syxx", "浚川县第一实验小学", "primary", 2600), S("yzcz", "浚川县第一初级中学", "middle", 1980),
            S("yey", "浚川县幼儿园", "kindergarten", 420))),
        TownPlan("wangzhuang", "王庄镇", "town", (114.6200, 35.6000), (
            S("zxxx", "王庄镇中心小学", "primary", 640, boarding=True, buses=2),
            S("cz", "王庄镇初级中学", "middle", 880, boarding=True, buses=2),
            S("yey", "王庄镇中心幼儿园", "kindergarten", 99))),
        TownPlan("tunzi", "屯子镇", "town", (114.4800, 35.7400), (
            S("zxxx", "屯子镇中心小学", "primary", 450, boarding=True, buses=2),
            S("yey", "屯子镇中心幼儿园", "kindergarten", 120))),
    )),
    CountyPlan("qiyang", "淇阳县", "county", (
        TownPlan("weidu", "卫都街道", "subdistrict", (114.2000, 35.6150), (
            S("syxx", "淇阳县实验学校", "nine_year", 1600), S("deyey", "淇阳县第二幼儿园", "kindergarten", 300))),
        TownPlan("gaocun", "高村镇", "town", (114.2800, 35.5700), (
            S("zxxx", "高村镇中心小学", "primary", 530, boarding=True, buses=2),
            S("yey", "高村镇中心幼儿园", "kindergarten", 150))),
        TownPlan("huangdong", "黄洞乡", "township", (114.0800, 35.6300), (
            S("jyxx", "黄洞乡九年一贯制学校", "nine_year", 260, boarding=True, buses=2),)),
    )),
    CountyPlan("jingkai", "鹤川经济技术开发区", "functional zone", (
        TownPlan("haihelu", "海河路街道", "subdistrict", (114.3400, 35.7000), (
            S("dyxx", "经开区第一小学", "primary", 1500), S("yey", "经开区幼儿园", "kindergarten", 240))),
    )),
    CountyPlan("baoquan", "宝泉产业集聚区", "functional zone", (
        TownPlan("heyuan", "鹤源街道", "subdistrict", (114.0900, 35.8600), (
            S("xx", "宝泉学校", "nine_year", 700, boarding=True, buses=1),)),
    )),
)

SURNAMES = [("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
            ("赵", "zhao"), ("黄", "huang"), ("周", "zhou"), ("吴", "wu"), ("徐", "xu"), ("孙", "sun"),
            ("马", "ma"), ("朱", "zhu"), ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("高", "gao"), ("林", "lin"),
            ("罗", "luo"), ("郑", "zheng"), ("梁", "liang"), ("宋", "song"), ("韩", "han")]
GIVEN = [("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"), ("强", "qiang"),
         ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("娟", "juan"),
         ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("秀英", "xiuying"), ("霞", "xia"), ("平", "ping"),
         ("刚", "gang"), ("桂英", "guiying"), ("建国", "jianguo"), ("海燕", "haiyan"), ("志强", "zhiqiang"),
         ("雪梅", "xuemei"), ("国华", "guohua"), ("晓东", "xiaodong"), ("红霞", "hongxia"), ("文博", "wenbo")]
VILLAGE_HEAD = ["李", "王", "张", "后", "前", "东", "西", "南", "北", "大", "小", "新", "老", "上", "下", "柳", "杨",
                "石", "河", "高", "马", "孙", "赵", "黄"]
VILLAGE_TAIL = ["庄", "屯", "营", "村", "寨", "店", "洼", "岗", "河口", "湾", "集", "堡"]
GRADES = ["一", "二", "三", "四", "五", "六"]
STAGE_HOURS = {  # (start, end) of the teaching day, Monday to Friday
    "kindergarten": ("08:00", "17:00"), "primary": ("07:50", "17:20"), "middle": ("07:20", "17:50"),
    "nine_year": ("07:30", "17:40"),
}


class _Time(str):
    """A time of day, always written quoted: YAML 1.1 would read an unquoted 16:30 as the number 990."""

    __slots__ = ()


class _Dumper(yaml.SafeDumper):
    """Block mappings, flow lists of scalars, quoted times, Chinese written as itself."""

    def ignore_aliases(self, data: Any) -> bool:
        """Write every shared list out in full: anchors and aliases (``&id002``) puzzle a human editor."""
        return True


_Dumper.add_representer(_Time, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", str(v), style='"'))


# Cooks start before breakfast and clear up after supper, boarders' Sundays included; stores take deliveries by day.
KITCHEN_HOURS = [{"days": [*WEEKDAYS, "sun"], "start": _Time("05:30"), "end": _Time("19:30")}]
STORE_HOURS = [{"days": WEEKDAYS, "start": _Time("06:00"), "end": _Time("16:00")}]
# Boarders eat supper, study in the evening (晚自习) and sleep at school, Sunday night included: where they are
# expected runs past the teaching day, or every pupil in the canteen at 18:00 would be an intruder.
BOARDERS = {"canteen": ("06:00", "19:30"), "corridor": ("06:00", "21:30"), "dormitory": ("05:30", "22:30")}


def boarders(place: str) -> list[dict[str, Any]]:
    """When boarders are expected at ``place``, every school day and the Sunday evening they come back."""
    start, end = BOARDERS[place]
    return [{"days": [*WEEKDAYS, "sun"], "start": _Time(start), "end": _Time(end)}]


def hhmm(minutes: int) -> _Time:
    """Format minutes after midnight as a quoted "HH:MM"."""
    return _Time(f"{minutes // 60:02d}:{minutes % 60:02d}")


def at(time: str) -> int:
    """Read "HH:MM" as minutes after midnight."""
    hours, minutes = time.split(":")
    return int(hours) * 60 + int(minutes)


def offset(point: tuple[float, float], east_m: float, north_m: float) -> tuple[float, float]:
    """Move a lon/lat point by metres east and north (small distances: a flat earth is exact enough)."""
    return (round(point[0] + east_m / M_PER_DEG_LON, 6), round(point[1] + north_m / M_PER_DEG_LAT, 6))


def length_m(points: list[tuple[float, float]]) -> float:
    """Return the length of a lon/lat polyline in metres."""
    return float(TO_M(shapely.LineString(points)).length)


class People:
    """Hands out distinct fictional people: Chinese names, pinyin ids, +86 mobile numbers."""

    def __init__(self, rng: random.Random) -> None:
        """Shuffle every surname and given name pair once."""
        self.pool = [(s + g, f"{sp}-{gp}") for s, sp in SURNAMES for g, gp in GIVEN]
        rng.shuffle(self.pool)
        self.taken = 0

    def next(self, role: str, **extra: Any) -> dict[str, Any]:
        """Return the next person in ``role``, zh-CN, with a fictional 139 mobile number."""
        name, pid = self.pool[self.taken]
        self.taken += 1
        return {"id": pid, "name": name, "role": role, "phone": f"+86 139 0392 {self.taken:04d}",
                "locale": "zh-CN", **extra}


CHILD_GIVEN = ["子涵", "浩然", "梓萱", "宇轩", "欣怡", "一诺", "雨桐", "俊熙", "可馨", "思远", "佳怡", "博文",
               "诗涵", "子轩", "若曦", "天佑", "语嫣", "明哲", "梦瑶", "嘉懿"]
"""Given names for the children on the bus rosters (fictional, like every name here)."""


def riders(class_id: str, bus: dict[str, Any]) -> list[dict[str, Any]]:
    """List the class's children on its bus: fictional names, each at a village stop; a few ride one trip only.

    Drawn from a generator of the class's own, so the rest of the city (drawn from each school's) stays as it was.
    """
    rng = random.Random(f"{SEED}-riders-{class_id}")  # noqa: S311 - example data, not secrets
    villages = [stop["id"] for stop in bus["route"]["stops"][:-1]]  # the last stop is the school gate
    names = sorted({rng.choice(SURNAMES)[0] + rng.choice(CHILD_GIVEN) for _ in range(rng.randint(6, 10))})
    out = []
    for name in names:
        one_trip = rng.random()
        out.append({"pupil": name, "bus": bus["id"], "stop": rng.choice(villages),
                    **({"afternoon": False} if one_trip < 0.1 else {"morning": False} if one_trip < 0.2 else {})})
    return out


def campus(centre: tuple[float, float], pupils: int) -> list[list[float]]:
    """Outline a rectangular campus around ``centre``, larger for more pupils (GB 50099 gives land per pupil)."""
    width = min(320.0, 90.0 + pupils / 12)
    depth = width * 0.75
    w, d = width / 2, depth / 2
    ring = [offset(centre, -w, -d), offset(centre, w, -d), offset(centre, w, d), offset(centre, -w, d)]
    return [list(p) for p in [*ring, ring[0]]]


def village_name(rng: random.Random, taken: set[str]) -> str:
    """Draw a village name not used yet in the city."""
    while True:
        name = rng.choice(VILLAGE_HEAD) + rng.choice(VILLAGE_TAIL)
        if name not in taken:
            taken.add(name)
            return name


def route(bus_id: str, gate: tuple[float, float], bearing: float, start: str, rng: random.Random,
          villages: set[str]) -> dict[str, Any]:
    """Lay a country road from the farthest village in, through village entrances, to the school gate.

    Villages lie along one bearing from 6 km to 1.5 km out, each a little off the straight line, so the road
    never crosses itself. Times run back from arrival 20 minutes before the day starts, at 25 km/h on country
    roads plus a minute at each stop.
    """
    count = rng.randint(3, 5)
    distances = sorted((rng.uniform(1500, 6500) for _ in range(count)), reverse=True)
    points: list[tuple[float, float]] = []
    for distance in distances:
        side = rng.uniform(-500, 500)
        east = distance * math.sin(bearing) + side * math.cos(bearing)
        north = distance * math.cos(bearing) - side * math.sin(bearing)
        points.append(offset(gate, east, north))
    path = [*points, gate]
    arrive = at(start) - 20
    minutes = [0] * len(path)
    minutes[-1] = arrive
    for i in range(len(path) - 2, -1, -1):
        leg = length_m(path[i:i + 2])
        minutes[i] = minutes[i + 1] - max(2, round(leg / 25000 * 60)) - 1
    stops = [{"id": f"{bus_id}-s{i + 1}", "name": f"{village_name(rng, villages)}村口", "location": list(p),
              "scheduled": hhmm(minutes[i])} for i, p in enumerate(points)]
    stops.append({"id": f"{bus_id}-s{len(path)}", "name": "学校大门", "location": list(gate),
                  "scheduled": hhmm(arrive)})
    # The township's bus yard, off the road 700 m beyond the school: the end-of-route child check is owed there.
    depot = offset(gate, -700 * math.sin(bearing) + 300, -700 * math.cos(bearing))
    return {"path": {"type": "LineString", "coordinates": [list(p) for p in path]}, "corridor_m": 80,
            "speed_limit_kmh": 40, "stops": stops, "depot": list(depot)}


def jt808_number(bus_index: int) -> str:
    """Make a terminal's SIM number as it speaks it: eleven digits, no leading zero (a fictional 1440 range)."""
    return f"1440392{bus_index:04d}"


def stream(net: str, host: int) -> str:
    """Return a camera's main stream in the form Hikvision-style NVRs in these schools publish."""
    return f"rtsp://{net}.{host}:554/Streaming/Channels/101"


def cameras(sid: str, name: str, shape: shapely.Polygon, gate: tuple[float, float], net: str,
            boarding: bool, corridor: bool) -> list[dict[str, Any]]:
    """List the cameras GB/T 29315 asks for: gate, perimeter, canteen kitchen; dormitories where pupils board."""
    c = shape.centroid
    centre = (round(c.x, 6), round(c.y, 6))
    kitchen = offset(centre, 40, 20)
    full = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
    found: list[dict[str, Any]] = [
        {"id": f"{sid}-cam-gate", "name": f"{name}校门", "rtsp_url": stream(net, 11),
         "location": list(offset(gate, 8, 12)), "place_kind": "gate", "zones": [
             {"name": "校门口", "kind": "gate", "polygon": [[0.3, 0.35], [0.7, 0.35], [0.75, 1.0], [0.25, 1.0]]},
             {"name": "门前道路", "kind": "general", "polygon": [[0.0, 0.0], [1.0, 0.0], [1.0, 0.3], [0.0, 0.3]]}]},
        {"id": f"{sid}-cam-perimeter", "name": f"{name}北侧围墙", "rtsp_url": stream(net, 12),
         "location": list(offset(centre, 0, 40)), "place_kind": "perimeter", "zones": [
             {"name": "围墙", "kind": "restricted", "polygon": [[0.0, 0.0], [1.0, 0.0], [1.0, 0.25], [0.0, 0.25]]}]},
        {"id": f"{sid}-cam-stove", "name": f"{name}食堂后厨操作间", "rtsp_url": stream(net, 13),
         "location": list(kitchen), "place_kind": "kitchen", "zones": [
             {"name": "灶台区", "kind": "kitchen", "polygon": [[0.05, 0.4], [0.55, 0.35], [0.6, 0.95], [0.05, 0.95]],
              "hours": KITCHEN_HOURS},
             {"name": "切配区", "kind": "general", "polygon": [[0.6, 0.3], [0.95, 0.3], [0.95, 0.95], [0.62, 0.95]],
              "hours": KITCHEN_HOURS}]},
        {"id": f"{sid}-cam-store", "name": f"{name}食堂库房", "rtsp_url": stream(net, 14),
         "location": list(offset(kitchen, 12, 0)), "place_kind": "kitchen", "zones": [
             {"name": "库房", "kind": "general", "polygon": full, "hours": STORE_HOURS}]},
        {"id": f"{sid}-cam-canteen", "name": f"{name}食堂就餐区", "rtsp_url": stream(net, 15),
         "location": list(offset(kitchen, -15, -10)), "place_kind": "canteen", "zones": [
             {"name": "打饭窗口", "kind": "crowd", "polygon": [[0.1, 0.3], [0.7, 0.3], [0.75, 0.9], [0.1, 0.9]],
              **({"hours": boarders("canteen")} if boarding else {})}]},
    ]
    if corridor:
        found.append({"id": f"{sid}-cam-corridor", "name": f"{name}教学楼走廊",
                      "rtsp_url": stream(net, 16),
                      "location": list(offset(centre, -30, 0)), "place_kind": "corridor", "zones": [
                          {"name": "走廊", "kind": "general", "polygon": full,
                           **({"hours": boarders("corridor")} if boarding else {})}]})
    if boarding:
        found.append({"id": f"{sid}-cam-dorm", "name": f"{name}学生宿舍楼门", "rtsp_url": stream(net, 17),
                      "location": list(offset(centre, -40, 30)), "place_kind": "dormitory", "zones": [
                          {"name": "宿舍楼门", "kind": "gate", "hours": boarders("dormitory"),
                           "polygon": [[0.25, 0.3], [0.75, 0.3], [0.8, 1.0], [0.2, 1.0]]}]})
    return found


# Patrol rounds (巡更) in Beijing time: a day school's guards walk six rounds from opening to late evening; a
# boarding school's walk round the clock, the night rounds past the dormitory (docs/patrols.md).
DAY_ROUNDS = ("07:00", "10:00", "13:00", "16:30", "19:30", "22:00")
BOARDING_ROUNDS = ("00:30", "03:30", "06:30", "10:00", "14:00", "18:00", "21:30")


def patrols(sid: str, centre: tuple[float, float], gate: tuple[float, float], ring: list[list[float]],
            boarding: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """List a school's patrol checkpoints (gate, perimeter corners, kitchen, power room, dormitory) and its plan."""
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    points: list[dict[str, Any]] = [
        {"id": f"{sid}-cp-gate", "name": "校门门卫室", "location": list(offset(gate, -10, 6)), "radius_m": 40},
        {"id": f"{sid}-cp-ne", "name": "东北角围墙", "location": [round(max(xs), 6), round(max(ys), 6)],
         "radius_m": 50},
        {"id": f"{sid}-cp-sw", "name": "西南角围墙", "location": [round(min(xs), 6), round(min(ys), 6)],
         "radius_m": 50},
        {"id": f"{sid}-cp-kitchen", "name": "食堂后厨", "location": list(offset(centre, 40, 20)), "radius_m": 30},
        # The power room's tag sits indoors where phones seldom get a fix: it counts once per round, no radius.
        {"id": f"{sid}-cp-power", "name": "配电房"},
    ]
    if boarding:
        points.append({"id": f"{sid}-cp-dorm", "name": "学生宿舍楼", "location": list(offset(centre, -40, 30)),
                       "radius_m": 40})
    rounds = BOARDING_ROUNDS if boarding else DAY_ROUNDS
    return points, {"at": [_Time(t) for t in rounds], "grace_min": 45}


def school(county: CountyPlan, town: TownPlan, plan: SchoolPlan, index: int, people: People,
           counters: dict[str, int], villages: set[str]) -> dict[str, Any]:
    """Build one school: campus, hours, buses, cameras, buttons, sensors, guards, admin and classes."""
    rng = random.Random(f"{SEED}-{town.id}-{plan.key}")  # noqa: S311 - example data, not secrets
    sid = f"{town.id}-{plan.key}"
    # Schools of one township sit side by side, 600 m apart, east of its centre.
    centre = offset(town.centre, 600 * index, 0)
    ring = campus(centre, plan.pupils)
    shape = shapely.Polygon(ring)
    south = min(p[1] for p in ring)
    gate = (round(centre[0], 6), round(south, 6))
    start, end = STAGE_HOURS[plan.stage]
    net = f"10.{16 + counters['school'] // 200}.{counters['school'] % 200 + 1}"
    counters["school"] += 1
    buses = []
    for b in range(plan.buses):
        counters["bus"] += 1
        number = counters["bus"]
        bus_id = f"{sid}-bus{b + 1}"
        buses.append({
            "id": bus_id, "name": f"{town.name}{b + 1}号校车", "plate": f"豫F·X{1000 + 37 * number}",
            "capacity": rng.choice([19, 31, 41]),
            "trackers": [{"id": f"{bus_id}-jt808", "source": "jt808", "external_id": jt808_number(number)}],
            "route": route(bus_id, gate, rng.uniform(0, 2 * math.pi), start, rng, villages),
            "service_windows": [{"days": WEEKDAYS, "start": _Time("06:00"), "end": _Time("08:30")},
                                {"days": WEEKDAYS, "start": _Time("16:30"), "end": _Time("19:00")}],
        })
    guards = []
    for g in range(guards_required(plan.pupils)):
        extra: dict[str, Any] = {}
        if g == 0 and counters["school"] % 3 == 1:
            # Some guards share their phone's position (OwnTracks); others wear a GT06 badge tracker.
            extra["tracker"] = {"id": f"{sid}-guard-phone", "source": "owntracks",
                                "external_id": f"{sid}/guard-phone"}
        elif g == 0 and counters["school"] % 5 == 2:
            counters["gt06"] += 1
            extra["tracker"] = {"id": f"{sid}-guard-gt06", "source": "gt06",
                                "external_id": f"86039200{counters['gt06']:07d}"}
        guards.append(people.next("guard", **extra))
    classes = []
    grades = ["小", "中", "大"] if plan.stage == "kindergarten" else GRADES[: 3 if plan.stage == "middle" else 6]
    for c in range(max(1, min(3, plan.buses * 2))):
        grade = grades[(c * 2 + index) % len(grades)]
        label = f"{grade}班" if plan.stage == "kindergarten" else f"{grade}年级{GRADES[c % 2]}班"
        # The bus roster: each class's village pupils ride one of the school's buses.
        riding = [buses[c % len(buses)]["id"]] if buses else []
        classes.append({"id": f"{sid}-c{c + 1}", "name": label, "head_teacher": people.next("head_teacher"),
                        "pupils": rng.randint(30, 50), "buses": riding,
                        **({"riders": riders(f"{sid}-c{c + 1}", buses[c % len(buses)])} if buses else {})})
    sensors = [
        {"id": f"{sid}-stove-temp", "kind": "temperature", "place": "后厨灶台",
         "location": list(offset(centre, 42, 20)), "source": "zigbee2mqtt", "external_id": f"{sid}/stove_temp"},
        {"id": f"{sid}-kitchen-smoke", "kind": "smoke", "place": "后厨顶棚", "location": list(offset(centre, 38, 22)),
         "source": "zigbee2mqtt", "external_id": f"{sid}/kitchen_smoke"},
    ]
    if plan.boarding:
        sensors.append({"id": f"{sid}-dorm-smoke", "kind": "smoke", "place": "学生宿舍走廊",
                        "location": list(offset(centre, -40, 34)), "source": "zigbee2mqtt",
                        "external_id": f"{sid}/dorm_smoke"})
    buttons = [
        {"id": f"{sid}-guardroom-panic", "kind": "wall", "location": list(offset(gate, -12, 6)),
         "place": "门卫室一键报警", "source": "zigbee2mqtt", "external_id": f"{sid}/guardroom_panic",
         "panic_actions": ["single", "hold"]},
        {"id": f"{sid}-office-panic", "kind": "wall", "location": list(offset(centre, -10, -10)),
         "place": "校长办公室", "source": "campusguard"},
    ]
    if plan.boarding:
        buttons.append({"id": f"{sid}-dorm-panic", "kind": "wall", "location": list(offset(centre, -38, 30)),
                        "place": "宿管值班室", "source": "zigbee2mqtt", "external_id": f"{sid}/dorm_panic",
                        "panic_actions": ["hold"]})
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    x1, y1 = max(xs), max(ys)
    x0, y0 = x1 - (x1 - min(xs)) / 5, y1 - (y1 - min(ys)) / 5
    corner = [[round(x, 6), round(y, 6)] for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))]
    hours = [{"days": WEEKDAYS, "start": _Time(start), "end": _Time(end)}]
    checkpoints, patrol = patrols(sid, centre, gate, ring, plan.boarding)
    return {
        "id": sid, "name": plan.name, "timezone": TIMEZONE,
        "campus": {"type": "Polygon", "coordinates": [ring]},
        "address": f"{CITY[1]}{county.name}{town.name}{rng.choice(['建设路', '人民路', '学府路', '文昌路'])}"
                   f"{rng.randint(1, 199)}号",
        "stage": plan.stage, "pupils": plan.pupils, "boarding": plan.boarding,
        "hours": hours, "school_zone_speed_kmh": 30, "buses": buses, "panic_buttons": buttons,
        "cameras": cameras(sid, plan.name, shape, gate, net, plan.boarding, corridor=index == 0),
        "sensors": sensors,
        "restricted_areas": [{"id": f"{sid}-power-room", "name": "配电房",
                              "polygon": {"type": "Polygon", "coordinates": [corner]}}],
        "people": [*guards, people.next("school_admin")],
        "classes": classes,
        "checkpoints": checkpoints,
        "patrol": patrol,
    }


def build() -> dict[str, Any]:
    """Build the whole city as plain data."""
    people = People(random.Random(SEED))  # noqa: S311 - example data, not secrets
    counters = {"school": 0, "bus": 0, "gt06": 0}
    villages: set[str] = set()
    units = []
    for county in COUNTIES:
        towns = []
        for town in county.towns:
            schools = [school(county, town, plan, i, people, counters, villages) for i, plan in enumerate(town.schools)]
            # The township's centre school (中心校) runs its schools: its admin is the township's officer.
            towns.append({"id": town.id, "kind": town.kind, "name": town.name,
                          "people": [people.next("district_officer")], "schools": schools})
        officer = people.next("district_officer")
        if county.id == "junchuan":
            # A county officer who carries a GT06 tracker on inspection rounds.
            counters["gt06"] += 1
            officer["tracker"] = {"id": f"{officer['id']}-gt06", "source": "gt06",
                                  "external_id": f"86039200{counters['gt06']:07d}"}
        units.append({"id": county.id, "kind": county.kind, "name": county.name, "people": [officer],
                      "units": towns})
    city_id, city_name = CITY
    return {
        "version": 1,
        "organisation": {
            "id": city_id, "kind": "city", "name": city_name,
            "people": [people.next("district_admin"), people.next("auditor")],
            "units": units,
        },
    }


def render() -> str:
    """Return the example file's text."""
    header = [
        "# Example campusguard site file: a prefecture-level city in Henan shaped like Hebi (Asia/Shanghai), zh-CN.",
        "# Generated by scripts/make_example_city.py; edit the script, not this file.",
        "# Positions lie near the real city (WGS-84); names, people, phone numbers and devices are fictional.",
        "",
    ]
    body = yaml.dump(build(), Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=None,
                     width=120)
    return "\n".join(header) + body


def main() -> None:
    """Write the example (to OUTPUT, or the path given)."""
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main()
