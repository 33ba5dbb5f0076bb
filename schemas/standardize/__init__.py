"""Standardizers: CRM values as people typed them in, canonical values out.

One module per concern, each a few small pure functions returning one
:class:`~schemas.standardize.result.Standardized` result: never raising, never dropping what
the CRM holds (invalid values come back as typed, with a reason code), and idempotent
(standardizing a standardized value changes nothing). :func:`standardize_fields` applies them
to a record by each field's kind (see :mod:`schemas.entities`).

==========================  ================================================================
module                      what
==========================  ================================================================
``emails``                  trimmed, lower case, syntax, role / free-mail / disposable flags
``phones``                  E.164 with libphonenumber, region from the record's country
``person_names``            whitespace, and casing for names typed all caps or all lower
``companies``               tidy display name, and a matching key without legal forms
``countries``               ISO 3166-1 alpha-2 from codes, names, native names, aliases
``states``                  US states, Canadian provinces, Australian states to their codes
``postcodes``               each country's postcode format (US, GB, CA, DE, FR, NL, ...)
``dates``                   UTC ISO 8601 date-times, ISO dates, day/month order, epochs
``money``                   amounts with separators, currency symbols and codes, "12k"
``websites``                a bare lower-case domain
``scalars``, ``text``       integers, numbers, booleans, text, picklists, record ids
``record``                  a whole record, with invalid / corrected / flags / derived
==========================  ================================================================
"""

from schemas.standardize.companies import company_key, standardize_company_name
from schemas.standardize.countries import COUNTRIES, country_code, standardize_country
from schemas.standardize.dates import standardize_date, standardize_datetime
from schemas.standardize.emails import email_domain, standardize_email
from schemas.standardize.money import Money, standardize_money
from schemas.standardize.person_names import standardize_person_name
from schemas.standardize.phones import standardize_phone
from schemas.standardize.postcodes import standardize_postal_code
from schemas.standardize.record import StandardizedFields, standardize_fields
from schemas.standardize.result import DateOrder, Flag, Reason, Standardized
from schemas.standardize.scalars import (
    standardize_boolean,
    standardize_integer,
    standardize_number,
)
from schemas.standardize.states import standardize_state
from schemas.standardize.text import (
    standardize_category,
    standardize_reference,
    standardize_text,
)
from schemas.standardize.websites import standardize_website

__all__ = [
    "COUNTRIES",
    "DateOrder",
    "Flag",
    "Money",
    "Reason",
    "Standardized",
    "StandardizedFields",
    "company_key",
    "country_code",
    "email_domain",
    "standardize_boolean",
    "standardize_category",
    "standardize_company_name",
    "standardize_country",
    "standardize_date",
    "standardize_datetime",
    "standardize_email",
    "standardize_fields",
    "standardize_integer",
    "standardize_money",
    "standardize_number",
    "standardize_person_name",
    "standardize_phone",
    "standardize_postal_code",
    "standardize_reference",
    "standardize_state",
    "standardize_text",
    "standardize_website",
]
