"""Reading the live websocket in tests: ask for positions, and turn a positions message into one dict per fix."""

from __future__ import annotations

from typing import Any


def watch(ws: Any, bbox: list[float] | None = None, zoom: float | None = None) -> None:
    """Ask the live socket for positions in its scope (or in a WGS-84 box), at a map's zoom if given."""
    ws.send_json({"type": "watch", "positions": True, "bbox": bbox} | ({} if zoom is None else {"zoom": zoom}))


def fixes(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The fixes of a positions message, each as a dict by field name."""
    assert message["type"] == "positions"
    return [dict(zip(message["fields"], row, strict=True)) for row in message["rows"]]


def next_fixes(ws: Any, skipped: list[dict[str, Any]] | None = None, ack: bool = True) -> list[dict[str, Any]]:
    """Read messages until a positions message arrives; return its fixes (others go to ``skipped``).

    With ``ack`` the message is acknowledged, as the map page does once it has drawn it, so the next can come.
    """
    while True:
        message = ws.receive_json()
        if message["type"] == "positions":
            if ack:
                ws.send_json({"type": "ack"})
            return fixes(message)
        if skipped is not None:
            skipped.append(message)
