"""Page weight of every dashboard page (issue 22): bytes transferred and time to the load
event on a cold cache under Chromium's emulated Fast 3G, each page as the role that opens it.

Method: Debian's chromium through Playwright; for each page a fresh browser context (an
empty cache), then the DevTools protocol's Network.emulateNetworkConditions with DevTools'
Fast 3G preset (562.5 ms latency, 180,000 B/s down, 84,375 B/s up); bytes are the sum of
Network.loadingFinished's encodedDataLength (on the wire, headers included; an open SSE
stream never finishes and is not counted); time is the navigation timing's loadEventEnd.
Sessions come from /login/dev, so the gateway must run in development (`make up`).

    uv run --frozen python bench/page_weight.py [--base http://127.0.0.1:8000]

Writes bench/results/pages-<date>.json and .md, and pages-latest.json."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from datetime import date
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.page_weight import FAST_3G, LIMIT_BYTES, LIMIT_MS, Weight, measure  # noqa: E402

RESULTS = ROOT / "bench" / "results"
# (role, member id of the demo bureau acting in it, pages); None: without login
PAGES: list[tuple[str, str | None, list[str]]] = [
    ("public", None, ["/login", "/board", "/screen"]),
    ("member", "m050", ["/me"]),
    ("admin", "m001", ["/office", "/rankings", "/office/selections", "/office/bulletin",
                       "/office/review", "/office/import", "/office/refused"]),
    ("leader", "m002", ["/line"]),
    ("secretary", "m008", ["/branch"]),
]  # fmt: skip
LIMITED = ("/login", "/me", "/board")


def session_cookies(browser: object, base: str, member_id: str, role: str) -> list[dict[str, str]]:
    context = browser.new_context()  # type: ignore[attr-defined]
    try:
        answer = context.request.get(f"{base}/login/dev?member_id={member_id}&role={role}")
        if not answer.ok:
            raise SystemExit(
                f"/login/dev answered {answer.status}: run the gateway as `make up` does"
            )
        return list(context.cookies())
    finally:
        context.close()


def main() -> None:
    port = os.environ.get("MINGDENG_GATEWAY_PORT", "8000")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default=f"http://127.0.0.1:{port}")
    base = parser.parse_args().base
    figures: list[Weight] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        for role, member_id, paths in PAGES:
            cookies = (
                session_cookies(browser, base, member_id, role) if member_id is not None else []
            )
            for path in paths:
                figure = measure(browser, base, path, role, cookies)
                print(f"{role:10} {path:22} {figure.requests:3} requests "
                      f"{figure.transferred / 1024:8.1f} KB {figure.load_ms:7.0f} ms")  # fmt: skip
                figures.append(figure)
        browser.close()
    today = date.today().isoformat()
    RESULTS.mkdir(exist_ok=True)
    record = {"date": today, "network": FAST_3G, "limit_bytes": LIMIT_BYTES,
              "limit_ms": LIMIT_MS, "limited_pages": list(LIMITED),
              "pages": [asdict(f) for f in figures]}  # fmt: skip
    for name in (f"pages-{today}.json", "pages-latest.json"):
        (RESULTS / name).write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n")
    rows = "\n".join(
        f"| {f.path} | {f.role} | {f.requests} | {f.transferred / 1024:,.1f} | {f.load_ms:,.0f} |"
        f" {'✓' if f.within_limits else ('✗' if f.path in LIMITED else '—')} |"
        for f in figures
    )
    (RESULTS / f"pages-{today}.md").write_text(
        f"# Page weight ({today})\n\n{__doc__.split(chr(10) * 2)[1]}\n\n"
        f"Limits for {', '.join(LIMITED)}: ≤ {LIMIT_BYTES // 1024} KB and ≤ {LIMIT_MS / 1000:.0f} s"
        " (✓ within both; — a page without these limits over one of them).\n\n"
        "| page | as | requests | KB transferred | load ms (Fast 3G) | within |\n"
        f"|---|---|---|---|---|---|\n{rows}\n"
    )
    over = [f.path for f in figures if f.path in LIMITED and not f.within_limits]
    if over:
        raise SystemExit(f"over the limits: {', '.join(over)}")


if __name__ == "__main__":
    main()
