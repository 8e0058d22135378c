"""The people both export generators draw from, and the messiness real exports share.

``generate_mailchimp`` and ``generate_constantcontact`` (and the provider emulators) take names,
places, notes and email spellings from here, so a messy case added once shows up in every
source. A person is an integer id: their name and email derive from it, so a generator can
write the same person twice without remembering earlier rows.

Every helper that draws takes the generator's ``random.Random`` and draws from it in a fixed
order: the same seed gives the same values.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from functools import cache

from schemas.contact import top_level_domains

FIRST_NAMES = [
    ("Jane", "jane"), ("John", "john"), ("Françoise", "francoise"), ("Zoë", "zoe"),
    ("Søren", "soren"), ("小龙", "xiaolong"), ("María José", "mariajose"), ("Seán", "sean"),
    ("Aisha", "aisha"), ("Liam", "liam"), ("Olivia", "olivia"), ("Émile", "emile"),
    ("Björn", "bjorn"), ("Priya", "priya"), ("Mateo", "mateo"), ("Noah", "noah"),
]  # fmt: skip
"""(name as written, its ASCII spelling for the email's local part)."""
LAST_NAMES = [
    ("Doe", "doe"), ("O'Brien", "obrien"), ("Müller", "muller"), ("李", "li"),
    ("García", "garcia"), ("Nguyen", "nguyen"), ("Smith", "smith"), ("Kowalski", "kowalski"),
    ("Dupont", "dupont"), ("Andersen", "andersen"), ("Rossi", "rossi"), ("Okafor", "okafor"),
]  # fmt: skip
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "example.org", "bayclub.org", "icloud.com"]
CITIES = [
    # city, region, zip, phone area code, GMTOFF, DSTOFF, TIMEZONE, LATITUDE, LONGITUDE
    ("San Diego", "CA", "92101", "619", "-8", "-7", "America/Los_Angeles", "32.7157", "-117.1611"),
    ("Bar Harbor", "ME", "04609", "207", "-5", "-4", "America/New_York", "44.3876", "-68.2039"),
    ("Chicago", "IL", "60601", "312", "-6", "-5", "America/Chicago", "41.8781", "-87.6298"),
    ("Denver", "CO", "80202", "303", "-7", "-6", "America/Denver", "39.7392", "-104.9903"),
]
STREETS = ["Main St", "Harbor Rd", "Ocean Blvd", "Elm Ave", "Market St"]
TAG_NAMES = ["Member", "2025 waiver", "Volunteer", "Newsletter", "Board, former", "VIP"]
NOTES = [
    'Met at the "Spring Regatta", asked about lessons,\nfollow up in May',
    "Prefers email; no calls",
    "Moved from Denver\r\nnew address pending",
    'Said: "don\'t send the weekly digest"',
]
"""Free text as people type it into a notes field: commas, quotes, newlines (both kinds)."""
FORMULA_NOTE = '=HYPERLINK("https://example.com/offer","click here")'
"""A cell a spreadsheet would run as a formula: the plan must write it neutralised."""
INVALID_EMAILS: list[Callable[[str], str]] = [
    lambda email: email.split("@")[0] + "@",  # "jane.doe@"
    lambda email: "no-at-sign",
    lambda email: "",
    lambda email: email.rsplit(".", 1)[0] + ".con",  # "jane@gmail.con": no top-level domain
]
TIME_ORIGIN = datetime(2016, 1, 1)
"""Naive: exports state no zone (likely UTC); ``isoformat(" ")`` then gives Mailchimp's format."""
TIME_SPAN_SECONDS = 9 * 365 * 24 * 3600

INVALID_RATE = 0.03
STRAY_SPACE_RATE = 0.05
MIXED_CASE_RATE = 0.10
NOTES_RATE = 0.05
TAGS_RATE = 0.4
BLANK_RATE = 0.2

FEATURED_EMAILS: dict[str, Callable[[str], str]] = {
    "stray_spaces": lambda email: f"  {capitalised(email)} ",
    "invalid_trailing_at": INVALID_EMAILS[0],
    "invalid_no_at": INVALID_EMAILS[1],
    "blank_email": INVALID_EMAILS[2],
    "invalid_top_level_domain": INVALID_EMAILS[3],
}
"""A generator's featured rows (the first rows, which always show each messy case) → the
spelling of the email they get."""


def names_of(person: int) -> tuple[tuple[str, str], tuple[str, str]]:
    """A person's (first, last) names, each as (written, ASCII spelling)."""
    first = FIRST_NAMES[person % len(FIRST_NAMES)]
    last = LAST_NAMES[(person // len(FIRST_NAMES)) % len(LAST_NAMES)]
    return first, last


def email_of(person: int) -> str:
    """A person's email as they would type it: lowercase, unique to the person id."""
    (_, first), (_, last) = names_of(person)
    return f"{first}.{last}{person}@{DOMAINS[person % len(DOMAINS)]}"


def capitalised(email: str) -> str:
    """``jane.doe1@gmail.com`` → ``Jane.Doe1@Gmail.com``: the same mailbox, spelt otherwise."""
    local, _, domain = email.partition("@")
    return f"{'.'.join(part.capitalize() for part in local.split('.'))}@{domain.capitalize()}"


def messy_email(email: str, rng: random.Random, feature: str | None) -> str:
    """An email as exports hold it: at the shared rates invalid (or blank), padded with
    spaces or mixed case; a featured row's spelling is fixed (and draws nothing)."""
    if feature in FEATURED_EMAILS:
        return FEATURED_EMAILS[feature](email)
    if feature is not None:
        return email
    draw = rng.random()
    if draw < INVALID_RATE:
        return rng.choice(INVALID_EMAILS)(email)
    if draw < INVALID_RATE + STRAY_SPACE_RATE:
        return f" {email}  "
    if draw < INVALID_RATE + STRAY_SPACE_RATE + MIXED_CASE_RATE:
        return capitalised(email)
    return email


def is_valid_email(email: str) -> bool:
    """Whether an email as written counts as usable: trimmed and lowercased it has a local
    part, an ``@`` and a domain ending in a top-level domain (what every messy spelling
    above keeps or breaks; the plan's own rules are stricter only for forms never written)."""
    local, at, domain = email.strip().lower().partition("@")
    return bool(local and at and "." in domain) and domain.rsplit(".", 1)[1] in _top_level_domains()


@cache
def _top_level_domains() -> frozenset[str]:
    # A set, not the tuple: checked once a row, millions of times.
    return frozenset(top_level_domains())


def maybe(rng: random.Random, value: str) -> str:
    """``value``, or blank at a quarter of the blank rate."""
    return "" if rng.random() < BLANK_RATE / 4 else value


def birthday(rng: random.Random) -> str:
    """A birthday as ``MM/DD``, blank for most people."""
    if rng.random() < 0.7:
        return ""
    return f"{rng.randrange(1, 13):02d}/{rng.randrange(1, 29):02d}"


def phone(rng: random.Random, area: str) -> str:
    """A phone number in the area, spelt one of the ways exports hold them, or blank."""
    draw = rng.random()
    exchange, line = rng.randrange(200, 1000), rng.randrange(10_000)
    if draw < 0.5:
        return f"+1 {area} {exchange} {line:04d}"
    if draw < 0.6:
        return f"({area}) {exchange}-{line:04d}"
    return ""
