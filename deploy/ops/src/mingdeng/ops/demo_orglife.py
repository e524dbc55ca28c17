"""The demo bureau's organisational life and frontline secondments (issue 24): two years of each
branch's 三会一课 and 主题党日 as their secretaries recorded them, and 12 young members sent to
the frontline of the 三大攻坚战, as the report says.

Drawn from a random generator of its own and published with ids of its own (`demo-orglife-N`),
so that adding it left every other value of the demo as it was. Believable rather than perfect:
most members attend, some are on leave (granted, now and then refused), a few are absent; the
fourth branch has held no 支委会 since last month began (so `make up` shows 未按期 and its
secretary's reminder SMS), and one member of the second branch has missed every meeting of the last weeks
(flagged to the secretary)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from mingdeng.contracts import events as ev
from mingdeng.contracts.codec import new_event
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData, MeetingKind
from mingdeng.contracts.periods import BUSINESS_TZ

LEAVE_REASONS = ("出差", "下乡调研", "参加业务培训", "病假", "陪护住院家人", "外出督查")
TOPICS: dict[MeetingKind, tuple[str, ...]] = {
    "general_assembly": ("学习贯彻全会精神", "民主评议党员", "接收预备党员", "通报支部工作"),
    "committee": ("研究党员发展工作", "部署月度党建工作", "研究谈心谈话安排", "研究党费收缴"),
    "group": (
        "学习《中国共产党章程》",
        "交流“十不准”执行情况",
        "学习财政政策",
        "开展批评与自我批评",
    ),
    "party_class": ("书记讲党课：对党忠诚", "书记讲党课：履职尽责", "书记讲党课：廉政建设"),
    "theme_day": ("重温入党誓词", "走访结对帮扶户", "进社区志愿服务", "参观红色教育基地"),
}
SECONDED = 12  # the report: 选派12名青年党员干部深入“三大攻坚战”一线锻炼
POSTS = (
    ("驻村第一书记", "三大攻坚战·精准脱贫"),
    ("驻村扶贫工作队队员", "三大攻坚战·精准脱贫"),
    ("市金融风险防控办公室", "三大攻坚战·防范化解重大风险"),
    ("市政府债务管理专班", "三大攻坚战·防范化解重大风险"),
    ("市污染防治攻坚办公室", "三大攻坚战·污染防治"),
)
VILLAGES = ("沙市村", "东门村", "官渡村", "古港村", "龙伏村", "张坊村", "大围山村", "淳口村")
OVERDUE_BRANCH = "b4"  # has not held last month's 支委会
GROUP_SIZE = 9  # a 党小组 of about nine members


def organisational_life(
    seed: int,
    today: date,
    first_month: date,
    branch_members: dict[str, list[str]],
    secretary_of: dict[str, str],
    young: Sequence[str],
) -> list[Event[EventData]]:
    """The meetings of every branch from `first_month` until yesterday, and the secondments of
    12 of `young`. `branch_members`: the party members of each branch, its secretary first."""
    rng = random.Random(seed * 7919 + 24)
    events: list[Event[EventData]] = []

    def emit(data: EventData, moment: datetime) -> None:
        events.append(
            new_event(data, source="/systems/demo", time=moment,
                      event_id=f"demo-orglife-{len(events) + 1}")
        )  # fmt: skip

    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    flagged = branch_members["b2"][-1]  # misses every meeting of the last two months
    for branch_id, members in sorted(branch_members.items()):
        secretary = secretary_of[branch_id]
        committee = members[:5]
        groups = [members[i : i + GROUP_SIZE] for i in range(0, len(members), GROUP_SIZE)]
        month, serial = first_month, 0
        while month < today:
            days: list[tuple[MeetingKind, int, Sequence[str]]] = [
                ("committee", 5 + rng.randrange(4), committee),
                ("theme_day", 8, members),  # 每月相对固定1天
                *(("group", 12 + n, group) for n, group in enumerate(groups)),
            ]
            if month.month % 3 == 2:
                days.append(("general_assembly", 20 + rng.randrange(4), members))
            if month.month % 3 == 0:
                days.append(("party_class", 24 + rng.randrange(3), members))
            for kind, day_of_month, expected in days:
                day = month.replace(day=day_of_month)
                if day >= today or (
                    kind == "committee" and branch_id == OVERDUE_BRANCH and month >= last_month
                ):
                    continue
                serial += 1
                absent_one = flagged if day > today - timedelta(days=60) else None
                emit(_meeting(rng, f"{branch_id}-{day:%Y%m%d}-{serial}", branch_id, kind, day,
                              expected, secretary, absent_one), at(day, 17))  # fmt: skip
            month = (month + timedelta(days=32)).replace(day=1)
    for index, member_id in enumerate(rng.sample(sorted(young), min(SECONDED, len(young)))):
        post, campaign = POSTS[index % len(POSTS)]
        if post.startswith("驻村"):
            post = f"{VILLAGES[index % len(VILLAGES)]}{post}"
        from_on = first_month + timedelta(days=30 * (index % 8) + rng.randrange(20))
        emit(
            ev.SecondmentAssigned(secondment_id=f"sd{index + 1:02d}", member_id=member_id,
                                  post=post, campaign=campaign, from_on=from_on,
                                  until_on=from_on + timedelta(days=364)),
            at(min(from_on, today - timedelta(days=1)), 9),
        )  # fmt: skip
    return events


def _meeting(
    rng: random.Random, meeting_id: str, branch_id: str, kind: MeetingKind, day: date,
    expected: Sequence[str], secretary: str, absent_one: str | None,
) -> ev.MeetingHeld:  # fmt: skip
    attendees, leaves, absentees = [], [], []
    for member_id in expected:
        draw = rng.random()
        if member_id == absent_one:
            absentees.append(member_id)
        elif member_id == secretary or draw < 0.86:
            attendees.append(member_id)
        elif draw < 0.97:
            leaves.append(ev.MeetingLeave(member_id=member_id, reason=rng.choice(LEAVE_REASONS),
                                          granted=draw < 0.965))  # fmt: skip
        else:
            absentees.append(member_id)
    topic = rng.choice(TOPICS[kind])
    return ev.MeetingHeld(
        meeting_id=meeting_id, branch_id=branch_id, kind=kind, held_on=day, topic=topic,
        attendees=tuple(attendees), leaves=tuple(leaves), absentees=tuple(absentees),
        minutes=f"会议围绕“{topic}”开展，应到{len(expected)}人，实到{len(attendees)}人。",
        recorded_by=secretary,
    )  # fmt: skip


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=BUSINESS_TZ)
