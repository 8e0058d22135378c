"""Auth, rate limits and path handling of the emulator, seen by a client."""

from __future__ import annotations

import json

import pytest
import requests
from hubspot import HubSpot
from hubspot.crm.properties import ApiException

from emulators.hubspot import serve_in_background
from tests.emulators.conftest import auth, frozen_clock

PROPERTIES = "/crm/v3/properties/contacts"
RATE_HEADERS = (
    "X-HubSpot-RateLimit-Interval-Milliseconds", "X-HubSpot-RateLimit-Max",
    "X-HubSpot-RateLimit-Remaining", "X-HubSpot-RateLimit-Daily",
    "X-HubSpot-RateLimit-Daily-Remaining",
)


@pytest.mark.parametrize("headers", [{}, {"Authorization": ""}, {"Authorization": "Bearer "}])
def test_missing_token_is_401_with_hubspot_body(hub, headers):
    response = requests.get(hub.url + PROPERTIES, headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
    assert body["correlationId"]


def test_allowed_tokens_reject_others():
    with serve_in_background(allowed_tokens={"good"}) as hub:
        assert requests.get(hub.url + PROPERTIES, headers=auth("good")).status_code == 200
        bad = requests.get(hub.url + PROPERTIES, headers=auth("wrong-secret"))
        assert bad.status_code == 401
        assert "wrong-secret" not in bad.text
        with pytest.raises(ApiException) as raised:
            HubSpot(access_token="wrong-secret", host=hub.url).crm.properties.core_api.get_all("contacts")
        assert raised.value.status == 401


def test_every_answer_carries_rate_limit_headers(hub):
    response = requests.get(hub.url + PROPERTIES, headers=auth("headers-token"))
    assert all(name in response.headers for name in RATE_HEADERS)
    assert response.headers["X-HubSpot-RateLimit-Max"] == "190"
    assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert response.headers["X-HubSpot-RateLimit-Remaining"] == "189"
    missing = requests.get(hub.url + "/crm/v3/objects/contacts/1", headers=auth("headers-token"))
    assert missing.status_code == 404
    assert missing.headers["X-HubSpot-RateLimit-Remaining"] == "188"


@pytest.mark.parametrize("settings, burst, daily", [
    ({"tier": "free"}, "100", "250000"),
    ({"tier": "starter"}, "100", "250000"),
    ({"tier": "professional"}, "190", "625000"),
    ({"tier": "enterprise"}, "190", "1000000"),
    ({"tier": "api-add-on"}, "250", "1625000"),
    ({"tier": "starter", "daily_limit": 5000, "ten_second_limit": 7}, "7", "5000"),
])
def test_limits_follow_the_tier_unless_overridden(hub, settings, burst, daily):
    hub.emulator.configure(**settings)
    response = requests.get(hub.url + PROPERTIES, headers=auth())
    assert response.headers["X-HubSpot-RateLimit-Max"] == burst
    assert response.headers["X-HubSpot-RateLimit-Daily"] == daily


def test_burst_over_the_tier_limit_is_429_with_the_exact_body():
    with serve_in_background(tier="starter") as hub:
        frozen_clock(hub)
        session = requests.Session()
        answers = [session.get(hub.url + PROPERTIES, headers=auth("burst")) for _ in range(101)]
        assert [a.status_code for a in answers[:100]] == [200] * 100
        limited = answers[100]
        assert limited.status_code == 429
        body = limited.json()
        assert set(body) == {"status", "message", "errorType", "correlationId", "policyName", "requestId"}
        assert body["status"] == "error"
        assert body["message"] == "You have reached your ten_secondly_rolling limit."
        assert body["errorType"] == "RATE_LIMIT"
        assert body["policyName"] == "TEN_SECONDLY_ROLLING"
        assert limited.headers["X-HubSpot-RateLimit-Max"] == "100"
        assert limited.headers["X-HubSpot-RateLimit-Remaining"] == "0"
        # The burst is per token: another app is unaffected.
        assert session.get(hub.url + PROPERTIES, headers=auth("other")).status_code == 200


def test_daily_quota_is_429_daily():
    with serve_in_background(daily_limit=3) as hub:
        codes = [requests.get(hub.url + PROPERTIES, headers=auth()).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        body = requests.get(hub.url + PROPERTIES, headers=auth()).json()
        assert body["policyName"] == "DAILY"
        assert body["message"] == "You have reached your daily limit."


def test_trailing_slashes_are_accepted(hub):
    assert requests.get(hub.url + PROPERTIES + "/", headers=auth()).status_code == 200
    created = requests.post(hub.url + "/crm/v3/lists/", headers=auth(), json={
        "name": "slash", "objectTypeId": "0-1", "processingType": "MANUAL"})
    assert created.status_code == 200
    assert json.loads(created.text)["list"]["name"] == "slash"


def test_requests_are_counted_by_endpoint_and_status(hub):
    requests.get(hub.url + PROPERTIES, headers=auth())
    requests.get(hub.url + "/crm/v3/objects/contacts/1", headers=auth())
    counts = {
        (row["route"], row["status"]): row["count"]
        for row in requests.get(hub.url + "/_emulator/state").json()["requests"]
    }
    assert counts[("/crm/v3/properties/{object_type_name}", 200)] == 1
    assert counts[("/crm/v3/objects/{object_type_name}/{object_id}", 404)] == 1


def test_state_file_keeps_the_portal_between_restarts(tmp_path):
    state = tmp_path / "portal.pickle"
    with serve_in_background(state_file=str(state)) as hub:
        requests.post(hub.url + "/crm/v3/objects/contacts", headers=auth(),
                      json={"properties": {"email": "kept@x.com"}}).raise_for_status()
        requests.post(hub.url + "/communication-preferences/v4/statuses/gone@x.com/unsubscribe-all",
                      params={"channel": "EMAIL"}, headers=auth()).raise_for_status()
    with serve_in_background(state_file=str(state)) as hub:
        kept = requests.get(hub.url + "/crm/v3/objects/contacts/kept@x.com",
                            params={"idProperty": "email"}, headers=auth())
        assert kept.status_code == 200
        wide = requests.get(hub.url + "/communication-preferences/v4/statuses/gone@x.com/unsubscribe-all",
                            params={"channel": "EMAIL"}, headers=auth()).json()
        assert wide["results"][0]["status"] == "UNSUBSCRIBED"
        created = requests.post(hub.url + "/crm/v3/objects/contacts", headers=auth(),
                                json={"properties": {"email": "new@x.com"}}).json()
        assert int(created["id"]) > int(kept.json()["id"])
        assert requests.post(hub.url + "/_emulator/save").status_code == 200
