"""Errors as RFC 9457 problem details; never a stack trace to a client."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from mingdeng.runtime.faults import is_transient

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"


class FieldError(BaseModel):
    field: str = Field(description="where, e.g. `query.limit` or `data.member_id`")
    message: str


class ProblemDetails(BaseModel):
    """An error (RFC 9457). Some carry more: `errors` (a request that does not match the API),
    `events` (the invalid events of a batch, with reasons per field), `ids` (conflicting ids)."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(default="about:blank", examples=["about:blank"])
    title: str = Field(examples=["Forbidden"])
    status: int = Field(ge=400, le=599, examples=[403])
    detail: str = Field(examples=["the member role may not do this"])
    errors: list[FieldError] | None = None
    events: list[dict[str, Any]] | None = None
    ids: list[str] | None = None


WHEN = {
    401: "no token, or a token that is not valid (expired, wrong signature)",
    403: "the token's role or scope does not allow this",
    404: "nothing of that name (yet)",
    408: "the request's headers or body did not arrive in time; the connection is closed",
    409: "a known (source, id) with another content",
    413: "the body or the number of events is over the limit",
    415: "a content type this route does not read",
    422: "the request does not match the API, or the events are invalid (reasons per field)",
    429: "the token's quota is spent for now; see Retry-After",
    503: "the database or the broker does not answer; try again (see Retry-After)",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of a route, for `responses=`: each is a problem (see `install`)."""
    return {status: {"description": WHEN[status]} for status in statuses}


class Problem(Exception):
    def __init__(
        self, status: int, title: str, detail: str, retry_after_s: int | None = None, **extra: Any
    ) -> None:
        self.status, self.title, self.detail, self.extra = status, title, detail, extra
        self.retry_after_s = retry_after_s


class BodyTimeout(HTTPException):
    """The request's body did not arrive within its deadline (`deadlines.BodyDeadline`). An
    HTTPException, so that FastAPI passes it on from reading a body as it is."""

    def __init__(self, seconds: float) -> None:
        super().__init__(408, f"the request's body did not arrive within {seconds:g} s")


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
    app.openapi = lambda: _openapi_of(app)  # type: ignore[method-assign]

    @app.exception_handler(Problem)
    async def on_problem(_: Request, error: Problem) -> JSONResponse:
        return problem_response(
            error.status, error.title, error.detail, error.retry_after_s, **error.extra
        )

    @app.exception_handler(BodyTimeout)
    async def on_body_timeout(_: Request, error: BodyTimeout) -> JSONResponse:
        answer = problem_response(408, "Request timeout", str(error.detail))
        answer.headers["Connection"] = "close"  # the rest of the body is not waited for
        return answer

    @app.exception_handler(HTTPException)
    async def on_http(_: Request, error: HTTPException) -> JSONResponse:
        answer = problem_response(error.status_code, str(error.detail), str(error.detail))
        answer.headers.update(error.headers or {})  # 405 says which methods it has: Allow
        return answer

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


def _openapi_of(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with every error answer a problem (`application/problem+json`),
    FastAPI's own 422 schema replaced by it."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            contact=app.contact,
            servers=app.servers,
            tags=app.openapi_tags,
            routes=app.routes,
            separate_input_output_schemas=app.separate_input_output_schemas,
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        problem = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem.pop("$defs", {}))
        schemas["Problem"] = problem
        for path in document["paths"].values():
            for operation in path.values():
                for status, answer in operation.get("responses", {}).items():
                    if status.isdigit() and int(status) >= 400 and _is_problem(answer):
                        answer["content"] = {
                            PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}
                        }
                        if int(status) in (429, 503):
                            answer["headers"] = RETRY_AFTER
                        elif int(status) == 401:
                            answer["headers"] = WWW_AUTHENTICATE
        app.openapi_schema = document
    return app.openapi_schema


RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
WWW_AUTHENTICATE = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}


def _is_problem(answer: dict[str, Any]) -> bool:
    """An error answer FastAPI described (its 422) or one without content; not one a route
    describes itself (`/readyz` answers 503 with its checks)."""
    content = answer.get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    return not content or schema.get("$ref", "").endswith("/HTTPValidationError")
