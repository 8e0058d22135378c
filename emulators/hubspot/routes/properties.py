"""CRM Properties v3 routes (``/crm/v3/properties/{objectType}``): properties and groups."""

from __future__ import annotations

import re
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


# A property's internal name starts with a lowercase letter (HubSpot's Properties v1 reference:
# "The internal name of the property. Must be unique and start with a lowercase letter.",
# https://developers.hubspot.com/docs/api-reference/legacy/crm-properties-v1-contacts/post-properties-v1-contacts-properties)
# and holds lowercase letters and numbers (its older contact-property guide: "This property name
# can only include lower case letters and numbers, and MUST start with a lower case letter",
# https://developers.hubspot.com/docs/methods/contacts/create_property) and underscores (its own
# names, ``hs_email_optout``, and the v3 guide's example ``my_contact_property``). No length limit
# is documented by HubSpot, so none is held. How HubSpot words the 400 is undocumented.
PROPERTY_NAME = re.compile(r"[a-z][a-z0-9_]*")

# The fields of the spec's ``PropertyUpdate`` (a PATCH body); ``name`` is not among them.
UPDATABLE = frozenset({
    "calculationFormula", "currencyPropertyName", "description", "displayOrder", "fieldType",
    "formField", "groupName", "hidden", "label", "numberDisplayHint", "options",
    "showCurrencySymbol", "textDisplayHint", "type",
})


def _check_kind(body: dict[str, Any]) -> None:
    """Check a body's ``type``/``fieldType`` pair and that an enumeration has what it needs."""
    if body["type"] not in TYPES:
        raise validation_error(f"Invalid type {body['type']}; one of {list(TYPES)}.")
    if body["fieldType"] not in FIELD_TYPES:
        raise validation_error(f"Invalid fieldType {body['fieldType']}; one of {list(FIELD_TYPES)}.")
    if body["type"] == "enumeration" and not body.get("options") and body["fieldType"] != "checkbox":
        raise validation_error(f"Enumeration property {body['name']} needs options.")


def _options(options: Any, name: str, limit: int) -> list[dict[str, Any]]:
    """Check ``OptionInput`` items (``label``, ``value`` required; values unique; at most
    ``limit`` of them) and return them in the ``Option`` shape.

    HubSpot documents the limit (5,000 options) but not how it refuses a property over it: a 400
    ``VALIDATION_ERROR`` naming the property is assumed, as it answers other invalid definitions.
    """
    if not isinstance(options, list) or not all(isinstance(option, dict) for option in options):
        raise validation_error("options must be an array of objects.")
    if len(options) > limit:
        raise validation_error(
            f"Property {name} has {len(options)} options; a property can have at most {limit} options.",
            context={"name": [name]},
        )
    incomplete = [order for order, option in enumerate(options) if option.get("label") in (None, "") or option.get("value") in (None, "")]
    if incomplete:
        raise validation_error(f"Options at positions {incomplete} need a label and a value.")
    values = [str(option["value"]) for option in options]
    repeated = sorted({value for value in values if values.count(value) > 1})
    if repeated:
        raise validation_error(f"Option values must be unique; repeated: {repeated}.")
    return [
        {
            "value": str(option.get("value")),
            "label": str(option.get("label")),
            "hidden": bool(option.get("hidden", False)),
            "displayOrder": option.get("displayOrder", order),
            **({"description": option["description"]} if option.get("description") else {}),
        }
        for order, option in enumerate(options)
    ]


def _definition(body: dict[str, Any], max_options: int) -> dict[str, Any]:
    """Check a ``PropertyCreate`` body (an enumeration with at most ``max_options`` options) and
    return the property to store."""
    missing = [
        name for name in ("name", "label", "type", "fieldType", "groupName") if not body.get(name)
    ]
    if missing:
        raise validation_error(
            f"Missing required fields: {missing}",
            errors=[{"message": f"{name} is required", "in": name} for name in missing],
        )
    if not PROPERTY_NAME.fullmatch(str(body["name"])):
        raise validation_error(
            f"Property name {body['name']!r} is invalid: a property's name is lowercase letters, "
            "digits and underscores, starting with a letter.",
            context={"name": [str(body["name"])]},
        )
    _check_kind(body)
    return catalog.property_definition(
        body["name"],
        body["label"],
        body["type"],
        body["fieldType"],
        body["groupName"],
        options=_options(body.get("options") or [], body["name"], max_options),
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
    emulator = emulator_of(request)
    definition = _definition(await json_object(request), emulator.settings.max_property_options)
    return emulator.portal.add_property(type_id, definition)


@router.post("/batch/create")
async def batch_create(object_type_name: str, request: Request) -> JSONResponse:
    """Create several properties; those that fail make a 207."""
    type_id = object_type(object_type_name)
    started = now_iso()
    inputs = (await json_object(request)).get("inputs")
    if not isinstance(inputs, list):
        raise validation_error("inputs is required.")
    emulator = emulator_of(request)
    results, errors = [], []
    for entry in inputs:
        try:
            results.append(emulator.portal.add_property(type_id, _definition(entry, emulator.settings.max_property_options)))
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


@router.patch("/{property_name}")
async def update_property(
    object_type_name: str, property_name: str, request: Request
) -> dict[str, Any]:
    """Partially update a property: the fields sent overwrite the stored ones (``options``
    replaces the whole list, as in HubSpot, so a client adding options sends the union)."""
    type_id = object_type(object_type_name)
    body = await json_object(request)
    unknown = sorted(set(body) - UPDATABLE)
    if unknown:
        raise validation_error(f"Unrecognized fields in the property update: {unknown}.")
    emulator = emulator_of(request)
    portal = emulator.portal
    with portal.lock:
        current = portal.property(type_id, property_name)
        if current is None:
            raise not_found(
                f"Property {property_name} does not exist", context={"name": [property_name]}
            )
        if current["modificationMetadata"]["readOnlyDefinition"]:
            raise validation_error(f"Property {property_name} is read only and cannot be updated.")
        changes = dict(body)
        if "options" in changes:
            changes["options"] = _options(changes["options"], property_name, emulator.settings.max_property_options)
        updated = {**current, **changes, "name": property_name}
        _check_kind(updated)
        if updated["groupName"] not in portal.groups[type_id]:
            raise validation_error(
                f"Property group '{updated['groupName']}' does not exist.",
                context={"groupName": [updated["groupName"]]},
            )
        updated["updatedAt"] = now_iso()
        portal.properties[type_id][property_name] = updated
        return updated
