"""Engagement news between partitions: what a changed activity, opportunity or contact tells
the lead, contact or account it belongs to.

A record's changes are processed on its own partition, and so is its engagement (an
:class:`~models.scoring.features.Engagement` kept in a table next to the record, read when
the record is scored). An activity is keyed by its own id, though: its news travels as an
:class:`EngagementUpdate`, keyed by the *target's* record key, to the target's partition,
where :func:`apply_update` folds it into the target's engagement. Only there is a contact's
account known (its record lives there), so an activity of a contact is forwarded once more,
to the account (:attr:`EngagementUpdate.forwarded` stops it going further).

Delivery is at least once and :class:`~models.scoring.features.Engagement` is idempotent per
activity id, per opportunity state and per contact id: a redelivered update changes nothing,
so it is neither counted twice nor re-scored. What stays approximate:

* an activity of a contact whose record has not arrived yet, or has no ``account_id`` yet,
  counts for the contact only, never for its account (nothing replays it later); a contact
  that moves to another account still counts for the first (see
  :class:`~models.scoring.features.Engagement` for the other approximations);
* an update for a target whose record is not known yet is kept, so the record's first
  scoring sees it, but nothing is re-scored; one for a deleted target is dropped;
* updates from different sources are not ordered with one another nor with the target's
  own changes: each re-score takes the features at its update's ``occurred_at``, and a
  prediction newer than a label is never learned from
  (:func:`~models.scoring.labels.training_example`).

>>> from datetime import UTC, datetime
>>> at = datetime(2026, 3, 1, tzinfo=UTC)
>>> [update] = engagement_updates(
...     "activity", "T1", {"related_type": "contact", "related_id": "C1", "subject": "hi"},
...     event_id="e1", occurred_at=at)
>>> update.target_key(), update.fields
(b'contact:C1', {})
>>> step = apply_update(None, update, target_fields={"account_id": "A1"})
>>> step.changed, step.forward.target_key(), step.forward.forwarded
(True, b'account:A1', True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from models.scoring.features import Engagement, engagement_targets, update_engagement
from schemas.change import EntityType

__all__ = ["EngagementStep", "EngagementUpdate", "apply_update", "engagement_updates"]

CARRIED_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    EntityType.ACTIVITY.value: ("activity_date",),
    EntityType.OPPORTUNITY.value: ("amount", "stage", "is_closed", "is_won"),
    EntityType.CONTACT.value: (),
}
"""The source types whose changes make engagement, with the standardized fields
:func:`~models.scoring.features.update_engagement` reads of each: all an update carries."""
_TARGET_TYPES: Final = frozenset(
    {EntityType.LEAD, EntityType.CONTACT, EntityType.ACCOUNT, EntityType.OPPORTUNITY}
)


class EngagementUpdate(BaseModel):
    """One applied change of an activity, opportunity or contact, for one target's
    engagement; keyed by :meth:`target_key` on the engagement topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    target_type: str = Field(description="entity type whose engagement this updates")
    target_id: str
    source_type: str = Field(description="activity, opportunity or contact")
    source_id: str
    event_id: str = Field(description="the source change's event id; a re-score carries it")
    occurred_at: AwareDatetime = Field(description="the source change's source time")
    fields: dict[str, Any] = Field(
        default_factory=dict, description="the source's standardized fields engagement reads"
    )
    forwarded: bool = Field(
        default=False, description="passed on by a contact to its account: never again"
    )

    def target_key(self) -> bytes:
        """The target's record key: its engagement lives on that record's partition."""
        return f"{self.target_type}:{self.target_id}".encode()


def engagement_updates(
    entity_type: str,
    entity_id: str,
    fields: Mapping[str, object],
    *,
    event_id: str,
    occurred_at: datetime,
) -> tuple[EngagementUpdate, ...]:
    """The updates one applied change of a record (its merged, standardized ``fields``)
    sends, one per target of :func:`~models.scoring.features.engagement_targets`; none for
    a type that makes no engagement. A contact's account is not known here (the activity's
    partition): the contact's side forwards (:func:`apply_update`).

    >>> from datetime import UTC, datetime
    >>> [u] = engagement_updates("opportunity", "O1", {"account_id": "A1", "amount": 5.0},
    ...                          event_id="e2", occurred_at=datetime(2026, 3, 1, tzinfo=UTC))
    >>> u.target_key(), u.fields
    (b'account:A1', {'amount': 5.0})
    >>> engagement_updates("lead", "L1", {}, event_id="e3", occurred_at=u.occurred_at)
    ()
    """
    carried = CARRIED_FIELDS.get(entity_type)
    if carried is None:
        return ()
    kept = {name: fields[name] for name in carried if name in fields}
    return tuple(
        EngagementUpdate(
            target_type=target_type,
            target_id=target_id,
            source_type=entity_type,
            source_id=entity_id,
            event_id=event_id,
            occurred_at=occurred_at,
            fields=kept,
        )
        for target_type, target_id in engagement_targets(entity_type, fields)
        if target_type in _TARGET_TYPES
    )


@dataclass(frozen=True, slots=True)
class EngagementStep:
    """What one update did on its target's partition.

    ``engagement``: the value to store, ``None`` when the table stays as it is; ``changed``:
    the target's engagement moved and its record is known, so it is worth re-scoring (when
    its type is scored); ``forward``: the update passed on to a contact's account.
    """

    engagement: Engagement | None
    changed: bool
    forward: EngagementUpdate | None


def apply_update(
    current: Engagement | None,
    update: EngagementUpdate,
    *,
    target_fields: Mapping[str, object] | None,
    target_deleted: bool = False,
) -> EngagementStep:
    """Fold ``update`` into the target's ``current`` engagement.

    ``target_fields`` are the target record's standardized fields, ``None`` when the record
    is not known (yet): the engagement is kept for its first scoring, nothing is re-scored
    or forwarded. A deleted target gathers nothing. An activity of a known contact is
    forwarded to the contact's ``account_id`` even when it changed nothing here: if its
    first delivery stored the contact's engagement but never sent the forward, the
    redelivery does, and the account's side is idempotent too.
    """
    if target_deleted:
        return EngagementStep(None, False, None)
    updated = update_engagement(
        current, update.source_type, update.source_id, update.fields, occurred_at=update.occurred_at
    )
    changed = _canonical(updated) != _canonical(current or Engagement())
    return EngagementStep(
        engagement=updated if changed else None,
        changed=changed and target_fields is not None,
        forward=None if target_fields is None else _forward(update, target_fields),
    )


def _forward(update: EngagementUpdate, contact: Mapping[str, object]) -> EngagementUpdate | None:
    """An activity of a contact, passed on to the contact's account (once): the one target
    :func:`~models.scoring.features.engagement_targets` could not name on the activity's
    partition."""
    if (
        update.forwarded
        or update.target_type != EntityType.CONTACT
        or update.source_type != EntityType.ACTIVITY
    ):
        return None
    account_id = contact.get("account_id")
    if not isinstance(account_id, str) or not account_id:
        return None
    return update.model_copy(
        update={"target_type": EntityType.ACCOUNT.value, "target_id": account_id, "forwarded": True}
    )


def _canonical(engagement: Engagement) -> Engagement:
    """The engagement with its open opportunities in id order: an opportunity's unchanged
    state moves it to the end of the tuple, which is no change worth a re-score."""
    return replace(engagement, open_opportunities=tuple(sorted(engagement.open_opportunities)))
