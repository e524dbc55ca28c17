from __future__ import annotations

import time
from datetime import timedelta

import pytest

from mingdeng.contracts.privacy import mask_phone
from mingdeng.gateway.adapters.tokens import InvalidToken, TokenReader, issue_token
from mingdeng.gateway.domain.access import (
    Org,
    Principal,
    departments_chosen,
    may_see_violations,
    scope_of,
)
from mingdeng.gateway.entrypoints.deps import RateLimiter
from mingdeng.gateway.entrypoints.problems import Problem
from mingdeng.gateway.settings import GatewaySettings

ORG = Org(
    member_department={"s1": "d1", "a": "d1", "b": "d2", "c": "d3", "lead": "d3"},
    department_branch={"d1": "b1", "d2": "b1", "d3": "b2"},
    department_leader={"d1": "lead", "d2": "other", "d3": "lead"},
)


def test_admin_sees_everything_and_a_publisher_nothing() -> None:
    assert scope_of(Principal("x", "admin"), ORG).allows_member("anyone")
    nothing = scope_of(Principal("p", "publisher", "/s"), ORG)
    assert not nothing.allows_member("a") and not nothing.allows_department("d1")


def test_a_secretary_sees_their_branch() -> None:
    scope = scope_of(Principal("s1", "secretary"), ORG)
    assert {m for m in ORG.member_department if scope.allows_member(m)} == {"s1", "a", "b"}
    assert scope.allows_department("d2") and not scope.allows_department("d3")
    assert scope.allows_branch("b1") and not scope.allows_branch("b2")


def test_a_leader_sees_the_departments_of_their_line() -> None:
    scope = scope_of(Principal("lead", "leader"), ORG)
    assert {m for m in ORG.member_department if scope.allows_member(m)} == {"s1", "a", "c", "lead"}
    assert not scope.allows_department("d2")


def test_a_member_sees_themself() -> None:
    scope = scope_of(Principal("a", "member"), ORG)
    assert [m for m in ORG.member_department if scope.allows_member(m)] == ["a"]


def test_violations_are_for_admin_the_members_secretary_and_the_member() -> None:
    assert may_see_violations(Principal("x", "admin"), "b", ORG)
    assert may_see_violations(Principal("b", "member"), "b", ORG)
    assert may_see_violations(Principal("s1", "secretary"), "b", ORG)  # same branch
    assert not may_see_violations(Principal("s1", "secretary"), "c", ORG)
    assert not may_see_violations(Principal("lead", "leader"), "a", ORG)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("13912345678", "139****5678"), ("+8613912345678", "+86*******5678"), (None, None)],
)
def test_phone_numbers_are_masked(phone: str | None, masked: str | None) -> None:
    assert mask_phone(phone) == masked


def test_tokens_round_trip_and_refuse_tampering_and_expiry() -> None:
    secret = "s" * 40
    principal = Principal("sys", "publisher", "/systems/hr")
    reader = TokenReader(secret)
    assert reader.read(issue_token(secret, principal, timedelta(minutes=5))) == principal
    with pytest.raises(InvalidToken, match="Signature"):
        reader.read(issue_token("t" * 40, principal, timedelta(minutes=5)))
    with pytest.raises(InvalidToken, match="expired"):
        reader.read(issue_token(secret, principal, timedelta(seconds=-1)))


def test_outside_development_a_real_secret_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINGDENG_KAFKA_BOOTSTRAP_SERVERS", "k:9092")
    monkeypatch.setenv("MINGDENG_DATABASE_URL", "postgresql://u@h:5432/db")
    monkeypatch.setenv("MINGDENG_GATEWAY_ENVIRONMENT", "production")
    with pytest.raises(ValueError, match="JWT_SECRET must be set"):
        GatewaySettings()
    monkeypatch.setenv("MINGDENG_GATEWAY_JWT_SECRET", "x" * 32)
    assert GatewaySettings().environment == "production"


def test_ingestion_is_rate_limited_per_token_with_bursts_and_a_time_to_retry() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=600, burst=100, clock=lambda: now[0])  # 10 a second
    limiter.take("a", 100)  # a burst at once
    limiter.take("b", 100)  # each token has its own
    with pytest.raises(Problem) as refused:
        limiter.take("a", 30)
    assert (refused.value.status, refused.value.retry_after_s) == (429, 3)
    now[0] = 3.0
    limiter.take("a", 30)  # refilled at 10 a second
    now[0] = 3600.0
    limiter.take("a", 100)  # never more than the burst
    with pytest.raises(Problem):
        limiter.take("a", 1)


def test_a_verified_token_is_remembered_until_it_expires() -> None:
    secret = "s" * 40
    reader = TokenReader(secret)
    principal = Principal("m1", "member")
    token = issue_token(secret, principal, timedelta(seconds=2))  # exp is whole seconds
    assert reader.read(token) == principal
    assert reader.read(token) == principal  # from memory
    time.sleep(2.1)  # past its expiry: verified again, and refused
    with pytest.raises(InvalidToken):
        reader.read(token)
    with pytest.raises(InvalidToken):
        reader.read(issue_token("t" * 40, principal, timedelta(minutes=5)))  # another secret


def test_a_ranking_filtered_by_branch_keeps_the_departments_of_that_branch() -> None:
    assert departments_chosen(ORG, None, None) is None
    assert departments_chosen(ORG, None, "b1") == {"d1", "d2"}
    assert departments_chosen(ORG, "d2", None) == {"d2"}
    assert departments_chosen(ORG, "d2", "b1") == {"d2"}
    assert departments_chosen(ORG, "d3", "b1") == frozenset()  # not of that branch: no one
    assert departments_chosen(ORG, None, "nowhere") == frozenset()
