"""SMS providers behind one port: send with an idempotency key, and find a send by that key
(to settle messages whose outcome a crash left unknown)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

from mingdeng.contracts.periods import BUSINESS_TZ
from mingdeng.notify.adapters.templates import Template

log = logging.getLogger(__name__)

ErrorKind = Literal["transient", "flow_control", "permanent"]


class ProviderError(Exception):
    def __init__(self, kind: ErrorKind, message: str, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.kind, self.retry_after = kind, retry_after


@dataclass(frozen=True)
class Outgoing:
    key: str  # the idempotency key: Aliyun OutId, Tencent SessionContext
    phone: str
    template: Template
    params: dict[str, str]
    text: str
    sign_name: str | None = None  # the agency's signature; None: the provider's own


class SmsProvider(Protocol):
    name: str

    async def send(self, message: Outgoing) -> str:
        """Send; return the provider's message id, or raise ProviderError."""
        ...

    async def find(self, message: Outgoing, since: datetime) -> str | None:
        """The provider's id of an earlier send of this message, if it has one."""
        ...


class LocalSink:
    """Development: messages are appended to a JSON-lines file instead of being sent."""

    name = "sink"

    def __init__(self, path: Path) -> None:
        self.path = path

    async def send(self, message: Outgoing) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "key": message.key,
            "phone": message.phone,
            "text": message.text,
            **({"sign": message.sign_name} if message.sign_name else {}),
            "at": datetime.now(UTC).isoformat(),
        }
        with self.path.open("a", encoding="utf-8") as sink:
            sink.write(json.dumps(record, ensure_ascii=False) + "\n")
        return f"sink:{message.key}"

    async def find(self, message: Outgoing, since: datetime) -> str | None:
        if not self.path.exists():
            return None
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if json.loads(line)["key"] == message.key:
                return f"sink:{message.key}"
        return None


# Aliyun: codes of SendSms answers (https://help.aliyun.com/document_detail/101346.html)
ALIYUN_FLOW_CONTROL = {"isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL", "Throttling.User"}
ALIYUN_TRANSIENT = {
    "isp.SYSTEM_ERROR",
    "isp.RAM_PERMISSION_DENY",
    "SignatureNonceUsed",
    "isv.OUT_OF_SERVICE",
}


class AliyunSms:
    """Aliyun SMS (dysmsapi 2017-05-25) through its SDK; OutId carries the idempotency key."""

    name = "aliyun"

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        endpoint: str,
        protocol: str = "https",
    ) -> None:
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi import models as open_api

        config = open_api.Config(
            access_key_id=access_key_id,
            access_key_secret=access_key_secret,
            endpoint=endpoint,
            protocol=protocol,
            read_timeout=10_000,
            connect_timeout=5_000,
        )
        self._client = Client(config)
        self._sign_name = sign_name

    async def send(self, message: Outgoing) -> str:
        from alibabacloud_dysmsapi20170525 import models

        request = models.SendSmsRequest(
            phone_numbers=message.phone,
            sign_name=message.sign_name or self._sign_name,
            template_code=message.template.aliyun,
            template_param=json.dumps(
                dict(
                    zip(
                        message.template.params,
                        message.template.ordered(message.params),
                        strict=True,
                    )
                ),
                ensure_ascii=False,
            ),
            out_id=message.key,
        )
        body = (await self._call(self._client.send_sms, request)).body
        if body.code == "OK":
            return str(body.biz_id)
        raise _aliyun_error(str(body.code), str(body.message))

    async def find(self, message: Outgoing, since: datetime) -> str | None:
        from alibabacloud_dysmsapi20170525 import models

        day = since.astimezone(BUSINESS_TZ).date()
        while day <= datetime.now(BUSINESS_TZ).date():
            request = models.QuerySendDetailsRequest(
                phone_number=message.phone,
                send_date=day.strftime("%Y%m%d"),
                page_size=50,
                current_page=1,
            )
            body = (await self._call(self._client.query_send_details, request)).body
            if body.code != "OK":
                raise _aliyun_error(str(body.code), str(body.message))
            details = (
                body.sms_send_detail_dtos.sms_send_detail_dto if body.sms_send_detail_dtos else []
            )
            for detail in details or []:
                if detail.out_id == message.key:
                    return f"outid:{message.key}"
            day += timedelta(days=1)
        return None

    async def _call(self, method: Any, request: Any) -> Any:
        try:
            return await asyncio.to_thread(method, request)
        except Exception as error:  # the SDK raises TeaException and transport errors alike
            code = str(getattr(error, "code", "") or type(error).__name__)
            raise _aliyun_error(code, str(error)) from error


def _aliyun_error(code: str, message: str) -> ProviderError:
    if code in ALIYUN_FLOW_CONTROL:
        wait = (
            timedelta(days=1)
            if "天" in message or "DAY" in code
            else timedelta(hours=1)
            if "小时" in message
            else timedelta(minutes=1)
        )
        return ProviderError("flow_control", f"aliyun {code}: {message}", wait)
    if code in ALIYUN_TRANSIENT or code.startswith("isp.") or not code.startswith("isv."):
        return ProviderError("transient", f"aliyun {code}: {message}")
    return ProviderError("permanent", f"aliyun {code}: {message}")


TENCENT_FLOW_CONTROL = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": timedelta(seconds=30),
    "LimitExceeded.PhoneNumberOneHourLimit": timedelta(hours=1),
    "LimitExceeded.PhoneNumberDailyLimit": timedelta(days=1),
    "LimitExceeded.PhoneNumberSameContentDailyLimit": timedelta(days=1),
    "LimitExceeded.DeliveryFrequencyLimit": timedelta(minutes=1),
    "RequestLimitExceeded": timedelta(seconds=1),
}


class TencentSms:
    """Tencent Cloud SMS (2021-01-11) through its SDK; SessionContext carries the key."""

    name = "tencent"

    def __init__(
        self,
        secret_id: str,
        secret_key: str,
        sdk_app_id: str,
        sign_name: str,
        region: str,
        endpoint: str,
        protocol: str = "https",
    ) -> None:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        profile = ClientProfile(
            httpProfile=HttpProfile(protocol=protocol, endpoint=endpoint, reqTimeout=10)
        )
        self._client = sms_client.SmsClient(
            credential.Credential(secret_id, secret_key), region, profile
        )
        self._app_id, self._sign_name = sdk_app_id, sign_name

    async def send(self, message: Outgoing) -> str:
        from tencentcloud.sms.v20210111 import models

        request = models.SendSmsRequest()
        request.PhoneNumberSet = [_e164(message.phone)]
        request.SmsSdkAppId = self._app_id
        request.SignName = message.sign_name or self._sign_name
        request.TemplateId = message.template.tencent
        request.TemplateParamSet = message.template.ordered(message.params)
        request.SessionContext = message.key
        response = await self._call(self._client.SendSms, request)
        status = response.SendStatusSet[0]
        if status.Code == "Ok":
            return str(status.SerialNo)
        raise _tencent_error(str(status.Code), str(status.Message))

    async def find(self, message: Outgoing, since: datetime) -> str | None:
        from tencentcloud.sms.v20210111 import models

        request = models.PullSmsSendStatusByPhoneNumberRequest()
        request.BeginTime, request.EndTime = (
            int(since.timestamp()),
            int(datetime.now(UTC).timestamp()),
        )
        request.Offset, request.Limit = 0, 100
        request.PhoneNumber, request.SmsSdkAppId = _e164(message.phone), self._app_id
        response = await self._call(self._client.PullSmsSendStatusByPhoneNumber, request)
        for status in response.PullSmsSendStatusSet or []:
            if status.SessionContext == message.key:
                return str(status.SerialNo)
        return None

    async def _call(self, method: Any, request: Any) -> Any:
        try:
            return await asyncio.to_thread(method, request)
        except Exception as error:  # TencentCloudSDKException and transport errors alike
            code = str(getattr(error, "code", None) or type(error).__name__)
            raise _tencent_error(code, str(error)) from error


def _tencent_error(code: str, message: str) -> ProviderError:
    if code in TENCENT_FLOW_CONTROL:
        return ProviderError(
            "flow_control", f"tencent {code}: {message}", TENCENT_FLOW_CONTROL[code]
        )
    if code.startswith(
        ("InvalidParameter", "FailedOperation", "UnauthorizedOperation", "UnsupportedOperation")
    ):
        return ProviderError("permanent", f"tencent {code}: {message}")
    return ProviderError("transient", f"tencent {code}: {message}")


def _e164(phone: str) -> str:
    return phone if phone.startswith("+") else f"+86{phone}"


class ProviderChain:
    """The first provider; on its transient failure or flow control, the next one. A permanent
    error (a bad number, a bad template) is final: another provider would refuse it too."""

    def __init__(self, providers: Sequence[SmsProvider]) -> None:
        if not providers:
            raise ValueError("configure at least one SMS provider")
        self.providers = list(providers)
        self.name = "+".join(p.name for p in providers)

    async def send(self, message: Outgoing) -> tuple[str, str]:
        """Send through the first provider that takes it: (provider name, message id)."""
        last: ProviderError | None = None
        for provider in self.providers:
            try:
                return provider.name, await provider.send(message)
            except ProviderError as error:
                if error.kind == "permanent":
                    raise
                log.warning("%s could not send %s: %s", provider.name, message.key, error)
                last = error
        assert last is not None
        raise last

    async def find(self, message: Outgoing, since: datetime) -> tuple[str, str] | None:
        for provider in self.providers:
            found = await provider.find(message, since)
            if found is not None:
                return provider.name, found
        return None
