"""Records crmstream writes for others to read, and where an inbound message came from.

These are public contracts (downstream services consume them), so each carries a
``schema_version`` and is built from typed models rather than ad-hoc dicts.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.errors import ErrorCode, ErrorDetail


class SourcePosition(BaseModel):
    """Where an inbound message sat in Kafka, so it can be found and replayed."""

    model_config = ConfigDict(frozen=True)

    topic: str
    partition: int
    offset: int


class OutboundRecord(BaseModel):
    """A record crmstream publishes: immutable, and serialized one way everywhere."""

    model_config = ConfigDict(frozen=True)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


class DeadLetterError(BaseModel):
    """One reason for parking, as written to ``crm.deadletter``."""

    model_config = ConfigDict(frozen=True)

    code: ErrorCode
    message: str
    field: str | None = None


class DeadLetter(OutboundRecord):
    """A parked message on ``crm.deadletter``: enough to understand it and to replay it.

    The original bytes travel base64-encoded because they may not be valid UTF-8 or JSON,
    and a replay must re-submit exactly what arrived. Only a message beyond the size limit
    is cut (``original_truncated``); its full bytes stay at ``source_position`` while the
    source topic retains them.
    """

    schema_version: Literal[1] = 1
    errors: list[DeadLetterError] = Field(min_length=1)
    original_value_b64: str | None
    original_size: int = Field(ge=0, description="length of the original value in bytes")
    original_truncated: bool = False
    original_key_b64: str | None
    source_position: SourcePosition
    source_batch_index: int | None = Field(
        default=None,
        ge=0,
        description="the item's place in the batch message at source_position, for an item "
        "of a batch between crmstream's agents (internal topics only); null for a message "
        "parked whole",
    )
    parked_at: AwareDatetime

    @classmethod
    def of(
        cls,
        errors: list[ErrorDetail],
        value: bytes | None,
        key: bytes | None,
        position: SourcePosition,
        now: datetime,
        *,
        keep_bytes: int,
        batch_index: int | None = None,
    ) -> DeadLetter:
        kept = value[:keep_bytes] if value is not None else None
        return cls(
            errors=[DeadLetterError(code=e.code, message=e.message, field=e.field) for e in errors],
            original_value_b64=_b64(kept),
            original_size=len(value) if value is not None else 0,
            original_truncated=value is not None and len(value) > keep_bytes,
            original_key_b64=_b64(key),
            source_position=position,
            source_batch_index=batch_index,
            parked_at=now,
        )

    def original_value(self) -> bytes | None:
        """The exact bytes that arrived, for replay after a fix."""
        return (
            None if self.original_value_b64 is None else base64.b64decode(self.original_value_b64)
        )


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")
