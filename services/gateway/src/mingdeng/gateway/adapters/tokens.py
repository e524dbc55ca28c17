"""Bearer tokens: JWT (HS256) signed with the configured secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from mingdeng.gateway.domain.access import ROLES, Principal

ISSUER = "mingdeng"


class InvalidToken(Exception):
    pass


def issue_token(secret: str, principal: Principal, ttl: timedelta) -> str:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "iss": ISSUER,
        "sub": principal.subject,
        "role": principal.role,
        "iat": now,
        "exp": now + ttl,
    }
    if principal.source:
        claims["source"] = principal.source
    return jwt.encode(claims, secret, algorithm="HS256")


def read_token(secret: str, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], issuer=ISSUER, options={"require": ["exp", "sub"]}
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from None
    role = claims.get("role")
    if role not in ROLES:
        raise InvalidToken(f"unknown role {role!r}")
    source = claims.get("source")
    if role == "publisher" and not source:
        raise InvalidToken("a publisher token names its source")
    return Principal(subject=str(claims["sub"]), role=role, source=source)
