"""Contacts of the marketing files whom HubSpot already holds as unsubscribed from all email:
sent as non-marketing.

A marketing import (``marketableContactImport: true``) makes every contact it names a marketing
contact, one HubSpot also holds as unsubscribed included: billed for, never emailed, and the API
cannot set the status back (``reference/hubspot-api.md`` §4). So before a contacts file is sent,
the load learns which of the marketing files' addresses HubSpot holds as unsubscribed
(``hs_email_optout``), and sends those rows as a non-marketing file of their own instead: still
created or updated with their properties, not made marketing, not added to the marketing list.

Learning it costs requests one of two ways, and the cheaper is taken:

- a CRM search for ``hs_email_optout = true``, 200 contacts a page at 5 requests a second, paged
  by ``hs_object_id`` (sorted ascending, a ``GT`` filter on the last id past each 10,000 results,
  the most one query pages through): its cost follows the portal's opt-outs;
- a batch read by email of the marketing files' own addresses, 100 a request, under the burst
  budget: its cost follows the files.

Only contacts are found: an address HubSpot holds as unsubscribed with no contact record yet
(one an opt-out file unsubscribed by address) is not, as only a subscription-status read per
address would find it (one request each without the Enterprise batch scope); the read-back
names it once the import has made it a contact (``opted-out-made-marketing``).

The first search page is always asked (one request: it says how many opt-outs the portal holds,
and holds them all in a portal with at most 200), then the cheaper way finishes.

An internationalised domain has two spellings, one mailbox: the plan writes Unicode
(``jane@bücher.de``), HubSpot may hold the ``xn--`` form (``jane@xn--bcher-kva.de``) and takes
the two for two contacts. A row whose address HubSpot holds only in the other spelling is sent
in HubSpot's (:func:`portal_spellings`), in whichever file it is sent, so the contact HubSpot
holds is updated (kept unsubscribed, not billed twice) rather than a second one created.

The files sent are derived into the load's work folder (:data:`FOLDER`), rewritten the same
way every run (so a rerun's steps find the same content, keys and import journal): each split
file's remaining rows under its planned name, its moved rows in ``<name>-opted-out.csv``, both
with their lineage (``tasks/load/plan_copies.py``), respelt addresses in HubSpot's spelling.
The load reports every row moved and every row respelt by its planned file and line, and its
errors and read-back speak of planned lines too (:meth:`KeptNonMarketing.as_planned`).

How a marketing file is sent is recorded before it is sent (``tasks/load/resume.py``,
:class:`~tasks.load.resume.SplitJournal`): a rerun after a stop, which may find the portal
changed (someone unsubscribed meanwhile), sends a file the stopped run submitted an import for
as that run did, so that import is taken up, not sent again beside a new split of the file.
"""

from __future__ import annotations

import csv
import re
import shutil
import time
from array import array
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl

from schemas.contact import INTERNATIONAL_DOMAIN, ascii_spelling, canonical_address
from tasks.errors import LoadError
from tasks.load import settings
from tasks.load.batches import chunked
from tasks.load.client import HubSpotPortal
from tasks.load.imports import EMAIL_COLUMN, adoptable_import
from tasks.load.log import get_logger
from tasks.load.optouts import normalise_email, normalised_emails
from tasks.load.plan import LoadPlan, read_header, tie_back
from tasks.load.plan_copies import PlannedLine, copy_lineage, planned_rows, write_derived_plan
from tasks.load.reconcile import (
    KEPT_NON_MARKETING,
    MARKETING_STATUS,
    OPTED_OUT_PROPERTY,
    READ_BATCH_SIZE,
    is_marketing,
    is_opted_out,
    read_contacts,
)
from tasks.load.resume import ImportJournal, SplitJournal
from tasks.load.retry import HttpError, describe
from tasks.privacy import mask_email

FOLDER = "opted-out-non-marketing"
"""Under the load's work folder: the files sent in place of split marketing files, as a plan."""
MOVED_SUFFIX = "-opted-out"
REPORT_KEY = "kept_non_marketing_opted_out"
SEARCH_PATH = f"/crm/v3/objects/{settings.CONTACT_OBJECT_TYPE}/search"
SEARCH_PAGE_SIZE = 200
# "Search can page through at most 10,000 results" (HubSpot docs): a query is started again
# from the last id seen before its next page would cross it.
SEARCH_MAX_RESULTS = 10_000
SEARCH, READ = "search", "read"
# Addresses learned per second each way, at the pace the rate budget holds requests to: a search
# page at CRM search's limit, a batch read at the smallest burst limit (the tier is known only
# once HubSpot has answered; a read also spends the daily quota, a reason to prefer search).
LEARNED_PER_SECOND = {
    SEARCH: SEARCH_PAGE_SIZE * settings.SEARCH_PER_SECOND,
    READ: READ_BATCH_SIZE * settings.DEFAULT_BURST_LIMIT / settings.DEFAULT_RATE_WINDOW_SECONDS,
}
_EXAMPLES_LOGGED = 5


def cheaper_lookup(opted_out_in_portal: int, marketing_rows: int) -> str:
    """:data:`SEARCH` or :data:`READ`, whichever learns the opted-out addresses sooner: search
    pages through the portal's opt-outs, reads go through the files' addresses (a tie searches)."""
    seconds = {
        SEARCH: opted_out_in_portal / LEARNED_PER_SECOND[SEARCH],
        READ: marketing_rows / LEARNED_PER_SECOND[READ],
    }
    return min((SEARCH, READ), key=seconds.__getitem__)


def _search_page(portal: HubSpotPortal, above_id: str | None, after: str | None) -> dict[str, Any]:
    """One page of the contacts HubSpot holds as unsubscribed from all email, by id, from
    ``above_id`` (exclusive) on."""
    filters = [{"propertyName": OPTED_OUT_PROPERTY, "operator": "EQ", "value": "true"}]
    if above_id is not None:
        filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": above_id})
    body = {
        "filterGroups": [{"filters": filters}],
        "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
        "properties": [EMAIL_COLUMN, OPTED_OUT_PROPERTY, MARKETING_STATUS],
        "limit": SEARCH_PAGE_SIZE,
        **({"after": after} if after else {}),
    }
    try:
        return portal.request("POST", SEARCH_PATH, json=body) or {}
    except HttpError as error:
        raise LoadError(
            f"cannot search HubSpot for the contacts it holds as unsubscribed from all email: {describe(error)}"
        ) from error


def with_other_spellings(emails: list[str]) -> list[str]:
    """The addresses, then the ``xn--`` spelling of each whose domain the plan spells in Unicode
    (:func:`ascii_spelling`): HubSpot may hold the mailbox under it (see :func:`_as_planned`)."""
    return [*emails, *filter(None, map(ascii_spelling, emails))]


def _as_planned(emails: set[str]) -> set[str]:
    """HubSpot's addresses spelt as the plan spells them: an internationalised domain HubSpot
    holds in its ``xn--`` form is in Unicode in the plan's files (:func:`canonical_address`), and
    both spellings are one mailbox. Only such addresses go through IDNA (Python, per address)."""
    international = re.compile(INTERNATIONAL_DOMAIN)
    return {canonical_address(email) if international.search(email) else email for email in emails}


def kept_non_marketing(contact: dict[str, Any] | None) -> bool:
    """Whether a marketing file's contact, as HubSpot holds it, is sent as non-marketing: it is
    unsubscribed from all email and not a marketing contact yet.

    One an earlier run or another tool already made marketing stays so whatever this load
    sends (HubSpot's API cannot set it back): its rows stay in the marketing file, where the
    read-back names it (``opted-out-made-marketing``), rather than being counted as kept
    non-marketing.
    """
    return is_opted_out(contact) and not is_marketing(contact)


def _emails(page: dict[str, Any]) -> set[str]:
    """A search page's contacts to keep non-marketing, by email."""
    found = {str((result.get("properties") or {}).get(EMAIL_COLUMN) or "").lower(): result for result in page.get("results") or []}
    return {email for email, contact in found.items() if email and kept_non_marketing(contact)}


def _search_rest(portal: HubSpotPortal, first: dict[str, Any]) -> tuple[set[str], int]:
    """The email of every contact to keep non-marketing (:func:`kept_non_marketing`), paging on
    from ``first``; with the requests sent."""
    emails, requests = _emails(first), 0
    page, above_id, seen_in_query = first, None, len(first.get("results") or [])
    while after := ((page.get("paging") or {}).get("next") or {}).get("after"):
        if seen_in_query + SEARCH_PAGE_SIZE > SEARCH_MAX_RESULTS and page.get("results"):
            above_id, after, seen_in_query = str(page["results"][-1]["id"]), None, 0
        page = _search_page(portal, above_id, after)
        requests += 1
        emails |= _emails(page)
        seen_in_query += len(page.get("results") or [])
    return emails, requests


def _file_emails(plan: LoadPlan, entry: dict[str, Any]) -> pl.LazyFrame:
    """A planned contacts file's ``line`` (header = 1) and ``email`` as HubSpot stores it."""
    path = plan.path(entry["file"])
    column = next((name for name in read_header(path) if name.strip().lower() == EMAIL_COLUMN), None)
    if column is None:
        raise LoadError(f"{entry['file']}: no {EMAIL_COLUMN!r} column in the header; nothing to upsert by")
    return (
        pl.scan_csv(path, infer_schema=False, glob=False)
        .with_row_index("line", offset=2)
        .select(pl.col("line").cast(pl.Int64), normalised_emails(pl.col(column)).alias("email"))
    )


def _read_opted_out(portal: HubSpotPortal, plan: LoadPlan, entries: list[dict[str, Any]]) -> tuple[set[str], int]:
    """The files' addresses HubSpot holds as unsubscribed, by batch reads; with the requests sent."""
    addresses = pl.concat([_file_emails(plan, entry).select("email") for entry in entries]).unique().drop_nulls().collect()
    emails: set[str] = set()
    requests = 0
    for batch in chunked(with_other_spellings(addresses["email"].to_list()), READ_BATCH_SIZE):
        found = read_contacts(portal, batch, [])
        requests += 1
        emails |= {email for email, contact in found.items() if kept_non_marketing(contact)}
    return emails, requests


def portal_opted_out(portal: HubSpotPortal, plan: LoadPlan, entries: list[dict[str, Any]]) -> tuple[set[str], dict[str, Any]]:
    """Which of the marketing files' addresses HubSpot holds as unsubscribed from all email.

    Args:
        portal: The portal.
        plan: The plan.
        entries: Its marketing files' entries.

    Returns:
        ``(emails, lookup)``: the opted-out addresses HubSpot holds (all of the portal's when
        searched, the files' own when read), and ``{"method", "requests", "opted_out_in_portal"}``.

    Raises:
        LoadError: HubSpot refused the search or a read (a missing scope, the daily quota).
    """
    first = _search_page(portal, None, None)
    total = int(first.get("total") or 0)
    more = len(first.get("results") or []) < total
    method = cheaper_lookup(total, sum(int(entry.get("rows") or 0) for entry in entries)) if more else SEARCH
    if method == SEARCH:
        emails, requests = _search_rest(portal, first)
    else:
        emails, requests = _read_opted_out(portal, plan, entries)
    return emails, {"method": method, "requests": requests + 1, "opted_out_in_portal": total}


@dataclass(frozen=True)
class KeptNonMarketing:
    """What :func:`keep_opted_out_non_marketing` did: the plan the load sends, and how its
    derived files' lines map back to the planned ones.

    Attributes:
        plan: The plan to load: the planned one, its split files replaced by the derived ones
            (:attr:`LoadPlan.derived`); the planned plan itself when nothing was split.
        report: The load report's :data:`REPORT_KEY`: ``{"count", "folder", "lookup", "rows":
            [{"file", "line", "sent_file", "sent_line", "sources"}], "respelt": {"count",
            "requests", "rows": [same]}, "sent_as_decided_before": [{"file", "decided_at"}]}``
            (``file``/``line`` the planned row; no email): the rows moved to non-marketing, the
            rows sent under HubSpot's ``xn--`` spelling of their address, and the marketing
            files sent as an earlier run decided (:func:`keep_opted_out_non_marketing`).
        planned: Per derived file: its planned file and, by its line - 2, the planned line.
    """

    plan: LoadPlan
    report: dict[str, Any]
    planned: dict[str, tuple[str, array]] = field(default_factory=dict)

    def as_planned(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Errors or mismatches (``file``, ``line``) on derived files moved, in place, onto the
        planned file and line they came from, so the report speaks of the plan's rows."""
        for row in rows:
            if row.get("file") in self.planned:
                file, lines = self.planned[row["file"]]
                row["file"] = file
                if row.get("line"):
                    row["line"] = lines[row["line"] - 2]
        return rows


def _moved_name(file: str) -> str:
    stem, dot, suffix = file.rpartition(".")
    return f"{stem}{MOVED_SUFFIX}.{suffix}" if dot else f"{file}{MOVED_SUFFIX}"


def _moved_entry(entry: dict[str, Any], rows: int) -> dict[str, Any]:
    """A split file's moved rows as a non-marketing file of the plan: no marketing status, no list."""
    moved = {key: value for key, value in entry.items() if key != "list"}
    name = entry.get("name")
    return {
        **moved,
        "file": _moved_name(entry["file"]),
        "rows": rows,
        "outcome": "non_marketing",
        "marketable": False,
        "create_list": False,
        KEPT_NON_MARKETING: True,
        **({"name": f"{name} (unsubscribed in HubSpot: non-marketing)"} if name else {}),
    }


@dataclass(frozen=True)
class Decision:
    """How one planned contacts file is sent, by its planned lines.

    Attributes:
        moved: The lines sent as non-marketing (HubSpot held them as unsubscribed).
        respelt: The lines sent under HubSpot's spelling of their address (:func:`portal_spellings`).
        decided_at: When it was decided (epoch milliseconds).
    """

    moved: frozenset[int] = frozenset()
    respelt: frozenset[int] = frozenset()
    decided_at: int = 0

    def same_sending(self, other: Decision) -> bool:
        """Whether ``other`` sends the same files (whenever it was decided)."""
        return (self.moved, self.respelt) == (other.moved, other.respelt)

    def record(self) -> dict[str, Any]:
        """As :class:`~tasks.load.resume.SplitJournal` keeps it."""
        return {"decided_at": self.decided_at, "moved": sorted(self.moved), "respelt": sorted(self.respelt)}

    @classmethod
    def of_record(cls, record: dict[str, Any]) -> Decision:
        """The decision a :class:`~tasks.load.resume.SplitJournal` record holds."""
        return cls(frozenset(record.get("moved") or ()), frozenset(record.get("respelt") or ()), int(record.get("decided_at") or 0))


def portal_spellings(portal: HubSpotPortal, plan: LoadPlan, entries: list[dict[str, Any]]) -> tuple[dict[str, str], int]:
    """The files' addresses HubSpot holds under another spelling only: an internationalised
    domain the plan spells in Unicode (:func:`canonical_address`) and HubSpot holds in its
    ``xn--`` form (:func:`ascii_spelling`), with no contact under the plan's.

    Sent as the plan spells it, such an address would be a second contact beside HubSpot's (not
    unsubscribed as it is, billed twice as a marketing one): the load sends HubSpot's spelling,
    so its contact is updated. Both spellings of each address are read (50 addresses a batch
    read); a plan without an internationalised address asks nothing.

    Returns:
        ``({planned address: HubSpot's spelling}, requests sent)``.
    """
    if not entries:
        return {}, 0
    international = pl.concat([_file_emails(plan, entry).select("email") for entry in entries]).filter(
        pl.col("email").str.contains(r"[^\x00-\x7f]")
    )
    addresses = international.unique().drop_nulls().collect()["email"].sort().to_list()
    pairs = [(address, spelt) for address in addresses if (spelt := ascii_spelling(address))]
    respelt: dict[str, str] = {}
    requests = 0
    for batch in chunked(pairs, READ_BATCH_SIZE // 2):
        found = read_contacts(portal, [spelling for pair in batch for spelling in pair], [])
        requests += 1
        respelt |= {address: spelt for address, spelt in batch if spelt in found and address not in found}
    return respelt, requests


def _respelt(cell: str) -> str:
    """A planned email cell with its domain as HubSpot spells it (:func:`ascii_spelling`); the
    rest of the cell (its local part, an apostrophe neutralising it) as it is."""
    spelt = ascii_spelling(normalise_email(cell))
    return cell if spelt is None else f"{cell.rpartition('@')[0]}@{spelt.rpartition('@')[2]}"


@dataclass(frozen=True)
class _Copied:
    """What :func:`_write_sent_copies` wrote: the planned lines kept in the file, those moved to
    its non-marketing file, and the moved rows' addresses (for the log)."""

    kept: list[int]
    moved: list[int]
    moved_emails: list[str]


def _write_sent_copies(plan: LoadPlan, file: str, decision: Decision, directory: Path) -> _Copied:
    """Copy a planned contacts file as ``decision`` sends it, in one pass: its rows still
    marketing under its planned name, its moved rows in ``<name>-opted-out.csv``, each respelt
    row's email cell in HubSpot's spelling; cells otherwise as they are."""
    header, email_index, rows = planned_rows(plan.path(file))
    copied = _Copied([], [], [])
    with ExitStack() as files:
        writers = {}
        for moved, name in ((False, file), (True, _moved_name(file))):
            if moved and not decision.moved:
                continue
            target = directory / name
            target.parent.mkdir(parents=True, exist_ok=True)
            writers[moved] = csv.writer(files.enter_context(target.open("w", newline="", encoding="utf-8")), lineterminator="\n")
            writers[moved].writerow(header)
        for line, cells in rows:
            if len(cells) <= email_index:
                continue
            moved = line in decision.moved
            if line in decision.respelt:
                cells = [*cells[:email_index], _respelt(cells[email_index]), *cells[email_index + 1 :]]
            writers[moved].writerow(cells)
            (copied.moved if moved else copied.kept).append(line)
            if moved:
                copied.moved_emails.append(normalise_email(cells[email_index]))
    return copied


def _write_split_files(
    plan: LoadPlan, decisions: dict[str, Decision], directory: Path
) -> tuple[LoadPlan, dict[str, tuple[str, array]], dict[str, list[str]]]:
    """Derive the files the load sends in place of the planned files some of whose rows move
    or are respelt (:class:`Decision`).

    Each such file becomes its rows still marketing (under its planned name) and its moved rows
    (``<name>-opted-out.csv``, non-marketing), both in ``directory`` with their lineage, as a
    plan (``plan.json``) of their own.

    Args:
        plan: The planned plan.
        decisions: Per planned file, how it is sent; a file without one, or whose sends it as
            planned, is sent as it is.
        directory: Where to write (the load's work folder's :data:`FOLDER`, which
            :func:`keep_opted_out_non_marketing` emptied: it holds only this run's files).

    Returns:
        The plan the load sends, :attr:`KeptNonMarketing.planned`, and per planned file its
        moved rows' addresses.

    Raises:
        LoadError: A split did not account for every row of its file (a row too short to have
            an email cell is neither kept nor moved).
    """
    directory.mkdir(parents=True)
    entries: list[dict[str, Any]] = []
    derived: list[dict[str, Any]] = []
    planned: dict[str, tuple[str, array]] = {}
    moved_emails: dict[str, list[str]] = {}
    lineage: dict[PlannedLine, PlannedLine] = {}
    for entry in plan.imports:
        decision = decisions.get(entry["file"], Decision())
        if not (decision.moved or decision.respelt):
            entries.append(entry)
            continue
        file, moved = entry["file"], _moved_name(entry["file"])
        copied = _write_sent_copies(plan, file, decision, directory)
        kept, sent = copied.kept, copied.moved
        if len(kept) + len(sent) != int(entry.get("rows") or 0):
            raise LoadError(
                f"{file}: {entry.get('rows')} rows planned, {len(kept)} kept as marketing and {len(sent)} moved to "
                f"{moved}: a row without an email cell cannot be split; fix the plan's file"
            )
        lineage.update(((file, old), (file, new)) for new, old in enumerate(kept, start=2))
        lineage.update(((file, old), (moved, new)) for new, old in enumerate(sent, start=2))
        planned[file] = (file, array("q", kept))
        pieces = [{**entry, "rows": len(kept)}] if kept else []
        if sent:
            planned[moved] = (file, array("q", sent))
            moved_emails[file] = copied.moved_emails
            pieces.append(_moved_entry(entry, len(sent)))
        if not kept:
            (directory / file).unlink()
        entries.extend(pieces)
        derived.extend(pieces)
    copy_lineage(plan.lineage_path, directory / "lineage.csv", lineage)
    sent_plan = LoadPlan(plan.directory, {**plan.data, "imports": entries}, derived=write_derived_plan(plan, derived, directory))
    return sent_plan, planned, moved_emails


def _submitted_since(portal: HubSpotPortal, intents: list[dict[str, Any]], file: str, since_ms: int) -> bool:
    """Whether the import journal's ``intents`` hold an import of ``file``'s sent files (its
    planned name or its moved rows', by base name, as the upsert path's marketing-status import
    is named) submitted at or after ``since_ms`` that HubSpot holds still running or ``DONE``
    (:func:`~tasks.load.imports.adoptable_import`). One that failed, or was never created (the
    day's quota spent at submission), is no import to take up: the file is decided again, so
    someone who unsubscribed since is looked up, not made marketing."""
    names = {name.rsplit("/", 1)[-1] for name in (file, _moved_name(file))}
    return any(
        str(intent.get("file") or "").rsplit("/", 1)[-1] in names
        and int(intent.get("intent_at") or 0) >= since_ms
        and adoptable_import(portal, intent) is not None
        for intent in intents
    )


def _decided_before(
    portal: HubSpotPortal, plan: LoadPlan, marketing: list[dict[str, Any]], splits: SplitJournal, imports: ImportJournal
) -> tuple[dict[str, Decision], dict[str, Decision]]:
    """The marketing files an earlier run decided how to send and then submitted an import
    for that HubSpot still runs or finished (a stopped run's may still be processing): each is
    sent as then, so its import is taken up rather than sent again beside it
    (``tasks/load/resume.py``).

    Returns:
        ``(taken up, recorded)``: per planned file, the decision to send it by, and every
        recorded decision (a fresh one the same is not recorded again).
    """
    recorded = {entry["file"]: record for entry in marketing if (record := splits.read(plan, entry)) is not None}
    intents = imports.intents() if recorded else []
    decisions = {file: Decision.of_record(record) for file, record in recorded.items()}
    taken_up = {file: decision for file, decision in decisions.items() if _submitted_since(portal, intents, file, decision.decided_at)}
    return taken_up, decisions


def keep_opted_out_non_marketing(
    portal: HubSpotPortal, plan: LoadPlan, state_dir: str | Path, records: str | Path | None = None
) -> KeptNonMarketing:
    """The plan to load: the marketing files' rows HubSpot holds as unsubscribed from all email
    moved to non-marketing files of their own, and every contacts file's addresses HubSpot holds
    under another spelling respelt as it does (see the module docstring).

    A marketing file an earlier run decided how to send, and submitted an import for, is sent as
    then (:func:`_decided_before`), whatever the portal holds now: the stopped run's import is
    taken up rather than sent again beside it, and the read-back names a contact it made
    marketing after the contact unsubscribed (``opted-out-made-marketing``). Every other file is
    decided now, a marketing file's decision recorded (:class:`~tasks.load.resume.SplitJournal`)
    before anything of it is sent.

    A plan without marketing files or internationalised addresses asks HubSpot nothing. Nothing
    is written to the work folder when every file is sent as planned, and a derived folder an
    earlier run left is removed.

    Args:
        portal: The portal (only read here).
        plan: The planned plan.
        state_dir: The load's work folder (the derived files go to its :data:`FOLDER`).
        records: The load's records folder (a path or fsspec URL: the import journal and the
            decisions are there); default ``state_dir``.

    Returns:
        :class:`KeptNonMarketing`; its ``report`` goes into the load report as :data:`REPORT_KEY`.

    Raises:
        LoadError: HubSpot refused the lookup, or a split could not account for every row.
    """
    directory = Path(state_dir) / FOLDER
    records = state_dir if records is None else records
    splits = SplitJournal(records, portal.url)
    marketing = [entry for entry in plan.imports if entry.get("marketable")]
    shutil.rmtree(directory, ignore_errors=True)
    taken_up, recorded = _decided_before(portal, plan, marketing, splits, ImportJournal(records, portal.url))
    fresh = [entry for entry in plan.imports if entry["file"] not in taken_up]
    fresh_marketing = [entry for entry in fresh if entry.get("marketable")]
    opted, lookup = portal_opted_out(portal, plan, fresh_marketing) if fresh_marketing else (set(), None)
    respelt, spelling_requests = portal_spellings(portal, plan, fresh)
    decisions = {**taken_up, **_decide(plan, fresh, _as_planned(opted), respelt)}
    for entry in fresh_marketing:
        decision, earlier = decisions[entry["file"]], recorded.get(entry["file"])
        if earlier is None or not decision.same_sending(earlier):
            splits.write(plan, entry, decision.record())
    report: dict[str, Any] = {
        "count": 0,
        "folder": None,
        "lookup": lookup,
        "rows": [],
        "respelt": {"count": 0, "requests": spelling_requests, "rows": []},
        "sent_as_decided_before": [
            {"file": file, "decided_at": _iso(decision.decided_at)} for file, decision in taken_up.items()
        ],
    }
    _log_taken_up(taken_up)
    if not any(decision.moved or decision.respelt for decision in decisions.values()):
        return KeptNonMarketing(plan, report)
    sent_plan, planned, moved_emails = _write_split_files(plan, decisions, directory)
    moved = _sent_rows(planned, lambda sent_file, file, _line: sent_file != file)
    respelt_rows = _sent_rows(planned, lambda _sent_file, file, line: line in decisions[file].respelt)
    report = {
        **report,
        "count": len(moved),
        "folder": str(directory),
        "rows": tie_back(plan, moved),
        "respelt": {"count": len(respelt_rows), "requests": spelling_requests, "rows": tie_back(plan, respelt_rows)},
    }
    _log(report, moved_emails)
    return KeptNonMarketing(sent_plan, report, planned)


def _sent_rows(planned: dict[str, tuple[str, array]], wanted: Callable[[str, str, int], bool]) -> list[dict[str, Any]]:
    """Each sent row ``wanted(sent file, planned file, planned line)`` picks, as the report
    names it: ``{"file", "line", "sent_file", "sent_line"}`` (:attr:`KeptNonMarketing.planned`)."""
    return [
        {"file": file, "line": line, "sent_file": sent_file, "sent_line": sent_line}
        for sent_file, (file, lines) in planned.items()
        for sent_line, line in enumerate(lines, start=2)
        if wanted(sent_file, file, line)
    ]


def _decide(plan: LoadPlan, entries: list[dict[str, Any]], opted: set[str], respelt: dict[str, str]) -> dict[str, Decision]:
    """How each of ``entries`` is sent now: a marketing file's rows whose address is in
    ``opted`` (as the plan spells it) moved, any file's rows whose address is in ``respelt``
    respelt."""
    now = int(time.time() * 1000)
    if not opted and not respelt:
        return {entry["file"]: Decision(decided_at=now) for entry in entries}
    opted_series = pl.Series("email", sorted(opted), dtype=pl.String)
    respelt_series = pl.Series("email", sorted(respelt), dtype=pl.String)
    decisions = {}
    for entry in entries:
        moving = pl.col("email").is_in(opted_series.implode()) & pl.lit(bool(entry.get("marketable")))
        respelling = pl.col("email").is_in(respelt_series.implode())
        rows = _file_emails(plan, entry).select("line", moving.alias("moved"), respelling.alias("respelt")).filter(
            pl.col("moved") | pl.col("respelt")
        ).collect()
        decisions[entry["file"]] = Decision(
            frozenset(rows.filter("moved")["line"].to_list()), frozenset(rows.filter("respelt")["line"].to_list()), now
        )
    return decisions


def _iso(epoch_ms: int) -> str:
    """Epoch milliseconds as ISO 8601 UTC, to the second."""
    return datetime.fromtimestamp(epoch_ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _log_taken_up(taken_up: dict[str, Decision]) -> None:
    """One console line per marketing file sent as an earlier run decided."""
    for file, decision in taken_up.items():
        get_logger().info(
            "%s: sent as the run of %s split it, an import of it having been submitted since (taken up, not sent "
            "again); a contact unsubscribed in HubSpot since that it made marketing is named by the read-back "
            "(opted-out-made-marketing)",
            file, _iso(decision.decided_at),
        )


def _log(report: dict[str, Any], moved_emails: dict[str, list[str]]) -> None:
    """The console lines: how many rows moved, and the first few (emails masked); how many
    were respelt."""
    if report["count"]:
        examples = [
            f"{row['file']}:{row['line']} {mask_email(email)}"
            for file, emails in moved_emails.items()
            for row, email in zip([row for row in report["rows"] if row["file"] == file], emails[:_EXAMPLES_LOGGED])
        ][:_EXAMPLES_LOGGED]
        more = ", ..." if report["count"] > len(examples) else ""
        get_logger().warning(
            "%d contact(s) of the marketing files HubSpot holds as unsubscribed from all email sent as non-marketing "
            "(not billed, not in the marketing list; files in %s, rows in report.json load.%s): %s%s",
            report["count"], report["folder"], REPORT_KEY, ", ".join(examples), more,
        )
    if report["respelt"]["count"]:
        get_logger().warning(
            "%d contact(s) HubSpot holds under the xn-- spelling of their internationalised domain sent in that "
            "spelling, so HubSpot's contact is updated rather than a second one created (rows in report.json load.%s.respelt)",
            report["respelt"]["count"], REPORT_KEY,
        )
