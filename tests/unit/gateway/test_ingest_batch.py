"""The publisher never drops a content silently: the same (source, id) twice in one batch with
another content is refused before anything is claimed (the HTTP edge answers it with a 422
naming both positions first; tests/e2e/test_http_bad_input.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mingdeng.gateway.adapters.ingestion import EventPublisher
from mingdeng.runtime.settings import KafkaSettings
from tests.support.builders import Events


async def test_the_same_key_with_another_content_in_one_batch_is_refused() -> None:
    first = Events().attended("L1", "m1", "2026-09-01 10:00")
    other = replace(first, data=first.data.model_copy(update={"lecture_id": "L2"}))
    publisher = EventPublisher(KafkaSettings(bootstrap_servers="127.0.0.1:1"))
    with pytest.raises(ValueError, match="twice in one batch, with another content"):
        await publisher.accept(None, [first, other])  # type: ignore[arg-type]  # never reached
