from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from mingdeng.contracts.text import shown

MAX_FIELD_CHARS = 200
MAX_MESSAGE_CHARS = 500
MAX_ERRORS = 20  # per event: a record with thousands of faults is told by its first ones


@dataclass(frozen=True)
class FieldError:
    """Why one field of an event was refused. `field` is a dotted path, e.g. `data.rule`.
    Both are kept printable and short whatever the record held, so a reason fits any status,
    dead letter, log line or row."""

    field: str
    message: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "field", shown(self.field, MAX_FIELD_CHARS))
        object.__setattr__(self, "message", shown(self.message, MAX_MESSAGE_CHARS))

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class InvalidEvent(ValueError):
    """An event that does not meet the contract; `errors` says field by field why."""

    def __init__(self, errors: list[FieldError]) -> None:
        if len(errors) > MAX_ERRORS:
            more = len(errors) - MAX_ERRORS + 1
            errors = [*errors[: MAX_ERRORS - 1], FieldError("(event)", f"and {more} more faults")]
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))

    def as_dicts(self) -> list[dict[str, str]]:
        return [e.as_dict() for e in self.errors]

    @classmethod
    def single(cls, field: str, message: str) -> InvalidEvent:
        return cls([FieldError(field, message)])

    @classmethod
    def from_validation(cls, error: ValidationError, prefix: str = "") -> InvalidEvent:
        errors = []
        for item in error.errors(include_url=False):
            path = ".".join(str(part) for part in (prefix, *item["loc"]) if part != "")
            errors.append(FieldError(path or "(event)", _message(item)))
        return cls(errors)


def _message(item: object) -> str:
    assert isinstance(item, dict)
    message = str(item["msg"])
    return message.removeprefix("Value error, ")
