"""CRM objects v3 routes (``/crm/v3/objects/{contacts|companies}``): reads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from emulators.hubspot import catalog
from emulators.hubspot.errors import not_found, standard_error, validation_error
from emulators.hubspot.routes.common import (
    batch_response,
    emulator_of,
    json_object,
    object_type,
    query_int,
    query_list,
)
from emulators.hubspot.state import now_iso

router = APIRouter(prefix="/crm/v3/objects/{object_type_name}")


@router.get("")
async def list_objects(object_type_name: str, request: Request) -> dict[str, Any]:
    """List live records by id, paged by ``after`` (a record id) and ``limit`` (≤ 100)."""
    type_id = object_type(object_type_name)
    portal = emulator_of(request).portal
    limit = query_int(request, "limit", 10, maximum=100)
    after = request.query_params.get("after")
    properties = query_list(request, "properties")
    with portal.lock:
        records = sorted(portal.live(type_id), key=lambda record: int(record.id))
        if after:
            records = [record for record in records if int(record.id) >= int(after)]
        page: dict[str, Any] = {
            "results": [portal.view(record, properties) for record in records[:limit]]
        }
    if len(records) > limit:
        next_id = records[limit].id
        page["paging"] = {
            "next": {"after": next_id, "link": str(request.url.include_query_params(after=next_id))}
        }
    return page


@router.get("/{object_id}")
async def get_object(object_type_name: str, object_id: str, request: Request) -> dict[str, Any]:
    """Return one record by id, or by ``idProperty`` (e.g. ``email``)."""
    type_id = object_type(object_type_name)
    portal = emulator_of(request).portal
    record = portal.find(type_id, request.query_params.get("idProperty"), object_id)
    if record is None:
        raise not_found()
    return portal.view(record, query_list(request, "properties"))


@router.post("/batch/read")
async def batch_read(object_type_name: str, request: Request):
    """Read up to 100 records by id or ``idProperty``; missing ids make a 207."""
    type_id = object_type(object_type_name)
    portal = emulator_of(request).portal
    started = now_iso()
    body = await json_object(request)
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise validation_error("inputs is required.")
    if len(inputs) > 100:
        raise validation_error(f"Batch size {len(inputs)} is greater than the maximum of 100.")
    id_property = body.get("idProperty")
    properties = body.get("properties") or []
    results, missing = [], []
    with portal.lock:
        for entry in inputs:
            wanted = str((entry or {}).get("id", ""))
            record = portal.find(type_id, id_property, wanted)
            if record is None:
                missing.append(wanted)
            elif record.id not in {result["id"] for result in results}:
                results.append(portal.view(record, properties))
    errors = []
    if missing:
        name = catalog.OBJECT_TYPE_NAMES[type_id]
        errors.append(
            standard_error(
                f"Could not get some {name} objects, they may be deleted or not exist. "
                "Check that ids are valid.",
                "OBJECT_NOT_FOUND",
                context={"ids": missing},
            )
        )
    status, response = batch_response(results, errors, started)
    return JSONResponse(response, status_code=status or 200)
