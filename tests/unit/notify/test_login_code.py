"""The gateway's login code: sent at once (quiet hours too), not after 5 minutes, and masked
in the text the outbox keeps and the notification records publish."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mingdeng.contracts.derived import ReminderRequest
from mingdeng.notify.adapters.templates import Profiles, load_templates
from mingdeng.notify.dispatch import outgoing
from mingdeng.notify.domain import rules
from mingdeng.notify.store import Claimed

REQUESTED = datetime(2026, 8, 3, 23, 30, tzinfo=UTC)


def request() -> ReminderRequest:
    return ReminderRequest(
        rule="login_code",
        recipient_id="m001",
        cause="login-7f3a",
        details={"code": "482913"},
        requested_at=REQUESTED,
    )


def test_a_login_code_is_urgent_and_stale_after_five_minutes() -> None:
    message = rules.requested_message(request())
    assert (message.rule, message.params, message.urgent) == (
        "login_code",
        {"code": "482913"},
        True,
    )
    assert message.stale_after == REQUESTED + timedelta(minutes=5)
    assert message.key == "login_code/m001/login-7f3a"


def test_the_code_is_sent_but_masked_in_the_records() -> None:
    template = load_templates()["login_code"]
    params = rules.requested_message(request()).params
    shown = template.shown(params)
    assert "482913" not in shown and "******" in shown
    row = Claimed(
        "default", "k", "login_code", "m001", "13900000001", shown, params, True, 1, REQUESTED,
        REQUESTED,
    )  # fmt: skip
    sent = outgoing(row, Profiles({"login_code": template}))
    assert "482913" in sent.text and sent.params == {"code": "482913"}


def test_other_templates_show_their_text_unmasked() -> None:
    template = load_templates()["household_visit_overdue"]
    assert template.shown({"days": "61"}) == template.render({"days": "61"})
    assert "61" in template.shown({"days": "61"})
