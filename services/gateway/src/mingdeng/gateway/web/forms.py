"""The forms of the pages' actions (issue 23: the office's and the members'): each form carries a
token of its own, issued when the page is drawn for one viewer and one action and signed with
the gateway's secret. The events the form publishes take their ids from the token, so the same
form sent twice (a double click, the back button) is the same events, published once; a token
older than `FORM_TTL`, or issued to another person or for another action, is refused.
Contract reasons in Chinese: per field (`reasons`, the office's forms shown again) or as
sentences naming the fields (`chinese_reasons`, the members' forms)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping
from datetime import timedelta

import asyncpg
from fastapi import Request
from pydantic import ValidationError

from mingdeng.gateway.domain.access import Principal
from mingdeng.gateway.web.actions import source_here
from mingdeng.gateway.web.reads import PageError
from mingdeng.gateway.web.session import csrf_ok

FORM_TTL = timedelta(hours=2)
WHOLE_FORM = ""


class FormTokens:
    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def _signature(self, viewer: Principal, action: str, nonce: str, issued: int) -> str:
        message = f"form:{viewer.subject}:{viewer.role}:{action}:{nonce}:{issued}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def issue(self, viewer: Principal, action: str, now: float | None = None) -> str:
        nonce, issued = secrets.token_hex(8), int(now if now is not None else time.time())
        return f"{nonce}.{issued}.{self._signature(viewer, action, nonce, issued)}"

    def check(self, token: str, viewer: Principal, action: str, now: float | None = None) -> str:
        """The form's nonce (for the event's id); a PageError for a token that is not this
        viewer's for this action, or is stale."""
        nonce, _, rest = token.partition(".")
        issued_text, _, signature = rest.partition(".")
        if not (nonce and issued_text.isdigit() and signature) or not hmac.compare_digest(
            signature, self._signature(viewer, action, nonce, int(issued_text))
        ):
            raise PageError(403, "表单无效（不是您在本页面打开的表单），请刷新页面后重新填写。")
        age = (now if now is not None else time.time()) - int(issued_text)
        if age > FORM_TTL.total_seconds():
            hours = int(FORM_TTL.total_seconds() // 3600)
            raise PageError(409, f"表单已过期（打开已超过 {hours} 小时），请刷新页面后重新填写。"
                                 "本次没有提交。")  # fmt: skip
        return nonce


def tokens(request: Request) -> FormTokens:
    return FormTokens(request.app.state.settings.jwt_secret.get_secret_value())


def form_checked(request: Request, csrf: str) -> None:
    if not csrf_ok(request, csrf):
        raise PageError(403, "页面已过期或请求来源不明（CSRF 校验未通过），请刷新页面后重试。")


def checked_form(request: Request, csrf: str, token: str, viewer: Principal, action: str) -> str:
    """A posted form of `action`: its CSRF token, then its form token (this viewer's, fresh);
    the nonce that names the events it publishes."""
    form_checked(request, csrf)
    return tokens(request).check(token, viewer, action)


async def refuse_if_submitted(connection: asyncpg.Connection, event_ids: Iterable[str]) -> None:
    """A `PageError` when an event of this form was already published (a double submit)."""
    found = await connection.fetchval(
        "SELECT count(*) FROM gateway.accepted_events WHERE source = $1 AND id = ANY($2)",
        source_here(),
        list(event_ids),
    )
    if found:
        raise PageError(409, "这张表单已经提交过，未重复发布。如需再次登记，请重新打开表单填写。")


def reasons(error: ValidationError, fields: Mapping[str, str]) -> dict[str, str]:
    """{field: its reason in Chinese} of a payload's validation error; `fields` names the
    fields the form shows (a reason about another field is said of the whole form)."""
    found: dict[str, str] = {}
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else WHOLE_FORM
        context = problem.get("ctx", {})
        match problem["type"]:
            case "missing" | "string_too_short":
                reason = "必须填写"
            case "string_pattern_mismatch" if field == "phone":
                reason = "应为 6 至 20 位数字，可以 + 开头"
            case "string_pattern_mismatch":
                reason = "不能以空格开头或结尾"
            case "string_too_long":
                reason = f"太长：最多 {context.get('max_length')} 个字符"
            case "date_from_datetime_parsing" | "date_parsing" | "date_type":
                reason = "应为日期，如 2026-09-15"
            case "literal_error" | "enum":
                reason = "请从列表中选择"
            case "too_short":
                reason = "至少选择一项"
            case "greater_than_equal" | "less_than_equal":
                reason = "请从列表中选择"
            case _:
                reason = f"不符合要求：{problem['msg']}"
        found.setdefault(field if field in fields else WHOLE_FORM, reason)
    return found


def chinese_reasons(error: ValidationError, fields: Mapping[str, str]) -> list[str]:
    """A contract's reasons in Chinese, each naming the form's field (`fields`: the payload's
    field names as the form shows them)."""
    found = []
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else ""
        name = fields.get(field, field)
        context = problem.get("ctx", {})
        match problem["type"]:
            case "missing" | "string_too_short" | "none_required":
                found.append(f"请填写{name}")
            case "string_too_long":
                found.append(f"{name}太长：最多 {context.get('max_length')} 个字")
            case "string_pattern_mismatch":
                found.append(f"{name}不能以空格开头或结尾")
            case "literal_error":
                found.append(f"请从列表中选择{name}")
            case "value_error" if "household_id" in problem["msg"]:
                found.append("请选择走访的结对户")
            case "value_error" if "title" in problem["msg"]:
                found.append("请填写活动名称或报到社区")
            case "value_error" if "minutes" in problem["msg"]:
                found.append("请填写服务时长")
            case "greater_than" | "less_than_equal":
                found.append(f"{name}超出允许范围")
            case _:
                found.append(f"{name}不符合要求（{problem['msg']}）")
    return found
