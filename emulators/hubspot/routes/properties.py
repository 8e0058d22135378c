"""CRM Properties v3 routes (``/crm/v3/properties/{objectType}``): properties and groups."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from emulators.hubspot import catalog
from emulators.hubspot.errors import HubSpotError, not_found, standard_error, validation_error
from emulators.hubspot.routes.common import batch_response, emulator_of, json_object, object_type
from emulators.hubspot.state import now_iso

router = APIRouter(prefix="/crm/v3/properties/{object_type_name}")

TYPES = ("bool", "date", "datetime", "enumeration", "number", "phone_number", "string")
FIELD_TYPES = (
    "booleancheckbox", "calculation_equation", "checkbox", "date", "file", "html", "number",
    "phonenumber", "radio", "select", "text", "textarea",
)


def _definition(body: dict[str, Any]) -> dict[str, Any]:
    """Check a ``PropertyCreate`` body and return the property to store."""
    missing = [
        name for name in ("name", "label", "type", "fieldType", "groupName") if not body.get(name)
    ]
    if missing:
        raise validation_error(
            f"Missing required fields: {missing}",
            errors=[{"message": f"{name} is required", "in": name} for name in missing],
        )
    if body["type"] not in TYPES:
        raise validation_error(f"Invalid type {body['type']}; one of {list(TYPES)}.")
    if body["fieldType"] not in FIELD_TYPES:
        raise validation_error(f"Invalid fieldType {body['fieldType']}; one of {list(FIELD_TYPES)}.")
    options = body.get("options") or []
    if body["type"] == "enumeration" and not options and body["fieldType"] != "checkbox":
        raise validation_error(f"Enumeration property {body['name']} needs options.")
    return catalog.property_definition(
        body["name"],
        body["label"],
        body["type"],
        body["fieldType"],
        body["groupName"],
        options=[
            {
                "value": str(option.get("value")),
                "label": str(option.get("label")),
                "hidden": bool(option.get("hidden", False)),
                "displayOrder": option.get("displayOrder", order),
                **({"description": option["description"]} if option.get("description") else {}),
            }
            for order, option in enumerate(options)
        ],
        description=body.get("description") or "",
        has_unique_value=bool(body.get("hasUniqueValue", False)),
        display_order=body.get("displayOrder", -1),
        hidden=bool(body.get("hidden", False)),
        form_field=bool(body.get("formField", False)),
        timestamp=now_iso(),
    )


@router.get("")
async def list_properties(object_type_name: str, request: Request) -> dict[str, Any]:
    """List an object type's properties."""
    portal = emulator_of(request).portal
    with portal.lock:
        return {"results": list(portal.properties[object_type(object_type_name)].values())}


@router.post("", status_code=201)
async def create_property(object_type_name: str, request: Request) -> dict[str, Any]:
    """Create a property (409 when it exists)."""
    type_id = object_type(object_type_name)
    definition = _definition(await json_object(request))
    return emulator_of(request).portal.add_property(type_id, definition)


@router.post("/batch/create")
async def batch_create(object_type_name: str, request: Request) -> JSONResponse:
    """Create several properties; those that fail make a 207."""
    type_id = object_type(object_type_name)
    started = now_iso()
    inputs = (await json_object(request)).get("inputs")
    if not isinstance(inputs, list):
        raise validation_error("inputs is required.")
    results, errors = [], []
    for entry in inputs:
        try:
            results.append(emulator_of(request).portal.add_property(type_id, _definition(entry)))
        except HubSpotError as error:
            errors.append(
                standard_error(error.message, error.category, context=error.context or {})
            )
    status, body = batch_response(results, errors, started)
    return JSONResponse(body, status_code=status or 201)


@router.post("/batch/read")
async def batch_read(object_type_name: str, request: Request) -> JSONResponse:
    """Read several properties by name; unknown names make a 207."""
    type_id = object_type(object_type_name)
    started = now_iso()
    inputs = (await json_object(request)).get("inputs")
    if not isinstance(inputs, list):
        raise validation_error("inputs is required.")
    portal = emulator_of(request).portal
    results, missing = [], []
    for entry in inputs:
        name = str((entry or {}).get("name", ""))
        definition = portal.property(type_id, name)
        if definition is None:
            missing.append(name)
        else:
            results.append(definition)
    errors = (
        [standard_error(f"Properties {missing} do not exist.", "OBJECT_NOT_FOUND",
                        context={"names": missing})]
        if missing
        else []
    )
    status, body = batch_response(results, errors, started)
    return JSONResponse(body, status_code=status or 200)


@router.get("/groups")
async def list_groups(object_type_name: str, request: Request) -> dict[str, Any]:
    """List an object type's property groups."""
    portal = emulator_of(request).portal
    with portal.lock:
        return {"results": list(portal.groups[object_type(object_type_name)].values())}


@router.post("/groups", status_code=201)
async def create_group(object_type_name: str, request: Request) -> dict[str, Any]:
    """Create a property group (409 when it exists)."""
    type_id = object_type(object_type_name)
    body = await json_object(request)
    if not body.get("name") or not body.get("label"):
        raise validation_error("name and label are required.")
    group = {
        "name": body["name"],
        "label": body["label"],
        "displayOrder": body.get("displayOrder", -1),
        "archived": False,
    }
    return emulator_of(request).portal.add_group(type_id, group)


@router.get("/groups/{group_name}")
async def get_group(object_type_name: str, group_name: str, request: Request) -> dict[str, Any]:
    """Return one property group."""
    portal = emulator_of(request).portal
    group = portal.groups[object_type(object_type_name)].get(group_name)
    if group is None:
        raise not_found(f"Property group {group_name} does not exist.")
    return group


@router.get("/{property_name}")
async def get_property(
    object_type_name: str, property_name: str, request: Request
) -> dict[str, Any]:
    """Return one property."""
    definition = emulator_of(request).portal.property(object_type(object_type_name), property_name)
    if definition is None:
        raise not_found(
            f"Property {property_name} does not exist", context={"name": [property_name]}
        )
    return definition
