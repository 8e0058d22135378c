"""Communication preferences routes: v4 statuses and ``unsubscribe-all``, v3 status and (un)subscribe.

An opt-out ("unsubscribed from all email") belongs to the lowercased address, may exist before any
contact does, and no endpoint removes it: a resubscribe of an opted-out address is refused.
Batch endpoints answer 403 ``MISSING_SCOPES`` when the portal lacks Marketing Hub Enterprise
(``batch_comm_prefs_allowed=False``): the app's gate refuses them, as every scope (``scopes.py``).
An ``unsubscribe-all`` naming an address of ``refused_opt_outs`` is answered 400 (a batch whole).
A batch status read lists its malformed addresses in ``errors``, or, with
``whole_batch_status_reads``, is answered 400 whole for one of them, as HubSpot might.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from emulators.hubspot.errors import HubSpotError, standard_error, validation_error
from emulators.hubspot.routes.common import action_body, emulator_of, json_object, query_bool
from emulators.hubspot.state import SUBSCRIPTIONS, Portal, now_iso
from emulators.hubspot.values import ValueProblem, normalise_email

router = APIRouter(prefix="/communication-preferences")

_V4 = "/v4/statuses"
_SUBSCRIPTION_IDS = {subscription_id for subscription_id, _, _ in SUBSCRIPTIONS}


def _email(raw: str) -> str:
    try:
        return normalise_email(raw)
    except ValueProblem:
        raise validation_error(f"Invalid email address: {raw}", sub_category="INVALID_EMAIL") from None


def _channel(request: Request) -> None:
    channel = request.query_params.get("channel")
    if channel != "EMAIL":
        raise validation_error(
            f"channel is required and must be EMAIL, got {channel!r}.",
            errors=[{"message": "channel must be EMAIL", "in": "channel"}],
        )


async def _batch_emails(request: Request) -> tuple[list[str], list[str]]:
    """Return the valid (lowercased, deduplicated) and the invalid addresses of a batch body."""
    inputs = (await json_object(request)).get("inputs")
    if not isinstance(inputs, list):
        raise validation_error("inputs is required.")
    valid, invalid = {}, []
    for raw in inputs:
        try:
            valid[normalise_email(str(raw))] = None
        except ValueProblem:
            invalid.append(str(raw))
    return list(valid), invalid


def _invalid_errors(invalid: list[str]) -> list[dict[str, Any]]:
    if not invalid:
        return []
    return [standard_error("Invalid email addresses.", "VALIDATION_ERROR", context={"emails": invalid})]


def _status(portal: Portal, email: str, subscription_id: int, reason: str | None = None) -> dict[str, Any]:
    """Return one subscription's status in the ``PublicStatus`` shape."""
    state, stamp = portal.subscription_status(email, subscription_id)
    name = next(name for sid, name, _ in SUBSCRIPTIONS if sid == subscription_id)
    status: dict[str, Any] = {
        "subscriberIdString": email,
        "subscriptionId": subscription_id,
        "subscriptionName": name,
        "channel": "EMAIL",
        "status": state,
        "source": "Public status API",
        "timestamp": stamp or now_iso(),
        "businessUnitId": 0,
    }
    if reason:
        status["setStatusSuccessReason"] = reason
    return status


def _statuses(portal: Portal, email: str, reason: str | None = None) -> list[dict[str, Any]]:
    return [_status(portal, email, subscription_id, reason) for subscription_id, _, _ in SUBSCRIPTIONS]


def _wide_statuses(portal: Portal, email: str) -> list[dict[str, Any]]:
    """Return an address's portal-wide statuses (``[]`` when it has not opted out)."""
    stamp = portal.opt_outs.get(email)
    if stamp is None:
        return []
    return [
        {
            "subscriberIdString": email,
            "wideStatusType": "PORTAL_WIDE",
            "status": "UNSUBSCRIBED",
            "channel": "EMAIL",
            "timestamp": stamp,
            "businessUnitId": 0,
        }
    ]


def _refuse_opt_outs(request: Request, emails: list[str]) -> None:
    """Answer 400 when the settings refuse the opt-out of one of ``emails`` (``refused_opt_outs``)."""
    refused = sorted(set(emails) & set(emulator_of(request).settings.refused_opt_outs))
    if refused:
        raise validation_error(f"Unsubscribe refused for {', '.join(refused)}.", context={"subscriberIdString": refused})


def _unsubscribe_all(portal: Portal, email: str) -> list[dict[str, Any]]:
    with portal.lock:
        changed = portal.opt_out(email)
        reason = "UNSUBSCRIBE_FROM_ALL_OCCURRED" if changed else "NO_STATUS_CHANGE"
        return _statuses(portal, email, reason)


# ---- v4 batch endpoints (registered before the {email} routes, which would match them) --------


@router.post(_V4 + "/batch/unsubscribe-all")
async def batch_unsubscribe_all(request: Request):
    """Unsubscribe many addresses from all email (empty body unless ``verbose=true``)."""
    _channel(request)
    started = now_iso()
    emails, invalid = await _batch_emails(request)
    _refuse_opt_outs(request, emails)
    portal = emulator_of(request).portal
    results = [
        {"subscriberIdString": email, "statuses": _unsubscribe_all(portal, email)} for email in emails
    ]
    if not query_bool(request, "verbose"):
        return Response(status_code=200)
    return action_body(results, started, _invalid_errors(invalid))


async def _batch_lookup(request: Request, key: str, lookup) -> dict[str, Any]:
    """Answer a batch read: ``{subscriberIdString, <key>: lookup(portal, email)}`` per address
    (400 for the whole batch when it names a malformed address and ``whole_batch_status_reads``)."""
    _channel(request)
    started = now_iso()
    emails, invalid = await _batch_emails(request)
    emulator = emulator_of(request)
    if invalid and emulator.settings.whole_batch_status_reads:
        raise validation_error(
            f"Invalid email addresses: {', '.join(invalid)}", sub_category="INVALID_EMAIL", context={"emails": invalid}
        )
    portal = emulator.portal
    with portal.lock:
        results = [{"subscriberIdString": email, key: lookup(portal, email)} for email in emails]
    return action_body(results, started, _invalid_errors(invalid))


@router.post(_V4 + "/batch/unsubscribe-all/read")
async def batch_unsubscribe_all_read(request: Request) -> dict[str, Any]:
    """Read many addresses' portal-wide (opt-out) statuses."""
    return await _batch_lookup(request, "wideStatuses", _wide_statuses)


@router.post(_V4 + "/batch/read")
async def batch_read(request: Request) -> dict[str, Any]:
    """Read many addresses' subscription statuses."""
    return await _batch_lookup(request, "statuses", _statuses)


@router.post(_V4 + "/batch/write")
async def batch_write(request: Request) -> dict[str, Any]:
    """Set many subscription statuses (``PublicStatusRequest`` inputs)."""
    started = now_iso()
    inputs = (await json_object(request)).get("inputs")
    if not isinstance(inputs, list):
        raise validation_error("inputs is required.")
    portal = emulator_of(request).portal
    results, errors = [], []
    for entry in inputs:
        try:
            email = _email(str(entry.get("subscriberIdString", "")))
            results.append(_write_status(portal, email, entry))
        except HubSpotError as error:
            errors.append(standard_error(error.message, error.category, context=error.context))
    return action_body(results, started, errors)


# ---- v4 single-address endpoints ---------------------------------------------------------------


def _write_status(portal: Portal, email: str, body: dict[str, Any]) -> dict[str, Any]:
    """Apply one ``PartialPublicStatusRequest`` and return the resulting ``PublicStatus``."""
    state = body.get("statusState")
    if state not in ("SUBSCRIBED", "UNSUBSCRIBED", "NOT_SPECIFIED"):
        raise validation_error(f"Invalid statusState {state!r}.")
    try:
        subscription_id = int(body.get("subscriptionId"))
    except (TypeError, ValueError):
        raise validation_error("subscriptionId is required.") from None
    if subscription_id not in _SUBSCRIPTION_IDS:
        raise validation_error(f"Subscription {subscription_id} does not exist.")
    with portal.lock:
        if state != "UNSUBSCRIBED" and email in portal.opt_outs:
            raise validation_error(
                f"{email} is unsubscribed from all email; the API cannot resubscribe it.",
                sub_category="CANNOT_RESUBSCRIBE_OPTED_OUT_CONTACT",
                context={"subscriberIdString": [email]},
            )
        changed = portal.set_subscription(email, subscription_id, state)
        reason = "REQUESTED_CHANGE_OCCURRED" if changed else "NO_STATUS_CHANGE"
        return _status(portal, email, subscription_id, reason)


@router.get(_V4 + "/{subscriber}/unsubscribe-all")
async def read_unsubscribe_all(subscriber: str, request: Request) -> dict[str, Any]:
    """Read an address's portal-wide status (empty ``results`` when not opted out)."""
    _channel(request)
    started = now_iso()
    portal = emulator_of(request).portal
    with portal.lock:
        return action_body(_wide_statuses(portal, _email(subscriber)), started)


@router.post(_V4 + "/{subscriber}/unsubscribe-all")
async def unsubscribe_all(subscriber: str, request: Request) -> dict[str, Any]:
    """Unsubscribe one address from all email."""
    _channel(request)
    started = now_iso()
    email = _email(subscriber)
    _refuse_opt_outs(request, [email])
    return action_body(_unsubscribe_all(emulator_of(request).portal, email), started)


@router.get(_V4 + "/{subscriber}")
async def read_statuses(subscriber: str, request: Request) -> dict[str, Any]:
    """Read one address's subscription statuses."""
    _channel(request)
    started = now_iso()
    portal = emulator_of(request).portal
    with portal.lock:
        return action_body(_statuses(portal, _email(subscriber)), started)


@router.post(_V4 + "/{subscriber}")
async def write_status(subscriber: str, request: Request) -> dict[str, Any]:
    """Set one subscription's status for one address."""
    started = now_iso()
    body = await json_object(request)
    status = _write_status(emulator_of(request).portal, _email(subscriber), body)
    return action_body([status], started)


@router.get("/v4/definitions")
async def definitions_v4(request: Request) -> dict[str, Any]:
    """List the portal's subscription types."""
    return action_body(_definitions(), now_iso())


# ---- v3 -----------------------------------------------------------------------------------------


def _definitions() -> list[dict[str, Any]]:
    stamp = "2020-01-01T00:00:00.000Z"
    return [
        {
            "id": str(subscription_id),
            "name": name,
            "description": description,
            "isActive": True,
            "isDefault": True,
            "isInternal": False,
            "purpose": "Marketing",
            "communicationMethod": "Email",
            "businessUnitId": 0,
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        for subscription_id, name, description in SUBSCRIPTIONS
    ]


def _v3_statuses(portal: Portal, email: str) -> dict[str, Any]:
    opted_out = email in portal.opt_outs
    statuses = []
    for subscription_id, name, description in SUBSCRIPTIONS:
        state, _ = portal.subscription_status(email, subscription_id)
        statuses.append(
            {
                "id": str(subscription_id),
                "name": name,
                "description": description,
                "status": "SUBSCRIBED" if state == "SUBSCRIBED" else "NOT_SUBSCRIBED",
                "sourceOfStatus": "PORTAL_WIDE_STATUS" if opted_out else "SUBSCRIPTION_STATUS",
            }
        )
    return {"recipient": email, "subscriptionStatuses": statuses}


@router.get("/v3/definitions")
async def definitions_v3(request: Request) -> dict[str, Any]:
    """List the portal's subscription types (v3 shape)."""
    return {"subscriptionDefinitions": _definitions()}


@router.get("/v3/status/email/{email_address}")
async def status_v3(email_address: str, request: Request) -> dict[str, Any]:
    """Read one address's subscription statuses (v3 shape)."""
    portal = emulator_of(request).portal
    with portal.lock:
        return _v3_statuses(portal, _email(email_address))


async def _v3_write(request: Request, state: str) -> dict[str, Any]:
    body = await json_object(request)
    email = _email(str(body.get("emailAddress", "")))
    portal = emulator_of(request).portal
    _write_status(portal, email, {"subscriptionId": body.get("subscriptionId"), "statusState": state})
    with portal.lock:
        wanted = str(body.get("subscriptionId"))
        return next(
            status for status in _v3_statuses(portal, email)["subscriptionStatuses"]
            if status["id"] == wanted
        )


@router.post("/v3/subscribe")
async def subscribe_v3(request: Request) -> dict[str, Any]:
    """Subscribe an address to one subscription type (refused when it opted out of all email)."""
    return await _v3_write(request, "SUBSCRIBED")


@router.post("/v3/unsubscribe")
async def unsubscribe_v3(request: Request) -> dict[str, Any]:
    """Unsubscribe an address from one subscription type."""
    return await _v3_write(request, "UNSUBSCRIBED")
