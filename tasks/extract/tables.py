"""Reading any export file — Mailchimp, Constant Contact, a CRM's CSV or XLSX — into a RawSource.

Each file is made plain first (each contact sheet of a workbook staged as a CSV of its own; any
encoding and delimiter transcoded to UTF-8 CSV: ``tasks.extract.text``), then recognised by its
headers (``tasks.transform.catalog``) or read with the profile the user names, which must read
the consent the file carries (``unread_consent``). A Mailchimp export goes to the Mailchimp
reader (its status is its file name, which a column read as consent, such as a merge field named
like an opt-out flag, may only make more restrictive); every other file is read here with the
same parsing machinery, and its rows' status comes from the profile's consent columns, so one
file may hold every status.

Cells are cleaned where spreadsheets damage them: Excel's apostrophe before a number
(``'+16193058111``) is removed. Time columns are kept as written, and read as UTC times (offsets,
Excel date serials) into a working column beside each (``catalog.parsed_time_column``), so rows
of every source compare by the same clock; numeric dates (``05/02/2024``) in the order the
user's mapping or the profile declares, else the order the column's own values prove
(``_time_readings``).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import polars as pl

from schemas.lineage import SOURCE_FORMAT, SOURCE_ROW, SOURCE_STATUS
from schemas.params import SourceCredentials
from tasks.errors import InputError
from tasks.extract import constant_contact_api, mailchimp, mailchimp_api
from tasks.extract.api_helpers import source_parts, with_statuses
from tasks.extract.api_settings import CONSTANT_CONTACT_PROFILE, MAILCHIMP_PROFILE, MAILCHIMP_SCHEME, PER_ROW_STATUS, api_scheme
from tasks.extract.excel import SPREADSHEET_SUFFIXES, is_spreadsheet, split_sheet, stage_sheets
# The Mailchimp reader's parsing machinery (quote and encoding checks, the header read, the
# positional scan with overflow columns for ragged rows) serves every format alike.
from tasks.extract.mailchimp import (
    EMAIL_HEADERS,
    HOLDS_ADDRESSES_SHARE,
    RawSource,
    address_share,
    check_parsable,
    clean_header,
    column_values,
    detect_email_column,
    group_by_name,
    non_empty,
    read_head,
    repeated_consent_headers,
    repeated_headers,
    scan_columns,
)
from tasks.extract.sources import (
    TEXT_TABLE_SUFFIXES,
    TXT_SUFFIX,
    FileKinds,
    SkippedFile,
    SniffedKind,
    StagedFile,
    map_in_order,
    stage_source,
)
from tasks.extract.text import TextLayout, header_cells, normalise_text
from tasks.transform.catalog import (
    DATE_ORDERS,
    DAY_FIRST,
    FALLBACK_PROFILE,
    FALSY,
    MONTH_FIRST,
    NULL_WORDS,
    TRUTHY,
    ReadingProfile,
    TimeReading,
    all_profiles,
    consent_headers,
    DATES_READ_APART,
    date_order_evidence,
    detect_profile,
    formats_date_order,
    looks_like_consent,
    name_opt_out,
    name_word,
    orders_to_read,
    parse_time,
    parsed_time_column,
    reading_fallback_opt_outs,
    reading_opt_out_flags,
    reading_profile,
    time_reading,
    unread_consent,
    unread_known_consent,
)

if TYPE_CHECKING:
    from tasks.transform.mapping_file import UserMapping


_EXCEL_TEXT_NUMBER = r"^'([+(0-9][0-9 ()+./-]*)$"
"""Excel's apostrophe that keeps a number as text (``'+1 619 305 8111``, ``'00123``): not data."""


EMAIL_MAPPING_FIX = 'name the contacts\' column in a mapping file (--mapping): email = "<column>"'
"""How a user settles which column holds the contacts' addresses."""

HEADER_SEARCH_LINES = 10
"""How far down a file whose first line names no email column a header is looked for: an
export tool's title or date above the header takes a few lines at most."""

_ONE_WORKBOOK_AT_A_TIME = threading.Lock()
"""Held while a workbook's sheets are loaded: calamine holds a whole sheet in memory (up to about
1 GiB, ``workbook_limits``), so files read side by side must not load two at once."""


@dataclass(frozen=True)
class ReadOptions:
    """How the user asked for files to be read.

    Attributes:
        profile: A profile name to use for every file, instead of detecting one.
        mapping: A user's mapping, applied on top of the profile.
        credentials: Where provider API sources find their credentials (names only).
        consent_overrides: The run's status → outcome overrides (``--consent``), applied on top
            of the mapping's: the policy that ranks a row's readings must be the run's.
    """

    profile: str | None = None
    mapping: UserMapping | None = None
    credentials: SourceCredentials = field(default_factory=SourceCredentials)
    consent_overrides: Mapping[str, str] = field(default_factory=dict)

    @property
    def named_profile(self) -> str | None:
        """The profile the user named for every file (``--profile``, else the mapping's), if any."""
        return self.profile or (self.mapping.profile if self.mapping else None)

    def resolve(self, headers: Sequence[str], uri: str = "") -> ReadingProfile:
        """The profile a file is read with: the one named; else a Mailchimp export when it is
        named as Mailchimp names export files (the status is in the name, never in a column,
        so an ``unsubscribed_…`` file read by its headers alone would lose its opt-outs);
        else the profile its headers match. The mapping and the run's consent overrides are
        applied to it (``applied``)."""
        name = self.named_profile
        if name is None and mailchimp.is_export_filename(uri):
            name = MAILCHIMP_PROFILE
        return self.applied(reading_profile(name) if name else detect_profile(headers))

    def applied(self, profile: ReadingProfile) -> ReadingProfile:
        """``profile`` with the user's mapping, then the run's consent overrides, applied.

        Raises:
            InputError: The mapping or an override re-maps one of the profile's opt-out statuses
                (or makes a never-marketing one marketing), or names an unknown outcome.
        """
        mapped = profile.with_mapping(self.mapping) if self.mapping else profile
        return mapped.with_run_consent(self.consent_overrides)


def export_files(options: ReadOptions) -> FileKinds:
    """What a source's zip or folder is read for, and a file given alone: a Constant Contact
    export saved per status as XLSX files, or a CRM's workbook beside CSV files, is read like
    the same files given one by one. A ``.tsv`` is a table by its name, and the text reader takes
    any delimiter; a ``.txt`` is as often a README as a table (Excel's "Text (Tab delimited)" and
    "Unicode Text"), so it is read only when its first line is a contact list's header as
    ``options`` read it (:func:`_txt_refusal`), else skipped (and refused given alone)."""
    # Once per distinct first line: a zip of thousands of notes resolves a profile once.
    is_contact_header = functools.cache(lambda cells: _is_contact_list(list(cells), options))
    return FileKinds(
        (*TEXT_TABLE_SUFFIXES, *SPREADSHEET_SUFFIXES),
        "CSV or TSV file or workbook",
        "CSV or TSV files and workbooks",
        SniffedKind((TXT_SUFFIX,), lambda uri, head: _txt_refusal(uri, head, options, is_contact_header)),
    )


NOT_TEXT = "not text (a NUL byte: a binary file, or UTF-16 without a byte order mark)"
"""Why a ``.txt`` whose first bytes hold a NUL is not read as a table."""


def _txt_refusal(
    uri: str, head: bytes, options: ReadOptions, is_contact_header: Callable[[tuple[str, ...]], bool]
) -> str | None:
    """Why a ``.txt`` file is no contact list to read, by its first bytes; None when it is one.

    Its first line must be a header naming an email column (``_is_contact_list``: the line a
    workbook's sheet is read by). A name that says an opt-out (``skipped_file_opt_out``) must be
    read by the profile its header matches: a ``.txt`` is never named as Mailchimp names its
    exports, and read by the generic profile its ``cleaned_members_export_….txt`` would lose the
    status its name says; it is skipped instead, and so refused (``refuse_skipped_opt_out_lists``).

    Args:
        uri: The file, as its source names it.
        head: Its first bytes.
        options: Profile and mapping choices.
        is_contact_header: ``_is_contact_list`` under ``options``, of a first line's cells.
    """
    cells = header_cells(head)
    if cells is None:
        return NOT_TEXT
    if not is_contact_header(tuple(cells)):
        return "its first line names no email column"
    if skipped_file_opt_out(uri) is None:
        return None
    profile = options.resolve([cell.strip() for cell in cells if cell.strip()], uri)
    if _name_status(profile, uri) is None:
        return f"the {profile.name} profile its header matches reads no status from its name"
    return None


def _name_status(profile: ReadingProfile, uri: str) -> str | None:
    """The status a file's name (or its sheet's) gives its rows read with ``profile``: a
    Mailchimp export's status is its file's name, as Mailchimp names the file of each status."""
    file_name, sheet = split_sheet(uri)
    if profile.format == mailchimp.FORMAT:
        return mailchimp.status_from_filename(file_name)
    return profile.name_status(file_name, sheet)


@dataclass(frozen=True)
class ReadFile:
    """One file as read, with how it was read (what ``onramp inspect`` shows).

    Attributes:
        raw: The file's RawSource.
        profile: The profile it was read with.
        layout: Its text layout before transcoding (None for a workbook sheet's staged CSV).
        identity: The file itself, however it was reached (``StagedFile.key``); empty for a
            provider API, which its URI names.
    """

    raw: RawSource
    profile: ReadingProfile
    layout: TextLayout | None
    identity: str = ""


def read_source(
    source: str, staging_dir: Path, options: ReadOptions = ReadOptions(), storage_options: dict | None = None
) -> list[ReadFile]:
    """Stage and read every file of a source: a zip or a folder (of CSV files and workbooks), a
    CSV or a workbook (``x.xlsx#Sheet``).

    Each contact sheet of a workbook (a sheet whose header row has an email column) is read as
    a file of its own, ``x.xlsx#Sheet``, unless the source names one sheet.

    A provider API (``mailchimp://<list_id>``, ``constantcontact://contacts``) is read through
    its API instead, with credentials from the environment or a Prefect Secret block
    (``tasks.extract.api_credentials``).

    Args:
        source: A local path or fsspec URL; a workbook may name its sheet after ``#``.
        staging_dir: Where staged and transcoded copies go; keep it until frames are collected.
        options: Profile and mapping choices.
        storage_options: Passed to the fsspec filesystem.

    Returns:
        One ReadFile per file (per contact sheet of a workbook, in workbook order), sorted by URI;
        each file's RawSource names the zip's or folder's files that are not read.

    Raises:
        InputError: The source or one of its files cannot be read (the first such file's error:
            the files are read side by side, FILE_WORKERS at a time, but fail as if read one
            by one), or one file is reached twice (``refuse_files_read_twice``).
    """
    scheme = api_scheme(source)
    if scheme is not None:
        return [read_api(source, scheme, staging_dir, options)]
    location, sheet = split_sheet(source)
    staged = stage_source(location, staging_dir, storage_options, export_files(options))
    refuse_skipped_opt_out_lists(staged.skipped, [file.uri for file in staged.files])
    per_file = map_in_order(lambda file: read_file(file, staging_dir, options, sheet), staged.files, cost=StagedFile.size)
    skipped = tuple(staged.skipped)
    files = [
        dataclasses.replace(read, raw=dataclasses.replace(read.raw, skipped_files=skipped))
        for reads in per_file
        for read in reads
    ]
    refuse_files_read_twice(files)
    return files


def refuse_skipped_opt_out_lists(skipped: Sequence[SkippedFile], read: Sequence[str] = ()) -> None:
    """Refuse a zip or folder holding a file it does not read whose name says it lists opt-outs
    (``unsubscribes.txt`` whose first line is no header, ``bounces.csv.gz``): its people would be
    planned from the other files as if they had never opted out, and HubSpot does not let an API
    client undo a marketing contact. So is one whose name may name such a list though no profile
    reads it so (:data:`LIKELY_OPT_OUT_LIST_WORDS`: ``DNC list.txt``), for a person to say what
    it holds. Skipped files named otherwise are only listed (a README), as
    are those that cannot be a list (:func:`_may_hold_a_list`: ``How to unsubscribe.pdf``, an
    editor's lock) and a compressed or backed-up copy of a file that is read
    (``unsubscribes.csv.gz`` beside ``unsubscribes.csv``).

    Args:
        skipped: The zip's or folder's files that are not read.
        read: The files of it that are read.

    Raises:
        InputError: The first such file, the opt-out its name says, why it is not read, and
            what to do.
    """
    for file in skipped:
        if not _may_hold_a_list(file.uri) or file.uri.rsplit(".", 1)[0] in read:
            continue
        said = skipped_file_opt_out(file.uri)
        if said is not None:
            raise InputError(
                file.uri,
                f"its name says {said}, but it is not read ({file.reason}), so its people would not be opted out: "
                "rename it to .csv if it is delimited text (any delimiter; decompress a .gz first), else save it as "
                "CSV; or take it out of the source if it lists no opt-outs",
            )
        word = name_word(file.uri, LIKELY_OPT_OUT_LIST_WORDS)
        if word is not None:
            raise InputError(
                file.uri,
                f"its name ({word!r}) may name a list of opt-outs, but it is not read ({file.reason}): if it lists "
                "opt-outs, save it as CSV named for them (unsubscribes.csv), a name read as opting its people out; "
                "else take it out of the source",
            )


LIST_LIKE_SUFFIXES = frozenset({".txt", ".gz", ".bz2", ".xz", ".zst", ".bak", ".old", ".numbers", ".dat", ".tab", ".psv", ".json", ".xml"})
"""Endings of a file that may hold a list of people (text under another name, a compressed or
backed-up export, a Numbers sheet), as a document, an image or a web page does not
(``How to unsubscribe.pdf``)."""

_EDITOR_LEFTOVER = re.compile(r"(^\.~lock\.|~$|\.sw[a-p]$)", re.IGNORECASE)
"""An editor's lock, swap or backup of a file (LibreOffice's ``.~lock.unsubscribes.csv#``,
vim's ``.unsubscribes.csv.swp``, ``unsubscribes.xlsx~``): the file it stands beside is read."""


def _may_hold_a_list(uri: str) -> bool:
    """Whether a skipped file may be a list of people by its name's ending
    (:data:`LIST_LIKE_SUFFIXES`), not an editor's leftover (:data:`_EDITOR_LEFTOVER`)."""
    name = uri.rsplit("/", 1)[-1].rsplit("!", 1)[-1].rstrip("#")
    return not _EDITOR_LEFTOVER.search(name) and PurePosixPath(name.lower()).suffix in LIST_LIKE_SUFFIXES


LIKELY_OPT_OUT_LIST_WORDS = (
    "unsubscribers", "unsub", "dnc", "abuse",
    "desabonnes", "désabonnés", "désinscrits", "desinscritos", "bajas", "abgemeldet", "abmeldungen", "afmeldingen",
    "disiscritti",
)  # fmt: skip
"""Words of a file's name that may name an opt-out list though no profile reads its rows so
(``DNC list.txt``, ``abuse_reports.txt``, Mailchimp's file of abuse reports; a French, Spanish,
German, Dutch or Italian list of unsubscribes): a read file so named is no opt-out list by its
name alone (``unsub_survey_responses.csv``; "DNC" is as often a do-not-call list of phones), but
one left unread is refused for a person to say (:func:`refuse_skipped_opt_out_lists`)."""


def skipped_file_opt_out(uri: str) -> str | None:
    """The opt-out a file's name says to any bundled profile (``catalog.name_opt_out``: its file
    name words, or a Mailchimp export's status prefix), whatever the file's kind; None when no
    profile reads an opt-out in it.

    Args:
        uri: The file, as its source names it (only its own name counts).
    """
    mailchimp_status = mailchimp.status_from_filename(uri)
    name_statuses = {MAILCHIMP_PROFILE: mailchimp_status} if mailchimp_status else {}
    said = (name_opt_out(profile, uri, name_statuses) for profile in all_profiles())
    return next((status for status in said if status is not None), None)


def refuse_files_read_twice(files: Sequence[ReadFile]) -> None:
    """Refuse to read one file twice: the same path given twice, a folder and a file in it, a
    file and a symlink to it, a workbook and one of its sheets. Its rows would be counted twice,
    and each of its contacts merged with itself.

    Files are compared by what they are (``ReadFile.identity``: a local file's real path), not
    by how they were named.

    Args:
        files: Every file a run reads, from every source, in input order.

    Raises:
        InputError: The second name of the first file read twice, and its first name.
    """
    first_names: dict[str, str] = {}
    for file in files:
        key = file.identity or file.raw.uri
        if key in first_names:
            first = first_names[key]
            also = f" (as {first} too)" if first != file.raw.uri else ""
            raise InputError(file.raw.uri, f"given twice{also}: its rows would be counted twice; give each file once")
        first_names[key] = file.raw.uri


def read_api(source: str, scheme: str, staging_dir: Path, options: ReadOptions) -> ReadFile:
    """Read a provider API source with its provider's profile, the user's mapping and the run's
    consent overrides (``ReadOptions.applied``), each record's consent read as the provider's
    export file would read it (``read_as_export``): a merge or custom field named like a plain
    opt-out flag is read as one, and a Mailchimp audience's merge fields a mapping's
    ``[[status.rules]]`` read are read too; neither makes a Mailchimp member's own status less
    restrictive.

    Raises:
        InputError: Another profile is named for it, or the API cannot be read.
    """
    name = MAILCHIMP_PROFILE if scheme == MAILCHIMP_SCHEME else CONSTANT_CONTACT_PROFILE
    named = options.named_profile
    if named not in (None, name):
        raise InputError(source, f"an API source is read with the {name!r} profile, not {named!r}")
    profile = options.applied(reading_profile(name))
    if scheme == MAILCHIMP_SCHEME:
        audience = mailchimp_api.read_uri(source, staging_dir, os.environ, options.credentials)
        raw, profile = mailchimp_api.read_as_export(audience, profile, options.consent_overrides)
    else:
        contacts = constant_contact_api.read_uri(source, staging_dir, os.environ, profile, options.credentials)
        raw, profile = constant_contact_api.read_as_export(contacts, profile, options.consent_overrides)
    # One audience however named (``?since=``, a trailing slash): read twice, its rows would be
    # counted twice, and the second read overwrites the staged file the first one scans.
    name, _ = source_parts(source, f"{scheme}://<name>")
    return ReadFile(raw, profile, None, identity=f"{scheme}://{name}")


def read_file(staged: StagedFile, staging_dir: Path, options: ReadOptions, sheet: str | None = None) -> list[ReadFile]:
    """Read one staged file: a workbook's contact sheets (or the sheet named), each as a file
    of its own; any other file as itself.

    Args:
        staged: The file.
        staging_dir: Where staged sheets and transcoded copies go.
        options: Profile and mapping choices.
        sheet: The sheet the user named, for a workbook.

    Raises:
        InputError: The file cannot be read, or one of its tables cannot (see ``read_table``).
    """
    if not is_spreadsheet(staged.uri):
        plain, layout = normalise_text(staged, staging_dir)
        return [read_table(plain, options, layout)]
    with _ONE_WORKBOOK_AT_A_TIME:
        sheets = stage_sheets(
            staged,
            staging_dir,
            sheet,
            lambda headers: _is_contact_list(headers, options),
            lambda cells: _is_header_row(cells, options),
            HEADER_SEARCH_LINES,
            _unread_sheet_problem,
        )
    return [read_table(staged_sheet, options, None) for staged_sheet in sheets]


def _unread_sheet_problem(name: str) -> str | None:
    """Why a workbook's sheet with no contact list's header row must not be left unread: its name
    says it lists opt-outs (``Unsubscribed``, a sheet of bare addresses), whose people would be
    planned from the other sheets as if they had never opted out."""
    said = skipped_file_opt_out(name)
    if said is None:
        return None
    return (
        f"its name says {said}, but its first row names no email column, so the sheet is not read and its people would "
        "not be opted out: give it a header row naming its columns (Email, …), or delete the sheet if it lists no opt-outs"
    )


def read_table(staged: StagedFile, options: ReadOptions, layout: TextLayout | None) -> ReadFile:
    """Read one UTF-8 CSV (a text file made plain, a workbook's staged sheet): recognise it,
    scan it lazily.

    The rows' status is read from the profile's consent columns, the fallback profile's opt-out
    and bounce flags the profile does not read itself (``reading_fallback_opt_outs``: a flag set
    there is ``opt_out_flag_unconfirmed``, read only in a file whose name opts out nothing), and
    the file's name (a workbook sheet's name counts as the file's): the most restrictive reading
    wins; in a Mailchimp export, of the rules' readings and its file's status
    (``_read_by_status_rules_too``). A consent column repeated in the header is read in every
    copy (``scan_columns``).

    What the reading warns about (the encoding a text file is read in, the email column a name
    alone did not settle, dates read in an order nothing proves, or in none) is kept as the
    RawSource's ``notes``: the plan carries them into report.json and the run's warnings.

    Raises:
        InputError: The file cannot be parsed; the profile named for it, or the fallback profile
            no other profile's headers beat, would leave some of its consent columns unread; its
            header has no email column (saying which later line looks like the header, when one
            does).
    """
    check_parsable(staged)
    layout_notes = (layout.note,) if layout and layout.note else ()
    raw_headers, sample = read_head(staged)
    _refuse_headerless(staged.uri, raw_headers)
    names = [clean_header(header, position) for position, header in enumerate(raw_headers)]
    columns = [(names[positions[0]], positions) for positions in group_by_name(names).values()]
    headers = [header for header, _ in columns]
    profile = options.resolve(headers, staged.uri)
    _refuse_second_header_row(staged.uri, raw_headers, sample, profile)
    is_mailchimp_export = profile.format == mailchimp.FORMAT
    name_status = _name_status(profile, staged.uri)
    if name_status not in profile.profile.consent.opt_out_statuses:
        # A plain opt-out flag beside the profile's own columns is read too (unconfirmed: it may
        # merely share a flag's name; in a Mailchimp export, a merge field's), whichever profile
        # the headers or the user chose; the refusals weigh its column as read, never as the
        # opt-out a name gives a row whose flag holds nothing. A file whose name opts
        # out is read by its name and its profile's own columns, as before such flags were
        # read: a flag set agrees with the name. Another platform's consent column the
        # profile does not read is read so too (a merge field ``Email Suppressions``), but the
        # refusals weigh only the plain flags as read: such a column read as an unconfirmed
        # flag is no reason to let a profile that does not read it be forced on the file.
        checked = reading_fallback_opt_outs(profile, headers)
        profile = reading_opt_out_flags(profile, headers, options.consent_overrides)
    else:
        checked = profile
    if options.named_profile:
        _refuse_unread_consent(staged.uri, checked, headers)
    elif checked.name == FALLBACK_PROFILE:
        _refuse_unread_known_consent(staged.uri, checked, headers)
    if is_mailchimp_export:
        mapped = options.mapping.email if options.mapping else None
        raw = mailchimp.read_export_file(staged, checked=True, profile=profile, mapped_email=mapped)
        raw = dataclasses.replace(raw, notes=layout_notes)
        return ReadFile(_read_by_status_rules_too(raw, profile), profile, layout, staged.key)
    emails, email_notes = _email_columns(staged.uri, profile, columns, sample, options)
    if not emails:
        email, email_notes = _unnamed_email_column(staged, profile, columns, sample)
        emails = [email]
    file_status = name_status or profile.default_status
    time_readings, time_notes = _time_readings(staged, columns, profile, file_status)
    frame = (
        scan_columns(staged, columns, file_status, emails[0], profile)
        .with_columns(_clean(header) for header in headers)
        .with_columns(pl.coalesce([non_empty(e) for e in emails]).alias(emails[0]))
        .with_columns(
            profile.status_expr(headers, name_status).alias(SOURCE_STATUS),
            pl.lit(profile.format, dtype=pl.String).alias(SOURCE_FORMAT),
            *(
                parse_time(pl.col(header).str.strip_chars(), reading).alias(parsed_time_column(header))
                for header, reading in time_readings.items()
            ),
        )
    )
    raw = RawSource(
        uri=staged.uri,
        status=PER_ROW_STATUS if consent_headers(profile, headers) else file_status,
        format=profile.format,
        headers=headers,
        duplicate_headers=list(repeated_headers(columns)),
        frame=frame,
        email_column=emails[0],
        local_path=staged.path,
        status_values=profile.status_values(headers),
        header_copies=repeated_headers(columns),
        consent_copies=repeated_consent_headers(columns, profile),
        notes=(*layout_notes, *email_notes, *time_notes),
    )
    return ReadFile(raw, profile, layout, staged.key)


def _read_by_status_rules_too(export: RawSource, profile: ReadingProfile) -> RawSource:
    """A Mailchimp export whose columns some status rule of ``profile`` reads (a plain opt-out
    flag among its merge fields, a mapping's ``[[status.rules]]``), each row's status being
    the most restrictive of its file's and the rules' readings
    (``ReadingProfile.floored_status_expr``): Mailchimp's own status is never made less
    restrictive, and an opt-out a column holds is never lost. ``export`` itself when no rule
    reads a column of it.

    In a file whose name opts its members out, Mailchimp's own status columns (``UNSUB_TIME``,
    ``CLEAN_TIME``) say what the name says, so only a mapping's rules are read there."""
    if export.status in profile.profile.consent.opt_out_statuses:
        profile = dataclasses.replace(profile, rules=profile.mapping_rules)
    if not consent_headers(profile, export.headers):
        return export
    floored = with_statuses(export, profile, profile.floored_status_expr(export.headers, export.status))
    return dataclasses.replace(floored, status=PER_ROW_STATUS)


def _refuse_unread_consent(uri: str, named: ReadingProfile, headers: Sequence[str]) -> None:
    """Refuse a file whose consent the profile the user named would not read (``unread_consent``).

    Raises:
        InputError: ``<file>:1:`` which columns (or which status in the name) would go unread,
            and the profile that reads them.
    """
    file_name, sheet = split_sheet(uri)
    # A Mailchimp export's status is in its name, read by the Mailchimp reader, not a profile
    # table; so is the status in any file's name read as Mailchimp's (``read_table``).
    is_export = mailchimp.is_export_filename(file_name)
    mailchimp_status = mailchimp.status_from_filename(file_name) if is_export or named.name == MAILCHIMP_PROFILE else None
    name_statuses = {MAILCHIMP_PROFILE: mailchimp_status} if mailchimp_status else {}
    unread = unread_consent(named, headers, file_name, name_statuses, sheet, auto_profile=MAILCHIMP_PROFILE if is_export else None)
    if unread is not None:
        raise InputError(uri, unread.problem(), line=1)


def _refuse_unread_known_consent(uri: str, profile: ReadingProfile, headers: Sequence[str]) -> None:
    """Refuse a file read with the fallback profile that leaves a consent column some bundled
    profile reads unread (``unread_known_consent``): no one profile reads all of its consent
    columns, so which reads the file is the user's choice.

    Raises:
        InputError: ``<file>:1:`` which columns would go unread, and a profile that reads them.
    """
    unread = unread_known_consent(profile, headers)
    if unread is not None:
        raise InputError(uri, unread.problem(), line=1)


def _email_columns(
    uri: str, profile: ReadingProfile, columns: list[tuple[str, list[int]]], sample: list[list[str]], options: ReadOptions
) -> tuple[list[str], tuple[str, ...]]:
    """The columns a file's header names as its email columns, in order of preference (a later
    one fills a row the first leaves blank), empty when its header names none; and the warning
    a choice between them gives, if one does.

    The header is read for the profile's email headers, then a plain ``Email`` or ``Email
    Address`` (``EMAIL_HEADERS``, what any profile takes). When the first holds (almost) no
    addresses in the sampled records (``Email`` holding a ``Yes``/``No`` channel preference)
    while another column does, a name alone does not settle it (``_address_email_columns``);
    the column a user's mapping names is taken as named.

    Raises:
        InputError: The named column holds no addresses, and which other one does is for the
            user to say.
    """
    headers = [header for header, _ in columns]
    named = profile.email_headers(headers) or [header for header in headers if header.casefold() in EMAIL_HEADERS]
    mapped = options.mapping.email if options.mapping else None
    if not named or (mapped is not None and named[0].casefold() == mapped.strip().casefold()):
        return named, ()
    positions = dict(columns)
    shares = {header: address_share(column_values(positions[header], sample)) for header in headers}
    preferences = {header for header in named if _is_preference(column_values(positions[header], sample))}
    return _address_email_columns(uri, named, shares, preferences)


def _is_preference(values: list[str]) -> bool:
    """Whether an email header's sampled cells are all yes/no words, placeholders aside (``Email``
    holding a ``Yes``/``No`` channel preference): no email column, whatever share of them is
    blank (a blank is no evidence, nor is ``none``/``N/A``)."""
    said = {value.casefold() for value in values} - NULL_WORDS
    return bool(said) and said <= TRUTHY | FALSY


def _address_email_columns(
    uri: str, named: list[str], shares: Mapping[str, float | None], preferences: set[str]
) -> tuple[list[str], tuple[str, ...]]:
    """The email columns a header names, once the sampled cells of each are weighed, and the
    warning taking another column than the first gives.

    A named column holding yes/no words alone (``preferences``) is no email column: it never
    fills a row's address. The first named column is kept unless it is one, while another
    column holds addresses (``HOLDS_ADDRESSES_SHARE``): a sample of placeholders or blanks at the
    top of a file says nothing, and a column of a few addresses among invalid values is the
    email still, its bad rows rejected one by one. Then exactly one other named
    column holding addresses is taken in its place, with a warning: of two columns a profile
    names as the email, the one holding addresses is the contacts' (the other is dropped from
    the email columns, so its cells never fill a row's address, and is read as a property of
    its own). Otherwise (several named ones hold addresses, or only a column the profile does not
    name as an email does) a person must say which: every row would be rejected for an invalid
    address, or the wrong addresses taken.

    Args:
        uri: The file, named in the refusal.
        named: The header's email columns, in order of preference.
        shares: Each header → the share of its sampled cells holding an address (``address_share``).
        preferences: The named columns holding yes/no words alone (``_is_preference``).

    Raises:
        InputError: ``<file>:1:`` the named column holding no addresses, those that do, and how
            to name one.
    """
    first = named[0]
    addresses = [header for header in named if header not in preferences] or named
    if first not in preferences:
        return addresses, ()
    holding = [header for header, share in shares.items() if _holds_addresses(share)]
    if not holding:
        return addresses, ()  # no sampled cell holds one: each row is rejected for its own, if it must
    named_holding = [header for header in named if header in holding]
    if len(named_holding) == 1:
        [taken] = named_holding
        warning = (
            f"the column {first!r} holds no email addresses and {taken!r} does: {taken!r} is read as the email column; "
            f"to read another, {EMAIL_MAPPING_FIX}"
        )
        return [taken, *(header for header in addresses if header != taken)], (warning,)
    raise InputError(
        uri,
        f"the email column {first!r} holds no email addresses, but {_quoted(named_holding or holding)} "
        f"{'do' if len(named_holding or holding) > 1 else 'does'}: {EMAIL_MAPPING_FIX}",
        line=1,
    )


def _holds_addresses(share: float | None) -> bool:
    return share is not None and share >= HOLDS_ADDRESSES_SHARE


def _a_column_of_addresses(values: list[str], records: int) -> bool:
    """Whether a column's sampled cells make it a column of addresses: at least half of the
    sampled records hold a value, and at least half of those are an address as a whole (no
    space in it), not a comment mentioning one (``forwarded by bob@corp.com``) nor a sparse
    ``Referred By``."""
    whole = [value for value in values if " " not in value]
    return len(values) * 2 >= records and _holds_addresses(address_share(whole) if len(whole) * 2 >= len(values) else 0.0)


def _quoted(headers: Sequence[str]) -> str:
    return ", ".join(repr(header) for header in headers)


def _unnamed_email_column(
    staged: StagedFile, profile: ReadingProfile, columns: list[tuple[str, list[int]]], sample: list[list[str]]
) -> tuple[str, tuple[str, ...]]:
    """The email column of a file whose header row names none the profile knows: its first
    column, when that holds addresses (or the file no values yet) and no other column does; and
    the warning naming it, when it holds addresses.

    A title line above the real header is refused first: taken as the header, it would let the
    renamed-first-column guess take the real header's column of addresses for the file's own,
    and every row would be rejected for reasons that do not say why. A file where several
    columns hold addresses (``Owner Email,Contact Email``) is refused: which is the contacts'
    is for a person to say, and the wrong one would give every row a sales rep's address (and
    a customer's opt-out to the rep).

    Raises:
        InputError: A later line looks like the header, several columns hold addresses, or the
            first column holds none (naming the column that does, if one does).
    """
    header_line = _later_header_line(staged, profile)
    if header_line is not None:
        raise InputError(
            staged.uri,
            f"no email column in the header; line {header_line} looks like the header: remove the lines above it",
            line=1,
        )
    holding = [
        header
        for header, positions in columns
        if header.casefold() not in mailchimp.SYSTEM_COLUMNS and _a_column_of_addresses(column_values(positions, sample), len(sample))
    ]
    if len(holding) > 1:
        raise InputError(
            staged.uri,
            f"no header names the email column, and {len(holding)} columns hold addresses ({_quoted(holding)}): "
            f"{EMAIL_MAPPING_FIX}",
            line=1,
        )
    email = detect_email_column(columns, sample)
    if email is None or (holding and holding != [email]):
        expected = f"no email column: expected one of {', '.join(profile.email_columns)} ({profile.profile.label})"
        found = f"; the column {holding[0]!r} holds addresses: to read it, {EMAIL_MAPPING_FIX}" if holding else ""
        raise InputError(staged.uri, expected + found, line=1)
    if not holding:
        return email, ()
    warning = (
        f"no header names the email column: {email!r}, the only column holding addresses, is read as the email "
        f"column; to read another, {EMAIL_MAPPING_FIX}"
    )
    return email, (warning,)


def _later_header_line(staged: StagedFile, profile: ReadingProfile) -> int | None:
    """The first line after line 1, within HEADER_SEARCH_LINES, that reads as a header row."""
    with staged.path.open(encoding="utf-8-sig", newline="") as handle:
        records = csv.reader(handle)
        try:
            next(records, None)
            start = records.line_num + 1  # a record may span lines (a quoted newline)
            for record in records:
                if start > HEADER_SEARCH_LINES:
                    break
                if _looks_like_header(record, profile):
                    return start
                start = records.line_num + 1
        except csv.Error:
            pass  # a record the reader refuses (a cell over its size limit) ends the search
    return None


def _refuse_second_header_row(uri: str, raw_headers: Sequence[str], sample: Sequence[Sequence[str]], profile: ReadingProfile) -> None:
    """Refuse a file whose header takes two rows (Excel's merged cells: ``Email,Name,,Preferences,``
    over ``,First Name,Last Name,Newsletter,Unsubscribed``): its second row would be read as a
    contact with no address, and the columns it names under the first row's blank cells (an
    opt-out flag) would go unread.

    Merged cells leave the first row blank where a group spans columns, so the evidence is a
    column name (``_names_a_column``) in the first record under a blank header cell, in a record
    holding no address. A one-row header's first contact without an address (its ``Status`` of
    ``Unsubscribed`` under a named column) is data.

    Raises:
        InputError: Line 2 is such a record, saying what it names under the blank cells.
    """
    if not sample or any("@" in cell for cell in sample[0]):
        return
    under_blanks = [
        cell.strip()
        for header, cell in zip(raw_headers, sample[0])
        if mailchimp.is_blank_header(header) and _names_a_column(cell.strip(), profile)
    ]
    if under_blanks:
        raise InputError(
            uri,
            f"the row under the header names columns under its blank cells ({_quoted(under_blanks)}): a header of two "
            "rows? Make it one row naming each column (Email, First Name, Unsubscribed, …), then plan again",
            line=2,
        )


def _names_a_column(cell: str, profile: ReadingProfile) -> bool:
    """Whether a cell is a column's name: one the profile routes to a property or reads for
    consent or an email column, or one that looks like consent (``Unsubscribed``)."""
    known = {name.casefold() for name in (*profile.profile.default_properties, *profile.profile.custom_properties)}
    return bool(cell) and (
        cell.casefold() in known or _names_email_column([cell], profile) or bool(consent_headers(profile, [cell])) or looks_like_consent(cell)
    )


def _looks_like_header(cells: Sequence[str], profile: ReadingProfile) -> bool:
    """Whether a row reads as a contact list's header: an email column's name, and no address
    (a data row may say "Email" as a preferred channel, beside its address)."""
    names = [cell.strip() for cell in cells]
    return _names_email_column(names, profile) and not any("@" in name for name in names)


def _names_email_column(headers: Sequence[str], profile: ReadingProfile) -> bool:
    """Whether trimmed headers name an email column: one of the profile's, or a plain "Email"
    or "Email Address" (what ``detect_email_column`` takes whatever the profile)."""
    return bool(profile.email_headers(headers)) or any(header.casefold() in EMAIL_HEADERS for header in headers)


def _clean(header: str) -> pl.Expr:
    return pl.col(header).str.replace(_EXCEL_TEXT_NUMBER, "${1}").alias(header)


def _time_readings(
    staged: StagedFile, columns: list[tuple[str, list[int]]], profile: ReadingProfile, status: str
) -> tuple[dict[str, TimeReading], tuple[str, ...]]:
    """How each of a file's time columns (``ReadingProfile.timestamp_columns``) is read
    (``catalog.time_reading``), and the warnings the reading gives.

    Numeric dates are read in the order the user's mapping or the profile declares
    (``date_order``); else in the order the column's own values prove, else the file's other
    time columns (``catalog.orders_to_read``: a UK report's ``13/02/2024`` makes its
    ``05/02/2024`` the 5th of February), else in the order of the profile's formats. Only a file
    with a time column whose profile reads numeric dates (``05/02/2024``) in an order nobody
    declares is looked at before it is staged: one pass over its time columns. A column whose
    dates are read in both orders is read without a guess (a date the two orders read
    differently is no time), with a warning naming a value of each order; dates read in the
    profile's order for want of any proving one, with a warning naming one of them.

    Args:
        staged: The file.
        columns: Each header with the positions it occupies (``group_by_name``).
        profile: The profile it is read with, the user's mapping applied.
        status: The status its rows carry before their consent columns are read (for the scan).
    """
    times = [header for header, _ in columns if header.strip().lower() in profile.timestamp_columns()]
    formats = profile.timestamp_formats
    if not times or profile.date_order is not None or formats_date_order(formats) is None:
        return {header: time_reading(formats, profile.date_order) for header in times}, ()
    # Each order a column's dates prove, and, where nothing proves one, whether some date is
    # read as the profile's order guesses (DATES_READ_APART).
    proofs = {
        (header, said): proof
        for header in times
        for said, proof in date_order_evidence(pl.col(header).str.strip_chars(), formats).items()
    }
    firsts = (
        scan_columns(staged, columns, status)
        .select(
            pl.struct(pl.col(SOURCE_ROW).filter(proof).first().alias("row"), pl.col(header).filter(proof).first().alias("value"))
            .alias(f"{number}")
            for number, ((header, _), proof) in enumerate(proofs.items())
        )
        .collect()
        .row(0)
    )
    examples: dict[str, str] = {}
    proven: dict[str, set[str]] = {header: set() for header in times}
    for ((header, order), _), first in zip(proofs.items(), firsts, strict=True):
        if first["row"] is not None:
            proven[header].add(order)
            examples.setdefault(order, f"{header} row {first['row']}: {first['value']}")
    doubted = {header for header, orders in proven.items() if DATES_READ_APART in orders}
    proven = {header: orders - {DATES_READ_APART} for header, orders in proven.items()}
    orders = orders_to_read(proven)
    warnings: list[str] = []
    guessed = [header for header in times if header in doubted and not orders[header]]
    if guessed:
        # Read in the profile's order as before, but a person should know: another export of the
        # same system, proving the other order, would be read otherwise (a merge or a sync
        # would then rank its rows by days that are not theirs).
        guess = formats_date_order(formats)
        warnings.append(
            f"no date of {_quoted(guessed)} says whether it is written day or month first ({examples[DATES_READ_APART]}): "
            f"read {guess.replace('_', ' ')}, the {profile.name} profile's order; if the file writes them otherwise, "
            f'name its order in a mapping (date_order = "{DAY_FIRST if guess == MONTH_FIRST else MONTH_FIRST}")'
        )
    unguessed = [header for header in times if len(orders[header]) == len(DATE_ORDERS)]
    if unguessed:
        warnings.append(
            f"dates are written day first ({examples[DAY_FIRST]}) and month first ({examples[MONTH_FIRST]}): in "
            f"{_quoted(unguessed)}, a date the two orders read differently (05/02/2024) is read as no time; to read it, "
            "name the file's order in a mapping "
            '(date_order = "day_first" or "month_first")'
        )
    return {header: time_reading(formats, proven=orders[header]) for header in times}, tuple(warnings)


_HOLDS_AN_ADDRESS = re.compile(r"[^\s@,;:<>()\[\]\"]+@[^\s@,;:<>()\[\]\"']+\.[^\s@,;:<>()\[\]\"']+")
"""A cell holding an email address, bare or in a name (``o'brien@example.com``, ``<ann@x.com>``,
``Ann Lee <ann@x.com>``): no column's name."""


def _refuse_headerless(uri: str, first_row: Sequence[str]) -> None:
    """Refuse a file whose first line is a record, not a header: an opt-out list of bare
    addresses (``unsubscribes.csv`` of one address a line) read so would take its first address
    for a column's name, and that person, never opted out, could be marketed from another file.
    A line above the header (``Exported by,admin@acme.com``) is refused so too.

    Raises:
        InputError: A cell of the first line holds an email address.
    """
    position = next((number for number, cell in enumerate(first_row, start=1) if _HOLDS_AN_ADDRESS.search(cell)), None)
    if position is not None:
        raise InputError(
            uri,
            f"the first line holds an email address (column {position}) where the column names should be: remove any "
            "line above the header, or, if the file has no header line, add one naming its columns (Email, …)",
            line=1,
        )


def _is_header_row(cells: list[str], options: ReadOptions) -> bool:
    """Whether a workbook's later row reads as a header (``_looks_like_header``), under the
    profile its names resolve to."""
    return _looks_like_header(cells, options.resolve([cell.strip() for cell in cells if cell.strip()]))


def _is_contact_list(headers: list[str], options: ReadOptions) -> bool:
    """Whether a sheet's first row is a contact list's header: it has an email column."""
    cleaned = [h.strip() for h in headers if h and h.strip()]
    return bool(cleaned) and _names_email_column(cleaned, options.resolve(cleaned))
