"""Standardizing whole records: the canonical entities, the per-field dispatch, and the
synthetic CRM's output, which is realistic enough that nearly everything in it is valid."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.change import EntityType
from schemas.entities import ENTITIES, FIELD_VOCABULARY, FieldKind
from schemas.standardize import standardize_fields
from streams.generator import FIELD_VOCABULARY as GENERATOR_VOCABULARY
from streams.generator import CrmSimulation

LEAD = {
    "first_name": "KATHERINE",
    "last_name": "o'neil",
    "email": " K.ONeil@Vertex-Manufacturing.com ",
    "phone": "(415) 555-2671",
    "company": "Vertex Manufacturing, Inc.",
    "title": "Finance  Director",
    "industry": "Manufacturing",
    "lead_source": "web",
    "status": "Working",
    "is_converted": "no",
    "country": "United States",
    "state": "california",
    "city": "San Francisco",
    "postal_code": 94107,
    "street": "468 Sunset Street",
    "employees": "1,200",
    "annual_revenue": "$12.5M",
    "website": "https://www.vertex-manufacturing.com/about",
    "rating": "HOT",
    "hubspot_score": {"value": 7},
}


def standardize(entity_type: str, fields: Mapping[str, object]) -> object:
    return standardize_fields(entity_type, fields, default_region="US", date_order="mdy")


def test_entities_define_the_generators_vocabulary() -> None:
    assert GENERATOR_VOCABULARY is FIELD_VOCABULARY
    assert set(FIELD_VOCABULARY) == {entity_type.value for entity_type in EntityType}
    for entity_type, spec in ENTITIES.items():
        assert FIELD_VOCABULARY[entity_type.value] == tuple(spec.fields)
        assert spec.expected, entity_type
        assert all(field.kind in FieldKind for field in spec.fields.values())
        if spec.country_field is not None:
            assert spec.fields[spec.country_field].kind is FieldKind.COUNTRY


def test_a_messy_lead_comes_out_canonical() -> None:
    result = standardize_fields("lead", LEAD, default_region="GB", date_order="mdy")
    assert result.fields == {
        "first_name": "Katherine",
        "last_name": "O'Neil",
        "email": "k.oneil@vertex-manufacturing.com",
        "phone": "+14155552671",  # read in the record's country, not the default region
        "company": "Vertex Manufacturing, Inc.",
        "title": "Finance Director",
        "industry": "Manufacturing",
        "lead_source": "web",
        "status": "working",
        "is_converted": False,
        "country": "US",
        "state": "CA",
        "city": "San Francisco",
        "postal_code": "94107",
        "street": "468 Sunset Street",
        "employees": 1200,
        "annual_revenue": 12500000,
        "website": "vertex-manufacturing.com",
        "rating": "hot",
        "hubspot_score": {"value": 7},  # not canonical: passed through untouched
    }
    assert result.invalid == {}
    assert result.derived == {
        "email_domain": "vertex-manufacturing.com",
        "company_key": "vertex manufacturing",
        "annual_revenue_currency": "USD",
        "website_domain": "vertex-manufacturing.com",
    }
    assert result.flags == {
        "employees": ["ambiguous_separator"],  # 1.2 thousand, or 1.200? Read as 1200.
        "annual_revenue": ["assumed_currency", "multiplier"],
    }
    assert "industry" not in result.corrected
    assert result.corrected == [
        name for name in LEAD if name not in ("industry", "lead_source", "city", "street",
                                              "company", "hubspot_score")
    ]  # fmt: skip


def test_invalid_values_are_kept_and_reported() -> None:
    fields = {"email": "not-an-email", "phone": "12", "country": "Atlantis", "rating": "lukewarm"}
    result = standardize("lead", fields)
    assert result.fields == fields
    assert result.invalid == {
        "email": "invalid_email",
        "phone": "invalid_phone",
        "country": "unknown_country",
        "rating": "unknown_category",
    }
    assert result.corrected == []
    assert result.derived == {}


def test_the_records_country_sets_phone_region_state_and_postcode_rules() -> None:
    contact = {"phone": "030 12345678", "mailing_postal_code": "1011", "mailing_country": "DE"}
    result = standardize("contact", contact)
    assert result.fields["phone"] == "+493012345678"
    assert result.fields["mailing_postal_code"] == "01011"
    account = {"phone": "020 7946 0958", "billing_postal_code": "sw1a1aa",
               "billing_state": "Greater London", "billing_country": "UK"}  # fmt: skip
    assert standardize("account", account).fields == {
        "phone": "+442079460958",
        "billing_postal_code": "SW1A 1AA",
        "billing_state": "Greater London",
        "billing_country": "GB",
    }


def test_without_a_country_phones_are_read_in_the_default_region() -> None:
    result = standardize_fields(
        "contact", {"phone": "020 7946 0958"}, default_region="GB", date_order="dmy"
    )
    assert result.fields["phone"] == "+442079460958"
    assert standardize("contact", {"phone": "020 7946 0958"}).invalid == {"phone": "invalid_phone"}


def test_dates_follow_the_configured_order() -> None:
    fields = {"close_date": "03/04/2025", "amount": "1.234,50 €"}
    dmy = standardize_fields("opportunity", fields, default_region="DE", date_order="dmy")
    mdy = standardize_fields("opportunity", fields, default_region="US", date_order="mdy")
    assert (dmy.fields["close_date"], mdy.fields["close_date"]) == ("2025-04-03", "2025-03-04")
    assert dmy.flags == {"close_date": ["ambiguous_date"]}
    assert dmy.fields["amount"] == 1234.5
    assert dmy.derived == {"amount_currency": "EUR"}
    activity = standardize("activity", {"activity_date": 1741082400000})
    assert activity.fields == {"activity_date": "2025-03-04T10:00:00Z"}


def test_a_wrong_default_region_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="default_region"):
        standardize_fields("lead", {}, default_region="Atlantis", date_order="mdy")


# What a parsed JSON document can hold in a field (orjson's integers are 64-bit).
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)


@settings(deadline=None)
@given(
    entity_type=st.sampled_from(list(EntityType)),
    data=st.data(),
)
def test_records_are_json_ready_and_standardizing_twice_changes_nothing(
    entity_type: EntityType, data: st.DataObject
) -> None:
    names = st.sampled_from([*FIELD_VOCABULARY[entity_type.value], "custom_field"])
    fields = data.draw(st.dictionaries(names, values, max_size=8))
    first = standardize(entity_type.value, fields)
    orjson.dumps(first.fields, option=orjson.OPT_NON_STR_KEYS)
    orjson.dumps(first.derived)
    assert set(first.fields) == set(fields)
    assert set(first.invalid) <= set(fields)
    again = standardize(entity_type.value, first.fields)
    assert orjson.dumps(again.fields) == orjson.dumps(first.fields)
    assert again.invalid == first.invalid


def test_the_synthetic_crm_is_almost_entirely_valid() -> None:
    """5,000 generated events, merged per record as the pipeline's state step does (a CDC
    update alone lacks the country that says how to read its phone number)."""
    records: dict[str, dict[str, object]] = {}
    seen: Counter[FieldKind] = Counter()
    bad: Counter[FieldKind] = Counter()
    company_keys = 0
    for event in CrmSimulation(seed=2024).events(5000):
        if event.expected_error is not None:
            continue
        document = orjson.loads(event.value)
        record = records.setdefault(document["entity_id"], {})
        record.update(document["fields"])
        result = standardize(document["entity_type"], record)
        spec = ENTITIES[EntityType(document["entity_type"])]
        for name in document["fields"]:
            kind = spec.fields[name].kind
            seen[kind] += 1
            bad[kind] += name in result.invalid
        company_keys += "company_key" in result.derived
    for kind in (FieldKind.EMAIL, FieldKind.PHONE, FieldKind.COUNTRY):
        assert seen[kind] > 500, kind
        assert bad[kind] / seen[kind] <= 0.01, kind
    assert sum(bad.values()) / sum(seen.values()) <= 0.005
    assert company_keys > 1000
