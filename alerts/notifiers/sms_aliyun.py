"""Alibaba Cloud SMS (阿里云短信服务): the ``SendSms`` action of its RPC-style API, signed with HMAC-SHA1.

A request is the common parameters (``AccessKeyId``, ``Action=SendSms``, ``Format=JSON``, ``RegionId``,
``SignatureMethod=HMAC-SHA1``, ``SignatureNonce``: new on every request, ``SignatureVersion=1.0``, ``Timestamp``:
ISO 8601 in UTC, ``Version=2017-05-25``) and the action's (``PhoneNumbers`` comma-separated, ``SignName``,
``TemplateCode``, ``TemplateParam`` as JSON), signed as the documented signature version 1.0 says:

1. Sort the parameters by name and join ``name=value`` pairs with ``&``, each name and value percent-encoded
   in UTF-8 with only ``A-Z a-z 0-9 - _ . ~`` left as they are (so a space is ``%20``, ``*`` is ``%2A``).
2. ``StringToSign = METHOD + "&" + encode("/") + "&" + encode(that query string)``.
3. ``Signature = base64(HMAC-SHA1(key=AccessKeySecret + "&", StringToSign))``, sent as one more parameter.

We POST the parameters as a form (phone numbers stay out of URLs and access logs). The answer is JSON: ``Code``
``OK`` is accepted; busy and throttled codes are retried; any other (a refused signature, an unknown key, an
unapproved template, an illegal number, the per-number flow control ``isv.BUSINESS_LIMIT_CONTROL``, whose
minutes-to-days windows a retry within seconds cannot outwait) is a permanent failure with its ``Message``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from pydantic import AnyHttpUrl, Field, SecretStr

from alerts.notifiers.base import PermanentError, RetryableError
from alerts.notifiers.sms_provider import SmsProvider, SmsProviderConfigBase

if TYPE_CHECKING:
    import httpx

DEFAULT_URL = "https://dysmsapi.aliyuncs.com/"
API_VERSION = "2017-05-25"
RETRYABLE_CODES = frozenset({"isp.SYSTEM_ERROR", "Throttling.User", "Throttling", "ServiceUnavailable",
                             "InternalError", "SignatureNonceUsed"})


class AliyunSmsConfig(SmsProviderConfigBase):
    """Alibaba Cloud SMS: an AccessKey pair (a RAM user's, allowed SendSms only), an approved signature and template."""

    kind: Literal["aliyun"] = Field(description="Selects Alibaba Cloud SMS.")
    access_key_id: str = Field(min_length=1, description="AccessKey ID of a RAM user allowed dysms:SendSms.")
    access_key_secret: SecretStr = Field(min_length=8, description="That AccessKey's secret.")
    sign_name: str = Field(min_length=1, description="The approved SMS signature (短信签名), e.g. 鹤壁市教育局.")
    template_code: str = Field(min_length=1, description="The approved template's code (SMS_...).")
    region_id: str = Field("cn-hangzhou", description="RegionId parameter; cn-hangzhou serves the mainland.")
    url: AnyHttpUrl = Field(AnyHttpUrl(DEFAULT_URL),
                            description="The SMS API endpoint; change it only to test against a local server.")


def percent_encode(text: str) -> str:
    """Encode as the signature wants: UTF-8, only unreserved characters (``A-Za-z0-9-_.~``) left as they are."""
    return quote(text, safe="~")


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """Canonicalise the parameters (sorted, encoded) and frame them with the method and the encoded ``/``."""
    query = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    return f"{method}&{percent_encode('/')}&{percent_encode(query)}"


def signature(secret: str, method: str, params: Mapping[str, str]) -> str:
    """Compute ``Signature``: base64(HMAC-SHA1(key=secret + "&", StringToSign))."""
    mac = hmac.new(f"{secret}&".encode(), string_to_sign(method, params).encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def signed_params(config: AliyunSmsConfig, phones: Sequence[str], params: Mapping[str, str],
                  now: datetime) -> dict[str, str]:
    """Give every parameter of one SendSms request, ``Signature`` included (a fresh nonce each time)."""
    query = {
        "AccessKeyId": config.access_key_id, "Action": "SendSms", "Format": "JSON", "RegionId": config.region_id,
        "SignatureMethod": "HMAC-SHA1", "SignatureNonce": uuid.uuid4().hex, "SignatureVersion": "1.0",
        "Timestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "Version": API_VERSION,
        "PhoneNumbers": ",".join(phones), "SignName": config.sign_name, "TemplateCode": config.template_code,
        "TemplateParam": json.dumps(dict(params), ensure_ascii=False, separators=(",", ":")),
    }
    query["Signature"] = signature(config.access_key_secret.get_secret_value(), "POST", query)
    return query


class AliyunSms(SmsProvider[AliyunSmsConfig]):
    """SendSms over HTTPS, one request per batch of up to 1,000 numbers."""

    kind = "aliyun"
    max_batch = 1000

    def __init__(self, config: AliyunSmsConfig, timeout_s: float, verify_tls: bool) -> None:
        """Keep the config; the HTTP client is opened on first use."""
        super().__init__(config, timeout_s, verify_tls)
        self._client: httpx.Client | None = None

    def send(self, phones: Sequence[str], params: Mapping[str, str]) -> None:
        """POST one signed SendSms and sort its answer."""
        import httpx  # here, not at the top: every process reads the notifier configs, only the alert stage sends

        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout_s, verify=self.verify_tls, follow_redirects=False)
        form = signed_params(self.config, phones, params, datetime.now(UTC))
        try:
            response = self._client.post(str(self.config.url), data=form)
        except httpx.TransportError as exc:
            raise RetryableError(f"Alibaba Cloud SMS: {type(exc).__name__}: {exc}") from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            text = f"Alibaba Cloud SMS: HTTP {response.status_code}, not a JSON answer: {response.text[:200]!r}"
            if response.status_code >= 500 or response.status_code == httpx.codes.TOO_MANY_REQUESTS:
                raise RetryableError(text)
            raise PermanentError(text)
        code = str(answer.get("Code", ""))
        if code == "OK":
            return
        # A refused signature's message spells out the string to sign, phone numbers and all: not for the history.
        said = str(answer.get("Message", "")).split(" server string to sign")[0][:200]
        text = f"Alibaba Cloud SMS refused it: {code}: {said}"
        if code in RETRYABLE_CODES or response.status_code >= 500:
            raise RetryableError(text)
        raise PermanentError(text)

    def close(self) -> None:
        """Close the HTTP client, if one was opened."""
        if self._client is not None:
            self._client.close()
            self._client = None
