"""The dashboard's forms refuse a post without the CSRF token, with a wrong one, or with one the
gateway did not sign; the development login answers 404 outside development."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from tests.e2e.conftest import Platform

pytestmark = pytest.mark.e2e
REFUSED = "CSRF 校验未通过"


def test_csrf_and_the_development_shortcut(platform_of: Callable[..., Platform]) -> None:
    platform = platform_of("gateway")  # MINGDENG_GATEWAY_ENVIRONMENT=test: Secure cookies
    api = httpx.Client(base_url=platform.api, timeout=10)

    def issued() -> str:
        form = api.get("/login")
        found = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert found is not None
        assert f"mingdeng_csrf={found.group(1)};" in form.headers["set-cookie"]
        assert (
            "Secure" in form.headers["set-cookie"]
            and "SameSite=strict" in form.headers["set-cookie"]
        )
        return found.group(1)

    def post(path: str, form_token: str, cookie_token: str | None) -> httpx.Response:
        cookie = {"Cookie": f"mingdeng_csrf={cookie_token}"} if cookie_token else {}
        return api.post(path, data={"phone": "13800000000", "csrf": form_token}, headers=cookie)

    token = issued()
    nonce = token.partition(".")[0]
    altered = token[:-1] + ("1" if token.endswith("0") else "0")
    unsigned = f"{nonce}.{'0' * 32}"  # a cookie and a form that agree, not signed here
    for form_token, cookie_token in [
        ("", token),  # no token in the form
        (token, None),  # no cookie
        (altered, token),  # a wrong token
        (issued(), token),  # another browser's valid token
        (unsigned, unsigned),
    ]:
        refused = post("/login/code", form_token, cookie_token)
        assert refused.status_code == 403 and REFUSED in refused.text, (form_token, cookie_token)
    assert post("/logout", "", token).status_code == 403

    answered = post("/login/code", token, token)
    assert answered.status_code == 200
    assert "如果该号码已在系统登记，验证码短信已发出" in answered.text  # says nothing more

    shortcut = api.get("/login/dev", params={"member_id": "m1"}, follow_redirects=False)
    assert shortcut.status_code == 404 and "此页面不存在" in shortcut.text
    assert "mingdeng_session" not in shortcut.headers.get("set-cookie", "")
