"""From raw Kafka bytes to a JSON document, with the checks every envelope shares.

The size limit is checked before parsing so that a hostile or runaway message costs
nothing but a dead letter.
"""

from __future__ import annotations

from typing import Any

import orjson

from schemas.errors import ErrorCode, InvalidChange


def decode_json_document(raw: bytes | None, *, max_bytes: int) -> Any:
    """Parse one message value, raising :class:`InvalidChange` with the precise reason."""
    if raw is None or not raw.strip():
        raise InvalidChange.single(ErrorCode.EMPTY_MESSAGE, "message value is empty")
    if len(raw) > max_bytes:
        raise InvalidChange.single(
            ErrorCode.OVERSIZED, f"message is {len(raw)} bytes, the limit is {max_bytes}"
        )
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidChange.single(
            ErrorCode.INVALID_UTF8, f"not UTF-8: invalid byte at position {exc.start}"
        ) from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidChange.single(ErrorCode.MALFORMED_JSON, f"not JSON: {exc}") from None
