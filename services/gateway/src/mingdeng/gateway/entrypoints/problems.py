"""Errors as RFC 9457 problem details; never a stack trace to a client."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from mingdeng.runtime.faults import is_transient

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"


class Problem(Exception):
    def __init__(
        self, status: int, title: str, detail: str, retry_after_s: int | None = None, **extra: Any
    ) -> None:
        self.status, self.title, self.detail, self.extra = status, title, detail, extra
        self.retry_after_s = retry_after_s


def problem_response(
    status: int, title: str, detail: str, retry_after_s: int | None = None, **extra: Any
) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if retry_after_s is not None:
        headers["Retry-After"] = str(retry_after_s)
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra},
        status_code=status,
        media_type=PROBLEM,
        headers=headers,
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def on_problem(_: Request, error: Problem) -> JSONResponse:
        return problem_response(
            error.status, error.title, error.detail, error.retry_after_s, **error.extra
        )

    @app.exception_handler(HTTPException)
    async def on_http(_: Request, error: HTTPException) -> JSONResponse:
        return problem_response(error.status_code, str(error.detail), str(error.detail))

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in error.errors()
        ]
        return problem_response(
            422, "Invalid request", "the request does not match the API", errors=errors
        )

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        if is_transient(error):  # the database or the broker is away: not the client's fault
            log.warning(
                "%s %s: %s: %s", request.method, request.url.path, type(error).__name__, error
            )
            return problem_response(
                503, "Service unavailable", "a dependency does not answer; try again", 5
            )
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(500, "Internal error", "the server failed; it has been logged")
