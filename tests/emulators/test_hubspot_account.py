"""The account-info route: which portal a token belongs to, behind auth and rate limits.

``../shared/hubspot-openapi`` has no spec of the account-info API, so the conformance test does
not check this route; the fields checked here are the ones HubSpot's API reference marks required.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from emulators.hubspot import EmulatorSettings
from emulators.hubspot.routes.account import utc_offset
from tests.emulators.conftest import auth

DETAILS = "/account-info/v3/details"
REQUIRED = {
    "portalId", "accountType", "timeZone", "companyCurrency", "additionalCurrencies",
    "dataHostingLocation", "uiDomain", "utcOffset", "utcOffsetMilliseconds",
}


def test_every_token_is_told_the_emulated_portal(hub):
    first = requests.get(hub.url + DETAILS, headers=auth("one-token"))
    second = requests.get(hub.url + DETAILS, headers=auth("another-token"))
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert set(first.json()) == REQUIRED
    assert (first.json()["portalId"], first.json()["accountType"], first.json()["timeZone"]) == (123456, "STANDARD", "US/Eastern")


def test_the_portal_is_configurable(hub):
    hub.emulator.configure(portal_id=987654, account_type="SANDBOX", time_zone="Europe/Berlin")
    body = requests.get(hub.url + DETAILS, headers=auth()).json()
    assert (body["portalId"], body["accountType"], body["timeZone"]) == (987654, "SANDBOX", "Europe/Berlin")
    assert (body["utcOffset"], body["utcOffsetMilliseconds"]) == utc_offset("Europe/Berlin", datetime.now(UTC))
    settings = requests.post(hub.url + "/_emulator/faults", json={"portal_id": 5, "account_type": "DEVELOPER_TEST"}).json()
    assert (settings["portal_id"], settings["account_type"]) == (5, "DEVELOPER_TEST")


def test_utc_offset_is_written_as_hubspot_writes_it():
    winter = datetime(2026, 1, 15, tzinfo=UTC)
    assert utc_offset("US/Eastern", winter) == ("-05:00", -18_000_000)
    assert utc_offset("Asia/Kolkata", winter) == ("+05:30", 19_800_000)


def test_it_needs_a_token_and_counts_against_the_limit(hub):
    assert requests.get(hub.url + DETAILS).status_code == 401
    answer = requests.get(hub.url + DETAILS, headers=auth("counted-token"))
    assert answer.headers["X-HubSpot-RateLimit-Remaining"] == "189"
    assert hub.emulator.request_counts[("GET", DETAILS, 200)] == 1


def test_a_token_without_the_scope_is_refused_403(hub):
    hub.emulator.configure(account_info_allowed=False)
    refused = requests.get(hub.url + DETAILS, headers=auth())
    assert refused.status_code == 403
    assert refused.json()["category"] == "MISSING_SCOPES"


@pytest.mark.parametrize("setting", [{"account_type": "PREMIUM"}, {"time_zone": "Mars/Olympus"}])
def test_an_unknown_account_type_or_time_zone_is_refused(setting):
    with pytest.raises(ValueError):
        EmulatorSettings(**setting)
