"""How near-duplicate matching cost per record grows with the table: 10k, 100k and 1M records.

The stream matches every new lead or contact against the people it already knows, so the
cost per record must not grow with the table; the project's acceptance is a cost per record at
1M known records of at most 1.5x the cost at 10k. This bench measures that cost and, because
blocking is what keeps it flat, the block sizes behind it.

What is timed (the worker's per-record matching path, without Kafka)
    The table is what the worker's ``blocks`` table holds: block key -> the block's JSON, in a
    dict as in Faust's memory store. Per probe: ``matcher.profile(MatchRecord(...))`` of the
    already standardized record, ``profile_keys``, then for each key what the block agent
    does (read the block's JSON, ``Block.model_validate_json``, ``index_in_block`` to score
    the members and add the record, ``model_dump_json``, write it back), and the learned
    judge's decision on every candidate a block sent back, as the record side takes them.
    The blocks are given back their earlier JSON after the clock stops, so the table keeps
    its size. Left out, because they do not depend on the table: standardization (done once,
    beforehand), Kafka hops, the record side's own state.

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
    their original is in the table at every size (820 with the default seed). *New*
    probes are 1,000 other creates from positions 10k-30k that neither duplicate nor are
    duplicated by anything, i.e. people the table does not know. The generator copies an
    original's *current* fields (updates included) while the table holds it as created, so
    a duplicate differs a little more here than in ``tests/test_matcher_quality.py``; "dup
    found" (original decided ``duplicate``) and "shared" (original in one of the probe's
    blocks) are reported to show that recall does not change with size, not to measure it.

    The generator draws from finite value pools: 61 big cities (postcodes from patterns with
    as few as 1-100 values: all of Boulogne-Billancourt is "92100") and 300 towns per country
    for 65% of people (each with its own postcode prefix), 1,260 "prefix noun" company names
    for 80% of leads, a few hundred names per culture. Records per city, company and name
    therefore still grow with the table, more than in a real CRM of a million people; the
    *value pools* table shows how much, and the *blocks by key kind* table which keys' blocks
    grow: read the cost together with them. Before the towns, when everyone lived in one of
    the 61 cities, name|postcode blocks grew 5x from 10k to 1M and the cost 1.85x. (Profiles
    hold a lead's company as typed, not its ``company_key``: ``DuplicateMatcher.profile``
    re-reads weighted fields, "company" among them, over it.)

How it runs
    A child process runs the simulation and passes the person creates' raw JSON to this
    process, which standardizes, profiles and indexes them: the two halves take about as long,
    so on two cores they overlap (the 1M build takes about 3 minutes, the bench 4-5, by load;
    the 1M table's blocks hold about 3 GB of JSON, and peak RSS is about 7 GB).
    The table grows 10k -> 100k -> 1M; at each size, once the generator is idle, every probe
    is matched at least ``--repeats`` times and for at least ``--min-seconds`` (gc disabled:
    the bench makes no reference cycles, and a full collection over millions of containers
    would otherwise land in random probes). A probe's time is its median over the
    repetitions, so a burst of other load on a shared machine moves few of them; "µs/rec" is
    their mean (what throughput depends on), p50 and p99 are over the probes. Peak RSS is
    this process's ``ru_maxrss``; the generator child's is reported separately.

"compare µs" is the time in ``index_in_block`` (scoring the members, adding the record),
"table µs" everything else; "(≤1 member)" is the latter over the probes that met at most one
member, i.e. the cost of the table itself without the growth of the blocks. "members/rec"
counts a member once per block it shares with the probe, as the blocks compare it.

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

from models.matching import Decision, DuplicateMatcher, MatchRecord
from models.matching.blocking import profile_keys
from models.matching.learning import LearnedMatcher
from models.matching.linking import (
    Block,
    IndexRequest,
    Member,
    PairJudge,
    Root,
    candidate_floor,
    index_in_block,
)
from models.matching.profile import PERSON_TYPES, Profile
from schemas.standardize.record import standardize_fields
from streams.generator import BASE_TIME, CrmSimulation
from streams.settings import Settings

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
_MAX_MEMBERS: Final[int] = Settings.model_fields["match_max_block_size"].default
_CREATED_AT: Final = BASE_TIME  # every member's; it only orders clusters, which are not timed

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
    """The known person records as the stream holds them: its blocks table.

    ``table`` maps a block key (bytes) to the block's JSON, what the ``blocks`` table's
    memory store holds in the worker. Built directly rather than through
    :func:`index_in_block` (the same blocks, many times faster to build): each record a
    member of every block of its keys, blocks over ``max_members`` saturated. ``profiles``
    and the block membership are kept beside it for the statistics only.
    """

    def __init__(self, matcher: DuplicateMatcher, max_members: int) -> None:
        self.matcher = matcher
        self.max_members = max_members
        self.profiles: dict[str, Profile] = {}
        self.table: dict[bytes, bytes] = {}
        self._members: dict[str, list[str]] = {}
        self._changed: set[str] = set()

    def __len__(self) -> int:
        return len(self.profiles)

    def add(self, record: RawRecord) -> None:
        """Standardize, read and index one record (the build, not the timed path)."""
        fields, derived = _standardize(record)
        profile = self.matcher.profile(
            MatchRecord(record.entity_type, record.entity_id, fields, derived)
        )
        record_key = f"{record.entity_type}:{record.entity_id}"
        self.profiles[record_key] = profile
        for key in profile_keys(record.entity_type, profile):
            self._members.setdefault(key, []).append(record_key)
            self._changed.add(key)

    def write_blocks(self) -> None:
        """Bring the table up to date with the records added since the last call."""
        for key in self._changed:
            self.table[key.encode()] = self._block_json(self._members[key])
        self._changed.clear()

    def _block_json(self, record_keys: list[str]) -> bytes:
        """The block as the worker writes it (pydantic's JSON: orjson's bytes would also
        carry their spare buffer, about 4 kB each, into a table of millions)."""
        if len(record_keys) > self.max_members:
            return Block(saturated=True).model_dump_json().encode()
        members = {key: _member_json(key, self.profiles[key]) for key in record_keys}
        return Block.model_validate({"members": members}).model_dump_json().encode()

    def block_members(self, key: str) -> list[str]:
        """The records indexed under ``key``, oversized blocks included."""
        return self._members.get(key, [])

    def blocks(self) -> Iterator[tuple[str, int]]:
        """Every key and its block size."""
        return ((key, len(members)) for key, members in self._members.items())


def _member_json(record_key: str, profile: Profile) -> dict[str, object]:
    """A block member as ``Member`` serializes it: a record alone in its own cluster."""
    cluster = {"since": _CREATED_AT, "key": record_key}
    return {"key": record_key, "created_at": _CREATED_AT, "cluster": cluster, "profiles": [profile]}


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
    """One repetition over the probes: per probe, ns in total and comparing, members compared,
    and the candidates the judge did not call distinct."""

    total_ns: list[int]
    compare_ns: list[int]
    compared: list[int]
    found: list[list[tuple[str, Decision]]]


def match_probes(table: KnownRecords, probes: Sequence[Probe], judge: PairJudge) -> ProbeTimes:
    """Match every probe as the stream does, timing only the matching path; the table is
    given back its blocks as they were before each probe."""
    matcher, blocks = table.matcher, table.table
    floor = candidate_floor(matcher.review_threshold)
    clock = time.perf_counter_ns
    out = ProbeTimes([], [], [], [])
    for probe in probes:
        record_key = f"{probe.entity_type}:{probe.entity_id}"
        before: list[tuple[bytes, bytes | None]] = []
        found: list[tuple[str, Decision]] = []
        compared = compare_ns = 0
        start = clock()
        profile = matcher.profile(
            MatchRecord(probe.entity_type, probe.entity_id, probe.fields, probe.derived)
        )
        root = Root(since=_CREATED_AT, key=record_key)
        member = Member(key=record_key, created_at=_CREATED_AT, cluster=root, profiles=[profile])
        for block_key in sorted(profile_keys(probe.entity_type, profile)):
            stored_key = block_key.encode()
            stored = blocks.get(stored_key)
            before.append((stored_key, stored))
            block = Block.model_validate_json(stored) if stored is not None else None
            if block is not None and not block.saturated:
                compared += len(block.members)
            request = IndexRequest(
                block_key=block_key, record_key=record_key, seq=1, at=_CREATED_AT, member=member
            )
            comparing = clock()
            updated, answer = index_in_block(
                block, request, matcher, max_members=table.max_members, floor=floor
            )
            compare_ns += clock() - comparing
            if updated is not None:
                blocks[stored_key] = updated.model_dump_json().encode()
            for candidate in answer.candidates if answer is not None else ():
                _, decision = judge.decide(candidate.similarities)
                if decision is not Decision.DISTINCT:
                    found.append((candidate.key, decision))
        end = clock()
        for stored_key, stored in before:
            if stored is None:
                del blocks[stored_key]
            else:
                blocks[stored_key] = stored
        out.total_ns.append(end - start)
        out.compare_ns.append(compare_ns)
        out.compared.append(compared)
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
    table_us: float  # profile, keys, block JSON in and out, judging: all but index_in_block
    table_few_us: float  # the same for probes meeting at most one member: no block growth
    compare_us: float  # index_in_block: scoring the members, then adding the record
    us_per_member: float
    members_mean: float  # block members compared per record
    members_p99: float
    members_max: int
    largest_block: int
    largest_block_key: str
    oversized_blocks: int
    duplicate_recall: float  # duplicate probes whose original is decided duplicate
    candidate_recall: float  # duplicate probes whose original shares a block with them
    table_mb: float  # block JSON held by the table
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
    judge = LearnedMatcher(table.matcher)
    match_probes(table, probes, judge)  # warm-up: caches, allocator, the table's pages
    runs: list[ProbeTimes] = []
    started = time.perf_counter()
    while len(runs) < repeats or time.perf_counter() - started < min_seconds:
        runs.append(match_probes(table, probes, judge))
    n = len(probes)
    per_probe = [statistics.median(run.total_ns[i] for run in runs) / 1000 for i in range(n)]
    compare = [statistics.median(run.compare_ns[i] for run in runs) / 1000 for i in range(n)]
    compared = runs[0].compared
    rest = [t - c for t, c in zip(per_probe, compare, strict=True)]
    duplicates = [(i, p) for i, p in enumerate(probes) if p.original is not None]
    decided = sum(
        (_record_key(p, p.original), Decision.DUPLICATE) in runs[0].found[i]
        for i, p in duplicates
        if p.original is not None
    )
    shares_block = sum(
        any(
            _record_key(p, p.original) in table.block_members(key)
            for key in profile_keys(p.entity_type, _profile(table, p))
        )
        for _, p in duplicates
        if p.original is not None
    )
    largest_key, largest = max(table.blocks(), key=lambda item: item[1])
    return SizeResult(
        size=len(table),
        build_s=build_s,
        repetitions=len(runs),
        us_per_record=statistics.fmean(per_probe),
        p50_us=_percentile(per_probe, 0.5),
        p99_us=_percentile(per_probe, 0.99),
        table_us=statistics.fmean(rest),
        table_few_us=statistics.fmean(t for t, c in zip(rest, compared, strict=True) if c <= 1),
        compare_us=statistics.fmean(compare),
        us_per_member=sum(compare) / max(sum(compared), 1),
        members_mean=sum(compared) / n,
        members_p99=_percentile(compared, 0.99),
        members_max=max(compared),
        largest_block=largest,
        largest_block_key=largest_key,
        oversized_blocks=sum(size > table.max_members for _, size in table.blocks()),
        duplicate_recall=decided / max(len(duplicates), 1),
        candidate_recall=shares_block / max(len(duplicates), 1),
        table_mb=sum(map(len, table.table.values())) / 1e6,
        rss_mb=_rss_mb(),
        kinds=kind_stats(table, probes),
        pools=pool_stats(table),
    )


def _record_key(probe: Probe, entity_id: str) -> str:
    return f"{probe.entity_type}:{entity_id}"


def _profile(table: KnownRecords, probe: Probe) -> Profile:
    return table.matcher.profile(
        MatchRecord(probe.entity_type, probe.entity_id, probe.fields, probe.derived)
    )


def kind_stats(table: KnownRecords, probes: Sequence[Probe]) -> dict[str, KindStats]:
    """Per key kind, the sizes of the blocks the probes look up."""
    sizes: defaultdict[str, list[int]] = defaultdict(list)
    for probe in probes:
        for key in profile_keys(probe.entity_type, _profile(table, probe)):
            sizes[key_kind(key)].append(len(table.block_members(key)))
    cap = table.max_members
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
        "table", "µs/rec", "p50 µs", "p99 µs", "table µs", "(≤1 member)", "compare µs",
        "µs/member", "members/rec", "p99/max", "largest block", ">cap", "dup found/shared",
        "blocks MB", "RSS MB", "build s",
    ):  # fmt: skip
        cost.add_column(header, justify="right", no_wrap=True)
    for r in results:
        cost.add_row(
            _size_label(r.size), f"{r.us_per_record:.1f}", f"{r.p50_us:.1f}",
            f"{r.p99_us:.0f}", f"{r.table_us:.1f}", f"{r.table_few_us:.1f}",
            f"{r.compare_us:.1f}", f"{r.us_per_member:.1f}", f"{r.members_mean:.2f}",
            f"{r.members_p99:.0f}/{r.members_max}",
            f"{r.largest_block} {key_kind(r.largest_block_key)}", str(r.oversized_blocks),
            f"{r.duplicate_recall:.3f}/{r.candidate_recall:.3f}", f"{r.table_mb:.0f}",
            f"{r.rss_mb:.0f}",
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
    table = KnownRecords(DuplicateMatcher(), _MAX_MEMBERS)
    results = []
    for size in sizes:
        build_started = time.perf_counter()
        for record in pending:
            table.add(record)
            if len(table) >= size:
                break
        if len(table) < size:
            raise RuntimeError(f"the generator ran out at {len(table)} records")
        table.write_blocks()
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
        "ratio_table_1m_10k": last.table_us / first.table_us,
        "ratio_table_few_1m_10k": last.table_few_us / first.table_few_us,
        "members_ratio_1m_10k": last.members_mean / max(first.members_mean, 1e-9),
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
