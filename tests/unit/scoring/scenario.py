"""The hand-computed quarter of the unit tests (2026Q3), as events in publishing order.

Expected, from SPEC §3–§4 by hand:
  A: P = 0.4×95 = 38 (the later of two reports); S = min(20, 20×2/2 + 5×1) = 20;
     R = min(10, 5×2) + min(6, 2×4) + 4 = 20; D = 20                      → V = 98
  B: P = 0.4×80 = 32; S = min(20, 20×1 + 5×1) = 20; R = 5 (h3; h1 is not B's) + 2 = 7;
     D = 20 − 10×1 = 10                                                     → V = 69
  C: P = 0; S = 20×1/2 = 10; R = 4 (community); D = 20 − 10×1 (one of two retracted) → V = 24
  d1: B = 0.4×85 = 34; T = 0.3×(98+69)/2 = 25.05; A = 15×1; C = 15 − 5×1 = 10 → F = 84.05
  d2: B = 0; T = 0.3×24 = 7.2; A = 15×0.5 = 7.5; C = 10                     → F = 24.7
  b1: (2×84.05 + 1×24.7) / 3 = 64.2666…
  exemplars: A (B has a violation, C is not a party member); excellent: d1, d2

The same quarter under rules 2027.1, where a counted violation costs all 20 discipline points:
  A: no violation                                                            → V = 98
  B: D = max(0, 20 − 20×1) = 0                                               → V = 59
  C: D = max(0, 20 − 20×1) = 0                                               → V = 14
  d1: T = 0.3×(98+59)/2 = 23.55 → F = 34 + 23.55 + 15 + 10 = 82.55
  d2: T = 0.3×14 = 4.2          → F = 0 + 4.2 + 7.5 + 10 = 21.7
  b1: (2×82.55 + 1×21.7) / 3 = 62.2666…; exemplars and excellent departments as above
"""

from __future__ import annotations

from dataclasses import dataclass

from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from tests.support.builders import Events

EXPECTED_V = {"A": 98.0, "B": 69.0, "C": 24.0}
EXPECTED_COMPONENTS = {
    "A": {"performance": 38.0, "study": 20.0, "service": 20.0, "discipline": 20.0},
    "B": {"performance": 32.0, "study": 20.0, "service": 7.0, "discipline": 10.0},
    "C": {"performance": 0.0, "study": 10.0, "service": 4.0, "discipline": 10.0},
}
EXPECTED_F = {"d1": 84.05, "d2": 24.7}
EXPECTED_BRANCH = (2 * 84.05 + 24.7) / 3


@dataclass(frozen=True)
class Expected:
    """The quarter's indices under one rules version, computed by hand (above)."""

    vanguard: dict[str, float]
    fortress: dict[str, float]  # departments
    branch: float  # b1


BY_RULES_VERSION = {
    "2026.1": Expected(EXPECTED_V, EXPECTED_F, EXPECTED_BRANCH),
    "2027.1": Expected(
        {"A": 98.0, "B": 59.0, "C": 14.0}, {"d1": 82.55, "d2": 21.7}, (2 * 82.55 + 21.7) / 3
    ),
}


def quarter_events(e: Events | None = None) -> list[Event[EventData]]:
    e = e or Events()
    return [
        e.branch("b1", "2026-06-01 09:00"),
        e.department("d1", "b1", "2026-06-01 09:00"),
        e.department("d2", "b1", "2026-06-01 09:00"),
        e.member("A", "d1", "2026-06-01 09:00"),
        e.member("B", "d1", "2026-06-01 09:00"),
        e.member("C", "d2", "2026-06-01 09:00", party=False),
        *e.household("h1", "A", "2026-06-01 09:00"),
        *e.household("h2", "A", "2026-06-01 09:00"),
        *e.household("h3", "B", "2026-06-01 09:00"),
        e.delivered("L1", "A", "2026-07-15 15:00"),
        e.delivered("L2", "B", "2026-08-15 15:00"),
        e.attended("L1", "B", "2026-07-15 15:00"),
        e.attended("L1", "C", "2026-07-15 15:00"),
        e.attended("L2", "A", "2026-08-15 15:00"),
        e.household_visit("A", "h1", "2026-07-02 10:00"),
        e.household_visit("A", "h1", "2026-08-02 10:00"),
        e.household_visit("A", "h2", "2026-09-02 10:00"),
        *[e.volunteer("A", f"2026-07-{day} 10:00") for day in (10, 11, 12, 13)],
        e.community_visit("A", "2026-07-20 10:00"),
        e.household_visit("B", "h3", "2026-07-03 10:00"),
        e.household_visit("B", "h1", "2026-07-04 10:00"),
        e.volunteer("B", "2026-07-05 10:00"),
        e.community_visit("C", "2026-08-20 10:00"),
        e.violation("vB", "B", "2026-08-01 11:00"),
        e.violation("vC1", "C", "2026-08-02 11:00"),
        e.violation("vC2", "C", "2026-08-03 11:00"),
        e.retraction("vC2", "2026-08-10 16:00"),
        e.kpi("member", "A", "performance", "2026Q3", 95, "2026-10-05 10:00"),
        e.kpi("member", "A", "performance", "2026Q3", 90, "2026-10-03 10:00"),  # older: loses
        e.kpi("member", "B", "performance", "2026Q3", 80, "2026-10-03 10:00"),
        e.kpi("department", "d1", "business", "2026Q3", 85, "2026-10-03 10:00"),
    ]
