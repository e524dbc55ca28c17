"""What the office sees before closing a quarter (an act that cannot be undone): whether the
quarter may be closed at all (ended, not final, no close already on its way) and what is still
missing: members without a 绩效 (performance) KPI, departments without a 业务 (business) KPI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mingdeng.contracts.periods import BUSINESS_TZ, Quarter
from mingdeng.gateway.entrypoints.answers import (
    FortressRanking,
    Kpis,
    QuarterSelections,
    VanguardRanking,
)
from mingdeng.gateway.entrypoints.ingest import EventState
from mingdeng.gateway.web import labels
from mingdeng.gateway.web.actions import source_here
from mingdeng.gateway.web.reads import Api

SCORING = "/mingdeng/scoring"  # the source of the closes scoring issues itself


def close_id(quarter: str) -> str:
    return f"close-{quarter}"


@dataclass(frozen=True)
class CloseCheck:
    quarter: str
    ends: datetime
    ended: bool
    final: bool
    pending: str | None  # a close accepted but not yet final: who sent it and its status
    members: int = 0
    departments: int = 0
    members_without_performance: list[str] = field(default_factory=list)
    departments_without_business: list[str] = field(default_factory=list)

    @property
    def refusal(self) -> str | None:
        """Why the quarter cannot be closed now, as a sentence; None when it can."""
        if self.final:
            return f"{labels.quarter(self.quarter)}已定稿，不能再次关闭。"
        if not self.ended:
            ends = f"{labels.day(self.ends)} {self.ends.astimezone(BUSINESS_TZ):%H:%M}"
            return f"{labels.quarter(self.quarter)}尚未结束（{ends} 结束），结束后才能关闭并定稿。"
        if self.pending:
            return (
                f"{labels.quarter(self.quarter)}的关闭指令已提交（{self.pending}），"
                "正在定稿，请稍候刷新。"
            )
        return None


async def check(api: Api, quarter: str, now: datetime, *, details: bool) -> CloseCheck:
    """The close check of `quarter`; with `details`, what is missing (more reads)."""
    ends = Quarter.parse(quarter).end
    found = await api.find(QuarterSelections, f"/v1/quarters/{quarter}/selections")
    final = found is not None and found.status == "final"
    pending = None
    if not final:
        for source, who in ((source_here(), "机关党办"), (SCORING, "系统自动")):
            state = await api.find(
                EventState, f"/v1/events/{close_id(quarter)}", {"source": source}
            )
            if state is not None and state.status != "rejected":
                progress = "评分已处理" if state.status == "applied" else "等待评分服务在各分区汇合"
                pending = f"{who}提交，{progress}"
    result = CloseCheck(quarter, ends, now >= ends, final, pending)
    if not details or result.refusal:
        return result
    path = f"/v1/quarters/{quarter}"
    members = await api.find(VanguardRanking, f"{path}/vanguard", {"limit": 500})
    departments = await api.find(FortressRanking, f"{path}/fortress", {"limit": 500})
    reported = {
        (kpi.subject_type, kpi.subject_id)
        for metric in ("performance", "business")
        for kpi in (
            await api.get(Kpis, "/v1/kpis", {"metric": metric, "period": quarter, "limit": 500})
        ).items
    }
    member_items = members.items if members else []
    department_items = departments.items if departments else []
    return CloseCheck(
        quarter, ends, True, False, None, members.total if members else 0,
        departments.total if departments else 0,
        [m.name for m in member_items if ("member", m.member_id) not in reported],
        [d.name for d in department_items if ("department", d.id) not in reported],
    )  # fmt: skip
