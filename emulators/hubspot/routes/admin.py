"""Admin routes outside HubSpot's paths (``/_emulator``): reset, inspection, import control."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from emulators.hubspot import catalog
from emulators.hubspot.imports import job_view
from emulators.hubspot.routes.common import emulator_of

router = APIRouter(prefix="/_emulator")


@router.post("/reset")
async def reset(request: Request) -> dict[str, Any]:
    """Empty the portal and forget all counts (settings are kept)."""
    emulator_of(request).reset()
    return {"status": "reset"}


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
