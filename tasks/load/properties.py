"""Custom contact properties and their group, created before anything is written."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.errors import LoadError
from tasks.load import settings
from tasks.load.batches import chunked
from tasks.load.client import HubSpotPortal
from tasks.load.log import get_logger
from tasks.load.plan import LoadPlan
from tasks.load.retry import HttpError, describe

_PROPERTIES_PATH = f"/crm/v3/properties/{settings.CONTACT_OBJECT_TYPE}"


def existing_properties(portal: HubSpotPortal) -> dict[str, Any]:
    """The portal's contact properties by name (one read of the Properties API).

    Args:
        portal: The portal to read.
    """
    response = portal.call(
        portal.sdk.crm.properties.core_api.get_all_with_http_info,
        settings.CONTACT_OBJECT_TYPE,
        what=f"GET {_PROPERTIES_PATH}",
    )
    return {prop.name: prop for prop in response.results}


def _ensure_group(portal: HubSpotPortal, group: dict[str, Any]) -> bool:
    """Create the property group unless it exists; True when this call created it."""
    groups_api = portal.sdk.crm.properties.groups_api
    existing = portal.call(
        groups_api.get_all_with_http_info, settings.CONTACT_OBJECT_TYPE, what=f"GET {_PROPERTIES_PATH}/groups"
    )
    if any(existing_group.name == group["name"] for existing_group in existing.results):
        return False
    try:
        portal.call(
            groups_api.create_with_http_info,
            settings.CONTACT_OBJECT_TYPE,
            {"name": group["name"], "label": group.get("label") or group["name"]},
            what=f"POST {_PROPERTIES_PATH}/groups",
        )
    except HttpError as error:
        # 409: another run created it between the read and the create, which is what we want.
        if error.status == 409:
            return False
        raise LoadError(f"cannot create the property group {group['name']!r}: {describe(error)}") from error
    return True


def _create_properties(portal: HubSpotPortal, properties: list[dict[str, Any]]) -> list[str]:
    """Batch-create properties; returns HubSpot's messages for whatever it refused."""
    problems: list[str] = []
    for batch in chunked(properties, settings.PROPERTY_BATCH_SIZE):
        try:
            # The plan's dicts are the API's JSON bodies already; the SDK serialises dicts as
            # they are, so nothing in them (options, hasUniqueValue, ...) is lost to a model.
            response = portal.call(
                portal.sdk.crm.properties.batch_api.create_with_http_info,
                settings.CONTACT_OBJECT_TYPE,
                {"inputs": batch},
                what=f"POST {_PROPERTIES_PATH}/batch/create",
            )
        except HttpError as error:
            # 409 (some already exist) and per-batch 4xx alike: the re-read decides what is missing.
            problems.append(describe(error))
            continue
        problems.extend(str(getattr(err, "message", err)) for err in (getattr(response, "errors", None) or []))
    return problems


def _option_body(option: Any) -> dict[str, Any]:
    """An existing ``Option`` as the ``OptionInput`` a PATCH sends back (so it is kept as it is)."""
    body = {"label": option.label, "value": option.value, "hidden": bool(option.hidden), "displayOrder": option.display_order}
    return body | ({"description": option.description} if option.description else {})


def _add_options(portal: HubSpotPortal, prop: dict[str, Any], current: Any) -> list[str]:
    """Add the planned options an existing enumeration property lacks, before anything is written.

    HubSpot's PATCH replaces the whole ``options`` list, so the union is sent: every existing
    option untouched, then the missing ones ordered after them. Options are never removed (the
    portal's other records may use them).

    Returns:
        The values added (none: no request was sent).

    Raises:
        LoadError: HubSpot refused the update: the import would then refuse those values.
    """
    existing = list(current.options or [])
    have = {option.value for option in existing}
    missing = [option for option in prop["options"] if option["value"] not in have]
    if not missing:
        return []
    start = max((option.display_order or 0 for option in existing), default=-1) + 1
    options = [_option_body(option) for option in existing] + [
        {**option, "displayOrder": start + offset} for offset, option in enumerate(missing)
    ]
    try:
        portal.call(
            portal.sdk.crm.properties.core_api.update_with_http_info,
            settings.CONTACT_OBJECT_TYPE,
            prop["name"],
            {"options": options},
            what=f"PATCH {_PROPERTIES_PATH}/{prop['name']}",
        )
    except HttpError as error:
        raise LoadError(f"cannot add options to the HubSpot property {prop['name']!r}: {describe(error)}") from error
    return [option["value"] for option in missing]


def ensure_properties(portal: HubSpotPortal, plan: LoadPlan) -> dict[str, Any]:
    """Make sure the plan's property group and custom contact properties exist in the portal.

    Reads what exists, creates only what is missing (a 409 counts as existing), then reads again
    to confirm. An existing property of another type is left alone and reported: HubSpot does
    not allow changing it, and the values will be checked by the import. An existing
    enumeration gets the planned options it lacks (:func:`_add_options`).

    Args:
        portal: The portal.
        plan: The plan naming the group and properties.

    Returns:
        ``{"group": {"name", "created"} | None, "created": [names], "existing": [names],
        "type_mismatches": [{"name", "planned", "existing"}], "options_added": {name: [values]}}``.

    Raises:
        LoadError: A property or the group could not be created: importing into a property that
            does not exist would lose that column for every row.
    """
    logger = get_logger()
    group = plan.property_group
    report: dict[str, Any] = {
        "group": {"name": group["name"], "created": _ensure_group(portal, group)} if group else None,
        "created": [],
        "existing": [],
        "type_mismatches": [],
        "options_added": {},
    }
    # A run over several source formats has a group per format; the first is reported above.
    for other in plan.property_groups[1:]:
        _ensure_group(portal, other)
    planned = plan.properties
    if not planned:
        return report
    existing = existing_properties(portal)
    missing = [prop for prop in planned if prop["name"] not in existing]
    for prop in planned:
        current = existing.get(prop["name"])
        if current is None:
            continue
        report["existing"].append(prop["name"])
        if current.type != prop.get("type"):
            report["type_mismatches"].append({"name": prop["name"], "planned": prop.get("type"), "existing": current.type})
            logger.warning("property %s exists as %s, plan says %s", prop["name"], current.type, prop.get("type"))
        elif prop.get("options"):
            added = _add_options(portal, prop, current)
            if added:
                report["options_added"][prop["name"]] = added
    if missing:
        problems = _create_properties(portal, missing)
        now = existing_properties(portal)
        still_missing = [prop["name"] for prop in missing if prop["name"] not in now]
        if still_missing:
            raise LoadError(
                f"cannot create HubSpot properties {', '.join(still_missing)}: {'; '.join(problems) or 'no reason given'}"
            )
        report["created"] = [prop["name"] for prop in missing]
    logger.info(
        "properties: %d created, %d already there%s",
        len(report["created"]),
        len(report["existing"]),
        f", group {group['name']} created" if report["group"] and report["group"]["created"] else "",
    )
    return report


ensure_properties_task = task(
    ensure_properties,
    name="hubspot-ensure-properties",
    task_run_name="ensure HubSpot properties",
    # call_with_retries already retries what is worth retrying; the portal holds a live
    # session and a token, which must not be hashed into a cache key.
    retries=0,
    cache_policy=NO_CACHE,
)
