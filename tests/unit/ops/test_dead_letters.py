"""What a re-drive sends back with a dead letter: its headers, but no barrier mark, and no
binary-mode headers beside a correction that is a whole event in structured mode."""

from __future__ import annotations

from mingdeng.ops.dead_letters import headers_to_send

HEADERS = (
    ("ce_id", b"e1"),
    ("ce_specversion", b"1.0"),
    ("content-type", b"application/json"),
    ("mingdeng-barrier", b"1"),
    ("trace", b"t-7"),
)


def test_the_original_bytes_or_corrected_data_go_back_with_the_headers_but_no_barrier() -> None:
    kept = (*HEADERS[:3], HEADERS[4])
    assert headers_to_send(HEADERS, None) == kept
    assert headers_to_send(HEADERS, b'{"member_id": "m1", "rule": 3}') == kept
    assert headers_to_send(HEADERS, b"not json") == kept


def test_a_correction_in_structured_mode_goes_back_without_the_binary_headers() -> None:
    whole = b'{"specversion": "1.0", "id": "e1", "data": {}}'
    assert headers_to_send(HEADERS, whole) == (("trace", b"t-7"),)
