"""Write realistic Mailchimp audience export zips of any size, deterministically from a seed.

    python -m benchmarks.generate_mailchimp --rows N --seed S --out PATH \
        [--layout new|old] [--truth PATH]

The zip is shaped like a real export (``reference/source-formats.md`` §1): one CSV per status, no
status column, the status in the file name, the exact headers of each status and export era.
``new``: ``audience_export_<hex>/subscribed_email_audience_export_<hex>.csv`` (2025 headers, with
``TAGS``, plus ``sms_only_audience_export_<hex>.csv``). ``old``:
``members_export_<hex>/subscribed_members_export_<hex>.csv`` (with ``LATITUDE``/``LONGITUDE``,
no ``TAGS``, and the unsubscribed file repeating ``UNSUB_REASON`` as 2013 exports did).

Values are messy the way real ones are: emails with stray spaces and mixed case, a fraction
invalid or blank, the same email in several status files (an opt-out next to a subscription) and
twice in one file, notes with commas, quotes, newlines and a formula, quoted tag lists, addresses
with double spaces, non-ASCII names. Rows are streamed into the zip: memory stays flat at
millions of rows. The same arguments always give the same bytes (fixed zip timestamps, a hex id
derived from the seed).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import random
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

from benchmarks.fake_people import (
    BLANK_RATE,
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

LAYOUTS = ("new", "old")

STATUS_SHARES = {
    "subscribed": 0.70,
    "unsubscribed": 0.12,
    "cleaned": 0.08,
    "nonsubscribed": 0.07,
    "sms_only": 0.03,
}
"""The status mix of a real audience. The old layout has no SMS-only file; its share subscribes."""

# Exact header blocks per status (source-formats.md §1.2); each status block replaces LAST_CHANGED.
MERGE_FIELDS = ["Email Address", "First Name", "Last Name", "Address", "Phone Number", "Birthday"]
OPT_IN = ["MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP"]
GEO_OLD = ["LATITUDE", "LONGITUDE"]
LOCATION = ["GMTOFF", "DSTOFF", "TIMEZONE", "CC", "REGION"]
STATUS_BLOCKS = {
    "subscribed": ["LAST_CHANGED"],
    "unsubscribed": [
        "UNSUB_TIME", "UNSUB_CAMPAIGN_TITLE", "UNSUB_CAMPAIGN_ID", "UNSUB_REASON",
        "UNSUB_REASON_OTHER",
    ],
    "cleaned": ["CLEAN_TIME", "CLEAN_CAMPAIGN_TITLE", "CLEAN_CAMPAIGN_ID"],
}  # fmt: skip
IDS = ["LEID", "EUID", "NOTES"]
TAGS = "TAGS"
OLD_DUPLICATED_HEADER = "UNSUB_REASON"
"""Old unsubscribed files carry this header twice; the first copy is written blank."""

ZIP_TIMESTAMP = (2025, 1, 1, 0, 0, 0)
ZIP_FILE_MODE = 0o644 << 16
ZIP_UNIX_SYSTEM = 3

UNSUB_REASONS = [
    "N/A (Unsubscribed by an admin)",
    "I no longer want to receive these emails",
    "The emails are spam and should be reported",
    "Other (fill in reason below)",
]
CAMPAIGN_TITLES = ["Spring Newsletter 2024", "Regatta results, June", "Holiday Sale"]
CROSS_FILE_DUPLICATE_RATE = 0.05
IN_FILE_DUPLICATE_RATE = 0.01

# The first rows of the subscribed file always show each messy case, so even a 60-row sample
# holds them all; later rows draw them at the rates above.
FEATURED = {
    0: "notes_multiline",
    1: "stray_spaces",
    2: "formula",
    3: "duplicate_in_file",
    4: "address_newline",
    5: "invalid_trailing_at",
    6: "invalid_no_at",
    7: "blank_email",
    8: "invalid_top_level_domain",
}


@dataclass(frozen=True)
class StatusTruth:
    """What one status file holds.

    Attributes:
        member: The file's path inside the zip.
        rows: Records written (header excluded).
        invalid_emails: Records with no email or an invalid one.
        emails: The distinct valid emails, trimmed and lowercased (empty unless tracked).
    """

    member: str
    rows: int
    invalid_emails: int
    emails: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ExportTruth:
    """The ground truth of a generated export, so tests need not re-parse it.

    Attributes:
        layout: ``new`` or ``old``.
        hex_id: The export's id, as in ``audience_export_<hex_id>/``.
        statuses: Per status (``subscribed``, ``unsubscribed``, ...), what its file holds.
    """

    layout: str
    hex_id: str
    statuses: dict[str, StatusTruth] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """All records written, across status files."""
        return sum(truth.rows for truth in self.statuses.values())

    def summary(self) -> dict:
        """The counts as JSON-ready data (without the email sets)."""
        return {
            "layout": self.layout,
            "hex_id": self.hex_id,
            "rows": self.rows,
            "statuses": {
                status: {key: value for key, value in asdict(truth).items() if key != "emails"}
                for status, truth in self.statuses.items()
            },
        }


def headers_for(status: str, layout: str) -> list[str]:
    """The exact header row of a status file in a layout (duplicates included).

    Args:
        status: A Mailchimp export status; nonsubscribed and sms_only files share the
            subscribed headers.
        layout: ``new`` (c. 2025) or ``old`` (2013-2018).

    Returns:
        The header names in file order.
    """
    block = STATUS_BLOCKS.get(status, STATUS_BLOCKS["subscribed"])
    if layout == "old":
        if status == "unsubscribed":
            block = [OLD_DUPLICATED_HEADER, *block]
        return [*MERGE_FIELDS, *OPT_IN, *GEO_OLD, *LOCATION, *block, *IDS]
    return [*MERGE_FIELDS, *OPT_IN, *LOCATION, *block, *IDS, TAGS]


def hex_id_for(seed: int) -> str:
    """The export's 10-hex id, derived from the seed."""
    return hashlib.sha256(f"onramp-mailchimp-{seed}".encode()).hexdigest()[:10]


def member_name(status: str, layout: str, hex_id: str) -> str:
    """The path of a status file inside the zip, in the naming scheme of the layout."""
    if layout == "old":
        return f"members_export_{hex_id}/{status}_members_export_{hex_id}.csv"
    kind = "audience_export" if status == "sms_only" else "email_audience_export"
    return f"audience_export_{hex_id}/{status}_{kind}_{hex_id}.csv"


def status_counts(rows: int, layout: str) -> dict[str, int]:
    """How many rows each status file gets (largest remainder, so they add up to ``rows``)."""
    shares = dict(STATUS_SHARES)
    if layout == "old":
        shares["subscribed"] += shares.pop("sms_only")
    exact = {status: rows * share for status, share in shares.items()}
    counts = {status: int(value) for status, value in exact.items()}
    by_remainder = sorted(shares, key=lambda status: counts[status] - exact[status])
    for status in by_remainder[: rows - sum(counts.values())]:
        counts[status] += 1
    return counts


def write_export(
    path: Path, rows: int, seed: int, layout: str = "new", *, track_emails: bool = True
) -> ExportTruth:
    """Write a Mailchimp audience export zip and return its ground truth.

    Args:
        path: The zip to write (its folder is created).
        rows: Records across all status files.
        seed: Seeds every random choice: the same arguments give the same bytes.
        layout: ``new`` (2025 names and headers) or ``old`` (``members_export_``, 2013-2018).
        track_emails: Keep each status's set of valid emails in the truth; turn off at
            millions of rows to keep memory flat.

    Returns:
        Per status: rows written, rows with no or an invalid email, the valid emails.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    hex_id = hex_id_for(seed)
    people = _People(random.Random(seed), status_counts(rows, layout))
    path.parent.mkdir(parents=True, exist_ok=True)
    statuses = {}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for status, count in people.counts.items():
            member = member_name(status, layout, hex_id)
            headers = headers_for(status, layout)
            slots = _value_slots(headers)
            tally = _Tally(track_emails)
            with _open_member(archive, member) as text:
                writer = csv.writer(text, lineterminator="\r\n")
                writer.writerow(headers)
                for record in people.records(status, count, layout):
                    tally.add(record["Email Address"])
                    writer.writerow([record.get(slot, "") if slot else "" for slot in slots])
            statuses[status] = tally.truth(member)
    return ExportTruth(layout=layout, hex_id=hex_id, statuses=statuses)


def _open_member(archive: zipfile.ZipFile, member: str) -> io.TextIOWrapper:
    info = zipfile.ZipInfo(member, date_time=ZIP_TIMESTAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ZIP_FILE_MODE
    info.create_system = ZIP_UNIX_SYSTEM
    return io.TextIOWrapper(archive.open(info, "w", force_zip64=True), encoding="utf-8", newline="")


def _value_slots(headers: list[str]) -> list[str | None]:
    """Which value each column carries: a repeated header's earlier copies stay blank (None)."""
    last = {header: position for position, header in enumerate(headers)}
    return [header if last[header] == position else None for position, header in enumerate(headers)]


class _Tally:
    """Counts what a status file receives, as the pipeline should count it."""

    def __init__(self, track_emails: bool) -> None:
        self.rows = 0
        self.invalid = 0
        self.emails: set[str] | None = set() if track_emails else None

    def add(self, email: str) -> None:
        self.rows += 1
        if not is_valid_email(email):
            self.invalid += 1
        elif self.emails is not None:
            self.emails.add(email.strip().lower())

    def truth(self, member: str) -> StatusTruth:
        return StatusTruth(member, self.rows, self.invalid, frozenset(self.emails or ()))


class _People:
    """Draws the records of each status file from one seeded random stream.

    A person is an integer id; their name and email derive from it, so a duplicate row (in
    another status file or the same one) needs no memory of earlier rows, only an earlier id.
    """

    def __init__(self, rng: random.Random, counts: dict[str, int]) -> None:
        self.rng = rng
        self.counts = counts
        self.next_id = 0
        self.subscribed_ids = range(0)

    def records(self, status: str, count: int, layout: str) -> Iterator[dict[str, str]]:
        first_id = self.next_id
        for row in range(count):
            feature = FEATURED.get(row) if status == "subscribed" else None
            person, email = self._email(status, row, feature, first_id)
            record = self._values(person, layout)
            record["Email Address"] = email
            record.update(self._status_values(status, record))
            self._apply_feature(record, feature)
            yield record
        if status == "subscribed":
            self.subscribed_ids = range(first_id, self.next_id)

    def _email(self, status: str, row: int, feature: str | None, first_id: int) -> tuple[int, str]:
        rng = self.rng
        if status == "sms_only":
            return self._new_id(), ""
        cross_file = row == 0 or rng.random() < CROSS_FILE_DUPLICATE_RATE
        if status != "subscribed" and self.subscribed_ids and cross_file:
            # Someone who also subscribed: the opt-out (or non-subscription) must win later.
            person = rng.choice(self.subscribed_ids)
            return person, email_of(person).upper()
        earlier = self.next_id - first_id
        in_file = feature is None and rng.random() < IN_FILE_DUPLICATE_RATE
        if earlier and (feature == "duplicate_in_file" or in_file):
            person = first_id + 1 if feature else first_id + rng.randrange(earlier)
            return person, capitalised(email_of(person))
        person = self._new_id()
        return person, messy_email(email_of(person), rng, feature)

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def _values(self, person: int, layout: str) -> dict[str, str]:
        rng = self.rng
        (first, _), (last, _) = names_of(person)
        city, region, zip_code, area, gmtoff, dstoff, timezone, lat, lon = rng.choice(CITIES)
        optin = TIME_ORIGIN + timedelta(seconds=rng.randrange(TIME_SPAN_SECONDS))
        confirm = optin + timedelta(seconds=rng.randrange(3 * 24 * 3600))
        changed = confirm + timedelta(seconds=rng.randrange(365 * 24 * 3600))
        located = rng.random() >= BLANK_RATE
        values = {
            "First Name": maybe(rng, first),
            "Last Name": maybe(rng, last),
            "Address": _address(rng, city, region, zip_code),
            "Phone Number": phone(rng, area),
            "Birthday": birthday(rng),
            "MEMBER_RATING": str(rng.randrange(1, 6)),
            "OPTIN_TIME": maybe(rng, optin.isoformat(" ")),
            "OPTIN_IP": maybe(rng, _ip(rng)),
            "CONFIRM_TIME": confirm.isoformat(" "),
            "CONFIRM_IP": _ip(rng),
            "GMTOFF": gmtoff if located else "",
            "DSTOFF": dstoff if located else "",
            "TIMEZONE": timezone if located else "",
            "CC": "US" if located else "",
            "REGION": region if located else "",
            "LAST_CHANGED": changed.isoformat(" "),
            "LEID": str(100_000_000 + person),
            "EUID": f"{rng.getrandbits(40):010x}",
            "NOTES": rng.choice(NOTES) if rng.random() < NOTES_RATE else "",
        }
        if layout == "old":
            values["LATITUDE"] = lat if located else ""
            values["LONGITUDE"] = lon if located else ""
        elif rng.random() < TAGS_RATE:
            tags = rng.sample(TAG_NAMES, rng.randrange(1, 4))
            values[TAGS] = ",".join(f'"{tag}"' for tag in tags)
        return values

    def _status_values(self, status: str, record: dict[str, str]) -> dict[str, str]:
        rng = self.rng
        prefix = {"unsubscribed": "UNSUB", "cleaned": "CLEAN"}.get(status)
        if prefix is None:
            return {}
        values = {
            f"{prefix}_TIME": record["LAST_CHANGED"],
            f"{prefix}_CAMPAIGN_TITLE": maybe(rng, rng.choice(CAMPAIGN_TITLES)),
            f"{prefix}_CAMPAIGN_ID": f"{rng.getrandbits(40):010x}",
        }
        if status == "unsubscribed":
            reason = rng.choice(UNSUB_REASONS)
            values["UNSUB_REASON"] = reason
            other = reason.startswith("Other")
            values["UNSUB_REASON_OTHER"] = "Too many emails, sorry" if other else ""
        return values

    @staticmethod
    def _apply_feature(record: dict[str, str], feature: str | None) -> None:
        if feature == "notes_multiline":
            record["NOTES"] = NOTES[0]
        elif feature == "formula":
            record["NOTES"] = FORMULA_NOTE
        elif feature == "address_newline":
            record["Address"] = "Apt 4B\n12 Harbor Rd, Bar Harbor, ME  04609  US"


def _address(rng: random.Random, city: str, region: str, zip_code: str) -> str:
    # Mailchimp flattens the address merge field with double spaces before zip and country.
    if rng.random() < 0.4:
        return ""
    return f"{rng.randrange(1, 999)} {rng.choice(STREETS)}, {city}, {region}  {zip_code}  US"


def _ip(rng: random.Random) -> str:
    bits = rng.getrandbits(32)
    return ".".join(str(bits >> shift & 0xFF) for shift in (24, 16, 8, 0))


def main(argv: list[str] | None = None) -> None:
    """Command line: write an export zip, print (and optionally save) its counts."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generate_mailchimp", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rows", type=int, required=True, help="records across all status files")
    parser.add_argument("--seed", type=int, required=True, help="same seed, same bytes")
    parser.add_argument("--out", type=Path, required=True, help="the zip to write")
    parser.add_argument("--layout", choices=LAYOUTS, default="new", help="export era")
    parser.add_argument("--truth", type=Path, help="also write the counts as JSON here")
    args = parser.parse_args(argv)
    truth = write_export(args.out, args.rows, args.seed, args.layout, track_emails=False)
    summary = json.dumps(truth.summary(), indent=2)
    if args.truth:
        args.truth.parent.mkdir(parents=True, exist_ok=True)
        args.truth.write_text(summary + "\n", encoding="utf-8")
    print(summary)


if __name__ == "__main__":
    main()
