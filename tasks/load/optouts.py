"""Opt-outs: unsubscribing the opt-out files' addresses from all email, before any import.

HubSpot's API has no opt-out import (``reference/hubspot-api.md`` §1.5), so each address is
unsubscribed through communication preferences v4 ``unsubscribe-all``: the batch endpoint where
the token may use it (Marketing Hub Enterprise), else one call per address, ``OPT_OUT_THREADS``
in flight through the whole file under the portal's shared rate budget. Then the statuses are
read back, and an address counts as done only when HubSpot reports it unsubscribed. Nothing here
creates a contact.

Opt-outs go first so that no later import can make one of these addresses marketable before its
opt-out is recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from schemas.contact import ascii_spelling
from tasks.csv_safety import restore_formulas
from tasks.load import settings
from tasks.load.batches import chunked
from tasks.load.client import HubSpotPortal
from tasks.load.log import get_logger
from tasks.load.plan import LoadPlan, iter_column, tie_back, unneutralise
from tasks.load.retry import HttpError, describe, error_body
from tasks.privacy import mask_email, mask_emails_in

T = TypeVar("T")
R = TypeVar("R")
_PARAMS = {"channel": settings.OPT_OUT_CHANNEL}
_BATCH_PATH = f"{settings.COMM_PREFS_PATH}/batch/unsubscribe-all"
NOT_UNSUBSCRIBED = "not unsubscribed from all email when read back"


def normalise_email(value: str) -> str:
    """An opt-out file's cell as the address to unsubscribe.

    Trimmed and lowercased (as HubSpot stores it), and with the apostrophe the planner puts in
    front of a formula-like cell removed: ``'-joe@x.com`` is the address ``-joe@x.com``, and
    unsubscribing the apostrophe form would leave the real address subscribed.
    """
    return unneutralise(value.strip()).strip().lower()


def normalised_emails(cells: pl.Expr) -> pl.Expr:
    """:func:`normalise_email` over a column of planned cells, in polars."""
    return restore_formulas(cells.str.strip_chars()).str.strip_chars().str.to_lowercase()


def read_opt_out_emails(path: Path) -> tuple[list[tuple[int, str]], list[int]]:
    """Read an opt-out file's ``Email`` column.

    Args:
        path: The opt-out CSV.

    Returns:
        ``(addresses, blank_lines)``: each distinct address once, with the first line it is on
        (header = line 1), and the lines whose email cell is empty.
    """
    seen: set[str] = set()
    addresses: list[tuple[int, str]] = []
    blank_lines: list[int] = []
    for line, value in iter_column(path, "email"):
        email = normalise_email(value)
        if not email:
            blank_lines.append(line)
        elif email not in seen:
            seen.add(email)
            addresses.append((line, email))
    return addresses, blank_lines


def _single_path(email: str) -> str:
    # "+" must be escaped: some servers read a literal "+" in a path as a space.
    return f"{settings.COMM_PREFS_PATH}/{quote(email, safe='@')}/unsubscribe-all"


def _is_unsubscribed(wide_statuses: Iterable[dict[str, Any]]) -> bool:
    return any(status.get("status") == "UNSUBSCRIBED" for status in wide_statuses)


def as_answered(call: Callable[[T], R], items: Iterable[T]) -> Iterator[tuple[T, R]]:
    """``call`` on every item, ``OPT_OUT_THREADS`` at once, each ``(item, result)`` as it comes.

    Without the batch endpoints each address is a request, and only several in flight keep up
    with the portal's budget, which paces them all. A thread that finishes takes the next item at
    once: nothing waits for the slowest answer of a group (waiting for that of every 100
    addresses, unsubscribes then read-backs, idled the threads twice an answer's time per 100).
    Items are taken at most twice the threads ahead of the answers, so a million-address file
    never holds a million pending calls.

    Args:
        call: What to do with one item (one request, usually); it runs in the pool's threads.
        items: The items, taken lazily.

    Yields:
        ``(item, call(item))``, in the order the calls finish.

    Raises:
        Exception: The first exception a call raised (:class:`~tasks.errors.LoadError`,
            :class:`~tasks.stopping.Stopping`): the items not yet started are dropped, and the
            calls in flight end before it is raised.
    """
    read_ahead = 2 * settings.OPT_OUT_THREADS
    with ThreadPoolExecutor(max_workers=settings.OPT_OUT_THREADS, thread_name_prefix="hubspot-opt-out") as pool:
        pending: dict[Future[R], T] = {}
        try:
            for item in items:
                pending[pool.submit(call, item)] = item
                if len(pending) >= read_ahead:
                    yield from _finished(pending)
            while pending:
                yield from _finished(pending)
        finally:
            for future in pending:
                future.cancel()


def _finished(pending: dict[Future[R], T]) -> Iterator[tuple[T, R]]:
    """Wait for at least one of ``pending`` to finish; yield and forget those that have."""
    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
    for future in finished:
        item = pending.pop(future)
        yield item, future.result()


def _unsubscribe_one(portal: HubSpotPortal, email: str) -> str | None:
    """Unsubscribe one address; returns why HubSpot refused it (emails masked), or ``None``."""
    try:
        portal.request("POST", _single_path(email), params=_PARAMS)
    except HttpError as error:
        return mask_emails_in(describe(error))
    return None


def _read_back(portal: HubSpotPortal, email: str) -> str | None:
    """Why ``email``, read back on its own, is not taken: ``None`` when HubSpot holds it
    unsubscribed from all email, :data:`NOT_UNSUBSCRIBED` when it does not, and HubSpot's own
    reason when it will not read the address (a malformed one: it is certainly not unsubscribed)."""
    try:
        response = portal.request("GET", _single_path(email), params=_PARAMS)
    except HttpError as error:
        return _unreadable(error)
    return None if _is_unsubscribed((response or {}).get("results", [])) else NOT_UNSUBSCRIBED


def _unreadable(error: HttpError) -> str:
    """An address's failure when HubSpot refused to read its status, with HubSpot's reason."""
    return f"HubSpot would not read it back: {mask_emails_in(describe(error))}"


def _with_other_spellings(emails: Iterable[str]) -> Iterator[tuple[str, bool]]:
    """Each address as ``(address, False)``, followed by its ``xn--`` spelling as
    ``(spelling, True)`` when its domain is internationalised (:func:`schemas.contact.ascii_spelling`):
    the portal may hold that one."""
    for email in emails:
        yield email, False
        spelling = ascii_spelling(email)
        if spelling is not None:
            yield spelling, True


def _unsubscribe_singly(portal: HubSpotPortal, targets: Iterable[tuple[str, bool]], failures: dict[str, str]) -> int:
    """Unsubscribe each of ``targets`` (:func:`_with_other_spellings`) with a call of its own.

    A refused address goes into ``failures``; a refused ``xn--`` spelling is only logged, as it
    is over and above the file's addresses (the file's address itself is what the ledger
    verifies). Returns how many ``xn--`` spellings were sent.
    """
    spellings = 0
    for (email, other_spelling), failure in as_answered(lambda target: _unsubscribe_one(portal, target[0]), targets):
        spellings += other_spelling
        if failure is None:
            continue
        if other_spelling:
            get_logger().warning("opt-out of %s, the xn-- spelling of an address: %s", mask_email(email), failure)
        else:
            failures[email] = failure
    return spellings


def _opt_out_singly(portal: HubSpotPortal, emails: list[str], failures: dict[str, str]) -> int:
    """Unsubscribe ``emails`` (and their ``xn--`` spellings) one call each, then read each back.

    Every unsubscribe is answered before the first read-back, each step keeping
    ``OPT_OUT_THREADS`` requests in flight over all of ``emails``. An address not unsubscribed
    when read back goes into ``failures``, as does one whose call was refused, unless HubSpot
    holds it unsubscribed all the same (:func:`_taken_though_refused`). Returns how many
    ``xn--`` spellings were sent.
    """
    spellings = _unsubscribe_singly(portal, _with_other_spellings(emails), failures)
    refused = [email for email in emails if email in failures]
    to_read = [email for email in emails if email not in failures]
    for email, failure in as_answered(lambda email: _read_back(portal, email), to_read):
        if failure is not None:
            failures[email] = failure
    for email in _taken_though_refused(portal, refused):
        get_logger().info("opt-out of %s refused (%s), but HubSpot holds it unsubscribed: taken", mask_email(email), failures.pop(email))
    return spellings


def _taken_though_refused(portal: HubSpotPortal, refused: list[str]) -> set[str]:
    """The addresses among ``refused`` (their unsubscribe call refused) that HubSpot holds
    unsubscribed from all email, read back in batches where the portal allows them.

    HubSpot may refuse to unsubscribe an address it holds unsubscribed already: one a sync
    sends again because an earlier run's list removal failed, or its answer was lost. Counted
    failed, it would stay pending and be sent again by every run, never taken.
    """
    held = {email for batch in chunked(refused, settings.OPT_OUT_BATCH_SIZE) for email in unsubscribed_among(portal, batch)}
    return held & set(refused)


def _unsubscribe_in_batch(portal: HubSpotPortal, emails: list[str]) -> bool:
    """Unsubscribe ``emails`` through the batch endpoint; ``False`` when they must go one call
    each instead (the portal's tier does not allow it, or HubSpot refused the batch)."""
    try:
        portal.request("POST", _BATCH_PATH, params=_PARAMS, json={"inputs": emails})
    except HttpError as error:
        if error.status == 403:
            # The batch scopes need Marketing Hub Enterprise: remember, stop asking.
            portal.batch_opt_outs_allowed = False
            get_logger().info("batch unsubscribe not allowed for this portal (403): one call per address")
        else:
            # A 4xx for the whole batch (one malformed address, say): address by address
            # isolates it, and the others still get unsubscribed.
            get_logger().warning("batch unsubscribe refused (%s): retrying address by address", mask_emails_in(describe(error)))
        return False
    portal.batch_opt_outs_allowed = True
    return True


def _opt_out_in_batch(portal: HubSpotPortal, emails: list[str], failures: dict[str, str]) -> int:
    """Opt out a batch the batch endpoint took (:func:`_unsubscribe_in_batch`): unsubscribe the
    ``xn--`` spellings too, then read the addresses back; returns how many spellings were sent."""
    spellings = [spelling for spelling in map(ascii_spelling, emails) if spelling is not None]
    if spellings and not _unsubscribe_in_batch(portal, spellings):
        _unsubscribe_singly(portal, ((spelling, True) for spelling in spellings), failures)
    unreadable: dict[str, str] = {}
    done = unsubscribed_among(portal, emails, unreadable)
    failures.update((email, unreadable.get(email, NOT_UNSUBSCRIBED)) for email in emails if email not in done)
    return len(spellings)


def unsubscribed_among(portal: HubSpotPortal, emails: list[str], unreadable: dict[str, str] | None = None) -> set[str]:
    """The addresses among ``emails`` that HubSpot reports unsubscribed from all email.

    A batch read HubSpot refuses 400 whole, as it may for a malformed address, names the
    addresses it refused (``context``, HubSpot's map of names to values, or an ``errors``
    entry's): those are left out and the rest read again in a batch, once; only an answer that
    names none of them (or a second refusal) has the rest read one address each.

    Args:
        portal: The portal to ask (the batch read when its tier allows, else one call each).
        emails: Normalised addresses.
        unreadable: Where the addresses HubSpot would not read go, with its reason
            (:func:`_unreadable`), when given.
    """
    unreadable = {} if unreadable is None else unreadable
    if portal.batch_opt_outs_allowed:
        for _read in range(2):
            try:
                response = portal.request("POST", f"{_BATCH_PATH}/read", params=_PARAMS, json={"inputs": emails})
            except HttpError as error:
                if error.status == 403:
                    break
                if error.status != 400:
                    raise
                named = _addresses_named(error, emails)
                get_logger().warning(
                    "batch status read refused (%s): %s",
                    mask_emails_in(describe(error)),
                    f"reading the other {len(emails) - len(named)} again" if named else "reading address by address",
                )
                if not named:
                    break
                unreadable.update(dict.fromkeys(named, _unreadable(error)))
                emails = [email for email in emails if email not in named]
                if not emails:
                    return set()
            else:
                return {
                    str(result.get("subscriberIdString", "")).lower()
                    for result in (response or {}).get("results", [])
                    if _is_unsubscribed(result.get("wideStatuses", []))
                }
    unsubscribed = set()
    for email, failure in as_answered(lambda email: _read_back(portal, email), emails):
        if failure is None:
            unsubscribed.add(email)
        elif failure != NOT_UNSUBSCRIBED:
            unreadable[email] = failure
    return unsubscribed


def _addresses_named(error: HttpError, emails: list[str]) -> set[str]:
    """The addresses of ``emails`` a refusal names in its ``context`` or an ``errors`` entry's
    (HubSpot's ``Error``: a map of names to lists of values, crm specs' ``ErrorDetail`` alike)."""
    body = error_body(error)
    contexts = [body.get("context"), *(detail.get("context") for detail in body.get("errors") or [] if isinstance(detail, dict))]
    named = {
        str(value).strip().lower()
        for context in contexts
        if isinstance(context, dict)
        for values in context.values()
        for value in (values if isinstance(values, list) else [values])
    }
    return named & set(emails)


def apply_opt_out_file(portal: HubSpotPortal, plan: LoadPlan, entry: dict[str, Any]) -> dict[str, Any]:
    """Unsubscribe every address of one opt-out file from all email, and verify it.

    Args:
        portal: The portal.
        plan: The plan the file belongs to (for its directory and lineage).
        entry: The file's entry in ``plan.json`` ``opt_outs``: ``file``, ``status``, ``rows``.

    Returns:
        ``{"file", "status", "rows", "addresses", "unsubscribed", "failed", "mode", "errors"}``:
        ``rows`` as the plan counts them, ``addresses`` the distinct addresses sent,
        ``unsubscribed`` those HubSpot reports unsubscribed when read back, ``mode`` ``batch``
        or ``single`` (the last used), ``errors`` one per failed row as
        ``{"file", "line", "error_type", "scope", "message", "sources"}`` (``scope`` is ``row``).

    Raises:
        LoadError: The load cannot go on (daily quota, token refused, HubSpot down).
    """
    logger = get_logger()
    addresses, blank_lines = read_opt_out_emails(plan.path(entry["file"]))
    failures: dict[str, str] = {}
    other_spellings = 0
    # Batches while the portal allows them; the addresses it does not take in a batch, one call
    # each, all in one stream so that the requests stay in flight through the whole file.
    singly: list[str] = []
    for batch in chunked((email for _, email in addresses), settings.OPT_OUT_BATCH_SIZE):
        if portal.batch_opt_outs_allowed is not False and _unsubscribe_in_batch(portal, batch):
            other_spellings += _opt_out_in_batch(portal, batch, failures)
        else:
            singly.extend(batch)
    other_spellings += _opt_out_singly(portal, singly, failures)
    errors: list[dict[str, Any]] = [
        {"file": entry["file"], "line": line, "error_type": "NO_EMAIL", "scope": "row", "message": "empty Email cell"}
        for line in blank_lines
    ]
    for line, email in addresses:
        if email not in failures:
            continue
        message = failures[email]
        errors.append(
            {"file": entry["file"], "line": line, "error_type": "OPT_OUT_FAILED", "scope": "row", "message": message}
        )
        logger.warning("opt-out %s line %d (%s): %s", entry["file"], line, mask_email(email), message)
    verified = len(addresses) - len(failures)
    logger.info("opt-outs %s: %d of %d addresses unsubscribed", entry["file"], verified, len(addresses))
    if other_spellings:
        logger.info("opt-outs %s: also %d internationalised address(es) in their xn-- spelling", entry["file"], other_spellings)
    return {
        "file": entry["file"],
        "status": entry.get("status"),
        "rows": entry.get("rows"),
        "addresses": len(addresses),
        "unsubscribed": verified,
        "failed": len(errors),
        "mode": "single" if singly else "batch",
        "errors": tie_back(plan, errors),
    }


def apply_opt_outs(portal: HubSpotPortal, plan: LoadPlan) -> dict[str, Any]:
    """Apply every opt-out file of the plan, in plan order.

    Returns:
        ``{"files": [per-file results without their errors], "unsubscribed": N, "failed": N,
        "errors": [every file's errors]}``.
    """
    files: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for entry in plan.opt_outs:
        result = apply_opt_out_file(portal, plan, entry)
        errors.extend(result.pop("errors"))
        files.append(result)
    return {
        "files": files,
        "unsubscribed": sum(result["unsubscribed"] for result in files),
        "failed": sum(result["failed"] for result in files),
        "errors": errors,
    }


apply_opt_out_file_task = task(
    apply_opt_out_file,
    name="hubspot-apply-opt-outs",
    task_run_name="opt-outs {entry[file]}",
    # Retries by cause happen per request inside; the portal must not be hashed into a cache key.
    retries=0,
    cache_policy=NO_CACHE,
)
