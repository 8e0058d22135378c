"""Write realistic Constant Contact contact exports of any size, deterministically from a seed.

    python -m benchmarks.generate_constantcontact --rows N --seed S --out PATH [--truth PATH]

The CSV is shaped like the UI's contact export (``reference/source-formats.md`` §3.1): one file
holding every status, the exact headers in their mixed case (``First name`` but ``Email
Lists``), ``Email status`` and ``Email permission status`` as the UI labels them, ``Created At``
and ``Updated At`` as local times with their offset (``2020-09-25 16:45:13 -0400``), ``Email
Lists`` and ``Tags`` as quoted comma lists, a phone column per kind and an address block per
kind, ``Confirmed Opt-Out Date``/``Source``/``Reason`` on unsubscribed rows and a free-text
custom field. Name the file as Constant Contact does (:func:`export_name`): a file's name may
carry a status (``unsubscribed.csv``), which its rows would then default to.

Values are messy the way real ones are (the shared cases of ``benchmarks.fake_people``):
emails with stray spaces and mixed case, a fraction invalid or blank, the same person twice
with different statuses, custom fields with commas, quotes, newlines and a formula, non-ASCII
names. Rows are streamed to the file: memory stays flat at millions of rows (a repeated person
waits in a queue of a few hundred at most). The same arguments always give the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import heapq
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from benchmarks.fake_people import (
    CITIES,
    FORMULA_NOTE,
    NOTES,
    NOTES_RATE,
    STREETS,
    TAG_NAMES,
    TAGS_RATE,
    TIME_ORIGIN,
    TIME_SPAN_SECONDS,
    birthday,
    capitalised,
    email_of,
    is_valid_email,
    maybe,
    messy_email,
    names_of,
    phone,
)

HEADERS = [
    "Email address", "First name", "Last name", "Company", "Job title", "Email status",
    "Email permission status", "Email update source", "Phone - home", "Phone - mobile",
    "Phone - work", "Phone - fax", "Street address line 1 - Home", "City - Home",
    "State/Province - Home", "Zip/Postal Code - Home", "Country - Home",
    "Street address line 1 - Work", "City - Work", "State/Province - Work",
    "Zip/Postal Code - Work", "Country - Work", "State/Province - Other", "Website", "Salutation",
    "Birthday", "Anniversary", "Confirmed Opt-Out Date", "Confirmed Opt-Out Source",
    "Confirmed Opt-Out Reason", "Email Lists", "Tags", "Source Name", "Created At", "Updated At",
    "Custom Field 1",
]  # fmt: skip
"""The export's header row, in the order and case of source-formats.md §3.1."""

OUTCOMES = ("marketing", "non_marketing", "opted_out")
"""DESIGN.md's outcomes, least restrictive first: of an email's rows, the most restrictive wins."""


class Status(NamedTuple):
    """One pair of status cells, how often an export holds it and the outcome DESIGN.md gives it."""

    email_status: str
    permission: str
    share: float
    outcome: str


STATUS_MIX = [
    Status("Active", "Implied permission", 0.40, "marketing"),
    Status("Active", "Express permission", 0.22, "marketing"),
    Status("Active", "Permission to send", 0.08, "marketing"),  # no Advanced Email Permissions
    Status("Unsubscribed", "Unsubscribed", 0.12, "opted_out"),
    Status("Bounced", "Implied permission", 0.03, "opted_out"),
    Status("Awaiting Confirmation", "", 0.04, "non_marketing"),
    Status("No Permissions Set", "", 0.05, "non_marketing"),
    Status("", "", 0.03, "non_marketing"),  # both blank: nothing says they may be marketed to
    Status("Removed", "Implied permission", 0.015, "non_marketing"),
    Status("Temporary Hold", "Express permission", 0.015, "non_marketing"),
]
"""The status mix of a real account: mostly active (implied or express), some unsubscribed,
bounced, awaiting confirmation or never given permission, a few removed or on hold."""
_CUMULATIVE_SHARES = [sum(status.share for status in STATUS_MIX[: n + 1]) for n in range(len(STATUS_MIX))]

OPTED_OUT_STATUS = "Unsubscribed"
"""The ``Email status`` whose rows carry the ``Confirmed Opt-Out`` columns."""
LISTLESS_STATUSES = frozenset({"Unsubscribed", "Removed"})
"""Statuses whose contacts Constant Contact takes off every list."""

LIST_NAMES = ["General Interest", "Regatta 2025", "Volunteers", "Juniors, sailing school"]
COMPANIES = ["", "", "Bay Club", "Harbor Marine, Inc.", "Ocean Sailing School", "Müller & Söhne"]
JOB_TITLES = ["", "", "Skipper", "Treasurer", 'Crew ("foredeck")']
SALUTATIONS = ["Mr.", "Ms.", "Dr.", "Mx."]
WEBSITES = ["https://www.bayclub.org", "harbormarine.com"]
UPDATE_SOURCES = ["Contact", "Account"]
SOURCE_NAMES = ["Website sign-up form", "Imported: members_2019.xlsx", "Added by account owner", ""]
OPT_OUT_SOURCES = ["Contact", "Contact", "Account"]
OPT_OUT_REASONS = ["", "", "Too many emails", "Not relevant to me, anymore", 'Other: "moved away"']
COUNTRY = "US"
CUSTOM_VALUE = "Custom Field 1"
"""The free-text custom field: where notes, commas, quotes, newlines and formulas land."""
ADDRESS_WITH_NEWLINE = "12 Harbor Rd\nApt 4B"

WORK_ADDRESS_RATE = 0.2
FAX_RATE = 0.05
WEBSITE_RATE = 0.15
SALUTATION_RATE = 0.2
ANNIVERSARY_RATE = 0.1
CHANGE_SPAN_SECONDS = 365 * 24 * 3600
DUPLICATE_RATE = 0.03
"""The share of valid contacts written a second time, with another status."""
DUPLICATE_WINDOW = 5_000
"""How many rows later, at most, a contact's second row comes: bounds the queue of repeats."""
DUPLICATE_SPELLINGS: list[Callable[[str], str]] = [str.upper, capitalised, lambda email: f" {email} "]
"""How a repeated contact's email is spelt: always the same mailbox, never the same text."""

# The first rows always show each messy case, so even a 60-row sample holds them all; later
# rows draw them at their rates. Row 1's contact comes back at row 3, unsubscribed.
FEATURED = {
    0: "notes_multiline",
    1: "stray_spaces",
    2: "formula",
    4: "invalid_trailing_at",
    5: "invalid_no_at",
    6: "blank_email",
    7: "invalid_top_level_domain",
    8: "address_newline",
}
FEATURED_REPEAT = ("stray_spaces", 2, ("Active", "Express permission"), (OPTED_OUT_STATUS, OPTED_OUT_STATUS))
"""(feature, rows later, first status cells, repeated status cells): the featured row whose
contact is written again, and how: a subscriber who later unsubscribed."""

_STATUS_INDEX = {(status.email_status, status.permission): index for index, status in enumerate(STATUS_MIX)}
_ZONES = {timezone: ZoneInfo(timezone) for *_, timezone, _, _ in CITIES}


@dataclass
class ExportTruth:
    """The ground truth of a generated export: what a plan of it must count.

    Attributes:
        rows: Records written (header excluded).
        invalid_emails: Records with no email or an invalid one (the plan rejects them).
        duplicates: Records of a contact already written (the plan merges them).
        contacts: Distinct valid contacts per outcome, each the most restrictive of its rows.
        email_statuses: Records per ``Email status`` cell (blank as ``""``).
    """

    rows: int = 0
    invalid_emails: int = 0
    duplicates: int = 0
    contacts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    email_statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys((s.email_status for s in STATUS_MIX), 0))

    def summary(self) -> dict:
        """The counts as JSON-ready data."""
        return asdict(self)


def export_name(seed: int) -> str:
    """A file name as Constant Contact gives its exports, ``contact_export_<13 digits>_<MMDDYY>_<HHMMSS>.csv``,
    derived from the seed."""
    digest = int(hashlib.sha256(f"onramp-constantcontact-{seed}".encode()).hexdigest(), 16)
    exported = TIME_ORIGIN + timedelta(seconds=digest % TIME_SPAN_SECONDS)
    return f"contact_export_{digest % 10**13:013d}_{exported:%m%d%y_%H%M%S}.csv"


def write_export(path: Path, rows: int, seed: int) -> ExportTruth:
    """Write a Constant Contact contact export CSV and return its ground truth.

    Args:
        path: The CSV to write (its folder is created). Name it with :func:`export_name`, or
            any name carrying no status word.
        rows: Records to write.
        seed: Seeds every random choice: the same arguments give the same bytes.

    Returns:
        Rows written, rows with no or an invalid email, repeated rows, contacts per outcome.
    """
    truth = ExportTruth()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(HEADERS)
        writer.writerows(_Contacts(random.Random(seed), truth).records(rows))
    return truth


class _Contacts:
    """Draws the export's records from one seeded random stream, counting them into the truth.

    A contact written twice is queued when first written (with when to repeat it and its first
    status), so the truth knows the merged outcome without remembering every contact.
    """

    def __init__(self, rng: random.Random, truth: ExportTruth) -> None:
        self.rng = rng
        self.truth = truth
        self.next_id = 0
        self.repeats: list[tuple[int, int, int, int | None]] = []
        """Heap of (row due, person, first status index, forced status index or None)."""

    def records(self, count: int) -> Iterator[list[str]]:
        for row in range(count):
            if self.repeats and self.repeats[0][0] <= row:
                yield self._repeat()
            else:
                yield self._new(row, FEATURED.get(row), count)

    def _new(self, row: int, feature: str | None, count: int) -> list[str]:
        rng = self.rng
        person = self.next_id
        self.next_id += 1
        email = messy_email(email_of(person), rng, feature)
        repeated, later, first_cells, repeat_cells = FEATURED_REPEAT
        status = _STATUS_INDEX[first_cells] if feature == repeated else self._draw_status()
        record = self._record(person, email, status, feature)
        self.truth.rows += 1
        self.truth.email_statuses[STATUS_MIX[status].email_status] += 1
        if not is_valid_email(email):
            self.truth.invalid_emails += 1
            return record
        self.truth.contacts[STATUS_MIX[status].outcome] += 1
        if feature == repeated:
            heapq.heappush(self.repeats, (row + later, person, status, _STATUS_INDEX[repeat_cells]))
        elif feature is None and rng.random() < DUPLICATE_RATE and row + 1 < count:
            # Due before the last row, so a small export holds its share of repeats too.
            later = rng.randrange(1, min(DUPLICATE_WINDOW, count - row))
            heapq.heappush(self.repeats, (row + later, person, status, None))
        return record

    def _repeat(self) -> list[str]:
        rng = self.rng
        _, person, first, forced = heapq.heappop(self.repeats)
        status = forced if forced is not None else self._draw_status(other_than=first)
        email = rng.choice(DUPLICATE_SPELLINGS)(email_of(person))
        record = self._record(person, email, status, None)
        truth = self.truth
        truth.rows += 1
        truth.duplicates += 1
        truth.email_statuses[STATUS_MIX[status].email_status] += 1
        before = STATUS_MIX[first].outcome
        merged = max(before, STATUS_MIX[status].outcome, key=OUTCOMES.index)
        truth.contacts[before] -= 1
        truth.contacts[merged] += 1
        return record

    def _draw_status(self, other_than: int | None = None) -> int:
        while True:
            [status] = self.rng.choices(range(len(STATUS_MIX)), cum_weights=_CUMULATIVE_SHARES)
            if status != other_than:
                return status

    def _record(self, person: int, email: str, status_index: int, feature: str | None) -> list[str]:
        rng = self.rng
        status = STATUS_MIX[status_index]
        (first, _), (last, _) = names_of(person)
        city, region, zip_code, area, _, _, timezone, _, _ = rng.choice(CITIES)
        zone = _ZONES[timezone]
        created = TIME_ORIGIN + timedelta(seconds=rng.randrange(TIME_SPAN_SECONDS))
        updated = created + timedelta(seconds=rng.randrange(CHANGE_SPAN_SECONDS))
        values = {
            "Email address": email,
            "First name": maybe(rng, first),
            "Last name": maybe(rng, last),
            "Company": rng.choice(COMPANIES),
            "Job title": rng.choice(JOB_TITLES),
            "Email status": status.email_status,
            "Email permission status": status.permission,
            "Email update source": rng.choice(UPDATE_SOURCES),
            "Phone - home": phone(rng, area),
            "Phone - mobile": phone(rng, area),
            "Phone - work": phone(rng, area),
            "Phone - fax": phone(rng, area) if rng.random() < FAX_RATE else "",
            "Street address line 1 - Home": maybe(rng, f"{rng.randrange(1, 999)} {rng.choice(STREETS)}"),
            "City - Home": city,
            "State/Province - Home": region,
            "Zip/Postal Code - Home": zip_code,
            "Country - Home": COUNTRY,
            "Website": rng.choice(WEBSITES) if rng.random() < WEBSITE_RATE else "",
            "Salutation": rng.choice(SALUTATIONS) if rng.random() < SALUTATION_RATE else "",
            "Birthday": birthday(rng),
            "Anniversary": f"{created:%Y}-06-{rng.randrange(1, 29):02d}" if rng.random() < ANNIVERSARY_RATE else "",
            "Source Name": rng.choice(SOURCE_NAMES),
            "Created At": _local_time(created, zone),
            "Updated At": _local_time(updated, zone),
            CUSTOM_VALUE: rng.choice(NOTES) if rng.random() < NOTES_RATE else "",
        }
        if rng.random() < WORK_ADDRESS_RATE:
            work_city, work_region, work_zip, *_ = rng.choice(CITIES)
            values |= {
                "Street address line 1 - Work": f"{rng.randrange(1, 999)} {rng.choice(STREETS)}",
                "City - Work": work_city,
                "State/Province - Work": work_region,
                "Zip/Postal Code - Work": work_zip,
                "Country - Work": COUNTRY,
            }
        if status.email_status not in LISTLESS_STATUSES:
            values["Email Lists"] = _quoted_list(rng.sample(LIST_NAMES, rng.randrange(1, 3)))
        if rng.random() < TAGS_RATE:
            values["Tags"] = _quoted_list(rng.sample(TAG_NAMES, rng.randrange(1, 4)))
        if status.email_status == OPTED_OUT_STATUS:
            values |= {
                "Confirmed Opt-Out Date": values["Updated At"],
                "Confirmed Opt-Out Source": rng.choice(OPT_OUT_SOURCES),
                "Confirmed Opt-Out Reason": rng.choice(OPT_OUT_REASONS),
            }
        _apply_feature(values, feature)
        return [values.get(header, "") for header in HEADERS]


def _apply_feature(values: dict[str, str], feature: str | None) -> None:
    if feature == "notes_multiline":
        values[CUSTOM_VALUE] = NOTES[0]
    elif feature == "formula":
        values[CUSTOM_VALUE] = FORMULA_NOTE
    elif feature == "address_newline":
        values["Street address line 1 - Home"] = ADDRESS_WITH_NEWLINE


def _local_time(moment: datetime, zone: ZoneInfo) -> str:
    """A UTC time as the export writes it: local to the contact, with its offset."""
    # isoformat, then its "-04:00" as "-0400": a third of strftime's time, at millions of rows.
    local = moment.replace(tzinfo=UTC).astimezone(zone).isoformat(" ", "seconds")
    return f"{local[:19]} {local[19:].replace(':', '')}"


def _quoted_list(names: list[str]) -> str:
    """``"General Interest","Regatta 2025"``: each name quoted, so a name may hold a comma."""
    return ",".join(f'"{name}"' for name in names)


def main(argv: list[str] | None = None) -> None:
    """Command line: write an export CSV, print (and optionally save) its counts."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generate_constantcontact", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rows", type=int, required=True, help="records to write")
    parser.add_argument("--seed", type=int, required=True, help="same seed, same bytes")
    parser.add_argument("--out", type=Path, required=True, help="the CSV to write (see export_name)")
    parser.add_argument("--truth", type=Path, help="also write the counts as JSON here")
    args = parser.parse_args(argv)
    summary = json.dumps(write_export(args.out, args.rows, args.seed).summary(), indent=2)
    if args.truth:
        args.truth.parent.mkdir(parents=True, exist_ok=True)
        args.truth.write_text(summary + "\n", encoding="utf-8")
    print(summary)


if __name__ == "__main__":
    main()
