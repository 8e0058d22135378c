"""Opt-outs: unsubscribing the opt-out files' addresses from all email, before any import.

HubSpot's API has no opt-out import (``reference/hubspot-api.md`` §1.5), so each address is
unsubscribed through communication preferences v4 ``unsubscribe-all``: the batch endpoint where
the token may use it (Marketing Hub Enterprise), else one call per address, several in flight
under the portal's shared rate budget. Then the statuses are
read back, and an address counts as done only when HubSpot reports it unsubscribed. Nothing here
creates a contact.

Opt-outs go first so that no later import can make one of these addresses marketable before its
opt-out is recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
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
from tasks.load.retry import HttpError, describe
from tasks.privacy import mask_email, mask_emails_in

T = TypeVar("T")
_PARAMS = {"channel": settings.OPT_OUT_CHANNEL}
_BATCH_PATH = f"{settings.COMM_PREFS_PATH}/batch/unsubscribe-all"


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


def _per_address(call: Callable[[str], T], emails: list[str]) -> list[T]:
    """``call`` for every address, ``OPT_OUT_THREADS`` at once: without the batch endpoint each
    address is a request, and only several in flight keep up with the portal's budget, which
    paces them all."""
    with ThreadPoolExecutor(max_workers=settings.OPT_OUT_THREADS, thread_name_prefix="hubspot-opt-out") as pool:
        return list(pool.map(call, emails))


def _unsubscribe_singly(portal: HubSpotPortal, emails: list[str], failures: dict[str, str]) -> None:
    def unsubscribe(email: str) -> str | None:
        try:
            portal.request("POST", _single_path(email), params=_PARAMS)
        except HttpError as error:
            return mask_emails_in(describe(error))
        return None

    for email, failure in zip(emails, _per_address(unsubscribe, emails)):
        if failure is not None:
            failures[email] = failure


def _unsubscribe(portal: HubSpotPortal, emails: list[str], failures: dict[str, str]) -> str:
    """Unsubscribe a batch of addresses; returns the mode used, ``batch`` or ``single``."""
    if portal.batch_opt_outs_allowed is not False:
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
                get_logger().warning("batch unsubscribe refused (%s): retrying address by address", describe(error))
        else:
            portal.batch_opt_outs_allowed = True
            return "batch"
    _unsubscribe_singly(portal, emails, failures)
    return "single"


def _unsubscribe_other_spellings(portal: HubSpotPortal, emails: list[str]) -> int:
    """Unsubscribe the ``xn--`` spelling of each address at an internationalised domain, as the
    portal may hold that one (:func:`schemas.contact.ascii_spelling`); returns how many were sent.

    Over and above the file's own addresses: a failure is logged, never a failed row (the file's
    address itself is what the ledger verifies).
    """
    spellings = [spelling for spelling in map(ascii_spelling, emails) if spelling is not None]
    if not spellings:
        return 0
    failures: dict[str, str] = {}
    _unsubscribe(portal, spellings, failures)
    for email, failure in failures.items():
        get_logger().warning("opt-out of %s, the xn-- spelling of an address: %s", mask_email(email), failure)
    return len(spellings)


def unsubscribed_among(portal: HubSpotPortal, emails: list[str]) -> set[str]:
    """The addresses among ``emails`` that HubSpot reports unsubscribed from all email.

    Args:
        portal: The portal to ask (the batch read when its tier allows, else one call each).
        emails: Normalised addresses.
    """
    if portal.batch_opt_outs_allowed:
        try:
            response = portal.request("POST", f"{_BATCH_PATH}/read", params=_PARAMS, json={"inputs": emails})
        except HttpError as error:
            if error.status != 403:
                raise
        else:
            return {
                str(result.get("subscriberIdString", "")).lower()
                for result in (response or {}).get("results", [])
                if _is_unsubscribed(result.get("wideStatuses", []))
            }
    def unsubscribed(email: str) -> bool:
        try:
            response = portal.request("GET", _single_path(email), params=_PARAMS)
        except HttpError:
            # An address HubSpot will not even read (malformed) is certainly not unsubscribed.
            return False
        return _is_unsubscribed((response or {}).get("results", []))

    return {email for email, done in zip(emails, _per_address(unsubscribed, emails)) if done}


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
    verified = 0
    modes: set[str] = set()
    errors: list[dict[str, Any]] = [
        {"file": entry["file"], "line": line, "error_type": "NO_EMAIL", "scope": "row", "message": "empty Email cell"}
        for line in blank_lines
    ]
    other_spellings = 0
    for batch in chunked(addresses, settings.OPT_OUT_BATCH_SIZE):
        emails = [email for _, email in batch]
        modes.add(_unsubscribe(portal, emails, failures))
        other_spellings += _unsubscribe_other_spellings(portal, emails)
        # An address whose unsubscribe call was refused needs no read to know it failed.
        done = unsubscribed_among(portal, [email for email in emails if email not in failures])
        verified += len(done)
        for line, email in batch:
            if email in done:
                continue
            message = failures.get(email, "not unsubscribed from all email when read back")
            errors.append(
                {"file": entry["file"], "line": line, "error_type": "OPT_OUT_FAILED", "scope": "row", "message": message}
            )
            logger.warning("opt-out %s line %d (%s): %s", entry["file"], line, mask_email(email), message)
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
        "mode": "single" if "single" in modes else "batch",
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
