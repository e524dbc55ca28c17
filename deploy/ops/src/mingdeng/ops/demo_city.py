"""The demo city (issue 25, item 6): the demo bureau inside the tree of its 机关工委, beside
four more agencies of different sizes, each with a history of its own, deterministic from the
seed like the bureau's (demo.py).

The bureau stays the default agency, as `make up` always loaded it. The others are agencies of
their own (`agency` attribute, source `/agencies/{id}/demo`, keyed by agency), with their own
names, departments and lecture hall, and member ids `m001…` that are the bureau's ids too:
different people, which the platform must keep apart. Their history is shorter than the
bureau's (`CITY_MONTHS`: the last two quarters closed and the running one), so that the city
loads in about the time the bureau alone took."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from mingdeng.contracts import events as ev
from mingdeng.contracts.agency import DEFAULT_AGENCY
from mingdeng.contracts.codec import new_event
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.ops.demo import DEPARTMENTS, Demo, build_demo

COMMITTEE = "jggw"
COMMITTEE_NAME = "浏阳市直机关工委"
BUREAU_NAME = "浏阳市财政局"
CITY_MONTHS = 7
LECTURES_A_SESSION = 3  # a session of the others' halls; the bureau's has one a member in two years
LECTURE_EVENTS = (ev.LectureScheduled, ev.LectureDelivered, ev.LectureAttended)


@dataclass(frozen=True)
class CityAgency:
    agency_id: str
    name: str
    staff: int
    hall: str  # its monthly lecture hall, as the bureau's 财政月讲堂
    departments: tuple[str, ...]  # as many as the bureau's, in its order


AGENCIES = (
    CityAgency(COMMITTEE, COMMITTEE_NAME, 20, "机关党建大讲堂",
               ("办公室", "组织科", "宣传科", "纪检组", "机关党校", "群团科", "调研科",
                "督查科", "信息科", "综合科", "人事科", "后勤科")),
    CityAgency("tongji", "浏阳市统计局", 60, "统计月讲堂",
               ("办公室", "综合核算股", "工业交通股", "农村统计股", "贸易外经股", "人口就业股",
                "普查中心", "调查队", "法规股", "数据管理股", "投资统计股", "服务业统计股")),
    CityAgency("shenji", "浏阳市审计局", 150, "审计月讲堂",
               ("办公室", "财政审计股", "经济责任审计股", "固定资产投资审计股", "农业审计股",
                "社会保障审计股", "企业审计股", "法规审理股", "审计信息中心", "内审指导股",
                "行政事业审计股", "资源环境审计股")),
    CityAgency("shuiwu", "国家税务总局浏阳市税务局", 300, "税务月讲堂",
               ("办公室", "法制股", "税政一股", "税政二股", "收入核算股", "纳税服务股",
                "征收管理股", "第一税务分局", "第二税务分局", "稽查局", "社会保险费股",
                "信息中心")),
)  # fmt: skip


def registrations(now: datetime) -> list[Event[EventData]]:
    """The tree: the bureau (the default agency) and the others, all of one 机关工委."""
    found: list[Event[EventData]] = [
        new_event(ev.AgencyRegistered(agency_id=DEFAULT_AGENCY, name=BUREAU_NAME,
                                      committee_id=COMMITTEE),
                  source="/mingdeng/demo", time=now, event_id=f"agency-{DEFAULT_AGENCY}")
    ]  # fmt: skip
    for agency in AGENCIES:
        found.append(
            new_event(ev.AgencyRegistered(agency_id=agency.agency_id, name=agency.name,
                                          committee_id=COMMITTEE),
                      source="/mingdeng/demo", time=now, event_id=f"agency-{agency.agency_id}",
                      agency=agency.agency_id)
        )  # fmt: skip
    return found


def build_city_agency(agency: CityAgency, seed: int, today: date) -> Demo:
    """One agency's history, its events its own: their agency, source, names and hall."""
    demo = build_demo(_seed(seed, agency), today, None, staff=agency.staff, party=agency.staff * 9 // 10,
                      months=CITY_MONTHS)  # fmt: skip
    own = dict(zip(DEPARTMENTS, agency.departments, strict=True))
    demo.events = [_own(agency, e, own) for e in demo.events if _kept(e.data)]
    demo.closes = [_own(agency, e, own) for e in demo.closes]
    return demo


def _seed(seed: int, agency: CityAgency) -> int:
    return seed * 1000 + sum(agency.agency_id.encode())


def _kept(data: EventData) -> bool:
    """The bureau's own figures (its budget revenue) are not another agency's; a session of
    another agency's hall has at most `LECTURES_A_SESSION` lectures (ids `L{yyyymm}-{slot}`)."""
    if isinstance(data, LECTURE_EVENTS):
        return int(data.lecture_id.rsplit("-", 1)[1]) <= LECTURES_A_SESSION
    return not (isinstance(data, ev.KpiReported) and data.subject_type == "bureau")


def _own(agency: CityAgency, event: Event[EventData], departments: dict[str, str]) -> Event[Any]:
    data = event.data
    if isinstance(data, ev.DepartmentRegistered):
        data = data.model_copy(update={"name": departments.get(data.name, data.name)})
    elif isinstance(data, ev.LectureScheduled):
        data = data.model_copy(update={"title": data.title.replace("财政月讲堂", agency.hall)})
    return replace(event, agency=agency.agency_id, source=f"/agencies/{agency.agency_id}/demo",
                   data=data)  # fmt: skip
