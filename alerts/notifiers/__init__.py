"""Notifiers: one module per delivery channel, each with its config (``type: Literal[...]``) and implementation.

``NOTIFIERS`` maps a config's ``type`` to its notifier class, and ``NotifierConfig`` is the discriminated
union a settings tree uses for a list of notifiers. Adding a channel is adding a module here and naming it
in ``_MODULES``; a test fails if a module's notifier is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from pydantic import Field, TypeAdapter

from alerts.notifiers import cap, dingtalk, email, feishu, mqtt_out, sms, webhook, webpush, wecom
from alerts.notifiers.base import DeliveryResult, Notification, Notifier, NotifierConfigBase

_MODULES: Final = (webhook, email, mqtt_out, cap, webpush, dingtalk, wecom, feishu, sms)

NOTIFIERS: Final[Mapping[str, type[Notifier[Any]]]] = {
    notifier.type_key: notifier
    for module in _MODULES
    for notifier in vars(module).values()
    if isinstance(notifier, type) and issubclass(notifier, Notifier) and notifier.__module__ == module.__name__
}

NotifierConfig = Annotated[
    webhook.WebhookConfig | email.EmailConfig | mqtt_out.MqttOutConfig | cap.CapConfig | webpush.WebPushConfig
    | dingtalk.DingTalkConfig | wecom.WeComConfig | feishu.FeishuConfig | sms.SmsConfig,
    Field(discriminator="type"),
]
_CONFIG_ADAPTER: Final[TypeAdapter[NotifierConfig]] = TypeAdapter(NotifierConfig)


def parse_config(raw: Mapping[str, Any]) -> NotifierConfigBase:
    """Validate a notifier config from a dict (YAML, JSON), choosing the class by its ``type``."""
    config: NotifierConfigBase = _CONFIG_ADAPTER.validate_python(raw)
    return config


def build_notifier(config: NotifierConfigBase | Mapping[str, Any]) -> Notifier[Any]:
    """Build the notifier a config (or a raw dict) describes."""
    chosen = config if isinstance(config, NotifierConfigBase) else parse_config(config)
    kind = getattr(chosen, "type", None)
    if not isinstance(kind, str) or kind not in NOTIFIERS:
        raise ValueError(f"no notifier of type {kind!r}; known: {sorted(NOTIFIERS)}")
    return NOTIFIERS[kind](chosen)


__all__ = [
    "NOTIFIERS",
    "DeliveryResult",
    "Notification",
    "Notifier",
    "NotifierConfig",
    "NotifierConfigBase",
    "build_notifier",
    "parse_config",
]
