"""Excel sheets of the office: an uploaded .xlsx of lecture attendance or of a visit log read
into event payloads, every invalid cell named by row and column with its reason in Chinese;
and tables written as .xlsx or CSV (UTF-8 with a BOM, so Excel reads the Chinese). No web and
no database here: what is known (members, lectures) is passed in."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import ValidationError

from mingdeng.contracts import events as ev
from mingdeng.contracts.periods import BUSINESS_TZ
from mingdeng.gateway.web.labels import VISIT_KINDS

# Event ids of imported attendance: the same (lecture, member) is the same event, so a sheet
# imported twice is a duplicate, not two attendances.
ATTENDANCE_IDS = uuid.UUID("5d1f0c7e-6a43-4a57-9d55-0f7b1a3c2e91")
WHOLE_ROW = "（整行）"


class Unreadable(Exception):
    """The upload is not an .xlsx workbook openpyxl can read; the sentence says so."""


@dataclass(frozen=True)
class RowError:
    row: int  # the sheet's row number, as Excel shows it
    column: str
    reason: str


@dataclass(frozen=True)
class ImportedRow:
    row: int
    event_id: str
    time: datetime
    data: ev.EventData


@dataclass(frozen=True)
class Known:
    """What the office may refer to: registered members and known lectures."""

    members: frozenset[str]
    lectures: frozenset[str]


@dataclass(frozen=True)
class SheetKind:
    title: str
    columns: dict[str, str]  # column name: its Chinese header (either may head a column)
    required: tuple[str, ...]
    build: Callable[[dict[str, str]], ev.EventData]
    event_id: Callable[[Any], str]
    references: Callable[[dict[str, str], Known], list[tuple[str, str]]]


def _attendance(values: dict[str, str]) -> ev.EventData:
    return ev.LectureAttended(lecture_id=values.get("lecture_id", ""),
                              member_id=values.get("member_id", ""))  # fmt: skip


def _attendance_id(data: ev.LectureAttended) -> str:
    name = "\n".join((data.lecture_id, data.member_id))
    return f"attendance-{uuid.uuid5(ATTENDANCE_IDS, name)}"


def _attendance_references(values: dict[str, str], known: Known) -> list[tuple[str, str]]:
    missing = []
    if values.get("lecture_id") and values["lecture_id"] not in known.lectures:
        missing.append(("lecture_id", f"没有编号为“{values['lecture_id']}”的讲堂"))
    if values.get("member_id") and values["member_id"] not in known.members:
        missing.append(("member_id", f"没有在册的成员“{values['member_id']}”"))
    return missing


def _visit(values: dict[str, str]) -> ev.EventData:
    kind = values.get("kind", "")
    by_label = {label: code for code, label in VISIT_KINDS.items()}
    return ev.VisitMade.model_validate(
        {
            "visit_id": values.get("visit_id", ""),
            "member_id": values.get("member_id", ""),
            "kind": by_label.get(kind, kind),
            **{k: values[k] for k in ("household_id", "target_member_id", "notes") if k in values},
        }
    )


def _visit_id(data: ev.VisitMade) -> str:
    return data.visit_id


def _visit_references(values: dict[str, str], known: Known) -> list[tuple[str, str]]:
    return [
        (column, f"没有在册的成员“{values[column]}”")
        for column in ("member_id", "target_member_id")
        if values.get(column) and values[column] not in known.members
    ]


KINDS: dict[str, SheetKind] = {
    "attendance": SheetKind(
        title="财政月讲堂签到",
        columns={"lecture_id": "讲堂编号", "member_id": "党员编号", "time": "签到时间"},
        required=("lecture_id", "member_id", "time"),
        build=_attendance,
        event_id=_attendance_id,
        references=_attendance_references,
    ),
    "visits": SheetKind(
        title="走访记录",
        columns={
            "visit_id": "走访编号",
            "member_id": "党员编号",
            "kind": "走访类型",
            "household_id": "农户编号",
            "target_member_id": "对象党员编号",
            "time": "走访时间",
            "notes": "备注",
        },
        required=("visit_id", "member_id", "kind", "time"),
        build=_visit,
        event_id=_visit_id,
        references=_visit_references,
    ),
}


def _workbook_rows(content: bytes) -> list[tuple[Any, ...]]:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError) as error:
        raise Unreadable(
            f"无法读取这个文件：它不是 .xlsx 格式的 Excel 工作簿（{error}）。"
        ) from None
    try:
        sheet = workbook.worksheets[0]
        return [tuple(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value).strip()


def _time(value: Any, now: datetime) -> datetime | str:
    """The cell's moment (business time when it names no zone), or the reason it is none."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(_text(value).replace("/", "-"))
        except ValueError:
            return f"“{_text(value)}”不是日期时间，请写成 2026-09-10 15:00 这样的形式"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BUSINESS_TZ)
    if moment > now:
        return "时间晚于当前时间"
    return moment


def _reasons(error: ValidationError, kind: SheetKind) -> list[tuple[str, str]]:
    found = []
    for problem in error.errors():
        column = str(problem["loc"][0]) if problem["loc"] else WHOLE_ROW
        context = problem.get("ctx", {})
        match problem["type"]:
            case "missing" | "string_too_short":
                reason = "必须填写"
            case "string_pattern_mismatch":
                reason = "不能以空格开头或结尾"
            case "string_too_long":
                reason = f"太长：最多 {context.get('max_length')} 个字符"
            case "literal_error" if column == "kind":
                reason = "只能是：" + "、".join(
                    f"{label}（{code}）" for code, label in VISIT_KINDS.items()
                )
            case "value_error" if "household_id" in problem["msg"]:
                column, reason = "household_id", "结对户走访必须填写农户编号"
            case "value_error" if "target_member_id" in problem["msg"]:
                column, reason = "target_member_id", "喜报到家必须填写对象党员编号"
            case _:
                reason = f"不符合要求：{problem['msg']}"
        found.append((kind.columns.get(column, column), reason))
    return found


def read_sheet(
    kind_name: str, content: bytes, *, known: Known, now: datetime, most_rows: int
) -> tuple[list[ImportedRow], list[RowError]]:
    """The sheet's rows as event payloads, or the errors of its invalid rows (row numbers as
    Excel shows them). Blank rows are skipped. Raises Unreadable for what is not a workbook."""
    kind = KINDS[kind_name]
    rows = _workbook_rows(content)
    header_at = next((i for i, row in enumerate(rows) if any(_text(c) for c in row)), None)
    if header_at is None:
        return [], [RowError(1, WHOLE_ROW, "工作表是空的")]
    by_header = {h: c for c, h in kind.columns.items()} | {c: c for c in kind.columns}
    header = [by_header.get(_text(cell)) for cell in rows[header_at]]
    absent = [c for c in kind.required if c not in header]
    if absent:
        return [], [RowError(header_at + 1, kind.columns[c], "缺少这一列") for c in absent]
    body = [(header_at + 2 + i, row) for i, row in enumerate(rows[header_at + 1 :])
            if any(_text(c) for c in row)]  # fmt: skip
    if not body:
        return [], [RowError(header_at + 2, WHOLE_ROW, "表中没有数据行")]
    if len(body) > most_rows:
        reason = f"一次最多导入 {most_rows} 行，这张表有 {len(body)} 行，请分批导入"
        return [], [RowError(header_at + 2, WHOLE_ROW, reason)]

    imported: list[ImportedRow] = []
    errors: list[RowError] = []
    first_row_of: dict[str, int] = {}
    for number, row in body:
        cells = {c: v for c, v in zip(header, row, strict=False) if c is not None}
        values = {c: _text(v) for c, v in cells.items() if _text(v)}
        problems: list[tuple[str, str]] = []
        moment = _time(cells.get("time"), now) if "time" in values else "必须填写"
        if isinstance(moment, str):
            problems.append((kind.columns["time"], moment))
        try:
            data = kind.build(values)
        except ValidationError as error:
            problems.extend(_reasons(error, kind))
        problems.extend((kind.columns[c], reason) for c, reason in kind.references(values, known))
        if not problems and isinstance(moment, datetime):
            event_id = kind.event_id(data)
            if event_id in first_row_of:
                problems.append((WHOLE_ROW, f"与第 {first_row_of[event_id]} 行重复"))
            else:
                first_row_of[event_id] = number
                imported.append(ImportedRow(number, event_id, moment, data))
        errors.extend(RowError(number, column, reason) for column, reason in problems)
    return imported, errors


@dataclass(frozen=True)
class Reference:
    """A sheet of a template that lists what its cells may name (the roster, the lectures)."""

    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[Any]]


def template(kind_name: str, references: Sequence[Reference] = ()) -> bytes:
    """An empty sheet of `kind_name` with its header, what the office fills in, then a sheet
    for each of `references`, so that no id has to be remembered."""
    kind = KINDS[kind_name]
    workbook = load_workbook(io.BytesIO(xlsx(kind.title, list(kind.columns), [])))
    for reference in references:
        sheet = workbook.create_sheet(reference.title[:31])
        sheet.append(list(reference.header))
        for row in reference.rows:
            sheet.append(list(row))
        for number in range(1, len(reference.header) + 1):
            sheet.column_dimensions[get_column_letter(number)].width = 20
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    for number, column in enumerate(sheet.iter_cols(values_only=True), 1):
        width = max(len(str(value or "")) for value in column)
        sheet.column_dimensions[get_column_letter(number)].width = min(40, max(10, width * 2))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return text.getvalue().encode("utf-8-sig")
