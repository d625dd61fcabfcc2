"""Start the TimescaleDB-in-WASM test engine (PGlite) and hand back a libpq URL for it.

There is no native TimescaleDB on the CI machines, so the TimescaleDB-specific SQL of the store
runs against PGlite (PostgreSQL 17 compiled to WebAssembly) with the TimescaleDB extension, served
over the PostgreSQL wire protocol by ``tools/pglite/server.mjs``. psycopg connects to it like to any
server, so the migration runner and the query functions run unchanged on both engines.

The engine is one PostgreSQL session: it serves **one client connection at a time** (a second
connection waits for the first to close, then is refused after ``conn_wait_ms``). Background jobs
never run by themselves; call ``CALL run_job(<id>)``. ``COPY ... FROM STDIN`` is refused with
SQLSTATE 0A000. See ``tools/pglite/README.md``.

Example::

    with start_pglite(tmp_path) as url:
        with psycopg.connect(url) as conn:
            conn.execute("SELECT 1")
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["PGLITE_DIR", "PGliteError", "pglite_available", "start_pglite"]

PGLITE_DIR = Path(__file__).resolve().parent.parent / "tools" / "pglite"
"""The node project holding ``server.mjs`` and its ``node_modules``."""

_SERVER = PGLITE_DIR / "server.mjs"
_PACKAGE = PGLITE_DIR / "node_modules" / "@electric-sql" / "pglite" / "package.json"
_READY = re.compile(r"^READY port=(\d+)\b")
_INSTALL_HINT = "run `npm ci --prefix tools/pglite` (from the repository root) to install the engine"


class PGliteError(RuntimeError):
    """The PGlite engine could not be started or died."""


def _missing_prerequisite() -> str | None:
    """Say what is missing to run the engine, or None when everything is there."""
    if shutil.which("node") is None:
        return f"`node` (Node.js >= 20) is not on PATH; install it, then {_INSTALL_HINT}"
    if not _SERVER.is_file():
        return f"{_SERVER} is missing"
    if not _PACKAGE.is_file():
        return f"{PGLITE_DIR / 'node_modules'} is missing or incomplete; {_INSTALL_HINT}"
    return None


def pglite_available() -> bool:
    """Tell whether node and the engine's node_modules are installed (tests use it to skip)."""
    return _missing_prerequisite() is None


def _pump_stdout(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """Forward the server's stdout lines to ``lines``; None marks the end of the stream."""
    try:
        for line in stream:
            lines.put(line.rstrip("\n"))
    finally:
        lines.put(None)


def _log_tail(log_path: Path, limit: int = 4000) -> str:
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return text[-limit:]


@contextlib.contextmanager
def start_pglite(
    work_dir: Path,
    *,
    data_dir: Path | None = None,
    timescaledb: bool = True,
    startup_timeout: float = 90.0,
    conn_wait_ms: int = 10_000,
) -> Iterator[str]:
    """Run the PGlite/TimescaleDB engine for the duration of the ``with`` block.

    Args:
        work_dir: folder for the server's log (``pglite-server.log``); created if missing.
        data_dir: keep the database in this folder; in memory when None (the default).
        timescaledb: load the TimescaleDB extension and ``CREATE EXTENSION timescaledb``.
        startup_timeout: seconds to wait for the server's ready line.
        conn_wait_ms: how long a second connection waits for the first to close.

    Yields:
        A libpq connection URL (``postgresql://postgres@127.0.0.1:PORT/template1?sslmode=disable``).

    Raises:
        PGliteError: node or the engine's node_modules are missing (the message says to run
            ``npm ci --prefix tools/pglite``), or the server did not become ready in time.
    """
    missing = _missing_prerequisite()
    if missing is not None:
        raise PGliteError(f"cannot start the PGlite engine: {missing}")
    node = shutil.which("node")
    assert node is not None  # checked by _missing_prerequisite
    work_dir.mkdir(parents=True, exist_ok=True)
    log_path = work_dir / "pglite-server.log"
    args = [
        node,
        str(_SERVER),
        "--port",
        "0",
        "--host",
        "127.0.0.1",
        "--conn-wait-ms",
        str(conn_wait_ms),
        "--exit-on-stdin-close",
    ]
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        args += ["--data-dir", str(data_dir)]
    if not timescaledb:
        args.append("--no-timescaledb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGLITE_")}

    with log_path.open("a", encoding="utf-8") as log:
        proc = subprocess.Popen(  # noqa: S603  (fixed argv, no shell)
            args,
            cwd=PGLITE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            text=True,
            encoding="utf-8",
        )
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_pump_stdout, args=(proc.stdout, lines), name="pglite-stdout", daemon=True)
    reader.start()
    try:
        port = _wait_ready(proc, lines, log_path, startup_timeout)
        yield f"postgresql://postgres@127.0.0.1:{port}/template1?sslmode=disable"
        if proc.poll() is not None:
            raise PGliteError(
                f"the PGlite engine died during the run (exit code {proc.returncode}); log tail:\n{_log_tail(log_path)}"
            )
    finally:
        _stop(proc)
        reader.join(timeout=5)
        proc.stdout.close()


def _wait_ready(proc: subprocess.Popen[str], lines: queue.Queue[str | None], log_path: Path, timeout: float) -> int:
    """Block until the server prints its READY line; return the port it listens on."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PGliteError(
                f"the PGlite engine did not get ready within {timeout:.0f}s; "
                f"log tail ({log_path}):\n{_log_tail(log_path)}"
            )
        try:
            line = lines.get(timeout=min(remaining, 0.5))
        except queue.Empty:
            continue
        if line is None:
            proc.wait(timeout=5)
            raise PGliteError(
                f"the PGlite engine exited before it got ready (exit code {proc.returncode}); "
                f"log tail ({log_path}):\n{_log_tail(log_path)}"
            )
        match = _READY.match(line)
        if match:
            return int(match.group(1))


def _stop(proc: subprocess.Popen[str]) -> None:
    """Ask the server to exit (stdin EOF, then SIGTERM), kill it if it does not."""
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
