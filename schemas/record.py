"""The current state of one CRM record, and how a change is merged into it.

CDC feeds send only what changed, may deliver a change twice, and may deliver an older
change after a newer one. The rules here make the merged record independent of all that:
each field keeps the value of the newest change that touched it (last writer wins, per
field, by :meth:`ChangeEvent.order_key`), a redelivered event is recognised by its id, and a
delete or undelete wins or loses against other changes by the same order.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.change import ChangeEvent, ChangeOp, EntityType

# Enough to recognise a redelivery (they arrive close together) without growing the state.
RECENT_EVENT_IDS = 32

OrderKey = tuple[datetime, int, int]


class MergeOutcome(StrEnum):
    """What a change did to the record; every change gets one, none is silently ignored."""

    APPLIED = "applied"
    REDELIVERED = "redelivered"  # same event id seen before: not applied again
    SUPERSEDED = "superseded"  # older than everything it touches: nothing left to apply


class RecordState(BaseModel):
    """What crmstream knows of one record now; the value of the record table.

    ``fields`` are the raw canonical values as the CRM last sent them (standardization is
    applied on the way out, so a better standardizer improves old records too);
    ``versions`` holds, per field, the order key of the change that wrote it.
    """

    model_config = ConfigDict(frozen=True)

    entity_type: EntityType
    entity_id: str
    fields: dict[str, Any] = Field(default_factory=dict)
    attributes: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, OrderKey] = Field(default_factory=dict)
    deleted: bool = False
    deleted_version: OrderKey | None = None
    merged_into: str | None = None
    merged_ids: list[str] = Field(default_factory=list)
    stale: bool = False
    stale_version: OrderKey | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    changes_applied: int = 0
    recent_event_ids: list[str] = Field(default_factory=list)

    @classmethod
    def empty(cls, change: ChangeEvent) -> RecordState:
        return cls(
            entity_type=change.entity_type,
            entity_id=change.entity_id,
            created_at=change.occurred_at,
            updated_at=change.occurred_at,
        )


def merge_change(
    state: RecordState | None, change: ChangeEvent
) -> tuple[RecordState, MergeOutcome]:
    """Merge one change into a record's state (``None`` for a record never seen).

    >>> from datetime import UTC
    >>> def change(op, at, event_id, **fields):
    ...     return ChangeEvent(event_id=event_id, entity_type="lead", entity_id="L1", op=op,
    ...                        occurred_at=datetime(2026, 1, at, tzinfo=UTC), source="crm",
    ...                        fields=fields)
    >>> state, _ = merge_change(None, change("create", 1, "e1", email="a@x.io", city="Oslo"))
    >>> state, outcome = merge_change(state, change("update", 3, "e3", city="Bergen"))
    >>> state, outcome = merge_change(state, change("update", 2, "e2", city="Paris"))
    >>> outcome.value, state.fields
    ('superseded', {'email': 'a@x.io', 'city': 'Bergen'})
    """
    current = state or RecordState.empty(change)
    if change.event_id in current.recent_event_ids:
        return current, MergeOutcome.REDELIVERED
    key = change.order_key()
    updates = _record_level_updates(current, change, key)
    written = _newer_values(current, change, key)
    if not updates and not written and not change.gap:
        return _remember(current, change, updates={}), MergeOutcome.SUPERSEDED
    return _remember(current, change, updates={**updates, **written}), MergeOutcome.APPLIED


def _record_level_updates(
    current: RecordState, change: ChangeEvent, key: OrderKey
) -> dict[str, Any]:
    """Delete, undelete, merge and gap: the parts of a change that are about the record."""
    updates: dict[str, Any] = {}
    newer_than_staleness = current.stale_version is None or key > current.stale_version
    if newer_than_staleness and (change.gap or change.op is ChangeOp.SNAPSHOT):
        # A gap leaves the record stale; a full, fresh copy of it heals an earlier gap.
        updates |= {"stale": change.gap, "stale_version": key}
    newer_than_delete = current.deleted_version is None or key > current.deleted_version
    if change.op is ChangeOp.DELETE and newer_than_delete:
        updates |= {"deleted": True, "deleted_version": key, "merged_into": change.merged_into}
    elif change.op is ChangeOp.UNDELETE and newer_than_delete:
        updates |= {"deleted": False, "deleted_version": key, "merged_into": None}
    elif change.op is ChangeOp.MERGE:
        updates["merged_ids"] = sorted({*current.merged_ids, *change.merged_ids})
    return updates


def _newer_values(current: RecordState, change: ChangeEvent, key: OrderKey) -> dict[str, Any]:
    """Field and attribute values this change writes: those no newer change wrote already."""
    fields = dict(current.fields)
    attributes = dict(current.attributes)
    versions = dict(current.versions)
    touched = False
    for target, prefix, values in (
        (fields, "", change.fields),
        (attributes, "@", change.attributes),
    ):
        for name, value in values.items():
            version_key = prefix + name
            if version_key in versions and versions[version_key] >= key:
                continue
            target[name] = value
            versions[version_key] = key
            touched = True
    return {"fields": fields, "attributes": attributes, "versions": versions} if touched else {}


def _remember(current: RecordState, change: ChangeEvent, updates: dict[str, Any]) -> RecordState:
    recent = [*current.recent_event_ids, change.event_id][-RECENT_EVENT_IDS:]
    applied = current.changes_applied + (1 if updates else 0)
    return current.model_copy(
        update={
            **updates,
            "recent_event_ids": recent,
            "changes_applied": applied,
            "created_at": min(current.created_at, change.occurred_at),
            "updated_at": max(current.updated_at, change.occurred_at),
        }
    )
