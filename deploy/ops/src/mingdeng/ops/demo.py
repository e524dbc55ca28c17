"""A demo bureau modelled on the seed (a municipal finance bureau), deterministic from a seed.

`build_demo` is pure: the same seed and `today` give the same events, ids included.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from mingdeng.contracts import events as ev
from mingdeng.contracts.codec import new_event
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.periods import BUSINESS_TZ, Quarter

SOURCE = "/systems/demo"

BRANCHES = [
    "机关第一党支部",
    "机关第二党支部",
    "机关第三党支部",
    "机关第四党支部",
    "机关第五党支部",
]
DEPARTMENTS = [
    "办公室",
    "预算科",
    "国库科",
    "税政科",
    "综合科",
    "经济建设科",
    "行政政法科",
    "教科文科",
    "农业农村科",
    "社会保障科",
    "会计科",
    "财政监督局",
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力志国东海波宁晨雪琳"
VILLAGES = ["沙市村", "东门村", "官渡村", "古港村", "龙伏村", "张坊村", "大围山村", "淳口村"]
MODULES: list[ev.LectureModule] = ["theory", "ideals", "business"]
THEMES: list[ev.LectureTheme] = ["loyalty", "responsibility", "dedication", "integrity"]
THEME_TITLES = {
    "loyalty": "对党忠诚",
    "responsibility": "责任担当",
    "dedication": "无私奉献",
    "integrity": "清正廉洁",
}
MAXIMS = [
    "廉洁自律，从点滴做起。",
    "公款姓公，一分一厘都不能乱花。",
    "勿以恶小而为之，勿以善小而不为。",
    "理财为民，依法理财。",
    "守住底线，不越红线。",
    "为官一任，造福一方。",
    "小事小节是一面镜子。",
    "打铁还需自身硬。",
    "一心为公，两袖清风。",
    "干净干事，清白做人。",
]
BUREAU_KPIS = [
    ("general_budget_revenue", 113.32, "亿元"),
    ("general_budget_revenue_growth", 13.13, "%"),
    ("local_general_budget_revenue", 69.19, "亿元"),
    ("local_general_budget_revenue_growth", 10.95, "%"),
    ("tax_revenue_share", 73.7, "%"),
    ("education_spending", 25.3, "亿元"),
    ("education_spending_growth", 9.8, "%"),
]


@dataclass
class Demo:
    """The events of the demo, in publishing order; `closes` go last, once the rest is scored."""

    events: list[Event[EventData]] = field(default_factory=list)
    closes: list[Event[EventData]] = field(default_factory=list)


def build_demo(seed: int, today: date, members_count: int = 130) -> Demo:
    rng = random.Random(seed)
    demo = Demo()
    serial = iter(range(1, 10**7))

    def emit(data: EventData, at: datetime) -> None:
        demo.events.append(new_event(data, source=SOURCE, time=at, event_id=f"demo-{next(serial)}"))

    def at(day: date, hour: int = 10) -> datetime:
        return datetime.combine(day, time(hour), tzinfo=BUSINESS_TZ)

    first_month = _add_months(today.replace(day=1), -24)
    origin = at(first_month - timedelta(days=20), 9)

    # registry: branches, departments with their leaders' lines, members, households, pairings
    for index, name in enumerate(BRANCHES, 1):
        emit(ev.BranchRegistered(branch_id=f"b{index}", name=name), origin)
    leader_ids = [f"m{n:03d}" for n in range(1, 8)]
    departments = []
    for index, name in enumerate(DEPARTMENTS, 1):
        department_id = f"d{index:02d}"
        departments.append(department_id)
        emit(
            ev.DepartmentRegistered(
                department_id=department_id,
                name=name,
                branch_id=f"b{(index - 1) % len(BRANCHES) + 1}",
                leader_id=leader_ids[(index - 1) % len(leader_ids)],
            ),
            origin,
        )
    members = [f"m{n:03d}" for n in range(1, members_count + 1)]
    names = _unique_names(rng, len(members))
    secretaries = {members[7 + i] for i in range(len(BRANCHES))}
    party_members = []
    for index, member_id in enumerate(members):
        roles: list[ev.Role] = ["member"]
        if member_id in leader_ids:
            roles.append("leader")
        if member_id in secretaries:
            roles.append("secretary")
        if index == 0:
            roles.append("admin")
        party_member = member_id in leader_ids or member_id in secretaries or rng.random() < 0.85
        if party_member:
            party_members.append(member_id)
        emit(
            ev.MemberRegistered(
                member_id=member_id,
                name=names[index],
                # secretaries m008…m012 sit in a department of their own branch
                department_id=departments[
                    (index - 7) % len(BRANCHES)
                    if member_id in secretaries
                    else index % len(departments)
                ],
                phone=f"139{rng.randrange(10**8):08d}",
                roles=tuple(roles),
                party_member=party_member,
                born_on=date(rng.randrange(1965, 2000), rng.randrange(1, 13), rng.randrange(1, 29)),
            ),
            origin,
        )
    households: dict[str, list[str]] = {}
    for index, member_id in enumerate(members):
        households[member_id] = []
        for k in range(2):
            household_id = f"h{2 * index + k + 1:03d}"
            households[member_id].append(household_id)
            emit(
                ev.HouseholdRegistered(
                    household_id=household_id,
                    village=rng.choice(VILLAGES),
                    head_name=_unique_names(rng, 1)[0],
                    address=f"{rng.randrange(1, 40)}组{rng.randrange(1, 60)}号",
                ),
                origin,
            )
            emit(ev.HouseholdPaired(household_id=household_id, member_id=member_id), origin)
    for index, leader_id in enumerate(leader_ids):
        emit(
            ev.LiaisonAssigned(
                leader_id=leader_id,
                agency_branch_id=f"b{index % len(BRANCHES) + 1}",
                village_branch=f"{VILLAGES[index]}党支部",
            ),
            origin,
        )
    for index, text in enumerate(MAXIMS, 1):
        emit(
            ev.MaximSubmitted(maxim_id=f"x{index:02d}", author_id=rng.choice(members), text=text),
            origin,
        )
        emit(ev.MaximApproved(maxim_id=f"x{index:02d}"), origin + timedelta(hours=1))

    # 24 monthly lectures: modules and themes rotate, every member takes a turn as speaker
    speakers = members[:]
    rng.shuffle(speakers)
    for month_index in range(24):
        day = _add_months(first_month, month_index) + timedelta(days=14)
        lecture_id = f"L{day:%Y%m}"
        module, theme = MODULES[month_index % 3], THEMES[month_index % 4]
        speaker = speakers[month_index % len(speakers)]
        emit(
            ev.LectureScheduled(
                lecture_id=lecture_id,
                date=day,
                module=module,
                theme=theme,
                title=f"{THEME_TITLES[theme]}·第{month_index + 1}讲",
                speaker_id=speaker,
            ),
            at(day - timedelta(days=10)),
        )
        emit(ev.LectureDelivered(lecture_id=lecture_id, speaker_id=speaker), at(day, 15))
        for member_id in members:
            if member_id != speaker and rng.random() < 0.55:
                emit(ev.LectureAttended(lecture_id=lecture_id, member_id=member_id), at(day, 15))

    # per quarter: visits, volunteering, talks, KPIs; violations are rare
    quarter = Quarter.of(at(first_month))
    current = Quarter.of(at(today))
    violations = 0
    while quarter <= current:
        start = quarter.first_day
        span = min(90, (today - start).days) if quarter == current else 88

        def day_in(start: date = start, span: int = span) -> date:
            return start + timedelta(days=rng.randrange(max(span, 1)))

        for member_id in members:
            for household_id in households[member_id]:
                if rng.random() < 0.8:
                    emit(
                        ev.VisitMade(
                            visit_id=f"v{next(serial)}",
                            member_id=member_id,
                            kind="household",
                            household_id=household_id,
                        ),
                        at(day_in()),
                    )
            if rng.random() < 0.3:
                emit(
                    ev.VisitMade(
                        visit_id=f"v{next(serial)}", member_id=member_id, kind="community"
                    ),
                    at(day_in()),
                )
            for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
                emit(
                    ev.VolunteerLogged(
                        activity_id=f"a{next(serial)}",
                        member_id=member_id,
                        minutes=rng.choice([60, 90, 120, 180]),
                        title="社区志愿服务",
                    ),
                    at(day_in()),
                )
            if rng.random() < 0.012 and violations < 10:
                violations += 1
                emit(
                    ev.ViolationLogged(
                        violation_id=f"viol{violations:02d}",
                        member_id=member_id,
                        rule=rng.randrange(1, 11),
                        description="上班时间离岗",
                        inspector_id="m002",
                    ),
                    at(day_in(), 11),
                )
                if violations == 1:
                    emit(
                        ev.ViolationRetracted(
                            violation_id="viol01", reason="申诉成立：公务外出已报备"
                        ),
                        at(day_in(), 16),
                    )
        talk_quotas: list[tuple[ev.TalkCategory, int]] = [
            ("youth", 24),
            ("leadership", 2),
            ("member", 26),
        ]
        for category, per_quarter in talk_quotas:
            for _ in range(per_quarter):
                emit(
                    ev.TalkHeld(
                        talk_id=f"t{next(serial)}",
                        host_id=rng.choice(leader_ids + sorted(secretaries)),
                        member_id=rng.choice(members),
                        category=category,
                    ),
                    at(day_in(), 14),
                )
        for _ in range(9):
            emit(
                ev.SuggestionSubmitted(
                    suggestion_id=f"s{next(serial)}",
                    department_id=rng.choice(departments),
                    topic="优化营商环境",
                    text="建议简化财政资金拨付流程。",
                ),
                at(day_in()),
            )
        if quarter < current:
            reported = at(quarter.next().first_day + timedelta(days=3))
            for member_id in members:
                emit(
                    ev.KpiReported(
                        subject_type="member",
                        subject_id=member_id,
                        metric="performance",
                        period=str(quarter),
                        value=rng.randrange(70, 99),
                    ),
                    reported,
                )
            for department_id in departments:
                emit(
                    ev.KpiReported(
                        subject_type="department",
                        subject_id=department_id,
                        metric="business",
                        period=str(quarter),
                        value=rng.randrange(75, 99),
                    ),
                    reported,
                )
            demo.closes.append(
                new_event(
                    ev.QuarterClosed(quarter=str(quarter)),
                    source=SOURCE,
                    time=at(quarter.next().first_day + timedelta(days=10)),
                    event_id=f"demo-close-{quarter}",
                )
            )
        quarter = quarter.next()

    report_year = today.year - 1
    for metric, value, unit in BUREAU_KPIS:
        emit(
            ev.KpiReported(
                subject_type="bureau",
                subject_id="bureau",
                metric=metric,
                period=str(report_year),
                value=value,
                unit=unit,
            ),
            at(date(today.year, 1, 20)),
        )
    demo.events.sort(key=lambda e: e.time)
    return demo


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return day.replace(year=day.year + month // 12, month=month % 12 + 1)


def _unique_names(rng: random.Random, count: int) -> list[str]:
    names: list[str] = []
    while len(names) < count:
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2])))
        if name not in names:
            names.append(name)
    return names
