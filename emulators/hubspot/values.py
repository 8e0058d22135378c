"""Property values: checking and normalising what a client writes, as HubSpot does.

One function, :func:`normalise`, serves both the Imports API (which reports problems as
``PublicImportError.errorType``) and the object APIs (which answer 400 with an error ``code`` such
as ``INVALID_OPTION``), so :class:`ValueProblem` carries both names.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, time, timezone
from typing import Any

from publicsuffixlist import PublicSuffixList

# A pragmatic address check: something@something.tld, no spaces, one @; then, as HubSpot
# documents, the domain must end in a top-level domain of IANA's list (Unicode ones included:
# "user@email.삼성" is valid), which the Public Suffix List's ICANN section tracks.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
_ICANN_SUFFIXES = PublicSuffixList(only_icann=True)
# Anchored at both ends: "2024-01-15 garbage" is no date. ASCII digits only (``re.ASCII``).
_DATE_PARTS = re.compile(
    r"^(\d{1,4})[/\-.](\d{1,2})[/\-.](\d{1,4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$", re.ASCII
)
# HubSpot does not document the syntax of a number property's value. The emulator takes a plain
# decimal number in ASCII digits (maybe signed, maybe with an exponent) and refuses what is
# clearly none, which Python's float() would take: NaN, Infinity, "1_000", other scripts'
# digits; a value overflowing a double ("1e400") is refused below.
_DECIMAL = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
# "Non-string property values, including enumeration options and multi-value enumeration
# properties, must not contain leading or trailing whitespace or invisible unicode characters"
# (HubSpot developer changelog, "Breaking Change: Enhanced Validations for Non-String Properties
# in HubSpot's CRMObject APIs", 2025): 400 VALIDATION_ERROR, error LEADING_TRAILING_WHITESPACE.
# str.strip() takes Unicode whitespace (no-break spaces included); these are the invisible rest.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_NON_STRING_TYPES = {"enumeration", "bool", "number", "date", "datetime"}
# Each non-string type's import errorType, for a padded value refused in an import.
_IMPORT_ERROR_TYPES = {
    "enumeration": "INVALID_ENUMERATION_OPTION",
    "bool": "INVALID_ENUMERATION_OPTION",
    "number": "COULD_NOT_PARSE_NUMBER",
    "date": "COULD_NOT_PARSE_DATE",
    "datetime": "COULD_NOT_PARSE_DATE",
}

# A text property holds at most 65,536 characters added through the CRM (HubSpot's knowledge
# base on property field types; schemas/contact.py cites the same limit). HubSpot's error for a
# longer value is undocumented: an import reports its spec's COLUMN_TOO_LARGE, an object API the
# code below.
MAX_STRING_CHARS = 65_536
TOO_LONG_CODE = "MAX_LENGTH_EXCEEDED"

DATE_FORMATS = ("MONTH_DAY_YEAR", "DAY_MONTH_YEAR", "YEAR_MONTH_DAY")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


class ValueProblem(ValueError):
    """A value HubSpot would refuse.

    Attributes:
        import_error_type: the ``errorType`` an import reports.
        api_code: the error ``code`` an object API reports.
    """

    def __init__(self, import_error_type: str, api_code: str, message: str) -> None:
        super().__init__(message)
        self.import_error_type = import_error_type
        self.api_code = api_code
        self.message = message


def is_valid_email(value: str) -> bool:
    """Tell whether ``value`` is an email address HubSpot would accept."""
    if not _EMAIL.match(value):
        return False
    return _ICANN_SUFFIXES.is_public(value.rsplit(".", 1)[1], accept_unknown=False)


def normalise_email(value: str) -> str:
    """Trim and lowercase an address (HubSpot keys contacts by the lowercased address).

    Raises:
        ValueProblem: the address is not valid.
    """
    email = value.strip().lower()
    if not is_valid_email(email):
        raise ValueProblem("INVALID_EMAIL", "INVALID_EMAIL", f"Email address {value} is invalid")
    return email


def _parse_date(text: str, date_format: str) -> datetime:
    if not text.isascii():
        raise ValueError(text)  # other scripts' digits, which int() and fromisoformat() may take
    if text.isdigit() and len(text) > 8:
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        pass
    match = _DATE_PARTS.match(text)
    if not match:
        raise ValueError(text)
    first, second, third, hour, minute, sec = match.groups()
    if date_format == "YEAR_MONTH_DAY" or len(first) == 4:
        year, month, day = first, second, third
    elif date_format == "DAY_MONTH_YEAR":
        day, month, year = first, second, third
    else:
        month, day, year = first, second, third
    year_number = int(year) + (2000 if len(year) == 2 else 0)
    return datetime(
        year_number, int(month), int(day), int(hour or 0), int(minute or 0), int(sec or 0),
        tzinfo=timezone.utc,
    )


def format_datetime(moment: datetime) -> str:
    """Format a moment as HubSpot's API does (``2024-01-31T12:00:00.000Z``)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def _is_padded(text: str) -> bool:
    return text != text.strip() or (text != "" and (text[0] in _INVISIBLE or text[-1] in _INVISIBLE))


def _refuse_padding(kind: str, raw: Any, parts: list[str]) -> None:
    if any(_is_padded(part) for part in parts):
        raise ValueProblem(
            _IMPORT_ERROR_TYPES[kind],
            "LEADING_TRAILING_WHITESPACE",
            f'"{raw}" includes leading or trailing whitespace.',
        )


def _match_option(definition: dict[str, Any], raw: str) -> str:
    wanted = raw.lower()
    for option in definition["options"]:
        if wanted in (option["value"].lower(), option["label"].lower()):
            return option["value"]
    allowed = ", ".join(option["value"] for option in definition["options"])
    raise ValueProblem(
        "INVALID_ENUMERATION_OPTION",
        "INVALID_OPTION",
        f"{raw} was not one of the allowed options: [{allowed}]",
    )


def normalise(definition: dict[str, Any], raw: Any, date_format: str = "MONTH_DAY_YEAR") -> str:
    """Check a raw value against a property definition and return the value HubSpot stores.

    Args:
        definition: the property, in the ``Property`` shape.
        raw: the value as the client sent it (a string, or a JSON scalar from the object APIs).
        date_format: how an import's dates are ordered (the import's ``dateFormat``).

    Returns:
        The stored value: enumeration options by internal value, dates as ``YYYY-MM-DD``,
        datetimes as ISO-8601 UTC, booleans as ``true``/``false``, numbers as written.

    Raises:
        ValueProblem: the value does not fit the property.
    """
    text = str(raw) if not isinstance(raw, bool) else str(raw).lower()
    kind = definition["type"]
    name = definition["name"]
    if name == "email":
        return normalise_email(text)
    checkbox = kind == "enumeration" and definition["fieldType"] == "checkbox"
    if kind in _NON_STRING_TYPES:
        # A multi-value enumeration's options each, and the value as a whole.
        _refuse_padding(kind, raw, [text, *text.split(";")] if checkbox else [text])
    if kind == "enumeration":
        if checkbox:
            parts = [part for part in text.split(";") if part]
            return ";".join(_match_option(definition, part) for part in parts)
        return _match_option(definition, text)
    if kind == "bool":
        lowered = text.lower()
        if lowered in _TRUE:
            return "true"
        if lowered in _FALSE:
            return "false"
        raise ValueProblem(
            "INVALID_ENUMERATION_OPTION", "INVALID_BOOLEAN", f"{raw} is not a valid boolean"
        )
    if kind == "number":
        if not _DECIMAL.match(text) or not math.isfinite(float(text)):
            raise ValueProblem(
                "COULD_NOT_PARSE_NUMBER", "INVALID_LONG", f"{raw} is not a valid number"
            )
        return text
    if kind in ("date", "datetime"):
        try:
            moment = _parse_date(text, date_format)
        except (ValueError, OverflowError, OSError):
            raise ValueProblem(
                "COULD_NOT_PARSE_DATE", "INVALID_DATE", f"{raw} is not a valid date"
            ) from None
        if kind == "date" and moment.time() != time(0):
            # "Date properties ... must be set to midnight UTC for the date you want. If you try
            # to set a value that is not midnight UTC, you will receive an error." (HubSpot FAQ,
            # developers.hubspot.com/docs/faq/how-should-timestamps-be-formatted-for-hubspots-apis)
            raise ValueProblem(
                "COULD_NOT_PARSE_DATE", "INVALID_DATE",
                f"{raw} is not midnight UTC: a date property holds a date only",
            )
        return moment.strftime("%Y-%m-%d") if kind == "date" else format_datetime(moment)
    if len(text) > MAX_STRING_CHARS:
        raise ValueProblem(
            "COLUMN_TOO_LARGE", TOO_LONG_CODE,
            f"{name} is {len(text)} characters long; a property value holds {MAX_STRING_CHARS} at most",
        )
    return str(raw)
