"""Security headers on every answer, and a same-origin check on state-changing requests and websocket handshakes.

The pages build what they show from the API's JSON as text (``static/js/dom.js``), never as markup; the Content
Security Policy is the second wall should one slip: scripts only from this origin's files (no inline script, no
``on...=`` attributes, no eval), styles only from our stylesheets. Leaflet positions its panes, tiles and markers
through ``element.style`` (the CSSOM), which CSP does not govern, so ``style-src 'self'`` holds without
``'unsafe-inline'``; what it refuses is a ``style`` attribute in markup or set with ``setAttribute``, which dom.js
therefore never writes. Images come from this origin (``data:`` and ``blob:`` for Leaflet's and the browser's own)
and from the one tile server the map settings name; ``connect-src 'self'`` covers the live websocket, since CSP 3
lets ``'self'`` match ``ws:``/``wss:`` on the same host and port (Chromium and Firefox, Safari since 15.4; the
browser tests check Chromium's live feed under it).

Cookies ignore ports, so a page on another port of the same host rides on the officer's session cookie; what it
cannot forge is the ``Origin`` its browser sends with every POST, PUT, PATCH, DELETE and websocket handshake. Such
a request naming an origin (``Referer`` when it names none) other than its own (:func:`own_origins`) or one of
``allowed_origins`` is refused with 403 before any route sees it. A request naming none passes: scripts, curl and
HTTP Basic carry no one's cookie unasked. ``Referrer-Policy: same-origin``, not ``no-referrer``: under
``no-referrer`` a browser sends ``Origin: null`` even with a page's own POSTs, and this check would refuse them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:  # types only: the settings import this module, and ingest or geo must not load starlette
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_WEB_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
_PLACEHOLDER = "{"  # a tile URL's {s}, {z}, ... ; a host label holding one becomes the CSP wildcard
_CSP_HOST = re.compile(r"(\*\.)?[a-z0-9.-]+|\[[0-9a-f:.]+\]")


def normalise_origin(url: str) -> str | None:
    """Give ``scheme://host[:port]`` of a URL or origin, lower-case, default port left out; None when it has none.

    ``ws``/``wss`` count as ``http``/``https``: a websocket handshake comes from a page of that origin.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = _WEB_SCHEMES.get(parts.scheme.lower())
    host = parts.hostname
    if scheme is None or not host:
        return None
    return _origin(scheme, host, port)


def _origin(scheme: str, host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" if port in (None, _DEFAULT_PORTS[scheme]) else f"{scheme}://{shown}:{port}"


def own_origins(scope: Scope) -> frozenset[str]:
    """Give the origins a request may come from as the site's own; empty when its address cannot be told.

    Its ``Host`` header (the server's address when there is none) with its scheme: ``https`` where uvicorn
    believes the proxy's ``X-Forwarded-Proto``. A proxy it does not believe makes a TLS page's request look like
    plain HTTP, so a ``Host`` without a port (the browser was on port 80 or 443) stands for both default ports,
    ``http://host`` and ``https://host``; any other port is another origin, and the page there a stranger.
    """
    scheme = _WEB_SCHEMES.get(str(scope.get("scheme", "http")), "http")
    host = _header(scope, b"host")
    if host is None:
        server = scope.get("server")
        if not server:
            return frozenset()
        host = f"[{server[0]}]:{server[1]}" if ":" in str(server[0]) else f"{server[0]}:{server[1]}"
    try:
        parts = urlsplit(f"//{host}")
        port = parts.port
    except ValueError:
        return frozenset()
    if not parts.hostname:
        return frozenset()
    if port is None:
        return frozenset({_origin("http", parts.hostname, None), _origin("https", parts.hostname, None)})
    return frozenset({_origin(scheme, parts.hostname, port)})


def foreign_origin(scope: Scope, allowed: frozenset[str]) -> str | None:
    """Give the origin a browser request came from when it is neither the request's own nor allowed, else None.

    ``Origin`` first, then ``Referer``; a request naming neither is not a browser's and passes. ``Origin: null``
    (a sandboxed frame, a cross-origin redirect) is foreign.
    """
    claimed = _header(scope, b"origin") or _header(scope, b"referer")
    if claimed is None:
        return None
    origin = normalise_origin(claimed)
    if origin is not None and (origin in allowed or origin in own_origins(scope)):
        return None
    return origin or claimed[:100]


def tile_source(template: str | None) -> str | None:
    """Give the CSP source matching a Leaflet tile URL template; None when it is this origin's or unset.

    ``https://{s}.tile.example.org/{z}/{x}/{y}.png`` gives ``https://*.tile.example.org``: CSP allows a wildcard
    only as the leftmost label, so a label holding a placeholder (``webrd0{s}``) and those left of it become ``*``.
    """
    if not template or not template.strip():
        return None
    try:
        parts = urlsplit(template.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.netloc:
        return None  # a path on this server: 'self'
    labels = (parts.hostname or "").split(".")
    templated = [i for i, label in enumerate(labels) if _PLACEHOLDER in label]
    if templated:
        labels = ["*", *labels[templated[-1] + 1:]]
    host = ".".join(labels)
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    if not _CSP_HOST.fullmatch(host):
        log.warning("tile URL %r has a host no Content-Security-Policy can name; tiles will not load", template)
        return None
    scheme = parts.scheme.lower()
    address = host if port is None else f"{host}:{port}"
    return f"{scheme}://{address}" if scheme else address


def content_security_policy(tile_urls: Iterable[str] = ()) -> str:
    """Give the policy every answer carries; ``tile_urls`` are the configured tile provider's templates, if any.

    Images come from exactly the provider the map settings name (its base and annotation layers): a page can
    show no image from anywhere else, and the generated basemap (vector data from this origin) needs none.
    """
    sources = dict.fromkeys(filter(None, map(tile_source, tile_urls)))  # ordered, each once
    images = " ".join(["'self'", "data:", "blob:", *sources])
    return "; ".join([
        "default-src 'self'", "script-src 'self'", "style-src 'self'", f"img-src {images}", "connect-src 'self'",
        # blob: for live video: mpegts.js feeds the <video> through Media Source Extensions, a blob: URL.
        "font-src 'self'", "media-src 'self' blob:", "object-src 'none'", "base-uri 'none'", "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def security_headers(tile_urls: Iterable[str] = ()) -> list[tuple[bytes, bytes]]:
    """Give the headers every answer carries."""
    return [
        (b"content-security-policy", content_security_policy(tile_urls).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
    ]


class SecurityHeaders:
    """ASGI middleware: the security headers on every HTTP answer (errors too), and the same-origin check."""

    def __init__(self, app: ASGIApp, tile_urls: Iterable[str] = (), allowed_origins: Iterable[str] = ()) -> None:
        """Wrap ``app``; ``tile_urls`` the map's tile templates; ``allowed_origins`` may change state too."""
        self.app = app
        self.headers = security_headers(tile_urls)
        self.allowed = frozenset(o for o in map(normalise_origin, allowed_origins) if o is not None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a foreign browser's state change or websocket; add the headers to whatever else answers."""
        if scope["type"] == "websocket":
            foreign = foreign_origin(scope, self.allowed)
            if foreign is None:
                await self.app(scope, receive, send)
            else:
                await self._refuse_websocket(scope, receive, send, foreign)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] in STATE_CHANGING:
            foreign = foreign_origin(scope, self.allowed)
            if foreign is not None:
                log.warning("refused %s %s from %r", scope["method"], scope["path"], foreign)
                await self._answer(send, 403, _refusal(foreign))
                return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                present = {name.lower() for name, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *(h for h in self.headers if h[0] not in present)]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # Starlette's outermost error handler would answer with its own send, past these headers; answer
            # here instead and re-raise, so the server still logs it (the handler sees the answer started).
            if not started:
                await self._answer(send, 500, {"detail": "internal server error"})
            raise

    async def _answer(self, send: Send, status: int, body: dict[str, str]) -> None:
        content = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(content)).encode()), *self.headers]})
        await send({"type": "http.response.body", "body": content})

    async def _refuse_websocket(self, scope: Scope, receive: Receive, send: Send, foreign: str) -> None:
        log.warning("refused websocket %s from %r", scope["path"], foreign)
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if "websocket.http.response" in (scope.get("extensions") or {}):
            content = json.dumps(_refusal(foreign)).encode()
            await send({"type": "websocket.http.response.start", "status": 403, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(content)).encode()),
                *self.headers]})
            await send({"type": "websocket.http.response.body", "body": content})
        else:
            await send({"type": "websocket.close", "code": 1008})  # the server answers the handshake 403


def _refusal(foreign: str) -> dict[str, str]:
    return {"detail": f"cross-origin request refused: {foreign} is not this site's origin"}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None
