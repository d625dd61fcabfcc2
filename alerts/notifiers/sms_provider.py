"""What an SMS provider is to the SMS notifier: its config's base and the one call it answers.

SMS in China goes through a cloud's SMS service with a pre-approved signature (短信签名) and template (短信模板):
we send the template's code and its variables' values, never free text. A provider is one module holding its
config (``kind: Literal[...]``) and a :class:`SmsProvider` subclass; ``alerts/notifiers/sms.py`` registers it by
that ``kind``. The first is Alibaba Cloud's (``sms_aliyun.py``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict


class SmsProviderConfigBase(BaseModel):
    """Fields every provider's config has; each adds ``kind: Literal[...]`` and its own credentials."""

    model_config = ConfigDict(extra="forbid", frozen=True)


ProviderConfigT = TypeVar("ProviderConfigT", bound=SmsProviderConfigBase)


class SmsProvider(ABC, Generic[ProviderConfigT]):
    """One SMS service: sends a template with its values to a batch of numbers."""

    kind: ClassVar[str]
    max_batch: ClassVar[int] = 100
    """The most numbers one request may carry; the notifier splits longer lists."""

    def __init__(self, config: ProviderConfigT, timeout_s: float, verify_tls: bool) -> None:
        """Keep the config and the limits of each request."""
        self.config = config
        self.timeout_s = timeout_s
        self.verify_tls = verify_tls

    @abstractmethod
    def send(self, phones: Sequence[str], params: Mapping[str, str]) -> None:
        """Send the template to ``phones`` (digits, country code first outside the mainland) with ``params``.

        Raises ``RetryableError`` for what may pass later and ``PermanentError`` for the rest.
        """

    def close(self) -> None:
        """Release connections the provider holds."""
