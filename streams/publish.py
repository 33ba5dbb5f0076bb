"""Send generated CRM change events to Kafka, and save what they should produce.

This is the I/O half of ``crmstream generate``: :mod:`streams.generator` makes the events
(pure and reproducible), this module delivers them with the guarantees a test harness or a
benchmark needs. Every message is acknowledged by all in-sync replicas or counted as failed,
failures are reported at the end instead of vanishing in a background thread, and an
optional rate limit paces the run without drifting over long runs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaError
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from streams.generator import GroundTruth
from streams.kafka_security import KafkaOptions, connect

__all__ = [
    "KafkaMessage",
    "PublishError",
    "PublishReport",
    "TokenBucket",
    "publish_events",
    "write_ground_truth",
]

# Small batches and a short linger keep latency low for the live demo while still batching
# enough for benchmark rates; acks="all" because a generator that silently loses events would
# make every downstream count wrong.
_PRODUCER_SETTINGS: dict[str, Any] = {
    "acks": "all",
    "batch_size": 256 * 1024,
    "client_id": "crmstream-generator",
}
_LINGER_MS = 20
_FLUSH_TIMEOUT_S = 120.0
_ABORT_CLOSE_TIMEOUT_S = 5.0
_PROGRESS_EVERY = 200  # events between progress-bar refreshes; rich is slow per call
_ERRORS_KEPT = 5


class KafkaMessage(Protocol):
    """What can be published: generated events, backfilled rows, anything with key and value."""

    @property
    def key(self) -> bytes | None: ...

    @property
    def value(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class PublishReport:
    """How a publishing run went: what was acknowledged, what failed, and how fast."""

    sent: int
    failed: int
    elapsed_s: float
    first_errors: tuple[str, ...] = ()  # distinct reasons, the first few, with repeat counts

    @property
    def events_per_s(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0


class PublishError(RuntimeError):
    """Some events were not acknowledged by Kafka; ``report`` says how many and why."""

    def __init__(self, report: PublishReport, topic: str) -> None:
        self.report = report
        reasons = "; ".join(report.first_errors) or "no reason given"
        super().__init__(
            f"{report.failed} of {report.sent + report.failed} events were not acknowledged by "
            f"Kafka on topic {topic!r} (first errors: {reasons})"
        )


class TokenBucket:
    """Paces events to ``rate`` per second without drifting.

    Sleeping a fixed ``1/rate`` per event drifts slower and slower (every sleep overshoots
    and the send itself takes time). Here time earns tokens, each event spends one, and the
    bucket holds at most ``burst`` tokens, so an overshooting sleep is paid back by the next
    events going out at once while a long stall cannot turn into a flood.

    Two events per second: the first goes at once, the second waits half a second, one
    that comes after a long pause goes at once again.

    >>> clock = iter([0.0, 0.0, 0.0, 2.0]).__next__  # created, then three calls
    >>> bucket = TokenBucket(rate=2.0, burst=1.0, clock=clock, sleep=lambda s: None)
    >>> bucket.wait(), bucket.wait(), bucket.wait()
    (0.0, 0.5, 0.0)
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0 events/s, got {rate}")
        self.rate = rate
        # A twentieth of a second of events absorbs sleep overshoot even at high rates.
        self.burst = burst if burst is not None else max(1.0, rate / 20.0)
        self._clock = clock
        self._sleep = sleep
        self._tokens = 1.0
        self._last = clock()

    def wait(self) -> float:
        """Block until one event may go; return how long it slept, in seconds."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        slept = 0.0
        if self._tokens < 1.0:
            slept = (1.0 - self._tokens) / self.rate
            self._sleep(slept)
            # The sleep is accounted for when the next call reads the clock.
        self._tokens -= 1.0
        return slept


class _Outcomes:
    """Delivery results, written from the producer's I/O thread and read at the end."""

    def __init__(self) -> None:
        self._settled = threading.Condition()
        self.acknowledged = 0
        self.failed = 0
        self._reasons: dict[str, int] = {}

    def on_success(self, _metadata: object) -> None:
        with self._settled:
            self.acknowledged += 1
            self._settled.notify_all()

    def on_error(self, exc: BaseException) -> None:
        with self._settled:
            self.failed += 1
            self._settled.notify_all()
        self.note(f"{type(exc).__name__}: {exc}")

    def note(self, reason: str) -> None:
        """Remember why something failed; a broken run repeats one reason thousands of times."""
        with self._settled:
            if reason in self._reasons or len(self._reasons) < _ERRORS_KEPT:
                self._reasons[reason] = self._reasons.get(reason, 0) + 1

    def reasons(self) -> tuple[str, ...]:
        with self._settled:
            return tuple(
                reason if times == 1 else f"{reason} (x{times})"
                for reason, times in self._reasons.items()
            )

    def wait_until_settled(self, count: int, timeout: float) -> int:
        """Wait until ``count`` sends were acknowledged or failed; return how many were not."""
        with self._settled:
            self._settled.wait_for(lambda: self.acknowledged + self.failed >= count, timeout)
            return max(0, count - self.acknowledged - self.failed)


def publish_events(
    events: Iterable[KafkaMessage],
    *,
    bootstrap_servers: str,
    topic: str,
    rate: float | None,
    progress: bool,
    total: int | None = None,
    security: KafkaOptions | None = None,
    linger_ms: int = _LINGER_MS,
) -> PublishReport:
    """Send every event to ``topic``, wait for all acknowledgements, and report.

    Keys and values go as they are (an event without a key goes without one, as a broken
    producer would send it). ``rate`` limits events per second when given; ``progress``
    shows a progress bar (pass ``sys.stdout.isatty()``), ``total`` lets it show an ETA.
    ``security`` None connects as the environment's settings say (see kafka_security).
    ``linger_ms`` is how long the producer waits to fill a batch (0 to time latency).
    Raises :class:`PublishError` after flushing if any event was not acknowledged.
    """
    bucket = TokenBucket(rate) if rate is not None else None
    outcomes = _Outcomes()
    producer = connect(
        KafkaProducer, bootstrap_servers, security, **_PRODUCER_SETTINGS, linger_ms=linger_ms
    )
    started = time.monotonic()
    handed_over = 0
    close_timeout = _ABORT_CLOSE_TIMEOUT_S  # unless we get to the end, don't hang on Ctrl-C
    try:
        with _progress_display(progress, total) as show:
            for event in events:
                if bucket is not None:
                    bucket.wait()
                future = producer.send(topic, value=event.value, key=event.key)
                future.add_callback(outcomes.on_success)
                future.add_errback(outcomes.on_error)
                handed_over += 1
                if handed_over % _PROGRESS_EVERY == 0:
                    show(handed_over)
            show(handed_over)
            unsettled = _flush(producer, outcomes, handed_over)
            close_timeout = _FLUSH_TIMEOUT_S
    finally:
        producer.close(timeout=close_timeout)
    report = PublishReport(
        sent=outcomes.acknowledged,
        failed=outcomes.failed + unsettled,
        elapsed_s=time.monotonic() - started,
        first_errors=outcomes.reasons(),
    )
    if report.failed:
        raise PublishError(report, topic)
    return report


def _flush(producer: Any, outcomes: _Outcomes, handed_over: int) -> int:
    """Push out what is buffered and wait for every send to settle; return the unsettled.

    The futures are the judge, not ``flush()``: kafka-python's flush can give up ("Future not
    done") while it splits and retries a batch the broker found too large, and the records
    then still succeed or fail on their own.
    """
    deadline = time.monotonic() + _FLUSH_TIMEOUT_S
    try:
        producer.flush(timeout=_FLUSH_TIMEOUT_S)
    except KafkaError as exc:
        outcomes.note(f"flush: {type(exc).__name__}: {exc}")
    unsettled = outcomes.wait_until_settled(handed_over, max(0.0, deadline - time.monotonic()))
    if unsettled:
        outcomes.note(f"{unsettled} sends had no answer after {_FLUSH_TIMEOUT_S:.0f} s")
    return unsettled


@contextmanager
def _progress_display(enabled: bool, total: int | None) -> Iterator[Callable[[int], None]]:
    """Yield ``show(events_so_far)``: a rich progress bar when enabled, otherwise a no-op."""
    if not enabled:
        yield lambda completed: None
        return
    started = time.monotonic()
    columns = (
        TextColumn("[bold]publishing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} ev/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns) as bar:
        task = bar.add_task("publish", total=total, rate="-")

        def show(completed: int) -> None:
            elapsed = max(time.monotonic() - started, 1e-9)
            bar.update(task, completed=completed, rate=f"{completed / elapsed:,.0f}")

        yield show


def write_ground_truth(truth: GroundTruth, path: Path) -> None:
    """Write the run's ground truth as JSON, atomically so a reader never sees half a file."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(truth.to_json())
    os.replace(partial, path)
