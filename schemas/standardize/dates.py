"""Dates and date-times: ISO 8601 out, whatever came in.

Output: a date-time becomes UTC ISO 8601 with a ``Z`` (``2025-03-04T09:30:00Z``, fractions
only when present: ``.250`` or ``.123456``); a plain date stays a date (``2025-03-04``),
since a close date or a birthday has no time zone and inventing midnight UTC would shift it
for half the world.

Accepted input, tried in this order:

* ``date``/``datetime`` objects;
* numbers and digit strings: eight digits that form a date from 1900 to 2100 are
  ``YYYYMMDD``; for a date field an integer below 100,000 counts days (Debezium's DATE);
  any other number is a Unix epoch, its unit chosen by magnitude (below 1e11:
  seconds, i.e. up to the year 5138; below 1e14: milliseconds; below 1e17: microseconds;
  beyond: invalid);
* ISO 8601 as Python reads it (``2025-03-04``, ``2025-03-04T10:00:00+02:00``, ``...Z``,
  ``2025-03-04 10:00``, week dates);
* day, month and year in digits with one separator (``/``, ``.`` or ``-``): year first is
  always Y-M-D; otherwise both day-first and month-first readings are tried;
* a month written as a word, in English, German, French, Spanish, Portuguese, Dutch or
  Italian, with an optional weekday and ordinal (``4 March 2025``, ``Mar 4th, 2025``,
  ``Tue, 04 Mar 2025``, ``4. März 2025``, ``4 de marzo de 2025``);
* and after any of the last two, a time (``14:30``, ``2:30 pm``, ``14:30:05.250``) and a
  zone (``Z``, ``UTC``, ``GMT``, ``+02:00``, ``-0500``).

Doubts are reported, never hidden:

* A date-time without a zone is taken as UTC and flagged ``assumed_utc`` (reason too).
* ``03/04/2025`` reads as 3 April or 4 March. When both readings are valid dates and differ,
  ``date_order`` ("dmy" or "mdy", a deployment setting) decides and the value is flagged
  ``ambiguous_date`` (reason too); without a ``date_order`` it is invalid with that reason.
  When only one reading is a valid date (``13/04/2025``) it is used whatever the order.
* Two-digit years follow POSIX: 69-99 are 1900s, 00-68 are 2000s (flag ``two_digit_year``).
* A date field given a date-time keeps the calendar date as written (the time zone is not
  applied: "2025-03-04T23:30:00-05:00" is still the 4th) and is flagged ``time_dropped``.

>>> standardize_datetime("2025-03-04T10:00:00+02:00").value
'2025-03-04T08:00:00Z'
>>> standardize_datetime(1741082400000).value
'2025-03-04T10:00:00Z'
>>> result = standardize_date("03/04/2025", date_order="dmy")
>>> result.value, result.reason
('2025-04-03', 'ambiguous_date')
>>> standardize_date("2025-13-01").reason
'invalid_date'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

from schemas.standardize.result import (
    DateOrder,
    Flag,
    Reason,
    Standardized,
    empty,
    invalid,
    memoized,
    standardized,
)
from schemas.standardize.text import fold_ascii

__all__ = ["standardize_date", "standardize_datetime"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAYS_LIMIT = 100_000  # days since the epoch, for date fields: until the year 2243
_EPOCH_UNITS = ((Decimal("1e11"), 1), (Decimal("1e14"), 1_000), (Decimal("1e17"), 1_000_000))
_BASIC_DATE_YEARS = range(1900, 2101)
_MICROS = 1_000_000
_MAX_TEXT = 64


@dataclass(frozen=True, slots=True)
class _Moment:
    """What was read: a date, or an aware date-time in the zone it was written in."""

    value: date | datetime
    flags: tuple[Flag, ...] = ()


_Parsed = _Moment | Reason | None  # None: nothing there (blank)


@memoized
def standardize_datetime(value: object, *, date_order: DateOrder | None = None) -> Standardized:
    """A moment as UTC ISO 8601 (``...Z``); a plain date stays ``YYYY-MM-DD``."""
    parsed = _parse(value, date_order)
    if not isinstance(parsed, _Moment):
        return empty(value) if parsed is None else invalid(value, parsed)
    moment = parsed.value
    text = _utc_iso(moment) if isinstance(moment, datetime) else moment.isoformat()
    if text is None:
        return invalid(value, Reason.INVALID_DATE)
    return standardized(value, text, parsed.flags, _doubt(parsed.flags))


@memoized
def standardize_date(value: object, *, date_order: DateOrder | None = None) -> Standardized:
    """A calendar date as ``YYYY-MM-DD``; a date-time keeps the date it was written with.

    A small integer is a count of days since 1970-01-01: that is how Debezium and Kafka
    Connect encode a DATE column, and no CRM date is a few hours after the epoch.

    >>> standardize_date(20_411).value
    '2025-11-19'
    """
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < _EPOCH_DAYS_LIMIT:
        return standardized(value, (_EPOCH.date() + timedelta(days=value)).isoformat())
    parsed = _parse(value, date_order)
    if not isinstance(parsed, _Moment):
        return empty(value) if parsed is None else invalid(value, parsed)
    moment = parsed.value
    flags = tuple(flag for flag in parsed.flags if flag is not Flag.ASSUMED_UTC)
    if isinstance(moment, datetime):
        if moment.timetz().replace(tzinfo=None) != time():
            flags += (Flag.TIME_DROPPED,)
        moment = moment.date()
    return standardized(value, moment.isoformat(), flags, _doubt(flags))


def _doubt(flags: tuple[Flag, ...]) -> Reason | None:
    if Flag.AMBIGUOUS_DATE in flags:
        return Reason.AMBIGUOUS_DATE
    if Flag.ASSUMED_UTC in flags:
        return Reason.ASSUMED_UTC
    return None


def _utc_iso(moment: datetime) -> str | None:
    try:
        utc = moment.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # year 1 or 9999 pushed out of range by the offset
        return None
    micros = utc.microsecond
    timespec = "seconds" if not micros else "milliseconds" if not micros % 1000 else "auto"
    return utc.isoformat(timespec=timespec) + "Z"


# -- dispatch ------------------------------------------------------------------------------


def _parse(value: object, order: DateOrder | None) -> _Parsed:
    if value is None:
        return None
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, date):
        return _Moment(value)
    if isinstance(value, str):
        return _from_text(value.strip(), order)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return _from_number(value)
    return Reason.INVALID_DATE


def _aware(moment: datetime) -> _Moment:
    if moment.tzinfo is None or moment.utcoffset() is None:
        return _Moment(moment.replace(tzinfo=UTC), (Flag.ASSUMED_UTC,))
    return _Moment(moment)


def _from_text(text: str, order: DateOrder | None) -> _Parsed:
    if not text:
        return None
    if len(text) > _MAX_TEXT:
        return Reason.INVALID_DATE
    if _NUMBER.fullmatch(text):
        return _from_number(Decimal(text))
    iso = _from_iso(text)
    return iso if iso is not None else _from_written(text, order)


def _from_iso(text: str) -> _Moment | None:
    try:
        return _Moment(date.fromisoformat(text))
    except ValueError:
        pass
    try:
        return _aware(datetime.fromisoformat(text))
    except ValueError:
        return None


# -- numbers -------------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def _from_number(number: float | Decimal) -> _Parsed:
    if isinstance(number, float) and not math.isfinite(number):
        return Reason.INVALID_DATE
    exact = Decimal(repr(number)) if isinstance(number, float) else Decimal(number)
    if not exact.is_finite():
        return Reason.INVALID_DATE
    basic = _basic_date(exact)
    if basic is not None:
        return _Moment(basic)
    for limit, per_second in _EPOCH_UNITS:
        if abs(exact) < limit:
            micros = int(exact * _MICROS / per_second)
            try:
                return _Moment(_EPOCH + timedelta(microseconds=micros))
            except OverflowError:
                return Reason.INVALID_DATE
    return Reason.INVALID_DATE


def _basic_date(number: Decimal) -> date | None:
    """``YYYYMMDD`` written as a number, when it is a plausible date."""
    if number != number.to_integral_value() or not 10_000_000 <= number < 100_000_000:
        return None
    whole = int(number)
    year, month, day = whole // 10_000, whole // 100 % 100, whole % 100
    return _date_or_none(year, month, day) if year in _BASIC_DATE_YEARS else None


def _date_or_none(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


# -- written dates -------------------------------------------------------------------------

_TIME_PART = re.compile(
    r"(?P<date>.*?)[\sT,]+"
    r"(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]{1,9}))?)?"
    r"\s*(?P<meridiem>[ap]\.?\s?m\.?)?"
    r"\s*(?P<zone>z|utc|gmt|[+-][0-9]{2}:?[0-9]{2})?",
    re.IGNORECASE,
)
_NUMERIC_DATE = re.compile(r"([0-9]{1,4})([./-])([0-9]{1,2})\2([0-9]{1,4})")
_WORD_DATE_CHARS = re.compile(r"[\w\s,./-]+")
_TOKENS = re.compile(r"[a-z]+|[0-9]+")
_NOON = 12


def _from_written(text: str, order: DateOrder | None) -> _Parsed:
    timed = _TIME_PART.fullmatch(text)
    day_text = timed.group("date") if timed else text
    day = _numeric_date(day_text, order) if _NUMERIC_DATE.fullmatch(day_text) else None
    if day is None:
        day = _word_date(day_text)
    if not isinstance(day, _Moment) or timed is None:
        return day if day is not None else Reason.INVALID_DATE
    assert isinstance(day.value, date)  # written dates are dates until here
    return _with_time(day, timed)


def _with_time(day: _Moment, timed: re.Match[str]) -> _Parsed:
    hour = int(timed.group("hour"))
    meridiem = (timed.group("meridiem") or "").lower()
    if meridiem:
        if not 1 <= hour <= _NOON:
            return Reason.INVALID_DATE
        hour = hour % _NOON + (_NOON if meridiem.startswith("p") else 0)
    fraction = (timed.group("fraction") or "").ljust(6, "0")[:6]
    zone = _zone(timed.group("zone"))
    try:
        moment = datetime.combine(
            day.value,
            time(hour, int(timed.group("minute")), int(timed.group("second") or 0), int(fraction)),
        )
    except ValueError:
        return Reason.INVALID_DATE
    if zone is None:
        return _Moment(moment.replace(tzinfo=UTC), (*day.flags, Flag.ASSUMED_UTC))
    if isinstance(zone, Reason):
        return zone
    return _Moment(moment.replace(tzinfo=zone), day.flags)


def _zone(text: str | None) -> timezone | Reason | None:
    if not text:
        return None
    if text.lower() in ("z", "utc", "gmt"):
        return UTC
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    try:
        return timezone(-offset if text[0] == "-" else offset)
    except ValueError:
        return Reason.INVALID_DATE


def _numeric_date(text: str, order: DateOrder | None) -> _Parsed:
    match = _NUMERIC_DATE.fullmatch(text)
    assert match is not None  # checked by the caller
    first, _, middle, last = match.groups()
    if len(first) == 4 and len(last) <= 2:
        found = _date_or_none(int(first), int(middle), int(last))
        return _Moment(found) if found else Reason.INVALID_DATE
    if len(first) > 2 or len(last) not in (2, 4):
        return Reason.INVALID_DATE
    year, flags = _year(last)
    day_first = _date_or_none(year, int(middle), int(first))
    month_first = _date_or_none(year, int(first), int(middle))
    if day_first and month_first and day_first != month_first:
        if order is None:
            return Reason.AMBIGUOUS_DATE
        chosen = day_first if order == "dmy" else month_first
        return _Moment(chosen, (*flags, Flag.AMBIGUOUS_DATE))
    found = day_first or month_first
    return _Moment(found, flags) if found else Reason.INVALID_DATE


def _year(text: str) -> tuple[int, tuple[Flag, ...]]:
    """A written year; two digits follow POSIX ``%y`` (69-99: 1900s, 00-68: 2000s)."""
    year = int(text)
    if len(text) > 2:
        return year, ()
    return year + (1900 if year >= 69 else 2000), (Flag.TWO_DIGIT_YEAR,)


# fmt: off
_MONTH_WORDS = (
    "january jan januar janner janvier janv enero ene janeiro januari gennaio",
    "february feb februar fevrier fevr fev febrero fevereiro februari febbraio",
    "march mar marz mrz mars marzo marco maart mrt",
    "april apr avril avr abril abr aprile",
    "may mai mayo maio mei maggio",
    "june jun juni juin junio junho giugno",
    "july jul juli juillet juil julio julho luglio",
    "august aug aout agosto ago augustus",
    "september sep sept septembre septiembre setiembre setembro set settembre",
    "october oct oktober okt octobre octubre outubro out ottobre",
    "november nov novembre noviembre novembro",
    "december dec dezember dez decembre diciembre dic dezembro dicembre",
)
_FILLER_WORDS = frozenset((
    "mon", "monday", "tue", "tues", "tuesday", "wed", "wednesday", "thu", "thur", "thurs",
    "thursday", "fri", "friday", "sat", "saturday", "sun", "sunday", "of", "the", "de", "del",
    "st", "nd", "rd", "th", "er",
))
# fmt: on
_MONTHS = {word: n for n, words in enumerate(_MONTH_WORDS, 1) for word in words.split()}


def _word_date(text: str) -> _Parsed:
    """A date with its month as a word, e.g. "4 March 2025" or "Mar 4th, 2025"."""
    if not _WORD_DATE_CHARS.fullmatch(text):
        return None
    months, numbers = [], []
    for token in _TOKENS.findall(fold_ascii(text).lower()):
        if token.isdigit():
            numbers.append(token)
        elif token in _MONTHS:
            months.append(_MONTHS[token])
        elif token not in _FILLER_WORDS:
            return None
    if len(months) != 1 or len(numbers) != 2:  # a day and a year
        return None
    day_text, year_text = numbers if len(numbers[0]) <= 2 else numbers[::-1]
    if len(day_text) > 2 or len(year_text) not in (2, 4):
        return None
    year, flags = _year(year_text)
    found = _date_or_none(year, months[0], int(day_text))
    return _Moment(found, flags) if found else Reason.INVALID_DATE
