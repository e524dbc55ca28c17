"""What an upstream team reads to publish: a JSON Schema per event type, an AsyncAPI document.

Both are generated from the models and topics here; `make schemas` writes them into `shared/`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from mingdeng.contracts.derived import (
    Bulletin,
    DeadLetter,
    EventStatus,
    IndexScore,
    Notification,
    OutreachView,
    QuarterSelection,
    ReminderRequest,
    Task,
    YearTopTen,
)
from mingdeng.contracts.envelope import Envelope
from mingdeng.contracts.events import PAYLOAD_TYPES, EventData
from mingdeng.contracts.topics import (
    ALL_TOPICS,
    BULLETINS,
    DEAD_LETTER,
    EVENT_STATUS,
    EVENTS,
    NOTIFICATIONS,
    OUTREACH,
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
        "description": f"must equal data.{payload_type.subject_field}; it is the Kafka key",
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


def asyncapi_document() -> dict[str, Any]:
    messages = {
        _message_name(t): {
            "name": t.event_type,
            "contentType": "application/cloudevents+json",
            "payload": {"$ref": f"schemas/events/{t.event_type}.json"},
        }
        for t in PAYLOAD_TYPES
    }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in ALL_TOPICS:
        channel_id = topic.name.replace(".", "_").replace("-", "_")
        channel: dict[str, Any] = {
            "address": topic.name,
            "description": topic.carries,
            "bindings": {"kafka": _kafka_binding(topic)},
            "x-key": topic.key,
            "x-producers": list(topic.producers),
            "x-consumers": list(topic.consumers),
        }
        if topic is EVENTS:
            channel["messages"] = {
                name: {"$ref": f"#/components/messages/{name}"} for name in messages
            }
            operations["publishEvent"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": "Upstream systems publish CloudEvents keyed by subject",
            }
        for model in DERIVED_PAYLOADS.get(topic.name, ()):
            messages[model.__name__] = {
                "name": model.__name__,
                "contentType": "application/json",
                "payload": model.model_json_schema(),
            }
            channel.setdefault("messages", {})[model.__name__] = {
                "$ref": f"#/components/messages/{model.__name__}"
            }
        channels[channel_id] = channel
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Mingdeng (明灯) event contracts",
            "version": "1.0.0",
            "description": (
                "CloudEvents 1.0 in structured JSON mode. (source, id) is the idempotency key; "
                "the Kafka key is the event's subject. Invalid records go to the dead-letter "
                "topic with a reason per field."
            ),
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def _kafka_binding(topic: Topic) -> dict[str, Any]:
    return {
        "topic": topic.name,
        "partitions": topic.partitions,
        "topicConfiguration": {
            "cleanup.policy": [topic.config["cleanup.policy"]],
            "retention.ms": topic.retention_ms,
        },
        "bindingVersion": "0.5.0",
    }
