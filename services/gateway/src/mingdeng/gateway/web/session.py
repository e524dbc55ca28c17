"""The dashboard's session and CSRF protection.

The session cookie holds a bearer token of the gateway (the signed JWT the API reads), issued
at login for the member and the role they act in: HttpOnly, SameSite=Lax, Secure outside
development. Every form that changes something carries a CSRF token that must equal the CSRF
cookie (double submit) and be signed with the gateway's secret (a cookie planted by another
site cannot be forged)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import timedelta

from fastapi import Request, Response

from mingdeng.gateway.adapters.tokens import InvalidToken, TokenReader, issue_token
from mingdeng.gateway.domain.access import Principal, Role
from mingdeng.gateway.settings import GatewaySettings

SESSION_COOKIE = "mingdeng_session"
CSRF_COOKIE = "mingdeng_csrf"
SESSION_TTL = timedelta(hours=8)
CHOOSER_COOKIE = "mingdeng_choose"
CHOOSER_TTL = timedelta(minutes=5)
PAGE_ROLES: tuple[Role, ...] = ("admin", "secretary", "leader", "member")  # most first


def _secret(request: Request) -> bytes:
    settings: GatewaySettings = request.app.state.settings
    return settings.jwt_secret.get_secret_value().encode()


def _secure(request: Request) -> bool:
    settings: GatewaySettings = request.app.state.settings
    return settings.environment != "development"


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


def signed_in(request: Request) -> Principal | None:
    """Who this browser is signed in as, or None (no cookie, expired, or not a page role)."""
    token = session_token(request)
    if not token:
        return None
    tokens: TokenReader = request.app.state.tokens
    try:
        principal = tokens.read(token)
    except InvalidToken:
        return None
    return principal if principal.role in PAGE_ROLES else None


def start_session(request: Request, response: Response, principal: Principal) -> None:
    """Sign in as `principal`: a member of its agency in a role, or a 机关工委 admin acting as
    the admin of one agency of its tree."""
    token = issue_token(_secret(request).decode(), principal, SESSION_TTL)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    response.delete_cookie(CHOOSER_COOKIE, path="/login")


def start_choosing(request: Request, response: Response, phone: str) -> None:
    """A number verified by its code that may sign in at more than one place: the chooser's
    cookie (signed, five minutes, no token of the API) lets it choose where."""
    until = int(time.time() + CHOOSER_TTL.total_seconds())
    value = f"{phone}.{until}.{_signature(request, f'choose:{phone}:{until}')}"
    response.set_cookie(
        CHOOSER_COOKIE,
        value,
        max_age=int(CHOOSER_TTL.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/login",
    )


def choosing(request: Request) -> str | None:
    """The verified number choosing where to sign in, or None."""
    phone, _, rest = request.cookies.get(CHOOSER_COOKIE, "").partition(".")
    until, _, signature = rest.partition(".")
    if not phone or not until.isdigit() or int(until) < time.time():
        return None
    expected = _signature(request, f"choose:{phone}:{until}")
    return phone if hmac.compare_digest(signature, expected) else None


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CHOOSER_COOKIE, path="/login")


def _signature(request: Request, nonce: str) -> str:
    return hmac.new(_secret(request), f"csrf:{nonce}".encode(), hashlib.sha256).hexdigest()[:32]


def csrf_token(request: Request) -> str:
    """The browser's CSRF token: its cookie's, or a new one (`keep_csrf` sets the cookie)."""
    current = request.cookies.get(CSRF_COOKIE, "")
    if _valid(request, current):
        return current
    fresh: str | None = getattr(request.state, "fresh_csrf", None)
    if fresh is None:
        nonce = secrets.token_urlsafe(18)
        fresh = f"{nonce}.{_signature(request, nonce)}"
        request.state.fresh_csrf = fresh
    return fresh


def keep_csrf(request: Request, response: Response) -> None:
    fresh: str | None = getattr(request.state, "fresh_csrf", None)
    if fresh is not None:
        response.set_cookie(
            CSRF_COOKIE, fresh, httponly=True, samesite="strict", secure=_secure(request), path="/"
        )


def _valid(request: Request, token: str) -> bool:
    nonce, _, signature = token.partition(".")
    return bool(nonce) and hmac.compare_digest(signature, _signature(request, nonce))


def csrf_ok(request: Request, submitted: str) -> bool:
    """The form's token equals the cookie's, and the server signed it."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(submitted) and hmac.compare_digest(submitted, cookie) and _valid(request, cookie)
