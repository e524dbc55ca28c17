"""An early close (before the quarter's end, by its time or by the moment it is sent) needs
the reason in the extension attribute `earlyclose`; the gateway and scoring read it alike."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mingdeng.contracts.closing import EARLY_CLOSE, check_close, early_close_reason
from mingdeng.contracts.errors import InvalidEvent
from tests.support.builders import Events, at

e = Events(source="/systems/admin")


def fields(error: pytest.ExceptionInfo[InvalidEvent]) -> list[str]:
    return [f.field for f in error.value.errors]


def test_a_close_after_the_quarter_passes() -> None:
    check_close(e.close("2026Q3", "2026-10-11 00:00"), at("2026-10-11 00:01"))
    check_close(e.close("2026Q3", "2026-10-01 00:00"), at("2026-10-01 00:00"))  # its very end


def test_a_close_before_the_end_without_a_reason_is_refused_naming_the_fields() -> None:
    with pytest.raises(InvalidEvent) as refused:
        check_close(e.close("2026Q4", "2026-12-07 10:00"), at("2026-12-07 10:00"))
    assert fields(refused) == ["time", EARLY_CLOSE]
    assert "2026Q4 has not ended: it ends 2027-01-01 00:00" in str(refused.value)


def test_a_close_dated_after_the_end_but_sent_before_it_is_early() -> None:
    with pytest.raises(InvalidEvent) as refused:
        check_close(e.close("2026Q4", "2027-01-01 08:00"), at("2026-12-31 20:00"))
    assert fields(refused) == ["time", EARLY_CLOSE]


def test_an_early_close_with_its_reason_passes_and_the_reason_is_read_back() -> None:
    close = replace(
        e.close("2026Q4", "2026-12-07 10:00"), extensions={EARLY_CLOSE: " 年终表彰提前评选 "}
    )
    check_close(close, at("2026-12-07 10:00"))
    assert early_close_reason(close) == "年终表彰提前评选"


@pytest.mark.parametrize("value", ["", "   ", True, 1])
def test_an_earlyclose_that_gives_no_reason_is_refused(value: object) -> None:
    close = replace(e.close("2026Q3", "2026-10-11 00:00"), extensions={EARLY_CLOSE: value})
    with pytest.raises(InvalidEvent) as refused:
        check_close(close, at("2026-10-11 00:00"))
    assert fields(refused) == [EARLY_CLOSE]


def test_other_events_pass() -> None:
    check_close(e.volunteer("A", "2026-12-07 10:00"), at("2026-12-07 10:00"))
