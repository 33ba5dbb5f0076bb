"""States and provinces to their postal abbreviations, where a country has a closed list.

US states (plus DC, Puerto Rico and the inhabited territories), Canadian provinces and
territories and Australian states: names or abbreviations, in any case, become the postal
code ("California" and "ca" -> "CA"). A record without a country is read as US when its
state names a US state, because US states are what CRMs hold most and what US-centred tools
expect; anything else without a country is only tidied. For every other country the value
is only tidied (regions like "Bayern" or "Greater London" have no postal abbreviation that
people use).

>>> standardize_state("new york", country="US").value
'NY'
>>> standardize_state("Quebec", country="CA").value, standardize_state("Bayern", country="DE").value
('QC', 'Bayern')
>>> standardize_state("Narnia", country="US").reason
'unknown_state'
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from schemas.standardize.result import (
    Reason,
    Standardized,
    empty,
    invalid,
    memoized,
    standardized,
)
from schemas.standardize.text import lookup_key, standardize_text

__all__ = ["SUBDIVISIONS", "standardize_state", "state_code"]

# fmt: off
_US = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa",
    "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland",
    "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi",
    "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire",
    "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York", "NC": "North Carolina",
    "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee",
    "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    "DC": "District of Columbia|Washington DC|Washington D.C.", "PR": "Puerto Rico",
    "GU": "Guam", "VI": "U.S. Virgin Islands|Virgin Islands", "AS": "American Samoa",
    "MP": "Northern Mariana Islands",
}
_CA = {
    "AB": "Alberta", "BC": "British Columbia|Colombie-Britannique", "MB": "Manitoba",
    "NB": "New Brunswick|Nouveau-Brunswick", "NL": "Newfoundland and Labrador|Newfoundland",
    "NS": "Nova Scotia|Nouvelle-Écosse", "NT": "Northwest Territories", "NU": "Nunavut",
    "ON": "Ontario", "PE": "Prince Edward Island|PEI", "QC": "Quebec|Québec|PQ",
    "SK": "Saskatchewan", "YT": "Yukon|Yukon Territory",
}
_AU = {
    "ACT": "Australian Capital Territory", "NSW": "New South Wales",
    "NT": "Northern Territory", "QLD": "Queensland", "SA": "South Australia",
    "TAS": "Tasmania", "VIC": "Victoria", "WA": "Western Australia",
}
# fmt: on

SUBDIVISIONS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {"US": _US, "CA": _CA, "AU": _AU}
)
"""Countries with a closed list of states: code -> names (``|``-separated), per country."""


def _index(codes: Mapping[str, str]) -> dict[str, str]:
    index: dict[str, str] = {}
    for code, names in codes.items():
        for spelling in (code, *names.split("|")):
            index[lookup_key(spelling)] = code
    return index


_INDEX: Final = {country: _index(codes) for country, codes in SUBDIVISIONS.items()}


@lru_cache(maxsize=4096)
def state_code(text: str, country: str) -> str | None:
    """The postal abbreviation ``text`` names in ``country``, or ``None`` (cached).

    >>> state_code("Washington D.C.", "US"), state_code("nsw", "AU")
    ('DC', 'NSW')
    """
    index = _INDEX.get(country)
    return index.get(lookup_key(text)) if index is not None else None


@memoized
def standardize_state(value: object, *, country: str | None) -> Standardized:
    """A state or province; ``country`` is the record's alpha-2 code, ``None`` when unknown."""
    tidied = standardize_text(value)
    if not tidied.valid:
        return invalid(value, Reason.UNKNOWN_STATE)
    if not isinstance(tidied.value, str):
        return empty(value)
    code = state_code(tidied.value, country or "US")
    if code is not None:
        return standardized(value, code)
    if country in _INDEX:
        return invalid(value, Reason.UNKNOWN_STATE)
    return tidied
