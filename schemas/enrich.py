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


class ScoreFactor(BaseModel):
    """One input's push on a score, in log-odds (positive: towards the outcome)."""

    model_config = ConfigDict(frozen=True)

    feature: str = Field(description="feature name; a category as 'field=value'")
    value: float | str = Field(description="the input as the record had it")
    contribution: float = Field(description="weight times scaled value, in log-odds")


class ModelScore(BaseModel):
    """A record's outcome score: what ``crm.scores`` carries and the enriched record repeats.

    ``model_ready`` is false while the model has learned fewer labels than its minimum:
    the score exists, but nobody should act on it yet. ``anomaly_score`` and ``is_outlier``
    judge how unusual the record's watched numbers are (an opportunity's amount, an account's
    size and revenue), unsupervised and apart from the outcome model.
    """

    model_config = ConfigDict(frozen=True)

    model: str = Field(
        description="outcome model: lead_score (leads), churn_risk (accounts) or "
        "win_probability (opportunities)"
    )
    model_version: int = Field(ge=0, description="checkpoint that scored; 0 before the first")
    model_ready: bool
    labels: int = Field(ge=0, description="labels the scoring checkpoint had learned")
    probability: float = Field(ge=0.0, le=1.0, description="calibrated outcome probability")
    score: int = Field(ge=0, le=100, description="the probability as a 0-100 score")
    tier: Literal["A", "B", "C", "D"]
    churn_risk: float | None = Field(
        default=None, description="accounts: the probability of churn; None for other types"
    )
    positive_factors: list[ScoreFactor] = Field(default_factory=list)
    negative_factors: list[ScoreFactor] = Field(default_factory=list)
    challenger_probability: float | None = Field(
        default=None, description="the shadow challenger's probability (None before it learns)"
    )
    anomaly_score: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="how unusual the record's watched numbers are, 0-1 (higher is stranger), "
        "against the records before it; None for types without watched numbers (leads), "
        "records lacking one, or while the worker's detector learns its first records",
    )
    is_outlier: bool | None = Field(
        default=None,
        description="the anomaly score is among the highest of recent records and a watched "
        "number is far from its mean; None whenever anomaly_score is",
    )
    features_at: AwareDatetime = Field(
        description="the moment the features describe: the change's occurred_at"
    )
    scored_at: AwareDatetime = Field(description="when the worker computed the score")


class ScoreEvent(OutboundRecord):
    """A record's score on ``crm.scores``, keyed like its enriched record."""

    schema_version: Literal[1] = 1
    entity_type: EntityType
    entity_id: str
    event_id: str = Field(description="the change that led to this scoring")
    score: ModelScore

    def record_key(self) -> bytes:
        return f"{self.entity_type.value}:{self.entity_id}".encode()


class EnrichedRecord(OutboundRecord):
    """A change on ``crm.enriched``: what happened, the record it produced, and its quality."""

    schema_version: Literal[4] = 4
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
    score: ModelScore | None = Field(
        default=None,
        description="lead score, churn risk or win probability, as on crm.scores; None otherwise",
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
