"""Money amounts: a number and, when written, its currency.

Accepted: JSON numbers, and text made of an optional sign, an optional currency before or
after the number (a symbol or an ISO 4217 code), the number with thousands and decimal
separators as people write them (see :func:`~schemas.standardize.scalars.parse_decimal`:
"1,234.50", "1.234,50", "12 500", "1'234.50"), an optional multiplier and accounting
parentheses for negatives:

======================  ===================================
``"$1,234"``            1234 USD (``assumed_currency``: "$" is also CAD, AUD, ...)
``"1.234,50 €"``        1234.50 EUR
``"USD 1234"``          1234 USD
``"12k"``, ``"1.5M"``   12000, 1500000 (``multiplier``; k, m/mm/mn, b/bn)
``"(500.00)"``          -500.00
======================  ===================================

Rejected (``invalid_money``): anything else, e.g. words ("about 12k"), ranges ("10-20k"),
percentages, two currencies, a three-letter code that is not a currency, and the symbols
"kr" (SEK, NOK, DKK or ISK?) and "R" (too close to the multipliers to read safely).

The amount is a :class:`~decimal.Decimal` (money must not pick up binary rounding); the record
gives it to JSON as a number and the currency, when written, as a separate derived field.

>>> standardize_money("1.234,50 €").value
Money(amount=Decimal('1234.50'), currency='EUR')
>>> standardize_money("about 12k").reason
'invalid_money'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from schemas.standardize.result import (
    Flag,
    Reason,
    Standardized,
    empty,
    invalid,
    memoized,
    standardized,
)
from schemas.standardize.scalars import json_number, parse_decimal, parse_number

__all__ = ["Money", "standardize_money"]


@dataclass(frozen=True, slots=True)
class Money:
    """An amount and its ISO 4217 currency code (``None`` when the CRM did not say)."""

    amount: Decimal
    currency: str | None = None


_SYMBOLS: Final = {
    "$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "R$": "BRL",
    "A$": "AUD", "AU$": "AUD", "C$": "CAD", "CA$": "CAD", "NZ$": "NZD", "HK$": "HKD",
    "S$": "SGD", "₩": "KRW", "₽": "RUB", "₺": "TRY", "₪": "ILS", "zł": "PLN", "Fr.": "CHF",
}  # fmt: skip
_GUESSED_SYMBOLS: Final = frozenset({"$", "¥"})
# fmt: off
_CODES: Final = frozenset({
    "USD", "EUR", "GBP", "JPY", "CNY", "INR", "BRL", "CAD", "AUD", "NZD", "CHF", "SEK", "NOK",
    "DKK", "ISK", "PLN", "CZK", "HUF", "RON", "BGN", "HRK", "RSD", "UAH", "RUB", "TRY", "ILS",
    "AED", "SAR", "QAR", "KWD", "BHD", "OMR", "EGP", "MAD", "NGN", "KES", "GHS", "ZAR", "MXN",
    "ARS", "CLP", "COP", "PEN", "UYU", "SGD", "HKD", "TWD", "KRW", "THB", "MYR", "IDR", "PHP",
    "VND", "PKR", "BDT", "LKR",
})
# fmt: on
_MULTIPLIERS: Final = {
    "k": 1_000,
    "m": 1_000_000,
    "mm": 1_000_000,
    "mn": 1_000_000,
    "b": 1_000_000_000,
    "bn": 1_000_000_000,
}  # fmt: skip

_CURRENCY = r"[A-Za-z]{3}|[A-Z]{1,2}\$|\$|€|£|¥|₹|₩|₽|₺|₪|zł|Fr\."
_AMOUNT = re.compile(
    rf"(?P<sign>[-+])?\s*(?P<before>{_CURRENCY})?\s*(?P<sign2>[-+])?\s*"
    r"(?P<number>[0-9.,][0-9.,' \u00a0\u202f]*)"
    rf"\s*(?P<multiplier>[kmb]n?|mm)?\s*(?P<after>{_CURRENCY})?",
    re.IGNORECASE,
)


@memoized
def standardize_money(value: object) -> Standardized:
    """An amount as :class:`Money`; invalid ``invalid_money`` with the value as typed."""
    if isinstance(value, Money):
        return standardized(value, value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return empty(value)
    if isinstance(value, str):
        return _from_text(value)
    number = parse_number(value)
    if number is None or json_number(number.value) is None:
        return invalid(value, Reason.INVALID_MONEY)
    return standardized(value, Money(number.value))


def _from_text(value: str) -> Standardized:
    text = value.strip()
    negative = text.startswith("(") and text.endswith(")")
    match = _AMOUNT.fullmatch(text[1:-1].strip() if negative else text)
    parsed = parse_decimal(match.group("number")) if match else None
    if match is None or parsed is None:
        return invalid(value, Reason.INVALID_MONEY)
    currency = _currency(match.group("before"), match.group("after"))
    signs = [sign for sign in (match.group("sign"), match.group("sign2")) if sign]
    if currency is Reason.INVALID_MONEY or len(signs) > 1 or (negative and signs):
        return invalid(value, Reason.INVALID_MONEY)
    amount = parsed.value * _MULTIPLIERS.get((match.group("multiplier") or "").lower(), 1)
    if negative or signs == ["-"]:
        amount = -amount
    if json_number(amount) is None:  # beyond what JSON (a float) can carry
        return invalid(value, Reason.INVALID_MONEY)
    flags = _flags(match, parsed.ambiguous)
    return standardized(value, Money(amount, currency), flags)


def _currency(before: str | None, after: str | None) -> str | Reason | None:
    """The ISO code the symbols or codes name; ``INVALID_MONEY`` for two or an unknown code."""
    if before and after:
        return Reason.INVALID_MONEY
    written = before or after
    if not written:
        return None
    code = _SYMBOLS.get(written) or _SYMBOLS.get(written.upper()) or written.upper()
    return code if code in _CODES else Reason.INVALID_MONEY


def _flags(match: re.Match[str], ambiguous: bool) -> list[Flag]:
    flags = []
    if (match.group("before") or match.group("after")) in _GUESSED_SYMBOLS:
        flags.append(Flag.ASSUMED_CURRENCY)
    if match.group("multiplier"):
        flags.append(Flag.MULTIPLIER)
    if ambiguous:
        flags.append(Flag.AMBIGUOUS_SEPARATOR)
    return flags
