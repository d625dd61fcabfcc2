r"""DingTalk (钉钉) custom robot (自定义机器人): an incident card posted to a group through the robot's webhook.

The robot's webhook is ``https://oapi.dingtalk.com/robot/send?access_token=...``. With the "加签" security setting
(the one we require: a token alone is a password in a URL) each request also carries ``timestamp`` (Unix
milliseconds) and ``sign`` as query parameters, where ``sign`` is the base64 of HMAC-SHA256 keyed with the
robot's secret (``SEC...``) over ``f"{timestamp}\n{secret}"``, URL-encoded; DingTalk refuses a timestamp more
than an hour from its clock, so each attempt signs afresh.

The message is an ``actionCard`` with a button to the incident when ``public_url`` is set, else ``markdown``;
both carry a ``title`` (what the chat list and the phone's banner show) and a markdown ``text``. The robot
answers JSON: ``errcode`` 0 is delivered; ``130101`` (more than 20 messages a minute) and ``-1`` (busy) may pass
later and are retried; any other code (``310000``: signature, keyword or IP refused; ``300001``: unknown token)
is a permanent failure with DingTalk's ``errmsg``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, Field, SecretStr

from alerts.notifiers.base import Notification, Notifier, PermanentError, RetryableError
from alerts.notifiers.messenger import Message, MessengerConfig, escape_markdown, http_client, post_json, render

DEFAULT_URL = "https://oapi.dingtalk.com/robot/send"
RETRYABLE_CODES = frozenset({-1, 130101})


class DingTalkConfig(MessengerConfig):
    """Post each notification to a DingTalk group through a custom robot signed with 加签."""

    type: Literal["dingtalk"] = Field(description="Selects the DingTalk custom robot notifier.")
    access_token: SecretStr = Field(description="The robot's access_token, from its webhook address.")
    secret: SecretStr = Field(description="The robot's 加签 secret (starts with SEC).", min_length=8)
    url: AnyHttpUrl = Field(AnyHttpUrl(DEFAULT_URL),
                            description="The robot API; change it only to test against a local server.")


def sign(secret: str, timestamp_ms: str) -> str:
    r"""Compute the ``sign`` query value (before URL encoding): base64(HMAC-SHA256(secret, ts + "\n" + secret))."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def signed_query(config: DingTalkConfig, now: datetime) -> dict[str, str]:
    """Give the query of one attempt: the token, the timestamp in milliseconds and its signature (httpx encodes it)."""
    timestamp = str(int(now.timestamp() * 1000))
    return {"access_token": config.access_token.get_secret_value(), "timestamp": timestamp,
            "sign": sign(config.secret.get_secret_value(), timestamp)}


def markdown_text(message: Message) -> str:
    """Write the card's markdown: the title as a heading, then the facts, each value escaped."""
    lines = [f"### {escape_markdown(message.title)}"]
    if message.drill:
        lines.append(f"**{escape_markdown(message.drill)}**")
    lines += [f"- **{escape_markdown(label)}**{message.colon}{escape_markdown(value)}"
              for label, value in message.facts]
    return "\n\n".join(lines)


def body(message: Message) -> dict[str, Any]:
    """Build the JSON the robot is sent: an actionCard with a button when there is a link, else markdown."""
    # The title is what a phone's notification banner and the chat list show: plain text, as DingTalk shows it.
    text = markdown_text(message)
    if message.link:
        return {"msgtype": "actionCard", "actionCard": {
            "title": message.heading, "text": text, "btnOrientation": "0",
            "singleTitle": message.link_text, "singleURL": message.link}}
    return {"msgtype": "markdown", "markdown": {"title": message.heading, "text": text}}


def check_answer(answer: Mapping[str, Any]) -> None:
    """Raise unless the robot's answer says delivered (``errcode`` 0)."""
    code = answer.get("errcode")
    if code == 0:
        return
    text = f"DingTalk robot refused it: errcode {code}: {answer.get('errmsg', '')}"
    if code in RETRYABLE_CODES:
        raise RetryableError(text)
    raise PermanentError(text)


class DingTalkNotifier(Notifier[DingTalkConfig]):
    """An actionCard (or markdown) message through a signed DingTalk custom robot."""

    type_key = "dingtalk"
    config_class = DingTalkConfig

    def __init__(self, config: DingTalkConfig) -> None:
        """Open the HTTP client (connections are made on first use)."""
        super().__init__(config)
        self._client = http_client(config)

    def prepare(self, notification: Notification) -> Callable[[], str | None]:
        """Build the message once; each attempt signs afresh (DingTalk refuses an hour-old timestamp)."""
        payload = body(render(notification, self.config))

        def attempt() -> None:
            query = signed_query(self.config, datetime.now(UTC))
            check_answer(post_json(self._client, str(self.config.url), payload, "DingTalk robot", query))

        return attempt

    def close(self) -> None:
        """Close the HTTP client's connections."""
        self._client.close()
