"""Refuse a request body over the limit while it arrives, before anything buffers it (pure ASGI).

FastAPI reads a JSON body whole before validating it, so without a limit a 300 MB login would be held in memory
(it was: 734 MB). A declared ``Content-Length`` over the limit is answered 413 at once, before the app runs;
a body without one (chunked) is counted as ``receive`` hands it over, and at the first byte past the limit
the app is cut off: whatever it would answer to the body that stopped short is dropped, and the caller gets
the 413. The body after the limit is never read: the server closes the connection (``Connection: close``).

Starlette has a ``RequestBodyLimitMiddleware`` of its own, but it lets the app run (authentication, a
database query) before a declared length is refused, and answers in plain text; every error of this API is
a ``Problem`` (``command_ui/errors.py``).
"""

from __future__ import annotations

import contextlib
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _BodyTooLarge(Exception):  # noqa: N818 - a signal inside this module, not an error anyone handles
    """Raised into the app from ``receive`` when the body passes the limit."""


class BodyLimit:
    """ASGI middleware: at most ``max_bytes`` of request body per HTTP request."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        """Wrap ``app``."""
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with a counting ``receive``, or refuse it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, over
            if over:
                raise _BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    over = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over and not started:
                return  # the app's answer to a body cut short (FastAPI's 400, say): the 413 replaces it
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with contextlib.suppress(_BodyTooLarge):  # the app let it through; the 413 below answers
            await self.app(scope, counting_receive, guarded_send)
        if over and not started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": f"the request body is over this server's limit of {self.max_bytes} bytes"})
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body.encode()})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before the app sees it
    return None
