"""The static lists of a plan: one per source and status, created once, filled from the files.

A list's name carries the plan's hash (``... (plan 6dd0e635)``), so it collides with no list a
person made, and a list already bearing it is the plan's own: made by a run killed between
HubSpot's answer and the journal, or by a create whose answer was lost and retried. Such a list
is taken over, never duplicated. Which list a plan's list became is recorded in the migration's
records folder as soon as it is known. A recurring sync names its lists by the sync instead
(``tasks/sync.py``) and keeps their journal with its own state, so every run of a sync fills one
list: found by the recorded id even after a person renamed it, made again only once HubSpot no
longer has it.

Members are added after their file is loaded: their ids are read back by email
(``tasks/load/contact_ids.py``) and added in chunks with ``memberships/add``, which ignores
records already in the list, so adding again after a crash is harmless. A file whose contacts
step did not finish (its import, or on the upsert path its marketing-status import, did not end
``DONE``) adds nobody yet: the rerun that sends its contacts again adds them.

A list found already existing (recorded, or bearing its name) may hold contacts an earlier run
added that this plan opts out: the next run of a sync after someone unsubscribed, a rerun. HubSpot's
API cannot set a contact's marketing status back, but it can take it out of the list, so the
plan's opted-out contacts are read back by email and removed with ``memberships/remove``, which
ignores records not in the list: a rerun removes nothing twice. A list made now holds nobody yet
and needs no such read. A removal HubSpot refuses is a load error naming the opt-out row, counted
against the list that refused it. Each earlier list is cleaned once a load. A list a person
turned DYNAMIC (HubSpot edits the members of MANUAL and SNAPSHOT lists only) is no longer
Onramp's to keep clean, nor to fill: it is left alone, with a warning naming it, failing no run
(a file's contacts HubSpot refuses to add to it are counted not added, :func:`add_file_members`).

A recurring sync's run also takes out of its marketing list the contacts its delta sends as
non-marketing (:data:`SYNC_DELTA`): a subscriber the source now holds as transactional, archived
or pending stays a marketing contact in HubSpot (the API cannot undo that either) but is no
longer in the list of the source's marketing contacts. Only a sync's delta is read back so: it
holds the contacts that changed, where a migration's rerun would read every non-marketing
contact back to find nobody (a migration's list is named by its files, so the same list means
the same people).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from pathlib import Path
from typing import Any
from urllib.parse import quote

import fsspec
from prefect import task
from prefect.cache_policies import NO_CACHE

from schemas.contact import ascii_spelling
from tasks.errors import LoadError
from tasks.load import settings
from tasks.load.batches import chunked
from tasks.load.client import HubSpotPortal
from tasks.load.contact_ids import contact_ids, file_emails
from tasks.load.log import get_logger
from tasks.load.imports import EMAIL_COLUMN
from tasks.load.opted_out import AS_SET_FLAG
from tasks.load.optouts import normalise_email, read_opt_out_emails
from tasks.load.plan import LoadPlan, iter_column, tie_back
from tasks.load.resume import leave_unrecorded
from tasks.load.retry import HttpError, describe
from tasks.output import read_record, record_kept, record_written
from tasks.privacy import mask_emails_in

_LISTS_PATH = "/crm/v3/lists"
_STATIC = "MANUAL"
_TAKEN = 409
_MISSING = 404
REMOVE_FAILED = "LIST_REMOVE_FAILED"
"""The ``error_type`` of a row whose contact HubSpot would not take out of a list."""
SYNC_DELTA = "sync_delta"
"""The key a recurring sync's delta plan sets (true) in its ``plan.json``: its non-marketing
contacts leave the sync's marketing list."""
MARKETING_OUTCOME = "marketing"

Member = tuple[str, str, "int | None"]
"""A contact to take out of a list: ``(planned file, record id, line)``."""

_WHY_REMOVED = {
    "removed_opted_out": "opted out",
    "removed_non_marketing": "no longer a marketing contact in the source",
}
"""Why each kind of contact leaves a list (its result key → the error message's reason)."""


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
        record = read_record(self._location(planned))
        return record.get("list_id") if isinstance(record, dict) else None

    def recorded(self) -> list[str]:
        """The ids of every list recorded here: the lists earlier runs with this state made
        (a migration's earlier plans, whose lists bear other names)."""
        if self.directory is None:
            return []
        fs, folder = fsspec.core.url_to_fs(self.directory)
        ids = []
        with record_kept(self.directory):
            for path in sorted(fs.glob(f"{folder}/*.json")):
                try:
                    with fs.open(path, "r", encoding="utf-8") as handle:
                        ids.append(str(json.load(handle)["list_id"]))
                except (FileNotFoundError, ValueError, KeyError):
                    continue
        return list(dict.fromkeys(ids))

    def record(self, planned: dict[str, Any], list_id: str) -> None:
        """Record the list a planned list became, written whole (:func:`~tasks.output.written_whole`:
        a kill never leaves half a file)."""
        if self.directory is None:
            return
        with record_written(self._location(planned)) as handle:
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


def _name_held_by_another_list(name: str) -> str:
    """The one line a load stops with when creating a contact list is answered 409 and no contact
    list bears the name: list names are unique across all of a portal's lists
    (crm-lists-v3.json), so a list of companies, deals or another object holds it, and no create
    passes until a person renames or deletes that list."""
    return (
        f"cannot create the HubSpot contact list {name!r}: another list in the portal, not a contact list, "
        "already has that name (HubSpot list names are unique across lists of every object type); "
        "rename or delete that list in HubSpot, then run the load again"
    )


def ensure_list(portal: HubSpotPortal, plan: LoadPlan, entry: dict[str, Any], journal: ListJournal) -> dict[str, Any]:
    """The HubSpot list a planned list is: the one recorded (by id, whatever a person renamed it
    to), else the one bearing its name, else a new one (also when the recorded one was deleted);
    a list that already existed then loses the contacts the plan opts out
    (:func:`remove_members`).

    The other lists the journal recorded (an earlier plan's, in a migration's state) lose them
    too, once a load: the plan's first list's step cleans them (:func:`_cleans_earlier_lists`),
    the plan's other lists each clean themselves; the opted-out contacts are read back once for
    all of them. A list a person turned into a DYNAMIC one is left alone with a warning
    (:func:`not_static_warning`): HubSpot refuses to take anyone out of it, on every run.

    A sync delta's marketing list found existing also loses the delta's non-marketing contacts
    (:data:`SYNC_DELTA`).

    A planned list without files (a sync run that only opts people out) is only looked for: made
    now it would hold nobody, so there would be nobody to take out either.

    Args:
        portal: The portal.
        plan: The plan (with ``entry``, what keys the step when it runs as a cached task).
        entry: One of the plan's ``lists``.
        journal: Where the list it became is recorded.

    Returns:
        ``{"key", "name", "list_id", "created", "files", "removed_opted_out",
        "removed_non_marketing", "earlier_lists", "remove_failed", "not_static", "errors"}``:
        ``removed_opted_out`` the opted-out contacts taken out of the list,
        ``removed_non_marketing`` a sync delta's non-marketing contacts taken out of it,
        ``earlier_lists`` each earlier list's ``{"list_id", "name", "removed_opted_out",
        "remove_failed", "not_static"}``, ``not_static`` the list's processing type when it is no
        longer static (``None`` else), ``errors`` the rows whose contact HubSpot would not take
        out of this list or an earlier one (:func:`remove_members`), ``remove_failed`` how many
        this list refused (an earlier list's are its own), which stays when the load report
        moves ``errors`` to its own.
        ``list_id`` is ``None`` for a list without files that HubSpot does not have.

    Raises:
        LoadError: HubSpot cannot be read or refuses the list, or another list (not a contact
            list) holds its name.
    """
    recorded = journal.read(entry)
    found = _existing(portal, f"{_LISTS_PATH}/{recorded}") if recorded else None
    found = found or _named(portal, entry["name"])
    created = None
    if found is None and entry.get("files"):
        created = _create(portal, entry["name"])
        # None after a 409: the name was taken since the check (by this plan's own create), or
        # a list of another object type holds it, which no retry changes.
        found = created or _named(portal, entry["name"])
        if found is None:
            raise LoadError(_name_held_by_another_list(entry["name"]))
    list_id = str(found["listId"]) if found is not None else None
    earlier = _earlier_lists(portal, plan, journal, list_id) if _cleans_earlier_lists(plan, entry) else []
    if found is None:
        get_logger().info("list %s of %s: %s not in HubSpot, no contacts to take out of it", entry["key"], plan.directory, entry["name"])
        return _unrecorded_if_owed(
            _ensured(entry, entry["name"], None, created=False, removal=_none_removed(), earlier=_cleaned(portal, plan, [], earlier)[1])
        )
    if created and recorded and plan.data.get(SYNC_DELTA):
        get_logger().warning(
            "list %s: the sync's list (id %s) is gone from HubSpot: made again (id %s) holding this run's new and changed "
            "contacts only; the contacts earlier runs added are in no list Onramp made",
            entry["name"], recorded, found["listId"],
        )
    if list_id != recorded:
        journal.record(entry, list_id)
    get_logger().info("list %s of %s: %s (%s)", entry["key"], plan.directory, found["name"], "created" if created else "existing")
    # Whatever was not made now may hold contacts of an earlier run, a 409's list included.
    own_removals, earlier_cleaned = _cleaned(portal, plan, [] if created else [found], earlier)
    removal = own_removals[0] if own_removals else _none_removed()
    not_static = None if created else _not_static(found)
    leaving = non_marketing_members(portal, plan) if not created and not not_static and _sheds_non_marketing(plan, entry) else []
    return _unrecorded_if_owed(
        _ensured(
            entry,
            found["name"],
            list_id,
            created=bool(created),
            removal=removal,
            non_marketing=remove_members(portal, plan, list_id, found["name"], leaving, "removed_non_marketing"),
            earlier=earlier_cleaned,
            not_static=not_static,
        )
    )


def _unrecorded_if_owed(ensured: dict[str, Any]) -> dict[str, Any]:
    """:func:`ensure_list`'s result, its step left unrecorded (:func:`~tasks.load.resume.leave_unrecorded`)
    when a removal is still owed: one HubSpot refused, or one a list no longer static was not
    asked for. A rerun then takes them out again, rather than find the step done and repeat its
    refusal for ever (and a list made static again is cleaned)."""
    if ensured["errors"] or ensured["not_static"] or any(earlier.get("not_static") for earlier in ensured["earlier_lists"]):
        leave_unrecorded()
    return ensured


def _none_removed() -> dict[str, Any]:
    """:func:`remove_members`'s result for a list nobody was taken out of."""
    return {"removed": 0, "errors": []}


_STATIC_TYPES = frozenset({"MANUAL", "SNAPSHOT"})
"""The processing types whose memberships the API edits (crm-lists-v3.json: a DYNAMIC list's
members are its filters' matches, and ``memberships/remove`` is refused for it)."""


def _not_static(found: dict[str, Any]) -> str | None:
    """A list's processing type when it is no longer a static list (a person turned it DYNAMIC:
    its filters, not Onramp, decide who is in it); ``None`` for a static one, or one whose answer
    does not say."""
    processing_type = found.get("processingType")
    return processing_type if processing_type and processing_type not in _STATIC_TYPES else None


def _cleaned(
    portal: HubSpotPortal, plan: LoadPlan, own: list[dict[str, Any]], earlier: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Take the plan's opted-out contacts out of the lists given (the planned list found existing,
    if any, and the earlier lists), read back once for all of them. A list that is no longer
    static is left alone, with a warning naming it: its filters decide who is in it, and HubSpot
    refuses to take anyone out, on this run and every later one.

    Returns:
        The removals of ``own`` (:func:`remove_members`, or none for a list no longer static),
        and each earlier list's ``{"list_id", "name", "removed_opted_out", "remove_failed",
        "not_static", "errors"}``.
    """
    members = opted_out_members(portal, plan) if any(_not_static(found) is None for found in (*own, *earlier)) else []

    def removal(found: dict[str, Any]) -> dict[str, Any]:
        list_id, not_static = str(found["listId"]), _not_static(found)
        if not_static:
            get_logger().warning("%s", not_static_warning(found["name"], list_id, not_static))
            return _none_removed()
        return remove_members(portal, plan, list_id, found["name"], members, "removed_opted_out")

    own_removals = [removal(found) for found in own]
    earlier_cleaned = []
    for found in earlier:
        removed = removal(found)
        earlier_cleaned.append({
            "list_id": str(found["listId"]),
            "name": found["name"],
            "removed_opted_out": removed["removed"],
            "remove_failed": len(removed["errors"]),
            "not_static": _not_static(found),
            "errors": removed["errors"],
        })  # fmt: skip
    return own_removals, earlier_cleaned


def not_static_warning(name: str, list_id: str, processing_type: str, so: str = "takes no opted-out or non-marketing contact out of it") -> str:
    """The one line saying a list Onramp made is no longer static, and what Onramp does not do to
    it then (``so``: by default, take anyone out of it)."""
    return f"list {name!r} (id {list_id}) is {processing_type} now, no longer a static list: its filters decide who is in it, so Onramp {so}"


def _cleans_earlier_lists(plan: LoadPlan, entry: dict[str, Any]) -> bool:
    """Whether this planned list's step takes the opted-out contacts out of the earlier lists: the
    plan's first list with files (always found or made), or its first list when none has files,
    so each earlier list is cleaned once a load, not once per planned list."""
    with_files = [planned for planned in plan.lists if planned.get("files")] or plan.lists[:1]
    return bool(with_files) and with_files[0]["key"] == entry["key"]


def _earlier_lists(portal: HubSpotPortal, plan: LoadPlan, journal: ListJournal, list_id: str | None) -> list[dict[str, Any]]:
    """The other lists this state's earlier runs made, as HubSpot answers them, for the plan's
    opted-out contacts to be taken out of too (none when the plan opts nobody out). The plan's own
    lists are not among them: each cleans itself.

    A migration's list is named by its plan, so a rerun whose files changed (someone moved to
    the unsubscribed file) fills a list of its own, and the earlier one would keep the person.
    A list deleted since is passed over.
    """
    if not plan.opt_outs:
        return []
    own = {journal.read(planned) for planned in plan.lists} | {list_id}
    earlier = []
    for earlier_id in journal.recorded():
        found = None if earlier_id in own else _existing(portal, f"{_LISTS_PATH}/{earlier_id}")
        if found is not None:
            earlier.append(found)
    return earlier


def _sheds_non_marketing(plan: LoadPlan, entry: dict[str, Any]) -> bool:
    """Whether the list loses the plan's non-marketing contacts: a sync delta's marketing list."""
    return bool(plan.data.get(SYNC_DELTA)) and entry.get("outcome") == MARKETING_OUTCOME


def _ensured(
    entry: dict[str, Any],
    name: str,
    list_id: str | None,
    *,
    created: bool,
    removal: dict[str, Any],
    non_marketing: dict[str, Any] | None = None,
    earlier: list[dict[str, Any]] = (),
    not_static: str | None = None,
) -> dict[str, Any]:
    """:func:`ensure_list`'s result."""
    non_marketing = non_marketing or _none_removed()
    own_errors = [*removal["errors"], *non_marketing["errors"]]
    return {
        "key": entry["key"],
        "name": name,
        "list_id": list_id,
        "created": created,
        "files": list(entry.get("files", [])),
        "removed_opted_out": removal["removed"],
        "removed_non_marketing": non_marketing["removed"],
        "earlier_lists": [{key: value for key, value in cleaned.items() if key != "errors"} for cleaned in earlier],
        "remove_failed": len(own_errors),
        "not_static": not_static,
        "errors": [*own_errors, *(error for cleaned in earlier for error in cleaned["errors"])],
    }


def opted_out_members(portal: HubSpotPortal, plan: LoadPlan) -> list[Member]:
    """The contacts the plan's opt-out files name, as ``(file, record id, line)``: each file's
    addresses read back by email, 100 a request (:func:`contact_ids`; an address HubSpot has no
    contact for was never in a list)."""
    members = []
    for entry in plan.opt_outs:
        addresses, _blank_lines = read_opt_out_emails(plan.path(entry["file"]))
        members.extend(_members(portal, entry["file"], {email: line for line, email in addresses}))
    return members


def non_marketing_members(portal: HubSpotPortal, plan: LoadPlan) -> list[Member]:
    """The contacts of the plan's non-marketing contacts files, read back by email, 100 a
    request (an address HubSpot has no contact for was never in a list).

    A file of contacts sent non-marketing because a person set them so in HubSpot
    (:data:`~tasks.load.opted_out.AS_SET_FLAG`) is not among them: the source still holds them
    as marketing contacts, which is what the list holds."""
    members = []
    for entry in plan.imports:
        if entry.get("marketable") or entry.get(AS_SET_FLAG):
            continue
        line_of = {}
        for line, cell in iter_column(plan.path(entry["file"]), EMAIL_COLUMN):
            line_of.setdefault(normalise_email(cell), line)
        line_of.pop("", None)
        members.extend(_members(portal, entry["file"], line_of))
    return members


def _members(portal: HubSpotPortal, file: str, line_of: dict[str, int]) -> list[Member]:
    """The contacts HubSpot holds for a file's addresses (``line_of``: address → planned line),
    read back by email under both spellings of an internationalised domain, 100 a request: the
    portal may hold the contact under its ``xn--`` spelling only (the load filled the list with
    it), and the opt-out went out under both. Each named by its planned line, whichever spelling
    found it."""
    spelt = {other: line for email, line in line_of.items() if (other := ascii_spelling(email))}
    lines = {**spelt, **line_of}
    return [
        (file, record_id, lines.get(email))
        for _asked, found in contact_ids(portal, iter(lines))
        for email, record_id in found.items()
    ]


def remove_members(
    portal: HubSpotPortal, plan: LoadPlan, list_id: str, list_name: str, members: list[Member], kind: str
) -> dict[str, Any]:
    """Take contacts out of a list, in chunks with ``memberships/remove``, which ignores records
    not in the list.

    Args:
        portal: The portal.
        plan: The plan (whose lineage names a failed row's sources).
        list_id: The list's HubSpot id.
        list_name: Its name, for messages.
        members: The contacts (:func:`opted_out_members`, :func:`non_marketing_members`).
        kind: Why they leave: a key of :data:`_WHY_REMOVED`.

    Returns:
        ``{"removed": N, "errors": [...]}``: ``removed`` the contacts HubSpot took out,
        ``errors`` one per row whose contact HubSpot would not take out, as
        ``{"file", "line", "error_type", "scope", "message", "list_id", "record_id", "sources"}``
        (``scope`` ``row``, so a sync sends the row again next run, and the removal is tried
        again; ``record_id`` tells contacts apart when ``line`` is ``None``).
    """
    path = f"{_LISTS_PATH}/{list_id}/memberships/remove"
    removed = 0
    errors: list[dict[str, Any]] = []
    for chunk in chunked(members, settings.LIST_MEMBERSHIP_BATCH_SIZE):
        try:
            removed += len(_remove(portal, path, [record_id for _file, record_id, _line in chunk]))
        except HttpError as error:
            message = (
                f"{_WHY_REMOVED[kind]}, but HubSpot would not take the contact out of the list {list_name!r} "
                f"(id {list_id}): {mask_emails_in(describe(error))}"
            )
            get_logger().warning("list %s: %d contacts not removed: %s", list_id, len(chunk), message)
            errors.extend(
                {"file": file, "line": line, "error_type": REMOVE_FAILED, "scope": "row", "message": message,
                 "list_id": list_id, "record_id": record_id}
                for file, record_id, line in chunk
            )
    if members:
        get_logger().info("list %s: %d contacts removed (%s), %d could not be", list_id, removed, _WHY_REMOVED[kind], len(errors))
    return {"removed": removed, "errors": tie_back(plan, errors)}


def ensure_lists(portal: HubSpotPortal, plan: LoadPlan, journal_dir: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Create (or find again) every static list of the plan, one after the other.

    Args:
        portal: The portal.
        plan: The plan.
        journal_dir: Where the lists they became are recorded (:class:`ListJournal`): the
            migration's records folder, or a recurring sync's state.

    Returns:
        List key → :func:`ensure_list`'s result.
    """
    journal = ListJournal(journal_dir, portal.url)
    return {entry["key"]: ensure_list(portal, plan, entry, journal) for entry in plan.lists}


def add_file_members(
    portal: HubSpotPortal,
    plan: LoadPlan,
    entry: dict[str, Any],
    list_id: str,
    waiting: str | None = None,
    kept_non_marketing: Collection[int] = (),
) -> dict[str, Any]:
    """Add a loaded contacts file's contacts to its list.

    A file whose contacts step did not finish adds nobody: HubSpot holds its contacts as the
    plan did not ask (not at all, or upserted but not marketing when the upsert path's
    marketing-status import failed), and a marketing list must not hold a contact that is not
    a marketing contact. Its rows are counted failed already; the rerun that sends them again
    adds them (the step is not recorded done until the file's contacts step is,
    ``tasks/load/resume.py``).

    Args:
        portal: The portal.
        plan: The plan.
        entry: The file's ``imports`` entry.
        list_id: The list's HubSpot id.
        waiting: Why the file's contacts are not to be added yet (``tasks/load/run.py``'s
            ``contacts_waiting``), ``None`` when its contacts step finished.
        kept_non_marketing: The file's lines whose contact its contacts step kept non-marketing
            (the upsert path's, HubSpot holding them as unsubscribed once upserted,
            ``tasks/load/upsert.py``): a marketing list never holds them.

    A list a person turned DYNAMIC since it was made (HubSpot refuses to add anyone to a list
    that is not MANUAL or SNAPSHOT) adds nobody either, on this run and every later one: one
    warning names the list, the file's rows count ``not_added``, and the load goes on.

    Returns:
        ``{"file", "list_id", "added", "missing", "waiting", "waiting_reason", "not_static",
        "not_added"}``: ``added`` contacts HubSpot newly put in the list, ``missing`` emails with
        no contact (their rows failed to load; the ledger says why), ``waiting`` the file's rows
        left for the rerun because of ``waiting``; ``waiting_reason`` why the file's contacts are
        not in the list (``None`` when they were added); ``not_static`` the list's processing
        type when it is no longer static (``None`` else), ``not_added`` the file's rows not
        added to it then.

    Raises:
        LoadError: HubSpot refused to add contacts to a static list, or cannot be read.
    """
    if waiting is not None:
        rows = int(entry.get("rows") or 0)
        get_logger().info("list %s: %d contacts of %s not added: %s", list_id, rows, entry["file"], waiting)
        return _members_result(entry, list_id, waiting=rows, waiting_reason=waiting)
    added = missing = 0
    pending: list[str] = []
    try:
        for asked, found in contact_ids(portal, file_emails(plan.path(entry["file"]), kept_non_marketing)):
            missing += len(asked) - len(found)
            pending.extend(found.values())
            while len(pending) >= settings.LIST_MEMBERSHIP_BATCH_SIZE:
                chunk, pending = pending[: settings.LIST_MEMBERSHIP_BATCH_SIZE], pending[settings.LIST_MEMBERSHIP_BATCH_SIZE :]
                added += len(_add(portal, list_id, chunk))
        if pending:
            added += len(_add(portal, list_id, pending))
    except _NotStatic as refused:
        not_static, not_added = _not_static(refused.found), max(int(entry.get("rows") or 0) - added, 0)
        so = f"adds none of the {not_added} contact(s) of {entry['file']} to it"
        warning = not_static_warning(refused.found.get("name", entry["file"]), list_id, not_static, so)
        get_logger().warning("%s", warning)
        return _members_result(entry, list_id, added=added, missing=missing, waiting_reason=warning, not_static=not_static, not_added=not_added)
    get_logger().info("list %s: %d contacts of %s added, %d not in HubSpot", list_id, added, entry["file"], missing)
    return _members_result(entry, list_id, added=added, missing=missing)


def _members_result(
    entry: dict[str, Any],
    list_id: str,
    *,
    added: int = 0,
    missing: int = 0,
    waiting: int = 0,
    waiting_reason: str | None = None,
    not_static: str | None = None,
    not_added: int = 0,
) -> dict[str, Any]:
    """:func:`add_file_members`'s result."""
    return {
        "file": entry["file"], "list_id": list_id, "added": added, "missing": missing, "waiting": waiting,
        "waiting_reason": waiting_reason, "not_static": not_static, "not_added": not_added,
    }  # fmt: skip


class _NotStatic(Exception):
    """HubSpot refused to add contacts to a list that is no longer static (``found``, as HubSpot answers it)."""

    def __init__(self, found: dict[str, Any]) -> None:
        super().__init__(found.get("processingType"))
        self.found = found


def _add(portal: HubSpotPortal, list_id: str, record_ids: list[str]) -> list[str]:
    """``memberships/add``; returns the ids HubSpot newly added.

    Raises:
        _NotStatic: HubSpot refused, and the list is no longer static (read only once refused:
            a static list costs no read).
        LoadError: HubSpot refused to add them to a static list.
    """
    path = f"{_LISTS_PATH}/{list_id}/memberships/add"
    try:
        answer = portal.request("PUT", path, json=record_ids) or {}
    except HttpError as error:
        found = _existing(portal, f"{_LISTS_PATH}/{list_id}") or {}
        if _not_static(found):
            raise _NotStatic(found) from error
        raise LoadError(f"cannot add contacts to the HubSpot list ({path}): {describe(error)}") from error
    # The spec and SDK spell it recordsIdsAdded; one HubSpot example shows recordIdsAdded.
    return answer.get("recordsIdsAdded", answer.get("recordIdsAdded", []))


def _remove(portal: HubSpotPortal, path: str, record_ids: list[str]) -> list[str]:
    """``memberships/remove``; returns the ids HubSpot took out (members of the list)."""
    answer = portal.request("PUT", path, json=record_ids) or {}
    return answer.get("recordIdsRemoved", [])


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
