"""The OsmAnd HTTP listener (Traccar Client and many trackers), on its own port, 5055 by default.

A request is answered 200 only once it is durably in the spool, so the phone app keeps (and later resends)
any fix we did not take. A request that does not decode is spooled all the same, so it reaches the dead
letters with its reason, and answered 400 with that reason. The OsmAnd protocol has no credentials: a device
is known by its id, and an id the site file does not list is counted as unregistered, never stored as a fix.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from ingest import metrics
from ingest.decoders import Limits
from ingest.directory import Directory
from ingest.messages import Rejection
from ingest.panic import PanicDispatcher
from ingest.route import VIA_OSMAND_HTTP, decode, panics_in
from ingest.spool import Envelope, SpoolSink

log = logging.getLogger(__name__)


def osmand_app(*, spool: SpoolSink, directory: list[Directory], panics: PanicDispatcher, limits: Limits,
               on_spooled: threading.Event) -> FastAPI:
    """Build the listener; ``directory`` is a one-element holder so a refresh reaches the running app."""
    app = FastAPI(title="campusguard OsmAnd listener", docs_url=None, redoc_url=None, openapi_url=None)

    @app.api_route("/", methods=["GET", "POST"])
    async def receive(request: Request) -> Response:
        body = await request.body()
        if len(body) > limits.max_payload_bytes:
            body = body[: limits.max_payload_bytes + 1]  # keep enough to show it, and refuse below
        envelope = Envelope(VIA_OSMAND_HTTP, f"{request.url.query}\n{request.headers.get('content-type', '')}",
                            body, datetime.now(UTC))
        metrics.MESSAGES_RECEIVED.labels("osmand-http").inc()
        try:
            decoded = decode(envelope, limits)
        except Rejection as rejection:
            await _spool(spool, envelope, on_spooled)
            return PlainTextResponse(f"rejected: {rejection.reason.value}: {rejection.message}\n", status_code=400)
        panics.submit(panics_in(decoded, directory[0]))
        await _spool(spool, envelope, on_spooled)
        return PlainTextResponse("OK\n")

    return app


async def _spool(spool: SpoolSink, envelope: Envelope, on_spooled: threading.Event) -> None:
    # The append fsyncs; run it off the event loop so one slow disk does not stall every connection.
    await run_in_threadpool(spool.append, [envelope])
    on_spooled.set()


class HttpListener:
    """Runs the OsmAnd app under uvicorn on a thread of the worker process."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        """Prepare the server; :meth:`start` binds the port."""
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
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
