"""Front-end files from npm (package.json; `npm ci` in deploy/bootstrap.sh) and the dashboard's
own static files, served by the gateway: no page loads anything from another host. /docs is
Swagger UI from swagger-ui-dist.

Every file is read once at start and kept with its gzip; pages link it under a name carrying
a hash of its content (`app.1a2b3c4d.css`), served compressed when the browser accepts gzip
and cached for a year (`immutable`): a changed file gets a new name. The plain names still
answer, cached for an hour."""

from __future__ import annotations

import gzip
import hashlib
import logging
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
OWN_FILES = ("app.css", "app.js", "favicon.svg")
# the files of the npm packages that pages use, by the name they are served under; ECharts'
# common build (line, bar, pie, tooltip, legend…: what the pages draw) is a third smaller
NPM_FILES = {
    "echarts.min.js": "echarts/dist/echarts.common.min.js",
    "swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    "swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
}
FOREVER = "public, max-age=31536000, immutable"
AN_HOUR = "public, max-age=3600"
COMPRESSIBLE = (".css", ".js", ".svg")


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    gzipped: bytes | None  # None when compressing would not pay
    media_type: str

    @property
    def hashed_name(self) -> str:
        stem, dot, suffix = self.name.rpartition(".")
        return f"{stem}.{hashlib.sha256(self.body).hexdigest()[:10]}{dot}{suffix}"


def load(path: Path, name: str) -> Asset:
    body = path.read_bytes()
    gzipped = gzip.compress(body, 9, mtime=0) if name.endswith(COMPRESSIBLE) else None
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or name.endswith(".js"):
        media_type += "; charset=utf-8"
    return Asset(name, body, gzipped, media_type)


class Assets:
    """The files the pages load, by their plain and their hashed names."""

    def __init__(self, node_modules: Path) -> None:
        files = {name: STATIC / name for name in OWN_FILES}
        files.update({f"npm/{name}": node_modules / path for name, path in NPM_FILES.items()})
        missing = [name for name, path in files.items() if not path.is_file()]
        if missing:
            log.error(
                "front-end assets missing (%s): %s; run `npm ci` (deploy/bootstrap.sh does):"
                " charts and /docs will not work",
                node_modules,
                ", ".join(missing),
            )
        self.by_name = {name: load(path, name) for name, path in files.items() if path.is_file()}
        self.by_hashed = {asset.hashed_name: asset for asset in self.by_name.values()}

    def url(self, name: str) -> str:
        """Where a page links `name` (`app.css`, `npm/echarts.min.js`): its hashed name."""
        asset = self.by_name.get(name)
        return f"/assets/{asset.hashed_name if asset else name}"

    def answer(self, name: str, request: Request) -> Response:
        asset = self.by_hashed.get(name)
        cache = FOREVER
        if asset is None:
            asset, cache = self.by_name.get(name), AN_HOUR
        if asset is None:
            return PlainTextResponse("此文件不存在。", status_code=404)
        headers = {"Cache-Control": cache, "Vary": "Accept-Encoding"}
        accepts = request.headers.get("accept-encoding", "")
        if asset.gzipped is not None and "gzip" in accepts:
            headers["Content-Encoding"] = "gzip"
            return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)


def default_node_modules() -> Path:
    """node_modules of the repository (a source checkout); images set MINGDENG_GATEWAY_ASSETS_DIR."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "package.json").exists():
            return parent / "node_modules"
    return Path.cwd() / "node_modules"


def router(app: FastAPI, assets: Assets) -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get("/assets/{name:path}")
    async def asset_file(name: str, request: Request) -> Response:
        return assets.answer(name, request)

    @routes.get("/docs")
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=assets.url("npm/swagger-ui-bundle.js"),
            swagger_css_url=assets.url("npm/swagger-ui.css"),
            swagger_favicon_url=assets.url("favicon.svg"),
        )

    return routes
