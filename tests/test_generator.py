"""The synthetic CRM generator: reproducible, well-formed, and faithful to its ground truth.

Most checks replay one 20,000-event run the way a consumer would (parse, merge partial
updates onto records) and compare what they see with what the generator says it made.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import phonenumbers
import pytest
from rapidfuzz import fuzz, utils

from schemas.change import ChangeEvent, ChangeOp
from schemas.errors import ErrorCode, InvalidChange
from schemas.native import parse_native_change
from streams.generator import (
    FIELD_VOCABULARY,
    INVALID_KINDS,
    CrmSimulation,
    GeneratedEvent,
    generate_events,
    record_lifetimes,
)

COUNT = 20_000
SEED = 11
OUTCOME_FIELDS: dict[str, dict[str, dict[str, object]]] = {
    "lead": {"converted": {"status": "converted", "is_converted": True}, "disqualified": {}},
    "opportunity": {
        "won": {"stage": "closed_won", "is_won": True, "is_closed": True},
        "lost": {"stage": "closed_lost", "is_closed": True},
    },
    "account": {"churned": {"status": "churned"}, "renewed": {}},
}


@dataclass
class Replay:
    """A generated run as a consumer sees it, with the merged records at every outcome."""

    simulation: CrmSimulation
    events: list[GeneratedEvent]
    parsed: dict[int, ChangeEvent] = field(default_factory=dict)
    created_at: dict[str, int] = field(default_factory=dict)  # entity id -> index of create
    entity_type_of: dict[str, str] = field(default_factory=dict)
    # Merged records just before an outcome (index -> the outcome's record, activities so far)
    # and just before a duplicate was created (index -> the record it duplicates).
    state_before: dict[int, dict[str, Any]] = field(default_factory=dict)
    activities_before: dict[int, int] = field(default_factory=dict)
    original_before: dict[int, dict[str, Any]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def replay() -> Replay:
    simulation = CrmSimulation(SEED)
    run = Replay(simulation, list(simulation.events(COUNT)))
    outcomes = {o.index for o in simulation.ground_truth.outcomes}
    duplicate_of = {d.index: d.duplicate_of for d in simulation.ground_truth.duplicates}
    records: dict[str, dict[str, Any]] = {}
    activities: Counter[str] = Counter()
    for event in run.events:
        if event.expected_error is not None:
            continue
        change = parse_native_change(event.value)
        run.parsed[event.index] = change
        entity_id = change.entity_id
        if change.op is ChangeOp.CREATE:
            run.created_at.setdefault(entity_id, event.index)
            run.entity_type_of[entity_id] = change.entity_type.value
            records[entity_id] = {}
            if change.entity_type.value == "activity":
                activities[change.fields["related_id"]] += 1
        if event.index in outcomes:
            run.state_before[event.index] = dict(records[entity_id])
            run.activities_before[event.index] = activities[entity_id]
        if event.index in duplicate_of:
            run.original_before[event.index] = dict(records[duplicate_of[event.index]])
        # Deleted records keep their last state: a later duplicate may still copy it.
        records[entity_id].update(change.fields)
    return run


def _full_name(fields: dict[str, Any]) -> str:
    return f"{fields.get('first_name', '')} {fields.get('last_name', '')}"


def _name_similarity(a: dict[str, Any], b: dict[str, Any]) -> float:
    return fuzz.token_sort_ratio(_full_name(a), _full_name(b), processor=utils.default_process)


def _auc(labels: list[int], scores: list[float]) -> float:
    """Probability that a random positive outranks a random negative (ties count half)."""
    positives = [s for s, y in zip(scores, labels, strict=True) if y]
    negatives = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def _rate(labels: Iterable[int]) -> float:
    values = list(labels)
    assert values, "no outcomes in this group"
    return sum(values) / len(values)


# -- reproducibility ---------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes_and_ground_truth() -> None:
    first, second = CrmSimulation(5), CrmSimulation(5)
    assert [(e.key, e.value) for e in first.events(3000)] == [
        (e.key, e.value) for e in second.events(3000)
    ]
    assert first.ground_truth.to_json() == second.ground_truth.to_json()


def test_different_seeds_give_different_events() -> None:
    first = [e.value for e in generate_events(200, seed=1)]
    second = [e.value for e in generate_events(200, seed=2)]
    assert sum(a != b for a, b in zip(first, second, strict=True)) > 190


@pytest.mark.parametrize("count", [0, 1, 7, 1234])
def test_produces_exactly_count_events_in_order(count: int) -> None:
    simulation = CrmSimulation(3)
    events = list(simulation.events(count))
    assert [e.index for e in events] == list(range(count))
    assert simulation.ground_truth.count == count


def test_events_called_again_continues_the_same_run() -> None:
    simulation = CrmSimulation(9)
    resumed = [e.value for e in simulation.events(100)] + [e.value for e in simulation.events(50)]
    assert resumed == [e.value for e in generate_events(150, seed=9)]


@pytest.mark.parametrize(
    ("duplicate_share", "invalid_share"), [(-0.1, 0.02), (1.5, 0.02), (0.05, 2.0)]
)
def test_rejects_shares_outside_zero_to_one(duplicate_share: float, invalid_share: float) -> None:
    with pytest.raises(ValueError, match="share"):
        CrmSimulation(1, duplicate_share=duplicate_share, invalid_share=invalid_share)


def test_rejects_a_negative_count() -> None:
    with pytest.raises(ValueError, match="count"):
        list(generate_events(-1, seed=1))


def test_zero_shares_give_only_valid_events_and_no_duplicates() -> None:
    simulation = CrmSimulation(4, duplicate_share=0.0, invalid_share=0.0)
    assert all(e.expected_error is None for e in simulation.events(3000))
    assert not simulation.ground_truth.duplicates


# -- well-formed events ------------------------------------------------------------------------


def test_every_valid_event_parses_and_matches_its_metadata(replay: Replay) -> None:
    valid = [e for e in replay.events if e.expected_error is None]
    assert len(replay.parsed) == len(valid)
    for event in valid:
        change = replay.parsed[event.index]
        assert change.event_id == event.event_id
        assert change.entity_type.value == event.entity_type
        assert event.key == change.entity_id.encode()


def test_every_invalid_event_fails_with_its_expected_code(replay: Replay) -> None:
    invalid = [e for e in replay.events if e.expected_error is not None]
    for event in invalid:
        with pytest.raises(InvalidChange) as caught:
            parse_native_change(event.value)
        codes = {error.code for error in caught.value.errors}
        assert event.expected_error in codes, (event.value[:200], codes)
    kinds = Counter(item.kind for item in replay.simulation.ground_truth.invalid)
    assert set(kinds) == set(INVALID_KINDS), "every kind of breakage appears"


def test_each_kind_of_breakage_has_one_expected_code() -> None:
    assert set(INVALID_KINDS.values()) == {
        ErrorCode.MALFORMED_JSON,
        ErrorCode.INVALID_UTF8,
        ErrorCode.NOT_AN_OBJECT,
        ErrorCode.MISSING_FIELD,
        ErrorCode.UNKNOWN_ENTITY_TYPE,
        ErrorCode.UNKNOWN_OP,
        ErrorCode.INVALID_TIMESTAMP,
        ErrorCode.WRONG_TYPE,
        ErrorCode.UNKNOWN_FIELD,
        ErrorCode.EMPTY_CHANGE,
    }


def test_ground_truth_lists_exactly_the_invalid_events(replay: Replay) -> None:
    truth = {item.index: item for item in replay.simulation.ground_truth.invalid}
    invalid = [e for e in replay.events if e.expected_error is not None]
    assert sorted(truth) == [e.index for e in invalid]
    for event in invalid:
        item = truth[event.index]
        assert item.expected_error == event.expected_error
        assert item.event_id == event.event_id
        assert item.sha256 == hashlib.sha256(event.value).hexdigest()


def test_invalid_share_is_close_to_the_configured_share(replay: Replay) -> None:
    share = sum(e.expected_error is not None for e in replay.events) / COUNT
    assert 0.016 <= share <= 0.024


def test_occurred_at_strictly_increases(replay: Replay) -> None:
    moments = [replay.parsed[i].occurred_at for i in sorted(replay.parsed)]
    assert all(a < b for a, b in itertools.pairwise(moments))
    assert all(moment.utcoffset() is not None for moment in moments)


def test_fields_come_from_the_documented_vocabulary(replay: Replay) -> None:
    for change in replay.parsed.values():
        vocabulary = FIELD_VOCABULARY[change.entity_type.value]
        assert set(change.fields) <= set(vocabulary), (change.entity_type, change.fields)


def test_all_entity_types_and_ops_occur(replay: Replay) -> None:
    seen = Counter((c.entity_type.value, c.op.value) for c in replay.parsed.values())
    for entity_type in FIELD_VOCABULARY:
        assert seen[(entity_type, "create")] > 100
        assert seen[(entity_type, "update")] > 100
    assert sum(n for (_, op), n in seen.items() if op == "delete") > 50
    counts = replay.simulation.ground_truth.counts
    assert {(t, op): n for t, ops in counts.items() for op, n in ops.items() if n} == dict(seen)


# -- a realistic order -------------------------------------------------------------------------


def test_creates_come_first_and_nothing_follows_a_delete(replay: Replay) -> None:
    created: set[str] = set()
    deleted: set[str] = set()
    for index in sorted(replay.parsed):
        change = replay.parsed[index]
        assert change.entity_id not in deleted, f"event after delete at {index}"
        if change.op is ChangeOp.CREATE:
            assert change.entity_id not in created, "created twice"
            created.add(change.entity_id)
        else:
            assert change.entity_id in created, f"{change.op} before create at {index}"
        if change.op is ChangeOp.DELETE:
            deleted.add(change.entity_id)


def test_references_point_to_records_created_earlier(replay: Replay) -> None:
    for index, change in replay.parsed.items():
        fields = change.fields
        if "account_id" in fields:
            assert replay.entity_type_of[fields["account_id"]] == "account"
            assert replay.created_at[fields["account_id"]] < index
        if change.entity_type.value == "activity" and change.op is ChangeOp.CREATE:
            assert replay.entity_type_of[fields["related_id"]] == fields["related_type"]
            assert replay.created_at[fields["related_id"]] < index


def test_creates_carry_most_fields_and_updates_one_to_three(replay: Replay) -> None:
    outcome_indexes = {o.index for o in replay.simulation.ground_truth.outcomes}
    minimum_on_create = {"lead": 9, "contact": 6, "account": 10, "opportunity": 8, "activity": 5}
    for index, change in replay.parsed.items():
        if change.op is ChangeOp.CREATE:
            assert len(change.fields) >= minimum_on_create[change.entity_type.value]
        elif change.op is ChangeOp.UPDATE and index not in outcome_indexes:
            assert 1 <= len(change.fields) <= 3, change.fields
        elif change.op is ChangeOp.DELETE:
            assert change.fields == {}


def test_updates_only_carry_fields_that_changed(replay: Replay) -> None:
    records: dict[str, dict[str, Any]] = {}
    unchanged = 0
    updates = 0
    for index in sorted(replay.parsed):
        change = replay.parsed[index]
        record = records.setdefault(change.entity_id, {})
        if change.op is ChangeOp.UPDATE:
            updates += 1
            unchanged += any(record.get(k) == v for k, v in change.fields.items())
        record.update(change.fields)
    # A replaced phone or a pushed date may by chance repeat the old value; hardly ever.
    assert unchanged <= updates * 0.002


# -- near duplicates ---------------------------------------------------------------------------


def test_duplicate_share_is_close_to_the_configured_share(replay: Replay) -> None:
    creates = sum(
        1
        for c in replay.parsed.values()
        if c.op is ChangeOp.CREATE and c.entity_type.value in ("lead", "contact")
    )
    share = len(replay.simulation.ground_truth.duplicates) / creates
    assert 0.035 <= share <= 0.065


def test_duplicates_point_to_earlier_records_of_the_same_type(replay: Replay) -> None:
    duplicates = replay.simulation.ground_truth.duplicates
    assert duplicates
    for duplicate in duplicates:
        assert duplicate.entity_type in ("lead", "contact")
        assert replay.created_at[duplicate.entity_id] == duplicate.index
        assert replay.entity_type_of[duplicate.entity_id] == duplicate.entity_type
        assert replay.entity_type_of[duplicate.duplicate_of] == duplicate.entity_type
        assert replay.created_at[duplicate.duplicate_of] < duplicate.index
        assert 1 <= len(duplicate.variations) <= 3


def test_lifetimes_say_when_each_record_existed(replay: Replay) -> None:
    lifetimes = record_lifetimes(event.value for event in replay.events)
    deletes = {
        c.record_key().decode(): index
        for index, c in replay.parsed.items()
        if c.op is ChangeOp.DELETE
    }
    for entity_id, created in replay.created_at.items():
        key = f"{replay.entity_type_of[entity_id]}:{entity_id}"
        assert lifetimes[key] == (created, deletes.get(key, math.inf))
    # People re-enter records that were deleted: such pairs never existed at one moment.
    truth = replay.simulation.ground_truth
    assert any(
        lifetimes[f"{d.entity_type}:{d.duplicate_of}"][1] < d.index for d in truth.duplicates
    )


def test_duplicates_are_near_and_distinct_records_are_not(replay: Replay) -> None:
    near = []
    for duplicate in replay.simulation.ground_truth.duplicates:
        copy = replay.parsed[duplicate.index].fields
        original = replay.original_before[duplicate.index]
        near.append(_name_similarity(copy, original))
    assert sum(score >= 70 for score in near) >= 0.85 * len(near)

    people = [
        c.fields
        for c in replay.parsed.values()
        if c.op is ChangeOp.CREATE and c.entity_type.value in ("lead", "contact")
    ]
    rng = random.Random(0)
    pairs = [rng.sample(people, 2) for _ in range(3000)]
    distinct = [_name_similarity(a, b) for a, b in pairs]
    assert sum(score >= 70 for score in distinct) <= 0.03 * len(distinct)


def test_variations_recorded_are_the_ones_applied(replay: Replay) -> None:
    checked = Counter[str]()
    for duplicate in replay.simulation.ground_truth.duplicates:
        copy = replay.parsed[duplicate.index].fields
        original = replay.original_before[duplicate.index]
        variations = set(duplicate.variations)
        if "email_case" in variations:
            assert copy["email"] != original["email"]
            assert copy["email"].lower() == original["email"].lower()
            checked["email_case"] += 1
        if "phone_format" in variations:
            assert copy["phone"] != original["phone"]
            assert _digits(copy["phone"])[-7:] == _digits(original["phone"])[-7:]
            checked["phone_format"] += 1
        if "swapped_names" in variations and not variations & {
            "name_typo",
            "abbreviated_first_name",
        }:
            assert (copy["first_name"], copy["last_name"]) == (
                original["last_name"],
                original["first_name"],
            )
            checked["swapped_names"] += 1
        if "email_missing" in variations:
            assert "email" not in copy
            checked["email_missing"] += 1
        if variations <= {"phone_format", "phone_missing", "moved_address", "company_variant"}:
            assert _full_name(copy) == _full_name(original)
            checked["names_kept"] += 1
    assert len(checked) == 5, checked


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


# -- labels ------------------------------------------------------------------------------------


def test_outcomes_are_label_bearing_changes_of_existing_records(replay: Replay) -> None:
    outcomes = replay.simulation.ground_truth.outcomes
    assert {o.entity_type for o in outcomes} == {"lead", "opportunity", "account"}
    seen: set[tuple[str, int]] = set()
    for outcome in outcomes:
        change = replay.parsed[outcome.index]
        assert change.entity_id == outcome.entity_id
        assert change.entity_type.value == outcome.entity_type
        assert change.op is ChangeOp.UPDATE
        assert replay.created_at[outcome.entity_id] < outcome.index
        expected = OUTCOME_FIELDS[outcome.entity_type][outcome.outcome]
        assert expected.items() <= change.fields.items()
        assert outcome.label in (0, 1)
        assert 0.0 < outcome.probability < 1.0
        seen.add((outcome.entity_id, outcome.index))
    assert len(seen) == len(outcomes)


def test_label_polarity(replay: Replay) -> None:
    polarity = {"converted": 1, "disqualified": 0, "won": 1, "lost": 0, "churned": 1, "renewed": 0}
    for outcome in replay.simulation.ground_truth.outcomes:
        assert outcome.label == polarity[outcome.outcome]
        change = replay.parsed[outcome.index]
        if outcome.outcome == "disqualified":
            assert change.fields["status"] == "disqualified"
        if outcome.outcome == "renewed":
            assert "contract_end_date" in change.fields
            assert "status" not in change.fields


def _lead_outcomes(replay: Replay) -> list[tuple[dict[str, Any], int, int]]:
    return [
        (replay.state_before[o.index], replay.activities_before[o.index], o.label)
        for o in replay.simulation.ground_truth.outcomes
        if o.entity_type == "lead"
    ]


_SENIOR = re.compile(r"\b(CEO|CTO|CFO|COO|CIO|Chief|Founder|Owner|President|VP|SVP|Head of)\b")
_JUNIOR = re.compile(
    r"Engineer|Analyst|Representative|Consultant|Accountant|Developer|Scientist|Specialist"
    r"|Assistant|Intern|Student|Buyer|Account Executive"
)


def test_senior_titles_convert_more_often(replay: Replay) -> None:
    leads = _lead_outcomes(replay)
    senior = [y for lead, _, y in leads if _SENIOR.search(lead.get("title", ""))]
    junior = [y for lead, _, y in leads if _JUNIOR.search(lead.get("title", ""))]
    assert _rate(senior) > _rate(junior) + 0.15


def test_referrals_convert_more_often_than_cold_outreach(replay: Replay) -> None:
    leads = _lead_outcomes(replay)
    warm = [y for lead, _, y in leads if lead["lead_source"] in ("referral", "partner")]
    cold = [y for lead, _, y in leads if lead["lead_source"] in ("cold_call", "purchased_list")]
    assert _rate(warm) > _rate(cold) + 0.2


def test_lead_labels_are_learnable_but_not_trivially(replay: Replay) -> None:
    """A crude hand-made score from visible features ranks conversions well above chance."""
    source_rank = {"referral": 2, "partner": 1.5, "event": 0.7, "webinar": 0.5, "web": 0}
    leads = _lead_outcomes(replay)
    scores = [
        source_rank.get(lead["lead_source"], -1.0)
        + bool(_SENIOR.search(lead.get("title", "")))
        - bool(_JUNIOR.search(lead.get("title", "")))
        + 0.3 * min(activities, 5)
        for lead, activities, _ in leads
    ]
    auc = _auc([y for _, _, y in leads], scores)
    assert 0.65 <= auc <= 0.95


def test_opportunities_further_along_win_more_often(replay: Replay) -> None:
    closed = [
        (replay.state_before[o.index]["stage"], o.label)
        for o in replay.simulation.ground_truth.outcomes
        if o.entity_type == "opportunity"
    ]
    late = [y for stage, y in closed if stage in ("proposal", "negotiation")]
    early = [y for stage, y in closed if stage in ("prospecting", "qualification")]
    assert _rate(late) > _rate(early) + 0.2


def test_small_plans_churn_more_often(replay: Replay) -> None:
    decided = [
        (replay.state_before[o.index]["plan"], o.label)
        for o in replay.simulation.ground_truth.outcomes
        if o.entity_type == "account"
    ]
    small = [y for plan, y in decided if plan in ("free", "starter")]
    large = [y for plan, y in decided if plan in ("pro", "enterprise")]
    assert _rate(small) > _rate(large) + 0.1


# -- ground truth file -------------------------------------------------------------------------


def test_ground_truth_serializes_to_json(replay: Replay) -> None:
    truth = replay.simulation.ground_truth
    document = orjson.loads(truth.to_json())
    assert document["seed"] == SEED
    assert document["count"] == COUNT
    assert document["invalid_count"] == len(truth.invalid)
    assert sum(document["invalid_by_error"].values()) == len(truth.invalid)
    valid = sum(n for ops in document["counts"].values() for n in ops.values())
    assert valid + document["invalid_count"] == COUNT
    assert document["duplicates"][0].keys() == {
        "entity_type",
        "entity_id",
        "duplicate_of",
        "variations",
        "index",
    }
    assert document["outcomes"][0].keys() == {
        "entity_type",
        "entity_id",
        "outcome",
        "label",
        "index",
        "probability",
    }


def test_phone_numbers_are_valid_for_their_country(replay: Replay) -> None:
    regions = {"United States": "US", "USA": "US", "US": "US", "Germany": "DE", "DE": "DE"}
    regions |= {"United Kingdom": "GB", "UK": "GB", "France": "FR", "Brazil": "BR", "India": "IN"}
    checked = valid = 0
    for change in replay.parsed.values():
        fields = change.fields
        if change.op is not ChangeOp.CREATE or "phone" not in fields:
            continue
        country = fields.get("country") or fields.get("mailing_country")
        region = regions.get(country or fields["billing_country"])
        if region is None:
            continue
        checked += 1
        try:
            number = phonenumbers.parse(fields["phone"], region)
        except phonenumbers.NumberParseException:
            continue
        valid += phonenumbers.is_valid_number(number)
    assert checked > 1000
    assert valid >= 0.98 * checked
