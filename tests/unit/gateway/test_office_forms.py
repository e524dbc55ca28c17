"""The office's forms (issue 23; their tokens are tested in test_forms.py): validation reasons
in Chinese, generated ids, the QR sign-in code bound to the lecture's day, and the import
templates listing the roster."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from pydantic import ValidationError

from mingdeng.contracts import events as ev
from mingdeng.gateway.web import forms, sheets
from mingdeng.gateway.web.office_pages import next_id, sign_in_code


def test_validation_reasons_are_said_per_field_in_chinese() -> None:
    with pytest.raises(ValidationError) as error:
        ev.MemberRegistered(member_id="m9", name="", department_id="d1", phone="12-3",
                            roles=(), party_member=True, position="x" * 65)  # fmt: skip
    fields = {"name": "", "phone": "", "roles": "", "position": ""}
    assert forms.reasons(error.value, fields) == {
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
