"""The CloudEvents 1.0 envelope (the structured form every mode is read into) and the typed
event built from it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints, model_validator

from mingdeng.contracts.agency import AGENCY_ATTRIBUTE, DEFAULT_AGENCY, PARTITION_KEY_ATTRIBUTE
from mingdeng.contracts.events import EventData

MAX_CLOCK_LEAD = timedelta(hours=24)
EXTENSION_NAME = r"^[a-z0-9]{1,20}$"

D = TypeVar("D", bound=EventData, covariant=True)
EventKey = tuple[str, str]  # (source, id): the idempotency key of an event


class Envelope(BaseModel):
    """What every event on the wire looks like, before its `data` is read by type."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"]
    id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    source: Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=r"^\S+$")]
    type: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    subject: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]

    @model_validator(mode="after")
    def _extensions_are_cloudevents_attributes(self) -> Envelope:
        for name, value in (self.model_extra or {}).items():
            if not re.fullmatch(EXTENSION_NAME, name):
                raise ValueError(f"extension attribute {name!r} must be 1-20 of a-z, 0-9")
            if not isinstance(value, str | int | bool):
                raise ValueError(f"extension attribute {name!r} must be a string, integer or bool")
        return self


@dataclass(frozen=True)
class Event(Generic[D]):
    """A validated event: envelope attributes plus its typed, immutable payload."""

    id: str
    source: str
    type: str
    subject: str
    time: datetime
    data: D
    extensions: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    agency: str = DEFAULT_AGENCY  # the `agency` attribute (contracts.agency)

    @property
    def key(self) -> EventKey:
        """The idempotency key: a re-sent event has the same (source, id)."""
        return (self.source, self.id)

    @property
    def partition_key(self) -> str:
        """The Kafka key of its record: its agency, so an agency's events share a partition."""
        return self.agency

    @property
    def of_default_agency(self) -> bool:
        return self.agency == DEFAULT_AGENCY

    def attributes(self) -> dict[str, Any]:
        """The context attributes, extensions included: the CloudEvent without its `data`."""
        return {
            "specversion": "1.0",
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "time": self.time.isoformat(),
            "datacontenttype": "application/json",
            **self.extensions,
            # the default agency is written as before agencies: without the attributes
            **(
                {}
                if self.of_default_agency
                else {AGENCY_ATTRIBUTE: self.agency, PARTITION_KEY_ATTRIBUTE: self.agency}
            ),
        }

    def to_cloudevent(self) -> dict[str, Any]:
        return {**self.attributes(), "data": self.data.model_dump(mode="json", exclude_none=True)}
