"""What a load would do to a portal, found by reading it only: ``onramp migrate --dry-run``.

Every email of the plan is read by email (``batch/read``, 100 a call) and every opt-out address's
subscription status read back; nothing is created, updated or unsubscribed. Each contacts file is
forecast on the path the load would send it by (``load_path``, by its size when ``auto``:
:func:`~tasks.load.run.contacts_path`), named in its ``path``. Per contact:

- ``create``: HubSpot has no contact with that email (nor with its ``xn--`` spelling);
- ``update``: it has one, and a planned value differs from HubSpot's, or the plan would make it
  a marketing contact;
- ``unchanged``: it has one holding every planned value (blank cells write nothing), with the
  marketing status the plan would leave.

Per opt-out address: ``opt_out`` (would be unsubscribed) or ``unchanged`` (already is).
``billing_delta`` counts the marketing contacts the load would add: contacts of marketing files
that do not exist or are not marketing contacts yet, less those it keeps non-marketing.
``marketing_opted_out`` counts the contacts of marketing files the load keeps non-marketing (not
billed, not in the list) because HubSpot holds them as unsubscribed from all email:

- on either path, a contact HubSpot holds so and not as a marketing contact: the load sends it
  as non-marketing (``tasks/load/opted_out.py``), and a row that would only have become
  marketing is ``unchanged``;
- on the upsert path, also an address HubSpot holds as unsubscribed with no contact yet (an
  earlier opt-out by address): the upsert creates the contact (``create``), which HubSpot then
  holds as unsubscribed, and the load reads it back and leaves it out of the marketing-status
  import (``tasks/load/upsert.py``). Only these rows' statuses are read (100 addresses a call
  where the portal allows the batch read, else one call each, as for opt-out files).

On the Imports path such an address is ``create`` and in ``billing_delta``: the import makes it a
marketing contact before anything can read it (the read-back names it, ``opted-out-made-marketing``).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from schemas.contact import ascii_spelling
from tasks.load.batches import chunked
from tasks.load.client import HubSpotPortal
from tasks.load.expected import ExpectedPortal, check_expected_portal
from tasks.load.log import get_logger
from tasks.load.opted_out import kept_non_marketing, with_other_spellings
from tasks.load.optouts import read_opt_out_emails
from tasks.load.plan import LoadPlan, read_header
from tasks.load.properties import existing_properties
from tasks.load.reconcile import READ_BATCH_SIZE, is_marketing, planned_rows, read_contacts, read_unsubscribed
from tasks.load.run import AUTO, contacts_path
from tasks.load.upsert import UPSERT

CREATE, UPDATE, UNCHANGED, OPT_OUT = "create", "update", "unchanged", "opt_out"


def same_value(planned: str, current: str | None) -> bool:
    """Whether HubSpot already holds a planned value.

    Datetimes are planned as Unix milliseconds (an import accepts them) and read back as ISO
    8601, so those compare as instants; everything else as trimmed text.
    """
    planned, current = planned.strip(), (current or "").strip()
    if planned == current:
        return True
    if planned.isdigit() and current:
        try:
            instant = datetime.fromisoformat(current.replace("Z", "+00:00"))
        except ValueError:
            return False
        return instant.tzinfo is not None and round(instant.timestamp() * 1000) == int(planned)
    return False


def contact_action(values: dict[str, str], contact: dict[str, Any] | None, marketable: bool) -> str:
    """What loading one planned row would do to its contact.

    Args:
        values: The row's non-blank values by property name.
        contact: The contact read back (``{"id", "properties"}``), ``None`` when there is none.
        marketable: Whether the row's file makes its contacts marketing contacts.

    Returns:
        ``create``, ``update`` or ``unchanged``.
    """
    if contact is None:
        return CREATE
    current = contact["properties"]
    differs = any(not same_value(value, current.get(name)) for name, value in values.items() if name != "email")
    return UPDATE if differs or (marketable and not is_marketing(contact)) else UNCHANGED


def kept_out_of_marketing(own: dict[str, Any] | None, other: dict[str, Any] | None, unsubscribed_address: bool) -> bool:
    """Whether the load keeps a marketing file's row non-marketing.

    Args:
        own: HubSpot's contact under the row's address, ``None`` when there is none.
        other: HubSpot's contact under the address's other (``xn--``) spelling, if any.
        unsubscribed_address: Whether HubSpot holds the address as unsubscribed with no contact
            under either spelling and the file goes by upsert, which creates the contact and
            then reads it back as unsubscribed.

    Returns:
        ``True`` when the row is sent as non-marketing or left out of the marketing-status import.
    """
    # Either spelling held as unsubscribed counts: the load's lookup reads both (opted_out.py).
    return kept_non_marketing(own) or kept_non_marketing(other) or unsubscribed_address


def _contacts_file(portal: HubSpotPortal, plan: LoadPlan, entry: dict[str, Any], load_path: str) -> dict[str, Any]:
    properties = [name for name in read_header(plan.path(entry["file"])) if name != "email"]
    marketable = bool(entry.get("marketable"))
    path = contacts_path(entry, load_path)
    reads_addresses = marketable and path == UPSERT
    counts = {CREATE: 0, UPDATE: 0, UNCHANGED: 0}
    billing = opted_out = 0
    for batch in chunked(planned_rows(plan, entry), READ_BATCH_SIZE):
        found = {}
        for asked in chunked(with_other_spellings([email for _, email, _ in batch]), READ_BATCH_SIZE):
            found |= read_contacts(portal, asked, properties)
        held = [(email, values, found.get(email), found.get(ascii_spelling(email) or "")) for _, email, values in batch]
        # The upsert path reads back the contacts it creates (upsert.py): one whose address HubSpot
        # held as unsubscribed is held so too, and kept non-marketing. An import makes it marketing
        # before anything reads it, so only the upsert path's new addresses are asked about.
        new = [email for email, _, own, other in held if own is None and other is None]
        unsubscribed = read_unsubscribed(portal, new) if reads_addresses and new else set()
        for email, values, own, other in held:
            # A contact HubSpot holds only under the xn-- spelling is the one the load updates (it
            # sends HubSpot's spelling).
            contact = own or other
            kept = marketable and kept_out_of_marketing(own, other, email in unsubscribed)
            sent_marketable = marketable and not kept
            counts[contact_action(values, contact, sent_marketable)] += 1
            billing += sent_marketable and not is_marketing(contact)
            opted_out += kept
    return {
        "file": entry["file"], "outcome": entry.get("outcome"), "path": path, **counts,
        "billing_delta": billing, "marketing_opted_out": opted_out,
    }


def _opt_out_file(portal: HubSpotPortal, plan: LoadPlan, entry: dict[str, Any]) -> dict[str, Any]:
    addresses, _ = read_opt_out_emails(plan.path(entry["file"]))
    already = 0
    for batch in chunked([email for _, email in addresses], READ_BATCH_SIZE):
        already += len(read_unsubscribed(portal, batch))
    return {"file": entry["file"], "status": entry.get("status"), OPT_OUT: len(addresses) - already, UNCHANGED: already}


def dry_run(
    portal: HubSpotPortal, plan: LoadPlan, expected_portal: ExpectedPortal | None = None, load_path: str = AUTO
) -> dict[str, Any]:
    """Read the portal and say what loading ``plan`` would change, without changing anything.

    Args:
        portal: The portal (only read).
        plan: The plan.
        expected_portal: The portal the token must be for (:func:`check_expected_portal`),
            checked first: another portal's contacts are not read into the report.
        load_path: How the load would send the contacts files: ``auto`` (by each file's size),
            ``imports`` or ``upsert``, as the load is told (see the module docstring).

    Returns:
        ``{"portal", "portal_id", "account_type", "properties": {"create": [names], "existing": N},
        "contacts": {"create", "update", "unchanged"}, "opt_outs": {"opt_out", "unchanged"},
        "billing_delta": N, "marketing_opted_out": N, "files": [per contacts file (with its
        ``path``) and opt-out file counts]}``.

    Raises:
        LoadError: The token is not for ``expected_portal``: nothing was read but which portal it is.
        ValueError: An unknown ``load_path``.
    """
    check_expected_portal(portal, expected_portal)
    existing = existing_properties(portal) if plan.properties else {}
    missing = [prop["name"] for prop in plan.properties if prop["name"] not in existing]
    contacts = [_contacts_file(portal, plan, entry, load_path) for entry in plan.imports]
    opt_outs = [_opt_out_file(portal, plan, entry) for entry in plan.opt_outs]
    report = {
        **portal.report_fields(),
        "properties": {"create": missing, "existing": len(plan.properties) - len(missing)},
        "contacts": {action: sum(f[action] for f in contacts) for action in (CREATE, UPDATE, UNCHANGED)},
        "opt_outs": {action: sum(f[action] for f in opt_outs) for action in (OPT_OUT, UNCHANGED)},
        "billing_delta": sum(f["billing_delta"] for f in contacts),
        "marketing_opted_out": sum(f["marketing_opted_out"] for f in contacts),
        "files": contacts + opt_outs,
    }
    get_logger().info(
        "dry run into %s: would create %d, update %d and leave %d contacts, opt out %d addresses (%d already are), "
        "add %d marketing contacts to billing, keep %d contacts HubSpot holds as unsubscribed from all email non-marketing",
        portal.describe(),
        *report["contacts"].values(), *report["opt_outs"].values(), report["billing_delta"], report["marketing_opted_out"],
    )
    return report


dry_run_task = task(
    dry_run,
    name="hubspot-dry-run",
    task_run_name="read HubSpot: what the load would change",
    # Reads only, and never cached: the portal may have changed since the last look.
    retries=0,
    cache_policy=NO_CACHE,
)
