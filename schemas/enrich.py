"""Steps 2 and 3 of the flow for one change: merge it into its record, standardize, assess.

Pure: the record state comes in and goes out, so the Faust agent only loads and stores it.
The whole current record is standardized each time (not just the changed fields) because
completeness and validity are properties of the record, and because a better standardizer
then improves old records on their next change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.change import ChangeEvent, EntityType
from schemas.duplicates import DuplicateVerdict
from schemas.envelopes import SourceFormat
from schemas.ingest import RoutedChange
from schemas.outbound import OutboundRecord, SourcePosition
from schemas.quality import DataQuality, assess_quality
from schemas.record import MergeOutcome, RecordState, merge_change
from schemas.standardize.record import standardize_fields


@dataclass(frozen=True, slots=True)
class StandardizeOptions:
    """Locale choices a deployment makes once (see the settings of the same names)."""

    default_phone_region: str = "US"
    date_order: Literal["mdy", "dmy"] = "mdy"


class RecordView(BaseModel):
    """The current record as downstream consumers see it: standardized, with its lifecycle."""

    model_config = ConfigDict(frozen=True)

    entity_type: EntityType
    entity_id: str
    fields: dict[str, Any]
    attributes: dict[str, Any]
    derived: dict[str, Any] = Field(description="keys computed for matching, e.g. company_key")
    deleted: bool
    merged_into: str | None
    merged_ids: list[str]
    stale: bool
    created_at: AwareDatetime
    updated_at: AwareDatetime
    changes_applied: int


class EnrichedRecord(OutboundRecord):
    """A change on ``crm.enriched``: what happened, the record it produced, and its quality."""

    schema_version: Literal[3] = 3
    change: ChangeEvent
    merge_outcome: MergeOutcome
    record: RecordView
    quality: DataQuality
    source_position: SourcePosition
    source_format: SourceFormat | None
    enriched_at: AwareDatetime
    lag_ms: float = Field(description="enriched_at minus the change's occurred_at, in ms")
    duplicates: DuplicateVerdict | None = Field(
        default=None, description="near-duplicate verdict; None for types never matched"
    )

    def record_key(self) -> bytes:
        return self.change.record_key()


def enrich_change(
    routed: RoutedChange,
    state: RecordState | None,
    *,
    now: datetime,
    options: StandardizeOptions,
) -> tuple[RecordState, EnrichedRecord]:
    """Merge, standardize and assess one change; every change yields one enriched record."""
    change = routed.change
    merged, outcome = merge_change(state, change)
    standardized = standardize_fields(
        change.entity_type,
        merged.fields,
        default_region=options.default_phone_region,
        date_order=options.date_order,
    )
    quality = assess_quality(
        change.entity_type,
        merged.fields,
        standardized,
        occurred_at=change.occurred_at,
        processed_at=now,
        stale=merged.stale,
    )
    view = RecordView(
        entity_type=merged.entity_type,
        entity_id=merged.entity_id,
        fields=standardized.fields,
        attributes=merged.attributes,
        derived=standardized.derived,
        deleted=merged.deleted,
        merged_into=merged.merged_into,
        merged_ids=merged.merged_ids,
        stale=merged.stale,
        created_at=merged.created_at,
        updated_at=merged.updated_at,
        changes_applied=merged.changes_applied,
    )
    enriched = EnrichedRecord(
        change=change,
        merge_outcome=outcome,
        record=view,
        quality=quality,
        source_position=routed.source_position,
        source_format=routed.source_format,
        enriched_at=now,
        lag_ms=(now - change.occurred_at).total_seconds() * 1000.0,
    )
    return merged, enriched
