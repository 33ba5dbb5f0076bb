"""The worker's Faust sensor exports exactly what Faust's own Prometheus sensor does."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from prometheus_client import CollectorRegistry

from streams.faust_sensor import KeptSeriesPrometheusMonitor


class Stream:
    """What the sensors read of a Faust stream: its label and its agent's task (and that it
    can be a dict key)."""

    def __init__(self, label: str) -> None:
        self.shortlabel = f"Stream: {label}"
        self.task_owner = self  # any object a weak reference can be made to


def _exported(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample but timings, which differ between two runs by nature."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if not sample.name.endswith("_created")
        and "latency" not in sample.name
        and "runtime" not in sample.name
    }


def _traffic(monitor: Any, streams: list[Stream], tables: list[Any]) -> None:
    """Messages in, events, table reads and writes and sends, over a few topics."""
    for number in range(60):
        tp = TP(f"crm.topic-{number % 3}", number % 4)
        message = SimpleNamespace(time_in=None)
        monitor.on_message_in(tp, number, message)
        stream = streams[number % len(streams)]
        state = monitor.on_stream_event_in(tp, number, stream, SimpleNamespace())
        table = tables[number % len(tables)]
        monitor.on_table_get(table, b"k")
        monitor.on_table_set(table, b"k", b"v")
        if number % 5 == 0:
            monitor.on_table_del(table, b"k")
        monitor.on_send_initiated(None, f"crm.out-{number % 2}", None, 1, 10)
        monitor.on_stream_event_out(tp, number, stream, SimpleNamespace(), state)
        monitor.on_message_out(tp, number, message)


def test_the_same_traffic_exports_the_same_series_and_values_through_a_rebalance() -> None:
    streams = [Stream("crm.changes"), Stream("crm.match.by-key")]
    tables = [SimpleNamespace(name="records"), SimpleNamespace(name="blocks")]
    registries = {kind: CollectorRegistry() for kind in ("faust", "kept")}
    monitors = {
        "faust": PrometheusMonitor(metrics=FaustMetrics.create(registries["faust"], "faust")),
        "kept": KeptSeriesPrometheusMonitor(
            metrics=FaustMetrics.create(registries["kept"], "faust")
        ),
    }
    for monitor in monitors.values():
        _traffic(monitor, streams, tables)
    assert _exported(registries["kept"]) == _exported(registries["faust"])
    partition = (("partition", "1"), ("topic", "crm.topic-1"))
    last_offset = ("faust_messages_received_per_topics_partition", partition)
    assert _exported(registries["kept"])[last_offset] == 49.0

    for monitor in monitors.values():  # what a rebalance does first, and again at its end
        monitor._clear_partition_related_metrics()
        _traffic(monitor, streams, tables)
    assert _exported(registries["kept"]) == _exported(registries["faust"])
