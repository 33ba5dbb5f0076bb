"""Email addresses: trimmed, lower-cased, checked, and flagged when they say something.

Lower case, local part included: RFC 5321 lets a server treat ``Ada@`` and ``ada@``
differently, but no mainstream provider does, while CRMs are full of both spellings of one
person's address (a duplicate matcher must see them as equal). Plus tags and dots are kept:
removing them is a matching decision, not a standardization one.

Syntax is a pragmatic subset of RFC 5322: a dot-atom local part (letters of any script,
digits and ``!#$%&'*+/=?^_`{|}~-``, dots not first, last or doubled, at most 64 characters)
and a domain as :func:`~schemas.standardize.domains.normalize_domain` accepts it (IDN
domains welcome). Quoted local parts and IP-literal domains are rejected: legal, but in a CRM
they are typos far more often than real addresses. A ``mailto:`` prefix and surrounding
angle brackets (``"Ada <ada@x.org>"`` pasted from a mail client) are removed.

Flags: ``role_address`` (info@, sales@, ...: a shared mailbox, not a person; plus tags are
ignored), ``free_mail`` (gmail.com, web.de, ...: says nothing about the employer) and
``disposable`` (a throw-away mailbox service).

>>> result = standardize_email("  Info@ACME.com ")
>>> result.value, sorted(result.flags)
('info@acme.com', ['role_address'])
>>> standardize_email("ada@@acme.com").reason
'invalid_email'
"""

from __future__ import annotations

import re
import unicodedata

from schemas.standardize.domains import normalize_domain
from schemas.standardize.result import (
    Flag,
    Reason,
    Standardized,
    empty,
    invalid,
    memoized,
    standardized,
)

__all__ = ["email_domain", "standardize_email"]

_ANGLE_ADDRESS = re.compile(r"<([^<>]*)>")
_LOCAL_SPECIALS = frozenset("!#$%&'*+/=?^_`{|}~-.")
_MAX_LOCAL = 64
_MAX_ADDRESS = 254
_MAILTO = "mailto:"

# fmt: off
_ROLE_LOCALS = frozenset({
    "info", "sales", "admin", "administrator", "support", "contact", "office", "hello", "team",
    "help", "marketing", "billing", "accounts", "accounting", "finance", "hr", "jobs",
    "careers", "recruiting", "noreply", "no-reply", "donotreply", "do-not-reply", "webmaster",
    "postmaster", "hostmaster", "abuse", "security", "privacy", "legal", "press", "media",
    "enquiries", "inquiries", "service", "customerservice", "orders", "invoices", "mail",
    "kontakt", "vertrieb", "bestellung", "rechnung",
})
_FREE_MAIL = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de",
    "yahoo.es", "yahoo.co.in", "ymail.com", "outlook.com", "hotmail.com", "hotmail.co.uk",
    "hotmail.fr", "hotmail.de", "live.com", "msn.com", "icloud.com", "me.com", "mac.com",
    "aol.com", "protonmail.com", "proton.me", "pm.me", "gmx.de", "gmx.net", "gmx.com",
    "web.de", "t-online.de", "freenet.de", "orange.fr", "free.fr", "laposte.net", "sfr.fr",
    "wanadoo.fr", "btinternet.com", "comcast.net", "verizon.net", "att.net", "mail.com",
    "zoho.com", "yandex.ru", "yandex.com", "mail.ru", "qq.com", "163.com", "126.com",
    "naver.com", "rediffmail.com", "uol.com.br", "bol.com.br", "terra.com.br", "libero.it",
    "virgilio.it", "telefonica.net", "ziggo.nl", "kpnmail.nl", "rogers.com", "shaw.ca",
    "bigpond.com", "seznam.cz", "wp.pl", "o2.pl", "tutanota.com", "fastmail.com",
})
_DISPOSABLE = frozenset({
    "mailinator.com", "guerrillamail.com", "guerrillamail.net", "10minutemail.com",
    "temp-mail.org", "tempmail.com", "yopmail.com", "trashmail.com", "sharklasers.com",
    "getnada.com", "dispostable.com", "maildrop.cc", "throwawaymail.com", "fakeinbox.com",
    "mintemail.com", "spamgourmet.com", "mailnesia.com", "emailondeck.com",
})
# fmt: on


@memoized
def standardize_email(value: object) -> Standardized:
    """An email address, lower case, or invalid ``invalid_email`` with the value as typed."""
    if value is None:
        return empty(value)
    if not isinstance(value, str):
        return invalid(value, Reason.INVALID_EMAIL)
    text = _unwrap(unicodedata.normalize("NFC", value).strip())
    if not text:
        return empty(value)
    local_text, at, domain_text = text.rpartition("@")
    local = unicodedata.normalize("NFC", local_text.lower())
    domain = normalize_domain(domain_text) if at and _valid_local(local) else None
    address = f"{local}@{domain}" if domain else ""
    if not domain or len(address) > _MAX_ADDRESS:
        return invalid(value, Reason.INVALID_EMAIL)
    return standardized(value, address, _flags(local, domain))


def _unwrap(text: str) -> str:
    """Drop a ``mailto:`` prefix and the display name of ``Name <address>``."""
    if text[: len(_MAILTO)].lower() == _MAILTO:
        text = text[len(_MAILTO) :].strip()
    angle = _ANGLE_ADDRESS.search(text)
    return angle.group(1).strip() if angle and text.endswith(">") else text


def _valid_local(local: str) -> bool:
    if not local or len(local) > _MAX_LOCAL or local[0] == "." or local[-1] == ".":
        return False
    return ".." not in local and all(ch.isalnum() or ch in _LOCAL_SPECIALS for ch in local)


def _flags(local: str, domain: str) -> list[Flag]:
    flags = []
    if local.partition("+")[0] in _ROLE_LOCALS:
        flags.append(Flag.ROLE_ADDRESS)
    if domain in _FREE_MAIL:
        flags.append(Flag.FREE_MAIL)
    if domain in _DISPOSABLE:
        flags.append(Flag.DISPOSABLE)
    return flags


def email_domain(address: str) -> str:
    """The domain of a standardized address: what matching and enrichment key on.

    >>> email_domain("ada@müller.de")
    'müller.de'
    """
    return address.rpartition("@")[2]
