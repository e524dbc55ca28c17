from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse


def json_response(request: Request, body: Any, *, final: bool, public: bool = False) -> Response:
    """JSON, with an ETag when the data is final (it will not change) so clients can revalidate."""
    if not final:
        return JSONResponse(body, headers={"Cache-Control": "no-cache"})
    encoded = json.dumps(body, ensure_ascii=False, sort_keys=True).encode()
    etag = '"' + hashlib.sha256(encoded).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"{'public' if public else 'private'}, max-age=300",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return JSONResponse(body, headers=headers)
