"""Near-duplicate quality through the real stream: pair precision, recall and F1.

``python -m bench.dedup_quality [--events N] [--seed S] [--workers W]`` generates CRM changes
with known duplicates (``streams.generator``), sends them through a local Kafka broker and
``crmstream worker`` processes with the default settings, reads ``crm.duplicates`` back and
scores the pairs ever called ``duplicate`` (a later delete withdraws a pair, not the finding),
as clusters, against the generator's ground truth. Pairs of records that never existed at the
same time (an original deleted before someone re-entered it) are out of scope on both sides:
a record made after a delete is not matched against the deleted one.
With ``--workers 2`` it also runs one worker on the same input and reports whether both found
the same pairs. The last line printed is a JSON object.

The broker is ``KAFKA_BOOTSTRAP_SERVERS`` when set, else one started here and stopped after.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from bench.broker import kafka_broker
from models.matching.evaluation import Pair, PairQuality, coexisting, pair_quality
from schemas.duplicates import Decision
from schemas.mapping import DEFAULT_FIELD_MAPPING
from streams.deployment import Deployment, count_changes
from streams.generator import CrmSimulation, record_lifetimes
from streams.publish import publish_events
from streams.topic_reader import read_records, wait_until_quiet
from streams.topics import Topic
from streams.worker_process import wait_until_ready

DEFAULT_EVENTS = 20_000
DEFAULT_SEED = 20240611


@dataclass(frozen=True)
class StreamRun:
    """What one run through the stream decided: each pair's last decision, and every pair
    ever called a duplicate (a pair withdrawn because a record was deleted was still found)."""

    decisions: dict[Pair, Decision]
    ever_duplicate: set[Pair]
    enriched: int
    seconds: float

    def pairs(self, decision: Decision) -> set[Pair]:
        return {pair for pair, last in self.decisions.items() if last is decision}


def run_stream(
    bootstrap: str,
    workdir: Path,
    *,
    events: int,
    seed: int,
    workers: int,
    rate: float | None = None,
    timeout: float = 600,
) -> StreamRun:
    """Generated events through ``workers`` worker processes; the pair decisions out."""
    run_id = uuid.uuid4().hex[:8]
    deployment = Deployment.create(
        bootstrap, (f"bench-{run_id}.crm.", f"crmstream-bench-{run_id}"), workdir / run_id
    )
    generated = list(CrmSimulation(seed).events(events))
    valid = [event.value for event in generated if event.expected_error is None]
    expected = count_changes(valid, DEFAULT_FIELD_MAPPING) + len(generated) - len(valid)
    outputs = [deployment.topic(Topic.DUPLICATES), deployment.topic(Topic.ENRICHED)]
    with contextlib.ExitStack() as stack:
        running = [
            stack.enter_context(deployment.worker(f"worker-{number}.log", own_web_port=number > 0))
            for number in range(workers)
        ]
        wait_until_ready(running)
        started = time.perf_counter()
        publish_events(
            generated,
            bootstrap_servers=bootstrap,
            topic=deployment.topic(Topic.CHANGES),
            rate=rate,
            progress=False,
        )
        done = deployment.read_outputs(expected=expected, timeout=timeout)
        if len(done) < expected:
            raise RuntimeError(f"only {len(done)} of {expected} outputs within {timeout} s")
        wait_until_quiet(bootstrap, outputs, quiet=5.0, timeout=timeout)
        seconds = time.perf_counter() - started
    decisions: dict[Pair, Decision] = {}
    ever_duplicate: set[Pair] = set()
    for record in read_records(bootstrap, outputs[:1], expected=1 << 30, timeout=5, settle=0):
        event = orjson.loads(record.value)
        pair = frozenset(
            f"{side['entity_type']}:{side['entity_id']}"
            for side in (event["record"], event["other"])
        )
        decisions[pair] = Decision(event["decision"])
        if decisions[pair] is Decision.DUPLICATE:
            ever_duplicate.add(pair)
    enriched = sum(1 for record in done if record.topic == outputs[1])
    return StreamRun(decisions, ever_duplicate, enriched, seconds)


@dataclass(frozen=True)
class Truth:
    """The generator's duplicates as pairs of record keys, and when each record existed."""

    pairs: set[Pair]
    lifetimes: dict[str, tuple[int, float]]


def generated_truth(seed: int, events: int) -> Truth:
    """What the generator knows about the duplicates among its first ``events`` events."""
    simulation = CrmSimulation(seed)
    lifetimes = record_lifetimes(event.value for event in simulation.events(events))
    return Truth(
        pairs={
            frozenset((f"{d.entity_type}:{d.entity_id}", f"{d.entity_type}:{d.duplicate_of}"))
            for d in simulation.ground_truth.duplicates
        },
        lifetimes=lifetimes,
    )


def score(run: StreamRun, truth: Truth) -> PairQuality:
    """Quality of the same-type duplicate pairs (the truth knows no lead~contact pairs),
    over the pairs of records that existed at one moment."""
    found = {pair for pair in run.ever_duplicate if _same_type(pair)}
    return pair_quality(found, truth.pairs, coexisting(truth.lifetimes))


def _same_type(pair: Pair) -> bool:
    return len({key.partition(":")[0] for key in pair}) == 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="events/s to publish at (default: all at once, a backlog in any interleaving)",
    )
    args = parser.parse_args(argv)
    truth = generated_truth(args.seed, args.events)
    with (
        tempfile.TemporaryDirectory(prefix="crmstream-bench-") as tmp,
        kafka_broker(Path(tmp)) as bootstrap,
    ):
        run = run_stream(
            bootstrap,
            Path(tmp),
            events=args.events,
            seed=args.seed,
            workers=args.workers,
            rate=args.rate,
        )
        baseline = (
            run_stream(
                bootstrap, Path(tmp), events=args.events, seed=args.seed, workers=1, rate=args.rate
            )
            if args.workers > 1
            else None
        )
    quality = score(run, truth)
    result: dict[str, object] = {
        "events": args.events,
        "seed": args.seed,
        "workers": args.workers,
        "rate": args.rate,
        **asdict(quality),
        "possible_pairs": len(run.pairs(Decision.POSSIBLE)),
        "cross_type_pairs": sum(not _same_type(p) for p in run.pairs(Decision.DUPLICATE)),
        "seconds": round(run.seconds, 1),
        "events_per_s": round(args.events / run.seconds, 1),
    }
    if baseline is not None:
        result["same_pairs_as_one_worker"] = run.pairs(Decision.DUPLICATE) == baseline.pairs(
            Decision.DUPLICATE
        ) and run.pairs(Decision.POSSIBLE) == baseline.pairs(Decision.POSSIBLE)
    print(
        f"pairs: {quality.true_pairs} true, {quality.found_pairs} found;"
        f" precision {quality.precision:.4f} recall {quality.recall:.4f} F1 {quality.f1:.4f}",
        file=sys.stderr,
    )
    print(orjson.dumps(result).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
