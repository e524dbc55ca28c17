"""The web dashboard (SPEC §8): pages in Chinese served by the gateway. `install` mounts it on
the gateway's app: the pages, the npm assets, /docs, and the login codes' producer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from mingdeng.gateway.settings import GatewaySettings
from mingdeng.gateway.web import assets, excel, pages
from mingdeng.gateway.web.login import LoginCodes


def install(app: FastAPI, settings: GatewaySettings) -> None:
    node_modules = (
        Path(settings.assets_dir) if settings.assets_dir else assets.default_node_modules()
    )
    files = assets.Assets(node_modules)
    pages.templates.env.globals["asset"] = files.url
    app.include_router(assets.router(app, files))
    app.include_router(pages.router)
    app.include_router(excel.router)

    async def page_error(request: Request, error: Exception) -> HTMLResponse:
        assert isinstance(error, pages.PageError)
        if error.status == 401:
            return pages.page(request, "login.html", 401, title="登录", step="phone", phone="",
                              sentence=error.sentence)  # fmt: skip
        return pages.error_page(request, error)

    app.add_exception_handler(pages.PageError, page_error)
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
