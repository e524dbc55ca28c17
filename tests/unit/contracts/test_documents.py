from __future__ import annotations

import json
import runpy
from pathlib import Path

import jsonschema
import pytest
import yaml

from mingdeng.contracts.topics import ALL_TOPICS
from tests.support.samples import SAMPLE_DATA, cloudevent

SHARED = Path(__file__).parents[3] / "shared"


def test_committed_schemas_and_asyncapi_match_the_models() -> None:
    exporter = runpy.run_path(str(SHARED / "export_contracts.py"))
    stale = [
        str(path.relative_to(SHARED))
        for path, text in exporter["rendered"]().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert stale == [], "run `make schemas` and commit the result"


@pytest.mark.parametrize("event_type", sorted(SAMPLE_DATA))
def test_json_schema_accepts_the_sample_and_refuses_a_wrong_type(event_type: str) -> None:
    schema = json.loads((SHARED / "schemas" / "events" / f"{event_type}.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    document = json.loads(json.dumps(cloudevent(event_type)))
    validator.validate(document)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**document, "type": "mingdeng.other.v1"})


def test_asyncapi_lists_every_topic_with_its_partitions() -> None:
    document = yaml.safe_load((SHARED / "asyncapi.yaml").read_text())
    assert document["asyncapi"] == "3.1.0"
    listed = {
        c["address"]: c["bindings"]["kafka"]["partitions"] for c in document["channels"].values()
    }
    assert listed == {t.name: t.partitions for t in ALL_TOPICS}
    inbound = document["channels"]["mingdeng_events_v1"]["messages"]
    assert len(inbound) == len(SAMPLE_DATA)
    scores = document["channels"]["mingdeng_scores_v1"]["messages"]
    assert list(scores) == ["IndexScore"]
    assert document["components"]["messages"]["IndexScore"]["payload"] == {
        "$ref": "#/components/schemas/IndexScore"
    }
    payload = document["components"]["schemas"]["IndexScore"]
    assert {"quarter", "level", "index", "components", "rules_version"} <= set(
        payload["properties"]
    )
    assert "events" not in payload["properties"]  # explained by the events' statuses
    assert list(document["channels"]["mingdeng_selections_v1"]["messages"]) == [
        "QuarterSelection",
        "YearTopTen",
    ]


def test_asyncapi_refs_stay_inside_the_document_and_resolve() -> None:
    document = yaml.safe_load((SHARED / "asyncapi.yaml").read_text())
    refs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        target = document
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]  # a KeyError names the ref that does not resolve
    schemas = document["components"]["schemas"]
    assert "$defs" not in str(schemas) and "$id" not in str(schemas)
    assert {"Contribution", "EventRef", "RankingSizes"} <= set(schemas)


def test_asyncapi_gives_servers_and_a_key_schema_per_message() -> None:
    document = yaml.safe_load((SHARED / "asyncapi.yaml").read_text())
    hosts = {name: s["host"] for name, s in document["servers"].items()}
    assert hosts["local"] == "localhost:9092"
    assert "example" in hosts["production"]
    assert all(s["protocol"] == "kafka" for s in document["servers"].values())
    for name, message in document["components"]["messages"].items():
        key = message["bindings"]["kafka"]["key"]
        assert key["type"] == "string", name
    member = document["components"]["messages"]["member_registered_v1"]["bindings"]["kafka"]
    assert "data.member_id" in member["key"]["description"]
    assert "x-key" not in str(document["channels"])
