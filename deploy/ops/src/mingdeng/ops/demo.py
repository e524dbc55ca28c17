"""A demo bureau modelled on the seed (a municipal finance bureau), deterministic from a seed.

`build_demo` is pure: the same seed, `today` (and `now`, when given) give the same events, ids
included. It holds two years of history as a bureau would have lived it, and a morning of today.
What needs the platform's own results (the exemplars that leaders visit with their
commendations) is built by `commendation_visits` once scoring has selected them, and
`LiveActivity` makes the trickle of `mingdeng demo --live`.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from mingdeng.contracts import events as ev
from mingdeng.contracts.codec import new_event
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.contracts.periods import BUSINESS_TZ, Quarter
from mingdeng.ops.demo_orglife import organisational_life

SOURCE = "/systems/demo"
Emit = Callable[[EventData, datetime], None]
HISTORY_MONTHS = 24  # the seed: 24 sessions of the monthly lecture hall so far
VIOLATIONS_A_QUARTER = 6  # what the daily inspections find, about two a month; one in six appealed

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
HOME_STREETS = ["淮川街道北正中路", "集里街道金沙北路", "荷花街道花园路", "关口街道白沙路",
                "淮川街道圭斋路", "集里街道劳动路"]  # fmt: skip
VILLAGES = ["沙市村", "东门村", "官渡村", "古港村", "龙伏村", "张坊村", "大围山村", "淳口村"]
MODULES: list[ev.LectureModule] = ["theory", "ideals", "business"]
MODULE_TITLES = {"theory": "理论武装", "ideals": "理想信念", "business": "财政业务"}
THEMES: list[ev.LectureTheme] = ["loyalty", "responsibility", "dedication", "integrity"]
THEME_TITLES = {
    "loyalty": "忠诚",
    "responsibility": "责任",
    "dedication": "奉献",
    "integrity": "廉政",
}
# 十不准: what the daily inspections find, by rule
FINDINGS = {
    1: "上班时间网上购物",
    2: "上班时间离岗未报备",
    3: "工作日午间饮酒",
    4: "办事群众反映态度生硬",
    5: "公文办理超过时限",
    6: "公务用车未按规定停放",
    7: "未按规定着装佩戴工作牌",
    8: "办公区域吸烟",
    9: "会议期间玩手机游戏",
    10: "值班期间脱岗",
}
# 忆初心·扬新风: over 300 maxims, each an opening line and a closing one
MAXIM_OPENINGS = [
    "尽职尽责为国理财",
    "廉洁自律从点滴做起",
    "公款姓公一分一厘",
    "理财为民依法理财",
    "守住底线不越红线",
    "为官一任造福一方",
    "小事小节是一面镜子",
    "打铁还需自身硬",
    "一心为公两袖清风",
    "干净干事清白做人",
    "幸福都是奋斗出来的",
    "不忘初心方得始终",
    "勿以恶小而为之",
    "千里之堤溃于蚁穴",
    "常修为政之德",
    "常思贪欲之害",
    "心中有党有民",
    "忆初心扬新风",
]
MAXIM_CLOSINGS = [
    "全心全意为民服务",
    "都不能乱花",
    "让人生多存亮色",
    "做人民满意的财政干部",
    "时刻保持清醒和自觉",
    "守好百姓钱袋子",
    "勤勤恳恳干事业",
    "风清气正暖人心",
    "严守财经纪律",
    "让每一分钱花在刀刃上",
    "以案为鉴警钟长鸣",
    "慎独慎微慎初",
    "清清白白为公",
    "担当作为敢碰硬",
    "事不避难勇挑重担",
    "从群众中来到群众中去",
    "做一盏照亮他人的明灯",
    "永葆共产党人本色",
]
MAXIMS_APPROVED = 310  # of the 324: a few are still being reviewed
SUGGESTION_TOPICS = {
    "优化营商环境": "建议简化财政资金拨付流程，惠企资金直达企业。",
    "防范化解债务风险": "建议建立隐性债务月度监测台账。",
    "预算绩效管理": "建议将绩效评价结果与下年度预算安排挂钩。",
    "培植税源促转型": "建议支部、科室分片区联系重点企业和乡镇街道。",
    "政府会计制度": "建议分批开展新政府会计制度业务培训。",
    "民生十件事": "建议对教育、医疗卫生项目资金实行专账管理。",
}
SUGGESTIONS = 72  # the seed: 72 suggestions collected
WORKPLANS = 17  # and 17 work plans drawn up from them
BUREAU_REVENUE = 113.32  # 亿元, the general budget revenue of the latest year
BUREAU_KPIS = [
    ("general_budget_revenue_growth", 13.13, "%"),
    ("local_general_budget_revenue", 69.19, "亿元"),
    ("local_general_budget_revenue_growth", 10.95, "%"),
    ("tax_revenue_share", 73.7, "%"),
    ("education_spending", 25.3, "亿元"),
    ("education_spending_growth", 9.8, "%"),
]


@dataclass(frozen=True)
class Bureau:
    """Who is who in the demo bureau: what the history, the commendation visits and the live
    trickle are built from."""

    members: tuple[str, ...]
    names: Mapping[str, str]
    department_of: Mapping[str, str]
    leader_of_department: Mapping[str, str]
    secretaries: frozenset[str]
    party_members: frozenset[str]
    households: Mapping[str, tuple[str, ...]]
    village_branch_of: Mapping[str, str]  # leader -> the village branch they link

    @property
    def leaders(self) -> list[str]:
        return sorted(self.village_branch_of)

    def leader_in_line(self, member_id: str) -> str:
        return self.leader_of_department[self.department_of[member_id]]

    @property
    def rank_and_file(self) -> list[str]:
        """Members who are neither leaders nor secretaries."""
        return [m for m in self.members if m not in self.secretaries and m not in self.leaders]


@dataclass
class Demo:
    """The events of the demo, in publishing order; `closes` go last, once the rest is scored.
    `today` is the violation of this morning: its reminders are what a newcomer looks for."""

    bureau: Bureau
    events: list[Event[EventData]] = field(default_factory=list)
    closes: list[Event[EventData]] = field(default_factory=list)
    todays_violation: str = ""


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BUSINESS_TZ)


def build_demo(
    seed: int,
    today: date,
    now: datetime | None = None,
    staff: int = 136,
    party: int = 130,
    months: int = HISTORY_MONTHS,
) -> Demo:
    """Two years (`months`) of the bureau's life up to yesterday, then a morning of today (before
    `now`, when it is given and falls today). `staff` members, `party` of them party members."""
    rng = random.Random(seed)
    serial = itertools.count(1)
    bureau = build_bureau(rng, staff, party)
    demo = Demo(bureau)

    def emit(data: EventData, moment: datetime) -> None:
        demo.events.append(
            new_event(data, source=SOURCE, time=moment, event_id=f"demo-{next(serial)}")
        )

    def no_later_than_today(moment: datetime) -> datetime:
        return min(moment, at(today, 9))

    first_month = _add_months(today.replace(day=1), -months)
    origin = at(first_month - timedelta(days=20), 9)
    _registry(bureau, rng, emit, origin)
    for index, (opening, closing) in enumerate(
        itertools.product(MAXIM_OPENINGS, MAXIM_CLOSINGS), 1
    ):
        maxim_id = f"x{index:03d}"
        author = rng.choice(sorted(bureau.party_members))
        emit(
            ev.MaximSubmitted(maxim_id=maxim_id, author_id=author, text=f"{opening}，{closing}。"),
            origin,
        )
        if index <= MAXIMS_APPROVED:
            emit(ev.MaximApproved(maxim_id=maxim_id), origin + timedelta(hours=1))

    # 财政月讲堂: one session a month, several short lectures (微课堂) on the day, so that every
    # member takes a turn as speaker within the history
    per_session = math.ceil(len(bureau.members) / HISTORY_MONTHS)
    speakers = list(bureau.members)
    rng.shuffle(speakers)
    turns = itertools.cycle(speakers)
    for month_index in range(months):
        day = _add_months(first_month, month_index) + timedelta(days=14)
        if day >= today:
            break
        audience = [m for m in bureau.members if rng.random() < 0.55]
        for slot in range(per_session):
            lecture_id = f"L{day:%Y%m}-{slot + 1}"
            module = MODULES[(month_index + slot) % 3]
            theme = THEMES[month_index % 4]
            speaker = next(turns)
            emit(
                ev.LectureScheduled(
                    lecture_id=lecture_id,
                    date=day,
                    module=module,
                    theme=theme,
                    title=f"财政月讲堂第{month_index + 1}期·{THEME_TITLES[theme]}·"
                    f"{MODULE_TITLES[module]}",
                    speaker_id=speaker,
                ),
                at(day - timedelta(days=10)),
            )
            emit(
                ev.LectureDelivered(lecture_id=lecture_id, speaker_id=speaker),
                at(day, 14 + slot // 2, 30 * (slot % 2)),
            )
            for member_id in audience:
                if member_id != speaker:
                    emit(
                        ev.LectureAttended(lecture_id=lecture_id, member_id=member_id),
                        at(day, 14 + slot // 2, 30 * (slot % 2)),
                    )

    # per quarter: visits, volunteering, liaison, talks, suggestions, KPIs, a few violations
    quarter = Quarter.of(at(first_month))
    current = Quarter.of(at(today))
    violations = 0
    suggestions: list[tuple[datetime, str, str, str]] = []  # (when, id, department, topic)
    while quarter <= current:
        start = max(quarter.first_day, first_month)
        span = (
            (today - start).days
            if quarter == current
            else (quarter.next().first_day - start).days - 2
        )
        if span <= 0:  # today is the quarter's first day: nothing happened in it yet
            break

        def day_in(start: date = start, span: int = span) -> date:
            return start + timedelta(days=rng.randrange(max(span, 1)))

        for member_id in bureau.members:
            for household_id in bureau.households[member_id]:
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
            if rng.random() < VIOLATIONS_A_QUARTER * span / 91 / len(bureau.members):
                violations += 1
                rule = rng.randrange(1, 11)
                logged_on = day_in()
                emit(
                    ev.ViolationLogged(
                        violation_id=f"viol{violations:03d}",
                        member_id=member_id,
                        rule=rule,
                        description=FINDINGS[rule],
                        inspector_id="m002",
                    ),
                    at(logged_on, 11),
                )
                if violations % 6 == 1:  # an appeal upheld a few days later
                    emit(
                        ev.ViolationRetracted(
                            violation_id=f"viol{violations:03d}",
                            reason="申诉成立：公务外出已报备",
                        ),
                        at(min(logged_on + timedelta(days=3), today - timedelta(days=1)), 16),
                    )
        for leader_id in bureau.leaders:  # each party-group member visits their village branch
            for _ in range(rng.choice([1, 1, 2, 3]) if quarter < current else rng.choice([0, 1])):
                emit(
                    ev.VisitMade(
                        visit_id=f"v{next(serial)}",
                        member_id=leader_id,
                        kind="liaison",
                        notes=f"到{bureau.village_branch_of[leader_id]}倾听意见建议",
                    ),
                    at(day_in(), 14),
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
                        host_id=rng.choice(bureau.leaders + sorted(bureau.secretaries)),
                        member_id=rng.choice(bureau.members),
                        category=category,
                    ),
                    at(day_in(), 14),
                )
        for _ in range(8):  # 领导出题，科室献计
            suggestions.append(
                (
                    at(day_in()),
                    f"s{next(serial)}",
                    rng.choice(sorted(bureau.leader_of_department)),
                    rng.choice(sorted(SUGGESTION_TOPICS)),
                )
            )
        if quarter < current:
            reported = no_later_than_today(at(quarter.next().first_day + timedelta(days=3)))
            for member_id in bureau.members:
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
            for department_id in sorted(bureau.leader_of_department):
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
                    time=no_later_than_today(at(quarter.next().first_day + timedelta(days=10))),
                    event_id=f"demo-close-{quarter}",
                )
            )
        quarter = quarter.next()

    _suggestions_and_plans(rng, emit, suggestions[:SUGGESTIONS], today)
    _bureau_kpis(emit, first_month.year, today)
    _practice(demo, seed, first_month, today)
    demo.events.extend(_organisational_life(bureau, seed, today, first_month))
    demo.events.sort(key=lambda e: e.time)
    demo.todays_violation = _this_morning(bureau, rng, emit, serial, today, now)
    return demo


def _organisational_life(
    bureau: Bureau, seed: int, today: date, first_month: date
) -> list[Event[EventData]]:
    """Each branch's 三会一课 and 主题党日 and the secondments (demo_orglife.py)."""
    secretary_of = {
        branch_of_department(bureau.department_of[s]): s for s in sorted(bureau.secretaries)
    }
    members: dict[str, list[str]] = {branch: [s] for branch, s in secretary_of.items()}
    for member_id in bureau.members:
        branch = branch_of_department(bureau.department_of[member_id])
        if member_id in bureau.party_members and member_id != secretary_of[branch]:
            members[branch].append(member_id)
    young = [m for m in bureau.rank_and_file if m in bureau.party_members]
    return organisational_life(seed, today, first_month, members, secretary_of, young)


def build_bureau(rng: random.Random, staff: int, party: int) -> Bureau:
    """Branches, departments under the lines of 7 party-group members (m001…m007), a secretary
    per branch (m008…m012, each in a department of their branch), 2 households per member."""
    members = tuple(f"m{n:03d}" for n in range(1, staff + 1))
    leaders = members[:7]
    secretaries = frozenset(members[7 : 7 + len(BRANCHES)])
    departments = [f"d{index:02d}" for index in range(1, len(DEPARTMENTS) + 1)]
    department_of = {
        member_id: departments[
            (index - 7) % len(BRANCHES) if member_id in secretaries else index % len(departments)
        ]
        for index, member_id in enumerate(members)
    }
    others = [m for m in members if m not in leaders and m not in secretaries]
    outside_party = set(rng.sample(others, max(0, staff - party)))
    return Bureau(
        members=members,
        names=dict(zip(members, _unique_names(rng, staff), strict=True)),
        department_of=department_of,
        leader_of_department={d: leaders[i % len(leaders)] for i, d in enumerate(departments)},
        secretaries=secretaries,
        party_members=frozenset(m for m in members if m not in outside_party),
        households={m: (f"h{2 * i + 1:03d}", f"h{2 * i + 2:03d}") for i, m in enumerate(members)},
        village_branch_of={
            leader: f"{VILLAGES[i % len(VILLAGES)]}党支部" for i, leader in enumerate(leaders)
        },
    )


def home_address(member_id: str) -> str:
    """A family address in 浏阳 (not drawn from the seeded random numbers, so adding it left
    every other value of the demo as it was)."""
    number = int(hashlib.sha256(member_id.encode()).hexdigest()[:8], 16)
    street = HOME_STREETS[number % len(HOME_STREETS)]
    return f"浏阳市{street}{number % 97 + 1}号"


def branch_of_department(department_id: str) -> str:
    return f"b{(int(department_id[1:]) - 1) % len(BRANCHES) + 1}"


def _registry(bureau: Bureau, rng: random.Random, emit: Emit, origin: datetime) -> None:
    for index, name in enumerate(BRANCHES, 1):
        emit(ev.BranchRegistered(branch_id=f"b{index}", name=name), origin)
    for index, name in enumerate(DEPARTMENTS, 1):
        department_id = f"d{index:02d}"
        emit(
            ev.DepartmentRegistered(
                department_id=department_id,
                name=name,
                branch_id=branch_of_department(department_id),
                leader_id=bureau.leader_of_department[department_id],
            ),
            origin,
        )
    for member_id in bureau.members:
        roles: list[ev.Role] = ["member"]
        if member_id in bureau.leaders:
            roles.append("leader")
        if member_id in bureau.secretaries:
            roles.append("secretary")
        if member_id == bureau.members[0]:
            roles.append("admin")
        emit(
            ev.MemberRegistered(
                member_id=member_id,
                name=bureau.names[member_id],
                department_id=bureau.department_of[member_id],
                phone=f"139{rng.randrange(10**8):08d}",
                roles=tuple(roles),
                party_member=member_id in bureau.party_members,
                born_on=date(rng.randrange(1965, 2000), rng.randrange(1, 13), rng.randrange(1, 29)),
                home_address=home_address(member_id),
            ),
            origin,
        )
    for member_id in bureau.members:
        for household_id in bureau.households[member_id]:
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
    for index, leader_id in enumerate(bureau.leaders):
        emit(
            ev.LiaisonAssigned(
                leader_id=leader_id,
                agency_branch_id=f"b{index % len(BRANCHES) + 1}",
                village_branch=bureau.village_branch_of[leader_id],
            ),
            origin,
        )


def _suggestions_and_plans(
    rng: random.Random,
    emit: Emit,
    suggestions: Sequence[tuple[datetime, str, str, str]],
    today: date,
) -> None:
    """The suggestions; a good half adopted a few weeks later; the first 17 adopted give the
    work plans (专题工作思路), drawn up a fortnight after."""
    adopted: list[tuple[datetime, str, str, str]] = []
    for submitted, suggestion_id, department_id, topic in sorted(suggestions):
        emit(
            ev.SuggestionSubmitted(
                suggestion_id=suggestion_id,
                department_id=department_id,
                topic=topic,
                text=SUGGESTION_TOPICS[topic],
            ),
            submitted,
        )
        decided = submitted + timedelta(days=rng.randrange(14, 35))
        if rng.random() < 0.55 and decided < at(today, 0):
            emit(ev.SuggestionAdopted(suggestion_id=suggestion_id), decided)
            adopted.append((decided, suggestion_id, department_id, topic))
    for number, (decided, suggestion_id, department_id, topic) in enumerate(sorted(adopted), 1):
        drawn_up = decided + timedelta(days=14)
        if number > WORKPLANS or drawn_up >= at(today, 0):
            break
        emit(
            ev.WorkplanAdopted(
                plan_id=f"p{number:02d}",
                suggestion_id=suggestion_id,
                department_id=department_id,
                title=f"{topic}专题工作思路（第{number}号）",
            ),
            drawn_up,
        )


def _bureau_kpis(emit: Emit, first_year: int, today: date) -> None:
    """The bureau's yearly figures, each reported on 20 January: the general budget revenue
    grows 13.13% a year to 113.32 亿元 in the latest year."""
    for year in range(first_year, today.year):
        reported = min(at(date(year + 1, 1, 20)), at(today, 9))
        revenue = round(BUREAU_REVENUE / 1.1313 ** (today.year - 1 - year), 2)
        figures = [("general_budget_revenue", revenue, "亿元")]
        if year == today.year - 1:
            figures += BUREAU_KPIS
        for metric, value, unit in figures:
            emit(
                ev.KpiReported(
                    subject_type="bureau",
                    subject_id="bureau",
                    metric=metric,
                    period=str(year),
                    value=value,
                    unit=unit,
                ),
                reported,
            )


def _this_morning(
    bureau: Bureau,
    rng: random.Random,
    emit: Emit,
    serial: Iterator[int],
    today: date,
    now: datetime | None,
) -> str:
    """Today from 08:00: household visits, volunteering, a liaison visit, and one violation
    found by the morning inspection (its reminders go out at once). With `now`, nothing is
    later than it: the morning is moved back to end a minute before it (never before 00:00)."""
    planned = [at(today, 8, minute) for minute in range(0, 45, 5)]  # the 9 events below
    if now is not None and now.astimezone(BUSINESS_TZ).date() == today:
        last = now.astimezone(BUSINESS_TZ) - timedelta(minutes=1)
        shift = max(timedelta(0), planned[-1] - last)
        planned = [max(at(today, 0), moment - shift) for moment in planned]
    moments = iter(planned)
    workers = rng.sample(bureau.rank_and_file, 8)
    for member_id in workers[:4]:
        emit(
            ev.VisitMade(
                visit_id=f"v{next(serial)}",
                member_id=member_id,
                kind="household",
                household_id=bureau.households[member_id][0],
            ),
            next(moments),
        )
    for member_id in workers[4:7]:
        emit(
            ev.VolunteerLogged(
                activity_id=f"a{next(serial)}",
                member_id=member_id,
                minutes=120,
                title="社区志愿服务",
            ),
            next(moments),
        )
    leader = rng.choice(bureau.leaders)
    emit(
        ev.VisitMade(
            visit_id=f"v{next(serial)}",
            member_id=leader,
            kind="liaison",
            notes=f"到{bureau.village_branch_of[leader]}倾听意见建议",
        ),
        next(moments),
    )
    violation_id = f"viol-{today:%Y%m%d}"
    emit(
        ev.ViolationLogged(
            violation_id=violation_id,
            member_id=workers[7],
            rule=2,
            description=FINDINGS[2],
            inspector_id="m002",
        ),
        next(moments),
    )
    return violation_id


# --- the report's practice (issue 24): 党性体检, 支部结对共建, 在职党员进社区 ----------------------
# Built from a random generator of its own and with ids of its own ("demo-practice-…"), so that
# adding it left every other value of the demo as it was.
HEALTH_CARD_ANSWERS = [
    ("为了实现共产主义远大理想，全心全意为人民服务。", "立足财政岗位，管好用好每一笔财政资金。"),
    ("入党是为了追求进步，在组织的培养下成长。", "在预算绩效管理中当先锋、作表率。"),
    ("为人民谋幸福，为民族谋复兴。", "带头落实“十不准”，守住廉政底线。"),
    ("不忘初心，跟党走。", "主动认领社区任务，服务群众。"),
]
HEALTH_CARD_COMMENTS = ["初心明确，对照检查具体。", "认识到位，望在业务上再作表率。",
                        "回答实在，继续保持。"]  # fmt: skip
PARTNERS: list[tuple[str, ev.PartnerKind]] = [
    ("道吾村党支部", "village"),
    ("集里街道新安社区党委", "community"),
    ("浏阳经开区某电子企业党支部", "enterprise"),
    ("大围山村党支部", "village"),
    ("荷花街道花园社区党支部", "community"),
]
PAIRING_ACTIVITIES = ["联合主题党日", "政策宣讲进村", "结对帮扶走访", "共建党课",
                      "产业发展座谈", "志愿服务活动"]  # fmt: skip
MEMBERS_REPORTED_TO_COMMUNITY = 112  # the report: 112名党员前往居住社区报到
COMMUNITIES = ["淮川街道新安社区", "淮川街道北正社区", "集里街道金沙社区", "荷花街道花园社区",
               "关口街道白沙社区", "集里街道劳动社区"]  # fmt: skip


def community_of(member_id: str) -> str:
    """The residential community a member reports to (from their id, like `home_address`)."""
    number = int(hashlib.sha256(member_id.encode()).hexdigest()[:8], 16)
    return COMMUNITIES[number % len(COMMUNITIES)]


def _practice(demo: Demo, seed: int, first_month: date, today: date) -> None:
    """A closed round of 党性体检 last year and this year's, open; a pairing per branch with its
    activities; the community visits of 112 party members as their confirmed reports, the
    first to their community being their 报到."""
    rng = random.Random(f"{seed}/practice")
    serial = itertools.count(1)
    bureau = demo.bureau
    yesterday = at(today - timedelta(days=1), 17)

    def emit(data: EventData, moment: datetime) -> None:
        demo.events.append(new_event(data, source=SOURCE, time=min(moment, yesterday),
                                     event_id=f"demo-practice-{next(serial)}"))  # fmt: skip

    branch_of = {m: branch_of_department(bureau.department_of[m]) for m in bureau.members}
    secretary_of = {branch_of[s]: s for s in sorted(bureau.secretaries)}
    for year, filling in ((today.year - 1, 0.97), (today.year, 0.7)):
        round_id = f"health-card-{year}"
        opened_on = date(year, 11, 15)
        closes_on = date(year, 12, 25) if year == today.year else date(year, 12, 31)
        if opened_on >= today:
            continue
        emit(ev.HealthCardRoundOpened(round_id=round_id, title=f"{year}年度党性体检",
                                      questions=("入党为什么", "为党做什么"),
                                      closes_on=closes_on), at(opened_on, 9))  # fmt: skip
        last = min(closes_on, today - timedelta(days=1))
        for member_id in sorted(bureau.party_members):
            if rng.random() >= filling:
                continue
            filled_on = opened_on + timedelta(days=rng.randrange(max((last - opened_on).days, 1)))
            emit(ev.HealthCardFilled(round_id=round_id, member_id=member_id,
                                     answers=rng.choice(HEALTH_CARD_ANSWERS)),
                 at(filled_on, 20))  # fmt: skip
            reviewer = secretary_of[branch_of[member_id]]
            if reviewer == member_id:
                reviewer = "m001"  # the office reviews a secretary's own card
            if rng.random() < (0.95 if year < today.year else 0.6):
                emit(ev.HealthCardReviewed(round_id=round_id, member_id=member_id,
                                           reviewer_id=reviewer,
                                           comment=rng.choice(HEALTH_CARD_COMMENTS)),
                     at(filled_on + timedelta(days=rng.randrange(1, 6)), 16))  # fmt: skip

    for index, (partner, kind) in enumerate(PARTNERS, 1):
        branch_id, since = f"b{index}", first_month + timedelta(days=10 * index)
        pairing_id = f"pairing-b{index}"
        emit(ev.BranchPaired(pairing_id=pairing_id, branch_id=branch_id, partner=partner,
                             partner_kind=kind, since=since), at(since, 9))  # fmt: skip
        branch_members = [m for m in bureau.members if branch_of[m] == branch_id]
        day = since + timedelta(days=rng.randrange(20, 40))
        while day < today:
            taking_part = rng.sample(branch_members, min(len(branch_members),
                                                         rng.randrange(6, 14)))  # fmt: skip
            emit(ev.PairingActivityHeld(activity_id=f"pa-{next(serial)}", pairing_id=pairing_id,
                                        held_on=day, title=rng.choice(PAIRING_ACTIVITIES),
                                        participants=tuple(sorted(taking_part))),
                 at(day, 15))  # fmt: skip
            day += timedelta(days=rng.randrange(35, 75))

    community_visits = [e for e in demo.events
                        if isinstance(e.data, ev.VisitMade) and e.data.kind == "community"]  # fmt: skip
    visitors = sorted({e.data.member_id for e in community_visits} & bureau.party_members)  # type: ignore[attr-defined]
    reported = set(rng.sample(visitors, min(len(visitors), MEMBERS_REPORTED_TO_COMMUNITY)))
    for visit in community_visits:  # the others' visits stay as an upstream system sent them
        data = visit.data
        assert isinstance(data, ev.VisitMade)
        if data.member_id not in reported:
            continue
        report_id = f"report-{data.visit_id}"
        emit(ev.ReportSubmitted(report_id=report_id, member_id=data.member_id, kind="community",
                                happened_on=visit.time.astimezone(BUSINESS_TZ).date(),
                                title=community_of(data.member_id),
                                notes=rng.choice(["到社区报到，认领服务任务", "垃圾分类宣传",
                                                  "社区疫苗接种引导", "文明创建志愿服务"])),
             visit.time + timedelta(hours=8))  # fmt: skip
        emit(ev.ReportConfirmed(report_id=report_id, member_id=data.member_id, kind="community",
                                counted_as=data.visit_id), visit.time + timedelta(days=1))  # fmt: skip


def commendation_visits(
    bureau: Bureau, exemplars: Mapping[str, Sequence[str]], closed: Mapping[str, datetime],
    today: date, seed: int,
) -> list[Event[EventData]]:  # fmt: skip
    """喜报到家: the leader in line delivers each exemplar's commendation within the fortnight
    after the close. The latest closed quarter's are under way: the first half by rank (10
    exemplars: 5) delivered so far."""
    rng = random.Random(f"{seed}-commendations")
    latest = max(closed, default="")
    visits = []
    for quarter in sorted(exemplars):
        close_day = closed[quarter].astimezone(BUSINESS_TZ).date()
        ranked = exemplars[quarter]
        for member_id in ranked[: (len(ranked) + 1) // 2] if quarter == latest else ranked:
            day = close_day + timedelta(days=rng.randrange(1, 13))
            if day >= today:
                continue
            visits.append(
                new_event(
                    ev.VisitMade(
                        visit_id=f"cv-{quarter}-{member_id}",
                        member_id=bureau.leader_in_line(member_id),
                        kind="commendation",
                        target_member_id=member_id,
                        notes=f"{quarter}季度标兵喜报送到家",
                    ),
                    source=SOURCE,
                    time=at(day, 16),
                    event_id=f"demo-commendation-{quarter}-{member_id}",
                )
            )
    return sorted(visits, key=lambda e: e.time)


# what happens during a working day, by how often
LIVE_WEIGHTS = {
    "attendance": 30,
    "household": 28,
    "volunteer": 18,
    "community": 8,
    "liaison": 5,
    "talk": 8,
    "violation": 2,
    "retraction": 1,
}


class LiveActivity:
    """The trickle of `mingdeng demo --live`: what members do during a working day, one event at
    a time, dated when it is made. A short lecture (微课堂) opens when the session starts, and
    the next when everyone has attended. Reproducible from the seed and the run's name."""

    def __init__(self, bureau: Bureau, seed: int, run: str) -> None:
        self.bureau, self.rng, self.run = bureau, random.Random(f"{seed}-{run}"), run
        self.serial = itertools.count(1)
        self.lecture: str | None = None
        self.not_attended: list[str] = []
        self.open_violations: list[str] = []

    def next_events(self, now: datetime) -> list[Event[EventData]]:
        """The next thing that happens: one event, or two when a lecture opens (it is
        scheduled and delivered, then attended)."""
        kinds, weights = zip(*LIVE_WEIGHTS.items(), strict=True)
        kind = self.rng.choices(kinds, weights)[0]
        if kind == "retraction" and not self.open_violations:
            kind = "household"
        if kind == "attendance" and not self.not_attended:
            return self._open_lecture(now)
        return [self._event(self._data(kind), now)]

    def _event(self, data: EventData, now: datetime) -> Event[EventData]:
        return new_event(
            data, source=SOURCE, time=now, event_id=f"live-{self.run}-{next(self.serial)}"
        )

    def _open_lecture(self, now: datetime) -> list[Event[EventData]]:
        self.lecture = f"L-live-{self.run}-{next(self.serial)}"
        speaker = self.rng.choice(self.bureau.members)
        self.not_attended = [m for m in self.bureau.members if m != speaker]
        self.rng.shuffle(self.not_attended)
        local = now.astimezone(BUSINESS_TZ)
        module, theme = self.rng.choice(MODULES), self.rng.choice(THEMES)
        scheduled = ev.LectureScheduled(
            lecture_id=self.lecture,
            date=local.date(),
            module=module,
            theme=theme,
            title=f"微课堂·{THEME_TITLES[theme]}·{MODULE_TITLES[module]}",
            speaker_id=speaker,
        )
        delivered = ev.LectureDelivered(lecture_id=self.lecture, speaker_id=speaker)
        return [self._event(scheduled, now), self._event(delivered, now)]

    def _data(self, kind: str) -> EventData:
        member_id = self.rng.choice(self.bureau.members)
        serial = next(self.serial)
        match kind:
            case "attendance":
                assert self.lecture is not None
                return ev.LectureAttended(
                    lecture_id=self.lecture, member_id=self.not_attended.pop()
                )
            case "household":
                return ev.VisitMade(
                    visit_id=f"live-v{self.run}-{serial}",
                    member_id=member_id,
                    kind="household",
                    household_id=self.rng.choice(self.bureau.households[member_id]),
                )
            case "community":
                return ev.VisitMade(
                    visit_id=f"live-v{self.run}-{serial}", member_id=member_id, kind="community"
                )
            case "liaison":
                leader = self.rng.choice(self.bureau.leaders)
                return ev.VisitMade(
                    visit_id=f"live-v{self.run}-{serial}",
                    member_id=leader,
                    kind="liaison",
                    notes=f"到{self.bureau.village_branch_of[leader]}倾听意见建议",
                )
            case "volunteer":
                return ev.VolunteerLogged(
                    activity_id=f"live-a{self.run}-{serial}",
                    member_id=member_id,
                    minutes=self.rng.choice([60, 90, 120]),
                    title="在职党员进社区志愿服务",
                )
            case "talk":
                return ev.TalkHeld(
                    talk_id=f"live-t{self.run}-{serial}",
                    host_id=self.rng.choice(self.bureau.leaders + sorted(self.bureau.secretaries)),
                    member_id=member_id,
                    category=self.rng.choice(["youth", "member"]),
                )
            case "violation":
                rule = self.rng.randrange(1, 11)
                violation_id = f"live-viol{self.run}-{serial}"
                self.open_violations.append(violation_id)
                return ev.ViolationLogged(
                    violation_id=violation_id,
                    member_id=self.rng.choice(self.bureau.rank_and_file),
                    rule=rule,
                    description=FINDINGS[rule],
                    inspector_id="m002",
                )
            case "retraction":
                return ev.ViolationRetracted(
                    violation_id=self.open_violations.pop(0), reason="申诉成立：公务外出已报备"
                )
        raise ValueError(f"no such live activity: {kind!r}")


SHOWN_LIVE = ("kind", "household_id", "lecture_id", "rule", "description", "minutes", "category")


def describe(event: Event[EventData]) -> str:
    """One line about an event, as `mingdeng demo --live` prints it."""
    data = event.data
    kind = event.type.removeprefix("mingdeng.").rsplit(".", 1)[0]
    details = {
        name: value
        for name, value in data.model_dump(exclude_none=True).items()
        if name in SHOWN_LIVE and value != event.subject
    }
    shown = " ".join(f"{name}={value}" for name, value in details.items())
    return f"{event.time.astimezone(BUSINESS_TZ):%H:%M:%S} {kind:<20} {event.subject:<8} {shown}"


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
