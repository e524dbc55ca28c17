"""The forms of the pages' actions: a token of one viewer for one action, stale after two hours;
the contracts' reasons in Chinese, naming the form's fields."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mingdeng.contracts import events as ev
from mingdeng.gateway.domain.access import Principal
from mingdeng.gateway.web.forms import FormTokens, chinese_reasons
from mingdeng.gateway.web.pages import return_to
from mingdeng.gateway.web.reads import PageError

SECRETARY = Principal("S1", "secretary")
NOW = 1_800_000_000.0


def test_a_token_gives_its_nonce_back_to_its_viewer_and_action_only() -> None:
    forms = FormTokens("secret")
    token = forms.issue(SECRETARY, "talk", NOW)
    nonce = forms.check(token, SECRETARY, "talk", NOW + 60)
    assert token.startswith(nonce + ".") and len(nonce) == 16
    assert forms.issue(SECRETARY, "talk", NOW) != token  # a new nonce for every form drawn
    for viewer, action in [(Principal("S2", "secretary"), "talk"), (Principal("S1", "member"),
                           "talk"), (SECRETARY, "report-decision")]:  # fmt: skip
        with pytest.raises(PageError) as refused:
            forms.check(token, viewer, action, NOW)
        assert refused.value.status == 403 and "表单无效" in refused.value.sentence
    with pytest.raises(PageError):
        FormTokens("another secret").check(token, SECRETARY, "talk", NOW)
    with pytest.raises(PageError):
        forms.check("garbage", SECRETARY, "talk", NOW)
    nonce, issued, signature = token.split(".")
    with pytest.raises(PageError):  # a later issue time cannot be claimed
        forms.check(f"{nonce}.{int(issued) + 999}.{signature}", SECRETARY, "talk", NOW)


def test_a_form_older_than_two_hours_is_stale() -> None:
    forms = FormTokens("secret")
    token = forms.issue(SECRETARY, "talk", NOW)
    assert forms.check(token, SECRETARY, "talk", NOW + 2 * 3600)
    with pytest.raises(PageError) as refused:
        forms.check(token, SECRETARY, "talk", NOW + 2 * 3600 + 1)
    assert refused.value.status == 409
    assert (
        refused.value.sentence
        == "表单已过期（打开已超过 2 小时），请刷新页面后重新填写。本次没有提交。"
    )


def test_the_contracts_reasons_in_chinese_with_the_forms_names() -> None:
    with pytest.raises(ValidationError) as invalid:
        ev.ReportSubmitted.model_validate({"report_id": "r", "member_id": "M1", "kind": "volunteer",
                                           "happened_on": "2026-12-01", "title": "x" * 201})  # fmt: skip
    assert chinese_reasons(invalid.value, {"title": "活动名称"}) == ["活动名称太长：最多 200 个字"]
    with pytest.raises(ValidationError) as invalid:
        ev.ReportSubmitted.model_validate({"report_id": "r", "member_id": "M1", "kind": "volunteer",
                                           "happened_on": "2026-12-01", "title": "清扫"})  # fmt: skip
    assert chinese_reasons(invalid.value, {}) == ["请填写服务时长"]
    with pytest.raises(ValidationError) as invalid:
        ev.AppealFiled.model_validate({"appeal_id": "a", "violation_id": "v", "member_id": "M1",
                                       "reason": "   "})  # fmt: skip
    assert chinese_reasons(invalid.value, {"reason": "申诉理由"}) == ["请填写申诉理由"]


def test_after_signing_in_only_a_page_of_this_site_is_returned_to() -> None:
    assert return_to("/lectures/L1/sign-in?code=abc") == "/lectures/L1/sign-in?code=abc"
    for elsewhere in ["https://evil.example/", "//evil.example/", "/\\evil.example", "/login",
                      "/login/code", "", "me", "/a\nb", "/a\\b", "/" + "x" * 600]:  # fmt: skip
        assert return_to(elsewhere) is None, elsewhere
