"""The canonical change event: what every inbound envelope is mapped to.

Downstream steps (record state, standardization, duplicates, models) only ever see this
shape, whichever CRM or connector produced the bytes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas.errors import ErrorCode


class EntityType(StrEnum):
    """The CRM objects crmstream understands."""

    LEAD = "lead"
    CONTACT = "contact"
    ACCOUNT = "account"
    OPPORTUNITY = "opportunity"
    ACTIVITY = "activity"


class ChangeOp(StrEnum):
    """What happened to the record."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


def _strip_non_blank(value: str) -> str:
    """Python's notion of whitespace, so an id compares equal however a CRM padded it."""
    stripped = value.strip()
    if not stripped:
        raise ValueError("must not be blank")
    return stripped


RecordId = Annotated[str, StringConstraints(max_length=255), AfterValidator(_strip_non_blank)]
ShortText = Annotated[str, StringConstraints(max_length=128), AfterValidator(_strip_non_blank)]
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class ChangeEvent(BaseModel):
    """One change to one CRM record.

    ``fields`` holds only what changed (CDC updates are partial); a delete needs none.
    Numeric ids are accepted and kept as strings because CRMs and databases disagree on
    whether an id is a number, and downstream keys must compare equal either way.

    >>> event = ChangeEvent.model_validate({
    ...     "event_id": "e-1", "entity_type": "lead", "entity_id": 42, "op": "update",
    ...     "occurred_at": "2026-11-23T10:00:00+01:00", "source": "native",
    ...     "fields": {"status": "working"}})
    >>> event.entity_id, event.occurred_at.isoformat()
    ('42', '2026-11-23T10:00:00+01:00')
    """

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    event_id: ShortText
    entity_type: EntityType
    entity_id: RecordId
    op: ChangeOp
    occurred_at: AwareDatetime
    source: ShortText
    fields: dict[FieldName, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _creates_and_updates_change_something(self) -> Self:
        if self.op is not ChangeOp.DELETE and not self.fields:
            raise PydanticCustomError(
                ErrorCode.EMPTY_CHANGE.value,
                "{op} must carry at least one changed field",
                {"op": str(self.op)},
            )
        return self
