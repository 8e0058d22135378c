"""The run's ledger: every row read is rejected, merged into another, or a contact.

``rows_read == rows_rejected + duplicates_merged + marketing + non_marketing + opted_out``
always holds; :func:`build_report` refuses to write a report where it does not.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import fsspec
import polars as pl

from schemas import lineage
from schemas.contact import OUTCOME, PROVENANCE, ROWS_MERGED, SOURCES, SOURCES_SEPARATOR
from tasks.csv_safety import sink_safe_csv
from tasks.extract.excel import split_sheet
from tasks.output import OutputFolder
from tasks.extract.api_settings import PER_ROW_STATUS
from tasks.hubspot_limits import MAX_OPTIONS_PER_PROPERTY
from tasks.privacy import mask_emails_in
from tasks.transform.catalog import NAME_DISAGREES_STATUS, NAME_ONLY_COLUMN, name_opt_out_of, negated_name_words_of
from tasks.transform.consent import OPT_OUT_FLAG_UNCONFIRMED_STATUS, Outcome
from tasks.transform.contacts import CHANGE_TIMES_UNREAD
from tasks.transform.rejected_opt_outs import UNMATCHED_FILE
from tasks.typed_values import VALUE_REJECTS_FILE, value_reject_warnings

REPORT_FILE = "report.json"
REJECTS_FILE = "rejects.csv"

REJECT_COLUMNS = {
    lineage.SOURCE_URI: "source",
    lineage.SOURCE_ROW: "row",
    lineage.SOURCE_STATUS: "status",
    lineage.SOURCE_FORMAT: "format",
    lineage.EXTRA_FIELDS: "extra fields",
    lineage.REJECT_REASON: "reason",
}
"""Lineage column → its header in rejects.csv."""
SOURCE_COLUMN_SUFFIX = " (in the file)"
"""Added in rejects.csv to a source column named as one of its own (:data:`REJECT_COLUMNS`): a
SendGrid bounce export's ``reason``, a newsletter tool's ``status``."""

_SOURCE_ROW_SUFFIX = r":\d+$"
"""What ends each ``uri:row`` of a contact's ``sources``: stripped, the file is left."""


class LedgerError(AssertionError):
    """The ledger does not balance: a bug in Onramp, never to be written as a report."""


@dataclass(frozen=True)
class SourceSummary:
    """What one source file contributed.

    Attributes:
        unread_status_values: Values of its consent columns that no status rule reads, with
            the rows holding each and the status and outcome they got (see
            ``tasks.plan.StagedFile``), most rows first.
        duplicate_headers: Its repeated headers: each one's ``column``, ``copies``, the
            ``rows_disagreeing`` where its copies hold different values, and what such a row
            ``keeps`` (see ``tasks.plan.StagedFile``).
        notes: What reading it warned about, each a sentence without the file's name
            (``RawSource.notes``: read as Mac Roman, the email column a name alone did not
            settle, dates read in an order nothing proves).
    """

    uri: str
    format: str
    status: str
    rows: int
    rejected: int
    unread_status_values: tuple[dict, ...] = ()
    duplicate_headers: tuple[dict, ...] = ()
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {
            "uri": self.uri,
            "format": self.format,
            "status": self.status,
            "rows": self.rows,
            "rejected": self.rejected,
            "unread_status_values": list(self.unread_status_values),
            "duplicate_headers": list(self.duplicate_headers),
            "notes": list(self.notes),
        }


UNREAD_VALUES_SHOWN = 5
"""Unread consent values named per file on the console and in the markdown report (report.json
has them all)."""


def _first_named(names: list[str], shown: int) -> str:
    """The first ``shown`` of ``names``, comma-separated, and how many more there are
    (``a, b and 3 more``): the console and the human reports name a few, report.json all."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def source_warnings(report: dict) -> list[str]:
    """What a person should read about the run's sources, one line each, for the console, the
    flow's log and the human reports (``report.json`` holds the details).

    Each kind of warning is one function of the report in ``SOURCE_WARNINGS``.
    """
    return [line for warnings in SOURCE_WARNINGS for line in warnings(report)]


def reading_note_warnings(report: dict) -> list[str]:
    """One line per warning reading a source file gave (its ``notes``): how the file was read
    (Mac Roman), which column was read as the email, dates read in an order nothing proves or in
    none. Such a file is planned, but a person should check that it was read as meant."""
    # A note quotes the file's header and cells: logs mask every address.
    return [
        f"warning: {source['uri']}: {mask_emails_in(note)}" for source in report["sources"] for note in source.get("notes") or []
    ]


def unread_status_warnings(report: dict) -> list[str]:
    """One line per source file with consent values no status rule reads.

    Such a value (Constant Contact's ``Deleted``, an opt-out flag of ``opted out``) may be an
    opt-out no rule knows, so its row is never marketing (``catalog.ReadingProfile.status_expr``:
    the status ``unrecognised`` unless an opt-out is read elsewhere): the safe side, but a
    person should see it, and may read the value with a mapping's ``[[status.rules]]``.
    """
    lines = []
    for source in report["sources"]:
        unread = [
            u
            for u in source.get("unread_status_values") or []
            if u["status"] not in (NAME_DISAGREES_STATUS, OPT_OUT_FLAG_UNCONFIRMED_STATUS) and u["column"] != NAME_ONLY_COLUMN
        ]
        if not unread:
            continue
        named = _first_named(
            [f"{u['column']}={u['value']!r} in {u['rows']} row(s), read as {u['status']} ({u['outcome']})" for u in unread],
            UNREAD_VALUES_SHOWN,
        )
        rows = sum(u["rows"] for u in unread)
        lines.append(
            f"warning: {source['uri']}: {rows} consent cell(s) hold a value no status rule reads: {named}; "
            "read them with a mapping's [[status.rules]]"
        )
    return lines


def _planned(status: str, outcome: str) -> str:
    """How rows of a ``status`` a person should confirm are planned (their ``outcome``), and
    the ``--consent`` that plans them opted out."""
    confirm = f"--consent {status}=opted_out"
    if outcome == Outcome.OPTED_OUT:
        return f"planned opted out ({confirm})"
    return f"planned non-marketing (neither opted out nor marketing); if they did opt out, {confirm} says so"


class _RowsToConfirm(NamedTuple):
    """A source file's rows of a status a person should confirm (:func:`_rows_to_confirm`).

    Attributes:
        source: The source file's entry in the report's ``sources``.
        rows: How many.
        values: The values their consent cells hold, each once, ``/``-separated.
        columns: The columns holding them, each once, comma-separated.
        planned: How they are planned, and the ``--consent`` that plans them opted out.
    """

    source: dict
    rows: int
    values: str
    columns: str
    planned: str


def _rows_to_confirm(report: dict, status: str) -> list[_RowsToConfirm]:
    """Per source file with rows of ``status`` (among its ``unread_status_values``), those rows."""
    found = []
    for source in report["sources"]:
        unread = [u for u in source.get("unread_status_values") or [] if u["status"] == status]
        if not unread:
            continue
        found.append(
            _RowsToConfirm(
                source=source,
                rows=sum(u["rows"] for u in unread),
                values="/".join(dict.fromkeys(u["value"] for u in unread)),
                columns=", ".join(dict.fromkeys(u["column"] for u in unread)),
                planned=_planned(status, unread[0]["outcome"]),
            )
        )
    return found


def name_disagrees_warnings(report: dict) -> list[str]:
    """One line per source file whose name says an opt-out that some rows' columns contradict.

    Such rows (``bounces.csv`` whose Email Status says ``Active``) are planned non-marketing
    unless the run maps ``catalog.NAME_DISAGREES_STATUS`` to opted out, as the line says: an
    opt-out inferred from a name may be wrong (a brand, a topic) and HubSpot does not let an API
    client undo it; a person should decide.
    """
    lines = []
    for found in _rows_to_confirm(report, NAME_DISAGREES_STATUS):
        said = name_opt_out_of(found.source["format"], *split_sheet(found.source["uri"])) or "an opt-out"
        lines.append(
            f"warning: {found.source['uri']}: its name says {said}, but {found.rows} row(s) read {found.values} from their "
            f"columns ({found.columns}): {found.planned}; if the name is no opt-out, rename the file"
        )
    return lines


def unconfirmed_flag_warnings(report: dict) -> list[str]:
    """One line per source file whose rows set an opt-out or bounce flag its profile does not
    read itself (``catalog.reading_fallback_opt_outs``: a HubSpot export's ``Bounced``).

    Such rows (``OPT_OUT_FLAG_UNCONFIRMED_STATUS``) are planned non-marketing unless the run
    maps the status to opted out, as the line says: the column may merely share a flag's name
    (a count, a postal preference), and HubSpot does not let an API client undo an opt-out; a
    person should decide.
    """
    lines = []
    for found in _rows_to_confirm(report, OPT_OUT_FLAG_UNCONFIRMED_STATUS):
        read_as = found.source["format"].partition("+")[0]
        lines.append(
            f"warning: {found.source['uri']}: {found.rows} row(s) set an opt-out flag ({found.columns}: {found.values}) "
            f"that a {read_as} file does not read as consent, so it may merely share a flag's name: {found.planned}"
        )
    return lines


def name_only_warnings(report: dict) -> list[str]:
    """One line per source file whose name alone opts out some rows: those no consent column
    reads (a file with no consent column, or rows whose consent cells hold nothing).

    An opt-out inferred from a name may be wrong (``Customer Complaints 2024.csv``) and HubSpot
    does not let an API client undo it: a person should see how many rows it decides.
    """
    lines = []
    for source in report["sources"]:
        said = name_opt_out_of(source["format"], *split_sheet(source["uri"]))
        if said is None:
            continue
        if source["status"] == PER_ROW_STATUS:
            unread = source.get("unread_status_values") or []
            rows = sum(u["rows"] for u in unread if u["column"] == NAME_ONLY_COLUMN)
        else:
            rows = source["rows"] - source["rejected"] if source["status"] == said else 0
        if rows:
            lines.append(f"warning: {source['uri']}: its name says {said}: {rows} row(s) no column reads are opted out")
    return lines


def negated_name_warnings(report: dict) -> list[str]:
    """One line per source file whose name holds a status word a negation next to it cancels
    (``Unsubscribed_non-members.csv``): the name is not read, and a person should know why."""
    return [
        f"warning: {source['uri']}: its name mentions {word!r} beside {negation!r}: not read as a status"
        for source in report["sources"]
        for word, negation in negated_name_words_of(source["format"], *split_sheet(source["uri"]))
    ]


def duplicate_header_warnings(report: dict) -> list[str]:
    """One line per repeated header whose copies hold different values in some row.

    Only one value of such a row is kept (or, for the email header, the row is rejected): the
    others are not planned, so a person should know. Copies that agree, or where all but one
    are empty (old Mailchimp exports repeat ``UNSUB_REASON``), lose nothing and say nothing.
    """
    return [
        f"warning: {source['uri']}: the column {duplicate['column']!r} appears {duplicate['copies']} times, "
        f"with different values in {duplicate['rows_disagreeing']} row(s): {duplicate['keeps']}"
        for source in report["sources"]
        for duplicate in source.get("duplicate_headers") or []
        if duplicate["rows_disagreeing"]
    ]


SKIPPED_FILES_SHOWN = 5
"""Skipped files named on the console and in the human reports (report.json lists them all)."""


def skipped_file_warnings(report: dict) -> list[str]:
    """One line naming the files of the sources' zips and folders that were not read."""
    skipped = report.get("skipped_files") or []
    if not skipped:
        return []
    named = _first_named([file["uri"] for file in skipped], SKIPPED_FILES_SHOWN)
    return [
        f"warning: {len(skipped)} file(s) in the sources are not read (only CSV and TSV files, workbooks and .txt "
        "tables whose first line names the email column are): "
        f"{named}; rename one that holds contacts to .csv to read it"
    ]


def rejected_opt_out_warnings(report: dict) -> list[str]:
    """One line when rejected opt-out rows opted out contacts or addresses
    (``tasks.transform.rejected_opt_outs``): rows a person should mend at the source."""
    counts = report.get("rejected_opt_outs") or {}
    contacts, addresses = counts.get("contacts_opted_out", 0), counts.get("addresses_without_contact", 0)
    if not contacts and not addresses:
        return []
    return [
        f"warning: rejected opt-out rows name {contacts} contact(s), planned as opted out, and {addresses} "
        f"address(es) no contact has, opted out by address ({UNMATCHED_FILE}); "
        "their rows are in rejects.csv"
    ]


def unread_change_time_warnings(report: dict) -> list[str]:
    """One line per source file with change times no format of its source reads
    (``tasks.transform.contacts.count_unread_change_times``).

    Such a row counts as one without a change time: a dated row of its email, however old,
    gives the contact's properties. Most often the file writes its dates in a form or an order
    its profile does not read (``31/12/2024`` in a file read month first), which a mapping's
    ``date_order`` may settle.
    """
    by_source: dict[str, list[dict]] = {}
    for count in report.get(CHANGE_TIMES_UNREAD) or []:
        by_source.setdefault(count["source"], []).append(count)
    return [
        f"warning: {source}: {sum(c['rows'] for c in counts)} change time(s) no format of this source reads "
        f"({_change_times_named(counts)}): those rows count as undated, so a dated row of the same email gives "
        "the properties; write them as 2024-12-31 13:45, or, if numeric dates are read in the wrong order, name "
        'the order in a mapping (date_order = "day_first" or "month_first")'
        for source, counts in by_source.items()
    ]


def _change_times_named(counts: list[dict]) -> str:
    """``Last Modified: 2, first on row 2 ("31/12/2024")``, for each column of one file."""
    # The cell is quoted as written, but for an address in it (logs mask every address).
    return "; ".join(
        f"{c['column']}: {c['rows']}, first on row {c['first_row']} "
        f"({mask_emails_in(json.dumps(c['first_value'], ensure_ascii=False))})"
        for c in counts
    )


OPTIONS_LEFT_OUT = "options_left_out"
"""The load's properties report's values left out of the rows sent, by property (no room among
the property's options: ``tasks/load/properties.py``)."""

OPTIONS_OVER_LIMIT = "options_over_limit"
"""The report's enumeration properties with more distinct values than HubSpot holds options
(``tasks.hubspot_limits.MAX_OPTIONS_PER_PROPERTY``): property name → its distinct values."""


def options_limit_warnings(report: dict) -> list[str]:
    """One line per enumeration property with more distinct values than HubSpot holds options.

    The plan keeps every value (it cannot know the options the portal's property has already):
    the load makes options of the most frequent that fit and sends the rows without the rest
    (``tasks/load/properties.py``).
    """
    return [
        f"warning: property {name}: {count:,} distinct values, more than the {MAX_OPTIONS_PER_PROPERTY:,} options "
        f"HubSpot holds: the load keeps the {MAX_OPTIONS_PER_PROPERTY:,} most frequent (fewer if the portal's property "
        "has other options) and sends the rows without the rest, each in report.json load.errors"
        for name, count in (report.get(OPTIONS_OVER_LIMIT) or {}).items()
    ]


SOURCE_WARNINGS: tuple[Callable[[dict], list[str]], ...] = (
    reading_note_warnings,
    unread_status_warnings,
    name_disagrees_warnings,
    unconfirmed_flag_warnings,
    name_only_warnings,
    negated_name_warnings,
    rejected_opt_out_warnings,
    duplicate_header_warnings,
    skipped_file_warnings,
    value_reject_warnings,
    unread_change_time_warnings,
    options_limit_warnings,
)
"""Every kind of source warning :func:`source_warnings` gives, in the order they are shown."""


def build_report(
    sources: Sequence[SourceSummary],
    contacts: pl.DataFrame | pl.LazyFrame,
    columns: Sequence[dict],
    plan: dict,
    skipped_files: Sequence[dict] = (),
) -> dict:
    """Assemble the ledger of a plan.

    Args:
        sources: One summary per source file.
        contacts: The merged contacts, in memory or lazily (only ``outcome``, ``rows_merged``,
            ``onramp_provenance`` and, for merged contacts, ``sources`` are read).
        columns: Where every source column went.
        plan: The written plan (its files are listed in the report).
        skipped_files: The files of the sources' zips and folders that were not read, each
            its ``uri`` and ``reason``.

    Raises:
        LedgerError: The counts do not balance.
    """
    per_combination, several = pl.collect_all([_per_combination(contacts.lazy()), _several_sources(contacts.lazy())])
    outcomes = {o.value: 0 for o in Outcome}
    for row in per_combination.iter_rows(named=True):
        outcomes[row[OUTCOME]] += row["contacts"]
    rows_read = sum(s.rows for s in sources)
    rows_rejected = sum(s.rejected for s in sources)
    duplicates_merged = int(per_combination.get_column("rows").sum()) - int(per_combination.get_column("contacts").sum())
    report = {
        "rows_read": rows_read,
        "rows_rejected": rows_rejected,
        "duplicates_merged": duplicates_merged,
        "contacts": outcomes,
        "sources": [s.as_dict() for s in sources],
        "skipped_files": list(skipped_files),
        "provenance": {
            "several_sources": int(several.item()),
            "combinations": [
                {"provenance": row[PROVENANCE], "outcome": row[OUTCOME], "contacts": row["contacts"]}
                for row in per_combination.iter_rows(named=True)
            ],
        },
        "columns": list(columns),
        OPTIONS_OVER_LIMIT: {
            prop["name"]: len(prop["options"])
            for prop in plan.get("properties", ())
            if len(prop.get("options") or ()) > MAX_OPTIONS_PER_PROPERTY
        },
        "files": {
            "rejects": REJECTS_FILE,
            "value_rejects": VALUE_REJECTS_FILE,
            "imports": [{"file": i["file"], "outcome": i["outcome"], "rows": i["rows"]} for i in plan["imports"]],
            "opt_outs": [{"file": o["file"], "status": o["status"], "rows": o["rows"]} for o in plan["opt_outs"]],
            "lineage": plan["lineage"],
            "plan": "plan.json",
        },
    }
    check_ledger(report)
    return report


def _per_combination(contacts: pl.LazyFrame) -> pl.LazyFrame:
    """Contacts and rows per provenance and outcome, most contacts first (then by name)."""
    return (
        contacts.group_by(PROVENANCE, OUTCOME)
        .agg(pl.len().alias("contacts"), pl.col(ROWS_MERGED).cast(pl.Int64).sum().alias("rows"))
        .sort(["contacts", PROVENANCE, OUTCOME], descending=[True, False, False])
    )


def _several_sources(contacts: pl.LazyFrame) -> pl.LazyFrame:
    """How many contacts were merged from rows of more than one source file.

    Only merged contacts are looked at: most contacts have one row, and parsing ``sources``
    is the one costly step here.
    """
    files = pl.col(SOURCES).str.split(SOURCES_SEPARATOR).list.eval(pl.element().str.replace(_SOURCE_ROW_SUFFIX, ""))
    return contacts.filter(pl.col(ROWS_MERGED) > 1).select((files.list.n_unique() > 1).sum())


def check_ledger(report: dict) -> None:
    """Raise :class:`LedgerError` unless every row read is accounted for, and every contact has
    its provenance counted (in a report that has a ``provenance`` section)."""
    accounted = report["rows_rejected"] + report["duplicates_merged"] + sum(report["contacts"].values())
    if report["rows_read"] != accounted:
        raise LedgerError(f"ledger does not balance: {report['rows_read']} rows read, {accounted} accounted for")
    provenance = report.get("provenance")
    if provenance is not None:
        counted = sum(c["contacts"] for c in provenance["combinations"])
        if counted != sum(report["contacts"].values()):
            raise LedgerError(f"provenance does not balance: {counted} contacts counted, {sum(report['contacts'].values())} planned")


def write_rejects(rejects: Sequence[pl.LazyFrame], out: OutputFolder) -> int:
    """Stream every rejected row to ``rejects.csv``: lineage, reason, original values.

    Args:
        rejects: Each file's rejects (lineage, reason, original values), lazily, in input
            order; each is scanned once for its count, so they should be cheap to scan.
        out: The run's output folder.

    Returns:
        The number of rows written.
    """
    counted = [(r, r.select(pl.len()).collect().item()) for r in rejects]
    # Only files with rejects add their columns to the header.
    frames = [_with_reject_headers(r) for r, count in counted if count]
    if frames:
        table = pl.concat(frames, how="diagonal_relaxed")
    else:
        table = pl.LazyFrame(schema={"source": pl.String, "row": pl.Int64, "status": pl.String, "format": pl.String, "reason": pl.String})
    sink_safe_csv(table, out.path(REJECTS_FILE))
    return sum(count for _, count in counted)


def _with_reject_headers(rejects: pl.LazyFrame) -> pl.LazyFrame:
    """A file's rejects under rejects.csv's headers: its lineage columns renamed
    (:data:`REJECT_COLUMNS`), and any column of the file named as one of them marked as the
    file's (:data:`SOURCE_COLUMN_SUFFIX`)."""
    own = set(REJECT_COLUMNS.values())
    sources = {name: f"{name}{SOURCE_COLUMN_SUFFIX}" for name in rejects.collect_schema().names() if name in own}
    return rejects.rename(sources).rename(REJECT_COLUMNS, strict=False)


def write_report(report: dict, out: OutputFolder) -> str:
    """Write ``report.json``; returns where a person finds it."""
    out.path(REPORT_FILE).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out.location(REPORT_FILE)


REPORT_TIME_SLACK = datetime.timedelta(seconds=2)
"""How much older than a run's start its own report may look (:func:`report_written_since`)."""


def report_written_since(output: str, since: datetime.datetime) -> dict | None:
    """The ``report.json`` in ``output`` (a path or fsspec URL) if it was written since ``since``
    (an aware time: a run's start), so by that run, never an earlier one's; else None (none
    there, unreadable, or older).

    File systems keep coarse times (S3 whole seconds, a local disk its kernel's tick, behind the
    clock read at the start): a report written at once would look older than the run, so it may
    look :data:`REPORT_TIME_SLACK` older.
    """
    location = f"{output.rstrip('/')}/{REPORT_FILE}"
    try:
        fs, path = fsspec.core.url_to_fs(location)
        if fs.modified(path).astimezone(datetime.UTC) < since - REPORT_TIME_SLACK:
            return None
        with fs.open(path, "r", encoding="utf-8") as handle:
            report = json.load(handle)
    except (OSError, ValueError, NotImplementedError):
        return None
    return report if isinstance(report, dict) else None


def summary_rows(report: dict) -> list[dict]:
    """The ledger as table rows (one per source file, then totals), for artifacts and the CLI."""
    rows = [
        {"source": s["uri"], "status": s["status"], "rows": s["rows"], "rejected": s["rejected"]}
        for s in report["sources"]
    ]
    rows.append({"source": "TOTAL", "status": "", "rows": report["rows_read"], "rejected": report["rows_rejected"]})
    return rows


def portal_named(section: dict) -> str:
    """The portal a load or a dry run talked to, by its id when HubSpot said it."""
    if section.get("portal_id") is None:
        return f"HubSpot ({section['portal']})"
    return f"HubSpot portal {section['portal_id']} ({section['account_type']}) at {section['portal']}"


def _files_sent(results: list[dict]) -> str:
    """How the load's contacts files went, counted as HubSpot holds them: ``2 import(s)``, or
    ``1 import(s), 2 file(s) by batch upsert (the marketing status of 1 of them by import)`` (a
    file sent by batch upsert is no import; its contacts' marketing status is set by one). An
    import HubSpot ended ``FAILED`` and the run submitted again is one more: each counts toward
    the portal's imports a day (``3 import(s) (1 of them FAILED and submitted again)``), and so
    is an earlier run's marketing-status import a rerun took up beside its own
    (``earlier_import_ids``)."""
    from tasks.load.upsert import UPSERT

    upserted = [result for result in results if result.get("path") == UPSERT]
    marked = sum(bool(result.get("import_id")) for result in upserted)
    again = sum(len(result.get("previous_import_ids") or []) for result in results)
    # A file HubSpot refused to import at creation has no import id: no import of it exists.
    taken_up = sum(len(result.get("earlier_import_ids") or []) for result in results)
    created = sum(bool(result.get("import_id")) for result in results) + again + taken_up
    imports = f"{created} import(s)" + (f" ({again} of them FAILED and submitted again)" if again else "")
    if not upserted:
        return imports
    return f"{imports}, {len(upserted)} file(s) by batch upsert" + (
        f" (the marketing status of {marked} of them by import)" if marked else ""
    )


def not_associated(load: dict) -> int:
    """The rows a load with companies left without their company: contacts HubSpot holds but
    would not associate with it, or whose company it would not create (``load.companies.errors``)."""
    return (load.get("companies") or {}).get("not_associated", 0)


MARKETING_BILLING_HINT = (
    "Marketing contacts are billed: they count toward the portal's HubSpot marketing-contacts tier, and going over it "
    "upgrades the tier automatically. `--consent STATUS=non_marketing` (the flow's consent_overrides) imports a "
    "status's contacts as non-marketing."
)
"""What a person should know before marketing contacts are made
(https://knowledge.hubspot.com/account/understand-marketing-contacts-billing)."""


def marketing_billing_hint(report: dict) -> str | None:
    """:data:`MARKETING_BILLING_HINT`, said once beside the ledger's marketing count, for a run
    that plans marketing contacts; None for one that plans none."""
    return MARKETING_BILLING_HINT if report["contacts"]["marketing"] else None


def list_removals_failed(load: dict) -> int:
    """How many contacts HubSpot would not take out of the load's static lists (opted out, or no
    longer marketing in the source): their rows went through, so ``rows_failed`` leaves them
    out, but they are among ``load.errors``, and a sync sends them again next run. Each contact
    counts once (by planned file and line, or its HubSpot id where no line names it), however
    many lists refused it."""
    from tasks.load.lists import REMOVE_FAILED

    return len({
        (error["file"], error.get("line") or f"id {error.get('record_id')}")
        for error in load.get("errors", [])
        if error.get("error_type") == REMOVE_FAILED
    })


def rows_left_out_of_read_back(load: dict) -> int:
    """How many planned rows the load's read-back from HubSpot did not check
    (``tasks/load/reconcile.py`` leaves out every row a ``row`` error names): the rows failed,
    and the rows whose contact HubSpot would not take out of a list, each once."""
    from tasks.load.lists import REMOVE_FAILED

    row_errors = [error for error in load.get("errors", []) if error.get("scope") == "row" and error.get("line")]
    failed = {(error["file"], error["line"]) for error in row_errors if error.get("error_type") != REMOVE_FAILED}
    not_removed = {(error["file"], error["line"]) for error in row_errors if error.get("error_type") == REMOVE_FAILED}
    return load.get("rows_failed", 0) + len(not_removed - failed)


def lists_not_static(load: dict) -> list[str]:
    """The warnings for the load's lists, planned or earlier, that a person turned into lists no
    longer static: Onramp takes nobody out of them, so they fail no run."""
    from tasks.load.lists import not_static_warning

    return [
        not_static_warning(static["name"], static["list_id"], static["not_static"])
        for planned in load.get("lists", [])
        for static in (planned, *planned.get("earlier_lists", []))
        if static.get("not_static") and static.get("list_id")
    ]


LOAD_FAILURES = ("rows_failed", "list_removals_failed")
"""What a load can leave for the next run to send again, each of which fails the command: rows
HubSpot did not take, and contacts it would not take out of a static list."""


def load_failures(load: dict) -> dict[str, int]:
    """A load's :data:`LOAD_FAILURES`, by name: ``rows_failed``, and
    ``list_removals_failed`` (:func:`list_removals_failed`)."""
    return {"rows_failed": load.get("rows_failed", 0), "list_removals_failed": list_removals_failed(load)}


def load_failed(load: dict) -> bool:
    """Whether HubSpot did not take something of the load that must be sent again
    (:func:`load_failures`): a row, or a contact's removal from a static list. Such a load
    fails the command."""
    return any(load_failures(load).values())


def pending_opt_out_lines(report: dict) -> list[str]:
    """What a sync run did with the opt-outs HubSpot had not taken before (pending), as the console
    says it: how many it sent again (to send again, in a dry run), of which those no planned file
    holds, by why, and how many HubSpot did not take this run, pending still
    (``sync.opt_outs_still_pending``). Nothing when all are zero, or the run is no sync."""
    sync = report.get("sync")
    if not sync:
        return []
    lines = []
    again = sync.get("opt_outs_sent_again", 0)
    if again:
        gone, unlisted = sync.get("opt_outs_no_longer_in_sources", 0), sync.get("opt_outs_not_listed_by_providers", 0)
        lines.append(
            f"sync: {again} pending opt-out(s) HubSpot had not taken {'to send' if 'dry_run' in report else 'sent'} again: "
            f"{gone} of contacts no source gives any more, {unlisted} of contacts a provider read for its changes did not list"
        )
    still_pending = sync.get("opt_outs_still_pending", 0)
    if still_pending:
        lines.append(f"sync: {still_pending} opt-out(s) HubSpot did not take stay pending, sent again next run (report.json load.errors)")
    return lines


def kept_non_marketing_lines(load: dict) -> list[str]:
    """The contacts of marketing files the load sent as non-marketing as HubSpot holds them, one
    line each kind with any: unsubscribed from all email, and (a sync's) made marketing by an
    earlier run but set non-marketing by a person in HubSpot since."""
    opted_out = (load.get("kept_non_marketing_opted_out") or {}).get("count")
    as_set = (load.get("kept_non_marketing_as_set_in_hubspot") or {}).get("count")
    return [
        *([f"{opted_out} contact(s) HubSpot holds as unsubscribed from all email sent as non-marketing "
           "(report.json load.kept_non_marketing_opted_out)"] if opted_out else []),
        *([f"{as_set} contact(s) an earlier sync made marketing that HubSpot holds set non-marketing sent as non-marketing, "
           "not billed again (report.json load.kept_non_marketing_as_set_in_hubspot)"] if as_set else []),
    ]  # fmt: skip


def load_lines(load: dict) -> list[str]:
    """What a load did, as the console and the markdown report say it: the portal, the files,
    opt-outs and rows failed (and the rows loaded without some values or without their company,
    and the contacts HubSpot would not take out of a static list), then one indented line each
    for the static lists, the contacts kept non-marketing, the companies, what the read-back
    found amiss and the load's warnings (imports a day)."""
    refused = load.get("rows_with_value_errors", 0)
    without_company = not_associated(load)
    not_removed = list_removals_failed(load)
    lines = [
        f"{portal_named(load)}: {_files_sent(load['imports'])}, "
        f"{load['opt_outs']['unsubscribed']} opted out, {load['rows_failed']} row(s) failed"
        + (f", {refused} row(s) with values HubSpot refused" if refused else "")
        + (f", {not_removed} contact(s) HubSpot would not take out of a list" if not_removed else "")
        + (" (report.json load.errors)" if load["rows_failed"] or refused or not_removed else "")
        + (f", {without_company} row(s) not associated with their company (report.json load.companies.errors)"
           if without_company else "")
    ]
    for static in (item for item in load.get("lists", []) if "name" in item and item["list_id"]):
        removed, not_removed = static.get("removed_opted_out", 0), static.get("remove_failed", 0)
        left = static.get("removed_non_marketing", 0)
        lines.append(
            f"  list {static['name']!r} (id {static['list_id']}): {static['added']} contacts added"
            + (f", {removed} opted-out contact(s) removed" if removed else "")
            + (f", {left} contact(s) no longer marketing in the source removed" if left else "")
            + (f", {not_removed} contact(s) not removed (report.json load.errors)" if not_removed else "")
            + (f", {static['waiting']} waiting for their file's import (the same command adds them)"
               if static.get("waiting") else "")
            + (f", {static['not_added']} not added: the list is no longer static" if static.get("not_added") else "")
        )
        lines += [
            f"    earlier list {earlier['name']!r} (id {earlier['list_id']}): {earlier['removed_opted_out']} opted-out contact(s) removed"
            + (f", {earlier['remove_failed']} contact(s) not removed (report.json load.errors)" if earlier.get("remove_failed") else "")
            for earlier in static.get("earlier_lists", [])
        ]
    lines += [f"  {line}" for line in kept_non_marketing_lines(load)]
    for name, values in ((load.get("properties") or {}).get(OPTIONS_LEFT_OUT) or {}).items():
        lines.append(
            f"  property {name}: {len(values):,} value(s) left out of the rows sent, no room for them among the "
            f"{MAX_OPTIONS_PER_PROPERTY:,} options HubSpot holds (report.json load.properties.{OPTIONS_LEFT_OUT})"
        )
    companies = load.get("companies")
    if companies:
        missing, waiting = companies.get("missing", 0), companies.get("waiting", 0)
        lines.append(
            f"  companies: {companies['created']} created, {companies['existing']} existing, {companies['associated']} contacts associated"
            + (f", {missing} contact(s) not in HubSpot (their rows failed)" if missing else "")
            + (f", {waiting} contact(s) waiting for their file's import (the same command does them)" if waiting else "")
        )
    mismatches = read_back_mismatches(load)
    if mismatches:
        lines.append(f"  read back from HubSpot: {mismatches_said(mismatches)} (report.json load.reconciliation)")
    lines += [f"  warning: {warning}" for warning in (*lists_not_static(load), *load.get("warnings", []))]
    return lines


def read_back_mismatches(load: dict) -> dict[str, int]:
    """What the load's read-back from HubSpot found amiss, by check (``load.reconciliation.by_check``,
    the checks that found nothing left out)."""
    by_check = (load.get("reconciliation") or {}).get("by_check") or {}
    return {check: count for check, count in by_check.items() if count}


def mismatches_said(mismatches: dict[str, int]) -> str:
    """Read-back mismatches as the console says them: ``33 not-marketing, 1 opted-out-made-marketing``."""
    return ", ".join(f"{count} {check}" for check, count in mismatches.items())


PROVENANCE_ROWS_SHOWN = 20
"""The most common provenance combinations the human reports show (report.json has them all)."""


def markdown_report(report: dict) -> str:
    """A short human report of the run: the ledger, outcomes, files and load results."""
    c = report["contacts"]
    billing = marketing_billing_hint(report)
    lines = [
        "# Onramp run report",
        "",
        "| rows read | rejected | duplicates merged | marketing | non-marketing | opted out |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {report['rows_read']} | {report['rows_rejected']} | {report['duplicates_merged']} "
        f"| {c['marketing']} | {c['non_marketing']} | {c['opted_out']} |",
        *([f"\n{billing}"] if billing else []),
        "",
        "## Sources",
        "",
        "| file | status | rows | rejected |",
        "|---|---|---:|---:|",
        *(f"| `{s['uri']}` | {s['status']} | {s['rows']} | {s['rejected']} |" for s in report["sources"]),
        *(f"\n{line}" for line in source_warnings(report)),
        *_provenance_lines(report.get("provenance")),
        "",
        "## Files",
        "",
        *(f"- `{i['file']}`: {i['rows']} {i['outcome']} contacts" for i in report["files"]["imports"]),
        *(f"- `{o['file']}`: {o['rows']} opted out ({o['status']})" for o in report["files"]["opt_outs"]),
        f"- `{report['files']['rejects']}`: {report['rows_rejected']} rejected rows",
        f"- `{VALUE_REJECTS_FILE}`: {sum(d['values'] for d in report.get('values_dropped', []))} value(s) not sent",
    ]
    load = report.get("load")
    if load:
        # Indented lines go one level down: markdown nests a list item under the one above it.
        lines += ["", "## Load", "", *(f"{line[:len(line) - len(line.lstrip())]}- {line.lstrip()}" for line in load_lines(load))]
    return "\n".join(lines) + "\n"


def _provenance_lines(provenance: dict | None) -> list[str]:
    """The markdown report's provenance section: the most common combinations first."""
    if provenance is None:
        return []
    combinations = provenance["combinations"]
    more = len(combinations) - PROVENANCE_ROWS_SHOWN
    return [
        "",
        "## Provenance",
        "",
        f"{provenance['several_sources']} contact(s) merged from more than one source file; "
        "each contact's sources are in its `onramp_provenance` property.",
        "",
        "| sources (format:status) | outcome | contacts |",
        "|---|---|---:|",
        *(f"| {_table_cell(c['provenance'])} | {c['outcome']} | {c['contacts']} |" for c in combinations[:PROVENANCE_ROWS_SHOWN]),
        *([f"\n{more} more combination(s) in `report.json`."] if more > 0 else []),
    ]


def _table_cell(text: str) -> str:
    """Text for a markdown table cell: a status is source data, and a ``|`` in it must not
    split the row."""
    return text.replace("|", r"\|")
