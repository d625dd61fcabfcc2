"""SMS notifier: the incident's short facts as the values of a pre-approved template, through a provider.

A Chinese SMS service sends only approved templates (``${school}发生${type}警情`` and the
like), so what we choose is which of the incident's short fields fills which template variable (``params``), in
the configured language. The recipients are the phone numbers among the notification's recipients (E.164, such
as ``+8613800138000``, or an 11-digit mainland mobile number, such as ``13800138000``) and the config's ``to``.

Providers are registered by their config's ``kind`` in :data:`PROVIDERS` (Alibaba Cloud first: ``sms_aliyun.py``).
Numbers go in batches of the provider's size; a batch the provider took is not sent again when a later one is
retried. By default only ``raised`` and ``escalated`` are texted: an SMS costs money and wakes people.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, Self

from pydantic import Field, field_validator, model_validator

from alerts.notifiers.base import DeliveryError, EventKind, Notification, Notifier, PermanentError
from alerts.notifiers.messenger import MessengerConfig, render
from alerts.notifiers.sms_aliyun import AliyunSms, AliyunSmsConfig
from alerts.notifiers.sms_provider import SmsProvider

# One provider now; with a second this becomes Annotated[A | B, Field(discriminator="kind")].
SmsProviderConfig = AliyunSmsConfig
PROVIDERS: Final[Mapping[str, type[SmsProvider[Any]]]] = {provider.kind: provider for provider in (AliyunSms,)}

ShortField = Literal["title", "type", "severity", "school", "place", "time", "incident", "event", "link"]
# E.164 (+ and up to 15 digits), or a mainland mobile number: 11 digits starting 13-19.
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_MAINLAND = re.compile(r"1[3-9]\d{9}")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
DEFAULT_PARAMS: Final[Mapping[str, ShortField]] = {"school": "school", "type": "type", "severity": "severity",
                                                   "time": "time"}


def phone_number(text: str) -> str | None:
    """Give a recipient as the digits an SMS API takes, or None when it is not a phone number.

    ``+86`` numbers lose the country code (the mainland form), others keep it without the ``+``; spaces,
    hyphens and brackets between digit groups are dropped (``+86 (138) 0013-8000``, as site files write them).
    """
    compact = re.sub(r"[\s()-]", "", text)
    if _MAINLAND.fullmatch(compact):
        return compact
    if _E164.fullmatch(compact):
        digits = compact[1:]
        return digits[2:] if digits.startswith("86") and _MAINLAND.fullmatch(digits[2:]) else digits
    return None


class SmsConfig(MessengerConfig):
    """Text each notification's short facts, as a template's values, to the phone numbers among its recipients."""

    type: Literal["sms"] = Field(description="Selects the SMS notifier.")
    provider: SmsProviderConfig = Field(description="The SMS service and its credentials, chosen by its kind.")
    to: tuple[str, ...] = Field((), description="Numbers that receive every notification (E.164 or mainland).")
    include_recipients: bool = Field(True, description="Also text the notification's recipients that are numbers.")
    params: dict[str, ShortField] = Field(
        default_factory=lambda: dict(DEFAULT_PARAMS),
        description="Template variable -> the incident's short field that fills it (title, type, severity, "
        "school, place, time, incident, event, link).")
    max_param_chars: int = Field(35, ge=1, le=500, description="Longest value a template variable may take; "
                                 "longer ones are cut (providers refuse them).")
    events: tuple[EventKind, ...] = Field(("raised", "escalated"), description="Which events are texted.")

    @field_validator("to")
    @classmethod
    def _numbers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        wrong = [v for v in value if phone_number(v) is None]
        if wrong:
            raise ValueError(f"not phone numbers (E.164 or 11-digit mainland): {wrong}")
        return value

    @model_validator(mode="after")
    def _variables(self) -> Self:
        wrong = [name for name in self.params if not _VARIABLE.fullmatch(name)]
        if wrong:
            raise ValueError(f"template variable names are letters, digits and _: {wrong}")
        if not self.params:
            raise ValueError("params names no template variable: the template would go out empty")
        return self


def recipients(notification: Notification, config: SmsConfig) -> list[str]:
    """Every number this message goes to, in order, once each."""
    extra = notification.recipients if config.include_recipients else ()
    numbers = (phone_number(r) for r in (*config.to, *extra))
    return list(dict.fromkeys(n for n in numbers if n is not None))


def template_params(notification: Notification, config: SmsConfig) -> dict[str, str]:
    """Fill each template variable with its short field, said in the config's language and cut to length."""
    short = render(notification, config).short
    limit = config.max_param_chars
    cut = {name: short[source] for name, source in config.params.items()}
    return {name: value if len(value) <= limit else value[:limit - 1] + "…" for name, value in cut.items()}


@dataclass(slots=True)
class _Delivery:
    """Batches still to send across attempts, so a batch the provider took is not texted twice."""

    pending: list[list[str]]
    params: dict[str, str]
    done: int = 0


class SmsNotifier(Notifier[SmsConfig]):
    """A template SMS through the configured provider, in batches, retrying only what was not taken."""

    type_key = "sms"
    config_class = SmsConfig

    def __init__(self, config: SmsConfig) -> None:
        """Build the provider its config names."""
        super().__init__(config)
        self._provider = PROVIDERS[config.provider.kind](config.provider, config.timeout_s, config.verify_tls)

    def prepare(self, notification: Notification) -> Callable[[], str | None]:
        """Find the numbers and the values once; each attempt sends the batches still pending."""
        if notification.event not in self.config.events:
            return lambda: f"no SMS when {notification.event}"
        numbers = recipients(notification, self.config)
        if not numbers:
            raise PermanentError("no phone numbers: neither the config's 'to' nor the recipients name any")
        size = self._provider.max_batch
        state = _Delivery([numbers[i:i + size] for i in range(0, len(numbers), size)],
                          template_params(notification, self.config))

        def attempt() -> str | None:
            while state.pending:
                try:
                    self._provider.send(state.pending[0], state.params)
                except DeliveryError as exc:
                    if not state.done:
                        raise
                    # Say so in the incident's history: some were texted, and a retry will not text them again.
                    raise type(exc)(f"{exc} ({state.done} number(s) already texted)") from exc
                state.done += len(state.pending.pop(0))
            return None

        return attempt

    def close(self) -> None:
        """Close the provider's connections."""
        self._provider.close()
