"""Websites as a bare lower-case domain: what identifies a company on the web.

"https://www.Acme.com:8080/about?ref=x" and "acme.com" are the same company site, so the
scheme, user info, port, path, query, fragment and leading ``www.`` labels are removed. Other
subdomains are kept ("shop.acme.com"): telling a brand's subdomain from a hosted site
("acme.github.io") needs the Public Suffix List, which is the matcher's business. IDN domains
stay in Unicode, as for email domains (see :mod:`schemas.standardize.domains`).

>>> standardize_website("https://www.Acme.com:8080/about?ref=x").value
'acme.com'
>>> standardize_website("not a website").reason
'invalid_website'
"""

from __future__ import annotations

import re

from schemas.standardize.domains import normalize_domain
from schemas.standardize.result import (
    Reason,
    Standardized,
    empty,
    invalid,
    memoized,
    standardized,
)

__all__ = ["standardize_website"]

_SCHEME = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_PORT = re.compile(r":[0-9]*$")
_END_OF_HOST = re.compile(r"[/?#\\]")
_WWW = "www."


@memoized
def standardize_website(value: object) -> Standardized:
    """A website's bare domain, or invalid ``invalid_website`` with the value as typed."""
    if value is None:
        return empty(value)
    if not isinstance(value, str):
        return invalid(value, Reason.INVALID_WEBSITE)
    text = value.strip()
    if not text:
        return empty(value)
    domain = normalize_domain(_host(text)) if not any(ch.isspace() for ch in text) else None
    if domain is None:
        return invalid(value, Reason.INVALID_WEBSITE)
    while domain.startswith(_WWW) and domain.count(".") >= 2:
        domain = domain[len(_WWW) :]
    return standardized(value, domain)


def _host(url: str) -> str:
    """The host part of a URL, with or without a scheme."""
    rest = _SCHEME.sub("", url, count=1)
    authority = _END_OF_HOST.split(rest, maxsplit=1)[0]
    return _PORT.sub("", authority.rpartition("@")[2])
