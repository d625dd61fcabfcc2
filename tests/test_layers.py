"""The layers, written once: every product module imports only from its own package or a lower layer.

    campusguard          the composition root: settings, the command line, wiring, demo, simulator, drill
    command_ui           the web server and its pages, on what it shows
    ingest geo vision alerts    the stages: siblings, none imports another
    store                every SQL statement and every contract between processes
    domain               typed values and their validation; imports nothing of ours

``devtools`` (local services, test harnesses) sits beside the product: it may use the domain, and no product
module imports it. ``campusguard/__init__`` is importable by all for the version alone.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"domain"}),
    frozenset({"store"}),
    frozenset({"ingest", "geo", "vision", "alerts"}),
    frozenset({"command_ui"}),
    frozenset({"campusguard"}),
)
PRODUCT = frozenset().union(*LAYERS)
ASIDE = {"devtools": frozenset({"domain"})}  # what a package beside the product may import


def _layer(package: str) -> int:
    return next(n for n, members in enumerate(LAYERS) if package in members)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module this file imports (at any depth, lazily or not), with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def allowed(importer: str, imported: str, name: str) -> bool:
    """Whether package ``importer`` may import module ``name`` of package ``imported``."""
    if importer == imported or imported not in PRODUCT | ASIDE.keys():
        return True
    if importer in ASIDE:
        return imported in ASIDE[importer]
    if imported in ASIDE:
        return False
    if imported == "campusguard" and name == "campusguard":
        return True  # `from campusguard import __version__`
    return _layer(imported) < _layer(importer)


def violations() -> list[str]:
    """List every import that goes up, sideways between stages, or into devtools."""
    out = []
    for package in sorted(PRODUCT | ASIDE.keys()):
        for path in sorted((REPO / package).rglob("*.py")):
            for line, name in _imports(path):
                imported = name.split(".")[0]
                if not allowed(package, imported, name):
                    out.append(f"{path.relative_to(REPO)}:{line} imports {name}")
    return out


def test_no_module_imports_upward_sideways_or_into_devtools() -> None:
    assert violations() == []


@pytest.mark.parametrize(("importer", "name", "ok"), [
    ("store", "domain.messages", True), ("domain", "store.db", False), ("geo", "ingest.spool", False),
    ("alerts", "store.db", True), ("store", "alerts.rules", False), ("command_ui", "alerts.service", True),
    ("ingest", "campusguard.settings", False), ("ingest", "campusguard", True), ("vision", "devtools.pglite", False),
    ("devtools", "domain.broker", True), ("devtools", "store.db", False), ("campusguard", "command_ui.app", True),
])
def test_the_rule_itself(importer: str, name: str, ok: bool) -> None:
    assert allowed(importer, name.split(".")[0], name) is ok


SQL = re.compile(r"\bSELECT\s.+\sFROM\b|\bSELECT\s+pg_|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b"
                 r"|\bLISTEN\s+\{", re.DOTALL)
# The ingest spool is the stage's own SQLite file on its own disk, not the database the processes share.
OWN_SQL = {"ingest/spool.py"}


def _sql_literals(path: Path) -> list[int]:
    """Lines of string literals (docstrings aside) that hold an SQL statement."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):  # an f-string: its literal parts around the placeholders
            text = " x ".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            text = node.value
        else:
            continue
        if SQL.search(text):
            found.append(node.lineno)
    return found


def test_only_the_store_writes_sql() -> None:
    found = [f"{path.relative_to(REPO)}:{line}" for package in sorted(PRODUCT - {"store"})
             for path in sorted((REPO / package).rglob("*.py")) if str(path.relative_to(REPO)) not in OWN_SQL
             for line in _sql_literals(path)]
    assert found == []


def test_the_sql_check_sees_sql() -> None:
    assert _sql_literals(REPO / "store" / "queries.py")
