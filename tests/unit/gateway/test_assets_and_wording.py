"""Static files under content-hashed names, gzipped and cached for a year; periods and dates as
the bureau's documents write them."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from mingdeng.gateway.web import assets, chinese


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


def test_periods_and_dates_in_the_bureaus_words() -> None:
    assert chinese.quarter("2026Q4") == "2026年第四季度"
    assert chinese.month("2026-03") == "2026年3月"
    assert chinese.issue_number("2026-11") == "2026年第11期"
    assert chinese.day(date(2026, 12, 1)) == "2026年12月1日"
    assert chinese.day(datetime(2026, 11, 30, 17, tzinfo=UTC)) == "2026年12月1日"  # Beijing
    assert chinese.CONDUCT_RULES[1].startswith("不准在上班时间炒股")
    assert chinese.issuer("浏阳市财政局") == "中共浏阳市财政局机关委员会"
