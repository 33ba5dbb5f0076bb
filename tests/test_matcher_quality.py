"""Matcher quality on the generator's ground truth: pair precision and recall, as the stream
would see them (each new lead or contact checked against the known records, then indexed).

Records are replayed in event order: creates and updates merge into the record (a plain dict
update, as CDC updates carry only changed fields), each record is standardized and re-indexed
whenever its profile changed, through the stream's own block logic (``index_in_block``: old
keys and versions kept until a delete, which leaves a tombstone). A new record is matched when
it is created, against the records known at that moment, the same moment the generator copied
its original, and again when it changes. Pairs of records that never existed at the same time
(the original deleted before its re-entry) are out of scope: such records never meet.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from models.matching import Decision, DuplicateMatcher, MatchRecord
from models.matching.blocking import profile_keys
from models.matching.evaluation import Pair, coexisting, pair_quality
from models.matching.linking import (
    Block,
    IndexRequest,
    Member,
    Root,
    candidate_floor,
    index_in_block,
)
from models.matching.profile import PERSON_TYPES, Profile
from schemas.standardize.record import standardize_fields
from streams.generator import CrmSimulation, record_lifetimes
from streams.settings import Settings

SEED = 20240611
_MAX_MEMBERS = Settings.model_fields["match_max_block_size"].default
_CREATED_AT = datetime(2026, 1, 5, tzinfo=UTC)  # orders clusters only, which are not scored


@dataclass
class Replay:
    """What replaying a generated run through the matcher found, and what it cost."""

    found: dict[Decision, set[Pair]] = field(
        default_factory=lambda: {Decision.DUPLICATE: set(), Decision.POSSIBLE: set()}
    )
    indexings: int = 0
    members_compared: int = 0
    block_seconds: float = 0.0


def replay(events: Iterable[bytes], matcher: DuplicateMatcher) -> Replay:
    """Index every person record in its blocks as the stream does, in event order."""
    blocks: dict[str, Block] = {}
    raw: dict[str, dict[str, object]] = {}
    indexed: dict[str, tuple[Profile, set[str]]] = {}  # a record's last profile, every key
    floor = candidate_floor(matcher.review_threshold)
    out = Replay()
    for value in events:
        event = orjson.loads(value)
        entity_type, entity_id = event["entity_type"], event["entity_id"]
        if entity_type not in PERSON_TYPES:
            continue
        at = datetime.fromisoformat(event["occurred_at"])
        if event["op"] == "delete":
            for key in indexed.pop(entity_id, ({}, set()))[1]:
                request = IndexRequest(
                    block_key=key, record_key=entity_id, seq=1, at=at, member=None
                )
                block, _ = index_in_block(
                    blocks.get(key), request, matcher, max_members=_MAX_MEMBERS, floor=floor
                )
                blocks[key] = block if block is not None else Block()
            raw.pop(entity_id, None)
            continue
        fields = raw.setdefault(entity_id, {})
        fields.update(event["fields"])
        std = standardize_fields(entity_type, fields, default_region="US", date_order="mdy")
        profile = matcher.profile(MatchRecord(entity_type, entity_id, std.fields, std.derived))
        last_profile, every_key = indexed.get(entity_id, ({}, set()))
        if profile == last_profile:
            continue  # the stream re-indexes a record only when its profile changed
        keys = profile_keys(entity_type, profile)
        indexed[entity_id] = (profile, every_key | keys)  # old keys stay until a delete
        root = Root(since=_CREATED_AT, key=entity_id)
        member = Member(key=entity_id, created_at=_CREATED_AT, cluster=root, profiles=[profile])
        out.indexings += 1
        for key in keys:
            block = blocks.get(key)
            if block is not None and not block.saturated:
                out.members_compared += len(block.members) - (entity_id in block.members)
            request = IndexRequest(block_key=key, record_key=entity_id, seq=1, at=at, member=member)
            start = time.perf_counter()
            block, answer = index_in_block(
                block, request, matcher, max_members=_MAX_MEMBERS, floor=floor
            )
            out.block_seconds += time.perf_counter() - start
            blocks[key] = block if block is not None else Block()
            for candidate in answer.candidates if answer is not None else ():
                decision = matcher.decide(candidate.score)
                if decision in out.found:
                    out.found[decision].add(frozenset((entity_id, candidate.key)))
    return out


def _same_type(pair: Pair) -> bool:
    """The generator's truth pairs records of one type; a lead~contact match is not in it."""
    return len({entity_id.split("-")[0] for entity_id in pair}) == 1


def test_pair_precision_and_recall_on_generated_duplicates() -> None:
    """20k events (about 240 true pairs: 3k events give only ~30, too few to measure 0.95)."""
    simulation = CrmSimulation(SEED)
    events = [e.value for e in simulation.events(20_000) if e.expected_error is None]
    lifetimes = record_lifetimes(events)  # a record made after a delete does not meet it
    in_scope = coexisting({key.partition(":")[2]: span for key, span in lifetimes.items()})
    truth_pairs = simulation.ground_truth.duplicates
    direct = {frozenset((d.entity_id, d.duplicate_of)) for d in truth_pairs}
    matcher = DuplicateMatcher()
    result = replay(events, matcher)
    found = {pair for pair in result.found[Decision.DUPLICATE] if _same_type(pair)}
    quality = pair_quality(found, direct, in_scope)
    precision, recall, truth = quality.precision, quality.recall, range(quality.true_pairs)
    findable = set(filter(in_scope, direct))
    direct_recall = len(found & findable) / len(findable)
    per_record = result.members_compared / result.indexings
    micros = 1e6 * result.block_seconds / result.indexings
    print(
        f"\ntrue pairs {len(truth)}, cluster pairs: precision {precision:.4f} recall {recall:.4f};"
        f" direct pairs recall {direct_recall:.4f}; members compared per indexing"
        f" {per_record:.2f}, {micros:.0f} us in blocks per indexing (thresholds"
        f" {matcher.duplicate_threshold}/{matcher.review_threshold})"
    )
    assert precision >= 0.98
    assert recall >= 0.97
    assert per_record < 2.0
