"""CRM associations v4 routes: default (unlabeled) contact↔company associations, and the
association limits a portal's admin configures (``/crm/associations/v4/definitions/configurations``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from emulators.hubspot import catalog
from emulators.hubspot.errors import HubSpotError, standard_error, validation_error
from emulators.hubspot.routes.common import action_body, emulator_of, json_object, object_type
from emulators.hubspot.state import Portal, now_iso

router = APIRouter(prefix="/crm")

# HubSpot's unlabeled default association type between two object types.
DEFAULT_TYPE_IDS = {pair: default for pair, (_, default) in catalog.ASSOCIATION_TYPE_IDS.items()}


def _types(from_name: str, to_name: str) -> tuple[str, str]:
    pair = object_type(from_name), object_type(to_name)
    if pair not in DEFAULT_TYPE_IDS:
        raise validation_error(f"No association is defined from {from_name} to {to_name}.")
    return pair


def _over_limit(portal: Portal, pair: tuple[str, str], from_id: str, to_id: str) -> HubSpotError | None:
    """The refusal of a new association that would take either record past the portal's limit
    on its side (``association_limits``), else None. An association the records already have
    is no new one: associating them again is accepted, as HubSpot accepts it."""
    from_type, to_type = pair
    if to_id in portal.associated(from_type, from_id, to_type):
        return None
    for (record_type, record_id), other_type in (((from_type, from_id), to_type), ((to_type, to_id), from_type)):
        limit = portal.association_limits.get((record_type, other_type))
        if limit is not None and len(portal.associated(record_type, record_id, other_type)) >= limit:
            return validation_error(
                f"Record {record_id} of type {record_type} already has {limit} associated record(s) of type {other_type}, "
                "the limit configured for this association type.",
                context={"fromObjectId": [from_id], "toObjectId": [to_id]},
            )
    return None


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
        refusal = _over_limit(portal, pair, from_id, to_id)
        if refusal is not None:
            raise refusal
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


@router.put("/v4/objects/{from_name}/{from_id}/associations/default/{to_name}/{to_id}")
async def associate_default(
    from_name: str, from_id: str, to_name: str, to_id: str, request: Request
) -> dict[str, Any]:
    """Associate two records with the default association."""
    result = _associate(emulator_of(request).portal, _types(from_name, to_name), from_id, to_id)
    return action_body([result], now_iso())


@router.get("/v4/objects/{from_name}/{object_id}/associations/{to_name}")
async def list_associations(
    from_name: str, object_id: str, to_name: str, request: Request
) -> dict[str, Any]:
    """List the records of a type associated with a record."""
    portal = emulator_of(request).portal
    return {"results": _associated(portal, _types(from_name, to_name), object_id)}


@router.post("/v4/associations/{from_name}/{to_name}/batch/associate/default")
async def batch_associate_default(from_name: str, to_name: str, request: Request) -> dict[str, Any]:
    """Associate many record pairs with the default association; those refused are the answer's
    ``errors`` (200 all the same: the spec names no 207 for this operation)."""
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


@router.post("/v4/associations/{from_name}/{to_name}/batch/read")
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


@router.post("/associations/v4/definitions/configurations/{from_name}/{to_name}/batch/create")
async def configure_limits(from_name: str, to_name: str, request: Request) -> dict[str, Any]:
    """Configure association limits (``{"inputs": [{"category", "typeId", "maxToObjectIds"}]}``):
    a record of the first type may then be associated with at most ``maxToObjectIds`` records of
    the second. Only the default (unlabeled) type is modelled."""
    pair = _types(from_name, to_name)
    started = now_iso()
    portal = emulator_of(request).portal
    results = []
    for entry in (await json_object(request)).get("inputs") or []:
        type_id, limit = entry.get("typeId"), entry.get("maxToObjectIds")
        if type_id != DEFAULT_TYPE_IDS[pair]:
            raise validation_error(f"Association type {type_id} is not the default type from {from_name} to {to_name}.")
        if not isinstance(limit, int) or limit < 1:
            raise validation_error(f"maxToObjectIds must be a positive integer, not {limit!r}.")
        with portal.lock:
            portal.association_limits[pair] = limit
        results.append({"category": entry.get("category", "HUBSPOT_DEFINED"), "typeId": type_id, "label": None,
                        "userEnforcedMaxToObjectIds": limit})
    return action_body(results, started)
