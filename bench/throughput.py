"""Throughput and latency of the full pipeline beside two ceilings, on one broker and one input.

``python -m bench.throughput [--events N] [--runs R] [--workers W] [--partitions P]``
generates ``N`` CRM changes (``streams.generator``: mixed entity types, duplicates, outcome
labels and invalid messages in their usual shares), preloads them into a fresh deployment's
``crm.changes`` (its topics with ``P`` partitions each, the deployment default unless told),
then, for each of ``R`` runs (median reported):

* **pipeline**: ``crmstream worker`` with every step (ingest, merge, standardize, match,
  score, learn) works through the backlog; events/s over the span from its first output to
  its last (so start-up and table recovery do not count), CPU seconds per 1,000 events and
  peak RSS of the worker process;
* **faust ceiling**: a Faust worker whose one agent only decodes (JSON) and forwards each
  message (``bench.ceilings faust``), on the same topic;
* **aiokafka ceiling**: a plain aiokafka ``getmany``/``send`` loop doing the same
  (``bench.ceilings aiokafka``).

Then a **latency** run: the pipeline fed at half its measured rate (``--latency-seconds`` of
traffic), end-to-end latency from handing a message to the producer (its CreateTime, with no
producer linger) to reading its enriched record on ``crm.enriched``, p50/p95/p99. With
``--workers 2`` the pipeline is also measured with two workers and the speed-up reported.
The last line printed is a JSON object.

The broker is ``KAFKA_BOOTSTRAP_SERVERS`` when set, else one started here and stopped after.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.broker import kafka_broker
from schemas.mapping import DEFAULT_FIELD_MAPPING
from streams.deployment import Deployment, count_changes
from streams.generator import CrmSimulation, GeneratedEvent
from streams.kafka_admin import ensure_topics
from streams.publish import publish_events
from streams.settings import load_settings
from streams.topic_reader import end_offsets, read_records, reader, topic_partitions
from streams.topics import Table, Topic, TopicSpec, changelog_name
from streams.worker_process import WorkerProcess, wait_until_ready

DEFAULT_EVENTS = 200_000
DEFAULT_SEED = 20261123
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Measurement:
    """One process (or group) working through the backlog."""

    name: str
    events: int
    outputs: int
    seconds: float
    events_per_s: float
    cpu_s_per_1000: float
    peak_rss_mb: float


@dataclass(frozen=True)
class Traffic:
    """The messages the pipeline made of its input, per input event: what bounds it.

    Every internal hop is a message an agent consumes, with all of Faust's per-message work,
    so the Faust ceiling divided by ``hops_per_input`` is as fast as this flow of messages
    could go if crmstream's own work cost nothing. (Under exactly_once the counts include
    the transactions' commit markers.)
    """

    hops_per_input: float  # messages the agents consumed, the input's own included
    written_per_input: float  # messages produced: outputs, internal topics, changelogs


# What the agents consume; everything but the input is written by the pipeline itself.
_CONSUMED = (
    Topic.CHANGES, Topic.ROUTED, Topic.MATCH_REQUESTS, Topic.MATCH_ANSWERS,
    Topic.MATCH_LINKS, Topic.MATCH_LEARNING, Topic.ENGAGEMENT, Topic.MODEL_LEARNING,
)  # fmt: skip


def measure_traffic(deployment: Deployment, events: int) -> Traffic:
    """Count the messages on the deployment's topics once the pipeline went through."""
    written_topics = [deployment.topic(topic) for topic in Topic if topic is not Topic.CHANGES]
    changelogs = [changelog_name(deployment.settings, table) for table in Table]
    ends = end_offsets(deployment.bootstrap, [*written_topics, *changelogs])
    consumed_names = {deployment.topic(topic) for topic in _CONSUMED}
    consumed = sum(offset for tp, offset in ends.items() if tp.topic in consumed_names)
    return Traffic(
        hops_per_input=round((events + consumed) / events, 2),
        written_per_input=round(sum(ends.values()) / events, 2),
    )


@dataclass(frozen=True)
class Latency:
    """End-to-end latency at a fixed input rate, in milliseconds."""

    rate: float
    events: int
    received: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


class ProcessProbe:
    """CPU seconds and peak RSS of processes, from /proc (Linux)."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = list(pids)
        self.started = self.cpu_seconds()

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime
        return total

    def peak_rss_mb(self) -> float:
        peak = 0.0
        for pid in self.pids:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        return peak


def _output_span(
    bootstrap: str,
    topics: Sequence[str],
    expected: int,
    timeout: float,
    processes: Sequence[WorkerProcess],
) -> float:
    """Seconds from the first to the last message on ``topics`` (their CreateTime), once
    ``expected`` arrived; raises when they do not within ``timeout`` or a process exits."""
    consumer = reader(bootstrap, None)
    try:
        partitions = topic_partitions(consumer, topics)
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        first, last, count = float("inf"), 0.0, 0
        deadline = time.monotonic() + timeout
        while count < expected:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {count} of {expected} outputs within {timeout:g} s")
            for process in processes:
                if process.returncode is not None:
                    raise RuntimeError(
                        f"{process.log_path.name} exited ({process.returncode}) after {count} "
                        f"outputs:\n{process.log_tail()}"
                    )
            for batch in consumer.poll(timeout_ms=500).values():
                count += len(batch)
                first = min(first, *(record.timestamp for record in batch))
                last = max(last, *(record.timestamp for record in batch))
        return max((last - first) / 1000.0, 1e-3)
    finally:
        consumer.close()


def _measure(
    name: str,
    bootstrap: str,
    outputs: Sequence[str],
    processes: list[WorkerProcess],
    *,
    events: int,
    expected: int,
    timeout: float,
    ready: Callable[[list[WorkerProcess]], None] | None = None,
) -> Measurement:
    """Start ``processes``, wait for ``expected`` messages on ``outputs``, stop them."""
    with contextlib.ExitStack() as stack:
        for process in processes:
            stack.enter_context(process)
        if ready is not None:
            ready(processes)
        probe = ProcessProbe([process.pid for process in processes])
        seconds = _output_span(bootstrap, outputs, expected, timeout, processes)
        cpu = probe.cpu_seconds() - probe.started
        rss = probe.peak_rss_mb()
    return Measurement(
        name=name,
        events=events,
        outputs=expected,
        seconds=round(seconds, 2),
        events_per_s=round(events / seconds, 1),
        cpu_s_per_1000=round(1000.0 * cpu / events, 3),
        peak_rss_mb=round(rss, 1),
    )


def _ceiling(kind: str, deployment: Deployment, output: str) -> WorkerProcess:
    group = f"{deployment.settings.app_id}-ceiling-{kind}-{uuid.uuid4().hex[:6]}"
    env = {
        **deployment.env,
        "BENCH_INPUT": deployment.topic(Topic.CHANGES),
        "BENCH_OUTPUT": output,
        "BENCH_GROUP": group,
        "BENCH_DATA_DIR": str(deployment.workdir / group),
    }
    return WorkerProcess(
        env,
        deployment.workdir / f"{group}.log",
        command=[sys.executable, "-m", "bench.ceilings", kind],
    )


def _fresh_deployment(bootstrap: str, workdir: Path, partitions: int) -> Deployment:
    """Topics of a deployment of its own, with ``partitions`` each."""
    run_id = uuid.uuid4().hex[:8]
    return Deployment.create(
        bootstrap,
        (f"bench-{run_id}.crm.", f"crmstream-bench-{run_id}"),
        workdir / run_id,
        topic_partitions=str(partitions),
    )


def _deployment(
    bootstrap: str, workdir: Path, generated: list[GeneratedEvent], partitions: int
) -> Deployment:
    """A fresh deployment with ``generated`` preloaded on its input topic."""
    deployment = _fresh_deployment(bootstrap, workdir, partitions)
    publish_events(
        generated, bootstrap_servers=bootstrap, topic=deployment.topic(Topic.CHANGES),
        rate=None, progress=False,
    )  # fmt: skip
    return deployment


def measure_pipeline(
    deployment: Deployment, generated: list[GeneratedEvent], workers: int, timeout: float
) -> Measurement:
    """``workers`` crmstream workers through the preloaded input, timed once all are ready
    (start-up and the rebalance of workers joining together do not count)."""
    valid = [event.value for event in generated if event.expected_error is None]
    expected = count_changes(valid, DEFAULT_FIELD_MAPPING) + len(generated) - len(valid)
    return _measure(
        f"pipeline x{workers}",
        deployment.bootstrap,
        [deployment.topic(Topic.ENRICHED), deployment.topic(Topic.DEADLETTER)],
        [
            deployment.worker(f"worker-{uuid.uuid4().hex[:6]}.log", own_web_port=number > 0)
            for number in range(workers)
        ],
        events=len(generated),
        expected=expected,
        timeout=timeout,
        ready=wait_until_ready,
    )


def measure_round(
    bootstrap: str,
    workdir: Path,
    generated: list[GeneratedEvent],
    timeout: float,
    partitions: int,
) -> tuple[list[Measurement], Traffic]:
    """The pipeline (one worker) and both ceilings on one preloaded input."""
    deployment = _deployment(bootstrap, workdir, generated, partitions)
    results = [measure_pipeline(deployment, generated, 1, timeout)]
    traffic = measure_traffic(deployment, len(generated))
    for kind in ("faust", "aiokafka"):
        output = f"{deployment.settings.topic_prefix}ceiling.{kind}"
        ensure_topics(bootstrap, [TopicSpec(output, deployment.settings.topic_partitions, 1)])
        results.append(
            _measure(
                f"{kind} ceiling",
                bootstrap,
                [output],
                [_ceiling(kind, deployment, output)],
                events=len(generated),
                expected=len(generated),
                timeout=timeout,
            )
        )
    return results, traffic


def measure_latency(
    bootstrap: str,
    workdir: Path,
    generated: list[GeneratedEvent],
    rate: float,
    partitions: int,
) -> Latency:
    """The pipeline fed ``generated`` at ``rate`` events/s, without producer linger: from an
    input message's CreateTime (set when it is handed to the producer) to reading its enriched
    record on ``crm.enriched``, per first change of each valid message."""
    deployment = _fresh_deployment(bootstrap, workdir, partitions)
    received_at: dict[str, float] = {}
    enriched = deployment.topic(Topic.ENRICHED)
    stop = threading.Event()

    def read() -> None:
        consumer = reader(bootstrap, None)  # read committed, as downstream readers must
        partitions = topic_partitions(consumer, [enriched])
        consumer.assign(partitions)
        for partition, offset in end_offsets(bootstrap, [enriched]).items():
            consumer.seek(partition, offset)
        while not stop.is_set():
            for batch in consumer.poll(timeout_ms=100).values():
                now = time.time()
                for record in batch:
                    event_id = orjson.loads(record.value)["change"]["event_id"]
                    received_at.setdefault(event_id, now)
        consumer.close()

    timed = {
        event.value: event.event_id
        for event in generated
        if event.event_id is not None and event.expected_error is None and event.value
    }
    with deployment.worker() as worker:
        wait_until_ready([worker])
        reading = threading.Thread(target=read, daemon=True)
        reading.start()
        time.sleep(1.0)  # the reader is at the end of the topic
        publish_events(
            generated, bootstrap_servers=bootstrap, topic=deployment.topic(Topic.CHANGES),
            rate=rate, progress=False, linger_ms=0,
        )  # fmt: skip
        deadline = time.monotonic() + 120.0
        while time.monotonic() < deadline and not set(timed.values()) <= set(received_at):
            time.sleep(0.5)
        stop.set()
        reading.join(timeout=10)
    inputs = read_records(
        bootstrap, [deployment.topic(Topic.CHANGES)], expected=len(generated), timeout=60, settle=0
    )
    sent_at = {
        timed[record.value]: record.timestamp / 1000.0 for record in inputs if record.value in timed
    }
    latencies: list[float] = sorted(
        1000.0 * (received_at[event_id] - sent) for event_id, sent in sent_at.items()
        if event_id in received_at
    )  # fmt: skip
    if not latencies:
        raise RuntimeError("no enriched record came back in the latency run")

    def quantile(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1)

    return Latency(
        rate=rate,
        events=len(sent_at),
        received=len(latencies),
        p50_ms=quantile(0.50),
        p95_ms=quantile(0.95),
        p99_ms=quantile(0.99),
        max_ms=round(latencies[-1], 1),
    )


def _median(measurements: list[Measurement]) -> Measurement:
    """The run with the median events/s (its own CPU and RSS with it)."""
    ranked = sorted(measurements, key=lambda m: m.events_per_s)
    return ranked[len(ranked) // 2]


def _table(rows: list[Measurement], faust: Measurement, aiokafka: Measurement) -> str:
    lines = [
        f"{'':18} {'events/s':>10} {'vs faust':>9} {'vs aiokafka':>12} "
        f"{'CPU s/1k':>9} {'peak RSS MB':>12}"
    ]
    for row in rows:
        lines.append(
            f"{row.name:18} {row.events_per_s:>10.1f} "
            f"{row.events_per_s / faust.events_per_s:>9.3f} "
            f"{row.events_per_s / aiokafka.events_per_s:>12.3f} "
            f"{row.cpu_s_per_1000:>9.3f} {row.peak_rss_mb:>12.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, choices=(1, 2))
    parser.add_argument(
        "--partitions",
        type=int,
        help="partitions of each topic (default: the deployment's, CRMSTREAM_TOPIC_PARTITIONS)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--latency-seconds", type=float, default=60.0, help="seconds of fixed-rate traffic"
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="per measurement")
    args = parser.parse_args(argv)
    if args.partitions is not None and args.partitions < 1:
        parser.error(f"--partitions must be at least 1, not {args.partitions}")
    partitions = args.partitions or load_settings().topic_partitions
    generated = list(CrmSimulation(args.seed).events(args.events))
    report: dict[str, Any] = {
        "events": args.events,
        "runs": args.runs,
        "seed": args.seed,
        "partitions": partitions,
    }
    with (
        tempfile.TemporaryDirectory(prefix="crmstream-bench-") as tmp,
        kafka_broker(Path(tmp)) as bootstrap,
    ):
        measured_rounds = [
            measure_round(bootstrap, Path(tmp), generated, args.timeout, partitions)
            for _ in range(args.runs)
        ]
        rounds = [measured for measured, _ in measured_rounds]
        traffic = measured_rounds[0][1]  # the same input makes the same messages
        for number, measured in enumerate(rounds, 1):
            for m in measured:
                print(f"run {number}: {m.name}: {m.events_per_s} events/s", flush=True)
        pipeline, faust, aiokafka = (_median([r[i] for r in rounds]) for i in range(3))
        rows = [pipeline, faust, aiokafka]
        if args.workers == 2:
            two = [
                measure_pipeline(
                    _deployment(bootstrap, Path(tmp), generated, partitions),
                    generated,
                    2,
                    args.timeout,
                )
                for _ in range(args.runs)
            ]
            rows.insert(1, _median(two))
            report["speed_up_two_workers"] = round(rows[1].events_per_s / pipeline.events_per_s, 2)
        rate = max(1.0, pipeline.events_per_s / 2.0)
        count = min(len(generated), max(100, int(rate * args.latency_seconds)))
        latency = measure_latency(bootstrap, Path(tmp), generated[:count], rate, partitions)
    print(f"topics of {partitions} partitions")
    print(_table(rows, faust, aiokafka))
    bound = faust.events_per_s / traffic.hops_per_input
    print(
        f"each input made {traffic.hops_per_input} hops (messages the agents consumed) and "
        f"{traffic.written_per_input} messages written: the Faust ceiling over the hops is "
        f"{bound:.0f} events/s, the pipeline ran at {pipeline.events_per_s / bound:.2f} of that"
    )
    print(
        f"latency at {latency.rate:.0f} events/s: p50 {latency.p50_ms} ms, "
        f"p95 {latency.p95_ms} ms, p99 {latency.p99_ms} ms ({latency.received} of "
        f"{latency.events})"
    )
    report["measurements"] = [asdict(row) for row in rows]
    report["latency"] = asdict(latency)
    report["traffic"] = asdict(traffic)
    report["pipeline_vs_faust_over_hops"] = round(pipeline.events_per_s / bound, 3)
    report["pipeline_vs_faust"] = round(pipeline.events_per_s / faust.events_per_s, 3)
    report["pipeline_vs_aiokafka"] = round(pipeline.events_per_s / aiokafka.events_per_s, 3)
    report["acceptance"] = {
        "pipeline_at_least_half_faust": report["pipeline_vs_faust"] >= 0.5,
        "pipeline_at_least_10k_events_per_s": pipeline.events_per_s >= 10_000,
        "p99_at_most_100_ms": latency.p99_ms <= 100.0,
        "two_workers_at_least_1_6x": (
            None if "speed_up_two_workers" not in report else report["speed_up_two_workers"] >= 1.6
        ),
    }
    print(orjson.dumps(report).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
