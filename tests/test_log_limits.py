"""A Kafka client's repeated complaints during a broker outage are let through once per
window, with the count of what was held back; everything else is untouched. Message
contents and credentials never reach the log, whatever the level."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import faust
import pytest
from aiokafka.protocol.admin import SaslAuthenticateRequest_v1

from streams.log_limits import LimitedLogWorker, PayloadWithholder, RepeatLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_same_complaint_goes_out_once_a_window_then_says_how_many_were_held_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    logger = logging.getLogger("aiokafka.test_limits")
    limiter = RepeatLimiter(window=10.0, clock=clock)
    logger.addFilter(limiter)
    try:
        with caplog.at_level(logging.DEBUG, logger="aiokafka.test_limits"):
            for attempt in range(3_500):  # a second of a broker outage
                clock.now = attempt / 3_500
                logger.error("Unable connect to node with id %s: %s", attempt % 3, "refused")
            logger.error("Unable to update metadata from %s", [1])  # another kind
            logger.debug("Sending request %s", 1)  # below info: never limited
            clock.now = 10.5
            logger.error("Unable connect to node with id %s: %s", 1, "refused")
    finally:
        logger.removeFilter(limiter)
    assert [record.getMessage() for record in caplog.records] == [
        "Unable connect to node with id 0: refused",
        "Unable to update metadata from [1]",
        "Sending request 1",
        "Unable connect to node with id 1: refused (3499 more like it in the last window)",
    ]


def test_only_the_kafka_clients_loggers_are_limited() -> None:
    limiter = RepeatLimiter(window=10.0, clock=Clock())

    def passes(name: str) -> list[bool]:
        record = logging.LogRecord(name, logging.ERROR, __file__, 1, "failed: %s", ("x",), None)
        return [limiter.filter(record) for _ in range(2)]

    assert passes("aiokafka") == [True, False]
    assert passes("aiokafka.client") == [True, False]
    assert passes("aiokafkaesque") == [True, True]
    assert passes("faust.transport.producer") == [True, False]  # "producer buffer full"
    assert passes("faust.transport.consumer") == [True, True]


def test_messages_formatted_before_logging_are_one_kind_whatever_their_numbers() -> None:
    limiter = RepeatLimiter(window=10.0, clock=Clock())

    def passes(message: str) -> bool:
        record = logging.LogRecord(
            "faust.transport.producer", logging.INFO, __file__, 1, message, (), None
        )
        return limiter.filter(record)

    assert [passes(f"producer flush took {seconds}") for seconds in (0.12, 0.027, 1.5)] == [
        True,
        False,
        False,
    ]


def test_debug_lines_of_the_kafka_client_and_faust_show_no_message_and_no_password() -> None:
    password = "s3cret-Sauce-7f2e"
    login = SaslAuthenticateRequest_v1(f"crm\x00crm\x00{password}".encode())
    value = b'{"fields": {"email": "ada.lovelace@analytical-engines.example"}}'
    withholder = PayloadWithholder()
    lines = []
    for name, template, args in [
        ("aiokafka.conn", "Request to %s:%d %d: %s", ("127.0.0.1", 9092, 3, login)),
        ("faust.topics", "send: topic=%r k=%r v=%r", ("crm.enriched", b"contact:c1", value)),
        ("streams.agents", "parked %s", (b"kept",)),  # crmstream's own: left as it is
    ]:
        record = logging.LogRecord(name, logging.DEBUG, __file__, 1, template, args, None)
        assert withholder.filter(record)
        lines.append(record.getMessage())
    assert lines == [
        "Request to 127.0.0.1:9092 3: SaslAuthenticateRequest_v1(withheld)",
        f"send: topic='crm.enriched' k=<10 bytes> v=<{len(value)} bytes>",
        "parked b'kept'",
    ]


@pytest.fixture
def root_logger_restored() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in set(root.handlers) - set(handlers):
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("root_logger_restored")
@pytest.mark.parametrize("level", ["warning", "error"])
def test_a_quiet_worker_makes_no_debug_lines(tmp_path: Path, level: str) -> None:
    """Faust's console spinner would turn every debug line on (a tenth of the CPU)."""
    app = faust.App("log-limits-test", broker="kafka://127.0.0.1:9", web_enabled=False)
    worker = LimitedLogWorker(
        app, loglevel=level, logfile=str(tmp_path / "worker.log"), redirect_stdouts=False
    )
    worker._setup_logging()
    assert not logging.getLogger("aiokafka.conn").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("faust.topics").isEnabledFor(logging.INFO)
    assert logging.getLogger("faust.topics").isEnabledFor(logging.getLevelName(level.upper()))
