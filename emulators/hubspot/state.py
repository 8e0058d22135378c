"""The emulated portal's data, in memory: objects, properties, lists, opt-outs, imports.

Pure data and rules, no HTTP. Every public method takes the portal's lock, so routes and the
import workers may call it from any thread. Contacts are keyed by their lowercased email.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from emulators.hubspot import catalog
from emulators.hubspot.errors import HubSpotError, conflict, not_found, validation_error
from emulators.hubspot.values import format_datetime

# Properties every object read returns even when none are asked for.
DEFAULT_READ_PROPERTIES = {
    catalog.CONTACTS: (
        "createdate", "email", "firstname", "lastname", "hs_object_id", "lastmodifieddate",
        "hs_marketable_status",
    ),
    catalog.COMPANIES: ("createdate", "domain", "name", "hs_lastmodifieddate", "hs_object_id"),
}
_MODIFIED = {catalog.CONTACTS: "lastmodifieddate", catalog.COMPANIES: "hs_lastmodifieddate"}

# Subscription types of the emulated portal (communication preferences).
SUBSCRIPTIONS = (
    (1, "Marketing Information", "Marketing offers and updates."),
    (2, "One to One", "One to one emails."),
)


_last_stamp: tuple[int, str] = (0, "")


def now_iso() -> str:
    """Return the current time as HubSpot formats it (millisecond precision)."""
    global _last_stamp
    # Formatting dominates a large import's cost; within one millisecond the text is the same.
    millis = time.time_ns() // 1_000_000
    cached_millis, text = _last_stamp
    if millis != cached_millis:
        text = format_datetime(datetime.fromtimestamp(millis / 1000, tz=timezone.utc))
        _last_stamp = (millis, text)
    return text


def now_ms() -> int:
    """Return the current time in epoch milliseconds."""
    return int(datetime.now(timezone.utc).timestamp() * 1000)


@dataclass(slots=True)
class CrmObject:
    """One CRM record (a contact or a company)."""

    id: str
    object_type_id: str
    properties: dict[str, str]
    created_at: str
    updated_at: str
    archived: bool = False


@dataclass
class PortalList:
    """One list (ILS) of records."""

    list_id: str
    name: str
    object_type_id: str
    processing_type: str
    created_at: str
    updated_at: str
    members: dict[str, str] = field(default_factory=dict)
    version: int = 1


@dataclass
class ImportJob:
    """One import: its request, its files and what processing it has produced."""

    id: str
    name: str
    request: dict[str, Any]
    files: list[tuple[dict[str, Any], bytes, int]]
    created_at: str
    updated_at: str
    state: str = "STARTED"
    counters: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    list_id: str | None = None
    cancel_requested: bool = False


def _name_taken(name: str) -> HubSpotError:
    """The 409 for a list name another list holds."""
    return conflict(f"A list named '{name}' already exists.", sub_category="ILS_LIST_NAME_ALREADY_EXISTS")


class Portal:
    """One HubSpot portal's state."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget everything and seed HubSpot's default properties and groups."""
        with self.lock:
            stamp = now_iso()
            # Last id handed out per kind; ids look like HubSpot's (numeric strings).
            self.sequences = {"object": 100000, "list": 0, "import": 50000000, "file": 90000000}
            self.objects: dict[str, dict[str, CrmObject]] = {
                catalog.CONTACTS: {}, catalog.COMPANIES: {},
            }
            self.emails: dict[str, str] = {}
            self.properties = {
                type_id: catalog.default_properties(type_id, stamp)
                for type_id in (catalog.CONTACTS, catalog.COMPANIES)
            }
            self.groups = {
                type_id: catalog.default_groups(type_id)
                for type_id in (catalog.CONTACTS, catalog.COMPANIES)
            }
            self.lists: dict[str, PortalList] = {}
            self.opt_outs: dict[str, str] = {}
            self.subscription_statuses: dict[tuple[str, int], tuple[str, str]] = {}
            self.imports: dict[str, ImportJob] = {}
            self.associations: dict[tuple[str, str], set[tuple[str, str]]] = {}
            # Admin-configured association limits: (from type, to type) → the most records of the
            # second type one record of the first may be associated with by default.
            self.association_limits: dict[tuple[str, str], int] = {}

    def next_id(self, kind: str) -> int:
        """Hand out the next id of a kind (``object``, ``list``, ``import``, ``file``)."""
        with self.lock:
            self.sequences[kind] += 1
            return self.sequences[kind]

    # ---- properties -------------------------------------------------------------------------

    def property(self, object_type_id: str, name: str) -> dict[str, Any] | None:
        """Return a property definition, or ``None`` when the portal has no such property."""
        with self.lock:
            return self.properties[object_type_id].get(name)

    def add_property(self, object_type_id: str, definition: dict[str, Any]) -> dict[str, Any]:
        """Store a new property.

        Raises:
            HubSpotError: 409 when it exists, 400 when its group does not.
        """
        with self.lock:
            name = definition["name"]
            if name in self.properties[object_type_id]:
                raise conflict(
                    f"Property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS",
                    context={"name": [name]},
                )
            if definition["groupName"] not in self.groups[object_type_id]:
                raise validation_error(
                    f"Property group '{definition['groupName']}' does not exist.",
                    context={"groupName": [definition["groupName"]]},
                )
            self.properties[object_type_id][name] = definition
            return definition

    def add_group(self, object_type_id: str, group: dict[str, Any]) -> dict[str, Any]:
        """Store a new property group.

        Raises:
            HubSpotError: 409 when it exists.
        """
        with self.lock:
            if group["name"] in self.groups[object_type_id]:
                raise conflict(
                    f"Property group named '{group['name']}' already exists.",
                    "OBJECT_ALREADY_EXISTS",
                )
            self.groups[object_type_id][group["name"]] = group
            return group

    # ---- objects ----------------------------------------------------------------------------

    def get(self, object_type_id: str, object_id: str) -> CrmObject | None:
        """Return a live record by id."""
        with self.lock:
            record = self.objects[object_type_id].get(str(object_id))
            return record if record and not record.archived else None

    def find(self, object_type_id: str, id_property: str | None, value: str) -> CrmObject | None:
        """Return a live record by id, or by a unique property such as ``email``."""
        with self.lock:
            if not id_property or id_property == "hs_object_id":
                return self.get(object_type_id, value)
            if object_type_id == catalog.CONTACTS and id_property == "email":
                object_id = self.emails.get(str(value).strip().lower())
                return self.get(object_type_id, object_id) if object_id else None
            wanted = str(value)
            return next(
                (
                    record for record in self.objects[object_type_id].values()
                    if not record.archived and record.properties.get(id_property) == wanted
                ),
                None,
            )

    def create(self, object_type_id: str, values: dict[str, str]) -> CrmObject:
        """Create a record from already-checked values.

        Raises:
            HubSpotError: 409 when a contact with that email exists.
        """
        with self.lock:
            email = values.get("email")
            if object_type_id == catalog.CONTACTS and email and email in self.emails:
                raise conflict(f"Contact already exists. Existing ID: {self.emails[email]}")
            stamp = now_iso()
            record = CrmObject(str(self.next_id("object")), object_type_id, {}, stamp, stamp)
            if object_type_id == catalog.CONTACTS:
                record.properties["hs_marketable_status"] = "false"
                if email:
                    self.emails[email] = record.id
            # Written here rather than through update(): a new record has no email to move and
            # nothing to clear, and this is the hot path of a large import.
            record.properties.update((name, value) for name, value in values.items() if value != "")
            self.objects[object_type_id][record.id] = record
            return record

    def update(self, record: CrmObject, values: dict[str, str]) -> CrmObject:
        """Write already-checked values onto a record (an empty string clears a value)."""
        with self.lock:
            email = values.get("email")
            if record.object_type_id == catalog.CONTACTS and email:
                owner = self.emails.get(email)
                if owner and owner != record.id:
                    raise conflict(f"Contact already exists. Existing ID: {owner}")
                old = record.properties.get("email")
                if old and old != email:
                    self.emails.pop(old, None)
                self.emails[email] = record.id
            for name, value in values.items():
                if value == "":
                    record.properties.pop(name, None)
                else:
                    record.properties[name] = value
            record.updated_at = now_iso()
            return record

    def set_marketing_status(self, email: str, marketable: bool, at_next_update: bool = False) -> CrmObject:
        """Set a contact marketing or non-marketing as a person does in HubSpot's UI (the API
        cannot: ``hs_marketable_status`` is read-only there).

        HubSpot makes a marketing contact non-marketing only at the portal's next update date:
        until then it stays marketing, ``hs_marketable_until_renewal`` true. ``at_next_update``
        emulates that wait (a marketing contact only); else the change takes effect at once, as
        after the update date.

        Raises:
            HubSpotError: 404 when no live contact has that email.
        """
        with self.lock:
            record = self.find(catalog.CONTACTS, "email", email)
            if record is None:
                raise not_found(f"No contact with email {email!r}")
            waiting = not marketable and at_next_update and record.properties.get("hs_marketable_status") == "true"
            record.properties["hs_marketable_status"] = "true" if marketable or waiting else "false"
            record.properties["hs_marketable_until_renewal"] = "true" if waiting else "false"
            record.updated_at = now_iso()
            return record

    def archive(self, object_type_id: str, object_id: str) -> bool:
        """Archive a record; return whether it existed."""
        with self.lock:
            record = self.get(object_type_id, object_id)
            if record is None:
                return False
            record.archived = True
            record.updated_at = now_iso()
            email = record.properties.get("email")
            if email and self.emails.get(email) == record.id:
                del self.emails[email]
            for portal_list in self.lists.values():
                portal_list.members.pop(record.id, None)
            return True

    def live(self, object_type_id: str) -> list[CrmObject]:
        """Return the live records of a type, oldest first."""
        with self.lock:
            return [r for r in self.objects[object_type_id].values() if not r.archived]

    def view(
        self,
        record: CrmObject,
        properties: Iterable[str] | None = None,
        *,
        object_write_trace_id: str | None = None,
    ) -> dict[str, Any]:
        """Return a record in the ``SimplePublicObject`` shape.

        Args:
            record: the record.
            properties: property names asked for; ``None`` or empty gives the defaults.
                A name asked for but without a value comes back as ``null``, as HubSpot does.
            object_write_trace_id: echoed back when the client sent one.
        """
        with self.lock:
            names = list(properties or DEFAULT_READ_PROPERTIES[record.object_type_id])
            values = self._computed(record)
            view = {
                "id": record.id,
                "properties": {name: values.get(name) for name in names},
                "createdAt": record.created_at,
                "updatedAt": record.updated_at,
                "archived": record.archived,
            }
            if object_write_trace_id is not None:
                view["objectWriteTraceId"] = object_write_trace_id
            return view

    def _computed(self, record: CrmObject) -> dict[str, str]:
        values = dict(record.properties)
        values["hs_object_id"] = record.id
        values["createdate"] = record.created_at
        values[_MODIFIED[record.object_type_id]] = record.updated_at
        if record.object_type_id == catalog.CONTACTS:
            email = values.get("email")
            values["hs_email_optout"] = "true" if email in self.opt_outs else "false"
        return values

    def values(self, record: CrmObject) -> dict[str, str]:
        """Return every value of a record, computed ones included."""
        with self.lock:
            return self._computed(record)

    # ---- associations -----------------------------------------------------------------------

    def associate(self, type_id: str, object_id: str, to_type_id: str, to_id: str) -> None:
        """Associate two records (associations are symmetric)."""
        with self.lock:
            one, other = (type_id, str(object_id)), (to_type_id, str(to_id))
            self.associations.setdefault(one, set()).add(other)
            self.associations.setdefault(other, set()).add(one)

    def dissociate(self, type_id: str, object_id: str, to_type_id: str, to_id: str) -> None:
        """Remove the association between two records, if any."""
        with self.lock:
            one, other = (type_id, str(object_id)), (to_type_id, str(to_id))
            self.associations.get(one, set()).discard(other)
            self.associations.get(other, set()).discard(one)

    def associated(self, type_id: str, object_id: str, to_type_id: str) -> list[str]:
        """Return the ids of live ``to_type_id`` records associated with a record."""
        with self.lock:
            return sorted(
                (
                    to_id for to_type, to_id in self.associations.get((type_id, str(object_id)), ())
                    if to_type == to_type_id and self.get(to_type, to_id) is not None
                ),
                key=int,
            )

    # ---- lists ------------------------------------------------------------------------------

    def create_list(self, name: str, object_type_id: str, processing_type: str) -> PortalList:
        """Create a MANUAL or SNAPSHOT list.

        Raises:
            HubSpotError: 409 when a list of any object type has that name (names are "globally
                unique across all public lists in the portal", crm-lists-v3.json), 400 for
                another processing type.
        """
        with self.lock:
            if processing_type not in ("MANUAL", "SNAPSHOT", "DYNAMIC"):
                raise validation_error(f"Invalid processingType {processing_type}")
            if self.list_holding_name(name) is not None:
                raise _name_taken(name)
            stamp = now_iso()
            portal_list = PortalList(
                str(self.next_id("list")), name, object_type_id, processing_type, stamp, stamp
            )
            self.lists[portal_list.list_id] = portal_list
            return portal_list

    def get_list(self, list_id: str) -> PortalList:
        """Return a list by id.

        Raises:
            HubSpotError: 404 when there is none.
        """
        with self.lock:
            portal_list = self.lists.get(str(list_id))
            if portal_list is None:
                raise not_found(f"List {list_id} does not exist.", context={"listId": [list_id]})
            return portal_list

    def list_by_name(self, object_type_id: str, name: str) -> PortalList | None:
        """Return the list of that object type with that name (names compare case-insensitively)."""
        with self.lock:
            found = self.list_holding_name(name)
            return found if found is not None and found.object_type_id == object_type_id else None

    def list_holding_name(self, name: str) -> PortalList | None:
        """Return the list of any object type with that name: a name is unique across them all."""
        with self.lock:
            wanted = name.strip().lower()
            return next((portal_list for portal_list in self.lists.values() if portal_list.name.lower() == wanted), None)

    def rename_list(self, list_id: str, name: str) -> PortalList:
        """Give a list another name, as a person can in HubSpot's UI.

        Raises:
            HubSpotError: 404 when there is no such list, 409 when another list has the name,
                400 for a blank name.
        """
        with self.lock:
            portal_list = self.get_list(list_id)
            if not name.strip():
                raise validation_error("listName must not be blank.")
            taken = self.list_holding_name(name)
            if taken is not None and taken is not portal_list:
                raise _name_taken(name)
            portal_list.name = name
            portal_list.version += 1
            portal_list.updated_at = now_iso()
            return portal_list

    def delete_list(self, list_id: str) -> None:
        """Delete a list (its members stay as records).

        Raises:
            HubSpotError: 404 when there is no such list.
        """
        with self.lock:
            del self.lists[self.get_list(list_id).list_id]

    def add_members(self, list_id: str, record_ids: Iterable[str]) -> dict[str, list[str]]:
        """Add records to a MANUAL or SNAPSHOT list; missing records and members are skipped.

        Returns:
            The ``MembershipsUpdateResponse`` body.
        """
        with self.lock:
            portal_list = self._editable(list_id)
            added, missing = [], []
            stamp = now_iso()
            for record_id in dict.fromkeys(str(r) for r in record_ids):
                if self.get(portal_list.object_type_id, record_id) is None:
                    missing.append(record_id)
                elif record_id not in portal_list.members:
                    portal_list.members[record_id] = stamp
                    added.append(record_id)
            if added:
                portal_list.updated_at = stamp
            return {"recordsIdsAdded": added, "recordIdsRemoved": [], "recordIdsMissing": missing}

    def remove_members(self, list_id: str, record_ids: Iterable[str]) -> dict[str, list[str]]:
        """Remove records from a MANUAL or SNAPSHOT list.

        Returns:
            The ``MembershipsUpdateResponse`` body.
        """
        with self.lock:
            portal_list = self._editable(list_id)
            removed, missing = [], []
            for record_id in dict.fromkeys(str(r) for r in record_ids):
                if portal_list.members.pop(record_id, None) is None:
                    missing.append(record_id)
                else:
                    removed.append(record_id)
            if removed:
                portal_list.updated_at = now_iso()
            return {"recordsIdsAdded": [], "recordIdsRemoved": removed, "recordIdsMissing": missing}

    def _editable(self, list_id: str) -> PortalList:
        portal_list = self.get_list(list_id)
        if portal_list.processing_type == "DYNAMIC":
            raise validation_error(
                f"List {list_id} is a DYNAMIC list; memberships can only be edited on MANUAL "
                "or SNAPSHOT lists."
            )
        return portal_list

    # ---- communication preferences ----------------------------------------------------------

    def opt_out(self, email: str) -> bool:
        """Unsubscribe an address from all email; return whether it changed anything.

        An opt-out belongs to the address, not to a contact, and the API never removes it.
        """
        with self.lock:
            if email in self.opt_outs:
                return False
            self.opt_outs[email] = now_iso()
            return True

    def set_subscription(self, email: str, subscription_id: int, status: str) -> bool:
        """Set one subscription's status; return whether it changed anything."""
        with self.lock:
            previous = self.subscription_statuses.get((email, subscription_id))
            if previous and previous[0] == status:
                return False
            self.subscription_statuses[(email, subscription_id)] = (status, now_iso())
            return True

    def subscription_status(self, email: str, subscription_id: int) -> tuple[str, str | None]:
        """Return ``(status, timestamp)`` of one subscription for an address.

        The status is ``SUBSCRIBED``, ``UNSUBSCRIBED`` or ``NOT_SPECIFIED``; an opt-out from all
        email makes every subscription ``UNSUBSCRIBED``.
        """
        with self.lock:
            if email in self.opt_outs:
                return "UNSUBSCRIBED", self.opt_outs[email]
            return self.subscription_statuses.get((email, subscription_id), ("NOT_SPECIFIED", None))
