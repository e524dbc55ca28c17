"""Static files under content-hashed names, gzipped and cached for a year."""

from __future__ import annotations

import gzip
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from mingdeng.gateway.web import assets


def test_assets_are_served_under_hashed_names_gzipped_and_immutable(tmp_path: Path) -> None:
    (tmp_path / "echarts/dist").mkdir(parents=True)
    (tmp_path / "echarts/dist/echarts.common.min.js").write_text("var chart = 1;" * 500)
    files = assets.Assets(tmp_path)
    app = FastAPI()
    app.include_router(assets.router(app, files))
    client = TestClient(app)
    url = files.url("npm/echarts.min.js")
    assert (
        url.startswith("/assets/npm/echarts.min.")
        and url.endswith(".js")
        and url != ("/assets/npm/echarts.min.js")
    )
    answer = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert answer.text == "var chart = 1;" * 500  # httpx decodes it
    raw = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert int(raw.headers["content-length"]) > len(gzip.compress(raw.content))
    plain = client.get("/assets/app.css")
    assert plain.headers["cache-control"] == "public, max-age=3600"
    assert client.get("/assets/missing.js").status_code == 404


def test_a_changed_file_gets_a_new_name(tmp_path: Path) -> None:
    first = assets.Asset("app.css", b"a{}", None, "text/css").hashed_name
    second = assets.Asset("app.css", b"b{}", None, "text/css").hashed_name
    assert first != second and first.startswith("app.") and first.endswith(".css")
