"""Matching across partitions, without Kafka: blocks, record sides, links and clusters.

A small bus delivers the messages the pure steps ask for in a random order, keeping only
Kafka's promise (messages with one key arrive in the order they were sent), so the tests see
what any number of workers could see.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from models.matching import DuplicateMatcher, MatchRecord
from models.matching.blocking import profile_keys
from models.matching.learning import LearnedMatcher
from models.matching.linking import (
    TOMBSTONE_GRACE,
    Block,
    Effects,
    MatchState,
    feedback_messages,
    index_in_block,
    on_answer,
    on_link,
    on_record,
)
from schemas.change import ChangeEvent
from schemas.duplicates import Decision, DuplicateEvent, RecordRef
from schemas.enrich import EnrichedRecord, StandardizeOptions, enrich_change
from schemas.ingest import RoutedChange
from schemas.outbound import SourcePosition
from schemas.record import RecordState

T0 = datetime(2026, 11, 1, tzinfo=UTC)
MATCHER = DuplicateMatcher()
ADA = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@analytical.io"}


@dataclass
class Bus:
    """Per-key FIFO queues delivered in a seeded random order: any interleaving Kafka allows."""

    seed: int
    judge: LearnedMatcher = field(default_factory=lambda: LearnedMatcher(MATCHER))
    records: dict[str, RecordState] = field(default_factory=dict)
    matches: dict[str, MatchState] = field(default_factory=dict)
    blocks: dict[str, Block] = field(default_factory=dict)
    queues: dict[tuple[str, str], deque[Any]] = field(default_factory=dict)
    enriched: list[EnrichedRecord] = field(default_factory=list)
    duplicates: list[DuplicateEvent] = field(default_factory=list)
    clock: int = 0

    def send(self, topic: str, key: str, message: Any) -> None:
        self.queues.setdefault((topic, key), deque()).append(message)

    def change(self, entity_type: str, entity_id: str, op: str = "create", **fields: Any) -> None:
        self.clock += 1
        event = ChangeEvent(
            event_id=f"e{self.clock}",
            entity_type=entity_type,
            entity_id=entity_id,
            op=op,
            occurred_at=T0 + timedelta(minutes=self.clock),
            source="test",
            fields=fields,
        )
        self.send("changes", f"{entity_type}:{entity_id}", event)

    def run(self) -> None:
        rng = random.Random(self.seed)
        while busy := [queue for queue in self.queues.values() if queue]:
            queue = rng.choice(busy)
            self._deliver(queue.popleft())

    def run_one(self, queue: tuple[str, str]) -> None:
        """Deliver the next message of one queue only."""
        self._deliver(self.queues[queue].popleft())

    def drop(self, topic: str, lost: Callable[[Any], bool]) -> int:
        """Lose the queued messages of ``topic`` that ``lost`` picks, as a crash can."""
        dropped = 0
        for (queued_topic, _), queue in self.queues.items():
            if queued_topic == topic:
                kept = [message for message in queue if not lost(message)]
                dropped += len(queue) - len(kept)
                queue.clear()
                queue.extend(kept)
        return dropped

    def _deliver(self, message: Any) -> None:
        now = T0 + timedelta(days=1)
        if isinstance(message, ChangeEvent):
            key = message.record_key().decode()
            routed = RoutedChange(
                change=message,
                source_position=SourcePosition(topic="t", partition=0, offset=0),
                source_format=None,
                received_at=now,
            )
            record, enriched = enrich_change(
                routed, self.records.get(key), now=now, options=StandardizeOptions()
            )
            self.records[key] = record
            view = enriched.record
            profile = MATCHER.profile(
                MatchRecord(view.entity_type, view.entity_id, view.fields, view.derived)
            )
            keys = profile_keys(view.entity_type, profile)
            state, effects = on_record(
                self.matches.get(key), enriched, profile, keys, judge=self.judge, now=now
            )
            self._keep(key, state, effects)
        elif message.__class__.__name__ == "IndexRequest":
            block, answer = index_in_block(
                self.blocks.get(message.block_key), message, MATCHER, max_members=50, floor=0.5
            )
            if block is None:
                self.blocks.pop(message.block_key, None)
            else:
                self.blocks[message.block_key] = block
            if answer is not None:
                self.send("records", answer.record_key, answer)
        elif message.__class__.__name__ == "BlockAnswer":
            key = message.record_key
            self._keep(key, *on_answer(self.matches.get(key), message, self.judge, now))
        else:
            key = message.target
            self._keep(key, *on_link(self.matches.get(key), message, now))

    def _keep(self, key: str, state: MatchState | None, effects: Effects) -> None:
        if state is not None:
            self.matches[key] = state
        for request in effects.index_requests:
            self.send("blocks", request.block_key, request)
        for link in effects.links:
            self.send("records", link.target, link)
        for sample in effects.learning:
            self.judge.learn(
                sample.similarities, sample.is_duplicate, decision_at_time=sample.decision_at_time
            )
        self.duplicates.extend(effects.duplicates)
        self.enriched.extend(effects.enriched)

    def ever_pairs(self) -> set[frozenset[str]]:
        """The pairs that were called duplicates at some point."""
        return {
            frozenset((event.record.key(), event.other.key()))
            for event in self.duplicates
            if event.decision is Decision.DUPLICATE
        }

    def pairs(self, decision: Decision = Decision.DUPLICATE) -> set[frozenset[str]]:
        """The pairs whose last published decision is ``decision``."""
        last: dict[frozenset[str], Decision] = {}
        for event in self.duplicates:
            last[frozenset((event.record.key(), event.other.key()))] = event.decision
        return {pair for pair, final in last.items() if final is decision}


def people(bus: Bus, *, one_at_a_time: bool = False) -> None:
    """Ada twice (typo, another mailbox), her lead, an unrelated contact, an account."""
    records: list[tuple[str, str, dict[str, str]]] = [
        ("contact", "c1", {**ADA, "phone": "+14155550100"}),
        ("contact", "c2", {**ADA, "last_name": "Lovelcae"}),
        ("lead", "l1", {"first_name": "Ada", "last_name": "Lovelace", "phone": "+14155550100"}),
        ("contact", "c3", {"first_name": "Alan", "last_name": "Turing", "email": "a@bp.uk"}),
        ("account", "a1", {"name": "Analytical Engines", "website": "analytical.io"}),
    ]
    for entity_type, entity_id, fields in records:
        bus.change(entity_type, entity_id, **fields)
        if one_at_a_time:
            bus.run()


def test_a_duplicate_names_the_older_record_and_one_cluster() -> None:
    """When the older record was indexed first (the usual case), the newer one's enriched
    record names it; concurrent arrivals get the pair on the duplicates topic either way."""
    bus = Bus(seed=1)
    people(bus, one_at_a_time=True)
    bus.run()
    assert bus.pairs() == {
        frozenset({"contact:c1", "contact:c2"}),
        frozenset({"contact:c1", "lead:l1"}),
    }
    by_record = {e.record.entity_id: e for e in bus.enriched}
    assert by_record["c2"].duplicates is not None
    assert by_record["c2"].duplicates.duplicate_of == RecordRef.parse("contact:c1")
    assert by_record["c3"].duplicates is not None
    assert by_record["c3"].duplicates.duplicate_of is None
    assert by_record["a1"].duplicates is not None  # accounts are matched too, alone here
    for key in ("contact:c1", "contact:c2", "lead:l1"):
        assert bus.matches[key].cluster.key == "contact:c1"
    assert len(bus.enriched) == 5, "every change yields exactly one enriched record"


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_any_delivery_order_finds_the_same_pairs_and_clusters(seed: int) -> None:
    """A~B~C chains too: the cluster is always the oldest record, whoever learns it last."""
    bus = Bus(seed=seed)
    people(bus)
    bus.change("contact", "c4", first_name="Ada", last_name="Lovelcae", email="ada@gmail.com")
    bus.change("contact", "c2", op="update", city="London")
    bus.run()
    expected = Bus(seed=0)
    people(expected)
    expected.change("contact", "c4", first_name="Ada", last_name="Lovelcae", email="ada@gmail.com")
    expected.change("contact", "c2", op="update", city="London")
    expected.run()
    assert bus.pairs() == expected.pairs()
    clusters = {bus.matches[key].cluster.key for key in ("contact:c1", "contact:c2", "lead:l1")}
    assert clusters == {"contact:c1"}
    assert len(bus.enriched) == 7
    changes_in_order = [e.change.event_id for e in bus.enriched if e.record.entity_id == "c2"]
    assert changes_in_order == sorted(changes_in_order, key=lambda eid: int(eid[1:]))


def test_a_verdict_survives_updates_and_old_identifiers_still_match() -> None:
    """A new mailbox does not make two people of one; the old one still identifies her."""
    bus = Bus(seed=3)
    bus.change("contact", "c1", **ADA)
    bus.change("contact", "c2", **ADA)
    bus.run()
    assert bus.pairs() == {frozenset({"contact:c1", "contact:c2"})}
    bus.change("contact", "c2", op="update", email="lovelace@newjob.io", phone="+14155550111")
    bus.change("contact", "c1", op="update", email="countess@lovelace.uk")
    bus.run()
    assert bus.pairs() == {frozenset({"contact:c1", "contact:c2"})}
    assert bus.pairs(Decision.DISTINCT) == set()
    bus.change("contact", "c3", first_name="A.", last_name="Lovelace", email="ada@analytical.io")
    bus.run()
    assert "contact:c3" in bus.matches["contact:c1"].links, "matched on c1's former mailbox"


def test_an_update_outside_the_profile_comes_out_at_once_with_the_standing_verdict() -> None:
    """Nothing to match again: the record is not held for its blocks, and keeps its verdict."""
    bus = Bus(seed=5)
    bus.change("contact", "c1", **ADA)
    bus.change("contact", "c2", **ADA)
    bus.run()
    before = bus.matches["contact:c2"]
    bus.change("contact", "c2", op="update", title="Countess")
    bus.run_one(("changes", "contact:c2"))
    [update] = bus.enriched[-1:]
    assert update.change.event_id == "e3"
    assert update.record.fields["title"] == "Countess"
    assert update.duplicates == before.verdict()
    assert update.duplicates.duplicate_of is not None
    assert update.duplicates.duplicate_of.key() == "contact:c1"
    assert bus.matches["contact:c2"] == before, "the match state is as it was"
    assert not any(bus.queues.values()), "no block was asked"


def test_a_deleted_record_leaves_its_blocks_and_its_pairs() -> None:
    bus = Bus(seed=4)
    bus.change("contact", "c1", **ADA)
    bus.change("contact", "c2", **ADA)
    bus.run()
    bus.change("contact", "c1", op="delete")
    bus.run()
    assert not bus.matches["contact:c2"].links
    tombstones = [block.members["contact:c1"] for block in bus.blocks.values()]
    assert tombstones, "kept for changes made before the delete that arrive after it"
    assert all(member.deleted_at == T0 + timedelta(minutes=3) for member in tombstones)
    bus.change("contact", "c3", **ADA)
    bus.run()
    assert frozenset({"contact:c1", "contact:c3"}) not in bus.pairs()
    assert frozenset({"contact:c2", "contact:c3"}) in bus.pairs()


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_a_delete_overtaking_a_create_changes_nothing(seed: int) -> None:
    """c2 was created before c1's delete and c3 after it, and the delete may reach the blocks
    first or last: c1~c2 is found (then withdrawn) in every order. c1~c3 never existed at one
    moment; when c3 reaches a block before the delete it may be called a pair for as long as
    c1 takes to answer "gone", but never stands."""
    bus = Bus(seed=seed)
    bus.change("contact", "c1", **ADA)
    bus.run()
    bus.change("contact", "c2", **ADA)
    bus.change("contact", "c1", op="delete")
    bus.change("contact", "c3", **ADA)
    bus.run()
    across_the_delete = frozenset({"contact:c1", "contact:c3"})
    assert bus.ever_pairs() - {across_the_delete} == {
        frozenset({"contact:c1", "contact:c2"}),
        frozenset({"contact:c2", "contact:c3"}),
    }
    assert bus.pairs() == {frozenset({"contact:c2", "contact:c3"})}
    assert frozenset({"contact:c1", "contact:c2"}) in bus.pairs(Decision.DISTINCT)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_a_record_deleted_while_it_is_matched_still_had_its_pairs(seed: int) -> None:
    """c2's delete may reach c2's partition before the blocks' answers to its create, or c1
    reach the blocks when c2 is already a tombstone there: the pair existed until the delete
    all the same, and is reported found and ended in every order."""
    bus = Bus(seed=seed)
    bus.change("contact", "c1", **ADA)
    if seed % 2:  # else c1 itself may reach the blocks after c2 is a tombstone there
        bus.run()
    bus.change("contact", "c2", **ADA)
    bus.change("contact", "c2", op="delete")
    bus.run()
    pair = frozenset({"contact:c1", "contact:c2"})
    assert bus.ever_pairs() == {pair}
    assert bus.pairs(Decision.DISTINCT) == {pair}
    assert not bus.matches["contact:c1"].links
    if seed % 2:  # c1 was indexed first: c2's create was matched against it
        created = next(e for e in bus.enriched if e.record.entity_id == "c2")
        assert created.duplicates is not None
        assert created.duplicates.duplicate_of == RecordRef.parse("contact:c1")


def test_tombstones_expire_after_the_grace() -> None:
    bus = Bus(seed=7)
    bus.change("contact", "c1", **ADA)
    bus.change("contact", "c1", op="delete")
    bus.run()
    assert any("contact:c1" in block.members for block in bus.blocks.values())
    bus.clock += int(TOMBSTONE_GRACE.total_seconds() // 60) + 1
    bus.change("contact", "c2", **ADA)
    bus.run()
    assert all("contact:c1" not in block.members for block in bus.blocks.values())
    assert not bus.ever_pairs()


def test_a_reviewer_verdict_is_final_and_teaches_the_model() -> None:
    bus = Bus(seed=5)
    bus.change("contact", "c1", **ADA)
    bus.change("contact", "c2", **ADA)
    bus.run()
    for message in feedback_messages(
        RecordRef.parse("contact:c2"), RecordRef.parse("contact:c1"), "rejected"
    ):
        bus.send("records", message.target, message)
    bus.run()
    assert bus.pairs(Decision.DISTINCT) == {frozenset({"contact:c1", "contact:c2"})}
    assert bus.duplicates[-1].source == "feedback"
    assert bus.judge.feedback_count == 1
    assert bus.judge.feedback(Decision.DUPLICATE) == (0, 1)
    bus.change("contact", "c2", op="update", city="London")  # the matcher may not undo it
    bus.run()
    assert bus.pairs(Decision.DISTINCT) == {frozenset({"contact:c1", "contact:c2"})}


def test_a_saturated_block_is_never_compared_again() -> None:
    bus = Bus(seed=6)
    for n in range(60):  # one switchboard number for sixty different people
        bus.change(
            "contact", f"c{n}", first_name=f"Person{n}", last_name=f"Name{n}", phone="+14155550199"
        )
    bus.run()
    block = bus.blocks["phone:+14155550199"]
    assert block.saturated
    assert not block.members


def test_a_change_redelivered_after_a_crash_asks_the_blocks_again() -> None:
    """A crash kept the state of a change (its round asked the blocks) but lost its index
    requests, then the change came again (its offset was not committed): the round must
    not wait forever, nor the enriched records queued behind it."""
    bus = Bus(seed=1)
    bus.change("contact", "c1", **ADA)
    bus.run()
    bus.change("contact", "c2", **ADA)
    [change] = bus.queues[("changes", "contact:c2")]
    bus.run_one(("changes", "contact:c2"))
    lost = bus.drop("blocks", lambda request: request.record_key == "contact:c2")
    assert lost, "the round asked its blocks"
    bus.send("changes", "contact:c2", change)  # the redelivery
    bus.run()
    c2 = [e for e in bus.enriched if e.record.entity_id == "c2"]
    assert [e.merge_outcome.value for e in c2] == ["applied", "redelivered"]
    assert bus.pairs() == {frozenset({"contact:c1", "contact:c2"})}
    assert c2[0].duplicates is not None
    assert c2[0].duplicates.duplicate_of == RecordRef.parse("contact:c1")
