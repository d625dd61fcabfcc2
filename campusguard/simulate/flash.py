"""What simulated JT/T 808 terminals keep across power cycles: each one's authentication code, in a file.

A real terminal keeps the code its registration was answered with in flash and authenticates with it after a
restart; once used, the platform holds the number for that code (``store/terminal_repo.py``) and refuses a new
registration. A simulator that forgot its codes on exit would leave every demo bus unable to connect after a
restart, so the codes live here: a JSON object of number to code, owner-only, replaced whole on each change.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from pathlib import Path

log = logging.getLogger(__name__)


class Flash:
    """Codes by terminal number, read once and written through; thread-safe. Without a path, memory only."""

    def __init__(self, path: Path | None) -> None:
        """Read the file if there is one; an unreadable one is started afresh (its terminals register again)."""
        self.path = path
        self._lock = threading.Lock()
        self._codes: dict[str, str] = {}
        if path is not None and path.exists():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                log.warning("simulated terminals' codes in %s unreadable (%s); they register again", path, error)
            else:
                if isinstance(loaded, dict):
                    self._codes = {str(k): str(v) for k, v in loaded.items()}

    def code(self, phone: str) -> str | None:
        """Return the code a terminal keeps, if any."""
        with self._lock:
            return self._codes.get(phone)

    def keep(self, phone: str, code: str | None) -> None:
        """Store (or, with None, erase) a terminal's code."""
        with self._lock:
            if code is None:
                self._codes.pop(phone, None)
            else:
                self._codes[phone] = code
            if self.path is None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Written beside and renamed over: a crash mid-write leaves the old file, never half of one.
            fd, name = tempfile.mkstemp(dir=self.path.parent, prefix=".codes-")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(self._codes, out)
            Path(name).replace(self.path)  # mkstemp made it 0600: the codes are secrets
