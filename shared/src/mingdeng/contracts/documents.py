"""What an upstream team reads to publish: a JSON Schema per event type, an AsyncAPI document.

Both are generated from the models and topics here; `make schemas` writes them into `shared/`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from mingdeng.contracts.agency import AGENCY_ID, DEFAULT_AGENCY
from mingdeng.contracts.derived import (
    Bulletin,
    DeadLetter,
    EventStatus,
    IndexScore,
    Notification,
    QuarterSelection,
    RankingChunk,
    ReminderRequest,
    Task,
    YearTopTen,
)
from mingdeng.contracts.envelope import Envelope
from mingdeng.contracts.events import PAYLOAD_TYPES, EventData
from mingdeng.contracts.outreach_views import OutreachView
from mingdeng.contracts.topics import (
    ALL_TOPICS,
    BULLETINS,
    DEAD_LETTER,
    EVENT_STATUS,
    EVENTS,
    NOTIFICATIONS,
    OUTREACH,
    RANKINGS,
    REMINDER_REQUESTS,
    SCORES,
    SELECTIONS,
    TASKS,
    Topic,
)
from mingdeng.contracts.upcasting import is_latest

# What the derived topics carry (JSON of these models); the inbound topics carry CloudEvents.
DERIVED_PAYLOADS: dict[str, tuple[type[BaseModel], ...]] = {
    SCORES.name: (IndexScore,),
    RANKINGS.name: (RankingChunk,),
    SELECTIONS.name: (QuarterSelection, YearTopTen),
    EVENT_STATUS.name: (EventStatus,),
    DEAD_LETTER.name: (DeadLetter,),
    OUTREACH.name: (OutreachView,),
    REMINDER_REQUESTS.name: (ReminderRequest,),
    TASKS.name: (Task,),
    NOTIFICATIONS.name: (Notification,),
    BULLETINS.name: (Bulletin,),
}

SCHEMA_BASE = "https://mingdeng.dev/schemas/events/"


def event_schema(payload_type: type[EventData]) -> dict[str, Any]:
    """The JSON Schema of a whole CloudEvent of this type (envelope plus typed `data`)."""
    envelope = Envelope.model_json_schema()
    data = payload_type.model_json_schema(mode="validation")
    definitions = data.pop("$defs", {})
    properties = dict(envelope["properties"])
    properties["type"] = {"const": payload_type.event_type, "type": "string"}
    properties["subject"] = {
        **properties["subject"],
        "description": f"must equal data.{payload_type.subject_field}",
    }
    properties["agency"] = {
        "type": "string",
        "pattern": AGENCY_ID,
        "default": DEFAULT_AGENCY,
        "description": "the agency the event belongs to (extension attribute); without it, "
        f"the default agency {DEFAULT_AGENCY!r}. A source /agencies/{{agency}}/… publishes "
        "for that agency only, /mingdeng/… (the platform) for any, any other source for the "
        "default agency only"
        + (
            ", and an agency's registration belongs to the agency it registers"
            if payload_type.subject_field == "agency_id"
            else ""
        ),
    }
    properties["partitionkey"] = {
        "type": "string",
        "description": "the Kafka key (CloudEvents Partitioning extension): the agency; "
        "for the default agency also the subject, as before agencies",
    }
    properties["time"] = {
        **properties["time"],
        "description": "RFC 3339 with offset; at most 24 hours ahead of now",
    }
    properties["data"] = data
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE}{payload_type.event_type}.json",
        "title": payload_type.event_type,
        "type": "object",
        "required": [*envelope["required"]],
        "properties": properties,
        "additionalProperties": {"type": ["string", "integer", "boolean"]},
    }
    if not is_latest(payload_type):
        schema["description"] = "Accepted; readers see it upcast to the newest version."
    if definitions:
        schema["$defs"] = definitions
    return schema


def _message_name(payload_type: type[EventData]) -> str:
    return payload_type.event_type.removeprefix("mingdeng.").replace(".", "_")


KAFKA_BINDING_VERSION = "0.5.0"
COMPONENT_SCHEMAS = "#/components/schemas/"

# Where the topics live. The addresses are those of `make up` (deploy/lib.sh) and of
# docker-compose.yml; production's is an example, since each deployment names its own brokers.
SERVERS: dict[str, dict[str, str]] = {
    "local": {
        "host": "localhost:9092",
        "protocol": "kafka",
        "description": "The broker `make up` starts. (`make test` starts its own on localhost:19092.)",
    },
    "compose": {
        "host": "kafka:9092",
        "protocol": "kafka",
        "description": "The broker of `docker compose up`, reachable inside the compose network.",
    },
    "production": {
        "host": "kafka.example.internal:9092",
        "protocol": "kafka",
        "description": (
            "An example, not a real address: a deployment's brokers are what its "
            "MINGDENG_KAFKA_BOOTSTRAP_SERVERS names, and its topic names start with its "
            "MINGDENG_KAFKA_TOPIC_PREFIX when one is set."
        ),
    },
}


def asyncapi_document() -> dict[str, Any]:
    """AsyncAPI 3.1, self-contained: every schema is under `components/schemas`.

    Operations are an integrator's: it sends CloudEvents to the inbound topic and may receive
    the derived topics.
    """
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for t in PAYLOAD_TYPES:
        cloudevent = event_schema(t)
        _add_schema(schemas, t.event_type, cloudevent)
        messages[_message_name(t)] = {
            "name": t.event_type,
            "contentType": "application/cloudevents+json",
            "payload": {"$ref": COMPONENT_SCHEMAS + t.event_type},
            "bindings": _message_binding(
                {
                    "type": "string",
                    "description": "the event's agency (its `agency` and `partitionkey` "
                    "attributes); a record of the default agency may be keyed by its subject, "
                    f"data.{t.subject_field}, as before agencies",
                }
            ),
        }
    inbound = {name: {"$ref": f"#/components/messages/{name}"} for name in messages}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in ALL_TOPICS:
        channel_id = topic.name.replace(".", "_").replace("-", "_")
        channel: dict[str, Any] = {
            "address": topic.name,
            "description": topic.carries,
            "messages": {},
            "bindings": {"kafka": _kafka_binding(topic)},
            "x-producers": list(topic.producers),
            "x-consumers": list(topic.consumers),
        }
        if topic is EVENTS:
            channel["messages"] = inbound
            operations["publishEvent"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": "Upstream systems publish CloudEvents keyed by agency",
            }
        else:
            operations[f"receive_{channel_id}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"Read {topic.name} (written by {', '.join(topic.producers)})",
            }
        for model in DERIVED_PAYLOADS.get(topic.name, ()):
            _add_schema(schemas, model.__name__, model.model_json_schema())
            messages[model.__name__] = {
                "name": model.__name__,
                "contentType": "application/json",
                "payload": {"$ref": COMPONENT_SCHEMAS + model.__name__},
                "bindings": _message_binding({"type": "string", "description": topic.key}),
            }
            channel["messages"][model.__name__] = {
                "$ref": f"#/components/messages/{model.__name__}"
            }
        channels[channel_id] = channel
    return {
        "asyncapi": "3.1.0",
        "id": "urn:mingdeng:event-contracts",
        "info": {
            "title": "Mingdeng (明灯) event contracts",
            "version": "1.0.0",
            "description": (
                "CloudEvents 1.0 as the Kafka protocol binding carries them: structured mode "
                "(the payloads below) or binary mode (the attributes as ce_ headers, the data "
                "as the value; docs/events.md). (source, id) is the idempotency key; the Kafka "
                "key must be the event's agency (its partitionkey; the default agency's may "
                "also be its subject), or the record is dead-lettered. Invalid "
                "records go to the dead-letter topic with a reason per field and the record's "
                "headers. The operations are an integrator's: it sends "
                "CloudEvents to mingdeng.events.v1 and may read the derived topics."
            ),
        },
        "servers": SERVERS,
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def _add_schema(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    """Put `schema` under `name`, its `$defs` beside it, and point its refs there.

    A standalone JSON Schema's `#/$defs/...` would resolve against the AsyncAPI document's root;
    `$id` would move the base of its refs. Two definitions under one name must be the same.
    """
    body = {k: v for k, v in schema.items() if k not in ("$schema", "$id", "$defs")}
    for entry, definition in [(name, body), *schema.get("$defs", {}).items()]:
        definition = _point_refs_to_components(definition)
        if schemas.setdefault(entry, definition) != definition:
            raise ValueError(f"two different schemas are named {entry}")


def _point_refs_to_components(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: v.replace("#/$defs/", COMPONENT_SCHEMAS, 1)
            if k == "$ref" and isinstance(v, str)
            else _point_refs_to_components(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_point_refs_to_components(v) for v in node]
    return node


def _message_binding(key: dict[str, Any]) -> dict[str, Any]:
    return {"kafka": {"key": key, "bindingVersion": KAFKA_BINDING_VERSION}}


def _kafka_binding(topic: Topic) -> dict[str, Any]:
    return {
        "topic": topic.name,
        "partitions": topic.partitions,
        "topicConfiguration": {
            "cleanup.policy": [topic.config["cleanup.policy"]],
            "retention.ms": topic.retention_ms,
        },
        "bindingVersion": KAFKA_BINDING_VERSION,
    }
