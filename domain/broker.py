"""MQTT broker URLs, parsed once for every client of ours (ingest, geo, the notifier, the drill, the simulator).

``mqtt://user:pass@host:port`` (or ``tcp://``), and ``mqtts://`` (or ``ssl://``) for TLS; user and password may be
percent-escaped (``p%40ss`` is ``p@ss``), as in any URL. The port defaults to 1883, or 8883 with TLS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote, urlsplit

PLAIN_SCHEMES = ("mqtt", "tcp")
TLS_SCHEMES = ("mqtts", "ssl")


class _Client(Protocol):
    """What :meth:`BrokerAddress.configure` needs of a client (paho's ``Client`` has it)."""

    def username_pw_set(self, username: str | None, password: str | None = None) -> None: ...

    def tls_set(self) -> None: ...


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker is and how to log in."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    def configure(self, client: _Client) -> None:
        """Give a client the credentials and, for ``mqtts://``, TLS with the system's trusted CAs."""
        if self.username is not None:
            client.username_pw_set(self.username, self.password)
        if self.tls:
            client.tls_set()


def parse_broker_url(url: str) -> BrokerAddress:
    """Parse a broker URL; a clear ``ValueError`` (without the password) for anything else."""
    parts = urlsplit(url)
    shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    if parts.scheme not in PLAIN_SCHEMES + TLS_SCHEMES:
        raise ValueError(f"unsupported MQTT URL {shown!r}: use mqtt://host:port or mqtts://host:port")
    if not parts.hostname:
        raise ValueError(f"MQTT URL {shown!r} has no host")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"MQTT URL {shown!r}: {exc}") from None
    tls = parts.scheme in TLS_SCHEMES
    return BrokerAddress(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        tls=tls,
    )
