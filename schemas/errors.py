"""Machine-readable reasons why an inbound message was parked instead of enriched.

Dead letters are read by programs (replay tools, alerting) as much as by people, so every
failure carries a stable code from :class:`ErrorCode`; the human message is for the reader
and never contains the offending value, because that value may be an email or a phone number.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import ValidationError


class ErrorCode(StrEnum):
    """Stable reasons for rejecting a message; part of the dead-letter contract."""

    EMPTY_MESSAGE = "empty_message"
    OVERSIZED = "oversized"
    INVALID_UTF8 = "invalid_utf8"
    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_ENVELOPE = "unknown_envelope"
    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    WRONG_TYPE = "wrong_type"
    INVALID_VALUE = "invalid_value"
    UNKNOWN_ENTITY_TYPE = "unknown_entity_type"
    UNKNOWN_OP = "unknown_op"
    INVALID_TIMESTAMP = "invalid_timestamp"
    EMPTY_CHANGE = "empty_change"
    RESULT_TOO_LARGE = "result_too_large"
    PROCESSING_FAILED = "processing_failed"


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One reason a message was rejected, pointing at the offending envelope field if any."""

    code: ErrorCode
    message: str
    field: str | None = None


def internal_error(exc: Exception) -> ErrorDetail:
    """A failure of crmstream itself on a message: named by type only, never by value."""
    return ErrorDetail(ErrorCode.PROCESSING_FAILED, f"internal error: {type(exc).__name__}")


class InvalidChange(ValueError):
    """Raised when bytes cannot become a canonical change event; carries every reason found."""

    def __init__(self, errors: list[ErrorDetail]) -> None:
        if not errors:
            raise ValueError("InvalidChange needs at least one error")
        self.errors = errors
        super().__init__("; ".join(f"{e.code}: {e.message}" for e in errors))

    @classmethod
    def single(cls, code: ErrorCode, message: str, field: str | None = None) -> InvalidChange:
        return cls([ErrorDetail(code=code, message=message, field=field)])


# Field-specific codes come first: a bad `op` is more useful to an operator as `unknown_op`
# than as a generic `invalid_value`.
_CODE_BY_FIELD = {
    "entity_type": ErrorCode.UNKNOWN_ENTITY_TYPE,
    "op": ErrorCode.UNKNOWN_OP,
    "occurred_at": ErrorCode.INVALID_TIMESTAMP,
}
_CODE_BY_PYDANTIC_TYPE = {
    "missing": ErrorCode.MISSING_FIELD,
    "extra_forbidden": ErrorCode.UNKNOWN_FIELD,
}
_TYPE_ERROR_SUFFIX = "_type"
_OWN_CODES = frozenset(code.value for code in ErrorCode)


def _code_for(error_type: str, field: str) -> ErrorCode:
    if error_type in _OWN_CODES:  # raised by our validators as PydanticCustomError
        return ErrorCode(error_type)
    if error_type in _CODE_BY_PYDANTIC_TYPE:
        return _CODE_BY_PYDANTIC_TYPE[error_type]
    if field in _CODE_BY_FIELD:
        return _CODE_BY_FIELD[field]
    if error_type.endswith(_TYPE_ERROR_SUFFIX):
        return ErrorCode.WRONG_TYPE
    return ErrorCode.INVALID_VALUE


def errors_from_validation(exc: ValidationError) -> list[ErrorDetail]:
    """Translate pydantic's errors into our codes, leaving the input values out of the text."""
    details = []
    for error in exc.errors(include_input=False, include_url=False):
        field = ".".join(str(part) for part in error["loc"]) or None
        top_level = str(error["loc"][0]) if error["loc"] else ""
        details.append(
            ErrorDetail(code=_code_for(error["type"], top_level), message=error["msg"], field=field)
        )
    return details
