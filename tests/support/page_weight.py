"""What a page costs a browser on a slow line: bytes transferred and time to the load event,
on a cold cache (a fresh browser context), under Chromium's emulated Fast 3G (DevTools'
preset: 562.5 ms latency, 180,000 B/s down, 84,375 B/s up), through the DevTools protocol's
Network.emulateNetworkConditions. Used by bench/page_weight.py and the browser test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FAST_3G = {
    "offline": False,
    "latency": 562.5,
    "downloadThroughput": 180_000,
    "uploadThroughput": 84_375,
}
LIMIT_BYTES = 150 * 1024
LIMIT_MS = 2000.0


@dataclass(frozen=True)
class Weight:
    path: str
    role: str
    requests: int
    transferred: int  # bytes on the wire, headers included (encodedDataLength)
    load_ms: float  # navigation start to the end of the load event

    @property
    def within_limits(self) -> bool:
        return self.transferred <= LIMIT_BYTES and self.load_ms <= LIMIT_MS


def measure(
    browser: Any, base: str, path: str, role: str, cookies: list[dict[str, str]] | None = None
) -> Weight:
    """Open `path` in a fresh context (its own empty cache) on emulated Fast 3G."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
    try:
        if cookies:
            context.add_cookies(cookies)
        page = context.new_page()
        devtools = context.new_cdp_session(page)
        devtools.send("Network.enable")
        devtools.send("Network.emulateNetworkConditions", FAST_3G)
        finished: dict[str, float] = {}
        devtools.on(
            "Network.loadingFinished",
            lambda event: finished.__setitem__(event["requestId"], event["encodedDataLength"]),
        )
        page.goto(base + path, wait_until="load", timeout=60_000)
        load_ms = page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0];"
            " return n.loadEventEnd - n.startTime; }"
        )
        page.wait_for_timeout(200)  # the last loadingFinished events arrive after `load`
        return Weight(path, role, len(finished), int(sum(finished.values())), float(load_ms))
    finally:
        context.close()
