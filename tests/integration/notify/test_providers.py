"""The Aliyun and Tencent adapters through their real SDKs, against a local HTTP endpoint that
stands in for each provider (the SDKs' endpoint override)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from mingdeng.notify.adapters.providers import (
    AliyunSms,
    LocalSink,
    Outgoing,
    ProviderChain,
    ProviderError,
    TencentSms,
)
from mingdeng.notify.adapters.templates import load_templates

pytestmark = pytest.mark.integration


class StandIn:
    """Answers each action with the next scripted reply; records what the SDKs sent."""

    def __init__(self) -> None:
        self.replies: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self.requests: list[dict[str, Any]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                action = self.headers.get("x-acs-action") or self.headers.get("X-TC-Action") or "?"
                query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                form = (
                    {k: v[0] for k, v in parse_qs(body.decode()).items()}
                    if b"=" in body and not body.startswith(b"{")
                    else {}
                )
                stand_in.requests.append(
                    {
                        "action": action,
                        "query": query,
                        "form": form,
                        "json": json.loads(body) if body.startswith(b"{") else None,
                    }
                )
                status, reply = stand_in.replies[action].pop(0)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reply(self, action: str, body: dict[str, Any], status: int = 200) -> None:
        self.replies.setdefault(action, []).append((status, body))

    def sent(self, action: str) -> dict[str, Any]:
        request = [r for r in self.requests if r["action"] == action][-1]
        return {**request["query"], **request["form"], **(request["json"] or {})}


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    yield server
    server.server.shutdown()


def message(key: str = "violation_reminder/M1/v1") -> Outgoing:
    template = load_templates()["violation_reminder"]
    params = {"name": "王芳", "date": "2026-11-24", "rule": "4", "description": "离岗"}
    return Outgoing(key, "13900000000", template, params, template.render(params))


def aliyun(stand_in: StandIn) -> AliyunSms:
    return AliyunSms("ak", "secret", "明灯", stand_in.endpoint, protocol="http")


def tencent(stand_in: StandIn) -> TencentSms:
    return TencentSms(
        "id", "key", "1400000001", "明灯", "ap-guangzhou", stand_in.endpoint, protocol="http"
    )


def tencent_reply(code: str, message: str = "") -> dict[str, Any]:
    return {"Response": {"RequestId": "r", "SendStatusSet": [
        {"SerialNo": "sn-7", "PhoneNumber": "+8613900000000", "Fee": 1, "SessionContext": "k",
         "Code": code, "Message": message, "IsoCode": "CN"}]}}  # fmt: skip


async def test_aliyun_sends_with_the_key_as_out_id_and_its_template_params(
    stand_in: StandIn,
) -> None:
    stand_in.reply("SendSms", {"Code": "OK", "Message": "OK", "BizId": "biz-42", "RequestId": "r"})
    assert await aliyun(stand_in).send(message()) == "biz-42"
    sent = stand_in.sent("SendSms")
    assert (sent["OutId"], sent["PhoneNumbers"], sent["TemplateCode"]) == (
        "violation_reminder/M1/v1",
        "13900000000",
        "SMS_480001",
    )
    assert json.loads(sent["TemplateParam"]) == {
        "name": "王芳",
        "date": "2026-11-24",
        "rule": "4",
        "description": "离岗",
    }


@pytest.mark.parametrize(
    ("code", "text", "kind", "wait"),
    [
        (
            "isv.BUSINESS_LIMIT_CONTROL",
            "触发小时级流控Permits:5",
            "flow_control",
            timedelta(hours=1),
        ),
        (
            "isv.BUSINESS_LIMIT_CONTROL",
            "触发分钟级流控Permits:1",
            "flow_control",
            timedelta(minutes=1),
        ),
        ("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号", "permanent", None),
        ("isp.SYSTEM_ERROR", "系统错误", "transient", None),
    ],
)
async def test_aliyun_errors_are_classified(
    stand_in: StandIn, code: str, text: str, kind: str, wait: timedelta | None
) -> None:
    stand_in.reply("SendSms", {"Code": code, "Message": text, "RequestId": "r"})
    with pytest.raises(ProviderError) as caught:
        await aliyun(stand_in).send(message())
    assert (caught.value.kind, caught.value.retry_after) == (kind, wait)


async def test_aliyun_http_failure_is_transient(stand_in: StandIn) -> None:
    stand_in.reply("SendSms", {"Code": "ServiceUnavailable", "Message": "busy"}, status=503)
    with pytest.raises(ProviderError) as caught:
        await aliyun(stand_in).send(message())
    assert caught.value.kind == "transient"


async def test_aliyun_finds_an_earlier_send_by_out_id(stand_in: StandIn) -> None:
    stand_in.reply("QuerySendDetails", {"Code": "OK", "Message": "OK", "TotalCount": 1, "SmsSendDetailDTOs": {
        "SmsSendDetailDTO": [{"OutId": "violation_reminder/M1/v1", "PhoneNum": "13900000000", "SendStatus": 3}]}})  # fmt: skip
    found = await aliyun(stand_in).find(message(), datetime.now(UTC) - timedelta(minutes=5))
    assert found == "outid:violation_reminder/M1/v1"
    assert stand_in.sent("QuerySendDetails")["PhoneNumber"] == "13900000000"


async def test_tencent_sends_with_the_key_as_session_context(stand_in: StandIn) -> None:
    stand_in.reply("SendSms", tencent_reply("Ok", "send success"))
    assert await tencent(stand_in).send(message()) == "sn-7"
    sent = stand_in.sent("SendSms")
    assert sent["SessionContext"] == "violation_reminder/M1/v1"
    assert (sent["PhoneNumberSet"], sent["TemplateId"]) == (["+8613900000000"], "2180001")
    assert sent["TemplateParamSet"] == ["王芳", "2026-11-24", "4", "离岗"]


async def test_tencent_flow_control_is_honoured_with_its_wait(stand_in: StandIn) -> None:
    stand_in.reply(
        "SendSms", tencent_reply("LimitExceeded.PhoneNumberThirtySecondLimit", "30秒内重复")
    )
    with pytest.raises(ProviderError) as caught:
        await tencent(stand_in).send(message())
    assert (caught.value.kind, caught.value.retry_after) == ("flow_control", timedelta(seconds=30))


async def test_tencent_finds_an_earlier_send_by_session_context(stand_in: StandIn) -> None:
    stand_in.reply("PullSmsSendStatusByPhoneNumber", {"Response": {"RequestId": "r", "PullSmsSendStatusSet": [
        {"SerialNo": "sn-9", "SessionContext": "violation_reminder/M1/v1", "PhoneNumber": "+8613900000000",
         "ReportStatus": "SUCCESS", "CountryCode": "86", "SubscriberNumber": "13900000000",
         "UserReceiveTime": 1, "Description": "ok"}]}})  # fmt: skip
    assert (
        await tencent(stand_in).find(message(), datetime.now(UTC) - timedelta(minutes=5)) == "sn-9"
    )


async def test_the_chain_falls_back_on_flow_control_but_not_on_a_permanent_error(
    stand_in: StandIn, tmp_path: Path
) -> None:
    chain = ProviderChain([aliyun(stand_in), tencent(stand_in)])
    stand_in.reply(
        "SendSms",
        {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发天级流控", "RequestId": "r"},
    )
    stand_in.reply("SendSms", tencent_reply("Ok"))
    assert await chain.send(message()) == ("tencent", "sn-7")
    stand_in.reply(
        "SendSms", {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号", "RequestId": "r"}
    )
    with pytest.raises(ProviderError, match="MOBILE_NUMBER_ILLEGAL"):
        await chain.send(message("k2"))
    assert [r["action"] for r in stand_in.requests] == [
        "SendSms",
        "SendSms",
        "SendSms",
    ]  # no fallback for k2
    sink = LocalSink(tmp_path / "sms.jsonl")
    assert await ProviderChain([sink]).find(message(), datetime.now(UTC)) is None
