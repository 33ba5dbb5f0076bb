"""Numbers and booleans as people type them: "1,234", "1.234,5", "12 500", "yes".

:func:`parse_decimal` is the one place that decides which of "." and "," is the decimal
separator, shared by integers, numbers and money amounts:

* both present: the last one is the decimal separator ("1,234.50", "1.234,50");
* one of them, repeated: thousands separators ("1,234,567");
* one of them, once: a decimal separator, except before exactly three digits after a
  non-zero integer part ("1,234" is 1234, flagged ``ambiguous_separator``: amounts with
  three decimals are rare, and thousands separators are not);
* spaces, no-break spaces and apostrophes ("12 500", "1'234.50") are always thousands
  separators. Thousands groups must be well formed (three digits, or the Indian 2-2-3).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from schemas.standardize.result import Flag, Reason, Standardized, empty, invalid, standardized

__all__ = [
    "ParsedDecimal",
    "json_number",
    "parse_decimal",
    "parse_number",
    "standardize_boolean",
    "standardize_integer",
    "standardize_number",
]

_NUMBER_TEXT = re.compile(r"[+-]?[0-9][0-9.,' \u00a0\u202f]*|[+-]?[.,][0-9]+")
_GROUPING_ONLY = " \u00a0\u202f'"
_WESTERN_GROUPS = re.compile(r"[0-9]{1,3}(?:G[0-9]{3})*")
_INDIAN_GROUPS = re.compile(r"[0-9]{1,2}(?:G[0-9]{2})*G[0-9]{3}")
_DIGITS = frozenset("0123456789")
_INT64 = 2**63


class ParsedDecimal(NamedTuple):
    """A parsed number and whether its separator had to be guessed."""

    value: Decimal
    ambiguous: bool


def parse_decimal(text: str) -> ParsedDecimal | None:
    """The number in ``text`` (digits and separators only, sign allowed), or ``None``.

    >>> parse_decimal("1.234,50"), parse_decimal("1,234")
    (ParsedDecimal(value=Decimal('1234.50'), ambiguous=False), ParsedDecimal(value=Decimal('1234'), ambiguous=True))
    >>> parse_decimal("1,2,3") is None
    True
    """  # noqa: E501
    text = text.strip()
    if not _NUMBER_TEXT.fullmatch(text) or text[-1] not in _DIGITS:
        return None
    sign = "-" if text[0] == "-" else ""
    body = text.lstrip("+-")
    decimal_sep, ambiguous = _decimal_separator(body)
    whole, _, fraction = body.partition(decimal_sep) if decimal_sep else (body, "", "")
    if decimal_sep and decimal_sep in fraction:
        return None
    grouped = "".join("G" if ch in ".,'" or ch in _GROUPING_ONLY else ch for ch in whole)
    if not _DIGITS.issuperset(fraction):
        return None
    if "G" in grouped and not (
        _WESTERN_GROUPS.fullmatch(grouped) or _INDIAN_GROUPS.fullmatch(grouped)
    ):
        return None
    digits = grouped.replace("G", "") or "0"
    try:
        number = f"{sign}{digits}.{fraction}" if fraction else f"{sign}{digits}"
        return ParsedDecimal(Decimal(number), ambiguous)
    except InvalidOperation:  # pragma: no cover - the pattern admits digits only
        return None


def _decimal_separator(body: str) -> tuple[str, bool]:
    """Which of "." and "," separates decimals ("" for none), and whether that was a guess."""
    dots, commas = body.count("."), body.count(",")
    if dots and commas:
        return body[max(body.rfind("."), body.rfind(","))], False
    if dots + commas != 1:
        return "", False
    sep = "." if dots else ","
    whole, _, fraction = body.partition(sep)
    whole = whole.translate({ord(ch): None for ch in _GROUPING_ONLY})
    if len(fraction) == 3 and 1 <= len(whole) <= 3 and whole != "0" and "'" not in body:
        return "", True
    return sep, False


def json_number(value: Decimal) -> int | float | None:
    """A JSON-ready number: an int when whole and within 64 bits, else a float; ``None`` when
    no float can hold it (JSON has no infinity).

    >>> json_number(Decimal("1234.50")), json_number(Decimal("12000")), json_number(Decimal("1e999"))
    (1234.5, 12000, None)
    """  # noqa: E501
    if value == value.to_integral_value() and abs(value) < _INT64:
        return int(value)
    as_float = float(value)
    if not math.isfinite(as_float):
        return None
    # 7229321008649896.8 is 7229321008649897.0 as a float: whole, so an int, as it would be
    # when read again (standardizing must not change its mind on its own output).
    return int(as_float) if as_float.is_integer() and abs(as_float) < _INT64 else as_float


def parse_number(value: object) -> ParsedDecimal | None:
    """A finite number from a JSON-ish scalar or text, or ``None``; bools are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return ParsedDecimal(Decimal(value), False)
    if isinstance(value, float):
        return ParsedDecimal(Decimal(repr(value)), False) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return ParsedDecimal(value, False) if value.is_finite() else None
    if isinstance(value, str):
        return parse_decimal(value)
    return None


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def standardize_integer(value: object) -> Standardized:
    """A whole number (employees, minutes): "1,200" -> 1200, 12.0 -> 12; 12.5 is invalid.

    >>> standardize_integer("1,200").value, standardize_integer(12.5).reason
    (1200, 'invalid_integer')
    """
    if _blank(value):
        return empty(value)
    parsed = parse_number(value)
    if parsed is None or not isinstance(number := json_number(parsed.value), int):
        return invalid(value, Reason.INVALID_INTEGER)
    return standardized(value, number, _separator_flags(parsed))


def standardize_number(value: object) -> Standardized:
    """Any finite number; whole numbers become ints so that 60 and "60" agree.

    >>> standardize_number("12,5").value, standardize_number(float("nan")).valid
    (12.5, False)
    """
    if _blank(value):
        return empty(value)
    parsed = parse_number(value)
    number = json_number(parsed.value) if parsed is not None else None
    if parsed is None or number is None:
        return invalid(value, Reason.INVALID_NUMBER)
    return standardized(value, number, _separator_flags(parsed))


def _separator_flags(parsed: ParsedDecimal) -> tuple[Flag, ...]:
    return (Flag.AMBIGUOUS_SEPARATOR,) if parsed.ambiguous else ()


_TRUE = frozenset({"true", "t", "yes", "y", "1", "on", "x", "checked"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "off", "unchecked"})


def standardize_boolean(value: object) -> Standardized:
    """true/false, yes/no, y/n, 1/0, on/off (any case) and the numbers 1 and 0.

    >>> standardize_boolean("Yes").value, standardize_boolean(0).value
    (True, False)
    """
    if isinstance(value, bool):
        return standardized(value, value)
    if _blank(value):
        return empty(value)
    if isinstance(value, int | float) and value in (0, 1):
        return standardized(value, bool(value))
    if isinstance(value, str):
        word = value.strip().casefold()
        if word in _TRUE or word in _FALSE:
            return standardized(value, word in _TRUE)
    return invalid(value, Reason.INVALID_BOOLEAN)
