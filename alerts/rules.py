"""Alert rules as configuration: which signal kinds open which incidents, how urgent, and what merges.

A rule file (``default_rules.yaml`` is the shipped one) is a list of rules tried in order; the first whose
``kind`` and ``when`` conditions match a signal decides it. A matching rule that is disabled means the
signal is ignored: switching a rule off never hands its signals to a broader rule further down.

A rule either *opens* incidents (``type``, ``severity``, ``title``) or *ends* them (``ends``: the incident
type whose situation the signal reports over, e.g. ``online`` ends ``device_offline``). Types in the same
``group`` merge with each other (default: a type merges only with itself) when within ``radius_m`` and
``window_s``; with ``same_source`` they merge only with incidents already holding evidence from the same
device, which is how a bus's events follow the bus rather than a place. Everything is validated at load,
with errors that name the path (``rules[3].severity``).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from domain.incident import Severity, Signal

DEFAULT_RULES = Path(__file__).with_name("default_rules.yaml")

_TEMPLATE_FIELDS = frozenset({"school_id", "source_id", "kind", "type", "severity"})


NEVER_CLEARS = frozenset({"panic", "drill"})
"""Incident types no signal ends: a pressed button is a person asking for help until a person answers."""


class RulesError(ValueError):
    """A rule file that does not validate; ``errors`` lists each problem as ``path: message``."""

    def __init__(self, errors: list[str]) -> None:
        """Keep every problem, so one load shows them all."""
        super().__init__("invalid alert rules:\n" + "\n".join(f"  {e}" for e in errors))
        self.errors = errors


class Rule(BaseModel):
    """One signal kind (narrowed by ``when``) and what it means for incidents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Annotated[str, Field(min_length=1, description="Signal kind it matches: panic, geo.route_deviated...")]
    when: Annotated[
        dict[str, str | bool | int | float],
        Field(description="Signal detail values that must all be equal for the rule to match."),
    ] = Field(default_factory=dict)
    type: Annotated[str | None, Field(pattern=r"^[a-z][a-z0-9_]*$", description="Incident type it opens.")] = None
    ends: Annotated[
        str | None, Field(pattern=r"^[a-z][a-z0-9_]*$", description="Incident type whose situation it ends.")
    ] = None
    severity: Annotated[Severity | None, Field(description="Severity of the incident it opens.")] = None
    title: Annotated[
        str | None,
        Field(min_length=1, description="Incident title; {school_id}, {source_id}, {kind}, {type}, {severity} "
              "and {detail key} are filled in."),
    ] = None
    title_key: Annotated[
        str | None,
        Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$",
              description="Message key the pages translate the title by (incident.title.panic), filled with the "
              "same fields as the title; none: every page shows the title as written."),
    ] = None
    group: Annotated[
        str | None, Field(min_length=1, description="Merge group; types in one group merge. Default: the type.")
    ] = None
    radius_m: Annotated[
        float | None, Field(gt=0, le=10_000, description="Merge only within this distance; none: school-wide.")
    ] = 150.0
    window_s: Annotated[
        float, Field(ge=0, le=86_400, description="Merge only with incidents active within this many seconds.")
    ] = 300.0
    same_source: Annotated[
        bool, Field(description="Merge only with incidents that already hold evidence from the same device.")
    ] = False
    enabled: Annotated[bool, Field(description="False: signals this rule matches are ignored.")] = True

    @field_validator("title")
    @classmethod
    def _template(cls, title: str | None) -> str | None:
        if title is None:
            return None
        try:
            parsed = list(string.Formatter().parse(title))
        except ValueError as bad:
            raise ValueError(f"title is not a valid template: {bad}") from None
        for _, name, spec, conversion in parsed:
            # Bare names only: attribute and index lookups in a format string reach into Python objects.
            if name is not None and (not name.isidentifier() or spec or conversion):
                raise ValueError(f"title field {{{name}}} must be a bare name like {{source_id}}")
        return title

    @model_validator(mode="after")
    def _opens_or_ends(self) -> Self:
        if (self.type is None) == (self.ends is None):
            raise ValueError("a rule gives either type (it opens incidents) or ends (it ends them)")
        if self.type is not None and (self.severity is None or self.title is None):
            raise ValueError("a rule that opens incidents needs severity and title")
        if self.ends is not None and (self.severity, self.title, self.group) != (None, None, None):
            raise ValueError("a rule that ends incidents takes no severity, title or group")
        if self.title_key is not None and self.title is None:
            raise ValueError("title_key translates the title: give the title too")
        if self.ends in NEVER_CLEARS:
            raise ValueError(f"nothing ends a {self.ends} incident: a person closes it")
        return self

    def matches(self, signal: Signal) -> bool:
        """Say whether the kind is the signal's and every ``when`` value equals the signal's detail."""
        return signal.kind == self.kind and all(
            key in signal.detail and signal.detail[key] == value for key, value in self.when.items()
        )

    def merge_group(self) -> str:
        """Name the group this rule's type merges in."""
        return self.group or self.type or ""

    def render_title(self, signal: Signal) -> str:
        """Fill the title template; a detail key the signal lacks reads as ``?`` rather than failing."""
        return (self.title or "").format_map(_Missing(self._values(signal)))

    def title_params(self, signal: Signal) -> dict[str, str]:
        """Give the values of the title's fields as text: what the pages fill :attr:`title_key`'s message with."""
        values = _Missing(self._values(signal))
        names = {name for _, name, _, _ in string.Formatter().parse(self.title or "") if name}
        return {name: str(values[name]) for name in sorted(names)}

    def _values(self, signal: Signal) -> dict[str, Any]:
        values: dict[str, Any] = {k: v for k, v in signal.detail.items() if isinstance(k, str)}
        return values | {"school_id": signal.school_id, "source_id": signal.source_id, "kind": signal.kind,
                         "type": self.type, "severity": self.severity}


class _Missing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


class RuleSet(BaseModel):
    """A whole rule file: a version and the ordered rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Annotated[int, Field(ge=1, le=1, description="File format version; only 1 exists.")]
    rules: Annotated[tuple[Rule, ...], Field(min_length=1, description="Rules, tried in order.")]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        groups: dict[str, str] = {}
        for index, rule in enumerate(self.rules):
            if rule.type is None:
                continue
            known = groups.setdefault(rule.type, rule.merge_group())
            if known != rule.merge_group():
                raise ValueError(f"rules[{index}]: type {rule.type!r} is in group {known!r} in an earlier rule, "
                                 f"not {rule.merge_group()!r}; one type merges in one group")
        for index, rule in enumerate(self.rules):
            if rule.ends is not None and rule.ends not in groups:
                raise ValueError(f"rules[{index}]: ends {rule.ends!r}, which no rule opens")
        return self

    def match(self, signal: Signal) -> Rule | None:
        """Return the first rule matching the signal (enabled or not), or None."""
        return next((rule for rule in self.rules if rule.matches(signal)), None)

    def group_of(self, incident_type: str) -> str:
        """Name the merge group of an incident type; an unknown type (a rule since removed) is its own group."""
        return next((r.merge_group() for r in self.rules if r.type == incident_type), incident_type)

    def types(self) -> Mapping[str, str]:
        """Every incident type the rules open, with its merge group."""
        return {r.type: r.merge_group() for r in self.rules if r.type is not None}


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top)"


def parse_rules(text: str) -> RuleSet:
    """Validate rule YAML; raises :class:`RulesError` listing every problem with its path."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as bad:
        raise RulesError([f"not valid YAML: {bad}"]) from None
    try:
        return RuleSet.model_validate(data)
    except ValidationError as invalid:
        errors = []
        details = invalid.errors()
        for error in details:
            loc = tuple(error["loc"])
            if error["type"] == "too_short" and any(len(o["loc"]) > len(loc) and tuple(o["loc"][: len(loc)]) == loc
                                                    for o in details):
                # Pydantic counts only the items that validated, so one bad rule also reads as "too few
                # rules"; the rule's own error is the one worth reading.
                continue
            message = error["msg"].removeprefix("Value error, ")
            errors.append(f"{_path(loc)}: {message}")
        raise RulesError(errors) from None


def load_rules(source: Path | str = DEFAULT_RULES) -> RuleSet:
    """Load rules from a file (a :class:`~pathlib.Path`) or from YAML text (a ``str``)."""
    if isinstance(source, Path):
        return parse_rules(source.read_text(encoding="utf-8"))
    return parse_rules(source)
