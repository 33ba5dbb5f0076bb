"""Data quality of a record: completeness, validity, corrections, timeliness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.change import EntityType
from schemas.entities import ENTITIES, FIELD_VOCABULARY
from schemas.quality import DataQuality, assess_quality
from schemas.standardize import standardize_fields

OCCURRED = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def assess(entity_type: str, fields: dict[str, object], **kwargs: object) -> DataQuality:
    standardized = standardize_fields(entity_type, fields, default_region="US", date_order="mdy")
    processed = kwargs.get("processed_at", OCCURRED + timedelta(milliseconds=250))
    assert isinstance(processed, datetime)
    return assess_quality(
        entity_type,
        fields,
        standardized,
        occurred_at=OCCURRED,
        processed_at=processed,
        stale=bool(kwargs.get("stale", False)),
    )


def test_a_complete_clean_lead() -> None:
    lead = {
        "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
        "phone": "+14155552671", "company": "Analytical Engines Ltd", "title": "CTO",
        "industry": "Technology", "country": "US",
    }  # fmt: skip
    quality = assess("lead", lead)
    assert quality == DataQuality(
        completeness=1.0,
        missing_fields=[],
        invalid_fields={},
        corrected_fields=[],
        flagged_fields={},
        timeliness_ms=250.0,
        stale=False,
    )


def test_missing_invalid_and_corrected_fields_are_reported() -> None:
    lead = {
        "first_name": "ADA", "last_name": "  ", "email": "ada@", "phone": None,
        "company": "Acme", "country": "Deutschland", "custom": "x",
    }  # fmt: skip
    quality = assess("lead", lead, stale=True)
    assert quality.missing_fields == ["last_name", "phone", "title", "industry"]
    assert quality.completeness == pytest.approx(4 / 8)
    assert quality.invalid_fields == {"email": "invalid_email"}
    assert quality.corrected_fields == ["first_name", "last_name", "country"]
    assert quality.stale


def test_timeliness_is_processing_minus_occurrence() -> None:
    late = assess("activity", {"type": "call"}, processed_at=OCCURRED + timedelta(minutes=2))
    early = assess("activity", {"type": "call"}, processed_at=OCCURRED - timedelta(seconds=1))
    assert (late.timeliness_ms, early.timeliness_ms) == (120_000.0, -1000.0)


def test_flags_travel_with_the_quality() -> None:
    quality = assess("contact", {"email": "info@gmail.com"})
    assert quality.flagged_fields == {"email": ["free_mail", "role_address"]}


def test_data_quality_is_a_frozen_published_contract() -> None:
    quality = assess("account", {"name": "Acme"})
    with pytest.raises(ValidationError):
        quality.completeness = 0.5  # type: ignore[misc]
    assert DataQuality.model_validate_json(quality.model_dump_json()) == quality
    with pytest.raises(ValidationError):
        DataQuality(completeness=1.5, timeliness_ms=0.0, stale=False)


@given(
    entity_type=st.sampled_from(list(EntityType)),
    data=st.data(),
)
def test_completeness_is_the_share_of_expected_fields_present(
    entity_type: EntityType, data: st.DataObject
) -> None:
    names = st.sampled_from(FIELD_VOCABULARY[entity_type.value])
    values = st.one_of(st.none(), st.just(""), st.just("x"), st.integers())
    fields = data.draw(st.dictionaries(names, values))
    quality = assess(entity_type.value, fields)
    expected = ENTITIES[entity_type].expected
    present = [name for name in expected if fields.get(name) not in (None, "")]
    assert 0.0 <= quality.completeness <= 1.0
    assert quality.completeness == pytest.approx(len(present) / len(expected))
    assert set(quality.missing_fields) == set(expected) - set(present)
