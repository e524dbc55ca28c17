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
from mingdeng.gateway.settings import GatewaySettings
from mingdeng.gateway.web import actions, labels, sheets
from mingdeng.gateway.web.pages import (
    Admin,
    AnyViewer,
    PageError,
    explain,
    form_checked,
    page,
    publish_actions,
    quarter_or_now,
    vanguard_filters,
)
from mingdeng.gateway.web.reads import Unreadable, read, read_or

router = APIRouter(include_in_schema=False)
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Format = Literal["xlsx", "csv"]


@router.get("/office/import")
async def import_form(request: Request, viewer: Admin) -> Response:
    return page(request, "import.html", title="Excel 导入", kinds=sheets.KINDS, kind="attendance",
                most=_most_rows(request))  # fmt: skip


@router.get("/office/import/template-{kind}.xlsx")
async def import_template(viewer: Admin, kind: Literal["attendance", "visits"]) -> Response:
    return _download(sheets.template(kind), f"template-{kind}.xlsx", XLSX)


def _most_rows(request: Request) -> int:
    settings: GatewaySettings = request.app.state.settings
    return settings.max_batch_events


async def _known(request: Request) -> sheets.Known:
    async with request.app.state.pool.acquire() as connection:
        members = await connection.fetch("SELECT member_id FROM gateway.active_members")
        lectures = await connection.fetch("SELECT lecture_id FROM gateway.lectures")
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


async def _all_items(request: Request, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item of a paged listing of the API (500 a page)."""
    items: list[dict[str, Any]] = []
    while True:
        answer = await read(request, path, {**params, "limit": 500, "offset": len(items)})
        items.extend(answer["items"])
        if not answer["items"] or len(items) >= answer["total"]:
            return items


def _component_columns(items: list[dict[str, Any]]) -> list[str]:
    return [name for name, _ in labels.in_order(items[0]["components"])] if items else []


@router.get("/export/rankings-{quarter}.{fmt}")
async def export_rankings(
    request: Request,
    viewer: AnyViewer,
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
    try:
        if index == "vanguard":
            items = await _all_items(request, f"/v1/quarters/{quarter}/vanguard",
                                     vanguard_filters(department_id, branch_id))  # fmt: skip
            names = await _department_names(request, quarter)
        else:
            items = await _all_items(request, f"/v1/quarters/{quarter}/fortress", {"level": level})
    except Unreadable as error:
        raise explain(error) from None
    components = _component_columns(items)
    parts = [labels.component(c) for c in components]
    if index == "vanguard":
        header = ["名次", "党员编号", "姓名", "科室", "先锋指数", *parts]
        rows = [[m["rank"], m["member_id"], m["name"],
                 names.get(m["department_id"], m["department_id"]), m["index"],
                 *(m["components"].get(c) for c in components)] for m in items]  # fmt: skip
        title = f"{quarter} 先锋指数"
    else:
        header = ["名次", "编号", "名称", "堡垒指数", *parts]
        rows = [[d["rank"], d["id"], d["name"], d["index"],
                 *(d["components"].get(c) for c in components)] for d in items]  # fmt: skip
        title = f"{quarter} 堡垒指数（{'科室' if level == 'department' else '支部'}）"
    return _table(title, header, rows, f"{index}-{quarter}", fmt)


async def _department_names(request: Request, quarter: str) -> dict[str, str]:
    """Department ids to names, as the quarter's Fortress ranking of departments gives them."""
    departments = await _all_items(
        request, f"/v1/quarters/{quarter}/fortress", {"level": "department"}
    )
    return {d["id"]: d["name"] for d in departments}


@router.get("/export/selections-{quarter}.{fmt}")
async def export_selections(request: Request, viewer: Admin, quarter: str, fmt: Format) -> Response:
    """The quarter's exemplars and excellent departments, as /office/selections shows them."""
    quarter = quarter_or_now(quarter)
    try:
        selection = await read_or(request, f"/v1/quarters/{quarter}/selections")
        names = await _department_names(request, quarter)
    except Unreadable as error:
        raise explain(error) from None
    if selection is None:
        raise PageError(404, f"{quarter} 季度还没有评分，暂无评选结果可导出。")
    status = labels.status(selection["status"])
    header = ["类别", "名次", "编号", "名称", "科室", "指数", "状态"]
    rows = [["季度标兵", place, m["member_id"], m["name"],
             names.get(m["department_id"], m["department_id"]), m["index"], status]
            for place, m in enumerate(selection["exemplars"], 1)]  # fmt: skip
    rows += [["优秀科室", place, d["department_id"], d["name"], d["name"], d["index"], status]
             for place, d in enumerate(selection["excellent_departments"], 1)]  # fmt: skip
    return _table(f"{quarter} 评选结果", header, rows, f"selections-{quarter}", fmt)


@router.get("/export/coverage-{quarter}.{fmt}")
async def export_coverage(request: Request, viewer: Admin, quarter: str, fmt: Format) -> Response:
    """Outreach coverage of the quarter, member by member."""
    quarter = quarter_or_now(quarter)
    try:
        coverage = await read_or(request, f"/v1/outreach/coverage/{quarter}")
        names = await _department_names(request, quarter)
    except Unreadable as error:
        raise explain(error) from None
    if coverage is None:
        raise PageError(404, f"{quarter} 季度还没有结对走访数据可导出。")
    header = ["党员编号", "姓名", "科室", "支部", "结对户数", "已走访户数", "覆盖率"]
    rows = [[m["member_id"], m["name"], names.get(m["department_id"], m["department_id"]),
             m["branch_id"], m["pairings"], m["visited"], m["rate"]]
            for m in coverage["by_member"]]  # fmt: skip
    return _table(f"{quarter} 结对走访覆盖", header, rows, f"coverage-{quarter}", fmt)
