"""Reading the portal back after a load and comparing it with the plan.

Checked, for every row of the plan that the load did not already report as failed:

- ``contact-missing``: a contacts file's email has no contact in HubSpot;
- ``not-marketing``: a contact of a marketing file is not a marketing contact;
- ``not-in-list``: a contact of a file whose import made a list is not in that list;
- ``not-opted-out``: an opt-out file's address is not unsubscribed from all email;
- ``opted-out-is-marketing``: an opt-out file's address is a marketing contact in HubSpot;
- ``opted-out-made-marketing``: a marketing file's contact is one HubSpot holds as unsubscribed
  from all email: a marketing contact that is billed for and can never be emailed, which only
  HubSpot's UI can set back. The load sends a contact HubSpot held so before it as
  non-marketing (``tasks/load/opted_out.py``; the plan checked is then the one sent, those rows
  in a non-marketing file), so this finds one unsubscribed during the load or by another tool;
- ``kept-non-marketing-is-marketing``: a contact the load sent as non-marketing because HubSpot
  held it as unsubscribed (a row of a file :data:`KEPT_NON_MARKETING` marks) is a marketing
  contact after all: an import sent before it unsubscribed (a stopped run's, still processing,
  which a rerun took up) or another tool made it one.

A marketing file's row whose contact the upsert path kept non-marketing, HubSpot holding it as
unsubscribed once upserted (``tasks/load/upsert.py``), is not checked to be marketing or in a
list: it is meant to be neither (``opted-out-made-marketing`` names it if it is marketing).

Everything is read in batches (100 contacts per ``batch/read``, list members 250 a page), file
by file, so memory follows a file's list size rather than the migration's. Nothing is written.
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId, SimplePublicObjectId
from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from tasks.load.batches import chunked
from tasks.load.client import HubSpotPortal
from tasks.load.log import get_logger
from tasks.load.optouts import normalise_email, read_opt_out_emails, unsubscribed_among
from tasks.load.plan import LoadPlan, tie_back, unneutralise

MARKETING_STATUS = "hs_marketable_status"
MARKETING_UNTIL_NEXT_UPDATE = "hs_marketable_until_renewal"
"""True on a marketing contact a person set non-marketing: HubSpot makes it so only at the
portal's next update date, ``hs_marketable_status`` staying true until then."""
OPTED_OUT_PROPERTY = "hs_email_optout"
READ_BATCH_SIZE = 100
LIST_PAGE_SIZE = 250
ARTIFACT_KEY = "onramp-reconciliation"
# The artifact is for reading, not for processing: report.json holds every mismatch.
_ARTIFACT_MAX_ROWS = 500
CHECKS = (
    "contact-missing",
    "not-marketing",
    "not-in-list",
    "not-opted-out",
    "opted-out-is-marketing",
    "opted-out-made-marketing",
    "kept-non-marketing-is-marketing",
)
KEPT_NON_MARKETING = "kept_non_marketing"
"""A contacts file entry's flag: its rows are a marketing file's that HubSpot held as unsubscribed
from all email, sent as non-marketing (``tasks/load/opted_out.py``); none may be marketing."""


def planned_rows(plan: LoadPlan, entry: dict[str, Any]) -> Iterator[tuple[int, str, dict[str, str]]]:
    """The rows of a planned contacts file.

    Yields:
        ``(line, email, values)``: the record's line (header = 1), its email as HubSpot stores
        it, and its non-blank cells by property name (blank cells write nothing in HubSpot).
    """
    with plan.path(entry["file"]).open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader, [])]
        for line, row in enumerate(reader, start=2):
            values = {name: unneutralise(cell) for name, cell in zip(header, row) if cell.strip()}
            email = normalise_email(values.get("email", ""))
            if email:
                yield line, email, values


def read_contacts(portal: HubSpotPortal, emails: list[str], properties: list[str]) -> dict[str, dict[str, Any]]:
    """Read up to 100 contacts by email.

    Returns:
        ``{email: {"id", "properties"}}`` for the emails HubSpot has a contact for.
    """
    request = BatchReadInputSimplePublicObjectId(
        id_property="email",
        properties=sorted({"email", MARKETING_STATUS, MARKETING_UNTIL_NEXT_UPDATE, OPTED_OUT_PROPERTY, *properties}),
        properties_with_history=[],
        inputs=[SimplePublicObjectId(id=email) for email in emails],
    )
    response = portal.call(
        portal.sdk.crm.contacts.batch_api.read_with_http_info,
        batch_read_input_simple_public_object_id=request,
        archived=False,
        what="POST /crm/v3/objects/contacts/batch/read",
    )
    found = {}
    for contact in response.results or []:
        values = contact.properties or {}
        found[str(values.get("email") or "").lower()] = {"id": str(contact.id), "properties": values}
    return found


def read_unsubscribed(portal: HubSpotPortal, emails: list[str]) -> set[str]:
    """The addresses among ``emails`` HubSpot reports unsubscribed from all email.

    Until the portal has said whether the batch endpoints are open to this token, the batch read
    is tried first (one request per 100 addresses instead of 100): a 403 falls back to one read
    per address.
    """
    if portal.batch_opt_outs_allowed is None:
        portal.batch_opt_outs_allowed = True
    return unsubscribed_among(portal, emails)


def is_marketing(contact: dict[str, Any] | None) -> bool:
    """Whether a contact read back is a marketing contact."""
    return bool(contact) and str(contact["properties"].get(MARKETING_STATUS, "")).lower() == "true"


def is_set_non_marketing(contact: dict[str, Any] | None) -> bool:
    """Whether a contact read back is set to be non-marketing: non-marketing already, or a
    marketing contact a person set non-marketing that stays marketing until the portal's next
    update date (:data:`MARKETING_UNTIL_NEXT_UPDATE`). A marketing import now would undo that."""
    if not contact:
        return False
    return not is_marketing(contact) or str(contact["properties"].get(MARKETING_UNTIL_NEXT_UPDATE, "")).lower() == "true"


def is_opted_out(contact: dict[str, Any] | None) -> bool:
    """Whether a contact read back is unsubscribed from all email (``hs_email_optout``)."""
    return bool(contact) and str(contact["properties"].get(OPTED_OUT_PROPERTY, "")).lower() == "true"


def _list_members(portal: HubSpotPortal, list_id: str) -> set[str]:
    members: set[str] = set()
    after: str | None = None
    while True:
        params = {"limit": LIST_PAGE_SIZE, **({"after": after} if after else {})}
        page = portal.request("GET", f"/crm/v3/lists/{list_id}/memberships", params=params) or {}
        members |= {str(member["recordId"]) for member in page.get("results", [])}
        after = ((page.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return members


def _mismatch(check: str, file: str, line: int, detail: str) -> dict[str, Any]:
    return {"check": check, "file": file, "line": line, "detail": detail}


def _check_contacts(
    portal: HubSpotPortal,
    plan: LoadPlan,
    entry: dict[str, Any],
    result: dict[str, Any],
    failed: set[tuple[str, int]],
    kept_non_marketing: Collection[int],
) -> tuple[int, list[dict[str, Any]]]:
    file = entry["file"]
    members = [_list_members(portal, list_id) for list_id in result.get("list_ids", [])]
    checked, mismatches = 0, []
    rows = ((line, email) for line, email, _ in planned_rows(plan, entry) if (file, line) not in failed)
    for batch in chunked(rows, READ_BATCH_SIZE):
        found = read_contacts(portal, [email for _, email in batch], [])
        for line, email in batch:
            checked += 1
            contact = found.get(email)
            if contact is None:
                mismatches.append(_mismatch("contact-missing", file, line, "no contact with this email"))
                continue
            kept = line in kept_non_marketing
            if entry.get("marketable") and not kept and not is_marketing(contact):
                mismatches.append(_mismatch("not-marketing", file, line, f"{MARKETING_STATUS} is not true"))
            if entry.get("marketable") and is_marketing(contact) and is_opted_out(contact):
                detail = "a marketing contact HubSpot holds as unsubscribed from all email: billed, never emailed"
                mismatches.append(_mismatch("opted-out-made-marketing", file, line, detail))
            if entry.get(KEPT_NON_MARKETING) and is_marketing(contact):
                detail = "sent as non-marketing (HubSpot held it as unsubscribed from all email), yet a marketing contact: billed, never emailed"
                mismatches.append(_mismatch("kept-non-marketing-is-marketing", file, line, detail))
            for list_id, list_members in zip(result.get("list_ids", []), members):
                if not kept and contact["id"] not in list_members:
                    mismatches.append(_mismatch("not-in-list", file, line, f"contact {contact['id']} not in list {list_id}"))
    return checked, mismatches


def _check_opt_outs(
    portal: HubSpotPortal, plan: LoadPlan, entry: dict[str, Any], failed: set[tuple[str, int]]
) -> tuple[int, list[dict[str, Any]]]:
    file = entry["file"]
    addresses, _ = read_opt_out_emails(plan.path(file))
    checked, mismatches = 0, []
    for batch in chunked([(line, email) for line, email in addresses if (file, line) not in failed], READ_BATCH_SIZE):
        emails = [email for _, email in batch]
        unsubscribed = read_unsubscribed(portal, emails)
        contacts = read_contacts(portal, emails, [])
        for line, email in batch:
            checked += 1
            if email not in unsubscribed:
                mismatches.append(_mismatch("not-opted-out", file, line, "not unsubscribed from all email"))
            if is_marketing(contacts.get(email)):
                mismatches.append(_mismatch("opted-out-is-marketing", file, line, "an opted-out address is a marketing contact"))
    return checked, mismatches


def reconcile(
    portal: HubSpotPortal, plan: LoadPlan, load: dict[str, Any], kept_non_marketing: Mapping[str, Collection[int]] | None = None
) -> dict[str, Any]:
    """Read back what the load wrote and compare it with the plan (see the module docstring).

    Rows the load already reported failed (a ``row`` error, or every row of a contacts file
    that did not end ``DONE``) are not checked again: the ledger has them with HubSpot's error.

    Args:
        portal: The portal.
        plan: The plan that was loaded.
        load: The load report (:func:`tasks.load.run.load_report`).
        kept_non_marketing: Per contacts file, its lines the upsert path kept non-marketing
            (``tasks/load/upsert.py``), not checked to be marketing or in a list.

    Returns:
        ``{"rows_checked": N, "contacts_checked": N, "opt_outs_checked": N, "mismatches":
        [{"check", "file", "line", "detail", "sources"}], "by_check": {check: N}}``; emails are
        never in it, ``file``/``line``/``sources`` say which row.
    """
    failed = {(error["file"], error["line"]) for error in load.get("errors", []) if error.get("scope") == "row" and error.get("line")}
    results = {result["file"]: result for result in load.get("imports", [])}
    contacts_checked, opt_outs_checked, mismatches = 0, 0, []
    for entry in plan.imports:
        result = results.get(entry["file"], {})
        if result.get("state") != "DONE":
            continue
        checked, found = _check_contacts(portal, plan, entry, result, failed, (kept_non_marketing or {}).get(entry["file"], ()))
        contacts_checked += checked
        mismatches.extend(found)
    for entry in plan.opt_outs:
        checked, found = _check_opt_outs(portal, plan, entry, failed)
        opt_outs_checked += checked
        mismatches.extend(found)
    mismatches = tie_back(plan, mismatches)
    by_check = {check: sum(1 for m in mismatches if m["check"] == check) for check in CHECKS}
    get_logger().info(
        "reconciliation: %d contacts and %d opt-outs read back, %d mismatches",
        contacts_checked, opt_outs_checked, len(mismatches),
    )
    return {
        "rows_checked": contacts_checked + opt_outs_checked,
        "contacts_checked": contacts_checked,
        "opt_outs_checked": opt_outs_checked,
        "mismatches": mismatches,
        "by_check": by_check,
    }


def publish_reconciliation(reconciliation: dict[str, Any]) -> None:
    """The reconciliation as a Prefect table artifact: one row per mismatch, or a summary row."""
    rows = [
        {"check": m["check"], "file": m["file"], "line": m["line"], "detail": m["detail"], "sources": " | ".join(m["sources"])}
        for m in reconciliation["mismatches"][:_ARTIFACT_MAX_ROWS]
    ] or [{"check": "all", "file": "", "line": "", "detail": f"{reconciliation['rows_checked']} rows read back, no mismatch", "sources": ""}]
    create_table_artifact(
        rows,
        key=ARTIFACT_KEY,
        description=f"HubSpot read back after the load: {len(reconciliation['mismatches'])} mismatches "
        f"in {reconciliation['rows_checked']} rows (all of them in report.json, load.reconciliation)",
    )


reconcile_task = task(
    reconcile,
    name="hubspot-reconcile",
    task_run_name="read HubSpot back and compare with the plan",
    # Reads only; never cached, since the point is to look at the portal as it is now.
    retries=0,
    cache_policy=NO_CACHE,
)
