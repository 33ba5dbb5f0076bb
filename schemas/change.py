"""The canonical change event: what every inbound envelope is mapped to.

Downstream steps (record state, standardization, duplicates, models) only ever see this
shape, whichever CRM or connector produced the bytes.
"""

from __future__ import annotations

from datetime import datetime
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
    """What happened to the record.

    ``snapshot`` carries a record's full state as of ``occurred_at`` (a Debezium snapshot
    read, a backfill from an export) and merges like an update that may also create.
    ``merge`` says the records in ``merged_ids`` were merged into ``entity_id``; each of
    them then receives a ``delete`` with ``merged_into`` (see :meth:`ChangeEvent.expand_merge`).
    """

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    UNDELETE = "undelete"
    SNAPSHOT = "snapshot"
    MERGE = "merge"


# Ops that describe field values and so must carry some (unless the source signalled a gap).
# A create may be bare: HubSpot announces a creation first and sends the values after it.
_OPS_WITH_VALUES = frozenset({ChangeOp.UPDATE, ChangeOp.SNAPSHOT})


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

    ``fields`` holds only what changed (CDC updates are partial), by canonical field name,
    ``None`` meaning the field was cleared; a delete needs none. ``attributes`` keeps the
    source's custom or unmapped fields (``Foo__c``, extra columns) so nothing is dropped.
    Numeric ids are accepted and kept as strings because CRMs and databases disagree on
    whether an id is a number, and downstream keys must compare equal either way.

    ``gap`` is set when the source says it lost the values of this change (Salesforce
    ``GAP_*`` events): the record is then flagged stale instead of given invented values.
    ``commit_number`` and ``sequence_number`` order changes that share a commit time, so an
    older change never overwrites a newer one (see :meth:`order_key`). ``event_id`` must be
    the same when a source redelivers the same change: that is how duplicates are dropped.

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
    attributes: dict[FieldName, Any] = Field(default_factory=dict)
    gap: bool = False
    merged_ids: list[RecordId] = Field(default_factory=list)
    merged_into: RecordId | None = None
    commit_number: int | None = None
    sequence_number: int | None = None

    @model_validator(mode="after")
    def _changes_carry_what_their_op_needs(self) -> Self:
        if self.op in _OPS_WITH_VALUES and not (self.fields or self.attributes or self.gap):
            raise PydanticCustomError(
                ErrorCode.EMPTY_CHANGE.value,
                "{op} must carry at least one changed field",
                {"op": str(self.op)},
            )
        if (self.op is ChangeOp.MERGE) != bool(self.merged_ids):
            raise PydanticCustomError(
                ErrorCode.INVALID_VALUE.value,
                "merged_ids is required for a merge and only allowed there",
            )
        if self.merged_into is not None and self.op is not ChangeOp.DELETE:
            raise PydanticCustomError(
                ErrorCode.INVALID_VALUE.value, "merged_into is only allowed on a delete"
            )
        return self

    def expand_merge(self) -> list[ChangeEvent]:
        """A merge as one change per record it touches, so each lands on its record's key.

        The survivor gets the merge itself; every merged record gets a delete that says where
        it went, which is how a merged-away record is tombstoned on its own partition.
        """
        if self.op is not ChangeOp.MERGE:
            return [self]
        tombstones = [
            self.model_copy(
                update={
                    "event_id": f"{self.event_id}:merged:{merged_id}",
                    "entity_id": merged_id,
                    "op": ChangeOp.DELETE,
                    "fields": {},
                    "attributes": {},
                    "merged_ids": [],
                    "merged_into": self.entity_id,
                }
            )
            for merged_id in self.merged_ids
        ]
        return [self, *tombstones]

    def record_key(self) -> bytes:
        """Kafka key of the record: ids are only unique within an entity type in some CRMs."""
        return f"{self.entity_type.value}:{self.entity_id}".encode()

    def order_key(self) -> tuple[datetime, int, int]:
        """Newer changes compare greater; a change never overwrites one with a greater key."""
        return (self.occurred_at, self.commit_number or 0, self.sequence_number or 0)
