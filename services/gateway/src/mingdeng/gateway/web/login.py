"""Login with a registered phone number and a one-time SMS code (短信验证码).

A code is six random digits, valid 5 minutes, kept only as an HMAC digest (keyed with the
gateway's secret), five wrong tries at most. It is sent by the notifier: the gateway asks for
it on the reminder-requests topic (rule `login_code`), and the notifier sends it at once
(under `make up`, to the local sink file). Codes are never logged. Requests are limited per
number (one a minute, five an hour) and per address (twenty an hour), whether or not the
number is registered: the answer does not tell which numbers are.

A number may be registered in several agencies (issue 25), and may be a 机关工委 admin's: the
code is the number's, and once it is verified the person chooses where to sign in when there
is more than one place (`Choice`). The code is sent by the notifier of the first agency the
number is registered in, to that registration."""

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

from mingdeng.contracts.derived import ReminderRequest
from mingdeng.contracts.topics import REMINDER_REQUESTS
from mingdeng.gateway.adapters.committee import committee_name
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


COMMITTEE_ADMIN_SUBJECT = "committee-admin"  # a 机关工委 admin's session: no member of it


@dataclass(frozen=True)
class Choice:
    """Where a verified number may sign in: a member of an agency (`member_id`), or the
    机关工委 admin of `committee_id` (then `agency_id` is the first agency of its tree)."""

    agency_id: str
    agency_name: str
    name: str
    member_id: str | None = None
    committee_id: str | None = None

    @property
    def value(self) -> str:
        """How the chooser's form names it."""
        if self.committee_id is not None:
            return f"committee:{self.committee_id}"
        return f"agency:{self.agency_id}"


class LoginCodes:
    def __init__(
        self,
        secret: str,
        kafka: KafkaSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._secret = secret.encode()
        self._kafka = kafka
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
            members = [c for c in await choices(connection, phone) if c.member_id is not None]
            if not members:  # a 机关工委 admin gets the code as a member of some agency
                return
            code = f"{secrets.randbelow(10**6):06d}"
            await connection.execute(
                """INSERT INTO gateway.login_codes VALUES ($1, $2, $3, 0)
                   ON CONFLICT (phone_hash) DO UPDATE
                   SET code_hash = excluded.code_hash, expires_at = excluded.expires_at,
                       attempts = 0""",
                phone_hash,
                self._digest("code", phone_hash, code),
                now + CODE_VALID_FOR,
            )
            first = members[0]
            assert first.member_id is not None
            await self._send(first.agency_id, first.member_id, code, now)

    async def _send(self, agency: str, member_id: str, code: str, now: datetime) -> None:
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
            key=agency_key(agency, request.key),
            value=request.to_json(),
            headers=list(agency_headers(agency)),
        )

    async def verify(self, pool: asyncpg.Pool, phone: str, code: str) -> list[Choice]:
        """Where the number may sign in, when `code` is its live code (a code works once);
        none otherwise. A wrong code counts as a try."""
        phone_hash = self._digest("phone", phone)
        async with pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(
                """SELECT code_hash, expires_at, attempts FROM gateway.login_codes
                   WHERE phone_hash = $1 FOR UPDATE""",
                phone_hash,
            )
            if row is None:
                return []
            expected = self._digest("code", phone_hash, code.strip())
            live = row["expires_at"] > self._clock() and row["attempts"] < MOST_TRIES
            if live and hmac.compare_digest(row["code_hash"], expected):
                await connection.execute(
                    "DELETE FROM gateway.login_codes WHERE phone_hash = $1", phone_hash
                )
                return await choices(connection, phone)
            await connection.execute(
                "UPDATE gateway.login_codes SET attempts = attempts + 1 WHERE phone_hash = $1",
                phone_hash,
            )
            return []

    @staticmethod
    async def account_of(connection: asyncpg.Connection, member_id: str) -> Account | None:
        """The member `member_id` of the agency the connection points at."""
        row = await connection.fetchrow(
            "SELECT member_id, name, roles FROM active_members WHERE member_id = $1",
            member_id,
        )
        return Account(row["member_id"], row["name"], tuple(row["roles"])) if row else None


async def choices(connection: asyncpg.Connection, phone: str) -> list[Choice]:
    """Where `phone` may sign in: each agency it is registered in as an active member (by
    agency), then each 机关工委 it is an admin of. In the caller's transaction."""
    found: list[Choice] = []
    rows = await connection.fetch(
        """SELECT DISTINCT p.agency_id, s.schema_name, coalesce(a.name, p.agency_id) AS agency_name
           FROM gateway.member_phones p
           JOIN gateway.agency_schemas s USING (agency_id)
           LEFT JOIN gateway.agencies a USING (agency_id)
           WHERE p.phone = $1 ORDER BY p.agency_id""",
        phone,
    )
    for row in rows:
        await connection.execute(f"SET LOCAL search_path = {row['schema_name']}")
        member = await connection.fetchrow(
            """SELECT member_id, name FROM active_members WHERE phone = $1
               ORDER BY member_id LIMIT 1""",
            phone,
        )
        if member is not None:
            found.append(
                Choice(row["agency_id"], row["agency_name"], member["name"], member["member_id"])
            )
    committees = await connection.fetch(
        """SELECT c.committee_id, c.name,
                  (SELECT a.agency_id FROM gateway.agencies a
                   WHERE a.committee_id = c.committee_id ORDER BY a.agency_id LIMIT 1) AS first
           FROM gateway.committee_admins c WHERE c.phone = $1 ORDER BY c.committee_id""",
        phone,
    )
    for row in committees:
        name = await committee_name(connection, row["committee_id"])
        if row["first"] is not None and name is not None:
            found.append(Choice(row["first"], name, row["name"], committee_id=row["committee_id"]))
    return found


async def committee_agencies(pool: asyncpg.Pool, committee: str) -> list[tuple[str, str]]:
    """The agencies of `committee`'s tree as (id, name), by id."""
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            """SELECT agency_id, name FROM gateway.agencies WHERE committee_id = $1
               ORDER BY agency_id""",
            committee,
        )
    return [(row["agency_id"], row["name"]) for row in rows]
