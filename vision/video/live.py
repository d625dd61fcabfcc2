"""Live view: one ffmpeg per watched camera remuxing RTSP to MPEG-TS, fanned out to every viewer of it.

Nobody watching costs nothing: the upstream starts with the first viewer and stops when the last one leaves.
Output is cut into whole 188-byte transport packets, so every viewer's stream begins on a packet boundary. A
viewer who joins a running upstream first gets the latest PAT and PMT and everything since the last keyframe
(the packet ffmpeg marks ``random_access_indicator``), so its player starts drawing at once rather than after
the next keyframe. A viewer whose queue fills (a slow network) is dropped with a ``None``, never allowed to
hold the others back or to grow memory; a ``None`` also tells every viewer that the camera's stream ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from vision.video.ffmpeg import live_command

log = logging.getLogger(__name__)

TS = 188
"""Bytes in one MPEG transport stream packet."""
GOP_LIMIT = 8 << 20
"""Most bytes kept since the last keyframe for late joiners (a camera with no keyframes keeps none)."""

Chunk = bytes | None
"""What a viewer's queue carries: stream bytes, or None when the stream ended for it."""


def packet_pid(packet: bytes) -> int:
    """Return the PID of one transport packet."""
    return ((packet[1] & 0x1F) << 8) | packet[2]


def is_random_access(packet: bytes) -> bool:
    """Whether a transport packet starts a keyframe (its adaptation field's random_access_indicator)."""
    has_adaptation = (packet[3] >> 4) & 0x2
    return bool(has_adaptation) and packet[4] > 0 and bool(packet[5] & 0x40)


def pmt_pids(pat: bytes) -> frozenset[int]:
    """List the PMT PIDs a PAT packet names (program 0, the network PID, left out)."""
    start = 5 + pat[4]  # after the header and the pointer field
    length = ((pat[start + 1] & 0x0F) << 8) | pat[start + 2]
    entries = pat[start + 8: start + 3 + length - 4]  # between the section header and its CRC
    return frozenset(((entries[i + 2] & 0x1F) << 8) | entries[i + 3] for i in range(0, len(entries) - 3, 4)
                     if (entries[i] << 8 | entries[i + 1]) != 0)


@dataclass(eq=False)
class _Upstream:
    """One camera's ffmpeg and the viewers it feeds."""

    camera_id: str
    process: asyncio.subprocess.Process
    viewers: set[asyncio.Queue[Chunk]] = field(default_factory=set)
    pat: bytes = b""
    pmt: dict[int, bytes] = field(default_factory=dict)
    gop: bytearray = field(default_factory=bytearray)
    task: asyncio.Task[None] | None = None

    def catch_up(self) -> bytes:
        """Return what a new viewer needs first: the tables, then everything since the last keyframe."""
        if not self.gop or not self.pat:
            return b""
        return self.pat + b"".join(self.pmt.values()) + bytes(self.gop)

    def take(self, data: bytes) -> None:
        """Note the tables and the latest keyframe's group of pictures from whole packets ``data``."""
        for offset in range(0, len(data), TS):
            packet = data[offset: offset + TS]
            pid = packet_pid(packet)
            if pid == 0:
                self.pat = packet
                self.pmt = {p: self.pmt.get(p, b"") for p in pmt_pids(packet)}
            elif pid in self.pmt:
                self.pmt[pid] = packet
            if is_random_access(packet) or len(self.gop) > GOP_LIMIT:
                self.gop.clear()
            self.gop += packet


class LiveRelay:
    """The live upstreams of one web process, keyed by camera id."""

    def __init__(self, ffmpeg: str = "ffmpeg", queue_chunks: int = 512) -> None:
        """Relay with this ffmpeg; a viewer more than ``queue_chunks`` reads behind is dropped."""
        self.ffmpeg = ffmpeg
        self.queue_chunks = queue_chunks
        self.started = 0
        """How many upstreams were started (one per camera while anyone watches it)."""
        self._upstreams: dict[str, _Upstream] = {}
        self._lock = asyncio.Lock()

    def viewers(self, camera_id: str) -> int:
        """How many viewers the camera's upstream feeds now (0: no upstream)."""
        upstream = self._upstreams.get(camera_id)
        return len(upstream.viewers) if upstream else 0

    @property
    def upstreams(self) -> int:
        """How many upstreams run now."""
        return len(self._upstreams)

    @contextlib.asynccontextmanager
    async def watch(self, camera_id: str, url: str) -> AsyncIterator[asyncio.Queue[Chunk]]:
        """Watch a camera: yield a queue of MPEG-TS bytes (None: ended) until the block is left."""
        queue: asyncio.Queue[Chunk] = asyncio.Queue(self.queue_chunks)
        async with self._lock:
            upstream = self._upstreams.get(camera_id)
            if upstream is None:
                upstream = await self._start(camera_id, url)
            if catch_up := upstream.catch_up():
                queue.put_nowait(catch_up)
            upstream.viewers.add(queue)
        try:
            yield queue
        finally:
            async with self._lock:
                upstream.viewers.discard(queue)
                if not upstream.viewers and self._upstreams.get(camera_id) is upstream:
                    await self._stop(upstream)

    async def _start(self, camera_id: str, url: str) -> _Upstream:
        """Start a camera's ffmpeg and its reading task (the caller holds the lock)."""
        process = await asyncio.create_subprocess_exec(
            *live_command(self.ffmpeg, url), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
        upstream = _Upstream(camera_id, process)
        upstream.task = asyncio.create_task(self._pump(upstream), name=f"live-{camera_id}")
        self._upstreams[camera_id] = upstream
        self.started += 1
        return upstream

    async def _stop(self, upstream: _Upstream) -> None:
        """Stop a camera's ffmpeg and forget it (the caller holds the lock)."""
        self._upstreams.pop(upstream.camera_id, None)
        if upstream.process.returncode is None:
            upstream.process.terminate()
            try:
                await asyncio.wait_for(upstream.process.wait(), 5)
            except TimeoutError:
                upstream.process.kill()
                await upstream.process.wait()
        if upstream.task is not None:
            upstream.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await upstream.task

    async def _pump(self, upstream: _Upstream) -> None:
        """Read ffmpeg's output in whole packets and hand each piece to every viewer."""
        stdout = upstream.process.stdout
        assert stdout is not None
        pending = b""
        while chunk := await stdout.read(64 * 1024):
            pending += chunk
            whole = len(pending) - len(pending) % TS
            data, pending = pending[:whole], pending[whole:]
            if not data:
                continue
            upstream.take(data)
            for queue in list(upstream.viewers):
                try:
                    queue.put_nowait(data)
                except asyncio.QueueFull:
                    log.info("camera %s: a live viewer fell behind and was dropped", upstream.camera_id)
                    upstream.viewers.discard(queue)
                    _end(queue)
        log.info("camera %s: live stream ended", upstream.camera_id)
        if self._upstreams.get(upstream.camera_id) is upstream:
            del self._upstreams[upstream.camera_id]
        await upstream.process.wait()  # reap it: the viewers leaving later find no upstream to stop
        for queue in list(upstream.viewers):
            _end(queue)


def _end(queue: asyncio.Queue[Chunk]) -> None:
    """Tell a viewer its stream ended, making room for the word if its queue is full."""
    while True:
        try:
            queue.put_nowait(None)
            return
        except asyncio.QueueFull:
            queue.get_nowait()
