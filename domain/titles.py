"""What a person is called where their role is shown: a message key from their role and the level of their unit.

Roles are capability classes (domain/site/models.py ``Role``), not titles: a city bureau's safety officer and a
township centre school's admin are both ``district_officer`` (or ``district_admin``), placed at different levels
of the tree. Chinese readers know them by the level's title (市教育局安全科, 县(区)教育局, 乡镇中心校), so the
interface shows the key this module picks; the catalogues (command_ui/static/js/i18n.js, ``title.*``) hold the
words. Pure: the caller reads the person's role and the kind of the unit they are scoped to.
"""

from __future__ import annotations

from typing import Literal

UnitLevel = Literal["city", "county", "township", "school", "class"]
"""The five levels of the tree: city (市), county or district (县/区), township (乡镇), school, class."""

# Site files name their units' kinds freely (lowercase words); these are the ones the examples and the field use.
# A county-level district (区) and a functional zone (开发区, 示范区) stand where a county does; an urban
# subdistrict (街道) where a township does, its schools led by a centre school as a township's are.
_LEVEL_OF_KIND: dict[str, UnitLevel] = {
    "city": "city", "prefecture": "city", "municipality": "city",
    "county": "county", "district": "county", "functional zone": "county", "zone": "county",
    "township": "township", "town": "township", "subdistrict": "township", "township centre school": "township",
    "school": "school", "class": "class",
}

# Roles whose title depends on the level they sit at; every other role has one title wherever it sits.
_LEVELLED = frozenset({"district_officer", "district_admin"})
_OFFICER_LEVELS: frozenset[UnitLevel] = frozenset({"city", "county", "township"})
ROLES = ("guard", "school_admin", "head_teacher", "district_officer", "district_admin", "auditor", "admin")
"""Every role a person may hold (the built-in ``admin`` included)."""


def unit_level(kind: str | None) -> UnitLevel | None:
    """Return the level a unit kind stands at; None for a kind this module does not know (or none)."""
    return None if kind is None else _LEVEL_OF_KIND.get(kind.strip().lower())


def title_key(role: str, level: UnitLevel | None) -> str:
    """Return the message key naming a person of ``role`` scoped at a unit of ``level``.

    ``title.<level>.<role>`` for an officer or admin at the city, a county or a township; ``title.<role>``
    otherwise (an unknown level falls back to the role's own title, never to nothing).
    """
    if role in _LEVELLED and level in _OFFICER_LEVELS:
        return f"title.{level}.{role}"
    return f"title.{role}" if role in ROLES else "title.unknown"


def all_title_keys() -> frozenset[str]:
    """Return every key :func:`title_key` can give (the catalogues must hold each)."""
    levelled = {f"title.{level}.{role}" for level in _OFFICER_LEVELS for role in _LEVELLED}
    return frozenset(levelled | {f"title.{role}" for role in ROLES} | {"title.unknown"})
