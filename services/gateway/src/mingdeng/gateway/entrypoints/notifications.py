"""Tasks, sent messages and monthly bulletins, as the notifier publishes them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import PlainTextResponse

from mingdeng.contracts.periods import MONTH_PATTERN
from mingdeng.gateway.adapters import repository, work
from mingdeng.gateway.domain.access import may_see_violations
from mingdeng.gateway.entrypoints.answers import IssuedBulletin, Notifications, Tasks
from mingdeng.gateway.entrypoints.deps import (
    VIEWER_PROBLEMS,
    Connection,
    Limit,
    Offset,
    Organisation,
    Viewer,
)
from mingdeng.gateway.entrypoints.paging import (
    NEXT_LINK,
    After,
    invalid_cursor,
    link_next,
    read_cursor,
)
from mingdeng.gateway.entrypoints.problems import Problem, problems
from mingdeng.gateway.entrypoints.responses import encoded_json_response

router = APIRouter(prefix="/v1", tags=["tasks and notifications"], responses=VIEWER_PROBLEMS)


@router.get("/tasks")
async def tasks(
    viewer: Viewer,
    connection: Connection,
    assignee_id: str | None = None,
    status: Literal["open", "done", "cancelled"] | None = None,
    kind: Literal["talk", "commendation", "meeting", "absences"] | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Tasks:
    """Talk tasks after violations, commendation deliveries (喜报到家), meetings of a branch not
    held in time (未按期) and members absent three times in a row, soonest due first. Admins
    see all; others the tasks they are assigned and those about themselves."""
    found = await repository.tasks(connection, assignee_id, status, kind)
    if viewer.role != "admin":
        found = [t for t in found if viewer.subject in (t.assignee_id, t.member_id)]
    return Tasks(total=len(found), items=found[offset : offset + limit])


@router.get("/notifications", responses=NEXT_LINK)
async def notifications(
    request: Request,
    response: Response,
    viewer: Viewer,
    connection: Connection,
    recipient_id: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
    after: After = None,
) -> Notifications:
    """Messages and their status (queued, sent, failed, suppressed), newest first; phone
    numbers masked. Admins see all; others their own."""
    if viewer.role != "admin":
        if recipient_id not in (None, viewer.subject):
            raise Problem(403, "Forbidden", "you may see your own messages only")
        recipient_id = viewer.subject
    items, last = await repository.notifications(
        connection, recipient_id, limit, offset, _notification_key(after)
    )
    link_next(request, response, None if last is None else [last[0].isoformat(), last[1]])
    return Notifications(items=items)


def _notification_key(after: str | None) -> tuple[datetime, str] | None:
    if after is None:
        return None
    match read_cursor(after):
        case [str() as updated_at, str() as key]:
            try:
                return datetime.fromisoformat(updated_at), key
            except ValueError:
                pass
    raise invalid_cursor()


@router.get(
    "/bulletins/{month}",
    response_model=IssuedBulletin,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **problems(404),
    },
)
async def bulletin(
    request: Request,
    month: Annotated[str, Path(pattern=MONTH_PATTERN, examples=["2026-10"])],
    viewer: Viewer,
    org: Organisation,
    connection: Connection,
) -> Response:
    """The monthly bulletin (督查通报) as issued, and the violations of its cases retracted
    since; `Accept: text/plain` gives the text as issued. Its cases are those whose violation
    the viewer may see (admin all of them)."""
    issued = await repository.bulletin(connection, month)
    if issued is None:
        raise Problem(404, "No bulletin", f"the bulletin of {month} has not been issued")
    if "text/plain" in request.headers.get("accept", ""):
        return PlainTextResponse(issued.text)
    since = await work.retracted(
        connection, [c.violation_id for c in issued.cases if not c.retracted]
    )
    seen = [c for c in issued.cases if may_see_violations(viewer, c.member_id, org)]
    found = IssuedBulletin(
        **{**issued.model_dump(), "cases": seen},
        retracted_after_issue=len(since),
        retracted_cases={
            c.violation_id: since[c.violation_id] for c in seen if c.violation_id in since
        },
    )
    return encoded_json_response(request, found.model_dump_json().encode(), final=False)
