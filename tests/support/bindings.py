"""A structured CloudEvent as the binary mode of a binding carries it (docs/events.md)."""

from __future__ import annotations

import json
from typing import Any

NOT_ATTRIBUTE_HEADERS = ("data", "datacontenttype")


def attribute_headers(document: dict[str, Any], prefix: str) -> list[tuple[str, str]]:
    """Each context attribute as a header: `ce_` for Kafka, `ce-` for HTTP."""
    return [
        (f"{prefix}{name}", str(value))
        for name, value in document.items()
        if name not in NOT_ATTRIBUTE_HEADERS
    ]


def kafka_binary(
    document: dict[str, Any], content_type: bytes | None = b"application/json"
) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The record's value (the data) and headers (the attributes, and the content-type)."""
    headers = [(name, value.encode()) for name, value in attribute_headers(document, "ce_")]
    if content_type is not None:
        headers.append(("content-type", content_type))
    return json.dumps(document["data"]).encode(), headers
