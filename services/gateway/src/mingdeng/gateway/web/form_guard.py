"""Forms that publish: each carries a token of its own, issued with the form and signed with the
gateway's secret. The events of a submission take their ids from it, so a form sent twice is
the same events (refused as already submitted, nothing published again); a form older than
`FORM_TTL` is refused as stale. Validation errors of a payload are said in Chinese, field by
field, as the API's reasons say them (docs/dashboard.md)."""

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

from mingdeng.gateway.settings import GatewaySettings
from mingdeng.gateway.web.actions import SOURCE
from mingdeng.gateway.web.reads import PageError

FORM_TTL = timedelta(hours=2)
WHOLE_FORM = ""


def _signature(request: Request, nonce: str, issued: int) -> str:
    settings: GatewaySettings = request.app.state.settings
    secret = settings.jwt_secret.get_secret_value().encode()
    return hmac.new(secret, f"form:{nonce}:{issued}".encode(), hashlib.sha256).hexdigest()[:24]


def issue(request: Request, now: float | None = None) -> str:
    """A new form's token: `nonce.issued.signature`."""
    nonce = secrets.token_hex(10)
    issued = int(now if now is not None else time.time())
    return f"{nonce}.{issued}.{_signature(request, nonce, issued)}"


def nonce_of(request: Request, token: str, now: float | None = None) -> str:
    """The token's nonce, for the ids of the events it publishes; a `PageError` when the token
    was not issued here or the form is stale."""
    nonce, _, rest = token.partition(".")
    issued_text, _, signature = rest.partition(".")
    if not (nonce and issued_text.isdigit()) or not hmac.compare_digest(
        signature, _signature(request, nonce, int(issued_text))
    ):
        raise PageError(400, "表单无效或不完整，请刷新页面后重新填写。")
    age = (now if now is not None else time.time()) - int(issued_text)
    if age > FORM_TTL.total_seconds():
        hours = int(FORM_TTL.total_seconds() // 3600)
        raise PageError(
            409, f"表单已打开超过 {hours} 小时，已失效，未发布任何内容。请刷新页面后重新填写。"
        )
    return nonce


async def refuse_if_submitted(connection: asyncpg.Connection, event_ids: Iterable[str]) -> None:
    """A `PageError` when an event of this form was already published (a double submit)."""
    found = await connection.fetchval(
        "SELECT count(*) FROM gateway.accepted_events WHERE source = $1 AND id = ANY($2)",
        SOURCE,
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
