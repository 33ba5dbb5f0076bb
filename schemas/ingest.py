"""The first step of the flow: one inbound message in, an enriched change or a dead letter out.

Kept pure (the caller supplies the Kafka position and the clock) so that the rule
"every message ends up in exactly one of two places" is tested without a broker.
"""

from __future__ import annotations

import logging
from datetime import datetime

from schemas.errors import ErrorCode, ErrorDetail, InvalidChange
from schemas.native import parse_native_change
from schemas.outbound import DeadLetter, EnrichedChange, SourcePosition

log = logging.getLogger(__name__)


def ingest_message(
    value: bytes | None,
    key: bytes | None,
    position: SourcePosition,
    now: datetime,
    *,
    max_bytes: int,
) -> EnrichedChange | DeadLetter:
    """Validate one message; never raises, because one bad message must not stop a partition.

    >>> from datetime import UTC
    >>> at = SourcePosition(topic="crm.changes", partition=0, offset=7)
    >>> outcome = ingest_message(b"{oops", None, at, datetime.now(UTC), max_bytes=1024)
    >>> [error.code.value for error in outcome.errors]
    ['malformed_json']
    """
    try:
        change = parse_native_change(value, max_bytes=max_bytes)
        return EnrichedChange.of(change, position, now)
    except InvalidChange as exc:
        errors = exc.errors
    except Exception as exc:  # a bug of ours must park the message, not crash-loop the worker
        log.exception("unexpected failure ingesting %s[%d]@%d", *_where(position))
        errors = [ErrorDetail(ErrorCode.PROCESSING_FAILED, f"internal error: {type(exc).__name__}")]
    return DeadLetter.of(errors, value, key, position, now, keep_bytes=max_bytes)


def _where(position: SourcePosition) -> tuple[str, int, int]:
    return position.topic, position.partition, position.offset
