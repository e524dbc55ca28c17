"""The OpenAPI document says what the gateway does, and outside tools accept it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from mingdeng.contracts.codec import parse_document
from mingdeng.gateway.entrypoints.ingest import EXAMPLE
from tests.support.node_tools import ROOT, run_node_tool
from tests.support.openapi import openapi_app, openapi_document

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_every_success_names_its_schema() -> None:
    document = openapi_document()
    unnamed = [
        f"{method} {path}"
        for method, path, operation in operations(document)
        for status, answer in operation["responses"].items()
        if status.startswith("2")
        for media, content in answer["content"].items()
        if media == "application/json" and "$ref" not in content["schema"]
    ]
    assert unnamed == []
    assert len(operations(document)) == 54  # 41, 10 of issue 24, 3 of the 机关工委's view


def test_every_error_is_a_problem() -> None:
    document = openapi_document()
    errors = [
        (status, answer.get("content"))
        for method, path, operation in operations(document)
        if path != "/readyz"
        for status, answer in operation["responses"].items()
        if int(status) >= 400
    ]
    assert {status for status, _ in errors} == {
        "401", "403", "404", "408", "409", "413", "415", "422", "429", "503"
    }  # fmt: skip
    assert all(content == PROBLEM for _, content in errors)
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert {"type", "title", "status", "detail"} <= set(schemas["Problem"]["properties"])


def test_the_stream_and_the_source_say_what_they_are() -> None:
    document = openapi_document()
    stream = document["paths"]["/v1/stream"]["get"]["responses"]["200"]["content"]
    assert list(stream) == ["text/event-stream"]
    parameters = document["paths"]["/v1/events/{event_id}"]["get"]["parameters"]
    source = next(p for p in parameters if p["name"] == "source")
    assert source["required"] is True
    assert "A publisher token may leave it out" in source["description"]


def test_the_committee_s_figures_take_its_admin_s_token_its_rankings_none() -> None:
    paths = openapi_document()["paths"]
    figures = paths["/v1/committees/{committee_id}/agencies"]["get"]
    assert figures["security"] == [{"HTTPBearer": []}]
    assert {"401", "403"} <= set(figures["responses"])
    assert "机关工委 admins only" in figures["description"]
    for public in ("ranking", "branches"):
        operation = paths[f"/v1/committees/{{committee_id}}/{public}"]["get"]
        assert "security" not in operation and "public" in operation["tags"]
        assert not {"401", "403"} & set(operation["responses"])


def test_the_request_example_is_valid_and_plainly_not_real() -> None:
    event = parse_document(EXAMPLE, latest=False)
    assert (event.source, event.id) == ("/systems/example", "example-0001")
    content = openapi_document()["paths"]["/v1/events"]["post"]["requestBody"]["content"]
    assert content["application/cloudevents+json"]["example"] == EXAMPLE


async def test_a_method_not_allowed_says_which_are_and_the_docs_are_served() -> None:
    transport = httpx.ASGITransport(app=openapi_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        answer = await client.delete("/v1/events")
        docs = await client.get("/docs")
        served = await client.get("/openapi.json")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert answer.headers["content-type"] == "application/problem+json"
    assert docs.status_code == 200 and "/openapi.json" in docs.text
    assert served.json()["components"]["schemas"]["Problem"]["title"] == "Problem"


@pytest.mark.timeout(180)
def test_spectral_finds_nothing_to_report(tmp_path: Path) -> None:
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(openapi_document(), ensure_ascii=False))
    report = tmp_path / "spectral.json"
    linted = run_node_tool(
        "spectral",
        "lint",
        str(document),
        f"--ruleset={ROOT / '.spectral.yaml'}",
        "--format=json",
        f"--output={report}",
        "--fail-severity=hint",
        home=tmp_path,
    )
    assert json.loads(report.read_text()) == []
    assert linted.returncode == 0, linted.stdout + linted.stderr
