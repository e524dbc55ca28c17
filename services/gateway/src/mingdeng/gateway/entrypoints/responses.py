from __future__ import annotations

import hashlib

from fastapi import Request, Response


def encoded_json_response(
    request: Request, content: bytes, *, final: bool, public: bool = False
) -> Response:
    """JSON already encoded (by PostgreSQL or a model), with an ETag when the data is final (it
    will not change) so clients can revalidate."""
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
