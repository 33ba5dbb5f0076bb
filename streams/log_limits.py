"""What the worker's log handlers let through of the Kafka client's and Faust's lines.

Repeated complaints, once per window. While a broker is down, aiokafka logs every failed
attempt to connect or to refresh its metadata: about 3,500 errors a second from one worker
(10 MB of log for a 29-s outage), enough to fill a disk or a log pipeline and to bury
everything else; Faust's producer buffer adds two lines each time it fills. The first of
each kind still goes out at once, and the next one after the window says how many were
held back.

No message contents and no credentials. At ``debug``, aiokafka logs every request and
response it exchanges with a broker, whole, and Faust every message it sends: CRM records,
personal data included, and with SASL PLAIN the password itself (in the
``SaslAuthenticateRequest``). Their bytes and protocol structures are replaced by what they
are and their size.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka.protocol.struct import Struct
from faust import Worker

_DIGITS = re.compile(r"\d+")
LIMITED_LOGGERS = ("aiokafka", "faust.transport.producer")
"""The Kafka client, and Faust's producer buffer ("producer buffer full" and the flush after
it, a pair of lines per table write burst whenever sending is slow)."""


@dataclass
class _Seen:
    since: float
    held_back: int = 0


class RepeatLimiter(logging.Filter):
    """Lets a message of :data:`LIMITED_LOGGERS` through once per ``window`` seconds for
    each logger and message template (the text before its arguments are filled in, so
    "Unable connect to node with id %s: %s" is one kind whatever the node and the error;
    numbers count as one, for messages formatted before logging, as Faust's are).

    Meant for the handlers: a logger's own filter would see none of its children's records.
    """

    def __init__(self, window: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window = window
        self._clock = clock
        self._seen: dict[tuple[str, str], _Seen] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO or not _is_from(record.name, LIMITED_LOGGERS):
            return True
        key = (record.name, _DIGITS.sub("0", str(record.msg)))
        now = self._clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen.since < self.window:
            seen.held_back += 1
            return False
        if seen is not None and seen.held_back:  # no "%" added: the template stays valid
            record.msg = f"{record.msg} ({seen.held_back} more like it in the last window)"
        self._seen[key] = _Seen(since=now)
        return True


def _is_from(logger_name: str, loggers: tuple[str, ...]) -> bool:
    return any(logger_name == name or logger_name.startswith(name + ".") for name in loggers)


WITHHELD_LOGGERS = ("aiokafka", "faust")
"""Loggers whose lines can carry a message or a protocol request as an argument."""


class PayloadWithholder(logging.Filter):
    """Replaces the bytes and Kafka protocol structures among the arguments of a line of
    :data:`WITHHELD_LOGGERS` by their kind and size: ``send: topic='crm.enriched'
    k=<23 bytes> v=<1804 bytes>``, ``Request to 127.0.0.1:9092 3:
    SaslAuthenticateRequest_v1(withheld)``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and _is_from(record.name, WITHHELD_LOGGERS):
            record.args = tuple(_withheld(arg) for arg in record.args)
        return True


def _withheld(arg: object) -> object:
    if isinstance(arg, bytes | bytearray | memoryview):
        return _Shown(f"<{len(arg)} bytes>")
    if isinstance(arg, Struct):
        return _Shown(f"{type(arg).__name__}(withheld)")
    return arg


class _Shown(str):
    """Text that ``%r`` shows as it is, without quotes."""

    def __repr__(self) -> str:
        return str(self)


class LimitedLogWorker(Worker):
    """Faust's worker, with the :class:`RepeatLimiter` and the :class:`PayloadWithholder`
    on the handlers it sets up, and without Faust's console spinner.

    At ``warning`` and ``error`` Faust keeps the spinner, which turns on every logger's
    debug lines (it spins at each) and writes terminal escapes into the log: every message's
    debug lines were made and dropped, 10% of a Faust worker's CPU in a profile (the
    decode-and-forward ceiling of ``bench.ceilings``).
    """

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        super().on_setup_root_logger(logger, level)
        for handler in logger.handlers:  # one each: a shared one would count a record twice
            handler.addFilter(PayloadWithholder())
            handler.addFilter(RepeatLimiter())
