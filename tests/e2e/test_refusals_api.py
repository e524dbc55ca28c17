"""GET /v1/dead-letters and /v1/rejected-events (admin only): an upstream system puts an
invalid event straight on Kafka; scoring refuses it; the office reads the dead letter and the
rejected event with their reasons, and the 死信与拒收 page shows them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from kafka import KafkaProducer

from mingdeng.contracts.topics import EVENTS
from mingdeng.gateway.adapters.tokens import issue_token
from mingdeng.gateway.domain.access import Principal
from tests.e2e.conftest import SECRET, Platform, token
from tests.support.builders import Events
from tests.support.processes import wait_for

pytestmark = pytest.mark.e2e
ADMIN = token("admin", "root")


def test_what_scoring_refused_is_listed_with_its_reasons_for_admins_only(
    platform_of: Callable[..., Platform],
) -> None:
    platform = platform_of("gateway", "scoring")
    api = httpx.Client(base_url=platform.api, timeout=10)
    assert api.get("/v1/dead-letters", headers=ADMIN).json() == {"total": 0, "items": []}
    e = Events(source="/systems/inspection", prefix="refused")
    document = json.loads(
        json.dumps(e.violation("v-r-1", "m1", "2026-09-02 10:00").to_cloudevent())
    )
    document["data"]["rule"] = 11  # the code has ten rules
    sent = json.dumps(document, ensure_ascii=False).encode()
    producer = KafkaProducer(bootstrap_servers=platform.kafka.bootstrap_servers, acks="all")
    producer.send(platform.kafka.topic(EVENTS), key=b"m1", value=sent).get(30)
    producer.close()

    wait_for(lambda: api.get("/v1/dead-letters", headers=ADMIN).json()["total"] == 1, 60,
             "the dead letter listed")  # fmt: skip
    wait_for(lambda: api.get("/v1/rejected-events", headers=ADMIN).json()["total"] == 1, 60,
             "the rejected event listed")  # fmt: skip
    (letter,) = api.get("/v1/dead-letters", headers=ADMIN).json()["items"]
    assert letter["consumer"] == "scoring"
    assert letter["topic"] == platform.kafka.topic(EVENTS)
    assert letter["kind"] == "dead-lettered upstream"
    assert letter["key"] == "m1"
    assert letter["raw_preview"] == sent.decode() and letter["raw_chars"] == len(sent.decode())
    assert letter["redriven_at"] is None
    assert letter["ref"].startswith("d:") and letter["failed_at"]
    assert [r["field"] for r in letter["reasons"]] == ["data.rule"]
    (rejected,) = api.get("/v1/rejected-events", headers=ADMIN).json()["items"]
    assert (rejected["source"], rejected["id"], rejected["type"]) == (
        "/systems/inspection", document["id"], "mingdeng.violation.logged.v1",
    )  # fmt: skip
    assert rejected["reasons"] == letter["reasons"]
    assert api.get("/v1/rejected-events", params={"offset": 1}, headers=ADMIN).json() == {
        "total": 1, "items": [],
    }  # fmt: skip

    for role, subject in (("member", "m1"), ("secretary", "s1"), ("leader", "l1")):
        refused = api.get("/v1/dead-letters", headers=token(role, subject))
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert api.get("/v1/rejected-events", headers=token(role, subject)).status_code == 403
    assert api.get("/v1/dead-letters").status_code == 401

    # the office's page, in Chinese, with the reason and the event's id
    session = issue_token(SECRET, Principal("root", "admin"), timedelta(hours=1))
    shown = api.get("/office/refused", cookies={"mingdeng_session": session})
    assert shown.status_code == 200
    assert "被拒收的事件（1 条）" in shown.text and "（死信，1 条）" in shown.text
    assert document["id"] in shown.text and "违反“十不准”" in shown.text
    assert letter["ref"] in shown.text and "评分服务" in shown.text
    member = issue_token(SECRET, Principal("m1", "member"), timedelta(hours=1))
    assert api.get("/office/refused", cookies={"mingdeng_session": member}).status_code == 403
