"""Labels from CRM changes, and the memory that joins them to prediction-time features.

The models learn from what the CRM itself records: a lead converted or disqualified, an
opportunity won or lost, an account churned or renewed. Those are ordinary changes, so a
label is a *transition* between a record's previous and new merged state
(:func:`label_from_change`): a later edit of a converted lead does not label it again, and
the rules (:class:`LabelRules`) are configurable because every CRM spells its statuses
differently. Systems that know outcomes the CRM does not (billing, a data warehouse) can
send an explicit :class:`OutcomeEvent` instead.

A label must be joined with the features the model *scored*, never with the record as it
stands after the outcome (a converted lead has ``status: converted``; an account that churned
stops getting calls): :class:`PredictionMemory` is what the stream keeps per entity at each
prediction, and :func:`training_example` is the only way a label meets features.

>>> previous = {"status": "qualified", "is_converted": False}
>>> label_from_change("lead", previous, {"status": "converted", "is_converted": True})
Label(value=1, outcome='converted', rule='status')
>>> label_from_change("lead", previous, {"status": "qualified", "phone": "+1"}) is None
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from models.scoring.features import Features
from schemas.change import EntityType

__all__ = [
    "DEFAULT_RULES",
    "Label",
    "LabelRules",
    "OutcomeEvent",
    "PredictionMemory",
    "label_from_change",
    "label_from_event",
    "record_values",
    "training_example",
]


@dataclass(frozen=True, slots=True)
class Label:
    """A 0/1 label, the outcome it stands for, and which rule saw it (for audit and metrics)."""

    value: Literal[0, 1]
    outcome: str
    rule: str


def _words(*values: str) -> frozenset[str]:
    return frozenset(values)


@dataclass(frozen=True, slots=True)
class LabelRules:
    """Which changes are outcomes; the defaults follow Salesforce and HubSpot conventions.

    Status and stage values are compared after standardization (lower case, ``_`` for
    spaces and dashes), as :mod:`schemas.standardize` writes picklist values. A field named
    here may also be a custom attribute (``contract_status`` usually is): see
    :func:`record_values`.

    lead
        converted (1): ``status`` in ``lead_converted_statuses`` or ``lead_converted_flag``
        true; disqualified (0): ``status`` in ``lead_disqualified_statuses``.
    opportunity
        won (1): ``stage`` in ``opportunity_won_stages`` or the won flag true; lost (0):
        ``stage`` in ``opportunity_lost_stages``, or the closed flag true without the won flag.
    account
        churned (1): ``status`` in ``account_churned_statuses``, a ``churn_date`` set, or a
        contract status in ``cancelled_contract_values``; renewed (0): the contract end date
        moved later while none of those holds.
    """

    lead_converted_statuses: frozenset[str] = _words("converted", "closed_converted")
    lead_converted_flag: str | None = "is_converted"
    lead_disqualified_statuses: frozenset[str] = _words(
        "disqualified", "unqualified", "closed_not_converted", "closed_lost"
    )
    opportunity_won_stages: frozenset[str] = _words("closed_won", "won")
    opportunity_lost_stages: frozenset[str] = _words("closed_lost", "lost")
    opportunity_won_flag: str | None = "is_won"
    opportunity_closed_flag: str | None = "is_closed"
    account_churned_statuses: frozenset[str] = _words("churned", "cancelled", "canceled")
    account_churn_date_field: str | None = "churn_date"
    contract_status_field: str | None = "contract_status"
    cancelled_contract_values: frozenset[str] = _words(
        "cancelled", "canceled", "terminated", "not_renewed"
    )
    contract_end_field: str | None = "contract_end_date"
    event_outcomes: Mapping[str, Literal[0, 1]] = field(
        default_factory=lambda: {
            "converted": 1, "disqualified": 0, "won": 1, "lost": 0, "churned": 1, "renewed": 0,
        }
    )  # fmt: skip


DEFAULT_RULES: Final = LabelRules()


def record_values(
    fields: Mapping[str, object], attributes: Mapping[str, object] | None = None
) -> dict[str, object]:
    """One mapping of a record's custom attributes and canonical fields (fields win a clash),
    so that a rule may name either."""
    return {**(attributes or {}), **fields}


def label_from_change(
    entity_type: str,
    previous: Mapping[str, object] | None,
    current: Mapping[str, object],
    rules: LabelRules = DEFAULT_RULES,
) -> Label | None:
    """The label a change produced: the outcome holds in ``current`` and did not before.

    ``previous`` and ``current`` are the merged record (:func:`record_values`) before and
    after the change; ``previous`` is ``None`` for a record created in its final state
    (a lead imported as converted is labelled, though no prediction preceded it: the
    caller's :func:`training_example` then has nothing to learn from).
    """
    before = previous or {}
    if entity_type == EntityType.LEAD:
        return _lead(before, current, rules)
    if entity_type == EntityType.OPPORTUNITY:
        return _opportunity(before, current, rules)
    if entity_type == EntityType.ACCOUNT:
        return _account(before, current, rules)
    return None


def _lead(before: Mapping[str, object], now: Mapping[str, object], r: LabelRules) -> Label | None:
    def converted(values: Mapping[str, object]) -> str | None:
        if _word(values.get("status")) in r.lead_converted_statuses:
            return "status"
        if r.lead_converted_flag and values.get(r.lead_converted_flag) is True:
            return r.lead_converted_flag
        return None

    def disqualified(values: Mapping[str, object]) -> bool:
        return _word(values.get("status")) in r.lead_disqualified_statuses

    rule = converted(now)
    if rule is not None:
        return None if converted(before) else Label(1, "converted", rule)
    if disqualified(now) and not disqualified(before) and not converted(before):
        return Label(0, "disqualified", "status")
    return None


def _opportunity(
    before: Mapping[str, object], now: Mapping[str, object], r: LabelRules
) -> Label | None:
    def won(values: Mapping[str, object]) -> str | None:
        if _word(values.get("stage")) in r.opportunity_won_stages:
            return "stage"
        if r.opportunity_won_flag and values.get(r.opportunity_won_flag) is True:
            return r.opportunity_won_flag
        return None

    def lost(values: Mapping[str, object]) -> str | None:
        if _word(values.get("stage")) in r.opportunity_lost_stages:
            return "stage"
        closed = r.opportunity_closed_flag and values.get(r.opportunity_closed_flag) is True
        return r.opportunity_closed_flag if closed and not won(values) else None

    rule = won(now)
    if rule is not None:
        return None if won(before) else Label(1, "won", rule)
    rule = lost(now)
    if rule is not None and not lost(before) and not won(before):
        return Label(0, "lost", rule)
    return None


def _account(
    before: Mapping[str, object], now: Mapping[str, object], r: LabelRules
) -> Label | None:
    def churned(values: Mapping[str, object]) -> str | None:
        if _word(values.get("status")) in r.account_churned_statuses:
            return "status"
        if r.account_churn_date_field and values.get(r.account_churn_date_field):
            return r.account_churn_date_field
        if r.contract_status_field and (
            _word(values.get(r.contract_status_field)) in r.cancelled_contract_values
        ):
            return r.contract_status_field
        return None

    rule = churned(now)
    if rule is not None:
        return None if churned(before) else Label(1, "churned", rule)
    if r.contract_end_field and not churned(before):
        old, new = (_date(v.get(r.contract_end_field)) for v in (before, now))
        if old is not None and new is not None and new > old:
            return Label(0, "renewed", r.contract_end_field)
    return None


def _word(value: object) -> str | None:
    """A picklist value as the standardizer writes it: lower case, ``_`` between words."""
    if not isinstance(value, str):
        return None
    return "_".join(value.strip().casefold().replace("-", " ").split())


def _date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


class OutcomeEvent(BaseModel):
    """An outcome stated explicitly, for systems that know it outside the CRM.

    ``label`` may be omitted when ``outcome`` is one of the rules' ``event_outcomes``
    (converted, disqualified, won, lost, churned, renewed).

    >>> event = OutcomeEvent.model_validate({"entity_type": "account", "entity_id": "A1",
    ...     "outcome": "churned", "occurred_at": "2026-02-01T10:00:00Z"})
    >>> label_from_event(event)
    Label(value=1, outcome='churned', rule='event')
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity_type: EntityType
    entity_id: str = Field(min_length=1)
    outcome: str = Field(min_length=1, max_length=64)
    label: Literal[0, 1] | None = None
    occurred_at: AwareDatetime
    source: str | None = None


def label_from_event(event: OutcomeEvent, rules: LabelRules = DEFAULT_RULES) -> Label | None:
    """The label an explicit outcome event states (``None``: an outcome the rules don't know
    and no ``label`` given)."""
    if event.label is not None:
        return Label(event.label, event.outcome, "event")
    value = rules.event_outcomes.get(_word(event.outcome) or "")
    return None if value is None else Label(value, event.outcome, "event")


# --------------------------------------------------------------------------------------------
# Prediction memory: the features a label is joined with
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PredictionMemory:
    """What the model saw and said at an entity's latest prediction; a table value.

    Written at every scoring of the entity (each change, each engagement update, a periodic
    rescore), read once when its label arrives. ``segments`` keeps the audit attributes as
    they were then (a lead's country may change afterwards), ``model_version`` the model
    that scored. JSON-ready through :meth:`to_dict`.
    """

    features: Features
    probability: float
    scored_at: datetime
    model_version: int
    challenger_probability: float | None = None
    segments: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": dict(self.features),
            "probability": self.probability,
            "scored_at": self.scored_at.isoformat(),
            "model_version": self.model_version,
            "challenger_probability": self.challenger_probability,
            "segments": dict(self.segments),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PredictionMemory:
        return cls(
            features={
                str(k): (v if isinstance(v, str) else float(v)) for k, v in data["features"].items()
            },
            probability=float(data["probability"]),
            scored_at=datetime.fromisoformat(data["scored_at"]),
            model_version=int(data["model_version"]),
            challenger_probability=(
                None
                if data.get("challenger_probability") is None
                else float(data["challenger_probability"])
            ),
            segments={str(k): str(v) for k, v in data.get("segments", {}).items()},
        )


def training_example(
    memory: PredictionMemory | None, label: Label, *, labelled_at: datetime | None = None
) -> tuple[Features, Literal[0, 1]] | None:
    """The (features, label) pair to learn from: the features *scored before* the outcome.

    ``None`` when nothing was scored (the record was created in its final state) or when
    the memory is newer than the outcome (``labelled_at``: an out-of-order delivery whose
    prediction already saw the result). The caller then forgets the memory either way: one
    label, one lesson.

    >>> from datetime import UTC, datetime
    >>> memory = PredictionMemory({"employees": 4.2}, 0.3, datetime(2026, 1, 1, tzinfo=UTC), 1)
    >>> training_example(memory, Label(1, "converted", "status"))
    ({'employees': 4.2}, 1)
    """
    if memory is None:
        return None
    if labelled_at is not None and memory.scored_at > labelled_at:
        return None
    return dict(memory.features), label.value
