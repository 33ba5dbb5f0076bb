"""The pure duplicate matcher: blocking keys, field comparisons and decisions, pair by pair."""

from __future__ import annotations

import pickle

import pytest

from models.matching import (
    Decision,
    DuplicateMatcher,
    MatchRecord,
    blocking_keys,
    compare_profiles,
)
from schemas.standardize.record import standardize_fields

ADA = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada.lovelace@analytical.co.uk",
    "phone": "+44 20 7946 0018",
    "company": "Analytical Engines Ltd",
    "city": "London",
    "postal_code": "N1 9GU",
    "country": "GB",
}


def record(entity_type: str, entity_id: str, **fields: object) -> MatchRecord:
    """A record as the stream holds it: standardized fields and derived matching keys."""
    std = standardize_fields(entity_type, fields, default_region="GB", date_order="dmy")
    return MatchRecord(entity_type, entity_id, std.fields, std.derived)


def lead(entity_id: str = "lead-1", **changes: object) -> MatchRecord:
    fields = {**ADA, **changes}
    return record("lead", entity_id, **{k: v for k, v in fields.items() if v is not None})


def decide(a: MatchRecord, b: MatchRecord) -> Decision:
    return DuplicateMatcher().score_one(a, b).decision


def shares_key(a: MatchRecord, b: MatchRecord) -> bool:
    keys_a = blocking_keys(a.entity_type, a.fields, a.derived)
    return bool(keys_a & blocking_keys(b.entity_type, b.fields, b.derived))


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"first_name": "Lovelace", "last_name": "Ada"}, id="swapped_names"),
        pytest.param({"last_name": "Lovelcae"}, id="typo"),
        pytest.param({"first_name": "A."}, id="initial"),
        pytest.param({"email": "Ada.Lovelace@Analytical.co.uk"}, id="email_case"),
        pytest.param({"email": "adalovelace+crm@analytical.co.uk"}, id="email_dots_plus"),
        pytest.param({"email": "ada.lovelace@gmail.com"}, id="email_domain"),
        pytest.param({"phone": "020 7946 0018"}, id="phone_format"),
        pytest.param({"phone": None, "email": None}, id="missing_fields"),
        pytest.param({"company": "ANALYTICAL ENGINES LIMITED"}, id="company_variant"),
    ],
)
def test_variations_of_one_person_are_duplicates_and_share_a_key(
    changes: dict[str, object],
) -> None:
    original, variant = lead("lead-1"), lead("lead-2", **changes)
    assert decide(original, variant) is Decision.DUPLICATE
    assert shares_key(original, variant)


def test_a_lead_matches_the_contact_it_already_is() -> None:
    contact = record(
        "contact",
        "contact-1",
        first_name="Ada",
        last_name="Lovelace",
        email="ada.lovelace@analytical.co.uk",
        mailing_city="London",
        mailing_postal_code="N1 9GU",
        mailing_country="GB",
    )
    assert decide(lead(phone=None), contact) is Decision.DUPLICATE
    assert shares_key(lead(), contact)


def test_colleagues_at_the_same_company_stay_distinct() -> None:
    colleague = lead(
        "lead-2", first_name="Anne", email="anne.lovelace@analytical.co.uk", phone="+442079460999"
    )
    assert decide(lead(), colleague) is Decision.DISTINCT


def test_namesakes_with_nothing_else_in_common_are_not_duplicates() -> None:
    namesake = record(
        "lead", "lead-2", first_name="Ada", last_name="Lovelace", email="ada@other.io",
        city="Leeds", country="GB",
    )  # fmt: skip
    assert decide(lead(), namesake) is not Decision.DUPLICATE


def test_accounts_match_on_domain_and_name_but_never_a_person() -> None:
    acme = record("account", "account-1", name="Acme, Inc.", website="https://www.acme.com/")
    again = record("account", "account-2", name="ACME Incorporated", website="acme.com")
    assert decide(acme, again) is Decision.DUPLICATE
    assert shares_key(acme, again)
    assert decide(acme, lead()) is Decision.DISTINCT


def test_comparisons_cover_only_fields_present_in_both() -> None:
    a, b = lead(phone=None), lead(email=None)
    matcher = DuplicateMatcher()
    similarities = compare_profiles(matcher.profile(a), matcher.profile(b))
    assert "phone" not in similarities
    assert "email" not in similarities
    assert similarities["last_name"] == 1.0


def test_phone_suffix_and_near_birthdate_count_partly() -> None:
    similarities = compare_profiles(
        {"phone": "+442079460018", "birthdate": "1815-12-10"},
        {"phone": "+12079460018", "birthdate": "1815-10-12"},
    )
    assert similarities == {"phone": 0.8, "birthdate": 0.5}


def test_thresholds_cut_the_score_into_three_decisions() -> None:
    matcher = DuplicateMatcher(duplicate_threshold=0.9, review_threshold=0.5)
    assert [matcher.decide(s) for s in (0.95, 0.9, 0.7, 0.49)] == [
        Decision.DUPLICATE, Decision.DUPLICATE, Decision.POSSIBLE, Decision.DISTINCT,
    ]  # fmt: skip
    with pytest.raises(ValueError, match="thresholds"):
        DuplicateMatcher(duplicate_threshold=0.5, review_threshold=0.9)


def test_custom_fields_take_part_when_weighted() -> None:
    matcher = DuplicateMatcher(weights={"last_name": 1.0, "vat_id": 3.0}, min_weight=0.0)
    a = lead(vat_id="GB123")
    assert matcher.score_one(a, lead("lead-2", vat_id="GB123")).similarities["vat_id"] == 1.0
    assert matcher.score_one(a, lead("lead-2", vat_id="FR999")).decision is Decision.DISTINCT


def test_match_one_returns_the_non_distinct_candidates_best_first() -> None:
    matcher = DuplicateMatcher()
    found = matcher.match_one(
        lead(), [lead("lead-1"), lead("lead-2", last_name="Lovelcae"), lead("lead-3")]
    )
    assert [entity_id for entity_id, _ in found] == ["lead-3", "lead-2"]


def test_matcher_pickles() -> None:
    matcher = DuplicateMatcher(duplicate_threshold=0.9)
    assert pickle.loads(pickle.dumps(matcher)).duplicate_threshold == 0.9
