"""The one result every standardizer returns, and its stable reason and flag codes.

A standardizer never raises and never drops data: a value it cannot make canonical comes back
exactly as typed with ``valid`` false and a reason code, so the record keeps what the CRM
holds and data-quality reports can say why it is wrong. Codes are part of the output contract
(``crm.enriched`` carries them), hence enums with stable snake_case values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache, wraps
from typing import Literal, ParamSpec, cast

__all__ = [
    "DateOrder",
    "Flag",
    "Reason",
    "Standardized",
    "empty",
    "invalid",
    "memoized",
    "standardized",
]

P = ParamSpec("P")

DateOrder = Literal["dmy", "mdy"]
"""How to read an all-numeric date like 03/04/2025: day first or month first."""


class Reason(StrEnum):
    """Why a value is invalid, or why a valid one is doubtful (the standardizer had to guess)."""

    INVALID_EMAIL = "invalid_email"
    INVALID_PHONE = "invalid_phone"
    INVALID_NAME = "invalid_name"
    INVALID_COMPANY = "invalid_company"
    UNKNOWN_COUNTRY = "unknown_country"
    UNKNOWN_STATE = "unknown_state"
    INVALID_POSTAL_CODE = "invalid_postal_code"
    INVALID_DATE = "invalid_date"
    AMBIGUOUS_DATE = "ambiguous_date"
    ASSUMED_UTC = "assumed_utc"
    INVALID_MONEY = "invalid_money"
    INVALID_WEBSITE = "invalid_website"
    INVALID_INTEGER = "invalid_integer"
    INVALID_NUMBER = "invalid_number"
    INVALID_BOOLEAN = "invalid_boolean"
    INVALID_TEXT = "invalid_text"
    UNKNOWN_CATEGORY = "unknown_category"
    INVALID_REFERENCE = "invalid_reference"


class Flag(StrEnum):
    """Facts about a valid value worth reporting; never a reason to reject it."""

    ROLE_ADDRESS = "role_address"  # info@, sales@: a mailbox, not a person
    FREE_MAIL = "free_mail"  # gmail.com & co: says nothing about the employer
    DISPOSABLE = "disposable"  # a throw-away mailbox
    EXTENSION_DROPPED = "extension_dropped"  # E.164 has no extension; the original keeps it
    AMBIGUOUS_DATE = "ambiguous_date"  # day and month could be swapped; date_order decided
    ASSUMED_UTC = "assumed_utc"  # no time zone was given
    TWO_DIGIT_YEAR = "two_digit_year"  # the century was guessed
    TIME_DROPPED = "time_dropped"  # a date field was given a time of day
    ASSUMED_CURRENCY = "assumed_currency"  # "$" read as USD, "¥" as JPY
    MULTIPLIER = "multiplier"  # "12k" read as 12000
    AMBIGUOUS_SEPARATOR = "ambiguous_separator"  # "1,234": read as a thousands separator
    ZERO_PADDED = "zero_padded"  # a postcode that lost its leading zero (spreadsheets do)


@dataclass(frozen=True, slots=True)
class Standardized:
    """The outcome of standardizing one value.

    ``value`` is the canonical value when ``valid`` (``None`` for an empty input), otherwise
    the input exactly as typed. ``reason`` says why it is invalid, or, on a valid value, what
    was guessed; reasons and flags are the plain string values of :class:`Reason` and
    :class:`Flag`, ready for JSON. ``corrected`` is true when ``value`` differs from the
    input (type included). Standardizing ``value`` again gives the same ``value`` and
    ``valid``: every standardizer is idempotent.
    """

    value: object | None
    valid: bool
    reason: str | None
    flags: frozenset[str]
    corrected: bool


_NO_FLAGS: frozenset[str] = frozenset()


def _differs(before: object, after: object) -> bool:
    """Type-strict inequality: 1 and "1" differ, and so do 1 and 1.0 for a JSON consumer."""
    return type(before) is not type(after) or before != after


def standardized(
    original: object, value: object, flags: Iterable[Flag] = (), reason: Reason | None = None
) -> Standardized:
    """A valid result; ``reason`` only for a doubtful one (e.g. an ambiguous date)."""
    flag_set = frozenset(flag.value for flag in flags) if flags else _NO_FLAGS
    code = reason.value if reason is not None else None
    return Standardized(value, True, code, flag_set, _differs(original, value))


def invalid(original: object, reason: Reason) -> Standardized:
    """An invalid result: the value stays exactly as typed."""
    return Standardized(original, False, reason.value, _NO_FLAGS, False)


def empty(original: object) -> Standardized:
    """No value (``None`` or blank text): valid, since a missing field is not a wrong one."""
    return Standardized(None, True, None, _NO_FLAGS, original is not None)


_MEMO_SIZE = 4096  # per standardizer: a few MB when full
_MEMO_MAX_TEXT = 256


def memoized(standardize: Callable[P, Standardized]) -> Callable[P, Standardized]:
    """Remember the results of a standardizer for text values.

    CRM values repeat: picklists, titles, cities, and above all the fields of a record that is
    standardized again, merged, with every change to it. Results are immutable, and a
    standardizer is a pure function of its arguments, so a bounded LRU cache per standardizer
    is safe; only ``str`` values (the first argument) up to 256 characters are cached, so
    ``1`` and ``True`` (equal as keys) never share an entry.
    """
    # Every argument a standardizer takes is hashable (text, codes, tuples of choices).
    remembered = cast(Callable[P, Standardized], lru_cache(maxsize=_MEMO_SIZE)(standardize))

    @wraps(standardize)
    def standardize_memoized(*args: P.args, **kwargs: P.kwargs) -> Standardized:
        value = args[0] if args else None
        if type(value) is str and len(value) <= _MEMO_MAX_TEXT:
            return remembered(*args, **kwargs)
        return standardize(*args, **kwargs)

    return standardize_memoized
