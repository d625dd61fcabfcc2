r"""Feishu (飞书) / Lark custom bot (自定义机器人) with signature verification (签名校验): an interactive card.

The bot's webhook is ``https://open.feishu.cn/open-apis/bot/v2/hook/<token>`` (Lark's is on open.larksuite.com:
set ``url``). With signature verification on (the one we require) the JSON body carries ``timestamp`` (Unix
seconds, as text) and ``sign``: the base64 of HMAC-SHA256 keyed with ``f"{timestamp}\n{secret}"`` over an empty
message. Feishu refuses a timestamp more than an hour from its clock, so each attempt signs afresh.

The message is an ``interactive`` card: a header in the severity's colour with the heading, the drill warning,
the facts as short fields and a button to the incident when ``public_url`` is set. Every text we did not write
(titles, school and place names) goes in a ``plain_text`` element, which Feishu never reads as markup.

The bot answers JSON: ``code`` 0 is delivered; ``11232`` (rate limited: 100 a minute, 5 a second) is retried; any
other (``19021``: signature or timestamp refused; ``19022``: IP not allowed; ``19024``: keyword missing; ``9499``:
bad request) is a permanent failure with Feishu's ``msg``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, Field, SecretStr

from alerts.notifiers.base import Notification, Notifier, PermanentError, RetryableError, Severity
from alerts.notifiers.messenger import Message, MessengerConfig, http_client, post_json, render

DEFAULT_URL = "https://open.feishu.cn/open-apis/bot/v2/hook/"
RETRYABLE_CODES = frozenset({11232})
HEADER_COLOUR: dict[Severity, str] = {"critical": "red", "high": "orange", "medium": "yellow", "low": "blue",
                                      "info": "grey"}


class FeishuConfig(MessengerConfig):
    """Post each notification to a Feishu group through a custom bot with signature verification."""

    type: Literal["feishu"] = Field(description="Selects the Feishu custom bot notifier.")
    hook: SecretStr = Field(description="The bot's token: the last part of its webhook address.", min_length=8)
    secret: SecretStr = Field(description="The bot's signature verification secret (签名校验).", min_length=8)
    url: AnyHttpUrl = Field(AnyHttpUrl(DEFAULT_URL), description="Where bot hooks live; the token is appended. "
                            "https://open.larksuite.com/open-apis/bot/v2/hook/ for Lark; a local server in tests.")


def sign(secret: str, timestamp_s: str) -> str:
    r"""Compute the ``sign`` field: base64(HMAC-SHA256(key=timestamp + "\n" + secret, message=empty))."""
    mac = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def _plain(text: str) -> dict[str, str]:
    return {"tag": "plain_text", "content": text}


def card(message: Message, severity: Severity) -> dict[str, Any]:
    """Build the interactive card (pure): every outside text in plain_text elements."""
    elements: list[dict[str, Any]] = []
    if message.drill:
        elements.append({"tag": "div", "text": _plain(message.drill)})
    elements.append({"tag": "div", "fields": [{"is_short": True, "text": _plain(f"{label}{message.colon}{value}")}
                                              for label, value in message.facts]})
    if message.link:
        elements.append({"tag": "action", "actions": [
            {"tag": "button", "text": _plain(message.link_text), "type": "primary", "url": message.link}]})
    return {"config": {"wide_screen_mode": True},
            "header": {"template": HEADER_COLOUR[severity], "title": _plain(message.heading)},
            "elements": elements}


def body(message: Message, severity: Severity, secret: str, now: datetime) -> dict[str, Any]:
    """One attempt's JSON: the card with a fresh timestamp and signature."""
    timestamp = str(int(now.timestamp()))
    return {"timestamp": timestamp, "sign": sign(secret, timestamp), "msg_type": "interactive",
            "card": card(message, severity)}


def check_answer(answer: Mapping[str, Any]) -> None:
    """Raise unless the bot's answer says delivered (``code`` 0; older bots said ``StatusCode``)."""
    code = answer.get("code", answer.get("StatusCode"))
    if code == 0:
        return
    text = f"Feishu bot refused it: code {code}: {answer.get('msg', answer.get('StatusMessage', ''))}"
    if code in RETRYABLE_CODES:
        raise RetryableError(text)
    raise PermanentError(text)


class FeishuNotifier(Notifier[FeishuConfig]):
    """An interactive card through a signed Feishu custom bot."""

    type_key = "feishu"
    config_class = FeishuConfig

    def __init__(self, config: FeishuConfig) -> None:
        """Open the HTTP client (connections are made on first use)."""
        super().__init__(config)
        self._client = http_client(config)

    def prepare(self, notification: Notification) -> Callable[[], str | None]:
        """Say the message once; each attempt signs afresh."""
        message = render(notification, self.config)
        url = str(self.config.url).rstrip("/") + "/" + self.config.hook.get_secret_value()
        secret = self.config.secret.get_secret_value()

        def attempt() -> None:
            payload = body(message, notification.severity, secret, datetime.now(UTC))
            check_answer(post_json(self._client, url, payload, "Feishu bot"))

        return attempt

    def close(self) -> None:
        """Close the HTTP client's connections."""
        self._client.close()
