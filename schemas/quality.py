"""Data quality of one record: complete, valid, corrected, on time.

Computed per record after standardization and published with it on ``crm.enriched``, so
Grafana can chart it and sales ops can find the records to fix:

* completeness: the share of the entity type's expected fields (see
  :mod:`schemas.entities` for which and why) that are present and not empty, and the list of
  those missing. Assess the merged record, not a partial CDC update, or an update touching
  one field would look nearly empty;
* validity: the fields whose values could not be standardized, with reason codes;
* corrections: the fields standardization changed, and the flags it raised;
* timeliness: processing time minus the change's ``occurred_at`` in milliseconds (negative
  when the CRM's clock runs ahead), and whether the change arrived stale (the caller decides
  what stale means, e.g. older than the record's current state).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from schemas.change import EntityType
from schemas.entities import ENTITIES
from schemas.standardize.record import StandardizedFields

__all__ = ["DataQuality", "assess_quality"]


class DataQuality(BaseModel):
    """Quality of one record as published on ``crm.enriched``.

    >>> DataQuality(completeness=1.0, timeliness_ms=12.5, stale=False).missing_fields
    []
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    completeness: float = Field(ge=0.0, le=1.0, description="share of expected fields present")
    missing_fields: list[str] = Field(default_factory=list, description="expected, but empty")
    invalid_fields: dict[str, str] = Field(default_factory=dict, description="field -> reason code")
    corrected_fields: list[str] = Field(default_factory=list)
    flagged_fields: dict[str, list[str]] = Field(
        default_factory=dict, description="field -> flag codes"
    )
    timeliness_ms: float = Field(description="processed_at minus occurred_at, in ms")
    stale: bool


def assess_quality(
    entity_type: EntityType | str,
    record_fields: Mapping[str, object],
    standardized: StandardizedFields,
    *,
    occurred_at: datetime,
    processed_at: datetime,
    stale: bool,
) -> DataQuality:
    """The quality of ``record_fields``, standardized as ``standardized``.

    >>> from datetime import UTC, timedelta
    >>> from schemas.standardize import standardize_fields
    >>> record = {"type": "call", "subject": "Intro", "related_type": "lead",
    ...           "related_id": "lead-1", "activity_date": "yesterday"}
    >>> done = standardize_fields("activity", record, default_region="US", date_order="mdy")
    >>> at = datetime(2026, 1, 5, tzinfo=UTC)
    >>> quality = assess_quality("activity", record, done, occurred_at=at,
    ...                          processed_at=at + timedelta(seconds=2), stale=False)
    >>> quality.completeness, quality.invalid_fields, quality.timeliness_ms
    (1.0, {'activity_date': 'invalid_date'}, 2000.0)
    """
    expected = ENTITIES[EntityType(entity_type)].expected
    missing = [name for name in expected if not _present(record_fields.get(name))]
    completeness = 1.0 - len(missing) / len(expected) if expected else 1.0
    return DataQuality(
        completeness=completeness,
        missing_fields=missing,
        invalid_fields=dict(standardized.invalid),
        corrected_fields=list(standardized.corrected),
        flagged_fields={name: list(flags) for name, flags in standardized.flags.items()},
        timeliness_ms=(processed_at - occurred_at).total_seconds() * 1000.0,
        stale=stale,
    )


def _present(value: object) -> bool:
    """Not ``None``, not blank text, not an empty list or object."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | dict | tuple):
        return bool(value)
    return True
