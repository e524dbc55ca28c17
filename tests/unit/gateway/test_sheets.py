"""The office's Excel sheets: rows read into events, invalid cells named by row and column,
and tables written as .xlsx and as CSV that Excel reads in Chinese."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from openpyxl import Workbook, load_workbook

from mingdeng.contracts import events as ev
from mingdeng.contracts.periods import BUSINESS_TZ
from mingdeng.gateway.web import sheets

NOW = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
KNOWN = sheets.Known(members=frozenset({"A", "B", "L1"}), lectures=frozenset({"L1", "L2"}))


def workbook(*rows: list[Any]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def read(kind: str, content: bytes, most_rows: int = 100) -> Any:
    return sheets.read_sheet(kind, content, known=KNOWN, now=NOW, most_rows=most_rows)


def test_attendance_rows_become_events_at_their_business_time() -> None:
    content = workbook(
        ["lecture_id", "member_id", "time"],
        ["L1", "A", datetime(2026, 7, 15, 15, 0)],
        [None, None, None],  # a blank row is skipped, the numbering stays Excel's
        ["L2", "B", "2026-08-15 15:30"],
    )
    rows, errors = read("attendance", content)
    assert errors == []
    assert [(r.row, r.data) for r in rows] == [
        (2, ev.LectureAttended(lecture_id="L1", member_id="A")),
        (4, ev.LectureAttended(lecture_id="L2", member_id="B")),
    ]
    assert rows[0].time == datetime(2026, 7, 15, 15, 0, tzinfo=BUSINESS_TZ)
    assert rows[1].time == datetime(2026, 8, 15, 15, 30, tzinfo=BUSINESS_TZ)
    again, _ = read("attendance", content)
    assert [r.event_id for r in again] == [r.event_id for r in rows]  # re-import = duplicates
    assert rows[0].event_id != rows[1].event_id


def test_chinese_headers_and_visit_kinds_in_chinese() -> None:
    content = workbook(
        ["走访编号", "党员编号", "走访类型", "农户编号", "对象党员编号", "走访时间", "备注"],
        ["v1", "A", "结对户走访", "h1", None, "2026-09-02 10:00", "了解春耕"],
        ["v2", "L1", "commendation", None, "A", "2026-09-03 10:00", None],
    )
    rows, errors = read("visits", content)
    assert errors == []
    assert [r.data for r in rows] == [
        ev.VisitMade(visit_id="v1", member_id="A", kind="household", household_id="h1",
                     notes="了解春耕"),
        ev.VisitMade(visit_id="v2", member_id="L1", kind="commendation", target_member_id="A"),
    ]  # fmt: skip
    assert [r.event_id for r in rows] == ["v1", "v2"]


def test_every_invalid_cell_is_named_by_row_and_column() -> None:
    content = workbook(
        ["visit_id", "member_id", "kind", "household_id", "target_member_id", "time", "notes"],
        ["v1", "A", "household", "h1", None, "2026-09-02 10:00", None],
        ["v2", "Z9", "household", None, None, "2026-09-02 10:00", None],
        ["v3", "A", "picnic", None, None, "昨天", None],
        ["v4", "A", "commendation", None, None, "2027-01-01 10:00", None],
        ["v1", "A", "household", "h1", None, "2026-09-02 10:00", None],
        [None, "B", "community", None, None, "2026-09-02 10:00", None],
    )
    rows, errors = read("visits", content)
    assert {(e.row, e.column, e.reason) for e in errors} == {
        (3, "党员编号", "没有在册的成员“Z9”"),
        (3, "农户编号", "结对户走访必须填写农户编号"),
        (4, "走访类型", "只能是：结对户走访（household）、喜报到家（commendation）、"
                        "联系点走访（liaison）、社区服务（community）"),
        (4, "走访时间", "“昨天”不是日期时间，请写成 2026-09-10 15:00 这样的形式"),
        (5, "走访时间", "时间晚于当前时间"),
        (5, "对象党员编号", "喜报到家必须填写对象党员编号"),
        (6, sheets.WHOLE_ROW, "与第 2 行重复"),
        (7, "走访编号", "必须填写"),
    }  # fmt: skip
    assert [r.row for r in rows] == [2]


def test_unknown_lecture_and_missing_columns() -> None:
    rows, errors = read("attendance", workbook(["lecture_id", "member_id", "time"],
                                               ["L9", "A", "2026-07-15 15:00"]))  # fmt: skip
    assert (rows, errors) == ([], [sheets.RowError(2, "讲堂编号", "没有编号为“L9”的讲堂")])
    rows, errors = read("attendance", workbook(["讲堂编号", "时间"], ["L1", "2026-07-15"]))
    assert errors == [
        sheets.RowError(1, "党员编号", "缺少这一列"),
        sheets.RowError(1, "签到时间", "缺少这一列"),
    ]


def test_a_sheet_over_the_batch_limit_is_refused_whole() -> None:
    content = workbook(["lecture_id", "member_id", "time"],
                       *[["L1", "A", "2026-07-15 15:00"]] * 3)  # fmt: skip
    rows, errors = read("attendance", content, most_rows=2)
    assert rows == []
    assert errors == [sheets.RowError(2, sheets.WHOLE_ROW,
                                      "一次最多导入 2 行，这张表有 3 行，请分批导入")]  # fmt: skip


def test_what_is_not_a_workbook_is_unreadable() -> None:
    try:
        read("attendance", b"lecture_id,member_id,time\nL1,A,2026-07-15\n")
    except sheets.Unreadable as error:
        assert "不是 .xlsx 格式的 Excel 工作簿" in str(error)
    else:
        raise AssertionError("a CSV file was read as a workbook")


def test_tables_as_xlsx_and_as_csv_with_a_bom() -> None:
    header, rows = ["名次", "姓名", "指数"], [[1, "王主任", 92.5], [None, "张局长", 80.0]]
    book = load_workbook(io.BytesIO(sheets.xlsx("2026Q3 先锋指数", header, rows)))
    sheet = book.active
    assert sheet is not None and sheet.title == "2026Q3 先锋指数"
    assert [list(r) for r in sheet.iter_rows(values_only=True)] == [header, *rows]
    text = sheets.csv_bytes(header, rows)
    assert text.startswith(b"\xef\xbb\xbf")
    assert text.decode("utf-8-sig").splitlines() == [
        "名次,姓名,指数",
        "1,王主任,92.5",
        ",张局长,80.0",
    ]
