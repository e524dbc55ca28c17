"""Read and write paths beside their limits, measured in the same run (issue 11).

- projector: the gateway's projector rebuilding the read models of a 2,000-member bureau from
  offset 0 (records/s), beside `executemany` and `COPY` of the same number of rows;
- API: requests/s and p50/p99 (wrk, 16 connections, 10 s) of the ranking, member and public
  board endpoints, beside `/healthz` of the same app, idle and while 1,000 events/s go through
  scoring and the projector;
- HTTP ingest: `POST /v1/events` in batches of 500 from 4 clients, beside the bare producer;
- rankings at 20,000 members (issue 21): the first, a middle (offset 10,000) and the last page
  of a quarter's Vanguard ranking with the in-memory answers off (each request reads
  PostgreSQL, as after every change of the rankings), beside `/healthz` of the same app; the
  same pages as the gateway serves them (answers kept in memory until the rankings change)
  while 200 events/s move the quarter's rankings; and the bytes on disk of `gateway.scores` per
  row after the projector has read the history.

Writes bench/results/api-<date>.json and .md, and bench/results/api-latest.json.
Needs the tests' broker and database and `wrk`: `make bench` provides them.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pipeline_bench import Activity  # noqa: E402
from scoring_bench import (  # noqa: E402
    SECRET,
    Rig,
    burst,
    machine,
    new_rig,
    projector_caught_up,
    projector_position,
    publish,
    remove,
    start_scoring,
)

from mingdeng.contracts.periods import BUSINESS_TZ, Quarter  # noqa: E402
from mingdeng.contracts.topics import EVENTS  # noqa: E402
from mingdeng.gateway.adapters.tokens import issue_token  # noqa: E402
from mingdeng.gateway.domain.access import Principal  # noqa: E402
from tests.support.history import Bureau, history  # noqa: E402
from tests.support.processes import Service  # noqa: E402

RESULTS = ROOT / "bench" / "results"
BUREAU = Bureau(
    members=2000, departments=40, branches=5, first_quarter=Quarter(2026, 1), quarters=4
)
RANKED = "2026Q4"  # the open quarter: provisional, changes during ingest
CLOSED = "2026Q3"  # final: the public board
AT_SCALE = Bureau(
    members=20_000, departments=200, branches=10, first_quarter=Quarter(2026, 3), quarters=2,
    activity_per_member_quarter=10,
)  # fmt: skip
TARGETS = {
    "api_ranking_req_per_s": 2000,
    "api_ranking_p99_ms": 30,
    "api_ranking_p99_ms_during_ingest": 100,
    "projector_records_per_s": 20000,
    "http_ingest_events_per_s": 10000,
    "ranking_deep_page_req_per_s_at_20k": 1000,
    "ranking_deep_page_p99_ms_at_20k": 50,
}


def token(role: str, subject: str, source: str | None = None) -> str:
    principal = Principal(subject, role, source)  # type: ignore[arg-type]
    return issue_token(SECRET, principal, timedelta(hours=2))


def wrk(url: str, bearer: str | None, seconds: int = 10, connections: int = 16) -> dict[str, float]:
    """Requests/s and latency percentiles, as wrk measures them."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if bearer:
        command[1:1] = ["-H", f"Authorization: Bearer {bearer}"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert errors is None, f"{url}: {errors.group(0)}\n{out}"

    def percentile(p: str) -> float:
        value, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {"req_per_s": round(rate), "p50_ms": percentile("50"), "p99_ms": percentile("99")}


async def copy_limits(database_url: str, rows: int) -> dict[str, float]:
    """Rows/s of executemany and COPY into a table shaped like the statuses the projector writes."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            """CREATE TEMP TABLE limit_rows (source text, id text, status text, late_for text,
                                             body jsonb, PRIMARY KEY (source, id))"""
        )
        body = json.dumps({"status": "applied", "counts_for": [{"quarter": RANKED}]})
        records = [("/bench", f"e{n}", "applied", None, body) for n in range(rows)]
        started = time.monotonic()
        async with connection.transaction():
            await connection.executemany(
                "INSERT INTO limit_rows VALUES ($1, $2, $3, $4, $5)", records
            )
        executemany = rows / (time.monotonic() - started)
        await connection.execute("TRUNCATE limit_rows")
        started = time.monotonic()
        await connection.copy_records_to_table("limit_rows", records=records)
        copy = rows / (time.monotonic() - started)
    finally:
        await connection.close()
    return {"executemany": round(executemany), "copy": round(copy)}


async def http_ingest(rig: Rig, events: int, clients: int = 4, size: int = 500) -> float:
    bearer = token("publisher", "bench-ingest", "/bench/ingest")
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    documents = []
    first = 10**9 + random.randrange(10**6) * 10**5  # ids not sent before, whatever the run
    for record in burst(events, first, now):
        document = json.loads(record.value)
        document["source"] = "/bench/ingest"
        documents.append(document)
    # encoded before the clock starts, as the producer's records are: the client's JSON is not
    # the server's work
    bodies = [
        json.dumps(documents[n : n + size], ensure_ascii=False).encode()
        for n in range(0, len(documents), size)
    ]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def client() -> None:
        async with httpx.AsyncClient(
            base_url=rig.api, headers={"Authorization": f"Bearer {bearer}"}, timeout=60
        ) as http:
            while not queue.empty():
                answer = await http.post(
                    "/v1/events",
                    content=queue.get_nowait(),
                    headers={"content-type": "application/cloudevents-batch+json"},
                )
                assert answer.status_code == 202, answer.text

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    return events / (time.monotonic() - started)


async def producer_limit(rig: Rig, events: int) -> float:
    """The bare producer: the same documents, keyed, acks=all, no HTTP and no ledger."""
    now = datetime.now(UTC)
    records = burst(events, 20_000_000, now)
    producer = AIOKafkaProducer(
        bootstrap_servers=rig.kafka.bootstrap_servers, acks="all", linger_ms=5,
        max_batch_size=1 << 20,
    )  # fmt: skip
    await producer.start()
    try:
        started = time.monotonic()
        sent = [await producer.send(rig.kafka.topic(EVENTS), r.value, key=r.key) for r in records]
        await asyncio.gather(*sent)
        return events / (time.monotonic() - started)
    finally:
        await producer.stop()


async def loaded(rig: Rig, bureau: Bureau, gateway: Service) -> tuple[Service, int, int, float]:
    """Publish the bureau's history, score it, start the gateway and wait until its projector
    has read everything: the scoring worker, the events, the projector's records, its seconds."""
    records = list(history(bureau))
    print(f"publishing {len(records):,} events and scoring them", flush=True)
    await publish(rig.kafka, records)
    worker, _ = start_scoring(rig)
    done = subprocess.run(
        [str(ROOT / ".venv/bin/mingdeng-gateway"), "prestart"],
        env={**os.environ, **rig.env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    print("projector: building the read models from offset 0", flush=True)
    ends, _ = await projector_position(rig)
    total = sum(ends.values())  # offsets: transaction markers (under 1 %) included
    started = time.monotonic()
    gateway.start(f"{rig.api}/healthz")
    deadline = started + 1800
    while not await projector_caught_up(rig):
        assert time.monotonic() < deadline, "the projector did not catch up in 30 min"
        await asyncio.sleep(0.5)
    return worker, len(records), total, time.monotonic() - started


async def score_table_size(database_url: str) -> dict[str, float]:
    """Bytes on disk (table, indexes, TOAST) of the scores' read model per row, and how its rows
    were updated (HOT: in place, no index touched)."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("ANALYZE gateway.scores")
        tables = await connection.fetchval(
            """SELECT array_agg(relid::regclass::text) FROM pg_stat_user_tables
               WHERE schemaname = 'gateway' AND relname LIKE 'score%'"""
        )
        size = await connection.fetchval(
            "SELECT sum(pg_total_relation_size(t::regclass)) FROM unnest($1::text[]) AS t", tables
        )
        rows = await connection.fetchval("SELECT count(*) FROM gateway.scores")
        body = await connection.fetchval("SELECT avg(pg_column_size(s.*)) FROM gateway.scores s")
        stats = await connection.fetchrow(
            """SELECT sum(n_tup_upd) AS updated, sum(n_tup_hot_upd) AS hot,
                      sum(n_dead_tup) AS dead
               FROM pg_stat_user_tables WHERE relid::regclass::text = ANY($1::text[])""",
            tables,
        )
    finally:
        await connection.close()
    return {
        "tables": sorted(tables),
        "rows": rows,
        "bytes": int(size),
        "bytes_per_row": round(size / rows),
        "row_bytes": round(float(body)),
        "updates": int(stats["updated"]),
        "hot_updates": int(stats["hot"]),
        "dead_rows": int(stats["dead"]),
    }


TRICKLE_PER_S = 200  # events/s that move the ranked quarter while its pages are read


async def pages_while_rankings_move(
    rig: Rig, api: str, pages: dict[str, tuple[str, str | None]]
) -> dict[str, dict[str, float]]:
    """wrk on each page while TRICKLE_PER_S events/s of activity of now change the quarter's
    scores (each projector batch that changes them makes the answers in memory stale)."""
    activity = Activity(AT_SCALE.members)
    when = datetime.now(BUSINESS_TZ) - timedelta(hours=1)
    seconds = 16 * len(pages)
    records = [
        activity.next(when + timedelta(milliseconds=n)) for n in range(TRICKLE_PER_S * seconds)
    ]
    trickle = asyncio.create_task(publish(rig.kafka, records, rate=TRICKLE_PER_S))
    try:
        await asyncio.sleep(3)
        found = {}
        for name, (url, bearer) in pages.items():
            found[name] = await asyncio.to_thread(wrk, url.replace(rig.api, api), bearer)
        return found
    finally:
        trickle.cancel()
        await asyncio.gather(trickle, return_exceptions=True)


async def rankings_at_scale(bootstrap: str, database_url: str) -> dict[str, Any]:
    """The first, a middle and the last page of a 20,000-member ranking, every request read
    from PostgreSQL (no answers in memory), beside hello world; the scores' bytes per row."""
    rig, database = await new_rig(
        bootstrap,
        database_url,
        "api-bench-20k",
        MINGDENG_GATEWAY_READ_CACHE_ENTRIES="0",
        MINGDENG_LOG_LEVEL="WARNING",
    )
    gateway = Service(["mingdeng-gateway", "serve"], rig.env, rig.work / "gateway.log")
    worker: Service | None = None
    results: dict[str, Any] = {}
    try:
        worker, events, total, seconds = await loaded(rig, AT_SCALE, gateway)
        results["history"] = {"events": events, "members": AT_SCALE.members}
        results["projector_records_per_s"] = round(total / seconds)
        results["scores"] = await score_table_size(rig.env["MINGDENG_DATABASE_URL"])
        admin = token("admin", "bench")
        ranking = f"{rig.api}/v1/quarters/{RANKED}/vanguard"
        answer = httpx.get(
            f"{ranking}?limit=1", headers={"Authorization": f"Bearer {admin}"}, timeout=30
        )
        assert answer.status_code == 200, answer.text[:300]
        ranked = answer.json()["total"]
        results["ranked_members"] = ranked
        pages = {
            "hello": (f"{rig.api}/healthz", None),
            "first": (f"{ranking}?limit=50", admin),
            "middle": (f"{ranking}?limit=50&offset=10000", admin),
            "last": (f"{ranking}?limit=50&offset={ranked - 50}", admin),
        }
        print(f"rankings at {AT_SCALE.members:,} members, no answers in memory", flush=True)
        results["api"] = {name: wrk(url, bearer) for name, (url, bearer) in pages.items()}
        gateway.kill_if_running()
        gateway = Service(
            ["mingdeng-gateway", "serve"],
            {**rig.env, "MINGDENG_GATEWAY_READ_CACHE_ENTRIES": "1024"},
            rig.work / "gateway-cached.log",
        )
        gateway.start(f"{rig.api}/healthz")
        print(
            f"the same pages, answers in memory, {TRICKLE_PER_S} events/s moving them", flush=True
        )
        del pages["hello"]
        results["api_while_rankings_move"] = await pages_while_rankings_move(rig, rig.api, pages)
        results["load_average_1m"] = round(os.getloadavg()[0], 1)
    finally:
        gateway.kill_if_running()
        if worker is not None:
            worker.kill_if_running()
    await remove(bootstrap, database_url, [rig.kafka.topic_prefix], database)
    shutil.rmtree(rig.work, ignore_errors=True)
    api = results["api"]
    deepest = min((api["middle"], api["last"]), key=lambda page: page["req_per_s"])
    moving = results["api_while_rankings_move"]
    slowest_moving = min(moving.values(), key=lambda page: page["req_per_s"])
    return {
        "rankings_at_20k": results,
        "ranking_first_page_req_per_s_at_20k": api["first"]["req_per_s"],
        "ranking_first_page_p99_ms_at_20k": api["first"]["p99_ms"],
        "ranking_deep_page_req_per_s_at_20k": deepest["req_per_s"],
        "ranking_deep_page_p99_ms_at_20k": max(api["middle"]["p99_ms"], api["last"]["p99_ms"]),
        "hello_req_per_s_at_20k": api["hello"]["req_per_s"],
        # any of the three pages as served, while the rankings move
        "ranking_page_req_per_s_at_20k_while_rankings_move": slowest_moving["req_per_s"],
        "ranking_page_p99_ms_at_20k_while_rankings_move": max(
            page["p99_ms"] for page in moving.values()
        ),
        "scores_bytes_per_row_at_20k": results["scores"]["bytes_per_row"],
    }


async def run(bootstrap: str, database_url: str) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine(), "measured_at": datetime.now(UTC).isoformat()}
    rig, database = await new_rig(
        bootstrap,
        database_url,
        "api-bench",
        MINGDENG_GATEWAY_INGEST_PER_MINUTE=str(10_000_000),
        MINGDENG_GATEWAY_INGEST_BURST=str(1_000_000),
        MINGDENG_LOG_LEVEL="WARNING",
    )
    kafka, work = rig.kafka, rig.work
    bench_dsn = rig.env["MINGDENG_DATABASE_URL"]
    gateway = Service(["mingdeng-gateway", "serve"], rig.env, work / "gateway.log")
    worker: Service | None = None
    try:
        worker, events, total, seconds = await loaded(rig, BUREAU, gateway)
        results["history"] = {"events": events, "members": BUREAU.members}
        results["projector_records_per_s"] = round(total / seconds)
        results["projector"] = {"records": total, "seconds": round(seconds, 1)}
        limits = await copy_limits(bench_dsn, total)
        results["limit_executemany_rows_per_s"] = limits["executemany"]
        results["limit_copy_rows_per_s"] = limits["copy"]

        admin_token = token("admin", "bench")
        member = "m00042"
        endpoints = {
            "hello": (f"{rig.api}/healthz", None),
            "ranking": (f"{rig.api}/v1/quarters/{RANKED}/vanguard?limit=50", admin_token),
            "member": (f"{rig.api}/v1/members/{member}/vanguard/{RANKED}", token("member", member)),
            "board": (f"{rig.api}/v1/board/{CLOSED}", None),
        }
        for url, bearer in endpoints.values():
            answer = httpx.get(url, headers={"Authorization": f"Bearer {bearer}"} if bearer else {})
            assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
        print("API, idle", flush=True)
        results["api_idle"] = {name: wrk(url, bearer) for name, (url, bearer) in endpoints.items()}
        print("API, during 1,000 events/s", flush=True)
        now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        load = asyncio.create_task(publish(kafka, burst(30_000, 0, now), rate=1000))
        await asyncio.sleep(3)
        during = {}
        for name, (url, bearer) in endpoints.items():
            during[name] = await asyncio.to_thread(wrk, url, bearer, 5)
        await load
        results["api_during_ingest"] = during
        results["api_hello_req_per_s"] = results["api_idle"]["hello"]["req_per_s"]
        results["api_ranking_req_per_s"] = results["api_idle"]["ranking"]["req_per_s"]
        results["api_ranking_p99_ms"] = results["api_idle"]["ranking"]["p99_ms"]
        results["api_ranking_p99_ms_during_ingest"] = during["ranking"]["p99_ms"]

        print("HTTP ingest", flush=True)
        results["http_ingest_events_per_s"] = round(await http_ingest(rig, 40_000))
        results["limit_producer_events_per_s"] = round(await producer_limit(rig, 40_000))
    finally:
        gateway.kill_if_running()
        if worker is not None:
            worker.kill_if_running()
    await remove(bootstrap, database_url, [kafka.topic_prefix], database)
    shutil.rmtree(work, ignore_errors=True)
    results.update(await rankings_at_scale(bootstrap, database_url))
    results["targets"] = TARGETS
    return results


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    idle, during = r["api_idle"], r["api_during_ingest"]
    lines = [
        f"# Read and write paths ({r['measured_at'][:10]})",
        "",
        f"Machine: {m['cpus']} cores ({m['cpu']}), Python {m['python']}; Kafka, PostgreSQL, scoring,"
        " the gateway and the load generator (wrk) on the same machine.",
        f"Bureau: {r['history']['members']:,} members, {r['history']['events']:,} events in 2026.",
        "",
        "| figure | measured | target | limit in the same run |",
        "|---|---|---|---|",
        f"| projector rebuild (records/s) | {r['projector_records_per_s']:,} | ≥ 20,000 | executemany {r['limit_executemany_rows_per_s']:,} rows/s, COPY {r['limit_copy_rows_per_s']:,} rows/s |",
        f"| HTTP ingest, batches of 500, 4 clients (events/s) | {r['http_ingest_events_per_s']:,} | ≥ 10,000 | producer {r['limit_producer_events_per_s']:,} |",
        "",
        "API (wrk, 16 connections; idle 10 s, during ingest 5 s):",
        "",
        "| endpoint | idle req/s | p50 ms | p99 ms | during ingest req/s | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in idle:
        a, b = idle[name], during[name]
        lines.append(
            f"| {name} | {a['req_per_s']:,} | {a['p50_ms']:.1f} | {a['p99_ms']:.1f} | "
            f"{b['req_per_s']:,} | {b['p50_ms']:.1f} | {b['p99_ms']:.1f} |"
        )
    lines += [
        "",
        "Targets: ranking ≥ 2,000 req/s with p99 ≤ 30 ms idle, p99 ≤ 100 ms during ingest.",
        "",
        *at_scale_markdown(r),
    ]
    return "\n".join(lines)


def at_scale_markdown(r: dict[str, Any]) -> list[str]:
    scale = r["rankings_at_20k"]
    scores = scale["scores"]
    return [
        f"Rankings at {scale['history']['members']:,} members ({scale['history']['events']:,}"
        f" events; {scale['ranked_members']:,} ranked in {RANKED}), every answer read from"
        " PostgreSQL (wrk, 16 connections, 10 s):",
        "",
        "| page | req/s | p50 ms | p99 ms |",
        "|---|---|---|---|",
        *[
            f"| {name} | {a['req_per_s']:,} | {a['p50_ms']:.1f} | {a['p99_ms']:.1f} |"
            for name, a in scale["api"].items()
        ],
        "",
        f"Target: any page ≥ 1,000 req/s with p99 ≤ 50 ms. `{'`, `'.join(scores['tables'])}`:"
        f" {scores['bytes']:,} bytes on disk for {scores['rows']:,} scores, {scores['bytes_per_row']:,}"
        f" a row (a row itself: {scores['row_bytes']:,}); {scores['updates']:,} updates, of them"
        f" {scores['hot_updates']:,} HOT; {scores['dead_rows']:,} dead rows.",
        "",
    ]


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: `make bench` installs it (Debian package wrk)")
    bootstrap, database_url = (
        os.environ["MINGDENG_KAFKA_BOOTSTRAP_SERVERS"],
        os.environ["MINGDENG_DATABASE_URL"],
    )
    if sys.argv[1:] == ["--at-scale"]:  # the rankings at 20,000 members alone
        results = {"measured_at": datetime.now(UTC).isoformat()}
        results.update(asyncio.run(rankings_at_scale(bootstrap, database_url)))
        RESULTS.mkdir(parents=True, exist_ok=True)
        text = json.dumps(results, indent=1, ensure_ascii=False)
        (RESULTS / f"api-at-scale-{results['measured_at'][:10]}.json").write_text(text)
        print(text)
        print("\n".join(at_scale_markdown(results)))
        return
    results = asyncio.run(run(bootstrap, database_url))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = results["measured_at"][:10]
    text = json.dumps(results, indent=1, ensure_ascii=False)
    (RESULTS / f"api-{stamp}.json").write_text(text)
    (RESULTS / "api-latest.json").write_text(text)
    (RESULTS / f"api-{stamp}.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
