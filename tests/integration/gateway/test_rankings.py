"""Pages of a ranking at any depth (issue 21): the projector keeps the ranks apart from the
scores and the totals beside them; a page at any offset, or after any cursor, is the page a
full sort of the rows would give. Random histories of scores (new, changed, unchanged, moved
to another department, gone) and rankings (ids added, moved, dropped, some without a score),
published as scoring does: in chunks of any size, only those that changed, in any order, with
tombstones of the chunks past the end (lost now and then, as when scoring restarts)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

import asyncpg
import pytest

from mingdeng.contracts.derived import IndexScore, QuarterSelection, RankingChunk, RankingSizes
from mingdeng.contracts.topics import RANKINGS, SCORES, SELECTIONS
from mingdeng.gateway.adapters import repository
from mingdeng.gateway.adapters.projector import Projector
from mingdeng.gateway.adapters.repository import RankingPage, RankKey
from mingdeng.runtime.projection import Record
from mingdeng.runtime.settings import KafkaSettings

pytestmark = pytest.mark.integration

KAFKA = KafkaSettings(bootstrap_servers="unused:9092")
QUARTER = "2026Q3"
DEPARTMENTS = ["d1", "d2", "d3"]


@pytest.fixture(params=["auto", "force_generic_plan"])
async def connection(
    gateway_connection: asyncpg.Connection, request: pytest.FixtureRequest
) -> asyncpg.Connection:
    """Planned as PostgreSQL chooses, and once for all parameters (as the gateway's pool of
    ranking pages plans them)."""
    await gateway_connection.execute(f"SET plan_cache_mode = {request.param}")
    return gateway_connection


@dataclass
class Model:
    """What the read model should show: the scores (id: department, index) and the ranking;
    and the chunks of the ranking as last published (key: ids)."""

    scores: dict[str, tuple[str, float]]
    ranking: list[str]
    published: dict[str, list[str]] = field(default_factory=dict)

    def rank(self, subject_id: str) -> int | None:
        return self.ranking.index(subject_id) + 1 if subject_id in self.ranking else None

    def order(self, departments: set[str] | None = None) -> list[tuple[int | None, str]]:
        shown = [
            (self.rank(i), i)
            for i, (department, _) in self.scores.items()
            if departments is None or department in departments
        ]
        return sorted(shown, key=lambda item: (item[0] is None, item[0] or 0, item[1]))


def score(subject_id: str, department: str, index: float) -> IndexScore:
    return IndexScore(
        quarter=QUARTER,
        level="member",
        id=subject_id,
        name=f"name {subject_id}",
        department_id=department,
        index=index,
        index_exact=index,
        components={"performance": index},
        details={},
        status="provisional",
        rules_version="1",
    )


def selection(ranking: list[str]) -> QuarterSelection:
    return QuarterSelection(
        quarter=QUARTER,
        status="provisional",
        rules_version="1",
        exemplars=[],
        excellent_departments=[],
        ranked=RankingSizes(member=len(ranking), department=0, branch=0),
    )


def chunks(rng: random.Random, ranking: list[str]) -> list[RankingChunk]:
    """`ranking` cut into chunks of random sizes (scoring cuts by bytes: a chunk's ids, and so
    its first rank, shift with the ids before it)."""
    cut, start = [], 0
    while start < len(ranking):
        size = rng.randint(1, 6)
        cut.append(
            RankingChunk(
                quarter=QUARTER, level="member", chunk=len(cut), first_rank=start + 1,
                ids=ranking[start : start + size], status="provisional",
            )
        )  # fmt: skip
        start += size
    return cut


def ranking_records(rng: random.Random, model: Model, ranked: list[str], log: Log) -> list[Record]:
    """The chunks of `ranked` that changed, in any order (they are keyed apart), and the
    tombstones of those past its end, lost when they all start past it (scoring restarted:
    the selection's size tells them stale)."""
    new = {chunk.key: chunk for chunk in chunks(rng, ranked)}
    changed = [c for key, c in new.items() if model.published.get(key) != c.ids]
    stale = sorted(set(model.published) - set(new))
    starts, position = {}, 1
    for key, ids in sorted(model.published.items(), key=lambda kv: int(kv[0].rsplit("/")[-1])):
        starts[key], position = position, position + len(ids)
    lost = rng.random() < 0.3 and all(starts[key] > len(ranked) for key in stale)
    records = [log.record(KAFKA.topic(RANKINGS), c.key, c.to_json()) for c in changed]
    if not lost:
        records += [log.record(KAFKA.topic(RANKINGS), key, None) for key in stale]
    rng.shuffle(records)
    model.published = {key: c.ids for key, c in new.items()}
    return records


class Log:
    def __init__(self) -> None:
        self.offset = 0

    def record(self, topic_name: str, key: str, value: bytes | None) -> Record:
        self.offset += 1
        return Record(topic_name, 0, self.offset, key.encode(), value, 0)


def next_batch(rng: random.Random, model: Model, log: Log) -> list[Record]:
    """A batch as scoring publishes one: changed scores and tombstones, and now and then the
    quarter's ranking in chunks and its selection (the ranking may lag behind the scores, or
    name ids whose score is gone)."""
    batch = []
    for _ in range(rng.randint(1, 12)):
        subject_id = f"m{rng.randint(1, 40):02d}"
        if subject_id in model.scores and rng.random() < 0.15:
            del model.scores[subject_id]
            value = None
        else:
            department, index = model.scores.get(subject_id, (rng.choice(DEPARTMENTS), 50.0))
            if rng.random() < 0.2:
                department = rng.choice(DEPARTMENTS)
            if rng.random() < 0.7:
                index = round(rng.uniform(0, 100), 2)
            model.scores[subject_id] = (department, index)
            value = score(subject_id, department, index).to_json()
        batch.append(log.record(KAFKA.topic(SCORES), f"{QUARTER}/member/{subject_id}", value))
    if rng.random() < 0.6:
        ranked = sorted(model.scores, key=lambda i: (-model.scores[i][1], i))
        if rng.random() < 0.2 and ranked:  # a ranking that lags: one id not yet, one gone
            ranked.remove(rng.choice(ranked))
            ranked.insert(rng.randrange(len(ranked) + 1), "m99")
        model.ranking = ranked
        batch += ranking_records(rng, model, ranked, log)
        batch.append(log.record(KAFKA.topic(SELECTIONS), QUARTER, selection(ranked).to_json()))
    return batch


async def page(connection: asyncpg.Connection, wanted: RankingPage) -> tuple[dict, RankKey | None]:
    found = await repository.ranking(connection, wanted)
    return json.loads(found.body), found.next


async def test_pages_at_any_offset_or_cursor_are_those_of_a_full_sort(
    connection: asyncpg.Connection,
) -> None:
    rng = random.Random(21)
    model, log = Model({}, []), Log()
    for _ in range(60):
        batch = next_batch(rng, model, log)
        async with connection.transaction():
            await Projector(KAFKA).handle(connection, batch)
        totals = await connection.fetchrow(
            """SELECT scored, ranked, matched FROM gateway.ranking_totals
               WHERE quarter = $1 AND level = 'member'""",
            QUARTER,
        )
        assert dict(totals) == {
            "scored": len(model.scores),
            "ranked": len(model.ranking),
            "matched": len(set(model.ranking) & set(model.scores)),
        }
        for departments in (None, {"d1"}, {"d2", "d3"}):
            expected = model.order(departments)
            chosen = None if departments is None else frozenset(departments)
            for _ in range(3):
                limit, offset = rng.randint(1, 8), rng.randint(0, len(expected) + 2)
                answer, _ = await page(
                    connection, RankingPage(QUARTER, "member", None, chosen, limit, offset)
                )
                assert answer["total"] == len(expected)
                shown = [(item["rank"], item["member_id"]) for item in answer["items"]]
                assert shown == expected[offset : offset + limit]
            walked: list[tuple[int | None, str]] = []
            after: RankKey | None = None
            while True:
                answer, after = await page(
                    connection, RankingPage(QUARTER, "member", None, chosen, 3, 0, after)
                )
                walked += [(item["rank"], item["member_id"]) for item in answer["items"]]
                if after is None:
                    break
            assert walked == expected


async def test_a_viewer_s_part_pages_and_counts_within_it(connection: asyncpg.Connection) -> None:
    rng = random.Random(7)
    model, log = Model({}, []), Log()
    for _ in range(8):
        async with connection.transaction():
            await Projector(KAFKA).handle(connection, next_batch(rng, model, log))
    own = frozenset(sorted(model.scores)[::3])
    expected = [item for item in model.order() if item[1] in own]
    answer, following = await page(connection, RankingPage(QUARTER, "member", own, None, 2, 1))
    assert answer["total"] == len(expected)
    assert [(i["rank"], i["member_id"]) for i in answer["items"]] == expected[1:3]
    assert following == (RankKey(*expected[2]) if len(expected) > 3 else None)


async def test_an_unchanged_score_is_not_written_again(connection: asyncpg.Connection) -> None:
    log = Log()
    same = score("m01", "d1", 70.0).to_json()
    for _ in range(3):
        async with connection.transaction():
            await Projector(KAFKA).handle(
                connection, [log.record(KAFKA.topic(SCORES), f"{QUARTER}/member/m01", same)]
            )
    xmin = await connection.fetchval("SELECT xmin::text FROM gateway.scores WHERE id = 'm01'")
    async with connection.transaction():
        await Projector(KAFKA).handle(
            connection, [log.record(KAFKA.topic(SCORES), f"{QUARTER}/member/m01", same)]
        )
    assert await connection.fetchval("SELECT xmin::text FROM gateway.scores WHERE id = 'm01'") == (
        xmin
    )
