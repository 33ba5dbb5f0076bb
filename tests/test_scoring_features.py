"""Feature extraction: what a user of the lead score and churn risk would notice."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from models.scoring.features import (
    FEATURE_KINDS,
    CappedOneHotEncoder,
    Engagement,
    FeatureConfig,
    FeatureExtractor,
    engagement_targets,
    update_engagement,
)
from schemas.entities import ENTITIES, FIELD_VOCABULARY, FieldKind

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EXTRACTOR = FeatureExtractor()


def test_missing_number_gives_an_indicator_and_no_value() -> None:
    features = EXTRACTOR.extract("lead", {"industry": "Retail"}, now=NOW)
    assert "employees" not in features
    assert features["employees_missing"] == 1.0
    assert features["industry"] == "Retail"


def test_present_number_is_log_scaled_without_indicator() -> None:
    features = EXTRACTOR.extract("account", {"employees": 999}, now=NOW)
    assert math.isclose(features["employees"], math.log(1000))
    assert "employees_missing" not in features


def test_date_thirty_days_before_now_is_recency_thirty() -> None:
    thirty_days_ago = (NOW - timedelta(days=30)).date().isoformat()
    features = EXTRACTOR.extract("account", {"contract_end_date": thirty_days_ago}, now=NOW)
    assert features["contract_end_date_days_ago"] == 30.0


def test_future_date_is_negative_and_record_age_uses_created_at() -> None:
    features = EXTRACTOR.extract(
        "opportunity",
        {"close_date": (NOW + timedelta(days=14)).date().isoformat()},
        now=NOW,
        created_at=NOW - timedelta(days=2),
    )
    assert features["close_date_days_ago"] == -14.0
    assert features["record_age_days"] == 2.0


def test_category_beyond_the_cap_shares_other() -> None:
    encoder = CappedOneHotEncoder(max_categories=2)
    for source in ("web", "referral", "event", "partner"):
        encoder.learn_one({"lead_source": source})
    assert encoder.transform_one({"lead_source": "web"}) == {"lead_source=web": 1.0}
    assert encoder.transform_one({"lead_source": "partner"}) == {"lead_source=__other__": 1.0}


def test_ids_contact_data_and_free_text_never_become_features() -> None:
    fields = {
        "email": "ada@example.com",
        "phone": "+14155550100",
        "first_name": "Ada",
        "company": "Acme",
        "street": "1 Main St",
        "website": "acme.com",
        "title": "Chief Technology Officer",
        "account_id": "account-1",
    }
    attributes = {
        "external_id": "X-99",
        "AccountId": "001ABC",
        "notes": "met at the fair",
        "tier": "gold",
        "summary": "a long sentence about this lead and what they want",
        "crm_ref": "4815162342",
        "contact": "someone@example.com",
    }
    features = EXTRACTOR.extract("lead", fields, attributes, now=NOW)
    assert features["title_seniority"] == "c_level"
    assert features["attr.tier"] == "gold"
    leaked = {"email", "phone", "first_name", "company", "street", "website", "title"}
    assert not leaked & set(features)
    assert not {k for k in features if k.startswith("attr.") and k != "attr.tier"}


def test_outcome_fields_are_excluded_and_lists_apply() -> None:
    fields = {"status": "churned", "churn_date": "2026-02-01", "plan": "pro", "employees": 10}
    default = EXTRACTOR.extract("account", fields, now=NOW)
    assert "status" not in default
    assert "churn_date_days_ago" not in default
    only = FeatureExtractor(FeatureConfig(include=frozenset({"plan", "employees"})))
    assert set(only.extract("account", fields, now=NOW)) == {"plan", "employees"}
    without = FeatureExtractor(FeatureConfig(exclude=frozenset({"annual_revenue"})))
    assert "annual_revenue_missing" not in without.extract("account", fields, now=NOW)


def test_engagement_windows_recency_and_opportunities() -> None:
    engagement = None
    for activity_id, days_ago in (("a1", 40), ("a2", 10), ("a3", 3)):
        at = NOW - timedelta(days=days_ago)
        engagement = update_engagement(
            engagement,
            "activity",
            activity_id,
            {"activity_date": at.isoformat().replace("+00:00", "Z")},
            occurred_at=at,
        )
    assert engagement is not None
    engagement = update_engagement(
        engagement, "opportunity", "o1", {"amount": 999, "stage": "proposal"}, occurred_at=NOW
    )
    engagement = update_engagement(
        engagement, "opportunity", "o2", {"amount": 500, "stage": "closed_won"}, occurred_at=NOW
    )
    features = EXTRACTOR.extract(
        "account", {}, now=NOW, created_at=NOW - timedelta(days=60), engagement=engagement
    )
    assert features["activities_7d"] == 1.0
    assert features["activities_30d"] == 2.0
    assert features["activities_total"] == 3.0
    assert math.isclose(features["days_since_last_activity"], 3.0)
    assert math.isclose(features["silent_share"], 3.0 / 60.0)
    assert features["open_opportunities"] == 1.0
    assert math.isclose(features["open_opportunity_amount"], math.log(1000))
    assert features["opportunities_won"] == 1.0
    assert Engagement.from_dict(engagement.to_dict()) == engagement


def test_a_future_meeting_counts_when_logged() -> None:
    meeting = NOW + timedelta(days=7)
    engagement = update_engagement(
        None, "activity", "m1", {"activity_date": meeting.isoformat()}, occurred_at=NOW
    )
    assert engagement.features(NOW)["days_since_last_activity"] == 0.0


def test_engagement_targets_follow_contacts_to_their_account() -> None:
    assert engagement_targets("opportunity", {"account_id": "A1"}) == (("account", "A1"),)
    activity = {"related_type": "lead", "related_id": "L1"}
    assert engagement_targets("activity", activity) == (("lead", "L1"),)


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

_ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=60),
    st.dates().map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
_ENTITY = st.sampled_from(sorted(FIELD_VOCABULARY))


@st.composite
def _records(draw: st.DrawFn) -> tuple[str, dict[str, object], dict[str, object]]:
    entity_type = draw(_ENTITY)
    names = list(FIELD_VOCABULARY[entity_type])
    fields = draw(st.dictionaries(st.sampled_from(names), _ANY_VALUE, max_size=len(names)))
    attributes = draw(st.dictionaries(st.text(max_size=12), _ANY_VALUE, max_size=5))
    return entity_type, fields, attributes


def _allowed_sources(entity_type: str) -> set[str]:
    spec = ENTITIES[entity_type]  # type: ignore[index]
    return {name for name, f in spec.fields.items() if f.kind in FEATURE_KINDS}


@settings(max_examples=300, deadline=None)
@given(
    _records(),
    st.datetimes(datetime(1971, 1, 1), datetime(2200, 1, 1), timezones=st.just(UTC)),
)
def test_extraction_never_raises_and_is_finite(
    record: tuple[str, dict[str, object], dict[str, object]], now: datetime
) -> None:
    entity_type, fields, attributes = record
    engagement = Engagement().with_activity("a", now.timestamp() - 3600.0)
    features = EXTRACTOR.extract(
        entity_type,
        fields,
        attributes,
        now=now,
        created_at=now - timedelta(days=1),
        engagement=engagement,
    )
    for name, value in features.items():
        assert isinstance(name, str)
        if isinstance(value, float):
            assert math.isfinite(value), name
        else:
            assert isinstance(value, str)
            assert 0 < len(value) <= EXTRACTOR.config.max_category_length


_ENGAGEMENT_AND_RECORD = {
    "record_age_days",
    "silent_share",
    "activities_7d",
    "activities_30d",
    "activities_total",
    "days_since_last_activity",
    "open_opportunities",
    "open_opportunity_amount",
    "opportunities_won",
    "opportunities_lost",
    "contacts",
    "title_seniority",
}


@settings(max_examples=300, deadline=None)
@given(_records())
def test_no_id_or_free_text_field_becomes_a_feature(
    record: tuple[str, dict[str, object], dict[str, object]],
) -> None:
    entity_type, fields, attributes = record
    features = EXTRACTOR.extract(entity_type, fields, attributes, now=NOW)
    allowed = _allowed_sources(entity_type)
    never = {
        name
        for name, spec in ENTITIES[entity_type].fields.items()  # type: ignore[index]
        if spec.kind not in FEATURE_KINDS
    }
    for name in features:
        if name.startswith("attr."):
            value = features[name]
            if isinstance(value, str):
                assert "@" not in value
                assert "://" not in value
            continue
        source = name.removesuffix("_days_ago").removesuffix("_missing")
        assert source in allowed or name in _ENGAGEMENT_AND_RECORD, name
        assert source not in never
    assert FieldKind.REFERENCE not in FEATURE_KINDS
    assert FieldKind.TEXT not in FEATURE_KINDS
