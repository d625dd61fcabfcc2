"""The guard phone's service worker keeps every file the guard page is built from (static/sw.js SHELL).

A module the page imports, directly or through another module, that is missing from the precache list is a page
that does not open offline on a phone that never loaded it online. The list is checked against the page's
import graph, read from the files themselves: guard.html's links and scripts, then every path a reached module
names (its imports, and the stylesheets and scripts it adds at run time), transitively.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from command_ui.app import STATIC, VENDOR

# A path in quotes that names one of our files: "./x.js", "/static/...", "/vendor/...". Template strings with
# ${...} (the zh-CN manifest) are left out: the variants are listed by hand.
PATH_LITERAL = re.compile(r"""["'](\./[\w.-]+\.js|/(?:static|vendor)/[\w./-]+)["']""")
SHELL_LIST = re.compile(r"const SHELL = \[(.*?)\];", re.S)


class _Links(HTMLParser):
    """The local files an HTML page links: stylesheets, icons, the manifest, scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            # Links to other pages (/patrol) are not part of this page's shell.
            if name in ("href", "src") and value and value.startswith(("/static/", "/vendor/")):
                self.paths.add(value)


def _file(url: str) -> Path:
    """The file a URL of the app serves (command_ui/app.py mounts /static and each /vendor/NAME)."""
    if url.startswith("/static/"):
        return STATIC / url.removeprefix("/static/")
    name, rest = url.removeprefix("/vendor/").split("/", 1)
    return VENDOR[name] / rest


def guard_page_files() -> set[str]:
    """Every URL the guard page loads from this origin, following the modules' imports transitively."""
    links = _Links()
    links.feed((STATIC / "guard.html").read_text(encoding="utf-8"))
    found: set[str] = set(links.paths)
    queue = [p for p in found if p.endswith(".js")]
    while queue:
        url = queue.pop()
        # Vendor bundles are built files (Leaflet's ESM names no other file); only our own modules are read.
        if url.startswith("/vendor/"):
            continue
        base = url.rsplit("/", 1)[0]
        for literal in PATH_LITERAL.findall(_file(url).read_text(encoding="utf-8")):
            target = f"{base}/{literal.removeprefix('./')}" if literal.startswith("./") else literal
            if target not in found:
                found.add(target)
                if target.endswith(".js"):
                    queue.append(target)
    return found


def precached() -> set[str]:
    """The worker's SHELL list."""
    match = SHELL_LIST.search((STATIC / "sw.js").read_text(encoding="utf-8"))
    assert match, "static/sw.js has no `const SHELL = [...]`"
    return set(re.findall(r'"([^"]+)"', match.group(1)))


def test_the_precache_list_covers_the_guard_pages_import_graph() -> None:
    files = guard_page_files()
    # The graph is really followed: these are reached only through map-layers.js, two steps from guard-page.js.
    assert {"/static/js/basemap-layer.js", "/static/js/cluster.js", "/static/js/map-icons.js",
            "/vendor/markercluster/leaflet.markercluster.js"} <= files
    assert files - precached() == set()


def test_every_precached_file_exists() -> None:
    # A misspelt entry is skipped quietly at install (sw.js), so the test says it here instead.
    missing = [url for url in precached() if url.startswith(("/static/", "/vendor/")) and not _file(url).is_file()]
    assert missing == []
