"""Bearer tokens: JWT (HS256) signed with the configured secret."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt

from mingdeng.contracts.agency import DEFAULT_AGENCY, agency_id_problem, publishing_refusal
from mingdeng.gateway.domain.access import ROLES, Principal

ISSUER = "mingdeng"


class InvalidToken(Exception):
    pass


def issue_token(secret: str, principal: Principal, ttl: timedelta) -> str:
    """Refuses (ValueError) a publisher whose source may not publish for its agency."""
    if principal.source and (refusal := publishing_refusal(principal.source, principal.agency)):
        raise ValueError(refusal)
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
    if principal.agency != DEFAULT_AGENCY:
        claims["agency"] = principal.agency
    if principal.committee is not None:
        claims["committee"] = principal.committee
    return jwt.encode(claims, secret, algorithm="HS256")


def _verified(secret: str, token: str) -> tuple[Principal, float]:
    """The token's principal and when it expires (a POSIX timestamp)."""
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
    agency = claims.get("agency", DEFAULT_AGENCY)
    if (problem := agency_id_problem(agency)) is not None:
        raise InvalidToken(problem)
    committee = claims.get("committee")
    if committee is not None and (role != "admin" or not isinstance(committee, str)):
        raise InvalidToken("only an admin token names a committee")
    principal = Principal(
        subject=str(claims["sub"]), role=role, source=source, agency=agency, committee=committee
    )
    return principal, float(claims["exp"])


class TokenReader:
    """Verifies bearer tokens, and remembers the ones it verified until they expire: a client sends the
    same token with every request, and checking its signature each time was a seventh of the
    cost of a ranking page. Refused tokens are not remembered."""

    def __init__(
        self, secret: str, max_tokens: int = 4096, clock: Callable[[], float] = time.time
    ) -> None:
        self._secret = secret
        self._max_tokens = max_tokens
        self._clock = clock
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def read(self, token: str) -> Principal:
        found = self._verified.get(token)
        if found is not None and found[1] > self._clock():
            return found[0]
        principal, expires = _verified(self._secret, token)
        self._verified[token] = (principal, expires)
        if len(self._verified) > self._max_tokens:
            self._verified.popitem(last=False)
        return principal
