"""What a load would do to a portal, found by reading it only: ``onramp migrate --dry-run``.

Every email of the plan is read by email (``batch/read``, 100 a call) and every opt-out address's
subscription status read back; nothing is created, updated or unsubscribed. Per contact:

- ``create``: HubSpot has no contact with that email;
- ``update``: it has one, and a planned value differs from HubSpot's, or the plan would make it
  a marketing contact;
- ``unchanged``: it has one holding every planned value (blank cells write nothing), with the
  marketing status the plan would leave.

Per opt-out address: ``opt_out`` (would be unsubscribed) or ``unchanged`` (already is).
``billing_delta`` counts the marketing contacts the load would add: contacts of marketing files
that do not exist or are not marketing contacts yet. ``marketing_opted_out`` counts the contacts
of marketing files HubSpot already holds as unsubscribed from all email and not as marketing
contacts: the load will send them as non-marketing (``tasks/load/opted_out.py``), since a
marketing import would make them marketing contacts, billed for and never emailed; they are not
in ``billing_delta``, and a row that would only have become marketing is ``unchanged``.
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


def _contacts_file(portal: HubSpotPortal, plan: LoadPlan, entry: dict[str, Any]) -> dict[str, Any]:
    properties = [name for name in read_header(plan.path(entry["file"])) if name != "email"]
    marketable = bool(entry.get("marketable"))
    counts = {CREATE: 0, UPDATE: 0, UNCHANGED: 0}
    billing = opted_out = 0
    for batch in chunked(planned_rows(plan, entry), READ_BATCH_SIZE):
        found = {}
        for asked in chunked(with_other_spellings([email for _, email, _ in batch]), READ_BATCH_SIZE):
            found |= read_contacts(portal, asked, properties)
        for _, email, values in batch:
            other_spelling = found.get(ascii_spelling(email) or "")
            # A contact HubSpot holds only under the xn-- spelling is the one the load updates (it
            # sends HubSpot's spelling). The load sends a contact HubSpot holds as unsubscribed
            # (under either spelling of an internationalised address) as non-marketing.
            contact = found.get(email) or other_spelling
            kept = marketable and (kept_non_marketing(contact) or kept_non_marketing(other_spelling))
            sent_marketable = marketable and not kept
            counts[contact_action(values, contact, sent_marketable)] += 1
            billing += sent_marketable and not is_marketing(contact)
            opted_out += kept
    return {"file": entry["file"], "outcome": entry.get("outcome"), **counts, "billing_delta": billing, "marketing_opted_out": opted_out}


def _opt_out_file(portal: HubSpotPortal, plan: LoadPlan, entry: dict[str, Any]) -> dict[str, Any]:
    addresses, _ = read_opt_out_emails(plan.path(entry["file"]))
    already = 0
    for batch in chunked([email for _, email in addresses], READ_BATCH_SIZE):
        already += len(read_unsubscribed(portal, batch))
    return {"file": entry["file"], "status": entry.get("status"), OPT_OUT: len(addresses) - already, UNCHANGED: already}


def dry_run(portal: HubSpotPortal, plan: LoadPlan, expected_portal: ExpectedPortal | None = None) -> dict[str, Any]:
    """Read the portal and say what loading ``plan`` would change, without changing anything.

    Args:
        portal: The portal (only read).
        plan: The plan.
        expected_portal: The portal the token must be for (:func:`check_expected_portal`),
            checked first: another portal's contacts are not read into the report.

    Returns:
        ``{"portal", "portal_id", "account_type", "properties": {"create": [names], "existing": N},
        "contacts": {"create", "update", "unchanged"}, "opt_outs": {"opt_out", "unchanged"},
        "billing_delta": N, "marketing_opted_out": N, "files": [per contacts file and opt-out file counts]}``.

    Raises:
        LoadError: The token is not for ``expected_portal``: nothing was read but which portal it is.
    """
    check_expected_portal(portal, expected_portal)
    existing = existing_properties(portal) if plan.properties else {}
    missing = [prop["name"] for prop in plan.properties if prop["name"] not in existing]
    contacts = [_contacts_file(portal, plan, entry) for entry in plan.imports]
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
        "add %d marketing contacts to billing, send %d contacts HubSpot holds as unsubscribed from all email as non-marketing",
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
