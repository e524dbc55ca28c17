"""Excel on the office's pages: import a sheet of lecture attendance or of a visit log (every row
valid, or nothing is published), and export rankings, selections and coverage as .xlsx or CSV,
from the same API reads as the pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Request, Response, UploadFile

from mingdeng.contracts.codec import parse_document
from mingdeng.contracts.errors import InvalidEvent
from mingdeng.gateway.entrypoints.answers import (
    CoverageAnswer,
    FortressRanking,
    QuarterSelections,
    VanguardRanking,
)
from mingdeng.gateway.settings import GatewaySettings
from mingdeng.gateway.web import actions, labels, sheets
from mingdeng.gateway.web.committee_pages import committee_figures, committee_of
from mingdeng.gateway.web.forms import form_checked
from mingdeng.gateway.web.pages import (
    Admin,
    AnyViewer,
    all_items,
    local_time,
    page,
    publish_actions,
    quarter_or_now,
    vanguard_filters,
)
from mingdeng.gateway.web.reads import PageError, ViewerApi

router = APIRouter(include_in_schema=False)
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Format = Literal["xlsx", "csv"]


@router.get("/office/import")
async def import_form(request: Request, viewer: Admin) -> Response:
    return page(request, "import.html", title="Excel 导入", kinds=sheets.KINDS, kind="attendance",
                most=_most_rows(request))  # fmt: skip


@router.get("/office/import/template-{kind}.xlsx")
async def import_template(
    request: Request, viewer: Admin, api: ViewerApi, kind: Literal["attendance", "visits"]
) -> Response:
    """The empty sheet, with the roster (党员编号 and names) and, for attendance, the lectures."""
    names = await api.directory()
    async with request.app.state.pool.acquire() as connection:
        active = await connection.fetch(
            "SELECT member_id FROM active_members ORDER BY department_id, name"
        )
    roster = sheets.Reference(
        "党员名册", ("党员编号", "姓名", "科室"),
        [(r["member_id"], names.member(r["member_id"]), names.department_of(r["member_id"]))
         for r in active],
    )  # fmt: skip
    lectures = sheets.Reference(
        "讲堂", ("讲堂编号", "日期", "题目"),
        sorted(((lecture_id, lecture.date, lecture.title) for lecture_id, lecture
                in names.lectures.items() if lecture.date), key=lambda r: r[1], reverse=True),
    )  # fmt: skip
    references = [roster, lectures] if kind == "attendance" else [roster]
    return _download(sheets.template(kind, references), f"template-{kind}.xlsx", XLSX)


def _most_rows(request: Request) -> int:
    settings: GatewaySettings = request.app.state.settings
    return settings.max_batch_events


async def _known(request: Request) -> sheets.Known:
    async with request.app.state.pool.acquire() as connection:
        members = await connection.fetch("SELECT member_id FROM active_members")
        lectures = await connection.fetch("SELECT lecture_id FROM lectures")
    return sheets.Known(
        members=frozenset(r["member_id"] for r in members),
        lectures=frozenset(r["lecture_id"] for r in lectures),
    )


@router.post("/office/import")
async def import_sheet(
    request: Request,
    viewer: Admin,
    kind: Annotated[Literal["attendance", "visits"], Form()],
    sheet: Annotated[UploadFile, File()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Every row becomes an event published through the ingestion path, or, when any row is
    invalid, none does and the page names each invalid row."""
    form_checked(request, csrf)
    content = await sheet.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise PageError(413, f"文件太大：一次最多上传 {MAX_UPLOAD_BYTES // 1024 // 1024} MB。")
    now = datetime.now(UTC)
    try:
        rows, errors = sheets.read_sheet(
            kind, content, known=await _known(request), now=now, most_rows=_most_rows(request)
        )
    except sheets.Unreadable as unreadable:
        raise PageError(422, str(unreadable)) from None
    events = []
    for row in rows:
        event = actions.dashboard_event(row.data, row.event_id, viewer, row.time)
        try:  # the envelope checked as POST /v1/events checks it
            events.append(parse_document(event.to_cloudevent(), now=now, latest=False))
        except InvalidEvent as invalid:
            errors.extend(sheets.RowError(row.row, sheets.WHOLE_ROW, r["message"])
                          for r in invalid.as_dicts())  # fmt: skip
    context: dict[str, Any] = {"title": "Excel 导入", "kinds": sheets.KINDS, "kind": kind,
                               "most": _most_rows(request), "filename": sheet.filename}  # fmt: skip
    if errors:
        return page(request, "import.html", 422, errors=sorted(errors, key=lambda e: e.row),
                    **context)  # fmt: skip
    accepted = await publish_actions(request, events)
    return page(request, "import.html", imported=len(events), accepted=len(accepted.accepted),
                duplicates=len(accepted.duplicates), **context)  # fmt: skip


# --- export ----------------------------------------------------------------------------------


def _download(content: bytes, filename: str, media_type: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _table(title: str, header: Sequence[str], rows: list[list[Any]], name: str,
           fmt: Format) -> Response:  # fmt: skip
    if fmt == "xlsx":
        return _download(sheets.xlsx(title, header, rows), f"{name}.xlsx", XLSX)
    return _download(sheets.csv_bytes(header, rows), f"{name}.csv", "text/csv; charset=utf-8")


def _component_columns(components: dict[str, float] | None) -> list[str]:
    return [name for name, _ in labels.in_order(components)] if components else []


@router.get("/export/rankings-{quarter}.{fmt}")
async def export_rankings(
    viewer: AnyViewer,
    api: ViewerApi,
    quarter: str,
    fmt: Format,
    index: Literal["vanguard", "fortress"] = "vanguard",
    department_id: str | None = None,
    branch_id: str | None = None,
    level: Literal["department", "branch"] = "department",
) -> Response:
    """The Vanguard (members) or Fortress (departments or branches) ranking as the viewer sees
    it on /rankings."""
    quarter = quarter_or_now(quarter)
    path = f"/v1/quarters/{quarter}"
    if index == "vanguard":
        _, members = await all_items(api, VanguardRanking, f"{path}/vanguard",
                                     vanguard_filters(department_id, branch_id))  # fmt: skip
        names = await api.directory()
        components = _component_columns(members[0].components if members else None)
        header = ["名次", "姓名", "科室", "支部", "先锋指数",
                  *(labels.component(c) for c in components)]  # fmt: skip
        rows = [[m.rank, m.name, names.department(m.department_id),
                 names.branch(names.departments[m.department_id].branch_id
                              if m.department_id in names.departments else None),
                 m.index, *(m.components.get(c) for c in components)]
                for m in members]  # fmt: skip
        title = f"{labels.quarter(quarter)} 先锋指数"
    else:
        _, groups = await all_items(api, FortressRanking, f"{path}/fortress", {"level": level})
        components = _component_columns(groups[0].components if groups else None)
        header = ["名次", "名称", "堡垒指数", *(labels.component(c) for c in components)]
        rows = [[d.rank, d.name, d.index, *(d.components.get(c) for c in components)]
                for d in groups]  # fmt: skip
        title = (
            f"{labels.quarter(quarter)} 堡垒指数（{'科室' if level == 'department' else '支部'}）"
        )
    return _table(title, header, rows, f"{index}-{quarter}", fmt)


@router.get("/export/selections-{quarter}.{fmt}")
async def export_selections(viewer: Admin, api: ViewerApi, quarter: str, fmt: Format) -> Response:
    """The quarter's exemplars and excellent departments, as /office/selections shows them."""
    quarter = quarter_or_now(quarter)
    selection = await api.find(QuarterSelections, f"/v1/quarters/{quarter}/selections")
    if selection is None:
        raise PageError(404, f"{labels.quarter(quarter)}还没有评分，暂无评选结果可导出。")
    names = await api.directory()
    status = labels.status(selection.status)
    header = ["类别", "名次", "名称", "科室", "指数", "状态"]
    rows: list[list[Any]] = [
        [labels.EXEMPLAR, m.rank, m.name, names.department(m.department_id), m.index, status]
        for m in selection.exemplars
    ]
    rows += [[labels.EXCELLENT_DEPARTMENT, d.rank, d.name, d.name, d.index, status]
             for d in selection.excellent_departments]  # fmt: skip
    return _table(f"{labels.quarter(quarter)} 评选结果", header, rows, f"selections-{quarter}", fmt)


@router.get("/export/coverage-{quarter}.{fmt}")
async def export_coverage(viewer: Admin, api: ViewerApi, quarter: str, fmt: Format) -> Response:
    """Outreach coverage of the quarter, member by member."""
    quarter = quarter_or_now(quarter)
    coverage = await api.find(CoverageAnswer, f"/v1/outreach/coverage/{quarter}")
    if coverage is None:
        raise PageError(404, f"{labels.quarter(quarter)}还没有结对走访数据可导出。")
    names = await api.directory()
    header = ["姓名", "科室", "支部", "结对户数", "已走访户数", "覆盖率"]
    rows = [[m.name, names.department(m.department_id), names.branch(m.branch_id), m.pairings,
             m.visited, m.rate] for m in coverage.by_member]  # fmt: skip
    return _table(f"{labels.quarter(quarter)} 结对走访覆盖", header, rows, f"coverage-{quarter}",
                  fmt)  # fmt: skip


@router.get("/export/committee-{quarter}.xlsx")
async def export_committee(viewer: Admin, api: ViewerApi, quarter: str) -> Response:
    """Every agency of the 机关工委管理员's tree with its figures, as /committee shows them."""
    quarter = quarter_or_now(quarter)
    first, agencies = await committee_figures(api, committee_of(viewer), quarter)
    header = ["名次", "单位", "党员干部", "先锋指数（党员平均）", "堡垒指数（支部平均）",
              "有堡垒指数的党支部", f"讲堂（期，{quarter[:4]}年）", "结对户数", "已走访户数",
              "走访覆盖率", "违反“十不准”", "待办任务", "逾期任务", "最近收到数据"]  # fmt: skip
    rows = [[a.rank, a.name, a.members, a.vanguard_mean, a.fortress_mean, a.branches,
             a.lectures, a.coverage.pairings if a.coverage else None,
             a.coverage.visited if a.coverage else None, a.coverage.rate if a.coverage else None,
             a.violations, a.open_tasks, a.overdue_tasks, local_time(a.last_event_at)]
            for a in agencies]  # fmt: skip
    return _table(f"{first.name} {labels.quarter(quarter)} 各单位情况", header, rows,
                  f"committee-{quarter}", "xlsx")  # fmt: skip
