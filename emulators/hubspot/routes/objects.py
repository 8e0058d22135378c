"""CRM objects v3 routes (``/crm/v3/objects/{contacts|companies}``): reads, writes, search."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from emulators.hubspot import catalog, objects
from emulators.hubspot.search import search
from emulators.hubspot.errors import not_found, standard_error
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
    id_property = body.get("idProperty")
    inputs = objects.check_batch(body.get("inputs"), objects.batch_key(type_id, "read", id_property))
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


@router.post("", status_code=201)
async def create_object(object_type_name: str, request: Request) -> dict[str, Any]:
    """Create a record (``{properties, associations?}``)."""
    type_id = object_type(object_type_name)
    portal = emulator_of(request).portal
    body = await json_object(request)
    with portal.lock:
        return objects.plan_create(portal, type_id, body)()


@router.patch("/{object_id}")
async def update_object(object_type_name: str, object_id: str, request: Request) -> dict[str, Any]:
    """Update a record by id or ``idProperty``."""
    type_id = object_type(object_type_name)
    portal = emulator_of(request).portal
    body = await json_object(request)
    entry = {**body, "id": object_id, "idProperty": request.query_params.get("idProperty")}
    with portal.lock:
        return objects.plan_update(portal, type_id, entry)()


@router.delete("/{object_id}", status_code=204)
async def archive_object(object_type_name: str, object_id: str, request: Request) -> Response:
    """Archive a record (204 whether or not it existed)."""
    emulator_of(request).portal.archive(object_type(object_type_name), object_id)
    return Response(status_code=204)


_PLANS = {
    "create": (objects.plan_create, 201),
    "update": (objects.plan_update, 200),
    "upsert": (objects.plan_upsert, 200),
}


@router.post("/batch/{operation}")
async def batch_write(object_type_name: str, operation: str, request: Request) -> Response:
    """Batch create/update/upsert (207 for partial success) and archive (204)."""
    type_id = object_type(object_type_name)
    portal = emulator_of(request).portal
    started = now_iso()
    body = await json_object(request)
    if operation == "archive":
        inputs = objects.check_batch(body.get("inputs"), objects.batch_key(type_id, "archive"))
        for entry in inputs:
            portal.archive(type_id, str(entry.get("id", "")))
        return Response(status_code=204)
    if operation not in _PLANS:
        raise not_found(f"Unknown batch operation {operation}.")
    plan, success = _PLANS[operation]
    inputs = objects.check_batch(body.get("inputs"), objects.batch_key(type_id, operation))
    partial = objects.partial_success(operation, inputs, emulator_of(request).settings.whole_batch_email_upserts)
    results, errors = objects.run_batch(portal, inputs, lambda entry: plan(portal, type_id, entry), partial=partial)
    status, response = batch_response(results, errors, started)
    return JSONResponse(response, status_code=status or success)


@router.post("/search")
async def search_objects(object_type_name: str, request: Request) -> dict[str, Any]:
    """Search records (limited to 5 requests a second, 10,000 results; see ``search.py``)."""
    type_id = object_type(object_type_name)
    emulator = emulator_of(request)
    body_characters = len((await request.body()).decode("utf-8", errors="replace"))
    return search(
        emulator.portal, type_id, await json_object(request), body_characters,
        emulator.settings.max_search_body_characters,
    )
