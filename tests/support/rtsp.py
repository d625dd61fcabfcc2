"""A private RTSP camera server for a test: devtools/rtsp_server.py run by Debian's python3 on a port of its own.

The server plays every subfolder of ``root`` (JPEG frames, as :func:`campusguard.simulate.clips.write_frames`
writes them) as ``rtsp://127.0.0.1:PORT/<folder>``. A test can stop and start it again on the same port (a
camera rebooting) or pause it with SIGSTOP (a stalled camera: the TCP connection stays open, no data flows).
Folders are scanned when the server starts, so write the clips first, or restart after adding one.

The server needs GObject introspection, which only ``/usr/bin/python3`` has (python3-gi and friends, from
scripts/bootstrap.sh); :func:`unavailable_reason` says why it cannot run, for a skip.
"""

from __future__ import annotations

import selectors
import signal
import subprocess
import tempfile
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import IO, Self

SYSTEM_PYTHON = Path("/usr/bin/python3")
"""Debian's interpreter: the only one with GObject introspection (python3-gi)."""

SERVER_SCRIPT = Path(__file__).resolve().parents[2] / "devtools" / "rtsp_server.py"
"""The standalone server script."""


def unavailable_reason() -> str | None:
    """Return why the RTSP server cannot run on this machine, or None when it can."""
    if not SYSTEM_PYTHON.is_file():
        return f"{SYSTEM_PYTHON} is missing (the RTSP server needs Debian's python3 with python3-gi)"
    probe = subprocess.run(  # fixed arguments, no input
        [str(SYSTEM_PYTHON), "-c", "import gi"], capture_output=True, text=True, timeout=30, check=False
    )
    if probe.returncode != 0:
        return f"{SYSTEM_PYTHON} cannot import gi (python3-gi, see scripts/bootstrap.sh): {probe.stderr.strip()}"
    return None


def _kill(process: subprocess.Popen[str]) -> None:
    """Kill a server process that is still running (a last resort at garbage collection or interpreter exit)."""
    if process.poll() is None:
        process.kill()
        process.wait()


class RtspServer:
    """One RTSP server process serving the camera folders under ``root``; a context manager.

    The first :meth:`start` lets the server pick a free port (it binds port 0, so no other process can take
    the port between choosing and binding); later starts reuse that port, so URLs stay valid across a restart.
    """

    def __init__(self, root: Path, *, fps: int = 5, host: str = "127.0.0.1", ready_timeout: float = 30.0,
                 script: Path = SERVER_SCRIPT) -> None:
        """Describe the server; nothing runs until :meth:`start` (``script``: rtsp_h264_server.py for H.264)."""
        self.root = root
        self.script = script
        self.fps = fps
        self.host = host
        self.ready_timeout = ready_timeout
        self._port = 0
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None
        self._finalizer: weakref.finalize[[subprocess.Popen[str]], RtspServer] | None = None
        self._paused = False
        self.cameras: frozenset[str] = frozenset()
        """The folders served since the last start (the server scans them only then)."""
        self.exit_status: int | None = None
        """How the last server process ended (0: a clean exit on SIGTERM); None before the first stop."""

    @property
    def port(self) -> int:
        """The TCP port, known once the server has started."""
        if not self._port:
            raise RuntimeError("the RTSP server has not started yet")
        return self._port

    @property
    def running(self) -> bool:
        """Whether the server process is alive (paused counts as alive)."""
        return self._process is not None and self._process.poll() is None

    def url(self, name: str) -> str:
        """The RTSP URL of the camera folder ``root/<name>``."""
        return f"rtsp://{self.host}:{self.port}/{name}"

    def start(self) -> None:
        """Start the server (on the same port as before, after a stop) and wait until it listens."""
        if self.running:
            raise RuntimeError("the RTSP server is already running")
        # The same rule as the server's, read just before it scans.
        folders = self.root.iterdir() if self.root.is_dir() else iter(())
        self.cameras = frozenset(p.name for p in folders if (p / "00000.jpg").is_file())
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115  # closed in stop
        command = [str(SYSTEM_PYTHON), str(self.script), "--root", str(self.root), "--port", str(self._port)]
        command += ["--fps", str(self.fps), "--host", self.host]
        # Its own session, so a Ctrl-C in the terminal reaches pytest, which then stops the server in order.
        process = subprocess.Popen(  # our own script, fixed arguments
            command, stdout=subprocess.PIPE, stderr=self._stderr, text=True, start_new_session=True
        )
        self._process = process
        self._finalizer = weakref.finalize(self, _kill, process)
        self._paused = False
        try:
            self._port = self._await_ready(process)
        except BaseException:
            self.stop()
            raise

    def _await_ready(self, process: subprocess.Popen[str]) -> int:
        """Read the server's READY line and return its port; raise with its stderr when it fails or hangs."""
        assert process.stdout is not None
        deadline = time.monotonic() + self.ready_timeout
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while (left := deadline - time.monotonic()) > 0:
                if not selector.select(left):
                    continue
                line = process.stdout.readline()
                if line.startswith("READY "):
                    return int(line.split()[1].rsplit(":", 1)[1].strip("/"))
                if not line:  # end of file: the server died before it listened
                    process.wait(timeout=5)
                    raise RuntimeError(f"RTSP server exited with status {process.returncode}: {self._log()}")
        raise TimeoutError(f"RTSP server not ready after {self.ready_timeout:.0f} s: {self._log()}")

    def _log(self) -> str:
        """What the server wrote on stderr so far."""
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().strip() or "(nothing on stderr)"

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL if it lingers); a no-op when it is not running."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            if self._paused:  # a stopped process keeps SIGTERM pending until it continues
                process.send_signal(signal.SIGCONT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process is not None:
            self.exit_status = process.returncode
            if process.stdout is not None:
                process.stdout.close()
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self._paused = False

    def pause(self) -> None:
        """Freeze the server with SIGSTOP: connections stay open but no data flows, like a stalled camera."""
        self._signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """Let a paused server run on (SIGCONT)."""
        self._signal(signal.SIGCONT)
        self._paused = False

    def _signal(self, signum: signal.Signals) -> None:
        """Send ``signum`` to the running server."""
        if self._process is None or self._process.poll() is not None:
            raise RuntimeError("the RTSP server is not running")
        self._process.send_signal(signum)

    def __enter__(self) -> Self:
        """Start the server."""
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        """Stop the server."""
        self.stop()
