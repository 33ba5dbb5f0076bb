"""How near-duplicate matching cost per record grows with the table: 10k, 100k and 1M records.

The stream matches every new lead or contact against the people it already knows, so the
cost per record must not grow with the table; the project's acceptance is a cost per record at
1M known records of at most 1.5x the cost at 10k. This bench measures that cost and, because
blocking is what keeps it flat, the block sizes behind it.

What is timed (the stream's per-record matching path, nothing else)
    ``matcher.profile(MatchRecord(...))`` of the already standardized record,
    ``profile_keys``, ``BlockingIndex.candidates``, ``matcher.score_profiles`` against every
    candidate (keeping the non-distinct ones, as ``DuplicateMatcher.match_one`` does), then
    storing the profile and indexing the record. The probe is un-indexed again after the
    clock stops, so the table keeps its size. Standardization is not matching cost and is done
    once, beforehand, for table and probes alike.

The data, and how honest it is
    Table records are the first lead and contact *create* events of
    ``streams.generator.CrmSimulation(seed)``, in generation order, standardized with
    ``standardize_fields`` (default region US, dates m/d/y) and read as profiles, as the
    stream stores them. Later partial updates and deletes are not applied: they change
    status, titles and now and then a phone or address, not the mix of blocking keys, and
    replaying them would double the build time. About 5% of table records are the
    generator's own near duplicates, as in the stream.

    Probes are fixed for all sizes and held out of the table. *Duplicate* probes are all the
    generator's near duplicates (name typos, swaps, nicknames, email and phone variants, moved
    addresses) among the first 60k creates whose original is among the first 10k creates, so
    their original is in the table at every size (802 with the default seed). *New*
    probes are 1,000 other creates from positions 10k-30k that neither duplicate nor are
    duplicated by anything, i.e. people the table does not know. The generator copies an
    original's *current* fields (updates included) while the table holds it as created, so
    a duplicate differs a little more here than in ``tests/test_matcher_quality.py``; "dup
    found" (original decided ``duplicate``) and "cand" (original among the candidates) are
    reported to show that recall does not change with size, not to measure it.

    The generator draws from finite value pools: about 60 cities, postcodes from patterns
    with as few as 1-1,000 values per city (all of Boulogne-Billancourt is "92100"), 1,260
    "prefix noun" company names for 80% of leads, a few hundred names per culture. The
    number of records per postcode, company and city therefore grows linearly with the table,
    which a real CRM of 1M people (tens of thousands of postcodes, hundreds of thousands of
    companies) would not do to the same degree. The *value pools* table shows this, and the
    *blocks by key kind* table shows which keys' blocks grow; read the cost together with
    them. (Profiles hold a lead's company as typed, not its ``company_key``:
    ``DuplicateMatcher.profile`` re-reads weighted fields, "company" among them, over it.)

How it runs
    A child process runs the simulation and passes the person creates' raw JSON to this
    process, which standardizes, profiles and indexes them: the two halves take about as long,
    so on two cores they overlap (the 1M build takes 1.5-3 minutes, the bench 2-4, by load).
    The table grows 10k -> 100k -> 1M; at each size, once the generator is idle, every probe
    is matched at least ``--repeats`` times and for at least ``--min-seconds`` (gc disabled:
    the bench makes no reference cycles, and a full collection over millions of containers
    would otherwise land in random probes). A probe's time is its median over the
    repetitions, so a burst of other load on a shared machine moves few of them; "µs/rec" is
    their mean (what throughput depends on), p50 and p99 are over the probes. Peak RSS is
    this process's ``ru_maxrss``; the generator child's is reported separately.

"lookup µs" is everything but scoring; "(≤1 cand)" is the same over the probes with at most
one candidate, i.e. the cost of the index itself without the growth of the blocks.

The last line of output is one JSON object with every number in the tables.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import random
import resource
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Annotated, Final

import orjson
import typer
from rich.console import Console
from rich.table import Table as RichTable

from models.matching import BlockingIndex, Decision, DuplicateMatcher, MatchRecord, MatchResult
from models.matching.blocking import profile_keys
from models.matching.profile import PERSON_TYPES, Profile
from schemas.standardize.record import standardize_fields
from streams.generator import CrmSimulation

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Event

SEED: Final = 20240611
DEFAULT_SIZES: Final = (10_000, 100_000, 1_000_000)
ACCEPTANCE_RATIO: Final = 1.5
"""Cost per record at the largest size over the smallest, at most (the project's acceptance)."""

_PREFIX: Final = 60_000  # creates read ahead to choose probes: duplicates come up to ~48k later
_ORIGINALS_WITHIN: Final = 10_000  # a duplicate probe's original is among the first 10k creates
_NEW_FROM, _NEW_TO = 10_000, 30_000  # where new probes are taken from (held out of the table)
_EVENTS_PER_BATCH: Final = 5_000
_QUEUE_BATCHES: Final = 16  # back-pressure: the child runs at most this far ahead
_CHILD_TIMEOUT_S: Final = 300.0
_DEFAULT_REGION: Final = "US"

_Batch = tuple[list[bytes], list[tuple[str, str]]]
"""Person creates' raw event JSON, and (duplicate id, original id) pairs made meanwhile."""


# --------------------------------------------------------------------------------------------
# Data: the generator in a child process
# --------------------------------------------------------------------------------------------


def _produce(seed: int, creates: int, queue: Queue[_Batch | None], finished: Event) -> None:
    """Child process: run the simulation until ``creates`` person creates have been sent."""
    simulation = CrmSimulation(seed)
    sent = reported = 0
    while sent < creates:
        batch = [
            event.value
            for event in simulation.events(_EVENTS_PER_BATCH)
            if event.entity_type in PERSON_TYPES and b'"op":"create"' in event.value
        ]
        duplicates = simulation.ground_truth.duplicates[reported:]
        reported += len(duplicates)
        sent += len(batch)
        queue.put((batch, [(d.entity_id, d.duplicate_of) for d in duplicates]))
    queue.put(None)
    finished.set()  # the process lives on until the queue is drained


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A person create as the CRM sent it (before standardization)."""

    entity_type: str
    entity_id: str
    fields: dict[str, object]


class PersonCreates:
    """The simulation's person creates, in order, from a child process; duplicate truth too."""

    def __init__(self, seed: int, creates: int) -> None:
        context = multiprocessing.get_context()
        self.duplicate_of: dict[str, str] = {}
        self._queue: Queue[_Batch | None] = context.Queue(maxsize=_QUEUE_BATCHES)
        self._finished = context.Event()
        self._process: BaseProcess = context.Process(
            target=_produce, args=(seed, creates, self._queue, self._finished), daemon=True
        )
        self._process.start()
        self._done = False

    def __iter__(self) -> Iterator[RawRecord]:
        while (batch := self._next_batch()) is not None:
            values, duplicates = batch
            self.duplicate_of.update(duplicates)
            for value in values:
                event = orjson.loads(value)
                if event["op"] != "create":  # the child's byte test is a pre-filter only
                    continue
                yield RawRecord(event["entity_type"], event["entity_id"], event["fields"])

    def wait_idle(self) -> None:
        """Wait until the child blocks on a full queue or ends: it must not share the cores
        with the timed loop."""
        while not (
            self._done
            or self._finished.is_set()
            or self._queue.full()
            or not self._process.is_alive()
        ):
            time.sleep(0.05)

    def close(self) -> float:
        """Drain what the child still sends, wait for it; its peak RSS in MB."""
        while self._next_batch() is not None:
            pass
        self._process.join()
        return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    def _next_batch(self) -> _Batch | None:
        if self._done:
            return None
        try:
            batch = self._queue.get(timeout=_CHILD_TIMEOUT_S)
        except Exception as error:  # queue.Empty: the child died or hangs
            raise RuntimeError(f"generator process stopped ({self._process.exitcode})") from error
        if batch is None:
            self._done = True
        return batch


# --------------------------------------------------------------------------------------------
# Probes and the table
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Probe:
    """A standardized record matched at every size; ``original`` is set for duplicates."""

    kind: str  # "duplicate" | "new"
    entity_type: str
    entity_id: str
    fields: dict[str, object]
    derived: dict[str, object]
    original: str | None


def _standardize(record: RawRecord) -> tuple[dict[str, object], dict[str, object]]:
    std = standardize_fields(
        record.entity_type, record.fields, default_region=_DEFAULT_REGION, date_order="mdy"
    )
    return std.fields, std.derived


def choose_probes(
    prefix: Sequence[RawRecord], duplicate_of: Mapping[str, str], new_count: int, seed: int
) -> list[Probe]:
    """Duplicate probes whose original is early (see the module docstring), and new ones."""
    position = {record.entity_id: i for i, record in enumerate(prefix)}
    originals = set(duplicate_of.values())
    chosen: dict[str, str | None] = {}
    for record in prefix:
        original = duplicate_of.get(record.entity_id)
        if (
            original is not None
            and position.get(original, _ORIGINALS_WITHIN) < _ORIGINALS_WITHIN
            and original not in chosen
        ):
            chosen[record.entity_id] = original
    eligible = [
        record.entity_id
        for record in prefix[_NEW_FROM:_NEW_TO]
        if record.entity_id not in duplicate_of and record.entity_id not in originals
    ]
    chosen.update(dict.fromkeys(random.Random(seed).sample(eligible, new_count)))
    probes = []
    for record in prefix:
        if record.entity_id in chosen:
            fields, derived = _standardize(record)
            original = chosen[record.entity_id]
            kind = "new" if original is None else "duplicate"
            probes.append(
                Probe(kind, record.entity_type, record.entity_id, fields, derived, original)
            )
    random.Random(seed).shuffle(probes)  # duplicates and new ones interleaved
    return probes


class KnownRecords:
    """The known person records as matching holds them: profiles and their blocking index."""

    def __init__(self, matcher: DuplicateMatcher) -> None:
        self.matcher = matcher
        self.index = BlockingIndex()
        self.profiles: dict[str, Profile] = {}

    def __len__(self) -> int:
        return len(self.profiles)

    def add(self, record: RawRecord) -> None:
        """Standardize, read and index one record (the build, not the timed path)."""
        fields, derived = _standardize(record)
        profile = self.matcher.profile(
            MatchRecord(record.entity_type, record.entity_id, fields, derived)
        )
        self.profiles[record.entity_id] = profile
        self.index.add(record.entity_id, profile_keys(record.entity_type, profile))

    def block_size(self, key: str) -> int:
        """How many records carry ``key``, oversized blocks included.

        ``BlockingIndex`` has no public way to ask (``candidates`` hides blocks over
        ``max_block_size``), so this reads its key -> records map, read-only.
        """
        return len(self.index._blocks.get(key, ()))

    def blocks(self) -> Iterator[tuple[str, int]]:
        """Every key and its block size (read-only, see :meth:`block_size`)."""
        return ((key, len(block)) for key, block in self.index._blocks.items())


def key_kind(key: str) -> str:
    """``email``, ``phone``, ``name|postcode``, ``name|company``, ``name|account``, ...

    >>> key_kind("name:L142|postcode:N1 9GU"), key_kind("names:A300+L142|city:london")
    ('name|postcode', 'names|city')
    """
    head, _, rest = key.partition(":")
    place = rest.partition("|")[2].partition(":")[0]
    return f"{head}|{place}" if place else head


# --------------------------------------------------------------------------------------------
# Measuring one size
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProbeTimes:
    """One repetition over the probes: per probe, ns in total and in scoring, candidates."""

    total_ns: list[int]
    score_ns: list[int]
    candidates: list[int]
    found: list[list[tuple[str, MatchResult]]]


def match_probes(table: KnownRecords, probes: Sequence[Probe]) -> ProbeTimes:
    """Match every probe as the stream would, timing only the matching path."""
    matcher, index, profiles = table.matcher, table.index, table.profiles
    clock = time.perf_counter_ns
    out = ProbeTimes([], [], [], [])
    for probe in probes:
        entity_type, entity_id = probe.entity_type, probe.entity_id
        start = clock()
        profile = matcher.profile(MatchRecord(entity_type, entity_id, probe.fields, probe.derived))
        keys = profile_keys(entity_type, profile)
        candidates = index.candidates(keys, exclude=entity_id)
        scoring = clock()
        found = []
        for other in candidates:
            result = matcher.score_profiles(profile, profiles[other])
            if result.decision is not Decision.DISTINCT:
                found.append((other, result))
        scored = clock()
        profiles[entity_id] = profile
        index.add(entity_id, keys)
        end = clock()
        index.remove(entity_id)
        del profiles[entity_id]
        out.total_ns.append(end - start)
        out.score_ns.append(scored - scoring)
        out.candidates.append(len(candidates))
        out.found.append(found)
    return out


@dataclass(frozen=True, slots=True)
class KindStats:
    """The blocks a probe meets under one key kind: how many records they hold."""

    keys_per_record: float
    records_per_record: float  # block sizes summed per probe, before de-duplication
    mean_block: float
    p99_block: float
    max_block: int
    skipped_share: float  # keys whose block is over max_block_size (not compared at all)


@dataclass(frozen=True, slots=True)
class PoolStats:
    """How many distinct values of a profile field the table holds, and records per value."""

    distinct: int
    mean_records: float
    max_records: int
    max_value: str


@dataclass(frozen=True, slots=True)
class SizeResult:
    """Everything measured at one table size."""

    size: int
    build_s: float
    repetitions: int
    us_per_record: float  # mean over the probes of each probe's median time
    p50_us: float
    p99_us: float
    lookup_us: float  # profile, keys, candidates, indexing: everything but scoring
    lookup_few_us: float  # the same for probes with at most one candidate: the index alone
    score_us: float
    us_per_comparison: float
    candidates_mean: float
    candidates_p99: float
    candidates_max: int
    largest_block: int
    largest_block_key: str
    oversized_blocks: int
    duplicate_recall: float  # duplicate probes whose original is decided duplicate
    candidate_recall: float  # duplicate probes whose original is among the candidates
    rss_mb: float
    kinds: dict[str, KindStats] = field(default_factory=dict)
    pools: dict[str, PoolStats] = field(default_factory=dict)


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(share * len(ordered)))]) if ordered else 0.0


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(
    table: KnownRecords,
    probes: Sequence[Probe],
    *,
    repeats: int,
    min_seconds: float,
    build_s: float,
) -> SizeResult:
    """Match the probes at least ``repeats`` times and ``min_seconds`` long; summarize."""
    runs: list[ProbeTimes] = []
    started = time.perf_counter()
    while len(runs) < repeats or time.perf_counter() - started < min_seconds:
        runs.append(match_probes(table, probes))
    n = len(probes)
    per_probe = [statistics.median(run.total_ns[i] for run in runs) / 1000 for i in range(n)]
    score = [statistics.median(run.score_ns[i] for run in runs) / 1000 for i in range(n)]
    candidates = runs[0].candidates
    lookup = [t - s for t, s in zip(per_probe, score, strict=True)]
    comparisons = sum(candidates)
    duplicates = [(i, p) for i, p in enumerate(probes) if p.original is not None]
    decided = sum(
        any(other == p.original and r.decision is Decision.DUPLICATE for other, r in found)
        for i, p in duplicates
        for found in (runs[0].found[i],)
    )
    in_candidates = sum(
        p.original in table.index.candidates(profile_keys(p.entity_type, _profile(table, p)))
        for _, p in duplicates
    )
    largest_key, largest = max(table.blocks(), key=lambda item: item[1])
    cap = table.index.max_block_size
    return SizeResult(
        size=len(table),
        build_s=build_s,
        repetitions=len(runs),
        us_per_record=statistics.fmean(per_probe),
        p50_us=_percentile(per_probe, 0.5),
        p99_us=_percentile(per_probe, 0.99),
        lookup_us=statistics.fmean(lookup),
        lookup_few_us=statistics.fmean(
            t for t, c in zip(lookup, candidates, strict=True) if c <= 1
        ),
        score_us=statistics.fmean(score),
        us_per_comparison=sum(score) / max(comparisons, 1),
        candidates_mean=comparisons / n,
        candidates_p99=_percentile(candidates, 0.99),
        candidates_max=max(candidates),
        largest_block=largest,
        largest_block_key=largest_key,
        oversized_blocks=sum(size > cap for _, size in table.blocks()),
        duplicate_recall=decided / max(len(duplicates), 1),
        candidate_recall=in_candidates / max(len(duplicates), 1),
        rss_mb=_rss_mb(),
        kinds=kind_stats(table, probes),
        pools=pool_stats(table),
    )


def _profile(table: KnownRecords, probe: Probe) -> Profile:
    return table.matcher.profile(
        MatchRecord(probe.entity_type, probe.entity_id, probe.fields, probe.derived)
    )


def kind_stats(table: KnownRecords, probes: Sequence[Probe]) -> dict[str, KindStats]:
    """Per key kind, the sizes of the blocks the probes look up."""
    sizes: defaultdict[str, list[int]] = defaultdict(list)
    for probe in probes:
        for key in profile_keys(probe.entity_type, _profile(table, probe)):
            sizes[key_kind(key)].append(table.block_size(key))
    cap = table.index.max_block_size
    n = len(probes)
    return {
        kind: KindStats(
            keys_per_record=len(found) / n,
            records_per_record=sum(found) / n,
            mean_block=statistics.fmean(found),
            p99_block=_percentile(found, 0.99),
            max_block=max(found),
            skipped_share=sum(size > cap for size in found) / len(found),
        )
        for kind, found in sorted(sizes.items())
    }


_POOL_FIELDS: Final = ("postal_code", "company", "city", "account_id", "last_name")


def pool_stats(table: KnownRecords) -> dict[str, PoolStats]:
    """Distinct values of the fields blocking pairs names with, and records per value."""
    counts = {name: Counter[str]() for name in _POOL_FIELDS}
    for profile in table.profiles.values():
        for name, counter in counts.items():
            value = profile.get(name)
            if value is not None:
                counter[value] += 1
    out = {}
    for name, counter in counts.items():
        value, most = counter.most_common(1)[0] if counter else ("", 0)
        out[name] = PoolStats(len(counter), counter.total() / max(len(counter), 1), most, value)
    return out


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def _size_label(size: int) -> str:
    return f"{size // 1_000_000}M" if size % 1_000_000 == 0 else f"{size // 1000}k"


def render(console: Console, results: Sequence[SizeResult]) -> None:
    """The three tables: cost per size, blocks by key kind, value pools."""
    cost = RichTable(title="Near-duplicate matching cost per record (fixed probes)")
    for header in (
        "table", "µs/rec", "p50 µs", "p99 µs", "lookup µs", "(≤1 cand)", "score µs", "µs/cmp",
        "cand/rec", "cand p99/max", "largest block", ">cap", "dup found/cand", "RSS MB", "build s",
    ):  # fmt: skip
        cost.add_column(header, justify="right", no_wrap=True)
    for r in results:
        cost.add_row(
            _size_label(r.size), f"{r.us_per_record:.1f}", f"{r.p50_us:.1f}",
            f"{r.p99_us:.0f}", f"{r.lookup_us:.1f}", f"{r.lookup_few_us:.1f}", f"{r.score_us:.1f}",
            f"{r.us_per_comparison:.1f}", f"{r.candidates_mean:.2f}",
            f"{r.candidates_p99:.0f}/{r.candidates_max}",
            f"{r.largest_block} {key_kind(r.largest_block_key)}", str(r.oversized_blocks),
            f"{r.duplicate_recall:.3f}/{r.candidate_recall:.3f}", f"{r.rss_mb:.0f}",
            f"{r.build_s:.0f}",
        )  # fmt: skip
    console.print(cost)

    kinds = RichTable(
        title="Blocks the probes look up, by key kind: records per probe (mean block, max)"
    )
    kinds.add_column("key kind")
    kinds.add_column("keys/rec", justify="right")
    for r in results:
        kinds.add_column(_size_label(r.size), justify="right")
    kinds.add_column("growth", justify="right")
    for kind in sorted({k for r in results for k in r.kinds}):
        stats = [r.kinds.get(kind) for r in results]
        cells = [
            f"{s.records_per_record:.2f} ({s.mean_block:.1f}, {s.max_block})" if s else "-"
            for s in stats
        ]
        first, last = stats[0], stats[-1]
        growth = (
            f"{last.records_per_record / first.records_per_record:.0f}x"
            if first and last and first.records_per_record
            else "-"
        )
        keys = f"{last.keys_per_record:.2f}" if last else "-"
        kinds.add_row(kind, keys, *cells, growth)
    console.print(kinds)

    pools = RichTable(
        title="Value pools: distinct values in the table (records per value: mean, max)"
    )
    pools.add_column("field")
    for r in results:
        pools.add_column(_size_label(r.size), justify="right")
    for name in _POOL_FIELDS:
        cells = []
        for r in results:
            p = r.pools[name]
            cells.append(f"{p.distinct} ({p.mean_records:.1f}, {p.max_records} {p.max_value!r})")
        pools.add_row(name, *cells)
    console.print(pools)


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def _consume(items: list[RawRecord]) -> Iterator[RawRecord]:
    """Yield and forget: the read-ahead records must not stay alive beside the table."""
    items.reverse()
    while items:
        yield items.pop()


def _rounded(value: object) -> object:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {str(k): _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def run(
    sizes: Sequence[int],
    *,
    new_probes: int,
    repeats: int,
    min_seconds: float,
    seed: int,
    log: Console,
) -> tuple[list[SizeResult], dict[str, object]]:
    """Grow the table through ``sizes``, measuring at each; the results and the summary."""
    started = time.perf_counter()
    gc.disable()  # see the module docstring
    sizes = sorted(sizes)
    creates = PersonCreates(seed, max(_PREFIX, sizes[-1] + new_probes + 2_000))
    stream = iter(creates)
    prefix = [record for _, record in zip(range(_PREFIX), stream, strict=False)]
    probes = choose_probes(prefix, creates.duplicate_of, new_probes, seed)
    held_out = {probe.entity_id for probe in probes}
    kinds = Counter(probe.kind for probe in probes)
    log.print(f"[{time.perf_counter() - started:6.1f}s] probes: {dict(kinds)}")
    pending = (
        record
        for part in (_consume(prefix), stream)
        for record in part
        if record.entity_id not in held_out
    )
    table = KnownRecords(DuplicateMatcher())
    results = []
    for size in sizes:
        build_started = time.perf_counter()
        for record in pending:
            table.add(record)
            if len(table) >= size:
                break
        if len(table) < size:
            raise RuntimeError(f"the generator ran out at {len(table)} records")
        build_s = time.perf_counter() - build_started
        log.print(
            f"[{time.perf_counter() - started:6.1f}s] {size:,} records built in {build_s:.0f}s"
        )
        creates.wait_idle()
        results.append(
            measure(table, probes, repeats=repeats, min_seconds=min_seconds, build_s=build_s)
        )
        log.print(f"[{time.perf_counter() - started:6.1f}s] {size:,} records measured")
    generator_rss = creates.close()
    gc.enable()
    first, last = results[0], results[-1]
    ratio = last.us_per_record / first.us_per_record
    summary: dict[str, object] = {
        "sizes": {str(r.size): asdict(r) for r in results},
        "ratio_1m_10k": ratio,
        "ratio_sizes": [first.size, last.size],
        "ratio_p50_1m_10k": last.p50_us / first.p50_us,
        "ratio_lookup_1m_10k": last.lookup_us / first.lookup_us,
        "ratio_lookup_few_1m_10k": last.lookup_few_us / first.lookup_few_us,
        "candidates_ratio_1m_10k": last.candidates_mean / max(first.candidates_mean, 1e-9),
        "acceptance_max_ratio": ACCEPTANCE_RATIO,
        "accepted": ratio <= ACCEPTANCE_RATIO,
        "peak_rss_mb": _rss_mb(),
        "generator_peak_rss_mb": generator_rss,
        "probes": {**kinds, "min_repeats": repeats, "min_seconds": min_seconds},
        "new_probes_duplicated_later": len(
            {p.entity_id for p in probes if p.original is None} & set(creates.duplicate_of.values())
        ),
        "seed": seed,
        "wall_s": time.perf_counter() - started,
    }
    return results, summary


def main(
    size: Annotated[
        list[int] | None, typer.Option(help="Table sizes to measure at (repeatable).")
    ] = None,
    new_probes: Annotated[int, typer.Option(help="Probes the table does not know.")] = 1_000,
    repeats: Annotated[int, typer.Option(min=1, help="Least repetitions per size.")] = 5,
    min_seconds: Annotated[float, typer.Option(help="Least time spent timing per size.")] = 3.0,
    seed: Annotated[int, typer.Option(help="The simulation's seed.")] = SEED,
) -> None:
    """Measure matching cost per record at each table size; tables, then one JSON line."""
    out = Console()
    if not out.is_terminal:  # piped: rich would squeeze the tables into 80 columns
        out = Console(width=200)
    results, summary = run(
        list(size or DEFAULT_SIZES),
        new_probes=new_probes,
        repeats=repeats,
        min_seconds=min_seconds,
        seed=seed,
        log=Console(stderr=True),
    )
    render(out, results)
    verdict = "meets" if summary["accepted"] else "does NOT meet"
    out.print(
        f"cost per record {_size_label(results[-1].size)}/{_size_label(results[0].size)}:"
        f" {summary['ratio_1m_10k']:.2f}x, {verdict} the <= {ACCEPTANCE_RATIO}x acceptance;"
        f" peak RSS {summary['peak_rss_mb']:.0f} MB"
        f" (generator process {summary['generator_peak_rss_mb']:.0f} MB)"
    )
    sys.stdout.flush()
    sys.stdout.write(json.dumps(_rounded(summary), separators=(",", ":")) + "\n")


if __name__ == "__main__":
    typer.run(main)
