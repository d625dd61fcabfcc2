"""What the messenger notifiers share: the config every chat robot has, the incident said in words, escaping, POST.

DingTalk, WeCom and Feishu robots each post one card about an incident (its title, type, severity, school, place,
time and a link to it); SMS sends the same short facts as a template's values. :func:`render` says a notification
as a :class:`Message` of plain texts in the configured language, and each backend puts those texts into its own
markup, escaping them there: a school or place named ``[x](http://evil)`` or ``<font color=...>`` is shown as
written, never followed or coloured.

The title is said from its message key and values when the notification carries them (``title_key`` and
``title_params``, as the incident has them), so a Chinese reader gets ``紧急求助：东门岗亭``; without them, the
English title the rule made is shown as it is.
"""

# ruff: noqa: RUF001, RUF002 - examples in Chinese are punctuated in full width, as they are read
from __future__ import annotations

import json
import logging
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AnyHttpUrl, Field, field_validator

from alerts.notifiers.base import Notification, NotifierConfigBase, PermanentError, RetryableError
from alerts.notifiers.messenger_words import WORDS, Locale

if TYPE_CHECKING:
    import httpx

USER_AGENT = "campusguard-notifier/1"


class MessengerConfig(NotifierConfigBase):
    """Fields every messenger notifier has: language, time zone, and where the link to an incident points."""

    locale: Locale = Field("zh-CN", description="Language of the messages: zh-CN (the default) or en.")
    timezone: str = Field("Asia/Shanghai", description="IANA zone the times are said in (Beijing time by default).")
    public_url: AnyHttpUrl | None = Field(
        None, description="Address people open campusguard at (https://safety.example.gov.cn); with it each "
        "message links to the incident's page. Without it, no link is sent.")
    timeout_s: float = Field(10.0, gt=0, le=120, description="Limit for each attempt (connect, send, wait).")
    verify_tls: bool = Field(True, description="Check the server's TLS certificate (turn off only for testing).")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


@dataclass(frozen=True, slots=True)
class Message:
    """One notification said in words, every text plain (unescaped): each backend escapes for its own markup."""

    title: str
    """The incident's title in the message's language (``紧急求助：东门岗亭``)."""
    heading: str
    """What a list of messages shows: ``【紧急】新警情：紧急求助：东门岗亭``."""
    event: str
    facts: tuple[tuple[str, str], ...]
    """Label and value pairs: type, severity, school, place, time, incident number."""
    link: str | None
    link_text: str
    drill: str | None
    """The drill warning, None for a real alarm."""
    colon: str
    """What separates a label from its value in this language (full width in Chinese)."""
    short: Mapping[str, str]
    """The short fields by name (title, type, severity, school, place, time, incident, event, link) for SMS."""


def _say(locale: Locale, key: str, fallback: str, **values: object) -> str:
    text = WORDS[locale].get(key) or WORDS["en"].get(key)
    if text is None:
        return fallback
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        return fallback


def _title(n: Notification, locale: Locale) -> str:
    # The incident's title as a key and values, said in the channel's language; the English title where the
    # incident has no key (a rule without title_key).
    key, params = n.title_key, n.title_params
    if key is None:
        return n.title
    template = WORDS[locale].get(key)
    if template is None:
        return n.title
    wanted = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    if not wanted <= set(params):
        return n.title  # a value is missing: the English title is whole, a half-filled one would mislead
    return template.format(**{name: str(params[name]) for name in wanted})


def incident_link(public_url: AnyHttpUrl | None, incident_id: int) -> str | None:
    """Give the incident's page (the history page opens it in full), or None without a public address."""
    if public_url is None:
        return None
    return f"{str(public_url).rstrip('/')}/history?incident={incident_id}"


def render(n: Notification, config: MessengerConfig) -> Message:
    """Say a notification in the config's language and zone (pure)."""
    lang = config.locale
    zone = ZoneInfo(config.timezone)
    title = _title(n, lang)
    event = _say(lang, f"event.{n.event}", n.event, level=n.level)
    kind = _say(lang, f"type.{n.type}", n.type)
    severity = _say(lang, f"severity.{n.severity}", n.severity)
    school = n.school_name or n.school_id
    place = (_say(lang, "place.coordinates", "", lat=f"{n.lat:.6f}", lon=f"{n.lon:.6f}")
             if n.lat is not None and n.lon is not None else WORDS[lang]["place.none"])
    at = _time(n.at, zone)
    opened = _time(n.opened_at, zone)
    drill = WORDS[lang]["drill"] if n.drill else None
    link = incident_link(config.public_url, n.incident_id)
    label = WORDS[lang]
    facts = [(label["label.event"], event), (label["label.type"], kind), (label["label.severity"], severity),
             (label["label.school"], school), (label["label.place"], place), (label["label.time"], at)]
    if opened != at:
        facts.append((label["label.opened"], opened))
    facts.append((label["label.incident"], f"#{n.incident_id}"))
    colon = label["colon"]
    tag = label["tag"]  # 【紧急】 in Chinese, [Critical] in English
    heading = f"{tag.format(text=severity)}{event}{colon}{title}"
    if drill:
        heading = tag.format(text=drill) + heading
    short = {"title": title, "type": kind, "severity": severity, "school": school, "place": place, "time": at,
             "incident": str(n.incident_id), "event": event, "link": link or ""}
    return Message(title, heading, event, tuple(facts), link, label["link"], drill, colon, short)


def _time(at: datetime, zone: ZoneInfo) -> str:
    local = at.astimezone(zone)
    offset = local.strftime("%z")  # +0800
    return f"{local:%Y-%m-%d %H:%M:%S} UTC{offset[:3]}:{offset[3:]}"


# Characters markdown may read as markup inside a line (emphasis, code, links, tables, strike-through) and the HTML
# the robots accept inside markdown (<font>, <at>): each becomes a numeric character reference, which CommonMark
# shows as the character itself and never as markup. Backslashes would be the other way, but not every dialect
# honours them. Characters that are markup only at the start of a line (#, -, >) are safe: a value never starts one.
_MARKUP = frozenset("\\`*_[]<>&~|")


def escape_markdown(text: str) -> str:
    """Make a plain text safe inside markdown: markup characters become ``&#NN;``; line breaks become spaces."""
    flat = " ".join(text.split())  # a newline in a name would start a heading or a quote
    return "".join(f"&#{ord(c)};" if c in _MARKUP else c for c in flat)


class _HideRobotKeys(logging.Filter):
    """Hide the robots' keys in httpx's request log lines (``HTTP Request: POST https://...?access_token=...``).

    DingTalk and WeCom take their key in the query string, Feishu in the path, and a key is the robot's
    password: at the INFO level
    the alert stage logs at, httpx would write it out on every delivery.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        import httpx

        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(_without_keys(a) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


def _without_keys(url: httpx.URL) -> httpx.URL:
    for name in SECRET_QUERY_PARAMS & set(url.params.keys()):
        url = url.copy_set_param(name, "...")
    # Feishu's (and Lark's) token is the last part of the path: .../bot/v2/hook/<token>.
    head, hook, _ = url.path.partition(HOOK_PATH)
    if hook:
        url = url.copy_with(path=f"{head}{hook}...")
    return url


SECRET_QUERY_PARAMS: Final = frozenset({"access_token", "key", "sign"})
HOOK_PATH: Final = "/hook/"  # Feishu's token follows it in the path
_KEY_FILTER: Final = _HideRobotKeys()


def http_client(config: MessengerConfig) -> httpx.Client:
    """Open a client for one notifier: connections reused across deliveries, redirects never followed."""
    import httpx  # here, not at the top: every process reads the notifier configs, only the alert stage posts

    logging.getLogger("httpx").addFilter(_KEY_FILTER)  # once: a logger keeps a filter only once
    return httpx.Client(timeout=config.timeout_s, verify=config.verify_tls, follow_redirects=False,
                        headers={"User-Agent": USER_AGENT})


def post_json(client: httpx.Client, url: str, body: Mapping[str, Any], what: str,
              params: Mapping[str, str] | None = None) -> dict[str, Any]:
    """POST a JSON body once and return the robot's JSON answer, whatever its HTTP status below 500.

    Network failures, 429 and 5xx raise :class:`RetryableError`; an answer that is not a JSON object raises
    :class:`PermanentError`. Robots answer 200 with an error code in the body, and some a 4xx with one: the
    caller reads the code. ``what`` names the robot in errors; the URL is left out of them, as it holds the key.
    """
    import httpx

    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    try:
        response = client.post(url, params=dict(params or {}), content=content,
                               headers={"Content-Type": "application/json; charset=utf-8"})
    except httpx.TransportError as exc:  # connect, read and write errors and timeouts alike
        raise RetryableError(f"{what}: {type(exc).__name__}") from exc
    if response.status_code == httpx.codes.TOO_MANY_REQUESTS or response.status_code >= 500:
        raise RetryableError(f"{what}: HTTP {response.status_code} {response.reason_phrase}")
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise PermanentError(f"{what}: HTTP {response.status_code}, not a JSON answer: {response.text[:200]!r}")
    return answer
