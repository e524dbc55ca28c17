"""Front-end files from npm (package.json; `npm ci` in deploy/bootstrap.sh) and the dashboard's
own static files, served by the gateway: no page loads anything from another host. /docs is
Swagger UI from swagger-ui-dist."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
# the files of the npm packages that pages use, by the name they are served under
NPM_FILES = {
    "echarts.min.js": "echarts/dist/echarts.min.js",
    "swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    "swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
}
CACHE = {"Cache-Control": "public, max-age=86400"}


def default_node_modules() -> Path:
    """node_modules of the repository (a source checkout); images set MINGDENG_GATEWAY_ASSETS_DIR."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "package.json").exists():
            return parent / "node_modules"
    return Path.cwd() / "node_modules"


def router(app: FastAPI, node_modules: Path) -> APIRouter:
    routes = APIRouter(include_in_schema=False)
    missing = [name for name, path in NPM_FILES.items() if not (node_modules / path).is_file()]
    if missing:
        log.error(
            "front-end assets missing in %s: %s; run `npm ci` (deploy/bootstrap.sh does): charts"
            " and /docs will not work",
            node_modules,
            ", ".join(missing),
        )

    @routes.get("/assets/npm/{name}")
    async def npm_file(name: str) -> Response:
        path = NPM_FILES.get(name)
        if path is None or not (node_modules / path).is_file():
            return PlainTextResponse("此文件不存在。", status_code=404)
        return FileResponse(node_modules / path, headers=CACHE)

    @routes.get("/assets/{name}")
    async def own_file(name: str) -> Response:
        path = STATIC / name
        if "/" in name or not path.is_file():
            return PlainTextResponse("此文件不存在。", status_code=404)
        return FileResponse(path, headers=CACHE)

    @routes.get("/docs")
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url="/assets/npm/swagger-ui-bundle.js",
            swagger_css_url="/assets/npm/swagger-ui.css",
            swagger_favicon_url="/assets/favicon.svg",
        )

    return routes
