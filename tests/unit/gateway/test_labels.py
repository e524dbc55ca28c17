"""The pages speak the bureau's words: every term of the labels table that the source report
has is written as the report writes it; quarters and dates read in Chinese."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from mingdeng.contracts.conduct import TEN_RULES, rule_text
from mingdeng.gateway.web import labels

SEED = Path(__file__).resolve().parents[3].parent / "shared" / "seed"


def report() -> str:
    found = sorted(SEED.glob("*.txt"))
    if not found:
        pytest.fail(f"the source report is missing from {SEED}", pytrace=False)
    return "".join(path.read_text(encoding="utf-8") for path in found)


@pytest.mark.parametrize("term", labels.REPORT_TERMS)
def test_each_term_is_the_report_s(term: str) -> None:
    assert term in report()


def test_themes_and_modules_are_the_report_s_and_no_other_words() -> None:
    assert [labels.theme(t) for t in ("loyalty", "responsibility", "dedication", "integrity")] == [
        "忠诚", "责任", "奉献", "廉政",
    ]  # fmt: skip
    assert [labels.module(m) for m in ("theory", "ideals", "business")] == [
        "理论武装", "理想信念", "财政业务",
    ]  # fmt: skip
    assert (labels.EXEMPLAR, labels.TOP_TEN) == ("季度标兵", "十佳标兵")


def test_the_first_rule_is_quoted_from_the_report_and_every_rule_has_its_text() -> None:
    assert TEN_RULES[1] in report()
    assert sorted(TEN_RULES) == list(range(1, 11))
    assert all(text.startswith("不准") for text in TEN_RULES.values())
    assert rule_text(2) == "第2条：不准迟到早退、擅自离岗脱岗"


def test_quarters_months_and_dates_read_in_chinese() -> None:
    assert labels.quarter("2026Q4") == "2026年第四季度"
    assert labels.month("2026-12") == "2026年12月"
    assert labels.period("2026") == "2026年"
    assert labels.day(date(2026, 12, 7)) == "2026年12月7日"
    assert labels.day(datetime.fromisoformat("2026-12-06T17:00:00+00:00")) == "2026年12月7日"


def test_how_long_ago_reads_in_chinese() -> None:
    now = datetime.fromisoformat("2026-12-08T09:00:00+08:00")
    before = [timedelta(seconds=59), timedelta(minutes=5), timedelta(hours=3, minutes=59),
              timedelta(days=2, hours=23), timedelta(seconds=-30)]  # fmt: skip
    assert [labels.ago(now - gap, now) for gap in before] == [
        "刚刚", "5 分钟前", "3 小时前", "2 天前", "刚刚"  # a clock a little ahead: just now
    ]  # fmt: skip
    assert labels.ago(None, now) == "尚未收到"


def test_the_documents_issue_numbers_and_issuer() -> None:
    assert labels.issue_number("2026-11") == "2026年第11期"
    assert labels.issuer("浏阳市财政局") == "中共浏阳市财政局机关委员会"


def test_refusals_have_words_beside_the_machine_reason() -> None:
    assert labels.refusal_reason("not JSON: Expecting value: line 1") == "内容不是合法的 JSON 格式"
    assert labels.refusal_reason("Input should be less than or equal to 10") == "数值超出允许范围"
