"""The bureau's words: Chinese names of what the API answers in codes (component, role, status,
metric…), and the report's own terms where it has one (`REPORT_TERMS`, checked against the
source report by tests/unit/gateway/test_labels.py). Quarters, months, dates and the documents'
期号 in Chinese (成文日期 as GB/T 9704-2012 writes it: Arabic numerals, no leading zeros); the API
keeps `2026Q4`, `2026-12` and ISO dates. The rules' texts are in contracts/conduct.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from mingdeng.contracts.periods import BUSINESS_TZ, Quarter

# the report's terms for what the platform does, each used on the pages as written here
EXEMPLAR = "季度标兵"
EXCELLENT_DEPARTMENT = "优秀科室"
TOP_TEN = "十佳标兵"
DELIVERY = "喜报到家"
BULLETIN = "督查通报"
LECTURE_HALL = "财政月讲堂"
LECTURE_ISSUE = "期"  # 一月一讲: each 期 of the 财政月讲堂 holds its 微课堂
MICRO_LECTURE = "微课堂"
CONDUCT_CODE = "十不准"
TALK = "谈心谈话"
VANGUARD = "先锋指数"
FORTRESS = "堡垒指数"

COMPONENTS = {
    "performance": "工作业绩", "study": "学习提升", "service": "服务群众", "discipline": "遵规守纪",
    "business": "业务工作", "team": "班子队伍", "activity": "组织活动",
}  # fmt: skip
ROLES = {"admin": "机关党办", "secretary": "支部书记", "leader": "党组成员", "member": "党员"}
VISIT_KINDS = {"household": "结对户走访", "commendation": DELIVERY, "liaison": "联系点走访",
               "community": "社区服务"}  # fmt: skip
TASK_KINDS = {"talk": TALK, "commendation": DELIVERY, "meeting": "三会一课未按期",
              "absences": "连续缺席"}  # fmt: skip
# 三会一课 and 主题党日 (issue 24)
MEETING_KINDS = {"general_assembly": "支部党员大会", "committee": "支委会", "group": "党小组会",
                 "party_class": "党课", "theme_day": "主题党日"}  # fmt: skip
PRESENCE = {"attended": "出席", "leave_granted": "请假（准假）", "leave_refused": "请假（未准假）",
            "absent": "缺席"}  # fmt: skip
STATUSES = {
    "open": "待办", "done": "已完成", "cancelled": "已取消", "overdue": "已逾期",
    "provisional": "暂定", "final": "已定稿",
}  # fmt: skip
MODULES = {
    "theory": "理论武装",
    "ideals": "理想信念",
    "business": "财政业务",
    "unscheduled": "未排期",
}
THEMES = {"loyalty": "忠诚", "responsibility": "责任", "dedication": "奉献", "integrity": "廉政",
          "unscheduled": "未排期"}  # fmt: skip
METRICS = {
    "general_budget_revenue": "一般公共预算收入",
    "general_budget_revenue_growth": "一般公共预算收入增幅",
    "local_general_budget_revenue": "地方一般公共预算收入",
    "local_general_budget_revenue_growth": "地方一般公共预算收入增幅",
    "tax_revenue_share": "税收占比",
    "education_spending": "教育支出",
    "education_spending_growth": "教育支出增幅",
}
EVENT_TYPES = {
    "mingdeng.lecture.attended.v1": f"参加{LECTURE_HALL}",
    "mingdeng.lecture.delivered.v1": f"主讲{LECTURE_HALL}",
    "mingdeng.visit.made.v1": "走访",
    "mingdeng.volunteer.logged.v1": "志愿服务",
    "mingdeng.volunteer.logged.v2": "志愿服务",
    "mingdeng.violation.logged.v1": "违反“十不准”",
    "mingdeng.violation.retracted.v1": "违纪撤销",
    "mingdeng.kpi.reported.v1": "绩效考核",
    "mingdeng.talk.held.v1": "谈心谈话",
    "mingdeng.talk.held.v2": "谈心谈话",
    "mingdeng.suggestion.adopted.v1": "建议被采纳",
    "mingdeng.suggestion.submitted.v1": "提交建议",
    "mingdeng.maxim.approved.v1": "格言入选",
}


def _in_chinese(table: dict[str, str]) -> Callable[[str], str]:
    """A lookup that shows a name the table lacks as it is."""
    return lambda name: table.get(name, name)


component = _in_chinese(COMPONENTS)
role = _in_chinese(ROLES)
task_kind = _in_chinese(TASK_KINDS)
status = _in_chinese(STATUSES)
module = _in_chinese(MODULES)
theme = _in_chinese(THEMES)
metric = _in_chinese(METRICS)
event_type = _in_chinese(EVENT_TYPES)
visit_kind = _in_chinese(VISIT_KINDS)
meeting_kind = _in_chinese(MEETING_KINDS)


def in_order(components: dict[str, float]) -> list[tuple[str, float]]:
    """A score's components in the SPEC's order (Vanguard or Fortress; unknown ones last)."""
    place = {"performance": 0, "business": 0, "study": 1, "team": 1, "service": 2,
             "activity": 2, "discipline": 3}  # fmt: skip
    return sorted(components.items(), key=lambda kv: place.get(kv[0], len(place)))


REPORT_TERMS: tuple[str, ...] = (
    *(THEMES[t] for t in ("loyalty", "responsibility", "dedication", "integrity")),
    *(MODULES[m] for m in ("theory", "ideals", "business")),
    EXEMPLAR, EXCELLENT_DEPARTMENT, TOP_TEN, DELIVERY, BULLETIN, LECTURE_HALL, MICRO_LECTURE,
    CONDUCT_CODE, TALK, VANGUARD, FORTRESS, "一月一讲", "张榜公示",
)  # fmt: skip

# 数据接收异常: the machine reasons of refused records, in words, beside the reason itself
REFUSAL_REASONS: tuple[tuple[str, str], ...] = (
    ("not JSON", "内容不是合法的 JSON 格式"),
    ("not a CloudEvent", "不是 CloudEvents 格式的事件"),
    ("less than or equal to", "数值超出允许范围"),
    ("greater than or equal to", "数值低于允许范围"),
    ("Field required", "缺少必填字段"),
    ("missing", "缺少必填字段"),
    ("unknown event type", "未知的事件类型"),
    ("type", "事件类型或字段类型不符"),
    ("too large", "内容过大"),
    ("ahead of now", "时间晚于当前时间 24 小时以上"),
    ("time", "时间格式不正确"),
)
NUMERALS = "〇一二三四五六七八九"


def refusal_reason(machine: str) -> str:
    """A refused record's reason in words (the first known phrase it contains)."""
    lowered = machine.lower()
    for phrase, words in REFUSAL_REASONS:
        if phrase.lower() in lowered:
            return words
    return "内容不符合事件规范"


def quarter(name: str) -> str:
    """2026Q4 → 2026年第四季度"""
    try:
        parsed = Quarter.parse(name)
    except ValueError:
        return name
    return f"{parsed.year}年第{NUMERALS[parsed.number]}季度"


def month(name: str) -> str:
    """2026-12 → 2026年12月"""
    year, _, number = name.partition("-")
    return f"{year}年{int(number)}月" if number.isdigit() else name


def period(name: str) -> str:
    """A KPI's period in Chinese: a quarter, a month or a year."""
    if "Q" in name:
        return quarter(name)
    if "-" in name:
        return month(name)
    return f"{name}年" if name.isdigit() else name


def day(moment: date | datetime | str | None) -> str:
    """A date, or a moment as Beijing time, as 2026年12月7日 ("—" when there is none)."""
    if moment is None or moment == "":
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment) if "T" in moment else date.fromisoformat(moment)
    if isinstance(moment, datetime):
        moment = moment.astimezone(BUSINESS_TZ).date()
    return f"{moment.year}年{moment.month}月{moment.day}日"


def issue_number(month_name: str) -> str:
    """期号 of a month's 督查通报, one issue a month: 2026-11 → 2026年第11期"""
    year, _, number = month_name.partition("-")
    return f"{year}年第{int(number)}期"


def issuer(bureau: str) -> str:
    """发文机关 of the office's documents: the bureau's 机关党委 by its full name."""
    return f"中共{bureau}机关委员会"


# Okabe–Ito: four colours that readers with any common colour-vision deficiency tell apart
COMPONENT_COLOURS = {
    "performance": "#0072B2", "business": "#0072B2", "study": "#E69F00", "team": "#E69F00",
    "service": "#009E73", "activity": "#009E73", "discipline": "#CC79A7",
}  # fmt: skip
VANGUARD_PARTS = ("performance", "study", "service", "discipline")
FORTRESS_PARTS = ("business", "team", "activity", "discipline")


def task_state(state: str, days_overdue: int = 0) -> str:
    """待办, 逾期 N 天, 已完成, 已取消"""
    if state == "overdue":
        return f"逾期 {days_overdue} 天" if days_overdue else "逾期"
    return status(state)


def ago(moment: datetime | None, now: datetime) -> str:
    """How long before `now`: 刚刚, 5 分钟前, 3 小时前, 2 天前 ("尚未收到" when never)."""
    if moment is None:
        return "尚未收到"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return "刚刚"
    if seconds < 3600:
        return f"{seconds // 60} 分钟前"
    if seconds < 86400:
        return f"{seconds // 3600} 小时前"
    return f"{seconds // 86400} 天前"
