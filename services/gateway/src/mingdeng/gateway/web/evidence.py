"""The evidence of a member's index in words (issue 22): for each event behind a component,
when it happened, what happened, and the points it gave by what scoring says one event of its
kind is worth to this member this quarter (`details["worth_…"]`, before the caps)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from mingdeng.contracts import events as ev
from mingdeng.contracts.conduct import rule_text
from mingdeng.contracts.events import PAYLOAD_BY_TYPE, EventData
from mingdeng.contracts.upcasting import upcast
from mingdeng.gateway.entrypoints.answers import EventSummary
from mingdeng.gateway.web import labels
from mingdeng.gateway.web.directory import Directory

Worth = Mapping[str, float | int | list[str]]


@dataclass(frozen=True)
class Evidence:
    day: str
    words: str
    points: float | None  # None when the answer does not say
    time: datetime | None
    summary: EventSummary  # its id and source, for the office's detail


def _payload(summary: EventSummary) -> EventData | None:
    kind = PAYLOAD_BY_TYPE.get(summary.type)
    if kind is None or summary.data is None:
        return None
    return upcast(kind.model_validate(summary.data))


def _worth(details: Worth, kind: str) -> float | None:
    value = details.get(f"worth_{kind}")
    return float(value) if isinstance(value, int | float) else None


def _words_and_points(
    data: EventData | None, summary: EventSummary, names: Directory, details: Worth
) -> tuple[str, float | None]:
    if isinstance(data, ev.LectureAttended):
        return f"参加{labels.LECTURE_HALL}{names.lecture_title(data.lecture_id)}", _worth(
            details, "lecture"
        )
    if isinstance(data, ev.LectureDelivered):
        lecture, given = _worth(details, "lecture"), _worth(details, "lecture_given")
        points = lecture + given if lecture is not None and given is not None else None
        return f"主讲{labels.LECTURE_HALL}{names.lecture_title(data.lecture_id)}", points
    if isinstance(data, ev.VisitMade):
        if data.kind == "household":
            return f"走访结对户 {names.household(data.household_id)}", _worth(details, "household")
        if data.kind == "community":
            return "到居住社区报到、参加社区服务", _worth(details, "community")
        return labels.visit_kind(data.kind), None
    if isinstance(data, ev.VolunteerLogged):
        return f"志愿服务“{data.title}”（{data.minutes} 分钟）", _worth(details, "volunteer")
    if isinstance(data, ev.ViolationLogged):
        words = f"违反“{labels.CONDUCT_CODE}”{rule_text(data.rule)}。{data.description}"
        return words, _worth(details, "violation")
    if isinstance(data, ev.ViolationRetracted):
        return f"申诉成立，撤销违纪记录（{data.reason}）", None
    if isinstance(data, ev.KpiReported):
        weight = _worth(details, "performance")
        points = (
            weight * data.value if weight is not None and data.metric == "performance" else None
        )
        return f"{labels.period(data.period)}绩效考核 {data.value:g} 分", points
    if isinstance(data, ev.TalkHeld):
        return f"{labels.TALK}（与 {names.member(data.host_id)}）", None
    return labels.event_type(summary.type), None


def evidence(summaries: list[EventSummary], names: Directory, details: Worth) -> list[Evidence]:
    """The events of one component in words, newest first."""
    found = []
    for summary in summaries:
        words, points = _words_and_points(_payload(summary), summary, names, details)
        found.append(Evidence(labels.day(summary.time), words, points, summary.time, summary))
    return sorted(found, key=lambda e: e.time.timestamp() if e.time else 0.0, reverse=True)
