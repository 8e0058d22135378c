"""Contacts files into HubSpot through ``batch/upsert`` by email: the path for small deltas.

Each file of the plan is read as a stream and sent as ``POST
/crm/v3/objects/contacts/batch/upsert`` batches (``reference/hubspot-api.md`` §2):

- at most ``UPSERT_BATCH_SIZE`` inputs, emails trimmed and lowercased as HubSpot stores them, and
  never the same email twice in one batch (HubSpot refuses the whole batch): a later row with an
  email already sent goes in a later round, after the first has landed, so it wins as it would
  in an import;
- every input carries an ``objectWriteTraceId`` (``file:line``), so one bad input fails alone in
  a 207 instead of the whole batch, and each error is tied back to its source rows;
- an input refused for some of its values is sent once more without them, so the rest of the
  row lands, as an import would have done (the error is kept, scope ``value``);
- a batch refused whole (400) is split in two until the bad input is alone; the rest lands; an
  input alone refused for some of its values (HubSpot may refuse a batch upsert by email whole
  rather than answer 207) is sent once more without them, as above;
- blank cells are left out, as an import ignores them, rather than clearing HubSpot's value;
- ``UPSERT_THREADS`` batches are in flight at once, all drawing on the portal's shared
  :class:`~tasks.load.ratelimit.RateBudget`, which holds them at HubSpot's ceiling.

Marketing status: HubSpot's API cannot set ``hs_marketable_status`` ("It is not possible to
modify the Marketing contact status property using HubSpot's API endpoints", §4), so an upsert
alone would leave a planned marketing contact non-marketing. For a ``marketable`` file the
upserted emails are therefore imported once more, as a one-column import with
``marketableContactImport`` (and the file's ``createContactListFromImport``): one request and a
few polls, and the file ends where the Imports path would have left it, list included. (A
contact HubSpot already held as unsubscribed from all email is not in a marketable file by then:
the load moved it to a non-marketing one, ``tasks/load/opted_out.py``; so is one a sync's earlier
run made marketing that a person set non-marketing in HubSpot since: upserted, left out of the
marketing-status import.)

An address HubSpot holds as unsubscribed with no contact yet (an opt-out by address: an earlier
migration's opt-out file) is one that lookup cannot find, but the upsert has created its contact
by the time the status is set, and a contact's ``hs_email_optout`` says it. So the contacts the
upsert landed are read back first (100 a ``batch/read``, under the portal's rate budget: one
read per upsert batch) and those HubSpot holds as unsubscribed, and not marketing yet, are left
out of the marketing-status import: they stay non-marketing, as the lookup's would have, and
the result names their rows (:data:`~tasks.load.opted_out.REPORT_KEY`). The updated ones are
read too, not only the created: the lookup saw them before the upsert, but one may have
unsubscribed since, and a rerun that sends a file as a stopped run split it (to take up its
import) updates the contacts that run created, whose marketing-status import left them out. With an
:class:`~tasks.load.resume.ImportJournal` that import is journalled as the Imports path's are, and
recorded as of its planned file with the rows it sends, so a rerun after a stop or a kill takes
up the one an earlier run submitted (while HubSpot still runs it or finished it) even when its
read-back differs, and imports only the emails that one does not hold: one import per file, not
a second beside the first. Someone who unsubscribed since that import was submitted is made
marketing by it all the same: not counted kept non-marketing, but named by the read-back
(``opted-out-made-marketing``).
"""

from __future__ import annotations

import csv
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from schemas.contact import canonical_address
from tasks.errors import LoadError
from tasks.load import settings
from tasks.load.batches import chunked
from tasks.load.client import HubSpotPortal
from tasks.load.imports import EMAIL_COLUMN, adoptable_import, import_contacts_file
from tasks.load.log import get_logger
from tasks.load.opted_out import REPORT_KEY, kept_non_marketing, masked_examples
from tasks.load.plan import LoadPlan, tie_back, unneutralise
from tasks.load.reconcile import READ_BATCH_SIZE, read_contacts
from tasks.load.resume import FINISHED_STATE, IMPORTS, UPSERT, ImportJournal, step_finished, step_key
from tasks.load.retry import HttpError, describe, error_body
from tasks.privacy import mask_emails_in

UPSERT_PATH = "/crm/v3/objects/contacts/batch/upsert"
MARKETING_STATUS_PROPERTY = "hs_marketable_status"
STATUS_IMPORT_OF = "marketing_status_of"
"""In an import journal's record of a marketing-status import: the upsert step key
(:func:`~tasks.load.resume.step_key`) of the planned file it sets the status of."""
STATUS_ROWS = "rows_sent"
"""In that record: ``[[line, email], ...]``, the planned file's rows whose emails it sends, in its order."""


def choose_load_path(rows: int, threshold: int = settings.UPSERT_MAX_ROWS) -> str:
    """Which path loads a contacts file of ``rows`` rows: ``"upsert"`` up to ``threshold``,
    ``"imports"`` beyond (see ``settings.UPSERT_MAX_ROWS`` for why)."""
    return UPSERT if rows <= threshold else IMPORTS


@dataclass(frozen=True)
class UpsertInput:
    """One row of a contacts file, as an upsert input.

    Attributes:
        line: The row's line in its file (header = line 1, as lineage counts).
        email: The email HubSpot upserts by, trimmed and lowercased.
        properties: The row's non-blank values by property name, email excluded.
    """

    line: int
    email: str
    properties: dict[str, str]

    def body(self, file: str) -> dict[str, Any]:
        """The input as the upsert request carries it."""
        return {
            "idProperty": EMAIL_COLUMN,
            "id": self.email,
            "properties": self.properties,
            "objectWriteTraceId": f"{file}:{self.line}",
        }


def _row_error(file: str, line: int | None, error_type: str, message: str, *, scope: str = "row", column: str | None = None) -> dict[str, Any]:
    return {"file": file, "line": line, "error_type": error_type, "scope": scope, "message": message, "column": column}


def read_upsert_inputs(path: Path, file: str) -> Iterator[UpsertInput | dict[str, Any]]:
    """Stream a planned contacts file as upsert inputs.

    Args:
        path: The file.
        file: Its plan-relative name, for errors.

    Yields:
        An :class:`UpsertInput` per usable row, or an error dict (``NO_EMAIL``,
        ``INCORRECT_NUMBER_OF_COLUMNS``) per row that cannot be sent.
    """
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [unneutralise(name.strip()) for name in next(reader, [])]
        if EMAIL_COLUMN not in header:
            raise LoadError(f"{file}: no {EMAIL_COLUMN!r} column in the header; nothing to upsert by")
        email_index = header.index(EMAIL_COLUMN)
        for line, row in enumerate(reader, start=2):
            if len(row) != len(header):
                yield _row_error(file, line, "INCORRECT_NUMBER_OF_COLUMNS", f"{len(row)} cells for {len(header)} columns")
                continue
            email = unneutralise(row[email_index].strip()).strip().lower()
            if not email:
                yield _row_error(file, line, "NO_EMAIL", "empty email cell")
                continue
            properties = {
                name: unneutralise(cell)
                for index, (name, cell) in enumerate(zip(header, row))
                # Blank cells never clear a value, as in an import.
                if index != email_index and cell.strip()
            }
            yield UpsertInput(line, email, properties)


def _error_trace_ids(error: dict[str, Any]) -> list[str]:
    return [str(value) for value in (error.get("context") or {}).get("objectWriteTraceId", [])]


def _bad_properties(error: dict[str, Any]) -> set[str]:
    """The properties a per-input error names (``errors[].context.propertyName``)."""
    names: set[str] = set()
    for detail in error.get("errors") or []:
        names.update(str(name) for name in (detail.get("context") or {}).get("propertyName", []))
    return names


@dataclass
class _Outcome:
    """What one batch (with its splits and retries) came to."""

    created: int = 0
    updated: int = 0
    requests: int = 0
    landed: list[tuple[int, str]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: _Outcome) -> None:
        self.created += other.created
        self.updated += other.updated
        self.requests += other.requests
        self.landed.extend(other.landed)
        self.errors.extend(other.errors)


def _message(error: dict[str, Any]) -> str:
    """HubSpot's message of an error (a 207's per-input one, or a 400's body), emails masked."""
    return mask_emails_in(str(error.get("message") or error.get("category") or "refused"))


def _without_refused_values(file: str, item: UpsertInput, error: dict[str, Any], outcome: _Outcome) -> UpsertInput | None:
    """The input to send again without the values HubSpot refused, or ``None`` when the error
    is not about values the input holds (the row itself is refused, its email included).

    ``error`` is what HubSpot said of this input alone: a 207's error for it, or the body of a
    400 to a batch of it alone. Each value left out is recorded in ``outcome`` (scope ``value``):
    the rest of the row still lands, as in an import.
    """
    bad = _bad_properties(error)
    refused = sorted(bad & item.properties.keys())
    if not refused or EMAIL_COLUMN in bad:
        return None
    message = _message(error)
    outcome.errors.extend(_row_error(file, item.line, "INVALID_VALUE", message, scope="value", column=name) for name in refused)
    return UpsertInput(item.line, item.email, {name: value for name, value in item.properties.items() if name not in bad})


def upsert_batch(portal: HubSpotPortal, file: str, inputs: list[UpsertInput]) -> _Outcome:
    """Upsert one batch of inputs with unique emails, isolating whatever HubSpot refuses.

    Args:
        portal: The portal.
        file: The plan-relative file the inputs come from.
        inputs: At most ``UPSERT_BATCH_SIZE`` inputs, emails unique.

    Returns:
        The created/updated counts, the ``(line, email)`` of every input that landed, and an
        error per input (or value) HubSpot refused; requests sent, for the benchmark.

    Raises:
        LoadError: The load cannot go on (daily quota, token refused, HubSpot down).
    """
    outcome = _Outcome(requests=1)
    by_trace = {f"{file}:{item.line}": item for item in inputs}
    try:
        response = portal.request("POST", UPSERT_PATH, json={"inputs": [item.body(file) for item in inputs]})
    except HttpError as error:
        if error.status == 400 and len(inputs) > 1:
            # Refused whole: halve until the input at fault is alone; the others land.
            middle = len(inputs) // 2
            for half in (inputs[:middle], inputs[middle:]):
                outcome.add(upsert_batch(portal, file, half))
            return outcome
        # The input alone, refused for some of its values (HubSpot does not upsert part of a
        # batch by email): the 400 names them as a 207's error does.
        resend = _without_refused_values(file, inputs[0], error_body(error), outcome) if error.status == 400 else None
        if resend is not None:
            outcome.add(upsert_batch(portal, file, [resend]))
            return outcome
        message = mask_emails_in(describe(error))
        outcome.errors.extend(_row_error(file, item.line, "UPSERT_REJECTED", message) for item in inputs)
        return outcome
    response = response or {}
    answered: set[str] = set()
    for result in response.get("results", []):
        item = by_trace.get(str(result.get("objectWriteTraceId")))
        if item is None:
            # Trace ids are optional in answers; emails come back lowercased, as sent.
            email = str((result.get("properties") or {}).get(EMAIL_COLUMN, "")).lower()
            item = next((candidate for candidate in inputs if candidate.email == email), None)
        if item is None:
            continue
        answered.add(f"{file}:{item.line}")
        outcome.landed.append((item.line, item.email))
        if result.get("new"):
            outcome.created += 1
        else:
            outcome.updated += 1
    retry: list[UpsertInput] = []
    for error in response.get("errors", []):
        for trace in _error_trace_ids(error):
            item = by_trace.get(trace)
            if item is None or trace in answered:
                continue
            answered.add(trace)
            resend = _without_refused_values(file, item, error, outcome)
            if resend is not None:
                retry.append(resend)
            else:
                outcome.errors.append(_row_error(file, item.line, str(error.get("category") or "UPSERT_FAILED"), _message(error)))
    for trace, item in by_trace.items():
        if trace not in answered:
            outcome.errors.append(_row_error(file, item.line, "UPSERT_UNCONFIRMED", "HubSpot's answer did not mention this row"))
    if retry:
        outcome.add(upsert_batch(portal, file, retry))
    return outcome


def _first_round(
    inputs: Iterator[UpsertInput | dict[str, Any]], errors: list[dict[str, Any]], later: list[list[UpsertInput]]
) -> Iterator[list[UpsertInput]]:
    """Batches of each email's first row, as the file streams.

    Rows that cannot be sent go to ``errors``; the ``k``-th repeat of an email goes to
    ``later[k - 1]``, to be sent once everything before it has landed, so no batch holds an
    email twice and a later row wins, as in an import.
    """
    seen: Counter[str] = Counter()
    batch: list[UpsertInput] = []
    for item in inputs:
        if isinstance(item, dict):
            errors.append(item)
            continue
        occurrence = seen[item.email]
        seen[item.email] += 1
        if occurrence:
            later.extend([] for _ in range(occurrence - len(later)))
            later[occurrence - 1].append(item)
            continue
        batch.append(item)
        if len(batch) == settings.UPSERT_BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def _send_all(
    portal: HubSpotPortal,
    file: str,
    batches: Iterable[list[UpsertInput]],
    total: _Outcome,
    *,
    threads: int,
    on_batch: Callable[[_Outcome], None] | None,
) -> None:
    """Send batches ``threads`` at a time (the budget paces them), adding up what they came to.

    Only a bounded number of batches is read ahead, so a large file is never held in memory.
    """

    def collect(future: Future[_Outcome]) -> None:
        outcome = future.result()
        total.add(outcome)
        if on_batch is not None:
            on_batch(outcome)

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="hubspot-upsert") as pool:
        # Batches sent and not yet added up: one leaves the set as it is added up.
        pending: set[Future[_Outcome]] = set()
        try:
            for batch in batches:
                if len(pending) >= 2 * threads:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        pending.discard(future)
                        collect(future)
                pending.add(pool.submit(upsert_batch, portal, file, batch))
            for future in as_completed(list(pending)):
                pending.discard(future)
                collect(future)
        except BaseException:
            # A LoadError (daily quota, token refused): send nothing more, but add up the
            # batches that landed, so a stopped load says what it sent.
            for future in pending:
                future.cancel()
            for future in pending:
                if not future.cancelled() and future.exception() is None:
                    collect(future)
            raise


def kept_non_marketing_among(portal: HubSpotPortal, emails: list[str]) -> set[str]:
    """Which of the contacts an upsert landed HubSpot holds as unsubscribed from all email and
    not as marketing contacts, read back 100 a request.

    Args:
        portal: The portal.
        emails: The landed contacts' emails, as the upsert sent them.

    Returns:
        Those to keep non-marketing (:func:`~tasks.load.opted_out.kept_non_marketing`), spelt as
        sent.

    Raises:
        LoadError: HubSpot refused a read. Nothing was made marketing yet: the rerun reads
            them back again before it does.
    """
    kept: set[str] = set()
    for batch in chunked(sorted(set(emails)), READ_BATCH_SIZE):
        try:
            found = read_contacts(portal, batch, [])
        except HttpError as error:
            raise LoadError(
                "cannot read back the contacts the upsert landed, to keep those HubSpot holds as unsubscribed "
                f"from all email non-marketing: {mask_emails_in(describe(error))}; nothing was made marketing, "
                "run the same command again"
            ) from error
        asked = set(batch)
        # HubSpot may hold an internationalised domain in its xn-- spelling; the plan's is Unicode.
        kept |= {email if email in asked else canonical_address(email) for email, contact in found.items() if kept_non_marketing(contact)}
    return kept


def _examples(file: str, rows: list[tuple[int, str]]) -> str:
    """The first few of one file's ``(line, email)`` rows as a log line names them
    (:func:`~tasks.load.opted_out.masked_examples`)."""
    return masked_examples([(file, line, email) for line, email in rows])


def _log_kept(file: str, landed: list[tuple[int, str]]) -> None:
    """The one console line for the upserted contacts kept non-marketing (emails masked)."""
    get_logger().warning(
        "upsert %s: %d row(s) whose contact HubSpot holds as unsubscribed from all email once upserted (unsubscribed "
        "by address before the contact existed, or since the load's lookup) kept non-marketing, not billed (rows in "
        "report.json, %s): %s",
        file, len(landed), REPORT_KEY, _examples(file, landed),
    )


def earlier_status_imports(portal: HubSpotPortal, journal: ImportJournal | None) -> list[list[tuple[int, str]]]:
    """The rows of each marketing-status import an earlier run submitted for this file (a run
    stopped or killed while it processed) that HubSpot still runs or finished
    (:func:`~tasks.load.imports.adoptable_import`), oldest first.

    The journal keys an import by what it sends, and a rerun's read-back may leave out someone
    who unsubscribed since, or keep in a row that failed before: so the import is found by the
    planned file it is of (:data:`STATUS_IMPORT_OF`), and its rows (:data:`STATUS_ROWS`) say
    whom it makes marketing. One refused at creation, ``FAILED`` or ``CANCELED`` did no work: its
    rows are sent again. Two records HubSpot answers with one import (a run killed while
    submitting the second, found by name) are that import once: the later's rows are sent again.

    Args:
        portal: The portal.
        journal: The load's import journal :meth:`~tasks.load.resume.ImportJournal.recording`
            the planned file (:data:`STATUS_IMPORT_OF`), if the load keeps one.
    """
    if journal is None:
        return []
    planned = journal.intent_fields[STATUS_IMPORT_OF]
    records = sorted(
        (record for record in journal.intents() if record.get(STATUS_IMPORT_OF) == planned),
        key=lambda record: int(record.get("intent_at") or 0),
    )
    adopted: set[str] = set()
    taken_up = []
    for record in records:
        import_id = adoptable_import(portal, record)
        if import_id is not None and import_id not in adopted:
            adopted.add(import_id)
            taken_up.append([(int(line), str(email)) for line, email in record[STATUS_ROWS]])
    return taken_up


def _status_import(
    portal: HubSpotPortal,
    plan: LoadPlan,
    entry: dict[str, Any],
    rows: list[tuple[int, str]],
    poll_interval: float,
    journal: ImportJournal | None,
) -> dict[str, Any]:
    """One marketing-status import of ``rows``' emails (sorted by line), journalled under what it
    sends and recorded, by ``journal`` (one :meth:`~tasks.load.resume.ImportJournal.recording`
    the planned file, :data:`STATUS_IMPORT_OF`), with its rows; one an earlier run submitted of
    the same rows is taken up. Its errors are moved onto the rows' lines of the planned file."""
    file_name = entry["file"].rsplit("/", 1)[-1]
    if journal is not None:
        journal = journal.recording({STATUS_ROWS: [list(row) for row in rows]})
    with tempfile.TemporaryDirectory(prefix="onramp-marketing-") as directory:
        with (Path(directory) / file_name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([EMAIL_COLUMN])
            writer.writerows([email] for _, email in rows)
        status_entry = {**entry, "file": file_name, "rows": len(rows), "columns": [EMAIL_COLUMN]}
        result = import_contacts_file(
            portal, LoadPlan(Path(directory), plan.data), status_entry, poll_interval=poll_interval, journal=journal
        )
    finished = step_finished(result)
    errors = []
    for error in result["errors"]:
        line = rows[error["line"] - 2][0] if error.get("line") else None
        errors.append(
            {
                **error,
                "file": entry["file"],
                "line": line,
                "scope": ("value" if finished else "row") if line else "file",
                "column": MARKETING_STATUS_PROPERTY,
                "message": f"marketing status not set: {error['message']}",
            }
        )
    if not finished:
        errors.append(
            {
                **_row_error(entry["file"], None, "MARKETING_STATUS_NOT_SET", ""),
                "scope": "file",
                "column": MARKETING_STATUS_PROPERTY,
                "message": f"marketing-status import ended {result['state']}: {len(rows)} contacts upserted as "
                "non-marketing, counted failed and sent again by the next run",
            }
        )
    result["errors"] = tie_back(plan, errors)
    return result


def _log_taken_up(file: str, taken_up: list[list[tuple[int, str]]], unsubscribed: list[tuple[int, str]]) -> None:
    """The console lines for the marketing-status imports an earlier run submitted, taken up,
    and for whom they make marketing though HubSpot holds them as unsubscribed now (emails masked)."""
    if not taken_up:
        return
    logger = get_logger()
    logger.info(
        "upsert %s: %d marketing-status import(s) an earlier run submitted taken up (%d contacts), not sent again",
        file, len(taken_up), sum(len(rows) for rows in taken_up),
    )
    if unsubscribed:
        logger.warning(
            "upsert %s: %d contact(s) unsubscribed in HubSpot since an earlier run's marketing-status import named "
            "them; that import, taken up, makes them marketing (the read-back names them, opted-out-made-marketing): %s",
            file, len(unsubscribed), _examples(file, unsubscribed),
        )


def _set_marketing_status(
    portal: HubSpotPortal,
    plan: LoadPlan,
    entry: dict[str, Any],
    imports: list[list[tuple[int, str]]],
    poll_interval: float,
    journal: ImportJournal | None,
) -> dict[str, Any]:
    """Make the upserted contacts of a ``marketable`` file marketing contacts, by imports of
    their emails alone (the API cannot set the status; see the module docstring): one per list
    of rows in ``imports``, in turn (those an earlier run submitted, taken up, then the rows
    none of them holds).

    Returns:
        The last import's result (:func:`~tasks.load.imports.import_contacts_file`), with every
        import's errors (moved onto the lines of the planned file), lists and attempts, the
        other imports' ids as ``earlier_import_ids`` and, unless all ended ``DONE``, the state of
        the first that did not. When an import ended ``DONE``, a row it refused is scoped
        ``value`` (the contact landed, its marketing status did not: data, not sent again). When
        it did not (``FAILED``, ``CANCELED``, refused, not finished), every row of it is scoped
        ``row``: those rows failed, and a rerun (or the next sync) sends them again.
    """
    results = [_status_import(portal, plan, entry, sorted(rows), poll_interval, journal) for rows in imports]
    unfinished = [result["state"] for result in results if not step_finished(result)]
    return {
        **results[-1],
        "earlier_import_ids": [result["import_id"] for result in results[:-1]],
        "previous_import_ids": [import_id for result in results for import_id in result["previous_import_ids"]],
        "state": unfinished[0] if unfinished else FINISHED_STATE,
        "attempts": sum(result["attempts"] for result in results),
        "list_ids": [list_id for result in results for list_id in result["list_ids"]],
        "errors": [error for result in results for error in result["errors"]],
    }


def upsert_contacts_file(
    portal: HubSpotPortal,
    plan: LoadPlan,
    entry: dict[str, Any],
    *,
    threads: int = settings.UPSERT_THREADS,
    poll_interval: float = settings.IMPORT_POLL_INTERVAL_SECONDS,
    on_batch: Callable[[dict[str, int]], None] | None = None,
    journal: ImportJournal | None = None,
) -> dict[str, Any]:
    """Load one planned contacts file through batch upsert (see the module docstring).

    Args:
        portal: The portal.
        plan: The plan the file belongs to.
        entry: The file's entry in ``plan.json`` ``imports``.
        threads: Batches in flight at once.
        poll_interval: Seconds between polls of the marketing-status import.
        on_batch: Called after each batch (from the calling thread) with ``{"rows", "landed",
            "failed", "requests"}`` for that batch, e.g. to update a progress artifact.
        journal: Where the marketing-status import is recorded, and one an earlier run
            submitted is found (``tasks/load/resume.py``).

    Returns:
        The shape of :func:`~tasks.load.imports.import_contacts_file`'s result plus
        ``"path": "upsert"``, ``"requests"`` (batch upserts sent) and
        ``"kept_non_marketing_opted_out"`` (:data:`~tasks.load.opted_out.REPORT_KEY`)::

            {"file", "name", "outcome", "marketable", "rows", "import_id", "earlier_import_ids",
             "previous_import_ids", "state", "attempts", "counters", "list_ids", "rows_failed",
             "rows_with_value_errors", "errors", "path", "requests", "kept_non_marketing_opted_out"}

        ``state`` is ``DONE`` (every row was sent and answered, and the marketing status set),
        else the state the marketing-status import ended in (its rows failed, and as a Prefect
        task the step is not recorded done: that import, run inside it, leaves it unrecorded, so a
        rerun sends the file again); ``import_id`` is that of the (last) marketing-status
        import (``None`` for a non-marketing file), ``earlier_import_ids`` those of the file's
        other marketing-status imports, an earlier run's taken up (each one more import in the
        portal), ``list_ids`` the lists they made;
        ``counters`` has ``TOTAL_ROWS``, ``CREATED_OBJECTS``, ``UPDATED_OBJECTS``, ``ERRORS``;
        errors are ``{"file", "line", "error_type", "scope", "message", "column", "sources"}``,
        scoped as in imports (``row``: not written, ``value``: written without that value).
        ``kept_non_marketing_opted_out`` has a ``{"file", "line", "sent_file", "sent_line",
        "sources"}`` per row of a marketable file whose contact HubSpot holds, once upserted, as
        unsubscribed from all email and not marketing: upserted, left out of the marketing status
        (not failed, not a value error; ``sent_file``/``sent_line`` are ``file``/``line`` until
        the load moves them onto the planned ones, :meth:`~tasks.load.opted_out.KeptNonMarketing.as_planned`).

    Raises:
        LoadError: The load cannot go on (daily quota: :class:`~tasks.load.ratelimit.DailyQuotaSpent`
            says when to rerun; token refused; HubSpot down; no email column). Rows sent
            before it are in HubSpot, and sending them again is harmless (an upsert).
    """
    logger = get_logger()
    file = entry["file"]
    errors: list[dict[str, Any]] = []
    later: list[list[UpsertInput]] = []
    total = _Outcome(requests=0)

    def report(outcome: _Outcome) -> None:
        if on_batch is not None:
            failed = len({error["line"] for error in outcome.errors if error["scope"] == "row"})
            on_batch({"rows": len(outcome.landed) + failed, "landed": len(outcome.landed), "failed": failed, "requests": outcome.requests})

    inputs = read_upsert_inputs(plan.path(file), file)
    _send_all(portal, file, _first_round(inputs, errors, later), total, threads=threads, on_batch=report)
    for repeats in later:
        _send_all(portal, file, chunked(repeats, settings.UPSERT_BATCH_SIZE), total, threads=threads, on_batch=report)
    errors.extend(total.errors)
    marketing: dict[str, Any] = {
        "import_id": None, "earlier_import_ids": [], "previous_import_ids": [], "state": FINISHED_STATE, "attempts": 0,
        "list_ids": [], "errors": [],
    }
    made_marketing, kept = total.landed, []
    if entry.get("marketable") and total.landed:
        # The planned file's key, hashed once: its status imports are recorded and found by it.
        file_journal = None if journal is None else journal.recording({STATUS_IMPORT_OF: step_key(UPSERT, portal.url, plan, entry)})
        taken_up = earlier_status_imports(portal, file_journal)
        covered = {email for rows in taken_up for _, email in rows}
        opted_out = kept_non_marketing_among(portal, [email for _, email in total.landed])
        # Whom an earlier run's import makes marketing it makes so, unsubscribed since or not:
        # not kept, and the read-back names them (opted-out-made-marketing).
        fresh = [(line, email) for line, email in total.landed if email not in covered]
        kept = sorted((line, email) for line, email in fresh if email in opted_out)
        unsent = [(line, email) for line, email in fresh if email not in opted_out]
        made_marketing = [row for rows in taken_up for row in rows] + unsent
        if kept:
            _log_kept(file, kept)
        _log_taken_up(file, taken_up, sorted((line, email) for line, email in total.landed if email in covered & opted_out))
        if taken_up or unsent:
            marketing = _set_marketing_status(portal, plan, entry, taken_up + ([unsent] if unsent else []), poll_interval, file_journal)
    errors = tie_back(plan, errors) + marketing["errors"]
    failed_lines = {error["line"] for error in errors if error["scope"] == "row"}
    value_lines = {error["line"] for error in errors if error["scope"] == "value"} - failed_lines
    if any(error["scope"] == "file" for error in marketing["errors"]):
        value_lines |= {line for line, _ in made_marketing} - failed_lines
    rows = len(failed_lines) + len({line for line, _ in total.landed} - failed_lines)
    logger.info(
        "upsert %s: %d rows, %d created, %d updated, %d failed, %d requests",
        file, rows, total.created, total.updated, len(failed_lines), total.requests,
    )
    return {
        "file": file,
        "name": entry.get("name"),
        "outcome": entry.get("outcome"),
        "marketable": bool(entry.get("marketable", False)),
        "rows": entry.get("rows", rows),
        "import_id": marketing["import_id"],
        "earlier_import_ids": marketing["earlier_import_ids"],
        "previous_import_ids": marketing["previous_import_ids"],
        "state": marketing["state"],
        "attempts": marketing["attempts"],
        "counters": {
            "TOTAL_ROWS": rows,
            "CREATED_OBJECTS": total.created,
            "UPDATED_OBJECTS": total.updated,
            "ERRORS": len(errors),
        },
        "list_ids": marketing["list_ids"],
        "rows_failed": len(failed_lines),
        "rows_with_value_errors": len(value_lines),
        "errors": errors,
        "path": UPSERT,
        "requests": total.requests,
        REPORT_KEY: tie_back(plan, [{"file": file, "line": line, "sent_file": file, "sent_line": line} for line, _ in kept]),
    }


upsert_contacts_file_task = task(
    upsert_contacts_file,
    name="hubspot-upsert-contacts",
    task_run_name="upsert {entry[file]}",
    # Retries by cause happen per request inside; the portal must not be hashed into a cache key.
    retries=0,
    cache_policy=NO_CACHE,
)
