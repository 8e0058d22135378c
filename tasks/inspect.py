"""What Onramp would make of a source, before anything runs: ``onramp profiles`` and ``onramp inspect``."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl

from schemas.lineage import SOURCE_STATUS
from tasks.extract import mailchimp
from tasks.extract.api_helpers import source_parts
from tasks.extract.api_settings import API_SOURCE_KINDS, MAILCHIMP_PROFILE, PER_ROW_STATUS, api_scheme
from tasks.extract.excel import split_sheet
from tasks.extract.tables import ReadFile, ReadOptions, read_source
from tasks.extract.text import stray_quote_refusal
from tasks.transform.catalog import all_profiles, consent_headers, describe, reading_profile

NO_STATUS = "(no status)"
"""How the inspection text names the rows with no status (their outcome: the default)."""


def profiles_text() -> str:
    """Every profile: its name (for ``--profile``), format, label and what its statuses mean."""
    lines = []
    for profile in all_profiles():
        statuses = ", ".join(f"{s}→{o.value}" for s, o in profile.profile.consent.outcomes.items())
        lines.append(f"{profile.name:<16} {profile.format:<24} {profile.profile.label}")
        lines.append(f"{'':<16} consent: {statuses or 'from the file name'}")
    return "\n".join(lines)


def inspect_source(source: str, options: ReadOptions = ReadOptions()) -> list[dict]:
    """Read a source as a plan would and say how: one entry per file.

    Each entry is :func:`tasks.transform.catalog.describe` plus ``uri``, ``rows``,
    ``status_counts`` (status → rows, with its outcome; a status of None: rows with none, a
    Mailchimp member the API gives no status), ``unread_row_status`` (the status of a row no
    consent column reads: the file's name's, else the profile's default), and how it was
    read: a file's ``encoding`` and ``delimiter``, an API source's ``api`` (``provider``,
    ``endpoint``, ``consent``: where each row's status comes from, the record's own status and
    the columns read beside it).

    Raises:
        InputError: The source cannot be read, or the mapping names a column none of its files
            has (as a plan of this source would refuse it).
    """
    with tempfile.TemporaryDirectory(prefix="onramp-inspect-") as staging:
        files = read_source(source, Path(staging), options)
        if options.mapping:
            options.mapping.check_headers(header for file in files for header in file.raw.headers)
        return [_describe_file(read) for read in files]


def _describe_file(read: ReadFile) -> dict:
    return {
        "uri": read.raw.uri,
        **_how_read(read),
        **describe(read.profile, read.raw.headers, read.raw.email_column),
        "unread_row_status": _unread_row_status(read),
        **_row_counts(read),
        "notes": list(read.raw.notes),
    }


def _row_counts(read: ReadFile) -> dict:
    """``rows`` and ``status_counts``, every cell parsed as a plan parses it.

    Raises:
        InputError: A cell the plan would refuse (``"O"Brien``): polars parses only the columns
            a query reads, so counting the statuses alone would pass it.
    """
    # Collected, not selected away afterwards: the optimiser would drop an aggregate no one reads.
    every_cell = pl.sum_horizontal(pl.all().exclude(SOURCE_STATUS).null_count()).alias("empty_cells")
    try:
        counts = read.raw.frame.group_by(SOURCE_STATUS).agg(pl.len(), every_cell).sort(SOURCE_STATUS).collect()
    except pl.exceptions.ComputeError as error:
        refusal = stray_quote_refusal(error, read.raw.local_path, read.raw.uri)
        if refusal is None:
            raise
        raise refusal from error
    policy = read.profile.profile.consent
    return {
        "rows": int(counts.get_column("len").sum()),
        "status_counts": [
            {"status": status, "outcome": policy.outcome_of(status).value, "rows": rows}
            for status, rows in counts.select(SOURCE_STATUS, "len").iter_rows()
        ],
    }


def _unread_row_status(read: ReadFile) -> str:
    """The status a row no consent column reads gets: the one its file's (or sheet's) name gives,
    else the profile's default (``bounces.csv`` is bounced, not ``no_consent``); a Mailchimp
    export's, whose columns some rule reads too, the status Mailchimp names its file for
    (empty for an audience read through the API: each member's own)."""
    if read.raw.status != PER_ROW_STATUS:
        # The status every row of the file carries: its name's, or a Mailchimp export's.
        return read.raw.status
    file_name, sheet = split_sheet(read.raw.uri)
    if read.profile.name == MAILCHIMP_PROFILE:
        return mailchimp.status_from_filename(file_name) or ""
    return read.profile.file_status(file_name, sheet)


def _how_read(read: ReadFile) -> dict:
    """A file's encoding and delimiter; an API source's provider, request and consent."""
    scheme = api_scheme(read.raw.uri)
    if scheme is None:
        return {
            "encoding": read.layout.encoding if read.layout else "workbook",
            "delimiter": read.layout.delimiter if read.layout else None,
        }
    kind = API_SOURCE_KINDS[scheme]
    name, since = source_parts(read.raw.uri, "an API source URI")
    endpoint = kind.endpoint.format(name=name) + (f", changed since {since}" if since else "")
    return {"api": {"provider": kind.provider, "endpoint": endpoint, "consent": _api_consent(kind.consent, read)}}


def _api_consent(own_status: str, read: ReadFile) -> str:
    """Where an API record's status comes from: its own status (``own_status``, as the provider
    gives it), and the columns read beside it (a field named like an opt-out flag, a mapping's
    ``[[status.rules]]`` columns, every copy of a label two fields share), the most restrictive
    reading winning. The provider's profile's own consent columns are its own status."""
    own = set(consent_headers(reading_profile(read.profile.name), read.raw.headers))
    beside = [header for header in consent_headers(read.profile, read.raw.headers) if header not in own]
    if not beside:
        return own_status
    return f"{own_status}, and {', '.join(beside)} (the most restrictive reading)"


def inspection_text(files: list[dict]) -> str:
    """The inspection as a person reads it in a terminal."""
    blocks = []
    for entry in files:
        lines = [entry["uri"], *(_api_lines(entry) if "api" in entry else _file_lines(entry))]
        lines += [f"    {_status_name(c['status']):<28} → {c['outcome']:<14} {c['rows']} rows" for c in entry["status_counts"]]
        lines.append("  columns")
        lines += [f"    {c['column']:<32} → {c['property']} ({_route_kind(c)})" for c in entry["columns"]]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _route_kind(column: dict) -> str:
    """A column's kind of property, and when it shares the property, how."""
    if column.get("copy"):
        return f"{column['kind']}: the whole column"
    if column.get("after"):
        return f"{column['kind']}, where {' and '.join(column['after'])} {'is' if len(column['after']) == 1 else 'are'} blank"
    return column["kind"]


def _status_name(status: str | None) -> str:
    """A status as the inspection shows it: rows with none (a Mailchimp member the API gives no
    status) under ``NO_STATUS``."""
    return NO_STATUS if status is None else status


def _file_lines(entry: dict) -> list[str]:
    delimiter = {"\t": "tab", None: "-"}.get(entry["delimiter"], entry["delimiter"])
    return [
        f"  read as      {entry['format']} (profile {entry['profile']}), {entry['rows']} rows, "
        f"encoding {entry['encoding']}, delimiter {delimiter}",
        f"  email        {entry['email_column']}",
        f"  consent from {', '.join(entry['consent_columns']) or 'the file name'} "
        f"(a row nothing reads: {entry['unread_row_status'] or 'its file name'})",
        *_consent_like_lines(entry),
        *(f"  warning      {note}" for note in entry["notes"]),
    ]


def _consent_like_lines(entry: dict) -> list[str]:
    """The columns whose names look like consent that no status rule reads: imported as text,
    their values say nothing of a row's consent (a plain file's are refused unless a mapping
    sends them to a property)."""
    if not entry["consent_like_unread"]:
        return []
    return [f"  not consent  {', '.join(entry['consent_like_unread'])} (named like consent; imported as text, no status rule reads them)"]


def _api_lines(entry: dict) -> list[str]:
    api = entry["api"]
    return [
        f"  read from    {api['provider']}: {api['endpoint']}",
        f"  read as      {entry['format']} (profile {entry['profile']}), {entry['rows']} rows",
        f"  email        {entry['email_column']}",
        f"  consent from {api['consent']}",
        *_consent_like_lines(entry),
    ]
