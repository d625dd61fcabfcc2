"""The SMS notifier through Alibaba Cloud's SendSms, against a local server that checks the documented signature.

The server parses the form, rebuilds the string to sign from the documentation (sorted, percent-encoded with
only unreserved characters kept, framed by the method and ``%2F``), recomputes HMAC-SHA1 with its own copy of
the AccessKey secret, checks the timestamp's format and age, the nonce's uniqueness and the required fields,
and answers as the service does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest
from pydantic import ValidationError

from alerts.notifiers import build_notifier, parse_config
from alerts.notifiers.sms import phone_number
from tests.alerts.test_messengers import Request, Vendor, notification, serve
from tests.alerts.test_notifiers import FAST

KEY_ID = "LTAI5tTestKeyId"
KEY_SECRET = "testAccessKeySecret0123"
REQUIRED = ("AccessKeyId", "Action", "Format", "RegionId", "SignatureMethod", "SignatureNonce", "SignatureVersion",
            "Timestamp", "Version", "PhoneNumbers", "SignName", "TemplateCode", "TemplateParam", "Signature")


def _encode(text: str) -> str:
    # The documentation's rule, spelt out: encode everything but A-Z a-z 0-9 - _ . ~ in UTF-8.
    return "".join(c if re.fullmatch(r"[A-Za-z0-9\-_.~]", c) else "".join(f"%{b:02X}" for b in c.encode())
                   for c in text)


def sms_service(vendor: Vendor, request: Request) -> tuple[int, dict[str, Any]]:
    """Alibaba Cloud's RPC endpoint as documented for SendSms with signature version 1.0."""
    form = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
    if missing := [name for name in REQUIRED if not form.get(name)]:
        return 400, {"Code": "MissingParameter", "Message": f"missing {missing}", "RequestId": "r"}
    if form["AccessKeyId"] != KEY_ID:
        return 404, {"Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found."}
    params = {k: v for k, v in form.items() if k != "Signature"}
    canonical = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(params.items()))
    to_sign = f"{request.method}&{_encode('/')}&{_encode(canonical)}"
    expected = base64.b64encode(hmac.new(f"{KEY_SECRET}&".encode(), to_sign.encode(), hashlib.sha1).digest())
    good = hmac.compare_digest(expected.decode(), form["Signature"])
    vendor.verified.append(good)
    if not good:
        return 400, {"Code": "SignatureDoesNotMatch", "RequestId": "r",
                     "Message": f"Specified signature is not matched with our calculation. server string to sign "
                                f"is:{to_sign}"}
    stamp = datetime.strptime(form["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    if abs((datetime.now(UTC) - stamp).total_seconds()) > 900:
        return 400, {"Code": "InvalidTimeStamp.Expired", "Message": "Specified time stamp or date value is expired."}
    if any(r.body and dict(parse_qsl(r.body.decode())).get("SignatureNonce") == form["SignatureNonce"]
           for r in vendor.requests[:-1]):
        return 400, {"Code": "SignatureNonceUsed", "Message": "Specified signature nonce was used already."}
    if (form["Action"], form["Version"], form["SignatureMethod"], form["SignatureVersion"], form["Format"]) != (
            "SendSms", "2017-05-25", "HMAC-SHA1", "1.0", "JSON"):
        return 400, {"Code": "InvalidParameter", "Message": "unsupported action or version"}
    phones = form["PhoneNumbers"].split(",")
    if len(phones) > 1000 or not all(re.fullmatch(r"\d{5,15}", p) for p in phones):
        return 200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号", "RequestId": "r"}
    if not isinstance(json.loads(form["TemplateParam"]), dict):
        return 200, {"Code": "isv.INVALID_JSON_PARAM", "Message": "JSON参数不合法，只接受字符串值"}  # noqa: RUF001
    return vendor.next_or((200, {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": "r"}))


def forms(vendor: Vendor) -> list[dict[str, str]]:
    return [dict(parse_qsl(r.body.decode())) for r in vendor.requests]


def sms(vendor: Vendor, **changes: Any) -> dict[str, Any]:
    provider = {"kind": "aliyun", "access_key_id": KEY_ID, "access_key_secret": KEY_SECRET,
                "sign_name": "鹤壁市教育局", "template_code": "SMS_465400001", "url": f"{vendor.url}/"}
    provider |= changes.pop("provider", {})
    return {"type": "sms", "provider": provider, "retry": FAST, **changes}


def test_sms_sends_the_templates_values_in_chinese_to_the_phone_numbers_only() -> None:
    params = {"school": "school", "kind": "type", "level": "severity", "time": "time", "no": "incident"}
    with serve(sms_service) as service, build_notifier(
            sms(service, to=("+86 138 0013 8001", "+852 9123 4567"), params=params)) as notifier:
        result = notifier.send(notification())
    assert (result.ok, result.attempts, result.error) == (True, 1, None)
    assert service.verified == [True]
    [form] = forms(service)
    # The config's numbers first, then the recipients that are numbers (not guard-7, not the email address).
    assert form["PhoneNumbers"] == "13800138001,85291234567,13800138000"
    assert (form["SignName"], form["TemplateCode"]) == ("鹤壁市教育局", "SMS_465400001")
    assert json.loads(form["TemplateParam"]) == {"school": "淇滨区第一小学", "kind": "紧急求助", "level": "紧急",
                                                 "time": "2026-09-01 08:30:04 UTC+08:00", "no": "4711"}


def test_sms_with_a_wrong_secret_fails_verification_at_once() -> None:
    with serve(sms_service) as service, build_notifier(
            sms(service, provider={"access_key_secret": "not-the-right-secret"})) as notifier:
        result = notifier.send(notification())
    assert (result.ok, result.attempts) == (False, 1)
    assert service.verified == [False]
    assert result.error is not None and "SignatureDoesNotMatch" in result.error
    assert "13800138000" not in result.error  # the service's message spells out the numbers: cut from the history


def test_sms_retries_a_busy_service_with_a_fresh_nonce_and_cuts_long_values() -> None:
    long_school = "鹤壁市淇滨区金山街道办事处第一中心小学附属幼儿园东校区寄宿部教学楼以及操场"
    with serve(sms_service) as service, build_notifier(sms(service, max_param_chars=20)) as notifier:
        service.queued = [(200, {"Code": "isp.SYSTEM_ERROR", "Message": "系统出现错误，请重新调用"}),  # noqa: RUF001
                          (503, {"Code": "ServiceUnavailable", "Message": "The request has failed."})]
        result = notifier.send(notification(school_name=long_school))
    assert (result.ok, result.attempts) == (True, 3)
    assert service.verified == [True, True, True]
    sent = forms(service)
    assert len({f["SignatureNonce"] for f in sent}) == 3
    assert json.loads(sent[-1]["TemplateParam"])["school"] == long_school[:19] + "…"


def test_sms_sends_a_thousand_numbers_a_batch_and_does_not_text_a_batch_twice() -> None:
    numbers = tuple(f"1390000{i:04d}" for i in range(1001))
    with serve(sms_service) as service, build_notifier(sms(service, to=numbers)) as notifier:
        ok = (200, {"Code": "OK", "Message": "OK"})
        service.queued = [ok, (200, {"Code": "Throttling.User", "Message": "Request was denied due to flow control."})]
        result = notifier.send(notification(recipients=()))
    assert (result.ok, result.attempts) == (True, 2)
    assert [len(f["PhoneNumbers"].split(",")) for f in forms(service)] == [1000, 1, 1]


def test_sms_flow_control_is_not_retried_and_says_who_was_texted() -> None:
    numbers = tuple(f"1390000{i:04d}" for i in range(1001))
    with serve(sms_service) as service, build_notifier(sms(service, to=numbers)) as notifier:
        service.queued = [(200, {"Code": "OK", "Message": "OK"}),
                          (200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发号码天级流控Permits:10"})]
        result = notifier.send(notification(recipients=()))
    assert (result.ok, result.attempts) == (False, 1)
    assert result.error is not None and "BUSINESS_LIMIT_CONTROL" in result.error
    assert "1000 number(s) already texted" in result.error


def test_sms_texts_only_raised_and_escalated_and_needs_a_number() -> None:
    with serve(sms_service) as service, build_notifier(sms(service)) as notifier:
        quiet = notifier.send(notification(event="acknowledged", status="acknowledged"))
        nobody = notifier.send(notification(recipients=("guard-7", "a@b.example")))
        escalated = notifier.send(notification(event="escalated", level=2))
    assert (quiet.ok, quiet.error) == (True, "no SMS when acknowledged")
    assert (nobody.ok, nobody.attempts) == (False, 0)
    assert nobody.error is not None and "no phone numbers" in nobody.error
    assert escalated.ok and len(service.requests) == 1


@pytest.mark.parametrize(("given", "expected"), [
    ("13800138000", "13800138000"), ("+8613800138000", "13800138000"), ("+86 138-0013-8000", "13800138000"),
    ("+86 (138) 0013-8000", "13800138000"),
    ("+85291234567", "85291234567"), ("+14155550123", "14155550123"),
    ("12800138000", None), ("1380013800", None), ("guard-7", None), ("a@b.example", None), ("+0123456789", None),
])
def test_phone_numbers_are_e164_or_mainland_mobiles(given: str, expected: str | None) -> None:
    assert phone_number(given) == expected


def test_sms_config_refuses_what_cannot_be_sent() -> None:
    base = {"type": "sms", "provider": {"kind": "aliyun", "access_key_id": KEY_ID, "access_key_secret": KEY_SECRET,
                                        "sign_name": "鹤壁市教育局", "template_code": "SMS_1"}}
    with pytest.raises(ValidationError, match="not phone numbers"):
        parse_config(base | {"to": ["guard-7"]})
    with pytest.raises(ValidationError, match="letters, digits"):
        parse_config(base | {"params": {"学校": "school"}})
    with pytest.raises(ValidationError, match="Input should be"):
        parse_config(base | {"params": {"school": "password"}})
    with pytest.raises(ValidationError, match="Field required"):
        parse_config(base | {"provider": {"kind": "aliyun", "access_key_id": KEY_ID}})
