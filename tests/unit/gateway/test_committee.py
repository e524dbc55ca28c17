"""The 机关工委's read model without infrastructure (issue 25, item 5): the projector gives it
every agency's records while the other read models keep to the agency they serve, and the
same member id in two agencies is two rows. The SQL is tried on PostgreSQL in
tests/integration/gateway/test_committee.py."""

from __future__ import annotations

from datetime import datetime, timedelta

from mingdeng.contracts import events as ev
from mingdeng.contracts.codec import new_event, serialize_event
from mingdeng.contracts.derived import IndexScore
from mingdeng.contracts.events import EventData
from mingdeng.contracts.periods import BUSINESS_TZ
from mingdeng.contracts.topics import EVENTS, SCORES
from mingdeng.gateway.adapters.projector import Projector
from mingdeng.gateway.adapters.read_models import committee
from mingdeng.runtime.agencies import agency_headers, agency_key
from mingdeng.runtime.projection import Record
from mingdeng.runtime.settings import KafkaSettings

KAFKA = KafkaSettings(bootstrap_servers="unused:9092")
AT = datetime(2026, 8, 3, 10, tzinfo=BUSINESS_TZ)


def inbound(agency: str, data: EventData, n: int, at: datetime = AT) -> Record:
    event = new_event(data, source=f"/agencies/{agency}/hr", time=at, event_id=f"e{n}",
                      agency=agency)  # fmt: skip
    return Record(KAFKA.topic(EVENTS), 0, n, agency.encode(), serialize_event(event), n * 1000)


def member_score(agency: str, member_id: str, index: float | None) -> Record:
    key = agency_key(agency, f"2026Q3/member/{member_id}")
    value = None if index is None else IndexScore(
        quarter="2026Q3", level="member", id=member_id, name="甲", index=index,
        index_exact=index, components={}, details={}, status="provisional", rules_version="1",
    ).to_json()  # fmt: skip
    return Record(KAFKA.topic(SCORES), 0, 0, key, value, 0, agency_headers(agency))


def registered(member_id: str) -> ev.MemberRegistered:
    return ev.MemberRegistered(member_id=member_id, name="甲", department_id="d1",
                               roles=("member",), party_member=True)  # fmt: skip


async def test_the_same_member_id_in_two_agencies_is_two_people() -> None:
    projector = Projector(KAFKA)
    prepared = await projector.prepare([
        inbound("default", registered("m001"), 1),
        inbound("shuiwu", registered("m001"), 2),
        inbound("shuiwu", ev.MemberLeft(member_id="m001"), 3, AT - timedelta(days=1)),  # older
        member_score("default", "m001", 80.0),
        member_score("shuiwu", "m001", 90.0),
        member_score("shuiwu", "m002", None),
    ])  # fmt: skip
    batch = prepared.committee
    assert {key: active for key, (active, _) in batch.members.items()} == {
        ("default", "m001"): True, ("shuiwu", "m001"): True,  # the departure is older
    }  # fmt: skip
    assert batch.member_scores == {
        ("default", "2026Q3", "m001"): 80.0,
        ("shuiwu", "2026Q3", "m001"): 90.0,
        ("shuiwu", "2026Q3", "m002"): None,  # a tombstone of `shuiwu/2026Q3/member/m002`
    }
    assert set(batch.received) == {"default", "shuiwu"}
    # and each agency's own read models take its own records
    assert set(prepared.agencies) == {"default", "shuiwu"}


def test_a_violation_counts_once_logged_and_not_retracted_in_either_order() -> None:
    batch = committee.CommitteeBatch({KAFKA.topic(EVENTS): EVENTS})
    batch.add(inbound("shuiwu", ev.ViolationRetracted(violation_id="v1", reason="申诉成立"), 1))
    batch.add(inbound("shuiwu", ev.ViolationLogged(violation_id="v1", member_id="m001", rule=1,
                                                   description="x", inspector_id="m002"), 2))  # fmt: skip
    batch.add(inbound("default", ev.ViolationLogged(violation_id="v1", member_id="m001", rule=1,
                                                    description="x", inspector_id="m002"), 3))  # fmt: skip
    assert batch.violations == {
        ("shuiwu", "v1"): committee.Violation("2026Q3", logged=True, retracted=True),
        ("default", "v1"): committee.Violation("2026Q3", logged=True, retracted=False),
    }


def test_a_tally_moves_its_figures_in_the_statement_that_moves_its_rows() -> None:
    sql = committee.MEMBER_SCORES.sql()
    assert "INSERT INTO committee.member_scores" in sql
    assert "INSERT INTO committee.agency_quarters" in sql
    assert "vanguard_sum = f.vanguard_sum + EXCLUDED.vanguard_sum" in sql
    assert "DELETE FROM committee.member_scores" in committee.MEMBER_SCORES_GONE.sql()
