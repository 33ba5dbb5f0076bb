"""The public contracts of near-duplicate detection: ``crm.duplicates``, ``crm.feedback``, and
the duplicate verdict the enriched record carries.

A lead may duplicate a contact, so a record is always named with its type (:class:`RecordRef`),
never by id alone.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.change import EntityType
from schemas.outbound import OutboundRecord


class Decision(StrEnum):
    """What the stream does with a pair of records."""

    DUPLICATE = "duplicate"  # one entity: merge automatically
    POSSIBLE = "possible"  # a human should review the pair
    DISTINCT = "distinct"


class RecordRef(BaseModel):
    """One record, by type and id (ids are unique per type only)."""

    model_config = ConfigDict(frozen=True)

    entity_type: EntityType
    entity_id: str

    @classmethod
    def parse(cls, record_key: str) -> RecordRef:
        """From the ``type:id`` record key the stream uses internally."""
        entity_type, _, entity_id = record_key.partition(":")
        return cls(entity_type=EntityType(entity_type), entity_id=entity_id)

    def key(self) -> str:
        return f"{self.entity_type.value}:{self.entity_id}"


class DuplicateVerdict(BaseModel):
    """What the enriched record says about its duplicates when it is emitted.

    ``cluster_id`` names the oldest record known to be the same entity (the record itself
    when it has no duplicate), so that A~B and B~C share one id that does not change when a
    newer duplicate joins.
    """

    model_config = ConfigDict(frozen=True)

    duplicate_of: RecordRef | None = Field(
        default=None, description="the older record this one most likely duplicates"
    )
    possible_duplicates: list[RecordRef] = Field(
        default_factory=list, description="records in the review band with this one"
    )
    cluster_id: RecordRef | None = Field(
        default=None, description="oldest record of the duplicate cluster (None: not matched)"
    )


class DuplicateEvent(OutboundRecord):
    """A pair whose decision changed, on ``crm.duplicates`` (keyed by the newer record).

    Emitted when a pair first becomes ``possible`` or ``duplicate``, when its decision rises,
    and as ``distinct`` when an earlier verdict is withdrawn (by a reviewer, or because one
    of the records was deleted or merged away).
    """

    schema_version: Literal[1] = 1
    record: RecordRef = Field(description="the newer record of the pair")
    other: RecordRef = Field(description="the older record of the pair")
    decision: Decision
    previous_decision: Decision | None
    score: float = Field(ge=0.0, le=1.0, description="the rule score over compared fields")
    probability: float = Field(
        ge=0.0, le=1.0, description="the learned model's probability that both are one entity"
    )
    similarities: dict[str, float] = Field(description="per compared field, in [0, 1]")
    source: Literal["matcher", "feedback", "record_gone"] = Field(
        description="who decided: the matcher, a reviewer, or a delete or merge of either record"
    )
    cluster_id: RecordRef
    decided_at: AwareDatetime

    def record_key(self) -> bytes:
        return self.record.key().encode()


class FeedbackVerdict(BaseModel):
    """A reviewer's verdict on a pair, read from ``crm.feedback``.

    >>> FeedbackVerdict.model_validate_json(
    ...     b'{"record": {"entity_type": "lead", "entity_id": "L9"},'
    ...     b' "other": {"entity_type": "contact", "entity_id": "C1"}, "verdict": "confirmed"}'
    ... ).verdict
    'confirmed'
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    record: RecordRef
    other: RecordRef
    verdict: Literal["confirmed", "rejected"]
    reviewer: str | None = Field(default=None, description="who decided; never logged")
