"""Text that is safe wherever it goes: a Kafka key or header, a log line, PostgreSQL, JSON.

Two things in a Python string can go nowhere: a lone surrogate (JSON's `"\\ud800"` decodes to
one; UTF-8 cannot encode it) and NUL (PostgreSQL refuses it in text and jsonb). The one parse
at the edge refuses an event holding either (codec.py); what is shown of a refused record
(reasons, previews, keys) goes through `shown`.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")
# in JSON text a lone surrogate or a NUL can only be written as an escape
_ESCAPED = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_ESCAPED_BYTES = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def unstorable(text: str) -> str | None:
    """Why `text` cannot be stored or sent as it is, or None."""
    if "\x00" in text:
        return "NUL characters are not allowed"
    if not text.isascii() and _SURROGATE.search(text):
        return "lone surrogates (not Unicode text) are not allowed"
    return None


def may_hold_unstorable(raw: bytes | bytearray | str) -> bool:
    """False when JSON text cannot decode to a string holding a NUL or a lone surrogate (it has
    no such escape, and as a str no raw surrogate): the decoded value needs no walk."""
    if isinstance(raw, str):
        return bool(_ESCAPED.search(raw)) or (not raw.isascii() and bool(_SURROGATE.search(raw)))
    return bool(_ESCAPED_BYTES.search(raw))


def shown(text: str, limit: int) -> str:
    """`text` for people and logs: NUL and lone surrogates escaped, at most `limit` characters."""
    if unstorable(text) is not None:
        text = text.replace("\x00", "\\x00")
        text = _SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)
    if len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def shown_bytes(raw: bytes, limit: int) -> str:
    """Bytes as text for people: undecodable bytes replaced, NUL escaped, at most `limit`."""
    return shown(raw[: limit * 4].decode(errors="replace"), limit)
