"""Names for the generated basemap: street names read from a site's stops and addresses, and seeded pools.

A stop is usually named after the corner it stands on ("A St & Franklin St", "人民路与解放路交叉口"), so a stop
names two streets: the one the bus drives on and a cross street. A school's address names the street in front of
it. What no stop or address names comes from a pool in the site's own language (Chinese when the site's names
are), so a Chinese city's map reads in Chinese with no extra work.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

Language = Literal["en", "zh"]

_CJK = re.compile(r"[\u4e00-\u9fff]")
# Corner separators: "A St & B St", "A St / B St", "A St at B St", "人民路与解放路", "人民路和解放路".
_CORNER = re.compile(r"\s*(?:&|/|@|\bat\b|\band\b|与|和|、)\s*", re.IGNORECASE)
_NOISE = re.compile(r"\([^)]*\)|\uff08[^\uff09]*\uff09|交叉口$|路口$|站$")  # (...), full-width (...)
_STREET_WORD = re.compile(
    r"(?:\b(?:st|street|ave|avenue|rd|road|blvd|boulevard|dr|drive|ln|lane|ct|court|pl|place|way|pkwy|parkway|hwy|highway)\.?"
    r"|路|街|道|巷|大道)$", re.IGNORECASE)
_EN_ADDRESS = re.compile(r"^\s*\d+[\w-]*\s+([^,]+?)\s*(?:,|$)")
_ZH_ADMIN = re.compile(r"街道|省|市|区|县|镇|乡")  # 街道 first: a subdistrict, not a street
_ZH_STREET = re.compile(r"^(.+?(?:大道|路|街|巷|道))")

_EN_STEMS = (
    "Oak", "Willow", "Chestnut", "Hickory", "Spruce", "Poplar", "Sycamore", "Magnolia", "Juniper", "Laurel",
    "Hawthorn", "Alder", "Cypress", "Adams", "Jefferson", "Madison", "Monroe", "Jackson", "Harrison", "Tyler",
    "Polk", "Fillmore", "Pierce", "Prairie", "Meadow", "Bluff", "Ridge", "Summit", "Harvest", "Clover",
    "Sunflower", "Cottonwood", "Redbud", "Buffalo", "Pawnee", "Platte", "Sandhill", "Heron", "Orchid", "Lilac",
    "Vine", "Holly", "Briar", "Fremont", "Randolph", "Franklin", "Lowell", "Woodland", "Hillside", "Lakeview",
)
_EN_SUFFIXES = ("St", "Ave", "Rd", "Dr", "Ln", "Ct")
# The grid's two directions take disjoint suffixes, so a line of one can never share a name with one of the other.
_EN_GRID_SUFFIXES = (("St", "Rd", "Ln"), ("Ave", "Dr", "Ct"))
_EN_PLACES = (
    "Meadowlark", "Prairie Hills", "Oak Ridge", "Riverside", "Sunnyslope", "Eastridge", "Highlands", "Woodsdale",
    "Fairview", "Bethany Heights", "College View", "Piedmont", "Cotswold", "Edgewood", "Near South", "Havelock",
    "Belmont", "Woodbine", "Arnold Heights", "Hartley", "Clinton", "Indian Village", "Irvingdale", "Country Club",
    "Colonial Hills", "Vintage Heights", "Wilderness Park", "Landon's", "Huntington", "Knolls", "Taylor Park",
)
_ZH_STEMS = (
    "和平", "建设", "解放", "人民", "中山", "文化", "青年", "新华", "胜利", "光明", "幸福", "长江", "黄河", "朝阳",
    "东风", "红旗", "团结", "民主", "工业", "学府", "育才", "书院", "春晖", "桂花", "梧桐", "银杏", "枫林", "翠柳",
    "丹桂", "金桥", "永安", "兴隆", "富民", "振兴", "安居", "康乐", "滨河", "湖滨", "望江", "迎宾", "青松", "紫荆",
)
_ZH_SUFFIXES = ("路", "街", "路", "巷")
_ZH_GRID_SUFFIXES = (("路",), ("街", "巷"))
_ZH_PLACES = ("东城", "西苑", "南湖", "北岸", "阳光", "锦绣", "翠园", "金色", "滨江", "新村", "花园", "书香", "和谐",
              "康宁", "福安", "龙泉", "凤鸣", "桃源", "青山", "绿洲", "明珠", "星河", "春江", "月湖", "荷塘", "柳岸")

# What each kind of generated place is called, per language; {name} is a street's or a pool's stem.
_KINDS: dict[str, dict[Language, str]] = {
    "park": {"en": "{name} Park", "zh": "{name}公园"},
    "river": {"en": "{name} Creek", "zh": "{name}河"},
    "pond": {"en": "{name} Lake", "zh": "{name}湖"},
    "place": {"en": "{name}", "zh": "{name}社区"},
    "hospital": {"en": "{name} Hospital", "zh": "{name}医院"},
    "police": {"en": "{name} Police Station", "zh": "{name}派出所"},
    "fire_station": {"en": "{name} Fire Station", "zh": "{name}消防救援站"},
    "library": {"en": "{name} Library", "zh": "{name}图书馆"},
    "post_office": {"en": "{name} Post Office", "zh": "{name}邮政所"},
    "depot": {"en": "{name} Bus Depot", "zh": "{name}校车停车场"},
}


def language_of(names: Iterable[str]) -> Language:
    """Tell the site's language from its names: Chinese when any name holds a CJK character."""
    return "zh" if any(_CJK.search(name) for name in names) else "en"


def stop_streets(stop_name: str) -> tuple[str, ...]:
    """Give the streets a stop's name says it stands on, in order; none when it names a place instead.

    "A St & Franklin St" gives both; "Antelope Park Elementary (front entrance)" gives none, since a one-part
    name is a street only when it reads like one ("O St", "人民路").
    """
    cleaned = _NOISE.sub("", stop_name.strip()).strip()
    parts = tuple(p.strip() for p in _CORNER.split(cleaned) if p and p.strip())
    parts = tuple(p for p in parts if len(p) <= 40)
    if len(parts) == 1 and not _STREET_WORD.search(parts[0]):
        return ()
    return parts


def address_street(address: str | None) -> str | None:
    """Give the street of an address: "6420 A St, Lincoln, NE" gives "A St", "西湖区文三路90号" gives "文三路"."""
    if not address:
        return None
    if _CJK.search(address):
        for piece in reversed(_ZH_ADMIN.split(address)):
            found = _ZH_STREET.match(piece.strip())
            if found:
                return found.group(1)
        return None
    found = _EN_ADDRESS.match(address)
    return found.group(1).strip() if found else None


def stem(street: str) -> str:
    """Give a street's name without its suffix, to name what lies on it ("Elm St" → "Elm", "人民路" → "人民")."""
    trimmed = _STREET_WORD.sub("", street).strip()
    return trimmed or street


@dataclass
class NamePool:
    """Seeded names in the site's language, never one already taken (by the site or by an earlier draw)."""

    language: Language
    rng: random.Random
    taken: set[str] = field(default_factory=set)
    seed: int = 0

    def grid_street(self, axis: int, index: int) -> str:
        """Name the grid's line ``index`` on ``axis`` from the seed alone, never from the rest of the site.

        So a line keeps its name whoever looks at the map and whatever is added far away: its stem comes from a
        seeded permutation of the stems (distinct within each run of them), its suffix from the axis.
        """
        stems = _ZH_STEMS if self.language == "zh" else _EN_STEMS
        suffixes = (_ZH_GRID_SUFFIXES if self.language == "zh" else _EN_GRID_SUFFIXES)[axis]
        joiner = "" if self.language == "zh" else " "
        order = random.Random(f"{self.seed}:grid:{axis}").sample(stems, len(stems))  # noqa: S311 - names
        run, at = divmod(index, len(stems))
        run = 2 * run if run >= 0 else -2 * run - 1  # runs ..., -1, 0, 1, ... as 1, 0, 2, ...: each its number
        suffix = random.Random(f"{self.seed}:grid:{axis}:{index}").choice(suffixes)  # noqa: S311 - names
        name = joiner.join([order[at], *([self._nth(run)] if run else []), suffix])
        if name in self.taken:  # a street the site itself names: this line takes a number no run uses
            name = joiner.join([order[at], self._nth(run + 1000), suffix])
        self.taken.add(name)
        return name

    def street(self) -> str:
        """Draw a street name."""
        stems, suffixes = (_ZH_STEMS, _ZH_SUFFIXES) if self.language == "zh" else (_EN_STEMS, _EN_SUFFIXES)
        joiner = "" if self.language == "zh" else " "
        return self._draw(lambda: f"{self.rng.choice(stems)}{joiner}{self.rng.choice(suffixes)}",
                          lambda n: joiner.join([self.rng.choice(stems), self._nth(n), self.rng.choice(suffixes)]))

    def stem(self) -> str:
        """Draw a bare stem (for a creek, a lake)."""
        stems = _ZH_STEMS if self.language == "zh" else _EN_STEMS
        joiner = "" if self.language == "zh" else " "
        return self._draw(lambda: self.rng.choice(stems), lambda n: f"{self.rng.choice(stems)}{joiner}{self._nth(n)}")

    def place(self) -> str:
        """Draw a neighbourhood's name."""
        places = _ZH_PLACES if self.language == "zh" else _EN_PLACES
        return self.kind("place", self._draw(lambda: self.rng.choice(places),
                                             lambda n: f"{self.rng.choice(places)} {self._nth(n)}"))

    def kind(self, kind: str, name: str) -> str:
        """Name a kind of place after ``name`` ("Oak" → "Oak Park"), in the site's language."""
        return _KINDS[kind][self.language].format(name=name)

    def _nth(self, n: int) -> str:
        # A second "Oak St" becomes "Oak 2nd St"-like "Oak 2 St"; in Chinese a directional word, as streets do.
        if self.language == "zh":
            return "东西南北中新"[n % 6] + ("" if n < 6 else str(n // 6 + 1))
        return str(n)

    def _draw(self, plain: Callable[[], str], numbered: Callable[[int], str]) -> str:
        # A pool is finite: after a few collisions the names take a number ("Oak 2 St"), still distinct.
        for attempt in range(200):
            name = plain() if attempt < 40 else numbered(attempt - 38)
            if name not in self.taken:
                self.taken.add(name)
                return name
        raise RuntimeError("name pool exhausted")  # pragma: no cover - 200 draws over 50 stems x 6 suffixes
