from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import Request, Response


def json_response(request: Request, body: Any, *, final: bool, public: bool = False) -> Response:
    """JSON, with an ETag when the data is final (it will not change) so clients can revalidate."""
    content = json.dumps(body, ensure_ascii=False, sort_keys=final, separators=(",", ":"))
    return encoded_json_response(request, content.encode(), final=final, public=public)


def encoded_json_response(
    request: Request, content: bytes, *, final: bool, public: bool = False
) -> Response:
    """`json_response` for a body already encoded (by PostgreSQL, for instance)."""
    if not final:
        return Response(
            content, media_type="application/json", headers={"Cache-Control": "no-cache"}
        )
    etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"{'public' if public else 'private'}, max-age=300",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="application/json", headers=headers)
