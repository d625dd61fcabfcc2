"""Load and check a site file, reporting every error with its path in the tree and its line in the file.

Checking happens in three passes, each reporting everything it finds: YAML syntax (and duplicate keys,
which PyYAML would otherwise silently resolve to the last value), the pydantic models, and - only once the
models accept the file - the rules that span the tree (``checks.py``). Lines come from walking PyYAML's
composed node tree along each error's path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from domain.site.checks import Loc, cross_checks, loc_to_path
from domain.site.models import Site


@dataclass(frozen=True)
class SiteError:
    """One problem in a site file: where in the tree, which line (1-based) if known, and what is wrong."""

    path: str
    line: int | None
    message: str


class SiteInvalid(Exception):  # noqa: N818 - the name the rest of the code base uses
    """The site file has errors; ``errors`` lists all of them, sorted by line."""

    def __init__(self, errors: list[SiteError]) -> None:
        super().__init__(f"{len(errors)} error(s) in the site file")
        self.errors = errors


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's base-60 numbers, so an unquoted 12:30 stays the text "12:30"."""


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp) for tag, regexp in resolvers if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _line_of(root: Node | None, loc: Loc) -> int | None:
    """Return the 1-based line of the deepest node along ``loc`` that exists in the file."""
    if root is None:
        return None
    node: Node = root
    line = root.start_mark.line + 1
    for part in loc:
        if isinstance(node, MappingNode) and isinstance(part, str):
            # The last of duplicate keys is the one PyYAML constructs, so it is the one to point at.
            matches = [(k, v) for k, v in node.value if isinstance(k, ScalarNode) and k.value == part]
            if not matches:
                break
            key, node = matches[-1]
            line = key.start_mark.line + 1
        elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _duplicate_keys(node: Node, loc: Loc) -> list[tuple[Loc, int, str]]:
    found: list[tuple[Loc, int, str]] = []
    if isinstance(node, MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = key.value if isinstance(key, ScalarNode) else ""
            if name in seen:
                found.append(((*loc, name), key.start_mark.line + 1, f"duplicate key {name!r}"))
            seen.add(name)
            found += _duplicate_keys(value, (*loc, name))
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            found += _duplicate_keys(item, (*loc, index))
    return found


def _message(error: ErrorDetails) -> str:
    """Phrase a pydantic error for a person editing YAML."""
    kind, loc = error["type"], error["loc"]
    if kind == "site_rule":
        return error["msg"]
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r}" if loc else "unknown key"
    if kind == "missing":
        return f"missing required key {loc[-1]!r}" if loc else "missing required key"
    if kind == "too_short":
        ctx = error.get("ctx", {})
        return f"needs at least {ctx.get('min_length')} item(s), has {ctx.get('actual_length')}"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if isinstance(value, str | int | float | bool) or value is None:
        message += f" (got {value!r})"
    return message


def _structural(data: Any, root: Node) -> tuple[Site | None, list[SiteError]]:
    try:
        return Site.model_validate(data), []
    except ValidationError as invalid:
        details = invalid.errors()
        errors = []
        for error in details:
            if error["type"] == "too_short" and any(
                other["loc"][: len(error["loc"])] == error["loc"] and len(other["loc"]) > len(error["loc"])
                for other in details
            ):
                # Pydantic counts only the items that validated, so a list with one bad item also reads
                # as "too short"; the item's own error is the one worth reading.
                continue
            # Rules over a whole list point below their own location through ctx["at"] (geometry.py).
            loc: Loc = (*error["loc"], *error.get("ctx", {}).get("at", ()))
            errors.append(SiteError(loc_to_path(loc), _line_of(root, loc), _message(error)))
        return None, errors


def check_site(text: str, filename: str) -> tuple[Site | None, list[SiteError]]:
    """Check a site file's text; return the site (only when there are no errors) and every error.

    ``filename`` names the file in syntax messages only; paths and lines locate each error.
    """
    try:
        root = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as bad:
        mark = bad.problem_mark or bad.context_mark
        problem = " ".join(filter(None, (bad.context, bad.problem)))
        line = mark.line + 1 if mark else None
        return None, [SiteError("", line, f"YAML syntax error in {filename}: {problem}")]
    except yaml.YAMLError as bad:
        return None, [SiteError("", None, f"YAML error in {filename}: {bad}")]
    if root is None or not isinstance(data, dict):
        line = _line_of(root, ())
        return None, [SiteError("", line, "the site file must be a mapping with 'version' and 'organisation'")]

    errors = [SiteError(loc_to_path(loc), line, message) for loc, line, message in _duplicate_keys(root, ())]
    site, structural = _structural(data, root)
    errors += structural
    if site is not None:
        for finding in cross_checks(site):
            message = finding.message
            if finding.other is not None and (other_line := _line_of(root, finding.other)) is not None:
                message += f" (line {other_line})"
            errors.append(SiteError(loc_to_path(finding.loc), _line_of(root, finding.loc), message))
    errors.sort(key=lambda e: (e.line is None, e.line or 0, e.path))
    return (site if not errors else None), errors


def load_site(path: Path) -> Site:
    """Read and check a site file; raise :class:`SiteInvalid` listing every error."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as bad:
        raise SiteInvalid([SiteError("", None, f"{path.name} is not UTF-8 text: {bad.reason}")]) from None
    site, errors = check_site(text, path.name)
    if site is None:
        raise SiteInvalid(errors)
    return site


def format_errors(errors: list[SiteError], filename: str) -> str:
    """Render errors one per line as ``file:line: path: message``, the form editors jump to."""
    lines = []
    for error in errors:
        where = f"{filename}:{error.line}" if error.line is not None else filename
        lines.append(f"{where}: {error.path}: {error.message}" if error.path else f"{where}: {error.message}")
    return "\n".join(lines)
