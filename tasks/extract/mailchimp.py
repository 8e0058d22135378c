"""Reading Mailchimp audience exports: one CSV per contact status, the status in the file name.

Headers are matched by name, never by position: case-insensitively, trimmed, with a UTF-8 BOM
stripped. Every column is read as text; typing and validation come later.

The email column of an export is, in order of preference (``export_email_column``):

1. the first column, when its header is not a Mailchimp system column and its values look like
   emails (at least half of the first non-blank values hold an address, or there are no values
   yet): Mailchimp always writes the ``EMAIL`` merge field first, under its label, and labels
   are renamable (``E-mail``, ``Courriel``), while another merge field may be labelled ``Email``;
2. otherwise the first column whose header is ``Email Address`` or ``Email`` (any case), as
   ``detect_email_column`` reads any file.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from schemas.contact import EMAIL, INVISIBLE_CHARACTERS, normalise_email
from schemas.lineage import EXTRA_FIELDS, SOURCE_FORMAT, SOURCE_ROW, SOURCE_STATUS, SOURCE_URI
from schemas.mailchimp import JOINED_EMAILS_SEPARATOR
from tasks.errors import InputError
from tasks.extract.sources import SkippedFile, StagedFile, map_in_order, stage_files
from tasks.extract.text import first_non_utf8, text_pieces
from tasks.transform.catalog import consent_headers
from tasks.transform.contacts import one_spelling

if TYPE_CHECKING:
    from tasks.transform.catalog import ReadingProfile

FORMAT = "mailchimp-export"

STATUSES = ("nonsubscribed", "unsubscribed", "subscribed", "cleaned", "transactional", "sms_only")
"""Mailchimp's export statuses; ``nonsubscribed`` is tried before its substring ``subscribed``."""

_STATUS_PREFIX = re.compile(rf"^({'|'.join(STATUSES)})(?![a-z0-9])", re.IGNORECASE)
"""The status is the first word of the file name in both naming schemes:
``subscribed_members_export_<hex>.csv`` (before ~2023) and
``subscribed_email_audience_export_<hex>.csv`` / ``sms_only_audience_export_<hex>.csv``."""

_EXPORT_NAME = re.compile(
    rf"^({'|'.join(STATUSES)})_(?:members_export|email_audience_export|audience_export)_[0-9a-z]+\.csv$",
    re.IGNORECASE,
)
"""A name only Mailchimp's audience export gives a file: status, scheme and the export's id."""

_LAST_NAME_PART = re.compile(r"[/\\!]")
"""Separators before a file's own name: folders, and ``!`` between an archive and its member."""

EMAIL_HEADERS = ("email address", "email")

SYSTEM_COLUMNS = frozenset(
    name.casefold()
    for name in (
        "MEMBER_RATING", "OPTIN_TIME", "OPTIN_IP", "CONFIRM_TIME", "CONFIRM_IP", "LATITUDE",
        "LONGITUDE", "GMTOFF", "DSTOFF", "TIMEZONE", "CC", "REGION", "LAST_CHANGED", "LEID",
        "EUID", "NOTES", "TAGS", "UNSUB_TIME", "UNSUB_CAMPAIGN_TITLE", "UNSUB_CAMPAIGN_ID",
        "UNSUB_REASON", "UNSUB_REASON_OTHER", "CLEAN_TIME", "CLEAN_CAMPAIGN_TITLE",
        "CLEAN_CAMPAIGN_ID",
    )
)  # fmt: skip

EMAIL_SAMPLE_RECORDS = 100
"""How many records the email-column guess looks at."""

_ADDRESS = re.compile(r"[^\s@]@[^\s@]")
"""An email address somewhere in a cell: a character either side of an ``@`` (a ``@handle`` has none
before it)."""

HOLDS_ADDRESSES_SHARE = 0.5
"""A column holds email addresses when at least this share of its sampled non-blank cells hold one."""

FIRST_RECORD_ROW = 2
"""The spreadsheet row of the first record: the header is row 1."""
MAX_HEADER_CHARS = 1024
"""A longer "column name" is data in the header row (a file without a header, or a broken one).
Checked explicitly: the csv module's field limit is process-wide, and the load raises it."""
OVERFLOW_COLUMNS = 8
"""Fields a row may carry beyond its header and still have them shown in the rejects."""

BOM = "\ufeff"
QUOTE = b'"'
NUL = b"\x00"
CR = b"\r"
CHECK_CHUNK_BYTES = 1 << 22
_BARE_CR = re.compile(rb"\r(?!\n)")

OTHER_ENCODING_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
"""Byte-order marks of encodings Onramp refuses by name (UTF-32 first: its LE mark starts
with UTF-16's)."""

DISAGREEING_PREFIX = "_disagreeing "
"""Starts the name of the column ``scan_columns`` adds for each repeated header: True in a row
whose copies of the header hold different non-empty values, else null (a blank row stays blank).
The plan counts them in the parse it stages the file with, and writes them nowhere."""

KEEPS_FIRST = "the first non-empty value of each row is kept"
KEEPS_JOINED = "such a row is rejected, its addresses joined"
KEEPS_MOST_RESTRICTIVE = "each row keeps the value whose consent reading is the most restrictive"
"""What a row keeps of a repeated header whose copies disagree: the first non-empty value; for
the email header every address (so the row is rejected with both in view); for a header the
profile reads consent from, the copy that reads as the most restrictive outcome."""

_ADDRESS_PREFIX = "_address "
"""Starts the name of the working column holding one copy of a repeated email header as the
plan compares addresses (``_address``)."""

_COPY_PREFIX = "_copy "
_COPY_RANK_PREFIX = "_copy rank "
"""Start the names of the working columns a repeated consent header's copies are read in."""


@dataclass(frozen=True)
class RawSource:
    """One export file, read as text with its lineage.

    Attributes:
        uri: The file as the user recognises it (``export.zip!folder/file.csv``).
        status: The Mailchimp status the file name gives (``subscribed``, ``cleaned``, ...).
        format: Always ``FORMAT``.
        headers: The file's headers as cleaned (BOM stripped, trimmed), original case, the
            first occurrence of each name only (names compared case-insensitively).
        duplicate_headers: Header names that occurred more than once; their columns are
            coalesced into one.
        frame: Every header column as ``pl.String`` (an empty cell is null; a duplicated header
            takes its first non-empty value, the email header its distinct addresses joined), a
            Boolean column per duplicated header (``disagreeing_column``), then the lineage columns ``SOURCE_URI``,
            ``SOURCE_ROW`` (Int64, the spreadsheet row: the first record is row 2, whatever
            newlines its cells hold), ``SOURCE_STATUS`` and ``SOURCE_FORMAT``, and
            ``EXTRA_FIELDS`` (the fields of a row longer than the header, else null). It scans the
            staged file lazily: keep the staging folder until it is collected.
        email_column: The header (as in ``headers``) that holds the email address.
        local_path: The local CSV file ``frame`` scans (to find a line once its scan failed).
        status_values: Consent header → the values the profile's rules read; the plan counts
            the others (``catalog.unread_status_values``). Empty for a file whose status is its
            name's, or a provider API's own.
        header_copies: Each of ``duplicate_headers`` → how many columns it names.
        consent_copies: The ``duplicate_headers`` the profile reads consent from, whose copies
            are all read (see ``scan_columns``).
        skipped_files: The files of the same zip or folder that Onramp does not read (every
            file of a source carries them all; the report lists each once).
        notes: What reading the file warns about, each a sentence without the file's name (read
            as Mac Roman, the email column a name alone did not settle, dates read in an order
            nothing proves): report.json keeps them with the file's source.
    """

    uri: str
    status: str
    format: str
    headers: list[str]
    duplicate_headers: list[str]
    frame: pl.LazyFrame
    email_column: str = "Email Address"
    local_path: Path | None = None
    status_values: Mapping[str, frozenset[str]] = field(default_factory=dict)
    header_copies: Mapping[str, int] = field(default_factory=dict)
    consent_copies: tuple[str, ...] = ()
    skipped_files: tuple[SkippedFile, ...] = ()
    notes: tuple[str, ...] = ()

    def keeps(self, header: str) -> str:
        """What a row keeps of a duplicated header whose copies disagree (``KEEPS_FIRST``...)."""
        if header == self.email_column:
            return KEEPS_JOINED
        return KEEPS_MOST_RESTRICTIVE if header in self.consent_copies else KEEPS_FIRST


def is_export_filename(name: str) -> bool:
    """Whether a file is named the way Mailchimp's audience export names its files.

    Other exports are also split by status (``unsubscribed_contacts.csv``), so the status word
    alone does not make a file Mailchimp's.
    """
    return bool(_EXPORT_NAME.match(_file_name(name)))


def _file_name(name: str) -> str:
    """The file's own name in a path or URI (``export.zip!folder/member.csv`` → ``member.csv``)."""
    return _LAST_NAME_PART.split(name)[-1]


def status_from_filename(name: str) -> str | None:
    """The Mailchimp status a file name stands for, or None.

    Args:
        name: A file name, path or URI (``export.zip!member.csv`` included); only the file's
            own name counts, case-insensitively.

    Returns:
        One of ``STATUSES``, when the file name starts with it as a word
        (``subscribed_members_export_ab.csv``, ``SMS_ONLY_audience_export_ab.csv``).
    """
    match = _STATUS_PREFIX.match(_file_name(name))
    return match.group(1).lower() if match else None


def read_export(
    source: str, staging_dir: Path, storage_options: dict | None = None
) -> list[RawSource]:
    """Stage and read every export CSV of a source (zip, folder or single CSV, any fsspec URL).

    Args:
        source: The export, as a local path or fsspec URL.
        staging_dir: Where archive members and remote files are staged; keep it until the
            frames are collected.
        storage_options: Passed to the fsspec filesystem.

    Returns:
        One RawSource per CSV file, sorted by URI.

    Raises:
        InputError: The source cannot be staged, or one of its CSV files is not a readable
            Mailchimp export (the first such file's error: the files are read side by side,
            FILE_WORKERS at a time, but fail as if read one by one).
    """
    staged_files = stage_files(source, staging_dir, storage_options)
    return map_in_order(read_export_file, staged_files, cost=StagedFile.size)


def read_export_file(
    staged: StagedFile, *, checked: bool = False, profile: ReadingProfile | None = None, mapped_email: str | None = None
) -> RawSource:
    """Read one staged Mailchimp export CSV lazily, after checking it can be parsed.

    The check is one streaming pass over the bytes (valid UTF-8, balanced quotes), so a
    broken file fails here with its line rather than later inside a collect.

    Args:
        staged: The file, as ``stage_files`` returns it.
        checked: The caller has run the check already (the flow's reader does, before it
            knows the file is Mailchimp's): a second pass over the bytes would only cost.
        profile: The profile the file is read with, when a status rule of it reads some of
            its columns (a plain opt-out flag among its merge fields): every copy of such a
            column repeated is read (``scan_columns``).
        mapped_email: The email column a user's mapping names (``email = "E-mail"``): taken
            when the file has it (trimmed, in any case), a row it leaves blank filled from the
            export's own (:func:`export_email_column`), which is taken when it has not.

    Returns:
        The file's RawSource.

    Raises:
        InputError: The name holds no status, the file is not UTF-8 text (UTF-16, NUL bytes,
            invalid bytes), has an unclosed quote or a line ending in a bare carriage return,
            has no header row or no email column.
    """
    status = status_from_filename(staged.uri)
    if status is None:
        raise InputError(
            staged.uri,
            "not a Mailchimp export file: its name does not start with a status "
            f"({', '.join(STATUSES)})",
        )
    if not checked:
        check_parsable(staged)
    raw_headers, sample = read_head(staged)
    names = [clean_header(header, position) for position, header in enumerate(raw_headers)]
    columns = [(names[positions[0]], positions) for positions in group_by_name(names).values()]
    headers = [header for header, _ in columns]
    own = export_email_column(columns, sample)
    email_column = named_header(headers, mapped_email) or own
    if email_column is None:
        raise InputError(
            staged.uri,
            "no email column: expected a header 'Email Address' or 'Email', "
            "or email addresses in the first column",
            line=1,
        )
    frame = scan_columns(staged, columns, status, email_column, profile)
    if own is not None and own != email_column:
        # A member whose mapped column is blank keeps the address Mailchimp knows it by: its
        # status (an unsubscribe) must still reach someone.
        frame = frame.with_columns(pl.coalesce(non_empty(email_column), non_empty(own)).alias(email_column))
    return RawSource(
        uri=staged.uri,
        status=status,
        format=FORMAT,
        headers=headers,
        duplicate_headers=list(repeated_headers(columns)),
        frame=frame,
        email_column=email_column,
        local_path=staged.path,
        header_copies=repeated_headers(columns),
        consent_copies=repeated_consent_headers(columns, profile),
    )


def check_parsable(staged: StagedFile) -> None:
    """Raise InputError, with the line, for what polars would misread rather than refuse.

    Bytes that are not UTF-8 (UTF-16 is named), NUL bytes (valid UTF-8, but never in a text
    CSV: UTF-16 without a mark, or binary), an unclosed quote, and a line ending in a bare
    carriage return outside quotes (polars would glue the next record onto it). One pass over
    the file in big pieces, each checked whole by C or Rust code (no Python loop per byte);
    the lines are only counted once something is wrong.

    Args:
        staged: The local copy of the CSV file.

    Raises:
        InputError: The file would be misread, with the line where it goes wrong.
    """
    quotes = 0
    bare_cr_line: int | None = None
    for offset, piece in text_pieces(staged.path, CHECK_CHUNK_BYTES):
        if not offset:
            _refuse_other_encodings(piece, staged)
        _check_utf8(piece, staged, offset)
        if NUL in piece:
            line = _line_at(staged.path, offset + piece.index(NUL))
            raise InputError(staged.uri, "NUL byte: not a text CSV (UTF-16 or binary?)", line=line)
        if bare_cr_line is None and CR in piece and (position := _unquoted_bare_cr(piece, quotes)) is not None:
            bare_cr_line = _line_at(staged.path, offset + position)
        quotes += piece.count(QUOTE)
    # Reported in this order whatever comes first in the file: an unclosed quote, then a CR.
    if quotes % 2:
        line = _unclosed_quote_line(staged.path)
        raise InputError(staged.uri, "unclosed double quote", line=line)
    if bare_cr_line is not None:
        raise InputError(
            staged.uri,
            "a line ends in a bare carriage return (old Mac line endings): save it with "
            "CRLF or LF line endings",
            line=bare_cr_line,
        )


def _check_utf8(piece: bytes, staged: StagedFile, offset: int) -> None:
    position = first_non_utf8(piece)
    if position is not None:
        raise InputError(staged.uri, "not UTF-8 text", line=_line_at(staged.path, offset + position))


def _refuse_other_encodings(head: bytes, staged: StagedFile) -> None:
    for bom, encoding in OTHER_ENCODING_BOMS:
        if head.startswith(bom):
            raise InputError(staged.uri, f"{encoding} text: save it as UTF-8 CSV", line=1)


def _unquoted_bare_cr(piece: bytes, quotes: int) -> int | None:
    """Where ``piece``'s first carriage return outside quotes not followed by a line feed is.

    Inside a quoted cell a bare CR is data (polars keeps it); outside one it would end a record
    for a spreadsheet and not for polars. A CR is outside quotes when an even number of quotes
    precede it (an escaped ``""`` counts twice).

    Args:
        piece: Bytes of the file (never ending between a CR and its LF, unless at its end).
        quotes: Quotes in the file before ``piece``.
    """
    seen = 0
    for match in _BARE_CR.finditer(piece):
        quotes += piece.count(QUOTE, seen, match.start())
        seen = match.start()
        if not quotes % 2:
            return seen
    return None


def _line_at(path: Path, offset: int) -> int:
    """The 1-based line holding byte ``offset`` (only computed once something is wrong)."""
    newlines = 0
    with path.open("rb") as handle:
        while offset > 0 and (chunk := handle.read(min(offset, CHECK_CHUNK_BYTES))):
            newlines += chunk.count(b"\n")
            offset -= len(chunk)
    return newlines + 1


def _unclosed_quote_line(path: Path) -> int:
    """The line where the never-closed quote opens: where the quote parity last turned odd."""
    opened_at = 1
    odd = False
    with path.open("rb") as handle:
        for number, text in enumerate(handle, start=1):
            if text.count(QUOTE) % 2:
                odd = not odd
                if odd:
                    opened_at = number
    return opened_at


def read_head(staged: StagedFile) -> tuple[list[str], list[list[str]]]:
    """The raw header row and the first records, parsed with quoted newlines respected.

    The csv module refuses a cell over its field limit (16 MiB, :mod:`tasks.csv_field_limit`), which keeps this read
    bounded: a huge header cell is refused, and the sample stops before a huge record (polars
    reads that record later, and the validator judges it).

    Args:
        staged: The local copy of the CSV file.

    Returns:
        The header cells as written, and up to EMAIL_SAMPLE_RECORDS records after it.

    Raises:
        InputError: No header row, or one that cannot be read.
    """
    with staged.path.open(encoding="utf-8-sig", newline="") as handle:
        records = csv.reader(handle)
        try:
            header = next(records, None)
        except csv.Error as error:
            raise InputError(staged.uri, f"header row cannot be read: {error}", line=1) from error
        if not header:
            raise InputError(staged.uri, "empty file: no header row", line=1)
        if any(len(name) > MAX_HEADER_CHARS for name in header):
            raise InputError(staged.uri, f"header row cannot be read: a column name is longer than {MAX_HEADER_CHARS} characters", line=1)
        sample: list[list[str]] = []
        try:
            sample.extend(islice(records, EMAIL_SAMPLE_RECORDS))
        except csv.Error:
            pass
        return header, sample


_HEADER_EDGES = re.compile(rf"^[\s{INVISIBLE_CHARACTERS}]+|[\s{INVISIBLE_CHARACTERS}]+$")
"""Spaces and characters one cannot see (:data:`~schemas.contact.INVISIBLE_CHARACTERS`)
before or after a header's name: pasted from a web page, ``\u200bLast Name`` would name no known
column. Inside a name they stay (a Persian header's zero-width non-joiner is spelling)."""


def clean_header(header: str, position: int) -> str:
    """A header cell without byte-order marks, or spaces and invisible characters around it
    (:data:`_HEADER_EDGES`); a blank one gets a name.

    Args:
        header: The cell as read.
        position: Its 0-based column, naming a blank header ``column_<position + 1>``.
    """
    return _trimmed_header(header) or f"column_{position + 1}"


def is_blank_header(header: str) -> bool:
    """Whether a header cell names nothing once trimmed as :func:`clean_header` trims it (a
    merged cell's right-hand part, a trailing comma's column)."""
    return not _trimmed_header(header)


def _trimmed_header(header: str) -> str:
    return _HEADER_EDGES.sub("", header.replace(BOM, ""))


def group_by_name(names: list[str]) -> dict[str, list[int]]:
    """Positions of each header name, keyed case-insensitively, in order of first occurrence.

    Args:
        names: Cleaned header names, in column order.
    """
    groups: dict[str, list[int]] = {}
    for position, name in enumerate(names):
        groups.setdefault(name.casefold(), []).append(position)
    return groups


def repeated_headers(columns: list[tuple[str, list[int]]]) -> dict[str, int]:
    """Each header naming more than one column → how many it names, in column order.

    Args:
        columns: Each header with the positions it occupies (see ``group_by_name``).
    """
    return {header: len(positions) for header, positions in columns if len(positions) > 1}


def disagreeing_column(header: str) -> str:
    """The name of the column telling where a repeated header's copies disagree."""
    return f"{DISAGREEING_PREFIX}{header}"


def _copies_disagree(cells: list[pl.Expr]) -> pl.Expr:
    """True where two of a header's cells hold different non-empty values (null cells agree
    with anything), else null: each is compared with the first non-empty one."""
    first = pl.coalesce(cells)
    return pl.when(pl.any_horizontal((cell != first).fill_null(False) for cell in cells[1:])).then(True)


def named_header(headers: list[str], name: str | None) -> str | None:
    """The header ``name`` names, trimmed and in any case (as a mapping names columns), if any."""
    if name is None:
        return None
    wanted = name.strip().casefold()
    return next((header for header in headers if header.strip().casefold() == wanted), None)


def export_email_column(columns: list[tuple[str, list[int]]], sample: list[list[str]]) -> str | None:
    """A Mailchimp export's email column: Mailchimp writes the ``EMAIL`` merge field first, under
    its label (``E-mail``, ``Courriel``), so the first column is it when it holds addresses (or
    no value yet: an SMS-only file), even beside a merge field named ``Email`` (a ``Yes``/``No``
    preference, an old address); else :func:`detect_email_column` (a file whose columns were
    reordered).

    Args:
        columns: Each header with the positions it occupies (see ``group_by_name``).
        sample: The first records.
    """
    first, positions = columns[0]
    if first.casefold() not in SYSTEM_COLUMNS and len(positions) == 1:
        share = address_share(column_values(positions, sample))
        if share is None or share >= HOLDS_ADDRESSES_SHARE:
            return first
    return detect_email_column(columns, sample)


def detect_email_column(columns: list[tuple[str, list[int]]], sample: list[list[str]]) -> str | None:
    """The email column: a known email header, else a renamed first column holding addresses.

    Args:
        columns: Each header with the positions it occupies (see ``group_by_name``).
        sample: The first records, to tell whether the first column holds email addresses.

    Returns:
        The header, or None when no column qualifies.
    """
    for header, _ in columns:
        if header.casefold() in EMAIL_HEADERS:
            return header
    first, positions = columns[0]
    if first.casefold() in SYSTEM_COLUMNS or len(positions) > 1:
        return None
    share = address_share(column_values(positions, sample))
    return first if share is None or share >= HOLDS_ADDRESSES_SHARE else None


def column_values(positions: list[int], sample: list[list[str]]) -> list[str]:
    """A header's non-blank cells in the sampled records, trimmed: the first non-blank copy of
    each record, for a header repeated.

    Args:
        positions: The positions the header occupies (see ``group_by_name``).
        sample: The first records.
    """
    cells = ((record[p].strip() for p in positions if p < len(record)) for record in sample)
    return [value for value in (next((cell for cell in record if cell), "") for record in cells) if value]


def address_share(values: list[str]) -> float | None:
    """The share of ``values`` holding an email address; None when there are no values to tell.

    Args:
        values: A column's non-blank cells (``column_values``).
    """
    if not values:
        return None
    return sum(bool(_ADDRESS.search(value)) for value in values) / len(values)


def non_empty(column: str) -> pl.Expr:
    """``column`` with empty strings turned to null, so a coalesce skips them.

    Args:
        column: A string column's name.
    """
    return pl.when(pl.col(column).str.len_bytes() > 0).then(pl.col(column))


def _address(cell: pl.Expr) -> pl.Expr:
    """An email cell as the plan compares addresses: trimmed, lowercased and an internationalised
    domain in one spelling (``one_spelling``); null where it holds nothing but blanks."""
    trimmed = normalise_email(cell)
    return pl.when(trimmed != "").then(trimmed).map_batches(_one_spelling_of, pl.String, is_elementwise=True)


def _one_spelling_of(addresses: pl.Series) -> pl.Series:
    """Each address of a batch in the one spelling the plan gives it (``one_spelling``)."""
    [spelt] = one_spelling([addresses.to_frame(EMAIL).lazy()])
    return spelt.collect().get_column(EMAIL)


def _distinct_addresses(cells: list[pl.Expr], addresses: list[pl.Expr]) -> pl.Expr:
    """A repeated email header's cells as one: each address once, as its first copy writes it
    (``Bob@x.com`` and ``bob@x.com `` are one), several different ones comma-joined.

    Args:
        cells: The header's cells, in column order.
        addresses: Each cell as the plan compares it (``_address``), in the same order.
    """
    firsts = [
        pl.when(address.is_not_null() & ~pl.any_horizontal(pl.lit(False), *((address == seen).fill_null(False) for seen in addresses[:i])))
        .then(cell)
        for i, (cell, address) in enumerate(zip(cells, addresses, strict=True))
    ]
    values = pl.concat_str(firsts, separator=JOINED_EMAILS_SEPARATOR, ignore_nulls=True)
    return pl.when(values != "").then(values)


def repeated_consent_headers(columns: list[tuple[str, list[int]]], profile: ReadingProfile | None) -> tuple[str, ...]:
    """The headers naming more than one column that the profile reads consent from, in column order.

    Args:
        columns: Each header with the positions it occupies (see ``group_by_name``).
        profile: The profile the file is read with; None reads no consent from columns.
    """
    if profile is None:
        return ()
    read = set(consent_headers(profile, [header for header, _ in columns]))
    return tuple(header for header in repeated_headers(columns) if header in read)


def scan_columns(
    staged: StagedFile,
    columns: list[tuple[str, list[int]]],
    status: str,
    email_column: str | None = None,
    profile: ReadingProfile | None = None,
) -> pl.LazyFrame:
    """The lazy scan of a CSV file, duplicate headers coalesced, with its lineage columns.

    Args:
        staged: The local copy of the CSV file (already checked with ``check_parsable``).
        columns: Each header with the positions it occupies (see ``group_by_name``).
        status: The status every row carries in SOURCE_STATUS.
        email_column: The email header. Where it occurs more than once, a row's different
            addresses are joined (``a@x.com, b@y.com``), so the row is rejected with both in
            view rather than one address vanishing; addresses are compared as the plan
            compares them (trimmed, lowercased, an internationalised domain in one spelling),
            so one address in two spellings is that address. Other duplicated headers take
            their first non-empty value (a 2013 Mailchimp export repeats ``UNSUB_REASON``, one
            left blank). Each repeated header also gets its ``disagreeing_column`` (for the
            email header: where its addresses differ).
        profile: The profile the file is read with. A repeated header it reads consent from
            (``repeated_consent_headers``) takes, in each row, the non-empty copy whose reading
            is the most restrictive, a copy saying something winning a tie with one saying
            nothing (``ReadingProfile.copy_rank``), so ``Status,Status`` holding
            ``Active,Unsubscribed`` reads as unsubscribed (an opt-out in any copy is final) and
            ``Unsubscribed,Unsubscribed`` holding ``false,maybe`` as unrecognised.
    """
    # Positional names sidestep polars' renaming of duplicate headers (``a_duplicated_0``); the
    # real names come back in the select, where duplicates are coalesced. Overflow columns
    # catch a row with more fields than the header (the row could not be split right): it is
    # kept, marked in EXTRA_FIELDS, and the validator sends it to the rejects.
    width = sum(len(positions) for _, positions in columns)
    positional = [f"_{position}" for position in range(width)]
    overflow = [f"_overflow_{n}" for n in range(OVERFLOW_COLUMNS)]
    consent_repeated = repeated_consent_headers(columns, profile)
    consent_copies = {
        header: [f"{_COPY_PREFIX}{p}" for p in positions] for header, positions in columns if header in consent_repeated
    }
    # Only a repeated email header's copies are compared as addresses: the spelling takes Python.
    repeated_email = next((positions for header, positions in columns if header == email_column and len(positions) > 1), [])
    addresses = {p: f"{_ADDRESS_PREFIX}{p}" for p in repeated_email}
    address_cells = [pl.col(address) for address in addresses.values()]
    cells = {header: [non_empty(positional[p]) for p in positions] for header, positions in columns}
    frame = (
        pl.scan_csv(
            staged.path,
            has_header=False,
            skip_rows=1,
            schema=dict.fromkeys(positional + overflow, pl.String),
            missing_columns="insert",
            truncate_ragged_lines=True,
            # A file is read by its name, never as a pattern: ``contacts[1].csv`` would read
            # ``contacts1.csv`` beside it.
            glob=False,
        )
        .with_row_index(SOURCE_ROW, offset=FIRST_RECORD_ROW)
        .with_columns(_address(non_empty(positional[p])).alias(address) for p, address in addresses.items())
        .select(
            *(
                (
                    _distinct_addresses(cells[header], address_cells)
                    if header == email_column and addresses
                    else pl.coalesce(cells[header])
                ).alias(header)
                for header in cells
            ),
            *(
                _copies_disagree(address_cells if header == email_column else cells[header]).alias(disagreeing_column(header))
                for header, positions in columns
                if len(positions) > 1
            ),
            pl.concat_str(overflow, separator=",", ignore_nulls=True).alias(EXTRA_FIELDS),
            pl.lit(staged.uri, dtype=pl.String).alias(SOURCE_URI),
            pl.col(SOURCE_ROW).cast(pl.Int64),
            pl.lit(status, dtype=pl.String).alias(SOURCE_STATUS),
            pl.lit(FORMAT, dtype=pl.String).alias(SOURCE_FORMAT),
            *(
                non_empty(positional[p]).alias(copy)
                for header, positions in columns
                if header in consent_copies
                for p, copy in zip(positions, consent_copies[header], strict=True)
            ),
        )
        .with_columns(pl.when(pl.col(EXTRA_FIELDS) != "").then(pl.col(EXTRA_FIELDS)).alias(EXTRA_FIELDS))
    )
    for header, copies in consent_copies.items():
        frame = _keep_most_restrictive(frame, header, copies, profile)
    return frame


def _keep_most_restrictive(frame: pl.LazyFrame, header: str, copies: list[str], profile: ReadingProfile) -> pl.LazyFrame:
    """``frame`` with ``header`` set, in each row, to the non-empty copy that speaks most strongly
    for the row's consent (``ReadingProfile.copy_rank``: the most restrictive reading, then a
    copy that says something over one that says nothing; the first such copy), and the
    copies' working columns dropped.

    A copy no rule reads (``no`` in an opt-in flag) counts as the profile's default status: a
    row whose copies say ``no`` and ``yes`` to a subscription is not read as subscribed. A
    value no rule reads (``maybe``) beats a flag not set (``false``): it keeps the row from
    being marketing, whichever copy comes first.

    Args:
        frame: The scan, with ``header`` and each of its copies in a column of its own.
        header: The repeated consent header.
        copies: The working columns holding its copies, in column order.
        profile: The profile whose rules read the header.
    """
    # The rules read a column by its header's name, so each copy is read in its turn under it.
    rank = profile.copy_rank(header)
    ranks = [f"{_COPY_RANK_PREFIX}{copy}" for copy in copies]
    for copy, copy_rank in zip(copies, ranks, strict=True):
        frame = frame.with_columns(pl.col(copy).alias(header)).with_columns(
            pl.when(pl.col(header).is_not_null()).then(rank).alias(copy_rank)
        )
    highest = pl.max_horizontal(ranks)
    kept = pl.coalesce(pl.when(pl.col(r) == highest).then(pl.col(c)) for c, r in zip(copies, ranks, strict=True))
    return frame.with_columns(kept.alias(header)).drop(*copies, *ranks)
