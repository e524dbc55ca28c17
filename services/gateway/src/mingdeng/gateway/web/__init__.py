"""The web dashboard (SPEC §8): pages in Chinese served by the gateway. `install` mounts it on
the gateway's app: the pages, the npm assets, /docs, and the login codes' producer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from mingdeng.gateway.settings import GatewaySettings
from mingdeng.gateway.web import (
    assets,
    committee_pages,
    documents,
    excel,
    member_pages,
    office_pages,
    orglife_pages,
    pages,
    practice_pages,
    screen,
)
from mingdeng.gateway.web.login import LoginCodes
from mingdeng.gateway.web.reads import PageError


class PagesCompressed:
    """The dashboard's HTML gzipped for browsers that accept it (a ranking page is ~100 KB of
    rows); the API (/v1/…) and the precompressed assets pass as they are."""

    def __init__(self, app: ASGIApp) -> None:
        self.plain = app
        self.compressed = GZipMiddleware(app, minimum_size=1024, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else "/v1/"
        if path.startswith(("/v1/", "/assets/")):
            await self.plain(scope, receive, send)
        else:
            await self.compressed(scope, receive, send)


def install(app: FastAPI, settings: GatewaySettings) -> None:
    node_modules = (
        Path(settings.assets_dir) if settings.assets_dir else assets.default_node_modules()
    )
    files = assets.Assets(node_modules)
    pages.templates.env.globals["asset"] = files.url
    app.include_router(assets.router(app, files))
    app.include_router(pages.router)
    app.include_router(documents.router)
    app.include_router(screen.router)
    app.include_router(committee_pages.router)
    app.add_middleware(PagesCompressed)
    app.include_router(excel.router)
    app.include_router(office_pages.router)
    app.include_router(member_pages.router)
    app.include_router(practice_pages.router)
    app.include_router(orglife_pages.router)

    async def page_error(request: Request, error: Exception) -> HTMLResponse:
        assert isinstance(error, PageError)
        if error.status == 401:  # after signing in, back to the page asked for
            asked = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            after = pages.return_to(asked) if request.method == "GET" else None
            return pages.page(request, "login.html", 401, title="登录", step="phone", phone="",
                              sentence=error.sentence, after=after)  # fmt: skip
        return pages.error_page(request, error)

    app.add_exception_handler(PageError, page_error)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with inner(app) as state:
            codes = LoginCodes(settings.jwt_secret.get_secret_value(), settings.kafka)
            await codes.start()
            app.state.login_codes = codes
            try:
                yield state
            finally:
                await codes.stop()

    app.router.lifespan_context = lifespan
