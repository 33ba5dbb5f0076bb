"""What the fault-tolerance tests (``tests/test_faults_*_e2e.py``) share: what a run's inputs
must produce, what came out, and the tools that hurt a running deployment.

Every scenario asks one question, "was each input accounted for on the output topics?", and
answers it in the same words, printed so that ``pytest -s`` and the CI log show them: sent
(messages published), expected (outputs those messages must produce), received (outputs
read), lost (expected outputs that never came), duplicated (outputs that came more than
once) and unexpected (outputs no input explains, such as a change parked from an internal
topic).

An output is identified by what it is about, never by its offset, so a repeat is recognised
whichever worker wrote it: an enriched record by its record key and change event id, a dead
letter by the SHA-256 of the original bytes it parks (of the part it keeps, and the size, for an
original beyond the size limit).
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from schemas.envelopes import parse_message
from schemas.errors import InvalidChange
from schemas.mapping import DEFAULT_FIELD_MAPPING
from streams.deployment import Deployment
from streams.generator import GeneratedEvent
from streams.ports import free_port
from streams.publish import PublishReport, publish_events
from streams.settings import ENV_PREFIX
from streams.topic_reader import end_offsets, read_until
from streams.topics import Topic
from streams.worker_process import WorkerProcess

FAULT_EVENTS_VARIABLE = "CRMSTREAM_FAULT_EVENTS"
"""Raises the events of each fault scenario, e.g. to the issue's 100,000 for a run by hand."""

# CI's default: each scenario's own time (worker starts, rebalances, the outage) dominates
# at ~150-200 events/s, so more events buy little coverage for their minutes.
DEFAULT_FAULT_EVENTS = 2_000

# A killed worker keeps its partitions until the broker gives up on its session; Faust's
# default of 60 s would make every crash test wait that long before the restart rebalances.
SESSION_TIMEOUT_SECONDS = "10"

Identity = tuple[str, str]
"""("enriched", "<record key> <event id>") or ("parked", "<sha256 of the original>")."""


def fault_events() -> int:
    """Events per scenario: ``CRMSTREAM_FAULT_EVENTS`` when set, else the CI default."""
    configured = os.environ.get(FAULT_EVENTS_VARIABLE)
    return int(configured) if configured else DEFAULT_FAULT_EVENTS


def patience(events: int, *, per_second: float = 40.0, base: float = 120.0) -> float:
    """A bound on waiting for ``events`` to go through: generous (a loaded 2-core machine
    runs several times slower than the ~170 events/s of a quiet one), never unbounded."""
    return base + events / per_second


def enriched_identity(key: bytes, event_id: str) -> Identity:
    return ("enriched", f"{key.decode()} {event_id}")


def parked_identity(original: bytes, *, keep_bytes: int | None = None) -> Identity:
    """A dead letter's identity: its original's bytes, or for an original beyond the size
    limit the part a letter keeps (``keep_bytes``) and the whole size."""
    if keep_bytes is None or len(original) <= keep_bytes:
        return ("parked", hashlib.sha256(original).hexdigest())
    kept = hashlib.sha256(original[:keep_bytes]).hexdigest()
    return ("parked", f"{kept} cut from {len(original)} bytes")


@dataclass
class Expectation:
    """The outputs some inputs must produce, each once: decided by the same pure parser the
    worker runs, so a message that yields two changes (a merge) expects both."""

    outputs: Counter[Identity] = field(default_factory=Counter)
    messages: int = 0

    @classmethod
    def of(cls, values: Iterable[bytes], *, max_bytes: int = 1 << 20) -> Expectation:
        expectation = cls()
        for value in values:
            expectation.add(value, max_bytes=max_bytes)
        return expectation

    def add(self, value: bytes, *, max_bytes: int = 1 << 20) -> None:
        self.messages += 1
        try:
            parsed = parse_message(
                value, source_format=None, mapping=DEFAULT_FIELD_MAPPING, max_bytes=max_bytes
            )
        except InvalidChange:
            self.outputs[parked_identity(value, keep_bytes=max_bytes)] += 1
            return
        for change in parsed.changes:
            for one in change.expand_merge():
                self.outputs[enriched_identity(one.record_key(), one.event_id)] += 1

    @property
    def total(self) -> int:
        return sum(self.outputs.values())


def identity_of(record: Any) -> Identity:
    """The identity of an output record read from ``crm.enriched`` or ``crm.deadletter``."""
    value = orjson.loads(record.value)
    if record.topic.endswith(Topic.DEADLETTER):
        original = value["original_value_b64"]
        if original is None:
            return ("parked", f"a tombstone at {value['source_position']}")
        kept = base64.b64decode(original)
        if value["original_truncated"]:
            return (
                "parked",
                f"{hashlib.sha256(kept).hexdigest()} cut from {value['original_size']} bytes",
            )
        return parked_identity(kept)
    return enriched_identity(record.key, value["change"]["event_id"])


class Outputs:
    """The outputs read so far, checked against an expectation as they come."""

    def __init__(self, expectation: Expectation, *, quiet: float = 60.0) -> None:
        self.expectation = expectation
        self.quiet = quiet
        self.received: Counter[Identity] = Counter()
        self.records: list[Any] = []
        self.gave_up = False
        self._missing = set(expectation.outputs)
        self._last_news = time.monotonic()

    def take(self, batch: Sequence[Any]) -> bool:
        """Add a batch; True once every expected output came at least once, or once nothing
        came for ``quiet`` seconds (``gave_up``: what is missing then will not come, and a
        failing run reports it in a minute rather than at its timeout)."""
        now = time.monotonic()
        if batch:
            self._last_news = now
        elif self._missing and now - self._last_news > self.quiet:
            self.gave_up = True
            return True
        for record in batch:
            identity = identity_of(record)
            self.received[identity] += 1
            self.records.append(record)
            if self.received[identity] >= self.expectation.outputs.get(identity, 0):
                self._missing.discard(identity)
        return not self._missing

    @property
    def lost(self) -> int:
        return sum((self.expectation.outputs - self.received).values())

    @property
    def duplicated(self) -> int:
        """Outputs beyond the expected count of an expected identity (repeats)."""
        return sum(
            count - self.expectation.outputs[identity]
            for identity, count in self.received.items()
            if identity in self.expectation.outputs and count > self.expectation.outputs[identity]
        )

    @property
    def unexpected(self) -> int:
        return sum(
            count
            for identity, count in self.received.items()
            if identity not in self.expectation.outputs
        )

    def missing_examples(self, limit: int = 5) -> list[Identity]:
        return sorted(self.expectation.outputs - self.received)[:limit]

    def enriched(self) -> list[dict[str, Any]]:
        """The enriched records read, decoded, in the order read (per partition: offsets)."""
        return [
            orjson.loads(record.value)
            for record in self.records
            if record.topic.endswith(Topic.ENRICHED)
        ]

    def report(self, scenario: str, *, sent: int, seconds: float) -> str:
        """The counts line every scenario prints."""
        line = (
            f"[{scenario}] sent {sent} messages, expected {self.expectation.total} outputs: "
            f"received {sum(self.received.values())}, lost {self.lost}, "
            f"duplicated {self.duplicated}, unexpected {self.unexpected}; {seconds:.0f} s"
            + (f" (gave up after {self.quiet:.0f} s without news)" if self.gave_up else "")
        )
        print(line)
        return line


def collect(
    deployment: Deployment,
    expectation: Expectation,
    *,
    timeout: float,
    settle: float = 3.0,
    quiet: float = 60.0,
) -> Outputs:
    """Read ``crm.enriched`` and ``crm.deadletter`` from the start until every expected output
    came (then ``settle`` s more for late repeats), until nothing came for ``quiet`` s, or
    until ``timeout``."""
    outputs = Outputs(expectation, quiet=quiet)
    read_until(
        deployment.bootstrap,
        [deployment.topic(Topic.ENRICHED), deployment.topic(Topic.DEADLETTER)],
        outputs.take,
        timeout=timeout,
        settle=settle,
    )
    return outputs


def applied_twice(enriched: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Event ids that came out ``applied`` to their record more than once, with how often.

    A change handed over again comes out ``redelivered`` when the record's state remembers
    it. A crash loses the state writes of every change whose input was not committed yet
    (they leave with the commit, after the outputs: ``streams/commits.py``), and the replay
    applies those again: allowed by at-least-once, counted here, and harmless to the state
    (see :func:`state_gaps`).
    """
    applied = Counter(
        (
            record["record"]["entity_type"],
            record["record"]["entity_id"],
            record["change"]["event_id"],
        )
        for record in enriched
        if record["merge_outcome"] == "applied"
    )
    return {" ".join(key): count for key, count in applied.items() if count > 1}


def _changes_per_record(
    enriched: Iterable[dict[str, Any]],
) -> dict[tuple[str, str], tuple[int, int]]:
    """Per record: the changes its state holds (highest ``changes_applied``) and the
    distinct changes that came out ``applied``."""
    highest: dict[tuple[str, str], int] = {}
    applied: dict[tuple[str, str], set[str]] = {}
    for record in enriched:
        view = record["record"]
        key = (view["entity_type"], view["entity_id"])
        highest[key] = max(highest.get(key, 0), view["changes_applied"])
        if record["merge_outcome"] == "applied":
            applied.setdefault(key, set()).add(record["change"]["event_id"])
    return {key: (held, len(applied.get(key, ()))) for key, held in highest.items()}


def state_gaps(enriched: Iterable[dict[str, Any]]) -> list[str]:
    """Records whose state lacks changes that came out ``applied``.

    A record's ``changes_applied`` counts the changes merged into its state, so its highest
    value must reach the number of distinct changes that came out applied. Fewer means a
    crash lost a change's state write although its input was committed: the change is in
    the outputs but not in the record, for good.
    """
    return [
        f"{kind}:{entity_id} holds {held} of {applied} applied changes"
        for (kind, entity_id), (held, applied) in _changes_per_record(enriched).items()
        if held < applied
    ]


def applied_unannounced(enriched: Iterable[dict[str, Any]]) -> int:
    """Changes a record's state holds whose ``applied`` enriched record never came out, only
    ``redelivered`` copies: a crash kept the state write and lost the output waiting in the
    match state. The record comes out whole, but a redelivered change is not scored (its
    score, engagement news and label are not sent again). Since state writes leave after
    the outputs it should stay 0; it is counted to show that."""
    return sum(
        held - applied for held, applied in _changes_per_record(enriched).values() if held > applied
    )


def fault_worker(
    deployment: Deployment, log_name: str, *, own_web_port: bool = False
) -> WorkerProcess:
    """A worker of ``deployment`` whose crash the group notices within 10 s."""
    env = {**deployment.env, "BROKER_SESSION_TIMEOUT": SESSION_TIMEOUT_SECONDS}
    if own_web_port:
        env[f"{ENV_PREFIX}WEB_PORT"] = str(free_port())
    return WorkerProcess(env, deployment.workdir / log_name)


def output_count(deployment: Deployment) -> int:
    """Messages on ``crm.enriched`` and ``crm.deadletter`` now (repeats included)."""
    topics = [deployment.topic(Topic.ENRICHED), deployment.topic(Topic.DEADLETTER)]
    return sum(end_offsets(deployment.bootstrap, topics).values())


def wait_for_outputs(
    deployment: Deployment, at_least: int, *, timeout: float, workers: Sequence[WorkerProcess]
) -> int:
    """Wait until the output topics hold ``at_least`` messages: how far a stream has gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = output_count(deployment)
        if count >= at_least:
            return count
        for worker in workers:
            if worker.returncode is not None:
                raise AssertionError(f"a worker exited ({worker.returncode}):\n{worker.log_tail()}")
        time.sleep(0.5)
    tails = "\n---\n".join(worker.log_tail() for worker in workers)
    raise AssertionError(
        f"only {output_count(deployment)} of {at_least} outputs within {timeout:.0f} s:\n{tails}"
    )


class BackgroundPublisher:
    """Publishes events from a thread, so the stream goes on while a test hurts the
    deployment (kills a worker, stops the broker); the producer retries what fails."""

    def __init__(
        self,
        events: Sequence[GeneratedEvent],
        deployment: Deployment,
        *,
        rate: float | None,
    ) -> None:
        self._events = events
        self._deployment = deployment
        self._rate = rate
        self._report: PublishReport | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="fault-publisher", daemon=True)

    def _run(self) -> None:
        try:
            self._report = publish_events(
                self._events,
                bootstrap_servers=self._deployment.bootstrap,
                topic=self._deployment.topic(Topic.CHANGES),
                rate=self._rate,
                progress=False,
            )
        except BaseException as exc:  # handed to the test thread by join()
            self._error = exc

    def start(self) -> BackgroundPublisher:
        self._thread.start()
        return self

    def join(self, timeout: float) -> PublishReport:
        """Every event acknowledged, or the reason why not."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"publishing did not finish within {timeout:.0f} s")
        if self._error is not None:
            raise self._error
        assert self._report is not None
        return self._report


def native_change(
    entity_id: str,
    event_id: str,
    at: datetime,
    *,
    op: str = "create",
    entity_type: str = "contact",
    **fields: Any,
) -> tuple[bytes, bytes]:
    """A native change envelope (key, value) of the tests' own, outside the generated CRM."""
    change = {
        "event_id": event_id,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "op": op,
        "occurred_at": at.isoformat(),
        "source": "fault-test",
        "fields": fields,
    }
    return entity_id.encode(), orjson.dumps(change)
