"""十不准: the bureau's ten rules of conduct (《财政干部“十不准”》), by number, as a violation
(`mingdeng.violation.logged.v1`, `rule` 1..10) names them. The source report quotes the first
("不准在上班时间炒股、玩游戏、打牌、购物、就餐、出入休闲娱乐场所等做与工作无关的事"); the other
nine are drafted after the same pattern and the findings of the daily inspections (docs/events.md
says so); an agency with its own wording changes them here, once, for every page and document."""

from __future__ import annotations

TEN_RULES: dict[int, str] = {
    1: "不准在上班时间炒股、玩游戏、打牌、购物、就餐、出入休闲娱乐场所等做与工作无关的事",
    2: "不准迟到早退、擅自离岗脱岗",
    3: "不准工作日午间饮酒、酒后上岗",
    4: "不准对办事群众态度生硬、推诿扯皮、吃拿卡要",
    5: "不准拖延办理公文和审批事项",
    6: "不准违反规定使用和停放公务用车",
    7: "不准上班时间不按规定着装、不佩戴工作牌",
    8: "不准在办公区域吸烟",
    9: "不准在会议和学习期间玩手机、做与会议无关的事",
    10: "不准值班期间脱岗漏岗",
}


def rule_text(rule: int) -> str:
    """“第2条：不准迟到早退、擅自离岗脱岗”"""
    return f"第{rule}条：{TEN_RULES[rule]}" if rule in TEN_RULES else f"第{rule}条"
