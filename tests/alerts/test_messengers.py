"""The chat robots (DingTalk, WeCom, Feishu) against local servers that do what the vendors document.

Each server takes the request the vendor's documentation describes, recomputes the signature with its own copy
of the secret (written out here from the documentation, not with our code), checks the required fields, and
answers as the vendor does: its success, its signature error, its rate-limit code. Real TCP, real HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError

from alerts.notifiers import build_notifier, parse_config
from alerts.notifiers.base import Notification
from tests.alerts.test_notifiers import FAST

T0 = datetime(2026, 9, 1, 0, 30, tzinfo=UTC)  # 08:30 in Beijing
TOKEN = "robot-token-0123456789"
SECRET = "SECd0c5e3b7a1f94e2c8b6a7d5e4f3c2b1a0"
EVIL = '[点我](http://evil.example)<font color="info">*东门*</font>'


def notification(**changes: Any) -> Notification:
    """A panic at a school of the Chinese example city, as the alert stage would notify it."""
    base: dict[str, Any] = dict(
        incident_id=4711, school_id="qibin-no1-primary", type="panic", severity="critical", status="raised",
        title="Panic: 东门岗亭", event="raised", at=T0 + timedelta(seconds=4), opened_at=T0,
        lon=114.297, lat=35.748, message="", level=0, recipients=("13800138000", "guard-7", "a@b.example"),
        school_name="淇滨区第一小学")
    base.update(changes)
    return Notification(**base)


# --- a local HTTP server that answers like a vendor ---------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Vendor:
    """What one vendor server saw: every request, whether its signature held, and answers queued for it."""

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    verified: list[bool] = field(default_factory=list)
    queued: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def next_or(self, answer: tuple[int, dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        """A queued answer (a rate limit, a 500), else the vendor's success."""
        return self.queued.pop(0) if self.queued else answer


Respond = Callable[[Vendor, Request], tuple[int, dict[str, Any]]]


@contextmanager
def serve(respond: Respond) -> Iterator[Vendor]:
    """Run a threaded HTTP server on a free local port; ``respond`` plays the vendor."""
    vendor = Vendor()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            request = Request("POST", parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()},
                              {k: v for k, v in self.headers.items()},
                              self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            vendor.requests.append(request)
            status, answer = respond(vendor, request)
            data = json.dumps(answer, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    vendor.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield vendor
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _b64_hmac_sha256(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


# --- DingTalk: 自定义机器人, 加签 --------------------------------------------------------------------------


def dingtalk_robot(vendor: Vendor, request: Request) -> tuple[int, dict[str, Any]]:
    """The documented robot: token, then timestamp (ms, within an hour) and sign in the query, then the body."""
    q = request.query
    if request.path != "/robot/send" or q.get("access_token") != TOKEN:
        return 200, {"errcode": 300001, "errmsg": "token is not exist"}
    stamp, sign = q.get("timestamp", ""), q.get("sign", "")
    fresh = stamp.isdigit() and abs(time.time() * 1000 - int(stamp)) < 3_600_000
    good = fresh and hmac.compare_digest(_b64_hmac_sha256(SECRET.encode(), f"{stamp}\n{SECRET}".encode()), sign)
    vendor.verified.append(good)
    if not good:
        return 200, {"errcode": 310000, "errmsg": "sign not match, more: [https://ding-doc.dingtalk.com/...]"}
    body = request.json()
    kind = body.get("msgtype")
    needed = {"actionCard": ("title", "text", "singleTitle", "singleURL"), "markdown": ("title", "text")}
    if kind not in needed or any(not body.get(kind, {}).get(name) for name in needed[kind]):
        return 200, {"errcode": 40035, "errmsg": "缺少参数 json"}
    return vendor.next_or((200, {"errcode": 0, "errmsg": "ok"}))


def dingtalk(vendor: Vendor, **changes: Any) -> dict[str, Any]:
    return {"type": "dingtalk", "access_token": TOKEN, "secret": SECRET, "url": f"{vendor.url}/robot/send",
            "public_url": "https://safety.hebi.example.gov.cn/", "retry": FAST, **changes}


def test_dingtalk_posts_a_signed_action_card_in_chinese() -> None:
    with serve(dingtalk_robot) as robot, build_notifier(dingtalk(robot)) as notifier:
        result = notifier.send(notification())
    assert (result.ok, result.attempts, result.error) == (True, 1, None)
    assert robot.verified == [True]
    card = robot.requests[0].json()["actionCard"]
    assert card["singleURL"] == "https://safety.hebi.example.gov.cn/history?incident=4711"
    assert card["singleTitle"] == "查看事件"
    assert card["title"].startswith("【紧急】新警情：")  # noqa: RUF001 - the Chinese heading
    for words in ("**类型**：紧急求助", "**级别**：紧急", "**学校**：淇滨区第一小学",  # noqa: RUF001
                  "**位置**：35.748000，114.297000（WGS-84）", "**时间**：2026-09-01 08:30:04 UTC+08:00"):  # noqa: RUF001
        assert words in card["text"]


def test_dingtalk_without_a_public_address_sends_markdown_without_a_link() -> None:
    with serve(dingtalk_robot) as robot, build_notifier(dingtalk(robot, public_url=None)) as notifier:
        result = notifier.send(notification())
    assert result.ok and robot.verified == [True]
    body = robot.requests[0].json()
    assert body["msgtype"] == "markdown" and "http" not in body["markdown"]["text"]


def test_dingtalk_escapes_markup_in_names() -> None:
    with serve(dingtalk_robot) as robot, build_notifier(dingtalk(robot)) as notifier:
        assert notifier.send(notification(school_name=EVIL)).ok
    text = robot.requests[0].json()["actionCard"]["text"]
    assert "[点我]" not in text and "<font" not in text and "*东门*" not in text
    assert "&#91;点我&#93;(http://evil.example)&#60;font color=\"info\"&#62;&#42;东门&#42;" in text


def test_dingtalk_with_a_wrong_secret_fails_at_once() -> None:
    with serve(dingtalk_robot) as robot, build_notifier(dingtalk(robot, secret="SECnot-the-robots")) as notifier:
        result = notifier.send(notification())
    assert (result.ok, result.attempts) == (False, 1)
    assert robot.verified == [False]
    assert result.error is not None and "errcode 310000" in result.error and "sign not match" in result.error


def test_dingtalk_retries_a_rate_limit_and_a_server_error_signing_each_attempt_afresh() -> None:
    with serve(dingtalk_robot) as robot, build_notifier(dingtalk(robot)) as notifier:
        robot.queued = [(200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}),
                        (502, {"message": "bad gateway"})]
        result = notifier.send(notification())
    assert (result.ok, result.attempts) == (True, 3)
    assert robot.verified == [True, True, True]  # each attempt signed (and checked) on its own


def test_dingtalk_gives_up_on_a_rate_limit_that_does_not_pass() -> None:
    with serve(dingtalk_robot) as robot, build_notifier(dingtalk(robot)) as notifier:
        robot.queued = [(200, {"errcode": 130101, "errmsg": "send too fast"})] * 5
        result = notifier.send(notification())
    assert (result.ok, result.attempts) == (False, 3)
    assert result.error is not None and "130101" in result.error
    assert TOKEN not in result.error  # the token is a credential: never in the incident's history


# --- WeCom: 群机器人 ----------------------------------------------------------------------------------------


WECOM_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


def wecom_robot(vendor: Vendor, request: Request) -> tuple[int, dict[str, Any]]:
    """The documented group robot: the key in the query, a markdown or template_card body."""
    if request.path != "/cgi-bin/webhook/send" or request.query.get("key") != WECOM_KEY:
        vendor.verified.append(False)
        return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}
    vendor.verified.append(True)
    body = request.json()
    if body.get("msgtype") == "markdown":
        content = body.get("markdown", {}).get("content", "")
        if not content or len(content.encode()) > 4096:
            return 200, {"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"}
    elif body.get("msgtype") == "template_card":
        card = body.get("template_card", {})
        if card.get("card_type") != "text_notice" or not card.get("card_action", {}).get("url"):
            return 200, {"errcode": 40063, "errmsg": "template_card invalid"}
    else:
        return 200, {"errcode": 40008, "errmsg": "invalid message type"}
    return vendor.next_or((200, {"errcode": 0, "errmsg": "ok"}))


def wecom(vendor: Vendor, **changes: Any) -> dict[str, Any]:
    return {"type": "wecom", "key": WECOM_KEY, "url": f"{vendor.url}/cgi-bin/webhook/send",
            "public_url": "https://safety.hebi.example.gov.cn", "retry": FAST, **changes}


def test_wecom_posts_markdown_in_chinese_with_names_escaped() -> None:
    with serve(wecom_robot) as robot, build_notifier(wecom(robot)) as notifier:
        result = notifier.send(notification(school_name=EVIL, drill=True))
    assert (result.ok, result.attempts) == (True, 1)
    content = robot.requests[0].json()["markdown"]["content"]
    assert content.startswith("**【演习：非真实警情】【紧急】新警情：")  # noqa: RUF001
    assert '<font color="warning">演习：非真实警情</font>' in content  # noqa: RUF001 - ours, not a name
    assert '<font color="info">' not in content and "[点我]" not in content
    assert "> 类型：<font color=\"comment\">紧急求助</font>" in content  # noqa: RUF001
    assert "[查看事件](https://safety.hebi.example.gov.cn/history?incident=4711)" in content


def test_wecom_template_card_is_plain_text_cut_to_wecoms_lengths() -> None:
    long_school = "鹤壁市淇滨区金山街道办事处第一中心小学附属幼儿园东校区寄宿部教学楼"  # 34 characters
    with serve(wecom_robot) as robot, build_notifier(wecom(robot, message="template_card")) as notifier:
        assert notifier.send(notification(school_name=long_school)).ok
    card = robot.requests[0].json()["template_card"]
    assert card["card_action"] == {"type": 1, "url": "https://safety.hebi.example.gov.cn/history?incident=4711"}
    rows = {row["keyname"]: row["value"] for row in card["horizontal_content_list"]}
    assert rows["类型"] == "紧急求助" and rows["学校"] == long_school[:29] + "…"
    assert len(card["horizontal_content_list"]) <= 6


def test_wecom_template_card_needs_the_public_address() -> None:
    with pytest.raises(ValidationError, match="public_url"):
        parse_config({"type": "wecom", "key": WECOM_KEY, "message": "template_card"})


def test_wecom_wrong_key_fails_and_a_busy_robot_is_retried() -> None:
    with serve(wecom_robot) as robot:
        with build_notifier(wecom(robot, key="not-the-robots-key")) as notifier:
            refused = notifier.send(notification())
        with build_notifier(wecom(robot)) as notifier:
            robot.queued = [(200, {"errcode": 45009, "errmsg": "api freq out of limit"})]
            retried = notifier.send(notification())
    assert (refused.ok, refused.attempts) == (False, 1)
    assert refused.error is not None and "93000" in refused.error and "not-the-robots-key" not in refused.error
    assert (retried.ok, retried.attempts) == (True, 2)
    assert robot.verified == [False, True, True]


# --- Feishu: 自定义机器人, 签名校验 -------------------------------------------------------------------------


FEISHU_HOOK = "5e3d587e-d78e-4a07-bd07-265f269f86fd"


def feishu_bot(vendor: Vendor, request: Request) -> tuple[int, dict[str, Any]]:
    """The documented bot: timestamp (s, within an hour) and sign in the body, an interactive card."""
    if request.path != f"/open-apis/bot/v2/hook/{FEISHU_HOOK}":
        return 404, {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}
    body = request.json()
    stamp, sign = str(body.get("timestamp", "")), str(body.get("sign", ""))
    fresh = stamp.isdigit() and abs(time.time() - int(stamp)) < 3600
    good = fresh and hmac.compare_digest(_b64_hmac_sha256(f"{stamp}\n{SECRET}".encode(), b""), sign)
    vendor.verified.append(good)
    if not good:
        return 200, {"code": 19021, "data": {},
                     "msg": "sign match fail or timestamp is not within one hour from current time"}
    card = body.get("card", {})
    if body.get("msg_type") != "interactive" or not card.get("elements") or not card.get("header"):
        return 200, {"code": 9499, "msg": "Bad Request", "data": {}}
    return vendor.next_or((200, {"code": 0, "msg": "success", "data": {}}))


def feishu(vendor: Vendor, **changes: Any) -> dict[str, Any]:
    return {"type": "feishu", "hook": FEISHU_HOOK, "secret": SECRET, "url": f"{vendor.url}/open-apis/bot/v2/hook/",
            "public_url": "https://safety.hebi.example.gov.cn", "retry": FAST, **changes}


def _texts(node: Any) -> list[dict[str, Any]]:
    """Every text element of a card, wherever it sits."""
    if isinstance(node, dict):
        found = [node] if "content" in node and "tag" in node else []
        return found + [t for value in node.values() for t in _texts(value)]
    if isinstance(node, list):
        return [t for value in node for t in _texts(value)]
    return []


def test_feishu_posts_a_signed_card_with_every_outside_text_plain() -> None:
    with serve(feishu_bot) as bot, build_notifier(feishu(bot)) as notifier:
        result = notifier.send(notification(school_name=EVIL))
    assert (result.ok, result.attempts) == (True, 1)
    assert bot.verified == [True]
    card = bot.requests[0].json()["card"]
    assert card["header"]["template"] == "red"
    assert card["header"]["title"]["content"].startswith("【紧急】新警情：")  # noqa: RUF001
    texts = _texts(card)
    assert {t["tag"] for t in texts} == {"plain_text"}  # plain text: Feishu never reads it as markup
    assert f"学校：{EVIL}" in [t["content"] for t in texts]  # noqa: RUF001 - shown exactly as named
    button = card["elements"][-1]["actions"][0]
    assert button["url"] == "https://safety.hebi.example.gov.cn/history?incident=4711"


def test_feishu_with_a_wrong_secret_fails_and_a_rate_limit_is_retried() -> None:
    with serve(feishu_bot) as bot:
        with build_notifier(feishu(bot, secret="not-the-bots-secret")) as notifier:
            refused = notifier.send(notification())
        with build_notifier(feishu(bot)) as notifier:
            bot.queued = [(200, {"code": 11232, "msg": "frequency limited", "data": {}})]
            retried = notifier.send(notification())
    assert (refused.ok, refused.attempts) == (False, 1)
    assert refused.error is not None and "19021" in refused.error
    assert (retried.ok, retried.attempts) == (True, 2)
    assert bot.verified == [False, True, True]


def test_feishu_speaks_english_when_configured() -> None:
    with serve(feishu_bot) as bot, build_notifier(feishu(bot, locale="en", timezone="UTC")) as notifier:
        assert notifier.send(notification(severity="high", type="smoke", title="Smoke: Kitchen")).ok
    card = bot.requests[0].json()["card"]
    assert card["header"] == {"template": "orange",
                              "title": {"tag": "plain_text", "content": "[High] New alarm: Smoke: Kitchen"}}
    assert "Time: 2026-09-01 00:30:04 UTC+00:00" in [t["content"] for t in _texts(card)]


def test_robot_keys_stay_out_of_the_request_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="httpx"):
        with serve(dingtalk_robot) as robot, build_notifier(dingtalk(robot)) as notifier:
            assert notifier.send(notification()).ok
        with serve(wecom_robot) as robot, build_notifier(wecom(robot)) as notifier:
            assert notifier.send(notification()).ok
        with serve(feishu_bot) as bot, build_notifier(feishu(bot)) as notifier:
            assert notifier.send(notification()).ok
    logged = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert len(logged) == 3 and all("HTTP Request: POST" in line for line in logged)
    assert "access_token=..." in logged[0] and "key=..." in logged[1] and "/hook/... " in logged[2]
    assert not any(TOKEN in line or WECOM_KEY in line or FEISHU_HOOK in line for line in logged)


# --- configuration ----------------------------------------------------------------------------------------


def test_configs_come_from_json_by_type_and_have_no_default_secrets() -> None:
    for raw in ({"type": "dingtalk", "access_token": TOKEN}, {"type": "feishu", "hook": FEISHU_HOOK},
                {"type": "wecom"}):
        with pytest.raises(ValidationError, match="Field required"):
            parse_config(raw)
    with pytest.raises(ValidationError, match="Extra inputs"):
        parse_config({"type": "wecom", "key": WECOM_KEY, "secret": "x"})
    with pytest.raises(ValidationError, match="unknown time zone"):
        parse_config({"type": "wecom", "key": WECOM_KEY, "timezone": "Beijing"})
    config = parse_config(json.loads('{"type": "dingtalk", "access_token": "t0ken", "secret": "SECabcdefgh"}'))
    assert str(config.url) == "https://oapi.dingtalk.com/robot/send"
    assert "SECabcdefgh" not in repr(config)
