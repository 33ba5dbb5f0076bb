"""Label rules from CRM changes and the prediction-time join."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from models.scoring.labels import (
    Label,
    LabelRules,
    OutcomeEvent,
    PredictionMemory,
    label_from_change,
    label_from_event,
    record_values,
    training_example,
)

AT = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("entity_type", "before", "after", "expected"),
    [
        ("lead", {"status": "qualified"}, {"status": "converted"}, (1, "converted")),
        (
            "lead",
            {"status": "working"},
            {"status": "working", "is_converted": True},
            (1, "converted"),
        ),
        ("lead", {"status": "working"}, {"status": "Disqualified"}, (0, "disqualified")),
        ("lead", {"status": "new"}, {"status": "Closed - Not Converted"}, (0, "disqualified")),
        ("opportunity", {"stage": "proposal"}, {"stage": "closed_won", "is_won": True}, (1, "won")),
        ("opportunity", {"stage": "proposal"}, {"stage": "closed_lost"}, (0, "lost")),
        ("opportunity", {"is_closed": False}, {"is_closed": True, "is_won": False}, (0, "lost")),
        ("account", {"status": "active"}, {"status": "churned"}, (1, "churned")),
        (
            "account",
            {"status": "active"},
            {"status": "active", "churn_date": "2026-02-01"},
            (1, "churned"),
        ),
        (
            "account",
            {"contract_status": "active"},
            {"contract_status": "Cancelled"},
            (1, "churned"),
        ),
        (
            "account",
            {"contract_end_date": "2026-03-01"},
            {"contract_end_date": "2027-03-01"},
            (0, "renewed"),
        ),
    ],
)
def test_each_rule(
    entity_type: str, before: dict[str, object], after: dict[str, object], expected: tuple[int, str]
) -> None:
    label = label_from_change(entity_type, before, after)
    assert label is not None
    assert (label.value, label.outcome) == expected


def test_no_label_without_a_transition() -> None:
    converted = {"status": "converted", "is_converted": True}
    assert label_from_change("lead", converted, {**converted, "phone": "+1"}) is None
    assert label_from_change("lead", {"status": "new"}, {"status": "working"}) is None
    churned = {"status": "churned"}
    assert label_from_change("account", churned, {**churned, "plan": "free"}) is None
    moved_back = {"contract_end_date": "2026-01-01"}
    assert label_from_change("account", {"contract_end_date": "2026-03-01"}, moved_back) is None
    assert label_from_change("contact", None, {"title": "CEO"}) is None


def test_a_contract_end_date_set_for_the_first_time_is_no_renewal() -> None:
    assert label_from_change("account", {}, {"contract_end_date": "2027-01-01"}) is None


def test_rules_are_configurable_and_attributes_count() -> None:
    rules = LabelRules(lead_converted_statuses=frozenset({"won_customer"}))
    label = label_from_change("lead", {"status": "x"}, {"status": "won_customer"}, rules)
    assert label == Label(1, "converted", "status")
    values = record_values({"status": "active"}, {"contract_status": "terminated"})
    assert label_from_change("account", {"status": "active"}, values) == Label(
        1, "churned", "contract_status"
    )


def test_explicit_outcome_event() -> None:
    event = OutcomeEvent(
        entity_type="lead", entity_id="L1", outcome="bought", label=1, occurred_at=AT
    )
    assert label_from_event(event) == Label(1, "bought", "event")
    known = OutcomeEvent(entity_type="account", entity_id="A1", outcome="renewed", occurred_at=AT)
    assert label_from_event(known) == Label(0, "renewed", "event")
    unknown = OutcomeEvent(entity_type="account", entity_id="A1", outcome="paused", occurred_at=AT)
    assert label_from_event(unknown) is None
    with pytest.raises(ValidationError):
        OutcomeEvent.model_validate({"entity_type": "lead", "entity_id": "", "outcome": "won"})


def test_training_example_uses_prediction_time_features_only() -> None:
    memory = PredictionMemory(
        features={"status": "qualified", "employees": 4.0},
        probability=0.4,
        scored_at=AT,
        model_version=3,
        challenger_probability=0.5,
        segments={"country": "US"},
    )
    label = Label(1, "converted", "status")
    assert training_example(memory, label) == ({"status": "qualified", "employees": 4.0}, 1)
    assert training_example(None, label) is None
    earlier = datetime(2026, 1, 1, tzinfo=UTC)
    assert training_example(memory, label, labelled_at=earlier) is None
    assert PredictionMemory.from_dict(memory.to_dict()) == memory
