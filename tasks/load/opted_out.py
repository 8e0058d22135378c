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

A recurring sync's delta names the marketing files' contacts an earlier run already made
marketing (:data:`~tasks.import_files.MARKETING_ALREADY_SET`). A person may have set one of them
non-marketing in HubSpot since, a billing choice (they never unsubscribed): a marketing import
would make them marketing again, billed again every run that sends them. So those addresses are
read by email too (100 a batch read), and the rows of those HubSpot holds as existing,
non-marketing contacts are sent as a non-marketing file of their own,
``<name>-non-marketing-in-hubspot.csv`` (:data:`AS_SET_REPORT_KEY` counts them); those HubSpot
lacks (deleted since) or holds as marketing stay marketing, as do the newly marketing ones.
Contacts HubSpot holds as unsubscribed are moved as such first.

The first search page is always asked (one request: it says how many opt-outs the portal holds,
and holds them all in a portal with at most 200), then the cheaper way finishes.

An internationalised domain has two spellings, one mailbox: the plan writes Unicode
(``jane@bücher.de``), HubSpot may hold the ``xn--`` form (``jane@xn--bcher-kva.de``) and takes
the two for two contacts. A row whose address HubSpot holds only in the other spelling is sent
in HubSpot's (:func:`portal_spellings`), in whichever file it is sent, so the contact HubSpot
holds is updated (kept unsubscribed, not billed twice) rather than a second one created.

The files sent are derived into the load's work folder (:data:`FOLDER`), rewritten the same
way every run (so a rerun's steps find the same content, keys and import journal): each split
file's remaining rows under its planned name, its moved rows in ``<name>-opted-out.csv`` and
``<name>-non-marketing-in-hubspot.csv``, all with their lineage (``tasks/load/plan_copies.py``),
respelt addresses in HubSpot's spelling.
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
from collections.abc import Callable, Collection, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl

from schemas.contact import INTERNATIONAL_DOMAIN, ascii_spelling, canonical_address
from tasks.errors import LoadError
from tasks.import_files import MARKETING_ALREADY_SET
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
    is_set_non_marketing,
    read_contacts,
)
from tasks.load.resume import ImportJournal, SplitJournal
from tasks.load.retry import HttpError, describe
from tasks.privacy import mask_email

FOLDER = "opted-out-non-marketing"
"""Under the load's work folder: the files sent in place of split marketing files, as a plan."""
MOVED_SUFFIX = "-opted-out"
REPORT_KEY = "kept_non_marketing_opted_out"
AS_SET_SUFFIX = "-non-marketing-in-hubspot"
"""The name ending of a split file's rows HubSpot holds as set non-marketing by hand."""
AS_SET_FLAG = "set_non_marketing_in_hubspot"
"""In a plan's contacts entry: the file holds those rows (:func:`_moved_entry`). Still marketing
contacts at the source: the sync's list keeps them (``tasks/load/lists.py``)."""
AS_SET_REPORT_KEY = "kept_non_marketing_as_set_in_hubspot"
"""The load report's count of the rows of contacts a sync already made marketing
(:data:`~tasks.import_files.MARKETING_ALREADY_SET`) sent as non-marketing, HubSpot holding them
as set so by hand (:attr:`KeptNonMarketing.as_set`)."""
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


def marketing_already_set(plan: LoadPlan) -> frozenset[str]:
    """The addresses a sync's delta plan names as made marketing by an earlier run
    (:data:`~tasks.import_files.MARKETING_ALREADY_SET`), as the load compares them; none in a
    plan without the key (a migration's).

    Raises:
        LoadError: ``plan.json`` names a file the plan does not hold, or one without an email column.
    """
    name = plan.data.get(MARKETING_ALREADY_SET)
    if not name:
        return frozenset()
    if not plan.path(name).is_file():
        raise LoadError(f"{plan.directory / 'plan.json'}: {MARKETING_ALREADY_SET} names {name}, which the plan does not hold")
    try:
        _, email_index, rows = planned_rows(plan.path(name))
    except ValueError:
        raise LoadError(f"{plan.path(name)}: line 1 has no email column (the sync writes one)") from None
    return frozenset(normalise_email(cells[email_index]) for _, cells in rows if len(cells) > email_index)


def masked_examples(rows: Sequence[tuple[str, int, str]]) -> str:
    """The first few rows, each ``(file, line, email)``, as a log line names them: ``file:line``
    and the masked email, ``...`` when there are more."""
    examples = [f"{file}:{line} {mask_email(email)}" for file, line, email in rows[:_EXAMPLES_LOGGED]]
    return ", ".join(examples) + (", ..." if len(rows) > len(examples) else "")


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


def _addresses(plan: LoadPlan, entries: list[dict[str, Any]]) -> list[str]:
    """The files' addresses, each once, as HubSpot stores them."""
    return pl.concat([_file_emails(plan, entry).select("email") for entry in entries]).unique().drop_nulls().collect()["email"].to_list()


def read_held(portal: HubSpotPortal, addresses: list[str], held: Callable[[dict[str, Any]], bool]) -> tuple[set[str], int]:
    """The addresses whose contact, as HubSpot holds it, ``held`` takes, by batch reads of both
    spellings of each (100 a request); spelt as HubSpot does, with the requests sent."""
    emails: set[str] = set()
    requests = 0
    for batch in chunked(with_other_spellings(addresses), READ_BATCH_SIZE):
        found = read_contacts(portal, batch, [])
        requests += 1
        emails |= {email for email, contact in found.items() if held(contact)}
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
        emails, requests = read_held(portal, _addresses(plan, entries), kept_non_marketing)
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
        as_set: The load report's :data:`AS_SET_REPORT_KEY`: ``{"count", "requests", "rows":
            [same]}``, the rows of the contacts a sync already made marketing
            (:data:`~tasks.import_files.MARKETING_ALREADY_SET`) moved to non-marketing, HubSpot
            holding them as set so by hand, and the batch reads that found them.
    """

    plan: LoadPlan
    report: dict[str, Any]
    planned: dict[str, tuple[str, array]] = field(default_factory=dict)
    as_set: dict[str, Any] = field(default_factory=lambda: {"count": 0, "requests": 0, "rows": []})

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


def _moved_name(file: str, ending: str = MOVED_SUFFIX) -> str:
    """The name of a split file's rows moved to non-marketing: ``file`` with ``ending`` before its extension."""
    stem, dot, suffix = file.rpartition(".")
    return f"{stem}{ending}.{suffix}" if dot else f"{file}{ending}"


def _moved_entry(entry: dict[str, Any], rows: int, as_set: bool = False) -> dict[str, Any]:
    """A split file's moved rows as a non-marketing file of the plan: no marketing status, no
    list; ``as_set``: the rows HubSpot holds as set non-marketing by hand (:data:`AS_SET_SUFFIX`),
    else those it holds as unsubscribed (:data:`~tasks.load.reconcile.KEPT_NON_MARKETING`)."""
    moved = {key: value for key, value in entry.items() if key != "list"}
    name = entry.get("name")
    why = "set non-marketing in HubSpot" if as_set else "unsubscribed in HubSpot: non-marketing"
    return {
        **moved,
        "file": _moved_name(entry["file"], AS_SET_SUFFIX if as_set else MOVED_SUFFIX),
        "rows": rows,
        "outcome": "non_marketing",
        "marketable": False,
        "create_list": False,
        **({AS_SET_FLAG: True} if as_set else {KEPT_NON_MARKETING: True}),
        **({"name": f"{name} ({why})"} if name else {}),
    }


@dataclass(frozen=True)
class Decision:
    """How one planned contacts file is sent, by its planned lines.

    Attributes:
        moved: The lines sent as non-marketing (HubSpot held them as unsubscribed).
        respelt: The lines sent under HubSpot's spelling of their address (:func:`portal_spellings`).
        decided_at: When it was decided (epoch milliseconds).
        as_set: The lines sent as non-marketing because HubSpot held them as set so by hand
            (contacts a sync already made marketing, :data:`~tasks.import_files.MARKETING_ALREADY_SET`).
    """

    moved: frozenset[int] = frozenset()
    respelt: frozenset[int] = frozenset()
    decided_at: int = 0
    as_set: frozenset[int] = frozenset()

    def same_sending(self, other: Decision) -> bool:
        """Whether ``other`` sends the same files (whenever it was decided)."""
        return (self.moved, self.respelt, self.as_set) == (other.moved, other.respelt, other.as_set)

    def splits(self) -> bool:
        """Whether the file is sent otherwise than planned (some of its rows moved or respelt)."""
        return bool(self.moved or self.respelt or self.as_set)

    def record(self) -> dict[str, Any]:
        """As :class:`~tasks.load.resume.SplitJournal` keeps it."""
        return {"decided_at": self.decided_at, "moved": sorted(self.moved), "respelt": sorted(self.respelt), "as_set": sorted(self.as_set)}

    @classmethod
    def of_record(cls, record: dict[str, Any]) -> Decision:
        """The decision a :class:`~tasks.load.resume.SplitJournal` record holds (an earlier
        version's has no ``as_set``: none)."""
        return cls(
            frozenset(record.get("moved") or ()),
            frozenset(record.get("respelt") or ()),
            int(record.get("decided_at") or 0),
            frozenset(record.get("as_set") or ()),
        )


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


KEPT, MOVED, AS_SET = "kept", "moved", "as_set"
"""The parts a split file is sent as: its rows still marketing, those HubSpot holds as
unsubscribed, those it holds as set non-marketing by hand."""
_ENDINGS = {MOVED: MOVED_SUFFIX, AS_SET: AS_SET_SUFFIX}


def part_name(file: str, part: str) -> str:
    """The name a split file's ``part`` is sent under: the planned name for its rows still
    marketing, ``<name>-opted-out.csv`` or ``<name>-non-marketing-in-hubspot.csv`` for its moved rows."""
    return file if part == KEPT else _moved_name(file, _ENDINGS[part])


@dataclass(frozen=True)
class _Copied:
    """What :func:`_write_sent_copies` wrote: per part (:data:`KEPT`, :data:`MOVED`,
    :data:`AS_SET`) the planned lines it holds, and per moved part their addresses (for the log)."""

    lines: dict[str, list[int]]
    emails: dict[str, list[str]]


def _write_sent_copies(plan: LoadPlan, file: str, decision: Decision, directory: Path) -> _Copied:
    """Copy a planned contacts file as ``decision`` sends it, in one pass: its rows still
    marketing under its planned name, its moved rows in their part's file (:func:`part_name`),
    each respelt row's email cell in HubSpot's spelling; cells otherwise as they are."""
    header, email_index, rows = planned_rows(plan.path(file))
    parts = [KEPT, *(part for part, lines in ((MOVED, decision.moved), (AS_SET, decision.as_set)) if lines)]
    copied = _Copied({part: [] for part in parts}, {part: [] for part in parts if part != KEPT})
    with ExitStack() as files:
        writers = {}
        for part in parts:
            target = directory / part_name(file, part)
            target.parent.mkdir(parents=True, exist_ok=True)
            writers[part] = csv.writer(files.enter_context(target.open("w", newline="", encoding="utf-8")), lineterminator="\n")
            writers[part].writerow(header)
        for line, cells in rows:
            if len(cells) <= email_index:
                continue
            part = MOVED if line in decision.moved else AS_SET if line in decision.as_set else KEPT
            if line in decision.respelt:
                cells = [*cells[:email_index], _respelt(cells[email_index]), *cells[email_index + 1 :]]
            writers[part].writerow(cells)
            copied.lines[part].append(line)
            if part != KEPT:
                copied.emails[part].append(normalise_email(cells[email_index]))
    return copied


def _write_split_files(
    plan: LoadPlan, decisions: dict[str, Decision], directory: Path
) -> tuple[LoadPlan, dict[str, tuple[str, array]], dict[str, list[tuple[str, int, str]]]]:
    """Derive the files the load sends in place of the planned files some of whose rows move
    or are respelt (:class:`Decision`).

    Each such file becomes its rows still marketing (under its planned name) and its moved rows
    (``<name>-opted-out.csv`` and ``<name>-non-marketing-in-hubspot.csv``, non-marketing), all in
    ``directory`` with their lineage, as a plan (``plan.json``) of their own.

    Args:
        plan: The planned plan.
        decisions: Per planned file, how it is sent; a file without one, or whose sends it as
            planned, is sent as it is.
        directory: Where to write (the load's work folder's :data:`FOLDER`, which
            :func:`keep_opted_out_non_marketing` emptied: it holds only this run's files).

    Returns:
        The plan the load sends, :attr:`KeptNonMarketing.planned`, and per moved part
        (:data:`MOVED`, :data:`AS_SET`) its rows as ``(planned file, planned line, email)``.

    Raises:
        LoadError: A split did not account for every row of its file (a row too short to have
            an email cell is neither kept nor moved).
    """
    directory.mkdir(parents=True)
    entries: list[dict[str, Any]] = []
    derived: list[dict[str, Any]] = []
    planned: dict[str, tuple[str, array]] = {}
    moved_rows: dict[str, list[tuple[str, int, str]]] = {MOVED: [], AS_SET: []}
    lineage: dict[PlannedLine, PlannedLine] = {}
    for entry in plan.imports:
        decision = decisions.get(entry["file"], Decision())
        if not decision.splits():
            entries.append(entry)
            continue
        file = entry["file"]
        copied = _write_sent_copies(plan, file, decision, directory)
        counted = {part: len(lines) for part, lines in copied.lines.items()}
        if sum(counted.values()) != int(entry.get("rows") or 0):
            moved = " and ".join(f"{counted[part]} moved to {part_name(file, part)}" for part in counted if part != KEPT)
            raise LoadError(
                f"{file}: {entry.get('rows')} rows planned, {counted[KEPT]} kept as marketing and {moved}: "
                "a row without an email cell cannot be split; fix the plan's file"
            )
        pieces = []
        for part, lines in copied.lines.items():
            sent_file = part_name(file, part)
            lineage.update(((file, old), (sent_file, new)) for new, old in enumerate(lines, start=2))
            if not lines:
                (directory / sent_file).unlink()
                continue
            planned[sent_file] = (file, array("q", lines))
            pieces.append({**entry, "rows": len(lines)} if part == KEPT else _moved_entry(entry, len(lines), as_set=part == AS_SET))
            if part != KEPT:
                moved_rows[part].extend((file, line, email) for line, email in zip(lines, copied.emails[part]))
        entries.extend(pieces)
        derived.extend(pieces)
    copy_lineage(plan.lineage_path, directory / "lineage.csv", lineage)
    sent_plan = LoadPlan(plan.directory, {**plan.data, "imports": entries}, derived=write_derived_plan(plan, derived, directory))
    return sent_plan, planned, moved_rows


def _submitted_since(portal: HubSpotPortal, intents: list[dict[str, Any]], file: str, since_ms: int) -> bool:
    """Whether the import journal's ``intents`` hold an import of ``file``'s sent files (its
    planned name or its moved rows', by base name, as the upsert path's marketing-status import
    is named) submitted at or after ``since_ms`` that HubSpot holds still running or ``DONE``
    (:func:`~tasks.load.imports.adoptable_import`). One that failed, or was never created (the
    day's quota spent at submission), is no import to take up: the file is decided again, so
    someone who unsubscribed since is looked up, not made marketing."""
    names = {part_name(file, part).rsplit("/", 1)[-1] for part in (KEPT, MOVED, AS_SET)}
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
    moved to non-marketing files of their own, so are the rows of contacts a sync already made
    marketing (:data:`~tasks.import_files.MARKETING_ALREADY_SET`) that HubSpot holds as set
    non-marketing, and every contacts file's addresses HubSpot holds under another spelling respelt as it does
    (see the module docstring).

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
    as_set, as_set_requests = portal_set_non_marketing(portal, plan, fresh_marketing)
    respelt, spelling_requests = portal_spellings(portal, plan, fresh)
    decisions = {**taken_up, **_decide(plan, fresh, _as_planned(opted), respelt, as_set)}
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
    if not any(decision.splits() for decision in decisions.values()):
        return KeptNonMarketing(plan, report, as_set={"count": 0, "requests": as_set_requests, "rows": []})
    sent_plan, planned, moved_rows = _write_split_files(plan, decisions, directory)
    moved = _sent_rows(planned, lambda sent_file, file, _line: sent_file == part_name(file, MOVED))
    kept_as_set = _sent_rows(planned, lambda sent_file, file, _line: sent_file == part_name(file, AS_SET))
    respelt_rows = _sent_rows(planned, lambda _sent_file, file, line: line in decisions[file].respelt)
    report = {
        **report,
        "count": len(moved),
        "folder": str(directory),
        "rows": tie_back(plan, moved),
        "respelt": {"count": len(respelt_rows), "requests": spelling_requests, "rows": tie_back(plan, respelt_rows)},
    }
    as_set_report = {"count": len(kept_as_set), "requests": as_set_requests, "rows": tie_back(plan, kept_as_set)}
    _log(report, moved_rows)
    return KeptNonMarketing(sent_plan, report, planned, as_set_report)


def portal_set_non_marketing(portal: HubSpotPortal, plan: LoadPlan, entries: list[dict[str, Any]]) -> tuple[set[str], int]:
    """Which addresses of the marketing files that a sync's delta names as made marketing by an
    earlier run (:func:`marketing_already_set`) HubSpot holds as existing, non-marketing contacts
    (:func:`~tasks.load.reconcile.is_set_non_marketing`): a person set them non-marketing since. Read by email, 100 a
    request; none asked in a plan that names none.

    Args:
        portal: The portal.
        plan: The plan.
        entries: Its marketing files' entries.

    Returns:
        ``(emails, requests)``: the addresses as the plan spells them, and the batch reads sent.

    Raises:
        LoadError: HubSpot refused a read (a missing scope, the daily quota): nothing was sent.
    """
    already = marketing_already_set(plan)
    if not already or not entries:
        return set(), 0
    emails, requests = read_held(portal, [email for email in _addresses(plan, entries) if email in already], is_set_non_marketing)
    return _as_planned(emails), requests


def _sent_rows(planned: dict[str, tuple[str, array]], wanted: Callable[[str, str, int], bool]) -> list[dict[str, Any]]:
    """Each sent row ``wanted(sent file, planned file, planned line)`` picks, as the report
    names it: ``{"file", "line", "sent_file", "sent_line"}`` (:attr:`KeptNonMarketing.planned`)."""
    return [
        {"file": file, "line": line, "sent_file": sent_file, "sent_line": sent_line}
        for sent_file, (file, lines) in planned.items()
        for sent_line, line in enumerate(lines, start=2)
        if wanted(sent_file, file, line)
    ]


def _decide(
    plan: LoadPlan, entries: list[dict[str, Any]], opted: set[str], respelt: dict[str, str], as_set: Collection[str] = frozenset()
) -> dict[str, Decision]:
    """How each of ``entries`` is sent now: a marketing file's rows whose address is in
    ``opted`` (as the plan spells it) moved, its other rows whose address is in ``as_set``
    (:func:`portal_set_non_marketing`) moved as set non-marketing, any file's rows whose address
    is in ``respelt`` respelt."""
    now = int(time.time() * 1000)
    if not opted and not respelt and not as_set:
        return {entry["file"]: Decision(decided_at=now) for entry in entries}
    opted_series = pl.Series("email", sorted(opted), dtype=pl.String)
    respelt_series = pl.Series("email", sorted(respelt), dtype=pl.String)
    as_set_series = pl.Series("email", sorted(as_set), dtype=pl.String)
    decisions = {}
    for entry in entries:
        marketable = bool(entry.get("marketable"))
        moving = pl.col("email").is_in(opted_series.implode()) & pl.lit(marketable)
        keeping = pl.col("email").is_in(as_set_series.implode()) & pl.lit(marketable) & moving.not_()
        respelling = pl.col("email").is_in(respelt_series.implode())
        rows = _file_emails(plan, entry).select(
            "line", moving.alias("moved"), respelling.alias("respelt"), keeping.alias("as_set")
        ).filter(pl.col("moved") | pl.col("respelt") | pl.col("as_set")).collect()
        decisions[entry["file"]] = Decision(
            *(frozenset(rows.filter(part)["line"].to_list()) for part in ("moved", "respelt")),
            now,
            frozenset(rows.filter("as_set")["line"].to_list()),
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


def _log(report: dict[str, Any], moved_rows: dict[str, list[tuple[str, int, str]]]) -> None:
    """The console lines: how many rows moved each way, and the first few (emails masked); how
    many were respelt."""
    if moved_rows[MOVED]:
        get_logger().warning(
            "%d contact(s) of the marketing files HubSpot holds as unsubscribed from all email sent as non-marketing "
            "(not billed, not in the marketing list; files in %s, rows in report.json load.%s): %s",
            len(moved_rows[MOVED]), report["folder"], REPORT_KEY, masked_examples(moved_rows[MOVED]),
        )
    if moved_rows[AS_SET]:
        get_logger().warning(
            "%d contact(s) an earlier sync run made marketing that HubSpot now holds as non-marketing, set so by hand, "
            "sent as non-marketing: not made marketing (billed) again, their other changes sent (files in %s, rows in "
            "report.json load.%s): %s",
            len(moved_rows[AS_SET]), report["folder"], AS_SET_REPORT_KEY, masked_examples(moved_rows[AS_SET]),
        )
    if report["respelt"]["count"]:
        get_logger().warning(
            "%d contact(s) HubSpot holds under the xn-- spelling of their internationalised domain sent in that "
            "spelling, so HubSpot's contact is updated rather than a second one created (rows in report.json load.%s.respelt)",
            report["respelt"]["count"], REPORT_KEY,
        )
