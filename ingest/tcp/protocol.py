"""What a binary device protocol gives the TCP listener, and the registry the listener finds it in.

A protocol frames a connection's byte stream (:meth:`StreamProtocol.split`) and handles each connection's
frames in a :class:`StreamSession`: it turns them into envelopes to spool (raw, with a topic it names), the
panics to hand the fast path at once, and the answers the terminal is owed. The listener spools the envelopes
(fsync) before it writes a single answer, so a terminal retransmits whatever was not taken.

Adding a protocol is adding one module ``ingest/tcp/<name>.py`` that calls :func:`register`; the listener
imports it by the name its settings give.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from domain.messages import PanicPressed
from ingest.decoders import Limits
from ingest.directory import Directory
from ingest.messages import Rejection
from ingest.spool import Envelope


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a batch of frames from one connection came to."""

    envelopes: tuple[Envelope, ...] = ()
    panics: tuple[PanicPressed, ...] = ()
    replies: tuple[bytes, ...] = ()  # written only after the envelopes are in the spool
    close: bool = False
    # Called once the envelopes are in the spool: state that must not move ahead of what was taken.
    commit: Callable[[], None] | None = field(default=None, compare=False)


class StreamSession(Protocol):
    """One connection's protocol state (who authenticated, half-received sub-packages, answer serials)."""

    @property
    def terminal(self) -> str | None:
        """The number or IMEI the connection authenticated or logged in as (None before)."""

    async def handle(self, frames: list[bytes], garbage: bytes, received_at: datetime) -> Outcome:
        """Handle the whole frames (and any bytes outside frames) that one read completed."""

    def refuse(self, data: bytes, rejection: Rejection, received_at: datetime) -> Envelope:
        """Make the envelope that dead-letters bytes the listener refused (an oversized frame)."""


class StreamProtocol(Protocol):
    """A protocol the TCP listener can serve."""

    @property
    def name(self) -> str:
        """Its name in the settings and the metrics (``jt808``)."""

    def split(self, buffer: bytes) -> tuple[list[bytes], bytes, bytes]:
        """Cut bytes into (whole frames, bytes outside any frame, an unfinished frame to keep)."""

    def session(self, peer: str) -> StreamSession:
        """Start the state of a new connection from ``peer``."""

    def forget(self, terminal: str) -> None:
        """Drop what is remembered of a terminal's authentication (its code was revoked)."""

    def close(self) -> None:
        """Release what the protocol holds (database connections) once the listener stopped."""


@dataclass(frozen=True, slots=True)
class ProtocolContext:
    """What a protocol may use: the device directory (a one-element holder a refresh swaps), limits, the DB."""

    directory: list[Directory]
    limits: Limits
    database_url: str


ProtocolFactory = Callable[[ProtocolContext], StreamProtocol]
_REGISTRY: dict[str, ProtocolFactory] = {}


def register(name: str) -> Callable[[ProtocolFactory], ProtocolFactory]:
    """Register a protocol factory under ``name`` (a decorator)."""

    def add(factory: ProtocolFactory) -> ProtocolFactory:
        if name in _REGISTRY:
            raise RuntimeError(f"two TCP protocols are named {name!r}")
        _REGISTRY[name] = factory
        return factory

    return add


def protocol_for(name: str, context: ProtocolContext) -> StreamProtocol:
    """Build the protocol ``name``, importing ``ingest.tcp.<name>`` to register it."""
    if name not in _REGISTRY:
        importlib.import_module(f"ingest.tcp.{name}")
    return _REGISTRY[name](context)
