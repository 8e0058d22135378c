"""The static lists of a plan: one per source and status, created once, filled from the files.

A list's name carries the plan's hash (``... (plan 6dd0e635)``), so it collides with no list a
person made, and a list already bearing it is the plan's own: made by a run killed between
HubSpot's answer and the journal, or by a create whose answer was lost and retried. Such a list
is taken over, never duplicated. Which list a plan's list became is recorded in the migration's
state folder as soon as it is known. A recurring sync names its lists by the sync instead
(``tasks/sync.py``) and keeps their journal with its own state, so every run of a sync fills one
list: found by the recorded id even after a person renamed it, made again only once HubSpot no
longer has it.

Members are added after their file is loaded: their ids are read back by email
(``tasks/load/contact_ids.py``) and added in chunks with ``memberships/add``, which ignores
records already in the list, so adding again after a crash is harmless.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import fsspec
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.errors import LoadError
from tasks.load import settings
from tasks.load.client import HubSpotPortal
from tasks.load.contact_ids import contact_ids, file_emails
from tasks.load.log import get_logger
from tasks.load.plan import LoadPlan
from tasks.load.retry import HttpError, describe
from tasks.output import written_whole

_LISTS_PATH = "/crm/v3/lists"
_STATIC = "MANUAL"
_TAKEN = 409
_MISSING = 404


class ListJournal:
    """Which HubSpot list each of a plan's lists became, one small JSON file per list.

    Args:
        directory: The folder the journal is kept in (its ``lists/``): a migration's state
            folder, or a recurring sync's state, which may be an fsspec URL (``s3://...``) like
            the sync's snapshot. ``None``: nothing is recorded, as in a plain load without state.
        portal_url: The portal's base URL.
    """

    def __init__(self, directory: str | Path | None, portal_url: str) -> None:
        self.directory = f"{str(directory).rstrip('/')}/lists" if directory is not None else None
        self.portal_url = portal_url.rstrip("/")

    def _location(self, planned: dict[str, Any]) -> str:
        key = hashlib.sha256(f"{self.portal_url}\n{planned['name']}".encode()).hexdigest()
        return f"{self.directory}/{key}.json"

    def read(self, planned: dict[str, Any]) -> str | None:
        """The list id recorded for a planned list, if any."""
        if self.directory is None:
            return None
        try:
            with fsspec.open(self._location(planned), "r", encoding="utf-8") as handle:
                return json.load(handle)["list_id"]
        except (OSError, ValueError, KeyError):
            return None

    def record(self, planned: dict[str, Any], list_id: str) -> None:
        """Record the list a planned list became, written aside and moved into place (locally a
        rename: a kill never leaves half a file; an object store writes an object whole)."""
        if self.directory is None:
            return
        with written_whole(self._location(planned)) as handle:
            json.dump({"list_id": list_id}, handle)


def _existing(portal: HubSpotPortal, path: str) -> dict[str, Any] | None:
    """``GET`` a list; ``None`` when HubSpot has no such list."""
    try:
        return (portal.request("GET", path) or {}).get("list")
    except HttpError as error:
        if error.status == _MISSING:
            return None
        raise LoadError(f"cannot read HubSpot lists ({path}): {describe(error)}") from error


def _named(portal: HubSpotPortal, name: str) -> dict[str, Any] | None:
    """The contact list called ``name``, if any."""
    return _existing(portal, f"{_LISTS_PATH}/object-type-id/{settings.CONTACT_OBJECT_TYPE_ID}/name/{quote(name, safe='')}")


def _create(portal: HubSpotPortal, name: str) -> dict[str, Any] | None:
    """Create a static contact list; ``None`` when the name was taken in the meantime."""
    body = {"name": name, "objectTypeId": settings.CONTACT_OBJECT_TYPE_ID, "processingType": _STATIC}
    try:
        return portal.request("POST", _LISTS_PATH, json=body)["list"]
    except HttpError as error:
        if error.status == _TAKEN:
            return None
        raise LoadError(f"cannot create the HubSpot list {name!r}: {describe(error)}") from error


def ensure_list(portal: HubSpotPortal, plan: LoadPlan, entry: dict[str, Any], journal: ListJournal) -> dict[str, Any]:
    """The HubSpot list a planned list is: the one recorded (by id, whatever a person renamed it
    to), else the one bearing its name, else a new one (also when the recorded one was deleted).

    Args:
        portal: The portal.
        plan: The plan (with ``entry``, what keys the step when it runs as a cached task).
        entry: One of the plan's ``lists``.
        journal: Where the list it became is recorded.

    Returns:
        ``{"key", "name", "list_id", "created", "files"}``.
    """
    recorded = journal.read(entry)
    found = _existing(portal, f"{_LISTS_PATH}/{recorded}") if recorded else None
    found = found or _named(portal, entry["name"])
    created = None
    while found is None:
        created = _create(portal, entry["name"])
        # None after a 409: the name was taken since the check, by this plan's own create.
        found = created or _named(portal, entry["name"])
    if str(found["listId"]) != recorded:
        journal.record(entry, str(found["listId"]))
    get_logger().info("list %s of %s: %s (%s)", entry["key"], plan.directory, found["name"], "created" if created else "existing")
    return {
        "key": entry["key"],
        "name": found["name"],
        "list_id": str(found["listId"]),
        "created": bool(created),
        "files": list(entry.get("files", [])),
    }


def ensure_lists(portal: HubSpotPortal, plan: LoadPlan, journal_dir: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Create (or find again) every static list of the plan, one after the other.

    Args:
        portal: The portal.
        plan: The plan.
        journal_dir: Where the lists they became are recorded (:class:`ListJournal`): the
            migration's state folder, or a recurring sync's state.

    Returns:
        List key → :func:`ensure_list`'s result.
    """
    journal = ListJournal(journal_dir, portal.url)
    return {entry["key"]: ensure_list(portal, plan, entry, journal) for entry in plan.lists}


def add_file_members(portal: HubSpotPortal, plan: LoadPlan, entry: dict[str, Any], list_id: str) -> dict[str, Any]:
    """Add a loaded contacts file's contacts to its list.

    Args:
        portal: The portal.
        plan: The plan.
        entry: The file's ``imports`` entry.
        list_id: The list's HubSpot id.

    Returns:
        ``{"file", "list_id", "added", "missing"}``: ``added`` contacts HubSpot newly put in the
        list, ``missing`` emails with no contact (their rows failed to load; the ledger says why).
    """
    added = missing = 0
    path = f"{_LISTS_PATH}/{list_id}/memberships/add"
    pending: list[str] = []
    for asked, found in contact_ids(portal, file_emails(plan.path(entry["file"]))):
        missing += len(asked) - len(found)
        pending.extend(found.values())
        while len(pending) >= settings.LIST_MEMBERSHIP_BATCH_SIZE:
            chunk, pending = pending[: settings.LIST_MEMBERSHIP_BATCH_SIZE], pending[settings.LIST_MEMBERSHIP_BATCH_SIZE :]
            added += len(_add(portal, path, chunk))
    if pending:
        added += len(_add(portal, path, pending))
    get_logger().info("list %s: %d contacts of %s added, %d not in HubSpot", list_id, added, entry["file"], missing)
    return {"file": entry["file"], "list_id": list_id, "added": added, "missing": missing}


def _add(portal: HubSpotPortal, path: str, record_ids: list[str]) -> list[str]:
    """``memberships/add``; returns the ids HubSpot newly added."""
    try:
        answer = portal.request("PUT", path, json=record_ids) or {}
    except HttpError as error:
        raise LoadError(f"cannot add contacts to the HubSpot list ({path}): {describe(error)}") from error
    # The spec and SDK spell it recordsIdsAdded; one HubSpot example shows recordIdsAdded.
    return answer.get("recordsIdsAdded", answer.get("recordIdsAdded", []))


ensure_list_task = task(
    ensure_list,
    name="hubspot-ensure-list",
    task_run_name="ensure HubSpot list {entry[key]}",
    retries=0,
    cache_policy=NO_CACHE,
)
add_file_members_task = task(
    add_file_members,
    name="hubspot-list-members",
    task_run_name="add {entry[file]} to its list",
    # Retries by cause happen per request inside; the portal must not be hashed into a cache key.
    retries=0,
    cache_policy=NO_CACHE,
)
