"""A cheap stand-in for a fleet of trackers: MQTT 3.1.1 QoS 1 PUBLISH packets written straight to a socket.

The benchmarks run the fleet on the same two cores as the system they measure. paho spends about 25 µs of
Python per publish (packet building, in-flight bookkeeping, its network loop): at 2,000 fixes a second that is
half a core taken from ingest, the server and PostgreSQL, which in production the trackers never take. This
writes the same bytes a tracker sends (CONNECT, then PUBLISH at QoS 1 with a packet id; the broker's PUBACKs
are read and counted by a thread) with almost no work per message. Only the packets a tracker sends are
written; it is not a client library and nothing of the product uses it.
"""

from __future__ import annotations

import socket
import struct
import threading


def _length(n: int) -> bytes:
    """MQTT's variable-length 'remaining length'."""
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


class Fleet:
    """One MQTT connection publishing at QoS 1; :attr:`acked` counts the broker's PUBACKs."""

    def __init__(self, host: str, port: int, client_id: str) -> None:
        self._sock = socket.create_connection((host, port))
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        body = _string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 60) + _string(client_id)
        self._sock.sendall(b"\x10" + _length(len(body)) + body)
        connack = self._sock.recv(4)
        if len(connack) != 4 or connack[0] != 0x20 or connack[3] != 0:
            raise ConnectionError(f"the broker refused the connection: {connack!r}")
        self._next_id = 0
        self.acked = 0
        self._reader = threading.Thread(target=self._read, name="fleet-acks", daemon=True)
        self._reader.start()

    def packet(self, topic: bytes, payload: bytes) -> bytes:
        """One QoS 1 PUBLISH packet (``topic`` already length-prefixed, see :func:`topic`)."""
        self._next_id = self._next_id % 65535 + 1
        rest = len(topic) + 2 + len(payload)
        return b"\x32" + _length(rest) + topic + struct.pack("!H", self._next_id) + payload

    def send(self, packets: list[bytes]) -> None:
        """Write several packets in one system call."""
        self._sock.sendall(b"".join(packets))

    def _read(self) -> None:
        # Every packet the broker sends back here is a 4-byte PUBACK (no subscriptions, no pings needed while
        # publishing); a closed socket ends the thread.
        pending = 0
        while True:
            try:
                data = self._sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            pending += len(data)
            self.acked += pending // 4
            pending %= 4


def topic(name: str) -> bytes:
    """Encode a topic as PUBLISH carries it: length-prefixed UTF-8, built once per device."""
    return _string(name)
