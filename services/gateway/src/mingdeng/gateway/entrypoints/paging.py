"""Keyset paging (issue 21): beside `limit` and `offset`, a page answers with an RFC 8288
`Link: <…&after=CURSOR>; rel="next"` header while there is more, and `after=CURSOR` starts the
next page right after the last item shown, at the cost of one index range whatever the depth.
The cursor is opaque to clients: the sort key of the last item, base64url-encoded JSON."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import Query, Request, Response

from mingdeng.gateway.entrypoints.problems import Problem, problems

After = Annotated[
    str | None,
    Query(
        max_length=512,
        pattern=r"^[A-Za-z0-9_-]+={0,2}$",
        description="start after this item: the cursor of the `Link` header's rel=next"
        " (then `offset` is not used)",
    ),
]
NEXT_LINK: dict[int | str, dict[str, Any]] = {
    **problems(404),  # `after` is not a cursor this API gave
    200: {
        "headers": {
            "Link": {
                "description": 'the next page, `<URL>; rel="next"`, while there is one',
                "schema": {"type": "string"},
            }
        }
    },
}


def cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def invalid_cursor() -> Problem:
    """A cursor of the right alphabet that no page of ours gave: there is no page after it."""
    return Problem(404, "No such page", "`after` takes the cursor of a rel=next link")


def read_cursor(text: str) -> list[Any]:
    """The sort key a cursor carries; 404 when it is not one of ours."""
    try:
        key = json.loads(base64.urlsafe_b64decode(text.encode()))
    except (binascii.Error, ValueError):
        key = None
    if not isinstance(key, list):
        raise invalid_cursor()
    return key


def link_next(request: Request, response: Response, key: list[Any] | None) -> Response:
    """`response` with the link to the page after `key` (the last item shown), if any."""
    if key is not None:
        url = request.url.remove_query_params("offset").include_query_params(after=cursor(key))
        response.headers["Link"] = f'<{url}>; rel="next"'
    return response
