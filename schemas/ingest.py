"""The first step of the flow: one inbound message in; routed changes, a skip or a dead letter out.

Kept pure (the caller supplies the Kafka position, the clock and the mapping) so that the
rule "every message ends up somewhere, with a reason" is tested without a broker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import AwareDatetime

from schemas.change import ChangeEvent
from schemas.envelopes import SourceFormat, parse_message
from schemas.errors import InvalidChange, internal_error
from schemas.mapping import FieldMapping
from schemas.outbound import DeadLetter, OutboundRecord, SourcePosition

log = logging.getLogger(__name__)


class RoutedChange(OutboundRecord):
    """A canonical change on its way to its record's partition, with where it came from."""

    change: ChangeEvent
    source_position: SourcePosition
    source_format: SourceFormat | None
    received_at: AwareDatetime

    def record_key(self) -> bytes:
        return self.change.record_key()


@dataclass(frozen=True, slots=True)
class IngestResult:
    """Exactly one of: changes to route, a reason the message holds none, or a dead letter."""

    routed: list[RoutedChange] = field(default_factory=list)
    skipped: str | None = None
    dead_letter: DeadLetter | None = None


def ingest_message(
    value: bytes | None,
    key: bytes | None,
    position: SourcePosition,
    now: datetime,
    *,
    source_format: SourceFormat | None,
    mapping: FieldMapping,
    max_bytes: int,
) -> IngestResult:
    """Parse one message; never raises, because one bad message must not stop a partition.

    >>> from datetime import UTC
    >>> from schemas.mapping import DEFAULT_FIELD_MAPPING
    >>> at = SourcePosition(topic="crm.changes", partition=0, offset=7)
    >>> result = ingest_message(b"{oops", None, at, datetime.now(UTC), source_format=None,
    ...                         mapping=DEFAULT_FIELD_MAPPING, max_bytes=1024)
    >>> [error.code.value for error in result.dead_letter.errors]
    ['malformed_json']
    """
    try:
        parsed = parse_message(
            value, source_format=source_format, mapping=mapping, max_bytes=max_bytes
        )
    except InvalidChange as exc:
        errors = exc.errors
    except Exception as exc:  # a bug of ours must park the message, not crash-loop the worker
        log.exception("unexpected failure ingesting %s[%d]@%d", *_where(position))
        errors = [internal_error(exc)]
    else:
        routed = [
            RoutedChange(
                change=change,
                source_position=position,
                source_format=parsed.source_format,
                received_at=now,
            )
            for message_change in parsed.changes
            for change in message_change.expand_merge()
        ]
        return IngestResult(routed=routed, skipped=parsed.skipped)
    return IngestResult(
        dead_letter=DeadLetter.of(errors, value, key, position, now, keep_bytes=max_bytes)
    )


def _where(position: SourcePosition) -> tuple[str, int, int]:
    return position.topic, position.partition, position.offset
