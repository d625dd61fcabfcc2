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
    """What positions a screen wants: none, its whole scope, or a WGS-84 box [west, south, east, north] of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["watch"]
    positions: bool = True
    bbox: tuple[Lon, Lat, Lon, Lat] | None = None

    @model_validator(mode="after")
    def _south_below_north(self) -> Watch:
        if self.bbox is not None and self.bbox[1] > self.bbox[3]:
            raise ValueError("bbox is [west, south, east, north]: south lies above north")
        return self

    def view(self) -> View | None:
        """Give the position hub's view of this request (None: no positions)."""
        return View(self.bbox) if self.positions else None


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
