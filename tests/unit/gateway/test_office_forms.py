"""The office's forms (issue 23): their tokens (a double submit is the same event ids, a stale
or forged form is refused in Chinese), validation reasons in Chinese, generated ids, the QR
sign-in code bound to the lecture's day, and the import templates listing the roster."""

from __future__ import annotations

import io
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from openpyxl import load_workbook
from pydantic import SecretStr, ValidationError

from mingdeng.contracts import events as ev
from mingdeng.gateway.web import form_guard, sheets
from mingdeng.gateway.web.office_pages import next_id, sign_in_code
from mingdeng.gateway.web.reads import PageError

NOW = 1_800_000_000.0


def request(secret: str = "s" * 32) -> Any:
    settings = SimpleNamespace(jwt_secret=SecretStr(secret))
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(settings=settings)))


def test_a_form_s_token_gives_the_same_nonce_every_time_it_is_sent() -> None:
    token = form_guard.issue(request(), now=NOW)
    first = form_guard.nonce_of(request(), token, now=NOW + 5)
    assert first == form_guard.nonce_of(request(), token, now=NOW + 60)
    assert first != form_guard.nonce_of(request(), form_guard.issue(request(), now=NOW), now=NOW)


def test_a_stale_or_forged_form_is_refused_in_chinese() -> None:
    token = form_guard.issue(request(), now=NOW)
    with pytest.raises(PageError) as stale:
        form_guard.nonce_of(request(), token, now=NOW + form_guard.FORM_TTL.total_seconds() + 1)
    assert stale.value.status == 409 and "已失效" in stale.value.sentence
    with pytest.raises(PageError) as forged:
        form_guard.nonce_of(request("t" * 32), token, now=NOW)
    assert forged.value.status == 400 and "表单无效" in forged.value.sentence
    nonce, issued, signature = token.split(".")
    with pytest.raises(PageError):  # a later issue time cannot be claimed
        form_guard.nonce_of(request(), f"{nonce}.{int(issued) + 999}.{signature}", now=NOW)


def test_validation_reasons_are_said_per_field_in_chinese() -> None:
    with pytest.raises(ValidationError) as error:
        ev.MemberRegistered(member_id="m9", name="", department_id="d1", phone="12-3",
                            roles=(), party_member=True, position="x" * 65)  # fmt: skip
    fields = {"name": "", "phone": "", "roles": "", "position": ""}
    assert form_guard.reasons(error.value, fields) == {
        "name": "必须填写",
        "phone": "应为 6 至 20 位数字，可以 + 开头",
        "roles": "至少选择一项",
        "position": "太长：最多 64 个字符",
    }


def test_ids_are_generated_after_the_highest_taken() -> None:
    assert next_id("m", ["m001", "m017", "O", "m2x"], 3) == "m018"
    assert next_id("L202612-", ["L202612-1", "L202611-4"], 1) == "L202612-2"
    assert next_id("b", [], 2) == "b01"


def test_the_sign_in_code_holds_for_one_lecture_on_one_day() -> None:
    code = sign_in_code("s" * 32, "L1", date(2026, 12, 8))
    assert code == sign_in_code("s" * 32, "L1", date(2026, 12, 8))
    assert code != sign_in_code("s" * 32, "L1", date(2026, 12, 9))  # rescheduled: a new code
    assert code != sign_in_code("s" * 32, "L2", date(2026, 12, 8))
    assert code != sign_in_code("t" * 32, "L1", date(2026, 12, 8))


def test_the_import_template_lists_the_roster_beside_the_empty_sheet() -> None:
    roster = sheets.Reference(
        "党员名册", ("党员编号", "姓名", "科室"), [("m001", "赵敏", "预算科")]
    )
    book = load_workbook(io.BytesIO(sheets.template("attendance", [roster])))
    assert book.sheetnames == ["财政月讲堂签到", "党员名册"]
    assert [c.value for c in book["财政月讲堂签到"][1]] == ["lecture_id", "member_id", "time"]
    assert list(book["党员名册"].iter_rows(values_only=True)) == [
        ("党员编号", "姓名", "科室"), ("m001", "赵敏", "预算科"),
    ]  # fmt: skip
