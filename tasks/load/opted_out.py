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

The files sent are derived into the load's work folder (:data:`FOLDER`), rewritten the same
way every run (so a rerun's steps find the same content, keys and import journal): each split
file's remaining rows under its planned name, its moved rows in ``<name>-opted-out.csv``, both
with their lineage (``tasks/load/plan_copies.py``). The load reports every row
moved by its planned file and line, and its errors and read-back speak of planned lines too
(:meth:`KeptNonMarketing.as_planned`).
"""

from __future__ import annotations

import re
import shutil
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from schemas.contact import INTERNATIONAL_DOMAIN, ascii_spelling, canonical_address
from tasks.errors import LoadError
from tasks.load import settings
from tasks.load.batches import chunked
from tasks.load.client import HubSpotPortal
from tasks.load.imports import EMAIL_COLUMN
from tasks.load.log import get_logger
from tasks.load.optouts import normalised_emails
from tasks.load.plan import LoadPlan, read_header, tie_back
from tasks.load.plan_copies import PlannedLine, copy_lineage, copy_rows, write_derived_plan
from tasks.load.reconcile import MARKETING_STATUS, OPTED_OUT_PROPERTY, READ_BATCH_SIZE, is_marketing, is_opted_out, read_contacts
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
            [{"file", "line", "sent_file", "sent_line", "sources"}]}`` (``file``/``line`` the
            planned row; no email).
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
        **({"name": f"{name} (unsubscribed in HubSpot: non-marketing)"} if name else {}),
    }


def _write_split_files(
    plan: LoadPlan, found: dict[str, pl.DataFrame], directory: Path
) -> tuple[LoadPlan, dict[str, tuple[str, array]]]:
    """Derive the files the load sends in place of the marketing files holding opted-out rows.

    Each such file becomes its rows still marketing (under its planned name) and its moved rows
    (``<name>-opted-out.csv``, non-marketing), both in ``directory`` with their lineage, as a
    plan (``plan.json``) of their own.

    Args:
        plan: The planned plan.
        found: Per planned file, its opted-out rows (``line``, ``email``); none for the others.
        directory: Where to write (the load's work folder's :data:`FOLDER`, which
            :func:`keep_opted_out_non_marketing` emptied: it holds only this run's files).

    Returns:
        The plan the load sends, and :attr:`KeptNonMarketing.planned`.

    Raises:
        LoadError: A split did not account for every row of its file (a row too short to have
            an email cell is neither kept nor moved).
    """
    directory.mkdir(parents=True)
    entries: list[dict[str, Any]] = []
    derived: list[dict[str, Any]] = []
    planned: dict[str, tuple[str, array]] = {}
    lineage: dict[PlannedLine, PlannedLine] = {}
    for entry in plan.imports:
        rows = found.get(entry["file"])
        if rows is None or rows.is_empty():
            entries.append(entry)
            continue
        file, moved = entry["file"], _moved_name(entry["file"])
        opted = frozenset(rows["email"].to_list())
        kept = copy_rows(plan.path(file), directory / file, lambda email: email not in opted)
        sent = copy_rows(plan.path(file), directory / moved, opted.__contains__)
        if len(kept) + len(sent) != int(entry.get("rows") or 0):
            raise LoadError(
                f"{file}: {entry.get('rows')} rows planned, {len(kept)} kept as marketing and {len(sent)} moved to "
                f"{moved}: a row without an email cell cannot be split; fix the plan's file"
            )
        lineage.update(((file, old), (file, new)) for new, old in enumerate(kept, start=2))
        lineage.update(((file, old), (moved, new)) for new, old in enumerate(sent, start=2))
        planned[file] = (file, array("q", kept))
        planned[moved] = (file, array("q", sent))
        pieces = ([{**entry, "rows": len(kept)}] if kept else []) + [_moved_entry(entry, len(sent))]
        if not kept:
            (directory / file).unlink()
        entries.extend(pieces)
        derived.extend(pieces)
    copy_lineage(plan.lineage_path, directory / "lineage.csv", lineage)
    return LoadPlan(plan.directory, {**plan.data, "imports": entries}, derived=write_derived_plan(plan, derived, directory)), planned


def keep_opted_out_non_marketing(portal: HubSpotPortal, plan: LoadPlan, state_dir: str | Path) -> KeptNonMarketing:
    """The plan to load: the marketing files' rows HubSpot holds as unsubscribed from all email
    moved to non-marketing files of their own (see the module docstring).

    A plan without marketing files asks HubSpot nothing. Nothing is written when no row moves,
    and a derived folder an earlier run left is removed: the planned files are sent as they are.

    Args:
        portal: The portal (only read here).
        plan: The planned plan.
        state_dir: The load's work folder (the derived files go to its :data:`FOLDER`).

    Returns:
        :class:`KeptNonMarketing`; its ``report`` goes into the load report as :data:`REPORT_KEY`.

    Raises:
        LoadError: HubSpot refused the lookup, or a split could not account for every row.
    """
    directory = Path(state_dir) / FOLDER
    marketing = [entry for entry in plan.imports if entry.get("marketable")]
    report: dict[str, Any] = {"count": 0, "folder": None, "lookup": None, "rows": []}
    shutil.rmtree(directory, ignore_errors=True)
    if not marketing:
        return KeptNonMarketing(plan, report)
    emails, report["lookup"] = portal_opted_out(portal, plan, marketing)
    found = {}
    if emails:
        wanted = pl.Series("email", sorted(_as_planned(emails)), dtype=pl.String)
        for entry in marketing:
            rows = _file_emails(plan, entry).filter(pl.col("email").is_in(wanted.implode())).collect()
            if not rows.is_empty():
                found[entry["file"]] = rows
    if not found:
        return KeptNonMarketing(plan, report)
    sent_plan, planned = _write_split_files(plan, found, directory)
    rows = [
        {"file": file, "line": line, "sent_file": sent_file, "sent_line": sent_line}
        for sent_file, (file, lines) in planned.items()
        if sent_file != file
        for sent_line, line in enumerate(lines, start=2)
    ]
    report = {**report, "count": len(rows), "folder": str(directory), "rows": tie_back(plan, rows)}
    _log(report, found)
    return KeptNonMarketing(sent_plan, report, planned)


def _log(report: dict[str, Any], found: dict[str, pl.DataFrame]) -> None:
    """The one console line: how many rows moved, and the first few (emails masked)."""
    examples = [
        f"{file}:{line} {mask_email(email)}"
        for file, rows in found.items()
        for line, email in rows.head(_EXAMPLES_LOGGED).iter_rows()
    ][:_EXAMPLES_LOGGED]
    more = ", ..." if report["count"] > len(examples) else ""
    get_logger().warning(
        "%d contact(s) of the marketing files HubSpot holds as unsubscribed from all email sent as non-marketing "
        "(not billed, not in the marketing list; files in %s, rows in report.json load.%s): %s%s",
        report["count"], report["folder"], REPORT_KEY, ", ".join(examples), more,
    )
