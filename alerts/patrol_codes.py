"""Signed checkpoint URLs: what a patrol checkpoint's QR code or NFC tag holds.

The URL is ``/patrol?c=<checkpoint>&v=<key version>&s=<signature>``. The signature is an HMAC-SHA256 under a
key derived from the server's ``secret_key`` for that checkpoint and version, so nobody without the server's
secret can print a code for a checkpoint, and a code of one checkpoint does not verify as another's. Rotating a
checkpoint raises its version: the codes printed before stop verifying (``rotated``) and must be reprinted.
The signature proves the code is ours, not that the guard stood there: that is the position and once-per-round
rule of :mod:`alerts.patrols`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Literal
from urllib.parse import urlencode

Verdict = Literal["ok", "forged", "rotated"]
_LABEL = b"campusguard patrol checkpoint v1"
SIGNATURE_CHARS = 27
"""Base64url characters kept of the HMAC (160 bits): ample against guessing, short enough for a small QR code."""


def _key(secret: bytes, checkpoint_id: str, version: int) -> bytes:
    # One key per checkpoint and version, derived so the server keeps a single secret.
    return hmac.new(secret, b"\x00".join((_LABEL, checkpoint_id.encode(), str(version).encode())),
                    hashlib.sha256).digest()


def sign(secret: bytes, checkpoint_id: str, version: int) -> str:
    """Return the signature a code of ``checkpoint_id`` at key ``version`` carries."""
    mac = hmac.new(_key(secret, checkpoint_id, version), checkpoint_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode()[:SIGNATURE_CHARS]


def scan_path(secret: bytes, checkpoint_id: str, version: int) -> str:
    """Return the path and query a code holds (the page prefixes the server's public address)."""
    return "/patrol?" + urlencode({"c": checkpoint_id, "v": version, "s": sign(secret, checkpoint_id, version)})


def verify(secret: bytes, checkpoint_id: str, version: int, signature: str, current: int) -> Verdict:
    """Check a scanned code against the checkpoint's current key version."""
    if version < 1 or version > current:
        return "forged"
    if not hmac.compare_digest(sign(secret, checkpoint_id, version).encode(), signature.encode()):
        return "forged"
    return "ok" if version == current else "rotated"
