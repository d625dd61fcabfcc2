"""What a screen may send on the live websocket: a ping, what positions it watches, an ack. Validated, frozen."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from command_ui.live_hub import View
from command_ui.schemas import Lat, Lon


class Ping(BaseModel):
    """Keeps the connection open through proxies; nothing is answered."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["ping"]


class Ack(BaseModel):
    """The screen has handled the last positions message and is ready for the next."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["ack"]


class Watch(BaseModel):
    """What positions a screen wants: none, its whole scope, or a WGS-84 box [west, south, east, north] of it.

    ``zoom``: the map's Web Mercator zoom, so that it is sent only the moves it can show (left out: every fix).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["watch"]
    positions: bool = True
    bbox: tuple[Lon, Lat, Lon, Lat] | None = None
    # Leaflet's zooms run 0..22 at most; a fractional zoom (zoomSnap below 1) is taken at the finer level.
    # Strict: JSON true would otherwise read as zoom 1, the whole world, and a broken client see nothing move.
    zoom: Annotated[float, Field(ge=0, le=22, strict=True)] | None = None

    @model_validator(mode="after")
    def _south_below_north(self) -> Watch:
        if self.bbox is not None and self.bbox[1] > self.bbox[3]:
            raise ValueError("bbox is [west, south, east, north]: south lies above north")
        return self

    def view(self) -> View | None:
        """Give the position hub's view of this request (None: no positions)."""
        return View(self.bbox, self.zoom) if self.positions else None


ClientMessage = Annotated[Ping | Watch | Ack, Field(discriminator="type")]
_ADAPTER: TypeAdapter[Ping | Watch | Ack] = TypeAdapter(ClientMessage)


class UnreadableMessageError(ValueError):
    """A message the server cannot read; ``str()`` says why, for the ``error`` answer."""


def read_client_message(text: str) -> Ping | Watch | Ack:
    """Parse one message from a screen, or raise :class:`UnreadableMessageError` with the first thing wrong with it."""
    try:
        return _ADAPTER.validate_json(text)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise UnreadableMessageError(f"{where}: {error['msg']}" if where else str(error["msg"])) from None
