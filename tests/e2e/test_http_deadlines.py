"""Slow and idle connections against the gateway process, over real sockets: a body that
trickles gets 408 within its deadline, so do headers that trickle, an idle connection is
closed, and a slowloris of hundreds of connections does not keep a normal request waiting."""

from __future__ import annotations

import contextlib
import json
import socket
import statistics
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import Platform, token

pytestmark = pytest.mark.e2e
ADMIN = token("admin", "root")
ADMIN_HEADER = f"Authorization: {ADMIN['Authorization']}"
HEADER_S, BODY_S = 2.0, 3.0
SLACK_S = 1.5  # the timer's, the loop's and this test's own delays on a busy 2-core machine


@pytest.fixture
def platform(platform_of: Callable[..., Platform]) -> Platform:
    return platform_of(
        "gateway",
        MINGDENG_GATEWAY_HEADER_TIMEOUT_S=str(HEADER_S),
        MINGDENG_GATEWAY_BODY_TIMEOUT_S=str(BODY_S),
    )


def connect(platform: Platform) -> socket.socket:
    address = urlsplit(platform.api)
    return socket.create_connection((address.hostname, address.port), timeout=10)


def head_of_post(length: int, token: bool = True) -> bytes:
    authorization = f"{ADMIN_HEADER}\r\n" if token else ""
    return (
        f"POST /v1/events HTTP/1.1\r\nHost: gateway\r\n{authorization}"
        f"Content-Type: application/cloudevents+json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def trickle_until_answered(sock: socket.socket, limit_s: float) -> tuple[float, bytes]:
    """Send a byte every 0.2 s until the server answers or closes; the seconds it took and
    everything it sent."""
    started = time.monotonic()
    sock.settimeout(0.2)
    received = b""
    while time.monotonic() - started < limit_s:
        with contextlib.suppress(OSError):  # closed by the server: read what it said before
            sock.sendall(b" ")
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            break
        if not chunk:
            break
        received += chunk
    return time.monotonic() - started, received


def answer_of(raw: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


def test_a_trickling_body_gets_408_within_its_deadline_and_the_connection_closes(
    platform: Platform,
) -> None:
    with connect(platform) as sock:
        sock.sendall(head_of_post(1000) + b'{"id":')  # 6 of the 1,000 bytes it declares
        took, raw = trickle_until_answered(sock, BODY_S + 10)
    status, headers, problem = answer_of(raw)
    assert status == 408 and headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert problem["title"] == "Request timeout" and f"within {BODY_S:g} s" in str(problem)
    assert BODY_S - 0.5 < took < BODY_S + SLACK_S, took


def test_trickling_headers_get_408_and_an_idle_connection_is_closed(platform: Platform) -> None:
    with connect(platform) as sock:
        sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: gateway\r\nX-Slow: ")
        took, raw = trickle_until_answered(sock, HEADER_S + 10)
    status, headers, problem = answer_of(raw)
    assert (status, headers["connection"], problem["status"]) == (408, "close", 408)
    assert "headers did not arrive within 2 s" in str(problem["detail"])
    assert took < HEADER_S + SLACK_S, took

    with connect(platform) as idle:  # sends nothing at all
        idle.settimeout(HEADER_S + 10)
        started = time.monotonic()
        assert idle.recv(1024) == b""  # closed without a word
        assert time.monotonic() - started < HEADER_S + SLACK_S


def test_the_rest_of_a_body_answered_before_it_was_read_has_the_body_deadline(
    platform: Platform,
) -> None:
    """uvicorn reads what is left of a body it answered early (here 401, no token) to keep the
    connection; a byte now and then put off its close without end."""
    with connect(platform) as sock:
        sock.sendall(head_of_post(1000, token=False) + b'{"id":')
        took, raw = trickle_until_answered(sock, BODY_S + 10)  # until the server closes
    assert raw.startswith(b"HTTP/1.1 401 ") and raw.endswith(b"}")  # one answer, then closed
    assert BODY_S - 0.5 < took < BODY_S + SLACK_S, took


def test_a_request_sent_in_time_is_served_and_its_connection_kept(platform: Platform) -> None:
    """The deadlines are per request: a connection kept alive serves request after request,
    each within the deadlines, however long it lives in all."""
    with httpx.Client(base_url=platform.api, headers=ADMIN, timeout=10) as api:
        for _ in range(4):
            assert api.get("/healthz").status_code == 200
            time.sleep(HEADER_S / 2)
        slow_but_in_time = api.post(
            "/v1/events",
            content=_chunks_over(BODY_S / 2),
            headers={"content-type": "application/cloudevents+json"},
        )
    assert slow_but_in_time.status_code == 422  # read whole, and refused for what it says


def _chunks_over(seconds: float) -> Iterator[bytes]:
    for chunk in (b'{"specversion": ', b'"1.0", ', b'"id": "late"}'):
        yield chunk
        time.sleep(seconds / 3)


def test_a_slowloris_does_not_keep_a_normal_request_waiting(platform: Platform) -> None:
    slow: list[socket.socket] = []
    try:
        for n in range(450):  # trickling their headers, their bodies, a body answered 401
            sock = connect(platform)
            sock.sendall(
                [
                    b"GET /healthz HTTP/1.1\r\n",
                    head_of_post(100_000),
                    head_of_post(100_000, token=False),
                ][n % 3]
            )
            sock.setblocking(False)
            slow.append(sock)
        waits = []
        with httpx.Client(base_url=platform.api, headers=ADMIN, timeout=10) as api:
            started = time.monotonic()
            while time.monotonic() - started < BODY_S + SLACK_S:
                for sock in slow:
                    with contextlib.suppress(OSError):  # closed by the server: counted below
                        sock.send(b"X")
                began = time.monotonic()
                assert api.get("/healthz").status_code == 200
                assert api.get("/v1/events/none", params={"source": "/x"}).status_code == 404
                waits.append(time.monotonic() - began)
                time.sleep(0.25)
        closed = sum(_closed_by_server(sock) for sock in slow)
    finally:
        for sock in slow:
            sock.close()
    # the first may wait while the server accepts the slow ones; none waits for them
    assert statistics.median(waits) < 0.25 and max(waits) < 3, sorted(waits)[-5:]
    assert closed == len(slow)  # every one of them was cut off at its deadline


def _closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(2)
    try:
        while sock.recv(65536):
            pass  # the 408
    except TimeoutError:
        return False
    except OSError:  # reset: the server closed it while bytes of ours were unread
        return True
    return True


def test_beyond_max_connections_a_request_gets_503_until_the_slow_ones_are_cut_off(
    platform_of: Callable[..., Platform],
) -> None:
    platform = platform_of(
        "gateway",
        MINGDENG_GATEWAY_HEADER_TIMEOUT_S=str(HEADER_S),
        MINGDENG_GATEWAY_MAX_CONNECTIONS="20",
    )
    slow = [connect(platform) for _ in range(20)]
    try:
        for sock in slow:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        time.sleep(0.3)
        with httpx.Client(base_url=platform.api, timeout=10) as api:
            assert api.get("/healthz").status_code == 503
            time.sleep(HEADER_S + 0.5)
            assert api.get("/healthz").status_code == 200
    finally:
        for sock in slow:
            sock.close()
