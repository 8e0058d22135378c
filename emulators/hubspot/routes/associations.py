"""CRM associations v4 routes: default (unlabeled) contact↔company associations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from emulators.hubspot import catalog
from emulators.hubspot.errors import HubSpotError, standard_error, validation_error
from emulators.hubspot.routes.common import action_body, emulator_of, json_object, object_type
from emulators.hubspot.state import Portal, now_iso

router = APIRouter(prefix="/crm/v4")

# HubSpot's unlabeled default association type between two object types.
DEFAULT_TYPE_IDS = {pair: default for pair, (_, default) in catalog.ASSOCIATION_TYPE_IDS.items()}


def _types(from_name: str, to_name: str) -> tuple[str, str]:
    pair = object_type(from_name), object_type(to_name)
    if pair not in DEFAULT_TYPE_IDS:
        raise validation_error(f"No association is defined from {from_name} to {to_name}.")
    return pair


def _associate(portal: Portal, pair: tuple[str, str], from_id: str, to_id: str) -> dict[str, Any]:
    """Associate two records by default and return the ``PublicDefaultAssociation``."""
    from_type, to_type = pair
    with portal.lock:
        missing = [
            object_id for type_id, object_id in ((from_type, from_id), (to_type, to_id))
            if portal.get(type_id, object_id) is None
        ]
        if missing:
            raise validation_error(f"Records {missing} do not exist.", context={"ids": missing})
        portal.associate(from_type, from_id, to_type, to_id)
    return {
        "from": {"id": str(from_id)},
        "to": {"id": str(to_id)},
        "associationSpec": {
            "associationCategory": "HUBSPOT_DEFINED",
            "associationTypeId": DEFAULT_TYPE_IDS[pair],
        },
    }


def _associated(portal: Portal, pair: tuple[str, str], object_id: str) -> list[dict[str, Any]]:
    from_type, to_type = pair
    return [
        {
            "toObjectId": to_id,
            "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": DEFAULT_TYPE_IDS[pair]}
            ],
        }
        for to_id in portal.associated(from_type, object_id, to_type)
    ]


@router.put("/objects/{from_name}/{from_id}/associations/default/{to_name}/{to_id}")
async def associate_default(
    from_name: str, from_id: str, to_name: str, to_id: str, request: Request
) -> dict[str, Any]:
    """Associate two records with the default association."""
    result = _associate(emulator_of(request).portal, _types(from_name, to_name), from_id, to_id)
    return action_body([result], now_iso())


@router.get("/objects/{from_name}/{object_id}/associations/{to_name}")
async def list_associations(
    from_name: str, object_id: str, to_name: str, request: Request
) -> dict[str, Any]:
    """List the records of a type associated with a record."""
    portal = emulator_of(request).portal
    return {"results": _associated(portal, _types(from_name, to_name), object_id)}


@router.post("/associations/{from_name}/{to_name}/batch/associate/default")
async def batch_associate_default(from_name: str, to_name: str, request: Request) -> dict[str, Any]:
    """Associate many record pairs with the default association."""
    pair = _types(from_name, to_name)
    started = now_iso()
    portal = emulator_of(request).portal
    results, errors = [], []
    for entry in (await json_object(request)).get("inputs") or []:
        from_id = str((entry.get("from") or {}).get("id", ""))
        to_id = str((entry.get("to") or {}).get("id", ""))
        try:
            results.append(_associate(portal, pair, from_id, to_id))
        except HubSpotError as error:
            errors.append(standard_error(error.message, error.category, context=error.context))
    return action_body(results, started, errors)


@router.post("/associations/{from_name}/{to_name}/batch/read")
async def batch_read(from_name: str, to_name: str, request: Request) -> dict[str, Any]:
    """Read the associations of many records."""
    pair = _types(from_name, to_name)
    started = now_iso()
    portal = emulator_of(request).portal
    results = []
    for entry in (await json_object(request)).get("inputs") or []:
        object_id = str(entry.get("id", ""))
        results.append({"from": {"id": object_id}, "to": _associated(portal, pair, object_id)})
    return action_body(results, started)
