"""Account information v3: which portal a token belongs to (``GET /account-info/v3/details``).

The emulator is one portal, so every token it accepts belongs to it: the answer is the portal's
settings (``portal_id``, ``account_type``, ``time_zone``) and fixed currency, hosting and UI
values. HubSpot asks only for the ``oauth`` scope, which every token has; with
``account_info_allowed=False`` the app's gate (``scopes.py``) answers 403 ``MISSING_SCOPES`` as
HubSpot would a token without it. ``../shared/hubspot-openapi`` holds no spec of this API: the
shape is that of HubSpot's API reference ("Retrieve account details", every field required).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request

from emulators.hubspot.routes.common import emulator_of

router = APIRouter(prefix="/account-info")


def utc_offset(time_zone: str, at: datetime) -> tuple[str, int]:
    """The zone's offset from UTC at ``at``, as HubSpot writes it (``-05:00``) and in milliseconds."""
    milliseconds = int(at.astimezone(ZoneInfo(time_zone)).utcoffset().total_seconds() * 1000)
    minutes = abs(milliseconds) // 60_000
    sign = "-" if milliseconds < 0 else "+"
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}", milliseconds


@router.get("/v3/details")
async def details(request: Request) -> dict[str, Any]:
    """The portal's account details."""
    settings = emulator_of(request).settings
    offset, offset_milliseconds = utc_offset(settings.time_zone, datetime.now(UTC))
    return {
        "portalId": settings.portal_id,
        "accountType": settings.account_type,
        "timeZone": settings.time_zone,
        "companyCurrency": "USD",
        "additionalCurrencies": [],
        "dataHostingLocation": "na1",
        "uiDomain": "app.hubspot.com",
        "utcOffset": offset,
        "utcOffsetMilliseconds": offset_milliseconds,
    }
