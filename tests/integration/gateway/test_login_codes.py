"""The dashboard's SMS-code login rules (docs/dashboard.md, Login) on the real database, with
the clock injected and the codes caught instead of sent: one code a minute and five an hour
per number, twenty an hour per address (registered numbers or not), a code lives 5 minutes,
works once, and five wrong tries spend it. A number registered in two agencies may sign in at
either (issue 25): the code is the number's, sent once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mingdeng.gateway.adapters.agency_schemas import ensure_schema
from mingdeng.gateway.web.login import LoginCodes, TooManyRequests
from mingdeng.runtime.migrations import migrate
from mingdeng.runtime.settings import KafkaSettings

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class CaughtCodes(LoginCodes):
    """LoginCodes whose SMS is kept here (what the notifier would send), not put on Kafka."""

    def __init__(self, clock: Clock) -> None:
        super().__init__("login-test-secret", KafkaSettings(bootstrap_servers="unused:9"), clock)
        self.sent: list[tuple[str, str]] = []

    async def _send(self, agency: str, member_id: str, code: str, now: datetime) -> None:
        self.sent.append((member_id, code))


@pytest.fixture
async def accounts(database_url: str, pg_pool: object, unique: str) -> dict[str, str]:
    """Two registered members with phone numbers of their own (member id: phone)."""
    await migrate(database_url, "gateway", "mingdeng.gateway.adapters.sql")
    numbers = {f"login-{unique}-{n}": f"+86{int(unique, 16) % 10**9:09d}{n}" for n in (1, 2)}
    async with pg_pool.acquire() as connection:  # type: ignore[attr-defined]
        await connection.executemany(
            """INSERT INTO gateway.members (member_id, name, department_id, phone, roles,
                                            party_member, registered_at)
               VALUES ($1, '测试', 'd1', $2, ARRAY['member'], true, now())""",
            list(numbers.items()),
        )
        await connection.executemany(
            "INSERT INTO gateway.member_phones VALUES ($2, 'default', $1) ON CONFLICT DO NOTHING",
            list(numbers.items()),
        )
    return numbers


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


async def test_one_code_a_minute_and_five_an_hour_per_number(
    pg_pool: object, accounts: dict[str, str], unique: str
) -> None:
    clock = Clock()
    codes = CaughtCodes(clock)
    member, phone = next(iter(accounts.items()))
    await codes.request(pg_pool, phone, f"a-{unique}")  # type: ignore[arg-type]
    clock.advance(seconds=30)
    with pytest.raises(TooManyRequests) as limited:
        await codes.request(pg_pool, phone, f"a-{unique}")  # type: ignore[arg-type]
    assert limited.value.wait == timedelta(seconds=30)
    for _ in range(4):
        clock.advance(seconds=31)
        await codes.request(pg_pool, phone, f"b-{unique}")  # type: ignore[arg-type]
        clock.advance(seconds=30)
    assert [m for m, _ in codes.sent] == [member] * 5
    clock.advance(minutes=5)
    with pytest.raises(TooManyRequests) as limited:  # the sixth within the hour
        await codes.request(pg_pool, phone, f"c-{unique}")  # type: ignore[arg-type]
    assert limited.value.wait == timedelta(hours=1) - timedelta(minutes=5, seconds=4 * 61 + 30)
    clock.advance(seconds=limited.value.wait.total_seconds())  # the oldest leaves the hour
    await codes.request(pg_pool, phone, f"c-{unique}")  # type: ignore[arg-type]
    assert len(codes.sent) == 6


async def test_twenty_requests_an_hour_per_address_registered_or_not(
    pg_pool: object, accounts: dict[str, str], unique: str
) -> None:
    clock = Clock()
    codes = CaughtCodes(clock)
    address = f"10.9.{unique}"
    for n in range(20):
        unregistered = f"999{int(unique, 16) % 10**8:08d}{n:02d}"
        await codes.request(pg_pool, unregistered, address)  # type: ignore[arg-type]
        clock.advance(seconds=1)
    assert codes.sent == []  # none of these numbers is registered: nothing sent, all counted
    member, phone = next(iter(accounts.items()))
    with pytest.raises(TooManyRequests):
        await codes.request(pg_pool, phone, address)  # type: ignore[arg-type]
    assert codes.sent == []
    await codes.request(pg_pool, phone, f"other-{unique}")  # type: ignore[arg-type]
    assert [m for m, _ in codes.sent] == [member]


async def test_a_code_lives_five_minutes_and_works_once(
    pg_pool: object, accounts: dict[str, str], unique: str
) -> None:
    clock = Clock()
    codes = CaughtCodes(clock)
    (member, phone), (_, other_phone) = accounts.items()
    await codes.request(pg_pool, phone, f"a-{unique}")  # type: ignore[arg-type]
    (_, code), = codes.sent  # fmt: skip
    assert await codes.verify(pg_pool, other_phone, code) == []  # another member's number
    clock.advance(minutes=4, seconds=59)
    [place] = await codes.verify(pg_pool, phone, code)  # type: ignore[arg-type]
    assert (place.agency_id, place.member_id) == ("default", member)
    assert await codes.verify(pg_pool, phone, code) == []  # type: ignore[arg-type]

    clock.advance(minutes=1)
    await codes.request(pg_pool, phone, f"a-{unique}")  # type: ignore[arg-type]
    clock.advance(minutes=5, seconds=1)
    assert await codes.verify(pg_pool, phone, codes.sent[-1][1]) == []  # type: ignore[arg-type]


async def test_five_wrong_tries_spend_the_code(
    pg_pool: object, accounts: dict[str, str], unique: str
) -> None:
    clock = Clock()
    codes = CaughtCodes(clock)
    member, phone = next(iter(accounts.items()))
    await codes.request(pg_pool, phone, f"a-{unique}")  # type: ignore[arg-type]
    code = codes.sent[-1][1]
    for _ in range(4):
        assert await codes.verify(pg_pool, phone, wrong(code)) == []  # type: ignore[arg-type]
    [place] = await codes.verify(pg_pool, phone, f" {code} ")  # type: ignore[arg-type]
    assert place.member_id == member  # the fifth try, right

    clock.advance(minutes=1)
    await codes.request(pg_pool, phone, f"a-{unique}")  # type: ignore[arg-type]
    code = codes.sent[-1][1]
    for _ in range(5):
        assert await codes.verify(pg_pool, phone, wrong(code)) == []  # type: ignore[arg-type]
    assert await codes.verify(pg_pool, phone, code) == []  # type: ignore[arg-type]


async def test_a_number_registered_in_two_agencies_chooses_where_to_sign_in(
    pg_pool: object, accounts: dict[str, str], unique: str
) -> None:
    clock = Clock()
    codes = CaughtCodes(clock)
    member, phone = next(iter(accounts.items()))
    agency = f"login-{unique}"
    async with pg_pool.acquire() as connection, connection.transaction():  # type: ignore[attr-defined]
        schema, _ = await ensure_schema(connection, agency)
        await connection.execute(
            f"""INSERT INTO {schema}.members (member_id, name, department_id, phone, roles,
                                             party_member, registered_at)
                VALUES ($1, '另一单位的测试', 'd9', $2, ARRAY['secretary'], true, now())""",
            member,  # the same member id in another agency: another person's registration
            phone,
        )
        await connection.execute(
            "INSERT INTO gateway.member_phones VALUES ($1, $2, $3)", phone, agency, member
        )
    await codes.request(pg_pool, phone, f"a-{unique}")  # type: ignore[arg-type]
    [(_, code)] = codes.sent  # one code for the number, wherever it is registered
    places = await codes.verify(pg_pool, phone, code)  # type: ignore[arg-type]
    assert [(p.agency_id, p.member_id, p.name) for p in places] == [
        ("default", member, "测试"),
        (agency, member, "另一单位的测试"),
    ]
