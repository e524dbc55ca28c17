"""Login with a registered phone number and a one-time SMS code (短信验证码).

A code is six random digits, valid 5 minutes, kept only as an HMAC digest (keyed with the
gateway's secret), five wrong tries at most. It is sent by the notifier: the gateway asks for
it on the reminder-requests topic (rule `login_code`), and the notifier sends it at once
(under `make up`, to the local sink file). Codes are never logged. Requests are limited per
number (one a minute, five an hour) and per address (twenty an hour), whether or not the
number is registered: the answer does not tell which numbers are."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from aiokafka import AIOKafkaProducer

from mingdeng.contracts.agency import DEFAULT_AGENCY
from mingdeng.contracts.derived import ReminderRequest
from mingdeng.contracts.topics import REMINDER_REQUESTS
from mingdeng.runtime.agencies import agency_headers, agency_key
from mingdeng.runtime.clients import kafka_producer
from mingdeng.runtime.settings import KafkaSettings

CODE_VALID_FOR = timedelta(minutes=5)
MOST_TRIES = 5
PHONE_LIMITS = ((timedelta(minutes=1), 1), (timedelta(hours=1), 5))
ADDRESS_LIMITS = ((timedelta(hours=1), 20),)
PHONE = re.compile(r"^\+?[0-9]{6,20}$")


class TooManyRequests(Exception):
    """Too many codes asked for this number or from this address; `wait` says how long."""

    def __init__(self, wait: timedelta) -> None:
        super().__init__(f"wait {wait}")
        self.wait = wait


@dataclass(frozen=True)
class Account:
    member_id: str
    name: str
    roles: tuple[str, ...]


class LoginCodes:
    def __init__(
        self,
        secret: str,
        kafka: KafkaSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        agency: str = DEFAULT_AGENCY,
    ) -> None:
        self._secret = secret.encode()
        self._kafka = kafka
        self._agency = agency  # the notifier serving it sends the code (docs/notify.md)
        self._clock = clock
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = kafka_producer(
            self._kafka.bootstrap_servers, acks="all", enable_idempotence=True
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    def _digest(self, *parts: str) -> str:
        return hmac.new(self._secret, ":".join(parts).encode(), hashlib.sha256).hexdigest()

    async def request(self, pool: asyncpg.Pool, phone: str, address: str) -> None:
        """Send a code to the member registered with `phone`, if any, within the limits."""
        now = self._clock()
        phone_hash = self._digest("phone", phone)
        async with pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "DELETE FROM gateway.login_requests WHERE requested_at < $1",
                now - timedelta(hours=1),
            )
            for column, value, limits in (
                ("phone_hash", phone_hash, PHONE_LIMITS),
                ("address", address, ADDRESS_LIMITS),
            ):
                for window, most in limits:
                    times = await connection.fetch(
                        f"""SELECT requested_at FROM gateway.login_requests
                            WHERE {column} = $1 AND requested_at > $2
                            ORDER BY requested_at DESC LIMIT $3""",
                        value,
                        now - window,
                        most,
                    )
                    if len(times) >= most:
                        raise TooManyRequests(times[-1]["requested_at"] + window - now)
            await connection.execute(
                "INSERT INTO gateway.login_requests VALUES ($1, $2, $3)", phone_hash, address, now
            )
            account = await self.account(connection, phone)
            if account is None:
                return
            code = f"{secrets.randbelow(10**6):06d}"
            await connection.execute(
                """INSERT INTO gateway.login_codes VALUES ($1, $2, $3, 0)
                   ON CONFLICT (member_id) DO UPDATE
                   SET code_hash = excluded.code_hash, expires_at = excluded.expires_at,
                       attempts = 0""",
                account.member_id,
                self._digest("code", account.member_id, code),
                now + CODE_VALID_FOR,
            )
            await self._send(account.member_id, code, now)

    async def _send(self, member_id: str, code: str, now: datetime) -> None:
        assert self._producer is not None, "LoginCodes.start() first"
        request = ReminderRequest(
            rule="login_code",
            recipient_id=member_id,
            cause=f"login-{secrets.token_hex(8)}",
            details={"code": code},
            requested_at=now,
        )
        await self._producer.send_and_wait(
            self._kafka.topic(REMINDER_REQUESTS),
            key=agency_key(self._agency, request.key),
            value=request.to_json(),
            headers=list(agency_headers(self._agency)),
        )

    async def verify(self, pool: asyncpg.Pool, phone: str, code: str) -> Account | None:
        """The account, when `code` is the live code of the member with `phone`; a code works
        once. A wrong code counts as a try."""
        async with pool.acquire() as connection, connection.transaction():
            account = await self.account(connection, phone)
            if account is None:
                return None
            row = await connection.fetchrow(
                """SELECT code_hash, expires_at, attempts FROM gateway.login_codes
                   WHERE member_id = $1 FOR UPDATE""",
                account.member_id,
            )
            if row is None:
                return None
            expected = self._digest("code", account.member_id, code.strip())
            live = row["expires_at"] > self._clock() and row["attempts"] < MOST_TRIES
            if live and hmac.compare_digest(row["code_hash"], expected):
                await connection.execute(
                    "DELETE FROM gateway.login_codes WHERE member_id = $1", account.member_id
                )
                return account
            await connection.execute(
                "UPDATE gateway.login_codes SET attempts = attempts + 1 WHERE member_id = $1",
                account.member_id,
            )
            return None

    @staticmethod
    async def account(connection: asyncpg.Connection, phone: str) -> Account | None:
        row = await connection.fetchrow(
            """SELECT member_id, name, roles FROM gateway.active_members
               WHERE phone = $1 ORDER BY member_id LIMIT 1""",
            phone,
        )
        return Account(row["member_id"], row["name"], tuple(row["roles"])) if row else None

    @staticmethod
    async def account_of(connection: asyncpg.Connection, member_id: str) -> Account | None:
        row = await connection.fetchrow(
            "SELECT member_id, name, roles FROM gateway.active_members WHERE member_id = $1",
            member_id,
        )
        return Account(row["member_id"], row["name"], tuple(row["roles"])) if row else None
