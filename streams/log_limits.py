"""Repeated complaints of the Kafka client, let through once per window.

While a broker is down, aiokafka logs every failed attempt to connect or to refresh its
metadata: about 3,500 errors a second from one worker (10 MB of log for a 29-s outage),
enough to fill a disk or a log pipeline and to bury everything else; Faust's producer
buffer adds two lines each time it fills. The first of each kind still goes out at once,
and the next one after the window says how many were held back.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

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
        if record.levelno < logging.INFO or not _is_limited(record.name):
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


def _is_limited(logger_name: str) -> bool:
    return any(
        logger_name == limited or logger_name.startswith(limited + ".")
        for limited in LIMITED_LOGGERS
    )


class LimitedLogWorker(Worker):
    """Faust's worker, with the :class:`RepeatLimiter` on the handlers it sets up."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        for handler in logger.handlers:  # one each: a shared one would count a record twice
            handler.addFilter(RepeatLimiter())
