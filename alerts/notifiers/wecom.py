"""WeCom (企业微信) group robot (群机器人): an incident message posted to a group through the robot's webhook.

The webhook is ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...``; there is no signature, the key is the
secret (kept a SecretStr, left out of every error text). Two message kinds:

- ``markdown`` (the default): the title in bold, the drill warning in WeCom's ``warning`` colour, then one quoted
  line per fact, each value escaped (WeCom's markdown takes ``<font>``: a school's name must not). Up to 4096
  bytes: longer texts are cut.
- ``template_card`` with ``card_type`` ``text_notice``: the title, the event as the emphasised line, the facts
  as key-value rows and the whole card opening the incident (a text_notice must have a ``card_action``, so this
  kind needs ``public_url``). Cards show plain text, so nothing is escaped; texts are cut to WeCom's lengths.

The robot answers JSON: ``errcode`` 0 is delivered; ``45009`` (more than 20 messages a minute) and ``-1`` (busy)
are retried; any other (``93000``: the key is not a robot's) is a permanent failure with WeCom's ``errmsg``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, Self

from pydantic import AnyHttpUrl, Field, SecretStr, model_validator

from alerts.notifiers.base import Notification, Notifier, PermanentError, RetryableError
from alerts.notifiers.messenger import Message, MessengerConfig, escape_markdown, http_client, post_json, render

DEFAULT_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
RETRYABLE_CODES = frozenset({-1, 45009})
MAX_MARKDOWN_BYTES = 4096
# text_notice limits: at most 6 key-value rows; WeCom cuts a key past 5 characters and a value past 30 when shown.
MAX_ROWS = 6
MAX_KEY = 5
MAX_VALUE = 30
MAX_TITLE = 26


class WeComConfig(MessengerConfig):
    """Post each notification to a WeCom group through a group robot."""

    type: Literal["wecom"] = Field(description="Selects the WeCom group robot notifier.")
    key: SecretStr = Field(description="The robot's key, from its webhook address (the key is the secret).",
                           min_length=8)
    message: Literal["markdown", "template_card"] = Field(
        "markdown", description="markdown, or a text_notice template_card (needs public_url: the card opens it).")
    url: AnyHttpUrl = Field(AnyHttpUrl(DEFAULT_URL),
                            description="The robot API; change it only to test against a local server.")

    @model_validator(mode="after")
    def _card_has_a_link(self) -> Self:
        if self.message == "template_card" and self.public_url is None:
            raise ValueError("a template_card opens the incident when tapped: set public_url, or use markdown")
        return self


def _cut_bytes(text: str, limit: int) -> str:
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit - 3].decode(errors="ignore") + "..."


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def markdown_body(message: Message) -> dict[str, Any]:
    """Build the markdown message: values escaped, colours WeCom's own (warning, comment)."""
    lines = [f"**{escape_markdown(message.heading)}**"]
    if message.drill:
        lines.append(f'<font color="warning">{escape_markdown(message.drill)}</font>')
    lines += [f'> {escape_markdown(label)}{message.colon}<font color="comment">{escape_markdown(value)}</font>'
              for label, value in message.facts]
    if message.link:
        # The address is ours (public_url and a number), not a name: it goes into the link as it is.
        lines.append(f"[{escape_markdown(message.link_text)}]({message.link})")
    return {"msgtype": "markdown", "markdown": {"content": _cut_bytes("\n".join(lines), MAX_MARKDOWN_BYTES)}}


def card_body(message: Message) -> dict[str, Any]:
    """Build the text_notice template card: plain texts, cut to WeCom's lengths; tapping it opens the incident."""
    rows = [{"keyname": _cut(label, MAX_KEY), "value": _cut(value, MAX_VALUE)}
            for label, value in message.facts if label][:MAX_ROWS]
    card: dict[str, Any] = {
        "card_type": "text_notice",
        "main_title": {"title": _cut(message.title, MAX_TITLE), "desc": message.drill or message.event},
        "sub_title_text": message.heading,
        "horizontal_content_list": rows,
        "card_action": {"type": 1, "url": message.link},
    }
    if message.link:
        card["jump_list"] = [{"type": 1, "url": message.link, "title": message.link_text}]
    return {"msgtype": "template_card", "template_card": card}


def check_answer(answer: Mapping[str, Any]) -> None:
    """Raise unless the robot's answer says delivered (``errcode`` 0)."""
    code = answer.get("errcode")
    if code == 0:
        return
    text = f"WeCom robot refused it: errcode {code}: {answer.get('errmsg', '')}"
    if code in RETRYABLE_CODES:
        raise RetryableError(text)
    raise PermanentError(text)


class WeComNotifier(Notifier[WeComConfig]):
    """A markdown message or a text_notice card through a WeCom group robot."""

    type_key = "wecom"
    config_class = WeComConfig

    def __init__(self, config: WeComConfig) -> None:
        """Open the HTTP client (connections are made on first use)."""
        super().__init__(config)
        self._client = http_client(config)

    def prepare(self, notification: Notification) -> Callable[[], str | None]:
        """Build the message once; each attempt posts it."""
        message = render(notification, self.config)
        payload = card_body(message) if self.config.message == "template_card" else markdown_body(message)
        query = {"key": self.config.key.get_secret_value()}

        def attempt() -> None:
            check_answer(post_json(self._client, str(self.config.url), payload, "WeCom robot", query))

        return attempt

    def close(self) -> None:
        """Close the HTTP client's connections."""
        self._client.close()
