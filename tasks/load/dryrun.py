"""What a load would do to a portal, found by reading it only: ``onramp migrate --dry-run``.

Every email of the plan is read by email (``batch/read``, 100 a call) and every opt-out address's
subscription status read back; nothing is created, updated or unsubscribed. Each contacts file is
forecast on the path the load would send it by (``load_path``, by its size when ``auto``:
:func:`~tasks.load.run.contacts_path`, the size of what the load's split leaves of it, as the
load decides), named in its ``path``. Per contact:

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

``kept_non_marketing_as_set_in_hubspot`` counts the contacts of marketing files that a sync's
delta names as made marketing by an earlier run (:data:`~tasks.import_files.MARKETING_ALREADY_SET`)
and HubSpot holds as non-marketing, set so by hand: the load sends them as non-marketing
(``tasks/load/opted_out.py``), not billed. The contacts are read anyway: it costs no request.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from schemas.contact import ascii_spelling
from tasks.load import settings
from tasks.load.batches import chunked
from tasks.load.client import HubSpotPortal
from tasks.load.expected import ExpectedPortal, check_expected_portal
from tasks.load.log import get_logger
from tasks.load.opted_out import AS_SET_REPORT_KEY, kept_non_marketing, marketing_already_set, with_other_spellings
from tasks.load.optouts import read_opt_out_emails
from tasks.load.plan import LoadPlan, read_header
from tasks.load.properties import existing_properties
from tasks.load.reconcile import READ_BATCH_SIZE, is_marketing, is_set_non_marketing, planned_rows, read_contacts, read_unsubscribed
from tasks.load.run import AUTO, contacts_path
from tasks.load.upsert import IMPORTS, UPSERT

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


def _contacts_file(
    portal: HubSpotPortal, plan: LoadPlan, entry: dict[str, Any], load_path: str, already_marketing: frozenset[str]
) -> dict[str, Any]:
    properties = [name for name in read_header(plan.path(entry["file"])) if name != "email"]
    marketable = bool(entry.get("marketable"))
    counts = {CREATE: 0, UPDATE: 0, UNCHANGED: 0}
    billing = moved = as_set = 0
    # The addresses of a marketing file HubSpot has no contact for, under either spelling: if the
    # file goes by upsert, those HubSpot holds as unsubscribed are read back so once created and
    # kept non-marketing (upsert.py); an import makes them marketing before anything reads them.
    new: list[str] | None = [] if marketable and load_path != IMPORTS else None
    for batch in chunked(planned_rows(plan, entry), READ_BATCH_SIZE):
        found = {}
        for asked in chunked(with_other_spellings([email for _, email, _ in batch]), READ_BATCH_SIZE):
            found |= read_contacts(portal, asked, properties)
        for _, email, values in batch:
            own, other = found.get(email), found.get(ascii_spelling(email) or "")
            # A contact HubSpot holds only under the xn-- spelling is the one the load updates (it
            # sends HubSpot's spelling); either spelling held as unsubscribed is moved to a
            # non-marketing file before the load (opted_out.py reads both).
            contact = own or other
            kept = marketable and (kept_non_marketing(own) or kept_non_marketing(other))
            # Set non-marketing by hand since an earlier sync run made it marketing: sent so too.
            kept_as_set = marketable and email in already_marketing and not kept and is_set_non_marketing(contact)
            sent_marketable = marketable and not kept and not kept_as_set
            counts[contact_action(values, contact, sent_marketable)] += 1
            billing += sent_marketable and not is_marketing(contact)
            moved += kept
            as_set += kept_as_set
            if new is not None and contact is None:
                new.append(email)
        if new is not None and load_path == AUTO and len(new) > settings.UPSERT_MAX_ROWS:
            new = None  # what the split leaves of the file holds them all: too many to go by upsert
    # The load chooses the path by what the split leaves of the file.
    path = contacts_path({**entry, "rows": int(entry.get("rows") or 0) - moved - as_set}, load_path)
    address_kept = _unsubscribed_count(portal, new) if path == UPSERT and new else 0
    return {
        "file": entry["file"], "outcome": entry.get("outcome"), "path": path, **counts,
        "billing_delta": billing - address_kept, "marketing_opted_out": moved + address_kept, AS_SET_REPORT_KEY: as_set,
    }


def _unsubscribed_count(portal: HubSpotPortal, emails: list[str]) -> int:
    """How many of ``emails`` HubSpot holds as unsubscribed from all email, read 100 a request."""
    return sum(len(read_unsubscribed(portal, batch)) for batch in chunked(emails, READ_BATCH_SIZE))


def _opt_out_file(portal: HubSpotPortal, plan: LoadPlan, entry: dict[str, Any]) -> dict[str, Any]:
    addresses, _ = read_opt_out_emails(plan.path(entry["file"]))
    already = _unsubscribed_count(portal, [email for _, email in addresses])
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
        "billing_delta": N, "marketing_opted_out": N, "kept_non_marketing_as_set_in_hubspot": N,
        "files": [per contacts file (with its ``path``) and opt-out file counts]}``.

    Raises:
        LoadError: The token is not for ``expected_portal``: nothing was read but which portal it is.
        ValueError: An unknown ``load_path``.
    """
    check_expected_portal(portal, expected_portal)
    existing = existing_properties(portal) if plan.properties else {}
    missing = [prop["name"] for prop in plan.properties if prop["name"] not in existing]
    already_marketing = marketing_already_set(plan)
    contacts = [_contacts_file(portal, plan, entry, load_path, already_marketing) for entry in plan.imports]
    opt_outs = [_opt_out_file(portal, plan, entry) for entry in plan.opt_outs]
    report = {
        **portal.report_fields(),
        "properties": {"create": missing, "existing": len(plan.properties) - len(missing)},
        "contacts": {action: sum(f[action] for f in contacts) for action in (CREATE, UPDATE, UNCHANGED)},
        "opt_outs": {action: sum(f[action] for f in opt_outs) for action in (OPT_OUT, UNCHANGED)},
        "billing_delta": sum(f["billing_delta"] for f in contacts),
        "marketing_opted_out": sum(f["marketing_opted_out"] for f in contacts),
        AS_SET_REPORT_KEY: sum(f[AS_SET_REPORT_KEY] for f in contacts),
        "files": contacts + opt_outs,
    }
    get_logger().info(
        "dry run into %s: would create %d, update %d and leave %d contacts, opt out %d addresses (%d already are), "
        "add %d marketing contacts to billing, keep %d contacts HubSpot holds as unsubscribed from all email non-marketing "
        "and %d a sync already made marketing that HubSpot holds as set non-marketing by hand",
        portal.describe(),
        *report["contacts"].values(), *report["opt_outs"].values(), report["billing_delta"], report["marketing_opted_out"],
        report[AS_SET_REPORT_KEY],
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
