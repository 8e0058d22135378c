"""Contacts files into HubSpot through the Imports API, one import per file.

Each file is uploaded as its own import (``UPSERT`` by email, every column mapped in file order,
``marketableContactImport`` and ``createContactListFromImport`` as the plan says), at most
``MAX_CONCURRENT_IMPORTS`` processing at a time, polled until it ends. ``DONE`` can still hold
failed rows, so the ``/errors`` pages are always read, and every failed row is tied back through
lineage to the source rows it came from. ``reference/hubspot-api.md`` §1.

With an :class:`~tasks.load.resume.ImportJournal`, a file whose import was already submitted
(by a run that was killed or stopped) is not submitted again: its import is polled instead.
So a command stopped while it waits for an import (``tasks/stopping.py`` ends the wait at once)
loses nothing: its rerun takes the import up. A journalled import that ended without doing the
work (``FAILED``, ``CANCELED``) is not taken up: the file is submitted again. As a Prefect task, a
file whose import did not end ``DONE`` is not recorded done (``tasks/load/resume.py``), so a rerun
sends it again; one that ended ``DONE``, row errors and all, is.

HubSpot lets a portal create 500 imports a day (50 on free portals), over a rolling 24 hours,
and does not document its answer past that. Every import created is counted in the portal's
:class:`~tasks.load.ratelimit.ImportLog`; a run that brings the count near the limit says so
once (:func:`imports_day_warning`), nothing waits on it. An import creation HubSpot refuses with a
429 that is not the ten-second window's, or with a 4xx whose message mentions a limit
(:func:`refused_for_imports_limit`), is not retried: the file is left unfinished, with one line
naming the likely cause and when to rerun (:func:`imports_limit_refusal`). A 429 that names no
limit at all (no body, as a proxy may answer) is waited out as a rate window
``settings.UNNAMED_429_WAITS`` times first (:class:`CreationRefusals`).
"""

from __future__ import annotations

import json
import secrets
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks import stopping
from tasks.csv_safety import restore_formulas
from tasks.errors import LoadError
from tasks.load import settings
from tasks.load.client import HubSpotPortal
from tasks.load.log import get_logger
from tasks.load.plan import LoadPlan, read_header, tie_back, unneutralise
from tasks.load.ratelimit import ImportCount
from tasks.load.resume import ImportJournal, leave_unrecorded, step_finished
from tasks.load.retry import (
    TEN_SECOND_WINDOW_POLICY,
    Cause,
    HttpError,
    classify,
    describe,
    error_body,
    error_message,
    http_status,
    rate_policy,
)
from tasks.privacy import mask_emails_in

_IMPORTS_PATH = "/crm/v3/imports"
_UPLOAD_FOLDER_PREFIX = ".onramp-upload-"
# An import found by name must have been created after the journal's intent, less this much
# for the difference between this machine's clock and HubSpot's.
_CLOCK_SKEW_MS = 60_000
# Random bytes (in hex) ending each import's name: ``Onramp mailchimp subscribed marketing 001 [3fa2b1c9]``.
SUBMISSION_TOKEN_BYTES = 4
# States of an import that is still doing, or did, the work asked of it.
_ADOPTABLE_STATES = frozenset({"STARTED", "PROCESSING", "DEFERRED", "DONE"})
EMAIL_COLUMN = "email"
# Import errors about one cell: HubSpot skips the value and still imports the rest of the row.
# Every other error type means the row was not imported at all.
VALUE_ERROR_TYPES = frozenset({
    "AMBIGUOUS_ENUMERATION_OPTION",
    "COLUMN_TOO_LARGE",
    "COULD_NOT_FIND_OWNER",
    "COULD_NOT_PARSE_DATE",
    "COULD_NOT_PARSE_NUMBER",
    "COULD_NOT_PARSE_TERM",
    "INVALID_CUSTOM_PROPERTY_VALIDATION",
    "INVALID_ENUMERATION_OPTION",
    "INVALID_NUMBER_SIZE",
    "INVALID_PROPERTY_VALUE_FORMAT",
    "MULTIPLE_OWNERS_FOUND",
    "OUTSIDE_VALID_TERM_RANGE",
    "OUTSIDE_VALID_TIME_RANGE",
    "PROPERTY_DEFINITION_NOT_FOUND",
    "PROPERTY_VALUE_NOT_FOUND",
    "SECONDARY_EMAIL_WRITE_FAILURE",
})


def error_scope(error_type: str, line: int | None) -> str:
    """What an import error cost: ``file`` (no single row), ``row`` (not imported) or ``value``
    (the row imported without that cell)."""
    if not line:
        return "file"
    return "value" if error_type in VALUE_ERROR_TYPES else "row"


def imports_limit_429(error: BaseException) -> bool:
    """Whether an import creation's 429 may be the portal's imports a day rather than a window.

    HubSpot does not document that answer. Its ten-second window's, search's and daily API
    quota's 429s name their policy (``TEN_SECONDLY_ROLLING``, ``SECONDLY``, ``DAILY``), so any
    other 429 :func:`~tasks.load.retry.classify` would wait out as a window is taken for it: one
    with another policy or with none, except a 429 with a ``subCategory`` and no policy, a limit
    of the file itself (over 1,048,576 rows or 512 MB), which keeps its own message.
    """
    return classify(error) is Cause.RATE_WINDOW and rate_policy(error) != TEN_SECOND_WINDOW_POLICY


def names_no_limit(error: BaseException) -> bool:
    """Whether an error answer names neither a policy nor a category: no body, or one that is
    none of HubSpot's (its rate limits name a ``policyName``, its other refusals a ``category``)."""
    return not (rate_policy(error) or error_body(error).get("category"))


class CreationRefusals:
    """Which of one import creation's failures go to the caller now rather than be retried
    (``call_with_retries``' ``final``; a new one for each creation).

    A 429 :func:`imports_limit_429` takes for the imports a day does, at once when it names its
    limit; one that names none (:func:`names_no_limit`) may be a proxy's or a short window's, so
    only once ``settings.UNNAMED_429_WAITS`` waits of the rate window after such 429s have not
    lifted it. They are counted apart from the ten-second window's 429s, which may come before
    them.
    """

    def __init__(self) -> None:
        self.naming_no_limit = 0

    def __call__(self, error: BaseException) -> bool:
        """Whether ``error``, the creation's latest failure, goes to the caller now."""
        if not imports_limit_429(error):
            return False
        if not names_no_limit(error):
            return True
        self.naming_no_limit += 1
        return self.naming_no_limit > settings.UNNAMED_429_WAITS


def refused_for_imports_limit(error: BaseException) -> bool:
    """Whether HubSpot's refusal to create an import may be the portal's imports a day: a 429
    :func:`imports_limit_429` takes for it, or another 4xx whose message mentions a limit."""
    status = http_status(error)
    if status is None or not 400 <= status < 500:
        return False
    if status == 429:
        return imports_limit_429(error)
    return "limit" in error_message(error).lower()


def may_be_free(burst_limit: int | None) -> bool:
    """Whether a portal may be on HubSpot's free tools as far as Onramp can tell: its ten-second
    burst limit (``X-HubSpot-RateLimit-Max``) is free's and Starter's alike, or not known yet."""
    return burst_limit is None or burst_limit <= settings.FREE_AND_STARTER_BURST_LIMIT


def _utc(moment: datetime) -> str:
    """A time to rerun at, to the minute, rounded up: never a minute before the room frees."""
    later = moment + timedelta(microseconds=-1) + timedelta(minutes=1)
    return f"{later.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"


def _rows(count: int) -> str:
    return f"{count:,} row{'' if count == 1 else 's'}"


def imports_day_warning(count: ImportCount, burst_limit: int | None) -> str | None:
    """The warning for a count of Onramp's imports near the portal's imports a day.

    Args:
        count: Onramp's imports in the portal over the last 24 hours.
        burst_limit: The portal's ten-second burst limit, ``None`` while unknown: one above
            free's and Starter's says a paid plan, whose limit is 500; else it may be 50.

    Returns:
        One line, or ``None`` while the count is below ``settings.IMPORTS_WARN_FREE`` imports and
        ``IMPORT_ROWS_WARN_FREE`` rows (``IMPORTS_WARN_PAID`` imports on a paid plan).
    """
    if not may_be_free(burst_limit):
        if count.imports <= settings.IMPORTS_WARN_PAID:
            return None
        return (
            f"Onramp has created {count.imports} imports in this portal in the last 24 hours, of the "
            f"{settings.IMPORTS_PER_DAY} HubSpot allows in any 24 hours, other apps' and people's imports "
            f"counted too; it refuses more until the oldest is 24 hours old (Onramp's oldest is at {_utc(count.oldest_ages_out)})"
        )
    if count.imports <= settings.IMPORTS_WARN_FREE and count.rows <= settings.IMPORT_ROWS_WARN_FREE:
        return None
    return (
        f"Onramp has created {count.imports} imports ({_rows(count.rows)}) in this portal in the last 24 hours: "
        f"a free portal may create {settings.IMPORTS_PER_DAY_FREE} imports and import {settings.IMPORT_ROWS_PER_DAY_FREE:,} "
        f"rows in any 24 hours (paid plans {settings.IMPORTS_PER_DAY} imports), other apps' and people's imports "
        f"counted too, and HubSpot refuses more until the oldest is 24 hours old (Onramp's oldest is at "
        f"{_utc(count.oldest_ages_out)}). Onramp cannot tell a free portal from a Starter one (both allow "
        f"{settings.FREE_AND_STARTER_BURST_LIMIT} requests per 10 s): on Starter the limit is {settings.IMPORTS_PER_DAY}"
    )


def imports_limit_refusal(error: BaseException, count: ImportCount, now: datetime) -> str:
    """The line for an import HubSpot refused to create, as :func:`refused_for_imports_limit`
    takes it: the likely cause, Onramp's own count, and when to rerun.

    Args:
        error: HubSpot's answer.
        count: Onramp's imports in the portal over the last 24 hours.
        now: The time now (aware).

    Returns:
        The line, emails masked.
    """
    policy = rate_policy(error)
    said = f"{http_status(error)}{' ' + policy if policy else ''}: {error_message(error)}"
    if count.oldest_ages_out:
        made = f"Onramp created {count.imports} in the last 24 h, with {_rows(count.rows)}"
        rerun = f"Rerun after {_utc(count.oldest_ages_out)}, when the oldest of those is 24 h old (room for one more import)"
    else:
        made = "Onramp created none in the last 24 h: other apps' and people's imports count too"
        rerun = f"Rerun by {_utc(now + timedelta(seconds=settings.IMPORTS_WINDOW_SECONDS))} at the latest"
    return mask_emails_in(
        f"HubSpot refused to create the import ({said}): the portal may have reached its imports a day "
        f"({settings.IMPORTS_PER_DAY}; {settings.IMPORTS_PER_DAY_FREE} on free portals, which may also import only "
        f"{settings.IMPORT_ROWS_PER_DAY_FREE:,} rows a day; rolling 24 hours; {made}). {rerun}"
    )


def _count_created(portal: HubSpotPortal, entry: dict[str, Any]) -> None:
    """Count an import HubSpot created in the portal's imports log, and warn, once a run, when
    the count nears HubSpot's imports a day (:func:`imports_day_warning`)."""
    log = portal.imports_log
    count = log.record(int(entry.get("rows") or 0))
    if log.warned:
        return
    warning = imports_day_warning(count, portal.budget.snapshot()["limit"])
    if warning is not None:
        log.warned = True
        get_logger().warning("%s", warning)


def build_import_request(entry: dict[str, Any], header: list[str], *, date_format: str) -> dict[str, Any]:
    """The ``importRequest`` JSON for one planned contacts file.

    Args:
        entry: The file's entry in ``plan.json`` ``imports``.
        header: The file's header row: HubSpot property internal names, in file order.
        date_format: ``YEAR_MONTH_DAY``, ``MONTH_DAY_YEAR`` or ``DAY_MONTH_YEAR``.

    Returns:
        The request, every column mapped in file order (an unmapped column fails the import with
        "Incorrect number of columns"), ``email`` as the alternate id HubSpot upserts by.

    Raises:
        LoadError: The file has no ``email`` column, so HubSpot could not match a single row.
    """
    if EMAIL_COLUMN not in header:
        raise LoadError(f"{entry['file']}: no {EMAIL_COLUMN!r} column in the header; nothing to upsert by")
    file_name = entry["file"].rsplit("/", 1)[-1]
    mappings = []
    for column in header:
        mapping = {
            "columnObjectTypeId": settings.CONTACT_OBJECT_TYPE_ID,
            "columnName": column,
            "propertyName": column,
        }
        if column == EMAIL_COLUMN:
            mapping["columnType"] = "HUBSPOT_ALTERNATE_ID"
        mappings.append(mapping)
    return {
        "name": entry.get("name") or file_name,
        "importOperations": {settings.CONTACT_OBJECT_TYPE_ID: "UPSERT"},
        "dateFormat": date_format,
        # The safe default is non-marketing: a marketing contact is billed, and demoting one
        # only takes effect at the next billing date.
        "marketableContactImport": bool(entry.get("marketable", False)),
        "createContactListFromImport": bool(entry.get("create_list", False)),
        "files": [
            {
                # The SDK uploads the file under its basename; HubSpot matches on this name.
                "fileName": file_name,
                "fileFormat": "CSV",
                "fileImportPage": {"hasHeader": True, "columnMappings": mappings},
            }
        ],
    }


def submit_import(
    portal: HubSpotPortal, plan: LoadPlan, entry: dict[str, Any], journal: ImportJournal | None = None
) -> str:
    """Start the import of one planned contacts file.

    Args:
        portal: The portal.
        plan: The plan.
        entry: The file's entry in ``plan.json`` ``imports``.
        journal: Where to record the intent before submitting and the import id after.

    Returns:
        HubSpot's import id.

    Raises:
        HttpError: HubSpot refused to create the import; a 429 that may be the portal's imports
            a day (:func:`imports_limit_429`) without the ten-second window's retries, or after
            a few when it names no limit (:class:`CreationRefusals`).
    """
    with values_as_they_are(plan.path(entry["file"]), plan.directory) as upload:
        header = read_header(upload)
        if entry.get("columns") and list(entry["columns"]) != header:
            get_logger().warning("%s: header differs from the plan's columns; mapping the header", entry["file"])
        request = build_import_request(entry, header, date_format=entry.get("date_format", settings.DEFAULT_DATE_FORMAT))
        # Named for this submission alone: the import HubSpot may have created is found by its
        # name (a lost answer, a run killed before it wrote the id down), and the plan's names
        # repeat (another plan's file, another run's, another --out into the same portal).
        request["name"] = f"{request['name']} [{secrets.token_hex(SUBMISSION_TOKEN_BYTES)}]"
        intent_at = int(time.time() * 1000)
        if journal is not None:
            journal.intend(plan, entry, request["name"], intent_at)

        def created() -> Any:
            # A second submission is a second import: after an answer was lost (a 504 is a
            # timeout of work HubSpot may have done), the import is looked for by its name.
            import_id = find_import(portal, request["name"], intent_at)
            return None if import_id is None else get_import(portal, import_id)

        response = portal.call(
            portal.sdk.crm.imports.core_api.create_with_http_info,
            files=str(upload),
            import_request=json.dumps(request),
            what=f"POST {_IMPORTS_PATH}",
            landed=created,
            # A wait of seconds does not lift the portal's imports a day: no ten-second retries.
            final=CreationRefusals(),
        )
    if journal is not None:
        journal.submitted(plan, entry, str(response.id))
    _count_created(portal, entry)
    get_logger().info("import %s started for %s (%s rows)", response.id, entry["file"], entry.get("rows", "?"))
    return str(response.id)


@contextmanager
def values_as_they_are(path: Path, scratch: Path) -> Iterator[Path]:
    """A copy of a planned contacts file, to upload, holding the values themselves.

    The planner puts an apostrophe in front of a cell a spreadsheet would run as a formula
    (``tasks/csv_safety.py``), for the people who open the files; HubSpot's importer would keep
    it as part of the value (``'- call back`` for ``- call back``), where the upsert path sends
    the value itself. The copy takes it off every cell and header, and keeps the file's name
    (HubSpot matches the file by it) and its rows in order (HubSpot's error lines are the
    plan's).

    Args:
        path: The planned file.
        scratch: A folder for the copy, removed with it (the plan's own: the copy is as big as
            the file).
    """
    with tempfile.TemporaryDirectory(prefix=_UPLOAD_FOLDER_PREFIX, dir=scratch) as folder:
        upload = Path(folder) / path.name
        rows = pl.scan_csv(path, infer_schema=False, glob=False)
        names = rows.collect_schema().names()
        restored = rows.select(restore_formulas(pl.col(name)).alias(unneutralise(name)) for name in names)
        restored.sink_csv(upload, quote_style="necessary")
        yield upload


def find_import(portal: HubSpotPortal, name: str, since_ms: int) -> str | None:
    """The newest import named ``name`` created since ``since_ms`` that is running or DONE.

    This is how a run that was killed while submitting finds the import HubSpot may have
    created: the journal holds the name and when it was about to submit, not yet the id.

    Returns:
        Its import id, or ``None`` when HubSpot has no such import.
    """
    found: tuple[float, str] | None = None
    after: str | None = None
    while True:
        page = portal.call(
            portal.sdk.crm.imports.core_api.get_page_with_http_info,
            after=after,
            limit=settings.IMPORT_ERRORS_PAGE_SIZE,
            what=f"GET {_IMPORTS_PATH}",
        )
        for candidate in page.results or []:
            created_ms = candidate.created_at.timestamp() * 1000 if candidate.created_at else 0
            if (
                candidate.import_name == name
                and candidate.state in _ADOPTABLE_STATES
                and created_ms >= since_ms - _CLOCK_SKEW_MS
                and (found is None or created_ms > found[0])
            ):
                found = (created_ms, str(candidate.id))
        after = page.paging.next.after if page.paging and page.paging.next else None
        if not after:
            return found[1] if found else None


def resume_import(portal: HubSpotPortal, plan: LoadPlan, entry: dict[str, Any], journal: ImportJournal) -> str | None:
    """The import an earlier run submitted for this file, if the journal or HubSpot knows one
    that is still running or ended ``DONE``.

    One that ended otherwise (``FAILED``, ``CANCELED``) did not do the work, so the file is
    submitted again; one that ended ``DONE`` is never submitted twice.
    """
    record = journal.read(plan, entry)
    import_id = adoptable_import(portal, record)
    if import_id is not None and not record.get("import_id"):
        journal.submitted(plan, entry, import_id)
    return import_id


def adoptable_import(portal: HubSpotPortal, record: dict[str, Any]) -> str | None:
    """The import an import journal's record names (:class:`~tasks.load.resume.ImportJournal`)
    when HubSpot holds it still running or ``DONE``: by its id, or, for a run killed while
    submitting (the record holds only the name and when), by :func:`find_import`. ``None`` when
    HubSpot has none such: it ended ``FAILED`` or ``CANCELED``, or was never created (refused
    at submission, the day's quota spent, the run stopped before the request)."""
    if record.get("import_id"):
        import_id = str(record["import_id"])
        state = get_import(portal, import_id).state
        if state in _ADOPTABLE_STATES:
            return import_id
        named = record.get("file", record.get("name"))
        get_logger().info("%s: import %s of an earlier run ended %s; submitting the file again", named, import_id, state)
        return None
    if record.get("name"):
        return find_import(portal, record["name"], int(record.get("intent_at", 0)))
    return None


def get_import(portal: HubSpotPortal, import_id: str) -> Any:
    """The import's current ``PublicImportResponse``."""
    return portal.call(
        portal.sdk.crm.imports.core_api.get_by_id_with_http_info,
        int(import_id),
        what=f"GET {_IMPORTS_PATH}/{import_id}",
    )


def read_import_errors(
    portal: HubSpotPortal, plan: LoadPlan, entry: dict[str, Any], import_id: str
) -> list[dict[str, Any]]:
    """Every error row of an import, all pages, tied back to source rows.

    Returns:
        ``[{"file", "line", "error_type", "scope", "message", "column", "sources"}]``: ``line``
        is ``None`` for an error about the whole file, ``scope`` as :func:`error_scope` says,
        ``column`` the header name of the cell at fault when HubSpot says which.
    """
    header = read_header(plan.path(entry["file"]))
    errors: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = portal.call(
            portal.sdk.crm.imports.public_imports_api.get_errors_with_http_info,
            int(import_id),
            after=after,
            limit=settings.IMPORT_ERRORS_PAGE_SIZE,
            include_error_message=True,
            include_row_data=True,
            what=f"GET {_IMPORTS_PATH}/{import_id}/errors",
        )
        for error in page.results or []:
            column_number = error.known_column_number
            # lineNumber 0 means the whole file.
            line = (error.source_data.line_number if error.source_data else None) or None
            errors.append(
                {
                    "file": entry["file"],
                    "line": line,
                    "error_type": error.error_type,
                    "scope": error_scope(error.error_type, line),
                    # Messages quote the offending value, which can be an address.
                    "message": mask_emails_in(error.error_message or ""),
                    "column": header[column_number] if column_number is not None and 0 <= column_number < len(header) else None,
                }
            )
        after = page.paging.next.after if page.paging and page.paging.next else None
        if not after:
            return tie_back(plan, errors)


@dataclass
class _Running:
    """An import being waited for: its plan entry, current import id and earlier failed ids."""

    entry: dict[str, Any]
    import_id: str | None = None
    started: float = 0.0
    attempts: int = 0
    previous_ids: list[str] = field(default_factory=list)


def _file_error(file: str, error_type: str, message: str) -> dict[str, Any]:
    return {
        "file": file, "line": None, "error_type": error_type, "scope": "file",
        "message": message, "column": None, "sources": [],
    }


def _submit(
    portal: HubSpotPortal, plan: LoadPlan, run: _Running, journal: ImportJournal | None
) -> dict[str, Any] | None:
    """(Re)start ``run``'s import; returns the error when HubSpot refuses to start it (a 4xx),
    naming the portal's imports a day when that may be why (:func:`refused_for_imports_limit`).

    On the first attempt, an import an earlier run submitted for the file is taken up instead,
    unless it ended without doing the work (:func:`resume_import`).
    """
    if run.attempts == 0 and journal is not None:
        resumed = resume_import(portal, plan, run.entry, journal)
        if resumed is not None:
            get_logger().info("%s: taking up import %s submitted by an earlier run", run.entry["file"], resumed)
            run.import_id, run.attempts, run.started = resumed, 1, time.monotonic()
            return None
    if run.import_id is not None:
        run.previous_ids.append(run.import_id)
    run.attempts += 1
    try:
        run.import_id = submit_import(portal, plan, run.entry, journal)
    except HttpError as error:
        run.import_id = None
        if refused_for_imports_limit(error):
            message = imports_limit_refusal(error, portal.imports_log.count(), datetime.now(timezone.utc))
        else:
            message = mask_emails_in(describe(error))
        return _file_error(run.entry["file"], "IMPORT_REJECTED", message)
    run.started = time.monotonic()
    return None


# What a row of a file whose import did not end DONE is, by the import's last state.
_NOT_LOADED = {
    "FAILED": ("IMPORT_FAILED", "not loaded: its file's import failed"),
    "CANCELED": ("IMPORT_CANCELED", "not loaded: its file's import was canceled"),
    "REJECTED": ("IMPORT_REJECTED", "not loaded: HubSpot refused to start its file's import"),
}
_NOT_CONFIRMED = ("IMPORT_NOT_FINISHED", "not confirmed: its file's import was still running when the load stopped waiting")


def rows_not_loaded(
    plan: LoadPlan, run: _Running, state: str, errors: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """An error for each row of a file whose import did not end ``DONE``, tied back to its sources.

    Every row of such a file is counted failed; this names them, so a reader finds the source
    rows to look at and why. Rows HubSpot already gave an error of their own keep that one. Only
    a failure takes this path, so a loop over the file's rows is fine.

    Args:
        plan: The plan (its lineage names the sources).
        run: The import.
        state: Its last state (``FAILED``, ``CANCELED``, ``REJECTED``, or one still running).
        errors: The errors already known for the file (HubSpot's, the refusal to start).

    Returns:
        ``errors`` and one ``row`` error per other row, shaped as :func:`read_import_errors`'.
    """
    error_type, what = _NOT_LOADED.get(state, _NOT_CONFIRMED)
    reasons = "; ".join(dict.fromkeys(error["message"] for error in errors if error["scope"] == "file" and error["message"]))
    message = f"{what} (import {run.import_id or 'not started'}, {state}{': ' + reasons if reasons else ''})"
    named = {error["line"] for error in errors if error["scope"] == "row"}
    rows = [
        {"file": run.entry["file"], "line": line, "error_type": error_type, "scope": "row", "message": message, "column": None}
        for line in range(2, int(run.entry.get("rows") or 0) + 2)
        if line not in named
    ]
    return errors + tie_back(plan, rows)


def _result(run: _Running, state: str, metadata: Any, errors: list[dict[str, Any]]) -> dict[str, Any]:
    entry = run.entry
    failed_lines = {error["line"] for error in errors if error["scope"] == "row"}
    value_lines = {error["line"] for error in errors if error["scope"] == "value"} - failed_lines
    return {
        "file": entry["file"],
        "name": entry.get("name"),
        "outcome": entry.get("outcome"),
        "marketable": bool(entry.get("marketable", False)),
        "rows": entry.get("rows"),
        "import_id": run.import_id,
        "previous_import_ids": list(run.previous_ids),
        "state": state,
        "attempts": run.attempts,
        "counters": dict(metadata.counters or {}) if metadata else {},
        "list_ids": [str(obj_list.list_id) for obj_list in (metadata.object_lists or [])] if metadata else [],
        # A file whose import did not finish DONE: none of its rows can be counted as loaded.
        "rows_failed": len(failed_lines) if state == "DONE" else int(entry.get("rows") or 0),
        "rows_with_value_errors": len(value_lines) if state == "DONE" else 0,
        "errors": errors,
    }


def import_contacts_files(
    portal: HubSpotPortal,
    plan: LoadPlan,
    entries: list[dict[str, Any]] | None = None,
    *,
    poll_interval: float = settings.IMPORT_POLL_INTERVAL_SECONDS,
    timeout: float = settings.IMPORT_TIMEOUT_SECONDS,
    journal: ImportJournal | None = None,
) -> list[dict[str, Any]]:
    """Import planned contacts files, at most ``MAX_CONCURRENT_IMPORTS`` processing at a time.

    A ``DEFERRED`` import (HubSpot is busy with other imports of the portal) is simply polled on.
    A ``FAILED`` one is submitted again, ``IMPORT_FAILED_RETRIES`` times. One HubSpot refuses to
    start (a 4xx) ends ``REJECTED`` with an ``IMPORT_REJECTED`` error, and the other files go on; a
    refusal that may be the portal's imports a day (:func:`refused_for_imports_limit`) is not
    retried, and its error says so and when to rerun.
    An import still running after ``timeout`` is left to HubSpot and reported with an
    ``IMPORT_NOT_FINISHED`` error.

    Args:
        portal: The portal.
        plan: The plan.
        entries: The files' entries in ``plan.json`` ``imports``; all of them by default.
        poll_interval: Seconds between status polls.
        timeout: Seconds to wait for one import, from its submission.
        journal: When given, imports are recorded in it, and one an earlier run submitted for
            the same file is polled rather than submitted again.

    Returns:
        One result per entry, in entry order: ``{"file", "name", "outcome", "marketable",
        "rows", "import_id", "previous_import_ids", "state", "attempts", "counters",
        "list_ids", "rows_failed", "rows_with_value_errors", "errors"}``, errors shaped as
        :func:`read_import_errors`. ``rows_failed`` counts rows not imported (all of them when
        the import did not end ``DONE``); ``rows_with_value_errors`` rows imported without a
        value.

    Raises:
        LoadError: The load cannot go on (daily quota, token refused, HubSpot down, a file
            without an email column).
    """
    logger = get_logger()
    entries = plan.imports if entries is None else entries
    pending = deque(entries)
    running: list[_Running] = []
    results: dict[str, dict[str, Any]] = {}
    while pending or running:
        while pending and len(running) < settings.MAX_CONCURRENT_IMPORTS:
            run = _Running(pending.popleft())
            rejection = _submit(portal, plan, run, journal)
            if rejection is None:
                running.append(run)
            else:
                logger.warning("%s: %s", run.entry["file"], rejection["message"])
                results[run.entry["file"]] = _result(run, "REJECTED", None, rows_not_loaded(plan, run, "REJECTED", [rejection]))
        if not running:
            continue
        stopping.wait(poll_interval)
        for run in list(running):
            response = get_import(portal, run.import_id)
            file = run.entry["file"]
            if response.state not in settings.IMPORT_TERMINAL_STATES:
                if time.monotonic() - run.started < timeout:
                    continue
                message = f"import {run.import_id} still {response.state} after {timeout:.0f} s; left running"
                errors = [_file_error(file, "IMPORT_NOT_FINISHED", message)]
                logger.warning("%s: %s", file, message)
            elif response.state == "FAILED" and run.attempts <= settings.IMPORT_FAILED_RETRIES:
                logger.warning("import %s of %s FAILED; submitting it again", run.import_id, file)
                rejection = _submit(portal, plan, run, journal)
                if rejection is None:
                    continue
                errors = [rejection]
            else:
                errors = read_import_errors(portal, plan, run.entry, run.import_id)
            if response.state != "DONE":
                errors = rows_not_loaded(plan, run, response.state, errors)
            running.remove(run)
            results[file] = _result(run, response.state, response.metadata, errors)
            logger.info(
                "import %s of %s: %s, %d row errors", run.import_id, file, response.state, len(errors)
            )
    return [results[entry["file"]] for entry in entries]


def import_contacts_file(
    portal: HubSpotPortal,
    plan: LoadPlan,
    entry: dict[str, Any],
    *,
    poll_interval: float = settings.IMPORT_POLL_INTERVAL_SECONDS,
    timeout: float = settings.IMPORT_TIMEOUT_SECONDS,
    journal: ImportJournal | None = None,
) -> dict[str, Any]:
    """Import one planned contacts file and wait for it; see :func:`import_contacts_files`.

    A flow that runs this per file keeps to ``settings.MAX_CONCURRENT_IMPORTS`` at once itself
    (e.g. a task runner with that many workers); a fourth would only wait as ``DEFERRED``. In a
    Prefect task, an import that did not end ``DONE`` keeps the task from being recorded done
    (:func:`~tasks.load.resume.leave_unrecorded`), so a rerun sends the file again.
    """
    result = import_contacts_files(
        portal, plan, [entry], poll_interval=poll_interval, timeout=timeout, journal=journal
    )[0]
    if not step_finished(result):
        leave_unrecorded()
    return result


import_contacts_file_task = task(
    import_contacts_file,
    name="hubspot-import-contacts",
    task_run_name="import {entry[file]}",
    # Resubmitting a whole file is the FAILED-import retry above; HTTP retries happen per request.
    retries=0,
    cache_policy=NO_CACHE,
)
