from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from mingdeng.gateway import web
from mingdeng.gateway.adapters.agency_schemas import (
    NO_AGENCY_SCHEMA,
    AgencyConnection,
    point_at_agency,
)
from mingdeng.gateway.adapters.ingestion import EventPublisher
from mingdeng.gateway.adapters.projector import PROJECTOR_GROUP, Projector
from mingdeng.gateway.adapters.read_cache import ReadCache
from mingdeng.gateway.adapters.repository import OrgCache
from mingdeng.gateway.adapters.tokens import TokenReader
from mingdeng.gateway.entrypoints import (
    activity,
    committees,
    ingest,
    notifications,
    orglife,
    outreach,
    practice,
    problems,
    scores,
    work,
)
from mingdeng.gateway.entrypoints.answers import Health, Readiness
from mingdeng.gateway.entrypoints.deadlines import BodyDeadline
from mingdeng.gateway.entrypoints.deps import RateLimiter
from mingdeng.gateway.entrypoints.middleware import GuardAndCount, RequestAgency
from mingdeng.gateway.entrypoints.office import router as office_router
from mingdeng.gateway.entrypoints.roster import router as roster_router
from mingdeng.gateway.settings import GatewaySettings
from mingdeng.runtime.clients import postgres_pool
from mingdeng.runtime.faults import Backoff
from mingdeng.runtime.health import dependencies
from mingdeng.runtime.metrics import (
    ConsumerHealthSettings,
    consumer_checks,
    consumer_families,
    parked_families,
    render,
)
from mingdeng.runtime.projection import ProjectionRunner

log = logging.getLogger(__name__)


async def _no_session_state(connection: asyncpg.Connection) -> None:
    """A connection going back to the pool: asyncpg rolls back an open transaction and drops
    listeners whatever this does; the session reset query (RESET ALL, UNLISTEN *, CLOSE ALL,
    advisory unlocks: a round trip per request) is left out, since requests set none of those
    (the live stream listens on a connection of its own)."""


async def _agency_pool(dsn: str, **server_settings: str) -> asyncpg.Pool:
    return await postgres_pool(
        dsn,
        min_size=1,
        max_size=32,
        reset=_no_session_state,
        setup=point_at_agency,
        connection_class=AgencyConnection,
        server_settings={"search_path": NO_AGENCY_SCHEMA, **server_settings},
    )


TAGS = [
    {"name": "events", "description": "Publish CloudEvents; what became of one"},
    {"name": "indices", "description": "Vanguard and Fortress indices, selections, the top ten"},
    {"name": "public", "description": "The public board (张榜公示), without a token"},
    {"name": "committee", "description": "The 机关工委's view across its agencies"},
    {"name": "outreach", "description": "Pairings, coverage, liaison, talks, suggestions"},
    {"name": "activity", "description": "Lectures, KPIs, the live stream of index changes"},
    {"name": "tasks and notifications", "description": "Tasks, messages, monthly bulletins"},
    {
        "name": "members' work",
        "description": "Violations, appeals, members' reports, talks held, a member's messages",
    },
    {
        "name": "organisational life",
        "description": "三会一课 and 主题党日 of each branch, attendance, frontline secondments",
    },
    {"name": "office", "description": "For the party office: refused events, speaker rotation"},
    {"name": "practice", "description": "党性体检 cards, 支部结对共建, 在职党员进社区"},
    {"name": "operations", "description": "Health, readiness, metrics"},
]


def create_app(settings: GatewaySettings) -> FastAPI:
    metrics = CollectorRegistry()
    requests = Counter(
        "mingdeng_http_requests",
        "HTTP requests answered",
        ["method", "route", "status"],
        registry=metrics,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.tokens = TokenReader(settings.jwt_secret.get_secret_value())
        app.state.read_cache = ReadCache(settings.postgres.dsn, settings.read_cache_entries)
        app.state.org_cache = OrgCache(app.state.read_cache)
        app.state.rate_limiter = RateLimiter(settings.ingest_per_minute, settings.ingest_burst)
        # as many connections as a load balancer's usual connections, and more: a request
        # waiting for a free connection can be overtaken again and again (asyncio.Queue lets a
        # newcomer take the connection a waiter was woken for), which showed as 1 s p99 at 16
        # (and 116-143 ms p99 for ranking pages at p50 8-10 ms with 8 connections);
        # each connection taken points at the request's agency (ADR 0003), at none by default
        app.state.pool = await _agency_pool(settings.postgres.dsn)
        # a ranking page's statement is the same index range scan whatever the page: planned
        # once per connection, not per request (planning was 0.65 of its 1.7 ms at 20,000
        # members, bench/api_bench.py --at-scale)
        app.state.ranking_pool = await _agency_pool(
            settings.postgres.dsn, plan_cache_mode="force_generic_plan"
        )
        app.state.publisher = EventPublisher(
            settings.kafka,
            settings.publish_timeout_s,
            producers=settings.publish_producers,
            transactional_id_prefix=f"mingdeng-gateway-{settings.instance}",
        )
        await app.state.publisher.start()
        stop = asyncio.Event()
        listening = asyncio.create_task(app.state.read_cache.listen(stop), name="read-cache")
        listening.add_done_callback(_report_end)
        projector_task = None
        if settings.projector:
            projector_task = asyncio.create_task(
                _keep_projecting(app, settings, stop), name="projector"
            )
            projector_task.add_done_callback(_report_end)
        try:
            yield
        finally:
            stop.set()
            # their errors, if any, were logged by _report_end when they ended
            await asyncio.gather(listening, return_exceptions=True)
            if projector_task is not None:
                await asyncio.gather(projector_task, return_exceptions=True)
            await app.state.publisher.stop()
            await app.state.ranking_pool.close()
            await app.state.pool.close()

    app = FastAPI(
        title="Mingdeng (明灯) API",
        version="1",
        description=(
            "Event ingestion and the projections of the party-building platform. Send "
            "`Authorization: Bearer <token>`; tokens come from `mingdeng-gateway token`. "
            "Errors are RFC 9457 problem details."
        ),
        contact={"name": "Mingdeng platform team"},
        servers=[{"url": "/", "description": "this gateway"}],
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,  # the dashboard serves /docs with Swagger UI from npm, not a CDN
        redoc_url=None,
        separate_input_output_schemas=False,  # a field with a default may be left out
        generate_unique_id_function=lambda route: route.name,  # operationId: `vanguard`
    )
    problems.install(app)
    app.include_router(ingest.router)
    app.include_router(scores.router)
    app.include_router(outreach.router)
    app.include_router(activity.router)
    app.include_router(notifications.router)
    app.include_router(work.router)
    app.include_router(practice.router)
    app.include_router(orglife.router)
    app.include_router(office_router)
    app.include_router(roster_router)
    app.include_router(committees.router)

    web.install(app, settings)

    app.add_middleware(BodyDeadline, seconds=settings.body_timeout_s)
    app.add_middleware(RequestAgency)
    app.add_middleware(GuardAndCount, requests=requests)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> Health:
        """The process is up."""
        return Health(status="ok")

    consumer_health = ConsumerHealthSettings()

    def runners() -> list[ProjectionRunner]:
        return [app.state.projector] if getattr(app.state, "projector", None) else []

    def projector_checks() -> dict[str, bool]:
        if not settings.projector:
            return {}
        checks = consumer_checks(runners(), consumer_health)
        return checks or {"consumer (projector)": False}  # not started yet

    dependencies_answer = dependencies(
        settings.postgres.dsn, settings.kafka.bootstrap_servers, projector_checks
    )

    @app.get(
        "/readyz",
        tags=["operations"],
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "not ready: the failing checks"}},
    )
    async def readyz() -> JSONResponse:
        """The broker and the database answer; the projector runs and keeps up."""
        checks = await dependencies_answer()
        ready = all(checks.values())
        answer = Readiness(status="ready" if ready else "not ready", checks=checks)
        return JSONResponse(answer.model_dump(), status_code=200 if ready else 503)

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    )
    async def prometheus_metrics() -> Response:
        """Prometheus metrics."""
        text = generate_latest(metrics).decode()
        text += render(consumer_families(runners()))
        text += render(await parked_families(app.state.pool))
        return Response(text, media_type=CONTENT_TYPE_LATEST)

    return app


async def _keep_projecting(app: FastAPI, settings: GatewaySettings, stop: asyncio.Event) -> None:
    """Run the projector; if it ends with an error (a bug, not a record or an outage: those it
    handles), log it and start a new one after a pause. Readiness is false meanwhile."""
    backoff = Backoff(first_s=1.0, ceiling_s=60.0)
    projector = Projector(settings.kafka)
    while not stop.is_set():
        runner = ProjectionRunner(
            consumer=settings.kafka.group(PROJECTOR_GROUP),
            topics=projector.topic_names,
            bootstrap_servers=settings.kafka.bootstrap_servers,
            pool=app.state.pool,
            handler=projector,
            schemas=["gateway"],
            instance=settings.instance,
        )
        app.state.projector = runner
        try:
            await runner.run(stop)
        except Exception:
            delay = backoff.next_delay()
            log.exception("the projector stopped; starting it again in %.0f s", delay)
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                continue  # the pause ran its course


def _report_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped", task.get_name(), exc_info=task.exception())
