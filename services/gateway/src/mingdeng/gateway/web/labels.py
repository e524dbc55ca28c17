"""Chinese names of what the API answers in codes (component, role, status, metric…)."""

from __future__ import annotations

from collections.abc import Callable

COMPONENTS = {
    "performance": "工作业绩", "study": "学习提升", "service": "服务群众", "discipline": "遵规守纪",
    "business": "业务工作", "team": "班子队伍", "activity": "组织活动",
}  # fmt: skip
ROLES = {"admin": "机关党办", "secretary": "支部书记", "leader": "党组成员", "member": "党员"}
VISIT_KINDS = {"household": "结对户走访", "commendation": "喜报到家", "liaison": "联系点走访",
               "community": "社区服务"}  # fmt: skip
TASK_KINDS = {"talk": "谈心谈话", "commendation": "喜报到家"}
STATUSES = {
    "open": "待办", "done": "已完成", "cancelled": "已取消", "overdue": "已逾期",
    "provisional": "暂定", "final": "已定稿",
}  # fmt: skip
MODULES = {
    "theory": "理论武装",
    "ideals": "理想信念",
    "business": "业务提升",
    "unscheduled": "未排期",
}
THEMES = {"loyalty": "忠诚", "responsibility": "担当", "dedication": "奉献", "integrity": "廉洁",
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
    "mingdeng.lecture.attended.v1": "参加财政月讲堂",
    "mingdeng.lecture.delivered.v1": "主讲财政月讲堂",
    "mingdeng.visit.made.v1": "走访",
    "mingdeng.volunteer.logged.v1": "志愿服务",
    "mingdeng.volunteer.logged.v2": "志愿服务",
    "mingdeng.violation.logged.v1": "违反“十不准”",
    "mingdeng.violation.retracted.v1": "违纪撤销",
    "mingdeng.kpi.reported.v1": "业绩考核",
    "mingdeng.talk.held.v1": "谈心谈话",
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


def in_order(components: dict[str, float]) -> list[tuple[str, float]]:
    """A score's components in the SPEC's order (Vanguard or Fortress; unknown ones last)."""
    place = {"performance": 0, "business": 0, "study": 1, "team": 1, "service": 2,
             "activity": 2, "discipline": 3}  # fmt: skip
    return sorted(components.items(), key=lambda kv: place.get(kv[0], len(place)))
