"""CRM Lists v3 routes (``/crm/v3/lists``): create, read, rename, delete, memberships, search."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from emulators.hubspot import catalog
from emulators.hubspot.errors import not_found, validation_error
from emulators.hubspot.routes.common import (
    emulator_of,
    json_body,
    json_object,
    offset_page,
    query_int,
)
from emulators.hubspot.state import PortalList

router = APIRouter(prefix="/crm/v3/lists")


def list_view(portal_list: PortalList) -> dict[str, Any]:
    """Return a list in the ``PublicObjectList`` shape."""
    return {
        "listId": portal_list.list_id,
        "listVersion": portal_list.version,
        "name": portal_list.name,
        "objectTypeId": portal_list.object_type_id,
        "processingType": portal_list.processing_type,
        "processingStatus": "COMPLETE",
        "size": len(portal_list.members),
        "createdAt": portal_list.created_at,
        "updatedAt": portal_list.updated_at,
        "filtersUpdatedAt": portal_list.created_at,
    }


async def _record_ids(request: Request) -> list[str]:
    body = await json_body(request)
    if not isinstance(body, list):
        raise validation_error("The request body must be a JSON array of record ids.")
    return [str(record_id) for record_id in body]


@router.post("")
async def create_list(request: Request) -> dict[str, Any]:
    """Create a list (names are unique: 409 on a taken name)."""
    body = await json_object(request)
    missing = [name for name in ("name", "objectTypeId", "processingType") if not body.get(name)]
    if missing:
        raise validation_error(f"Missing required fields: {missing}")
    type_id = catalog.OBJECT_TYPE_IDS.get(str(body["objectTypeId"]))
    if type_id is None:
        raise validation_error(f"Unknown objectTypeId {body['objectTypeId']}")
    portal = emulator_of(request).portal
    with portal.lock:
        portal_list = portal.create_list(str(body["name"]), type_id, body["processingType"])
        return {"list": list_view(portal_list)}


@router.post("/search")
async def search_lists(request: Request) -> dict[str, Any]:
    """Search lists by name substring, ids and processing types."""
    body = await json_object(request)
    query = str(body.get("query") or "").lower()
    ids = {str(list_id) for list_id in body.get("listIds") or []}
    types = set(body.get("processingTypes") or [])
    offset = int(body.get("offset") or 0)
    count = int(body.get("count") or 20)
    portal = emulator_of(request).portal
    with portal.lock:
        found = [
            {**list_view(portal_list), "additionalProperties": {}}
            for portal_list in portal.lists.values()
            if query in portal_list.name.lower()
            and (not ids or portal_list.list_id in ids)
            and (not types or portal_list.processing_type in types)
        ]
    return {
        "lists": found[offset: offset + count],
        "offset": offset + min(count, max(len(found) - offset, 0)),
        "hasMore": offset + count < len(found),
        "total": len(found),
    }


@router.get("/object-type-id/{object_type_id}/name/{list_name}")
async def list_by_name(object_type_id: str, list_name: str, request: Request) -> dict[str, Any]:
    """Return the list of an object type with a given name."""
    portal = emulator_of(request).portal
    with portal.lock:
        portal_list = portal.list_by_name(
            catalog.OBJECT_TYPE_IDS.get(object_type_id, object_type_id), list_name
        )
        if portal_list is None:
            raise not_found(f"List with name {list_name} does not exist.")
        return {"list": list_view(portal_list)}


@router.get("/{list_id}")
async def get_list(list_id: str, request: Request) -> dict[str, Any]:
    """Return one list."""
    portal = emulator_of(request).portal
    with portal.lock:
        return {"list": list_view(portal.get_list(list_id))}


@router.put("/{list_id}/update-list-name")
async def rename_list(list_id: str, request: Request) -> dict[str, Any]:
    """Rename a list (``listName`` in the query, as HubSpot takes it)."""
    name = request.query_params.get("listName")
    if name is None:
        raise validation_error("listName is required.")
    return {"updatedList": list_view(emulator_of(request).portal.rename_list(list_id, name))}


@router.delete("/{list_id}", status_code=204)
async def delete_list(list_id: str, request: Request) -> Response:
    """Delete a list."""
    emulator_of(request).portal.delete_list(list_id)
    return Response(status_code=204)


@router.get("/{list_id}/memberships")
async def memberships(list_id: str, request: Request) -> dict[str, Any]:
    """Page through a list's members, in order of record id."""
    portal = emulator_of(request).portal
    with portal.lock:
        members = sorted(portal.get_list(list_id).members.items(), key=lambda item: int(item[0]))
    rows = [{"recordId": record_id, "membershipTimestamp": stamp} for record_id, stamp in members]
    limit = query_int(request, "limit", 100, maximum=250)
    page = offset_page(rows, request.query_params.get("after"), limit, request)
    page["total"] = len(rows)
    return page


@router.put("/{list_id}/memberships/add")
async def add_members(list_id: str, request: Request) -> dict[str, Any]:
    """Add records to a MANUAL or SNAPSHOT list."""
    return emulator_of(request).portal.add_members(list_id, await _record_ids(request))


@router.put("/{list_id}/memberships/remove")
async def remove_members(list_id: str, request: Request) -> dict[str, Any]:
    """Remove records from a MANUAL or SNAPSHOT list."""
    return emulator_of(request).portal.remove_members(list_id, await _record_ids(request))
