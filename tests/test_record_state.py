"""Merged record state: the same record whatever order and however often changes arrive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from schemas.change import ChangeEvent, ChangeOp
from schemas.record import MergeOutcome, RecordState, merge_change

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def change(
    op: str = "update",
    minute: int = 0,
    event_id: str | None = None,
    *,
    commit: int | None = None,
    sequence: int | None = None,
    gap: bool = False,
    merged_ids: tuple[str, ...] = (),
    **fields: Any,
) -> ChangeEvent:
    return ChangeEvent(
        event_id=event_id or f"e-{op}-{minute}-{commit}-{sequence}-{sorted(fields)}",
        entity_type="contact",
        entity_id="003A1",
        op=op,
        occurred_at=T0 + timedelta(minutes=minute),
        source="salesforce",
        fields=fields,
        commit_number=commit,
        sequence_number=sequence,
        gap=gap,
        merged_ids=list(merged_ids),
    )


def merge_all(changes: list[ChangeEvent]) -> RecordState:
    state: RecordState | None = None
    for item in changes:
        state, _ = merge_change(state, item)
    assert state is not None
    return state


def test_partial_updates_merge_into_the_full_record() -> None:
    state = merge_all(
        [
            change("create", 0, first_name="Ada", email="ada@example.com"),
            change("update", 1, phone="+44 20 7946 0958"),
            change("update", 2, email="ada@lovelace.org"),
        ]
    )
    assert state.fields == {
        "first_name": "Ada",
        "email": "ada@lovelace.org",
        "phone": "+44 20 7946 0958",
    }
    assert state.changes_applied == 3
    assert (state.created_at, state.updated_at) == (T0, T0 + timedelta(minutes=2))


def test_a_redelivered_event_is_applied_once() -> None:
    update = change("update", 1, "evt-7", title="CTO")
    state, _ = merge_change(None, change("create", 0, first_name="Ada"))
    state, first = merge_change(state, update)
    again, second = merge_change(state, update)
    assert (first, second) == (MergeOutcome.APPLIED, MergeOutcome.REDELIVERED)
    assert again.changes_applied == state.changes_applied


def test_an_older_change_never_overwrites_a_newer_one() -> None:
    state = merge_all([change("update", 5, city="Bergen"), change("update", 4, city="Paris")])
    assert state.fields["city"] == "Bergen"


def test_commit_number_then_sequence_break_ties_of_the_same_instant() -> None:
    state = merge_all(
        [
            change("update", 1, commit=9, sequence=2, city="Bergen"),
            change("update", 1, commit=9, sequence=1, city="Paris"),
            change("update", 1, commit=8, sequence=5, city="Rome"),
        ]
    )
    assert state.fields["city"] == "Bergen"


def test_delete_tombstones_and_undelete_restores_with_the_values() -> None:
    deleted = merge_all([change("create", 0, first_name="Ada"), change("delete", 1)])
    assert deleted.deleted
    restored, _ = merge_change(deleted, change("undelete", 2))
    assert not restored.deleted
    assert restored.fields == {"first_name": "Ada"}


def test_a_gap_flags_the_record_stale_until_a_full_snapshot() -> None:
    gap = change("update", 1, gap=True)
    stale = merge_all([change("create", 0, first_name="Ada"), gap])
    assert stale.stale
    assert stale.fields == {"first_name": "Ada"}, "a gap invents no values"
    healed, _ = merge_change(stale, change("snapshot", 2, first_name="Ada"))
    assert not healed.stale


def test_a_merge_tombstones_the_merged_records_pointing_at_the_survivor() -> None:
    merge = change("merge", 3, merged_ids=("003B2", "003C3"))
    survivor_change, *tombstones = merge.expand_merge()
    assert [t.entity_id for t in tombstones] == ["003B2", "003C3"]
    assert {t.op for t in tombstones} == {ChangeOp.DELETE}
    loser, _ = merge_change(None, tombstones[0])
    assert loser.deleted
    assert loser.merged_into == "003A1"
    survivor, _ = merge_change(None, survivor_change)
    assert survivor.merged_ids == ["003B2", "003C3"]


# Changes with distinct order keys; field values drawn from a tiny alphabet so they collide.
def _changes() -> st.SearchStrategy[list[ChangeEvent]]:
    one = st.builds(
        lambda minute, op, gap, fields: change(
            op, minute, f"e{minute}", gap=gap and op == "update", **fields
        ),
        minute=st.integers(0, 500),
        op=st.sampled_from(["create", "update", "delete", "undelete", "snapshot"]),
        gap=st.booleans(),
        fields=st.dictionaries(
            st.sampled_from(["email", "city", "title"]),
            st.sampled_from(["a", "b", None]),
            min_size=1,
        ),
    )
    return st.lists(one, min_size=1, max_size=12, unique_by=lambda c: c.occurred_at)


def _observable(state: RecordState) -> tuple[Any, ...]:
    return (state.fields, state.deleted, state.stale, state.created_at, state.updated_at)


@given(_changes(), st.randoms(use_true_random=False))
def test_the_merged_record_does_not_depend_on_arrival_order(
    changes: list[ChangeEvent], shuffler: Any
) -> None:
    in_order = merge_all(sorted(changes, key=ChangeEvent.order_key))
    shuffled = list(changes)
    shuffler.shuffle(shuffled)
    assert _observable(merge_all(shuffled)) == _observable(in_order)


@given(_changes())
def test_delivering_everything_twice_changes_nothing(changes: list[ChangeEvent]) -> None:
    once = merge_all(changes)
    assert _observable(merge_all(changes + changes)) == _observable(once)
