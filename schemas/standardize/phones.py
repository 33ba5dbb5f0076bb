"""Phone numbers in E.164 (``+14155552671``), parsed and checked with libphonenumber.

A number written without its country code is read in ``region``: the record's country when it
has one, else the deployment's default region (see
:func:`~schemas.standardize.record.standardize_fields`). A number is valid only when
libphonenumber knows it as a valid number of its country (length and prefixes), not merely a
possible length, and when it fits E.164's 15 digits (libphonenumber accepts a few longer
German numbers with direct-dial extensions, which E.164 cannot write).

Extensions ("x123", "ext. 12") are dropped and flagged ``extension_dropped``: E.164 has no
place for them, a dialler or a duplicate matcher wants the line itself, and the change
event on ``crm.enriched`` still carries the number as typed.

>>> standardize_phone("(415) 555-2671", region="US").value
'+14155552671'
>>> standardize_phone("+44 20 7946 0958", region="US").value
'+442079460958'
>>> standardize_phone("12", region="DE").reason
'invalid_phone'
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from schemas.standardize.result import (
    Flag,
    Reason,
    Standardized,
    empty,
    invalid,
    memoized,
    standardized,
)

__all__ = ["SUPPORTED_REGIONS", "standardize_phone"]

SUPPORTED_REGIONS: frozenset[str] = frozenset(phonenumbers.SUPPORTED_REGIONS)
"""Regions libphonenumber can read national numbers in (ISO alpha-2 codes)."""

_MAX_LENGTH = 100  # libphonenumber refuses more than 250 characters; real numbers are short
_MAX_E164_LENGTH = 16  # "+" and at most 15 digits


@memoized
def standardize_phone(value: object, *, region: str | None) -> Standardized:
    """A phone number as E.164; ``region`` (alpha-2) reads numbers without a country code."""
    text = _phone_text(value)
    if text is None:
        return invalid(value, Reason.INVALID_PHONE)
    if not text:
        return empty(value)
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return invalid(value, Reason.INVALID_PHONE)
    if not _valid(number, region):
        return invalid(value, Reason.INVALID_PHONE)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if len(e164) > _MAX_E164_LENGTH:
        return invalid(value, Reason.INVALID_PHONE)
    return standardized(value, e164, (Flag.EXTENSION_DROPPED,) if number.extension else ())


def _phone_text(value: object) -> str | None:
    """The text to parse ("" for nothing), or ``None`` when it cannot be a phone number."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and len(value) <= _MAX_LENGTH:
        return value.strip()
    return None


def _valid(number: phonenumbers.PhoneNumber, region: str | None) -> bool:
    """Valid for some region; the record's own region is tried first because checking one
    region is several times faster than finding the region (+1 alone has 25)."""
    if region is not None and phonenumbers.is_valid_number_for_region(number, region):
        return True
    return bool(phonenumbers.is_valid_number(number))
