"""Postcodes in each country's written form: "sw1a1aa" -> "SW1A 1AA", "941071234" -> "94107-1234".

A country's formats are templates (``#`` a digit, ``@`` a letter, anything else a separator).
The input is compacted (case folded up, spaces and dashes removed), matched against the
templates without their separators, and written back with them, so every spelling of a code
ends up the same. Codes of a known country that fit no template are invalid; for countries
without templates (or no country) the value is only tidied, since a wrong rule would do more
harm than none.

Spreadsheets drop leading zeros ("02134" becomes 2134), so in countries whose codes are all
digits and may start with 0, a code one digit short is padded and flagged ``zero_padded``.
The table covers the countries the synthetic CRM produces and their neighbours; the formats
are checked for shape, not against the postal services' lists of issued codes.

>>> standardize_postal_code("sw1a 1aa", country="GB").value
'SW1A 1AA'
>>> standardize_postal_code(2134, country="US").value
'02134'
>>> standardize_postal_code("ABC", country="DE").reason
'invalid_postal_code'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from schemas.standardize.result import (
    Flag,
    Reason,
    Standardized,
    invalid,
    memoized,
    standardized,
)
from schemas.standardize.text import standardize_text

__all__ = ["POSTAL_FORMATS", "PostalFormat", "standardize_postal_code"]


@dataclass(frozen=True, slots=True)
class PostalFormat:
    """A country's postcode templates; ``zero_pad`` where codes are digits and may start with 0."""

    templates: tuple[str, ...]
    zero_pad: bool = False


_FIVE = PostalFormat(("#####",), zero_pad=True)
_FOUR = PostalFormat(("####",))

POSTAL_FORMATS: Final[Mapping[str, PostalFormat]] = MappingProxyType(
    {
        "US": PostalFormat(("#####", "#####-####"), zero_pad=True),
        "GB": PostalFormat(("@# #@@", "@## #@@", "@@# #@@", "@@## #@@", "@#@ #@@", "@@#@ #@@")),
        "CA": PostalFormat(("@#@ #@#",)),
        "DE": _FIVE,
        "FR": _FIVE,
        "ES": _FIVE,
        "IT": _FIVE,
        "FI": _FIVE,
        "MX": _FIVE,
        "NL": PostalFormat(("#### @@",)),
        "BR": PostalFormat(("#####-###",)),
        "IN": PostalFormat(("######",)),
        "AU": PostalFormat(("####",), zero_pad=True),
        "NO": PostalFormat(("####",), zero_pad=True),
        "AT": _FOUR,
        "BE": _FOUR,
        "CH": _FOUR,
        "DK": _FOUR,
        "SE": PostalFormat(("### ##",)),
        "PL": PostalFormat(("##-###",)),
        "PT": PostalFormat(("####-###",)),
        "JP": PostalFormat(("###-####",)),
    }
)
"""Postcode templates per alpha-2 country code."""

_SLOT = {"#": "[0-9]", "@": "[A-Z]"}
_COMPACT_DROP = str.maketrans("", "", " -")


@dataclass(frozen=True, slots=True)
class _Template:
    pattern: re.Pattern[str]  # the template's letters and digits, separators left out
    separators: tuple[tuple[int, str], ...]  # (position in the compact code, separator)

    def format(self, compact: str) -> str:
        parts: list[str] = []
        start = 0
        for position, separator in self.separators:
            parts += (compact[start:position], separator)
            start = position
        parts.append(compact[start:])
        return "".join(parts)


def _compile(layout: str) -> _Template:
    slots = "".join(_SLOT[ch] for ch in layout if ch in _SLOT)
    return _Template(re.compile(slots), _separators(layout))


def _separators(layout: str) -> tuple[tuple[int, str], ...]:
    found = []
    slots_before = 0
    for ch in layout:
        if ch in _SLOT:
            slots_before += 1
        else:
            found.append((slots_before, ch))
    return tuple(found)


_TEMPLATES: Final = {
    country: tuple(_compile(layout) for layout in spec.templates)
    for country, spec in POSTAL_FORMATS.items()
}


@memoized
def standardize_postal_code(value: object, *, country: str | None) -> Standardized:
    """A postcode in ``country``'s written form (``country``: the record's alpha-2 or ``None``)."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    tidied = standardize_text(text)
    templates = _TEMPLATES.get(country or "")
    if not tidied.valid or not isinstance(tidied.value, str):
        return tidied if tidied.valid else invalid(value, Reason.INVALID_POSTAL_CODE)
    if templates is None:
        return standardized(value, tidied.value)
    compact = tidied.value.upper().translate(_COMPACT_DROP)
    flags: tuple[Flag, ...] = ()
    if _needs_padding(compact, country or ""):
        compact, flags = "0" + compact, (Flag.ZERO_PADDED,)
    for template in templates:
        if template.pattern.fullmatch(compact):
            return standardized(value, template.format(compact), flags)
    return invalid(value, Reason.INVALID_POSTAL_CODE)


def _needs_padding(compact: str, country: str) -> bool:
    spec = POSTAL_FORMATS[country]
    shortest = min(len(template) for template in spec.templates)
    digits = compact.isascii() and compact.isdigit()
    return spec.zero_pad and digits and len(compact) == shortest - 1
