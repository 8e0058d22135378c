"""Admin routes outside HubSpot's paths (``/_emulator``): reset, inspection, imports, faults."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from emulators.hubspot import catalog
from emulators.hubspot.imports import job_view
from emulators.hubspot.errors import validation_error
from emulators.hubspot.routes.common import emulator_of, json_object

router = APIRouter(prefix="/_emulator")


@router.post("/reset")
async def reset(request: Request) -> dict[str, Any]:
    """Empty the portal and forget all counts (settings are kept)."""
    emulator_of(request).reset()
    return {"status": "reset"}


@router.post("/save")
async def save_state(request: Request) -> dict[str, Any]:
    """Write the portal to its state file now (400 when it has none)."""
    try:
        emulator_of(request).save()
    except ValueError as error:
        raise validation_error(str(error)) from None
    return {"status": "saved"}


@router.get("/state")
async def state(request: Request) -> dict[str, Any]:
    """Dump the portal: contacts, companies, opt-outs, lists, imports, custom properties, counts."""
    emulator = emulator_of(request)
    portal = emulator.portal
    with portal.lock:
        return {
            "contacts": [
                {"id": record.id, "properties": portal.values(record)}
                for record in portal.live(catalog.CONTACTS)
            ],
            "companies": [
                {"id": record.id, "properties": portal.values(record)}
                for record in portal.live(catalog.COMPANIES)
            ],
            "optOuts": dict(portal.opt_outs),
            "lists": [
                {
                    "listId": portal_list.list_id,
                    "name": portal_list.name,
                    "processingType": portal_list.processing_type,
                    "members": list(portal_list.members),
                }
                for portal_list in portal.lists.values()
            ],
            "imports": [job_view(job) for job in portal.imports.values()],
            "properties": {
                type_id: [p for p in definitions.values() if not p["hubspotDefined"]]
                for type_id, definitions in portal.properties.items()
            },
            "requests": [
                {"method": method, "route": route, "status": status, "count": count}
                for (method, route, status), count in sorted(emulator.request_counts.items())
            ],
        }


@router.post("/contacts/marketing-status")
async def set_marketing_status(request: Request) -> dict[str, Any]:
    """Set a contact marketing or not, as a person does by hand in HubSpot's UI (a billing
    choice the API cannot make). Body: ``{"email": "...", "marketable": false}``, and
    ``"at_next_update": true`` to keep a marketing contact set non-marketing marketing until the
    portal's next update date, as HubSpot does; 404 when no contact has that email. Returns the
    contact as ``/state`` lists it."""
    emulator = emulator_of(request)
    body = await json_object(request)
    email, marketable, at_next_update = body.get("email"), body.get("marketable"), body.get("at_next_update", False)
    if not isinstance(email, str) or not isinstance(marketable, bool) or not isinstance(at_next_update, bool):
        raise validation_error('Body must be {"email": "<address>", "marketable": true | false, "at_next_update": true | false}')
    portal = emulator.portal
    with portal.lock:
        record = portal.set_marketing_status(email, marketable, at_next_update)
        return {"id": record.id, "properties": portal.values(record)}


@router.post("/imports/hold")
async def hold_imports(request: Request) -> dict[str, Any]:
    """Keep imports that reach PROCESSING from finishing (to observe DEFERRED, cancel, ...)."""
    emulator_of(request).imports.hold()
    return {"status": "held"}


@router.post("/imports/release")
async def release_imports(request: Request) -> dict[str, Any]:
    """Let held imports finish."""
    emulator_of(request).imports.release()
    return {"status": "released"}


_FAULT_FIELDS = {
    "fault_seed", "error_rate", "error_statuses", "drop_rate", "latency", "daily_quota_at",
    "tier", "daily_limit", "ten_second_limit", "batch_comm_prefs_allowed", "import_start_delay", "row_delay",
    "portal_id", "account_type", "time_zone", "account_info_allowed", "missing_scopes",
    "whole_batch_email_upserts", "max_imports_per_day", "max_property_options", "max_search_body_characters",
    "refused_opt_outs", "whole_batch_status_reads",
}

# Counts of the next imports, writes or import creations to fail, added to what is pending rather
# than settings.
_COUNTS = {"fail_imports", "error_after_write", "bare_import_429s"}


@router.post("/faults")
async def faults(request: Request) -> dict[str, Any]:
    """Change fault and behaviour settings at runtime.

    Body: any of ``fault_seed``, ``error_rate``, ``error_statuses``, ``drop_rate``, ``latency``,
    ``daily_quota_at``, ``tier``, ``daily_limit``, ``ten_second_limit``,
    ``batch_comm_prefs_allowed``,
    ``import_start_delay``, ``row_delay``, the account's ``portal_id``, ``account_type``,
    ``time_zone`` and ``account_info_allowed``, ``missing_scopes`` (scopes the token's app lacks:
    the requests needing them are answered 403 ``MISSING_SCOPES``), ``whole_batch_email_upserts``
    (a batch upsert by email with an invalid input is answered 400 whole), ``refused_opt_outs``
    (addresses whose ``unsubscribe-all`` is answered 400), ``whole_batch_status_reads`` (a batch
    status read naming a malformed address is answered 400 whole), plus ``fail_imports`` (the
    next N imports end FAILED), ``error_after_write`` (the next N writes are applied, then answered 504)
    and ``bare_import_429s`` (the next N import creations are answered 429 with no body, as a proxy
    or gateway may; nothing is created).
    Returns the resulting settings.
    """
    emulator = emulator_of(request)
    body = await json_object(request)
    unknown = set(body) - _FAULT_FIELDS - _COUNTS
    if unknown:
        raise validation_error(f"Unknown settings {sorted(unknown)}; known: {sorted(_FAULT_FIELDS | _COUNTS)}")
    if body.get("fail_imports"):
        emulator.fail_next_imports(int(body["fail_imports"]))
    if body.get("error_after_write"):
        emulator.write_faults.add(int(body["error_after_write"]))
    if body.get("bare_import_429s"):
        emulator.bare_import_429s.add(int(body["bare_import_429s"]))
    changes = {key: value for key, value in body.items() if key in _FAULT_FIELDS}
    try:
        settings = emulator.configure(**changes)
    except (TypeError, ValueError) as error:
        raise validation_error(str(error)) from None
    return {
        key: value for key, value in settings.__dict__.items() if key != "allowed_tokens"
    } | {
        "pendingImportFailures": emulator.imports.fail_next,
        "pendingErrorsAfterWrite": emulator.write_faults.pending,
        "pendingBareImport429s": emulator.bare_import_429s.pending,
    }
