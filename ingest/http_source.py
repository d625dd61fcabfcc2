"""The OsmAnd HTTP listener (Traccar Client and many trackers), on its own port, 5055 by default.

A request is answered 200 only once it is durably in the spool, so the phone app keeps (and later resends)
any fix we did not take. A request that does not decode is spooled all the same, so it reaches the dead
letters with its reason, and answered 400 with that reason.

The port faces the trackers' networks, often the internet, and the OsmAnd protocol has no credentials: a
device is known by its id alone (an id the site file does not list is counted as unregistered, never stored
as a fix). So the listener refuses, before it holds anything a stranger sends, a request from outside
``ingest.http_allow`` (403), a URL longer than ``ingest.http_max_request_bytes`` (414) and a body longer than
that (413: by its Content-Length before a byte of it is read, or, chunked, as soon as the count passes the
limit). Each refusal is counted, closes the connection, and is dead-lettered with its reason and at most the
limit's worth of what was sent; the process, which also carries panics, never buffers more.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from ingest import metrics
from ingest.decoders import Limits
from ingest.directory import Directory
from ingest.messages import OriginReason, Rejection, RejectReason
from ingest.panic import PanicDispatcher
from ingest.route import VIA_OSMAND_HTTP, decode, osmand_topic, panics_in
from ingest.spool import Envelope, SpoolSink

log = logging.getLogger(__name__)

# Room for the request's headers beside its URL: Traccar Client sends five short ones, a browser a dozen.
HEADER_ROOM = 8192


@dataclass(frozen=True, slots=True)
class RequestPolicy:
    """What the listener takes before reading a request: from which networks, and how many bytes."""

    max_bytes: int
    allow: tuple[IPv4Network | IPv6Network, ...]

    def allows(self, host: str | None) -> bool:
        """Tell whether a connection from ``host`` (the TCP peer's address) may send us anything."""
        try:
            address = ip_address(host or "")
        except ValueError:
            return False  # no address (not TCP): nothing to check it against
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # a dual-stack socket shows an IPv4 peer as ::ffff:a.b.c.d
        return any(address in network for network in self.allow)


def osmand_app(*, spool: SpoolSink, directory: list[Directory], panics: PanicDispatcher, limits: Limits,
               policy: RequestPolicy, on_spooled: threading.Event) -> FastAPI:
    """Build the listener; ``directory`` is a one-element holder so a refresh reaches the running app."""
    app = FastAPI(title="campusguard OsmAnd listener", docs_url=None, redoc_url=None, openapi_url=None)

    @app.api_route("/", methods=["GET", "POST"])
    async def receive(request: Request) -> Response:
        received_at = datetime.now(UTC)
        metrics.MESSAGES_RECEIVED.labels("osmand-http").inc()
        query = request.url.query
        content_type = request.headers.get("content-type", "")
        refused = _refusal_before_reading(request, policy)
        body = b""
        if refused is None:
            body, whole = await _body_within(request, policy.max_bytes)
            if not whole:
                refused = 413, Rejection(RejectReason.OVERSIZED,
                                         f"the body is over the {policy.max_bytes}-byte limit (chunked)")
        if refused is not None:
            status, rejection = refused
            metrics.HTTP_REFUSED.labels(rejection.reason.value).inc()
            topic = osmand_topic(query[: policy.max_bytes], content_type[:200], rejection)
            await _spool(spool, Envelope(VIA_OSMAND_HTTP, topic, body, received_at), on_spooled)
            # Closing is what refuses the rest: a kept-alive connection would read (and discard) all of it.
            return PlainTextResponse(f"refused: {rejection.reason.value}: {rejection.message}\n",
                                     status_code=status, headers={"connection": "close"})
        envelope = Envelope(VIA_OSMAND_HTTP, osmand_topic(query, content_type), body, received_at)
        try:
            decoded = decode(envelope, limits)
        except Rejection as rejection:
            await _spool(spool, envelope, on_spooled)
            return PlainTextResponse(f"rejected: {rejection.reason.value}: {rejection.message}\n", status_code=400)
        panics.submit(panics_in(decoded, directory[0]))
        await _spool(spool, envelope, on_spooled)
        return PlainTextResponse("OK\n")

    return app


def _refusal_before_reading(request: Request, policy: RequestPolicy) -> tuple[int, Rejection] | None:
    """Judge a request by its peer, URL and declared length, before a byte of its body is read."""
    peer = request.client.host if request.client is not None else None
    if not policy.allows(peer):
        return 403, Rejection(OriginReason.SOURCE_NOT_ALLOWED,
                              f"{peer} is outside the networks the listener takes (ingest.http_allow)")
    url_bytes = len(request.scope.get("raw_path", b"")) + len(request.scope.get("query_string", b""))
    if url_bytes > policy.max_bytes:
        return 414, Rejection(RejectReason.OVERSIZED,
                              f"the URL is {url_bytes} bytes, over the {policy.max_bytes}-byte limit")
    declared = request.headers.get("content-length", "")
    # The length test first: int() of thousands of digits is slow, and refused above 4,300 of them.
    if declared.isdigit() and (len(declared) > 18 or int(declared) > policy.max_bytes):
        return 413, Rejection(RejectReason.OVERSIZED,
                              f"the body is {declared[:19]} bytes, over the {policy.max_bytes}-byte limit")
    return None


async def _body_within(request: Request, limit: int) -> tuple[bytes, bool]:
    """Read the body as it comes, stopping once it passes ``limit``: (what fit, whether all of it did)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        if size + len(chunk) > limit:
            parts.append(chunk[: limit - size])  # kept for the dead letter
            return b"".join(parts), False
        size += len(chunk)
        parts.append(chunk)
    return b"".join(parts), True


async def _spool(spool: SpoolSink, envelope: Envelope, on_spooled: threading.Event) -> None:
    # The append fsyncs; run it off the event loop so one slow disk does not stall every connection.
    await run_in_threadpool(spool.append, [envelope])
    on_spooled.set()


class HttpListener:
    """Runs the OsmAnd app under uvicorn on a thread of the worker process."""

    def __init__(self, app: FastAPI, host: str, port: int, max_request_bytes: int) -> None:
        """Prepare the server; :meth:`start` binds the port."""
        # h11 (not httptools, which keeps a URL of any length): it holds at most this much of a request's
        # line and headers, and answers 400 beyond. X-Forwarded-For is not read: the allow-list is the peer's.
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, http="h11",
                                h11_max_incomplete_event_size=max_request_bytes + HEADER_ROOM, proxy_headers=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="osmand-http", daemon=True)

    def start(self) -> None:
        """Start serving."""
        self._thread.start()

    @property
    def started(self) -> bool:
        """Tell whether the port is bound."""
        return bool(self._server.started)

    def stop(self) -> None:
        """Stop accepting and finish requests in flight."""
        self._server.should_exit = True
        self._thread.join(timeout=10)
