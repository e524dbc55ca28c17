"""Which failures are waited out (a dependency away) and which are the record's fault."""

from __future__ import annotations

import asyncpg
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

from mingdeng.runtime.faults import is_transient


def test_a_database_or_broker_going_away_is_transient() -> None:
    assert is_transient(ConnectionRefusedError(111, "refused"))
    assert is_transient(asyncpg.CannotConnectNowError("the database system is shutting down"))
    assert is_transient(asyncpg.InterfaceError("connection is closed"))
    # what asyncpg raises when PostgreSQL restarts in the middle of an operation
    assert is_transient(
        asyncpg.InternalClientError("cannot switch to state 15; another operation is in progress")
    )
    assert is_transient(KafkaConnectionError())


def test_bad_input_is_not() -> None:
    assert not is_transient(ValueError("not JSON"))
    assert not is_transient(MessageSizeTooLargeError())
    assert not is_transient(asyncpg.UniqueViolationError("duplicate key"))
