"""The matcher's precision/recall curve on generated data: where the default thresholds sit.

``python -m bench.dedup_thresholds [--seeds N] [--events N]`` replays each seed's generated
events through the stream's own block logic, in event order (:func:`replay`), keeps the best
score each pair of person records ever reached, and reads the pairs at or above every
threshold from 0.50 to 0.95 as clusters against the generator's ground truth, pooled over
the seeds. Pairs of records that never existed at the same time are out of scope (see
``models.matching.evaluation``). The defaults (``CRMSTREAM_MATCH_DUPLICATE_THRESHOLD`` 0.8,
``..._REVIEW_THRESHOLD`` 0.65) are read off this curve: the duplicate threshold is the lowest
at which precision stays at least 0.99 for every seed, so automatic merges are almost never
wrong, and the review band below it is where precision falls off but a human still finds
most pairs true. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from models.matching import DuplicateMatcher, MatchRecord
from models.matching.blocking import profile_keys
from models.matching.evaluation import Pair, PairQuality, coexisting, pair_quality
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

DEFAULT_SEEDS = 5
DEFAULT_EVENTS = 20_000
THRESHOLDS = tuple(round(0.5 + 0.05 * step, 2) for step in range(10))
_MAX_MEMBERS: int = Settings.model_fields["match_max_block_size"].default
_CREATED_AT = datetime(2026, 1, 5, tzinfo=UTC)  # orders clusters only, which are not scored


@dataclass
class Replay:
    """What replaying a generated run through the blocks found, and what it cost."""

    best: dict[Pair, float] = field(default_factory=dict)  # a pair's highest score so far
    indexings: int = 0
    members_compared: int = 0
    block_seconds: float = 0.0

    def found(self, threshold: float) -> set[Pair]:
        """The pairs that scored at least ``threshold`` at some point."""
        return {pair for pair, score in self.best.items() if score >= threshold}


def replay(events: Iterable[bytes], matcher: DuplicateMatcher) -> Replay:
    """Index every person record in its blocks as the stream does, in event order.

    Creates and updates merge into the record (CDC updates carry only changed fields); a
    record is re-indexed whenever its profile changed (old keys and versions stay until a
    delete, which leaves a tombstone), so it is matched when created, against the records
    known at that moment, and again when it changes. Record keys are entity ids.
    """
    blocks: dict[str, Block] = {}
    raw: dict[str, dict[str, object]] = {}
    indexed: dict[str, tuple[Profile, set[str]]] = {}  # a record's last profile, every key
    floor = candidate_floor(matcher.review_threshold)
    out = Replay()

    def send(request: IndexRequest) -> None:
        block = blocks.get(request.block_key)
        if request.member is not None and block is not None and not block.saturated:
            out.members_compared += len(block.members) - (request.record_key in block.members)
        started = time.perf_counter()
        block, answer = index_in_block(
            block, request, matcher, max_members=_MAX_MEMBERS, floor=floor
        )
        out.block_seconds += time.perf_counter() - started
        blocks[request.block_key] = block if block is not None else Block()
        for candidate in answer.candidates if answer is not None else ():
            pair = frozenset((request.record_key, candidate.key))
            out.best[pair] = max(candidate.score, out.best.get(pair, 0.0))

    for value in events:
        event = orjson.loads(value)
        entity_type, entity_id = event["entity_type"], event["entity_id"]
        if entity_type not in PERSON_TYPES:
            continue
        at = datetime.fromisoformat(event["occurred_at"])
        if event["op"] == "delete":
            for key in indexed.pop(entity_id, ({}, set()))[1]:
                send(IndexRequest(block_key=key, record_key=entity_id, seq=1, at=at, member=None))
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
        indexed[entity_id] = (profile, every_key | keys)
        root = Root(since=_CREATED_AT, key=entity_id)
        member = Member(key=entity_id, created_at=_CREATED_AT, cluster=root, profiles=[profile])
        out.indexings += 1
        for key in keys:
            send(IndexRequest(block_key=key, record_key=entity_id, seq=1, at=at, member=member))
    return out


def same_type(pair: Pair) -> bool:
    """The generator's truth pairs records of one type; a lead~contact match is not in it."""
    return len({entity_id.split("-")[0] for entity_id in pair}) == 1


@dataclass(frozen=True)
class SeedRun:
    """One seed's replay and what its truth says."""

    replay: Replay
    truth: set[Pair]
    in_scope_lifetimes: dict[str, tuple[int, float]]

    def quality(self, threshold: float) -> PairQuality:
        found = {pair for pair in self.replay.found(threshold) if same_type(pair)}
        return pair_quality(found, self.truth, coexisting(self.in_scope_lifetimes))


def run_seed(seed: int, events: int, matcher: DuplicateMatcher) -> SeedRun:
    simulation = CrmSimulation(seed)
    values = [e.value for e in simulation.events(events) if e.expected_error is None]
    lifetimes = record_lifetimes(values)
    return SeedRun(
        replay(values, matcher),
        {frozenset((d.entity_id, d.duplicate_of)) for d in simulation.ground_truth.duplicates},
        {key.partition(":")[2]: span for key, span in lifetimes.items()},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS)
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    args = parser.parse_args(argv)
    matcher = DuplicateMatcher()
    runs = [run_seed(seed, args.events, matcher) for seed in range(1, args.seeds + 1)]
    rows = []
    marks = {matcher.duplicate_threshold: "<- duplicate", matcher.review_threshold: "<- review"}
    print("threshold  precision  recall  F1      min precision  min recall  (pooled over seeds)")
    for threshold in THRESHOLDS:
        qualities = [run.quality(threshold) for run in runs]
        correct = sum(q.correct_pairs for q in qualities)
        claimed = sum(q.found_pairs for q in qualities)
        actual = sum(q.true_pairs for q in qualities)
        precision = correct / claimed if claimed else 1.0
        recall = correct / actual if actual else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        row = {
            "threshold": threshold,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "min_precision": min(q.precision for q in qualities),
            "min_recall": min(q.recall for q in qualities),
        }
        rows.append(row)
        print(
            f"{threshold:9.2f}  {precision:9.4f}  {recall:6.4f}  {f1:.4f}"
            f"  {row['min_precision']:13.4f}  {row['min_recall']:10.4f}  {marks.get(threshold, '')}"
        )
    result = {
        "seeds": args.seeds,
        "events": args.events,
        "true_pairs": sum(run.quality(1.0).true_pairs for run in runs),
        "duplicate_threshold": matcher.duplicate_threshold,
        "review_threshold": matcher.review_threshold,
        "curve": rows,
    }
    print(orjson.dumps(result).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
