"""The Mailchimp and Constant Contact emulators answer as the real APIs do: auth, paging,
filters, limits and their error bodies."""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from emulators.constant_contact import serve_in_background as constant_contact
from emulators.mailchimp import serve_in_background as mailchimp

LIST = "a1b2c3d4e5"


@pytest.fixture(scope="module")
def chimp():
    with mailchimp(members=120) as server:
        yield server


def _members(server, **params) -> httpx.Response:
    return httpx.get(f"{server.api_url}/lists/{LIST}/members", params=params, auth=("anything", server.settings.api_key))


def test_mailchimp_takes_the_key_as_basic_password_or_bearer(chimp):
    bearer = httpx.get(f"{chimp.api_url}/lists/{LIST}/members", headers={"Authorization": f"Bearer {chimp.settings.api_key}"})
    wrong = httpx.get(f"{chimp.api_url}/lists/{LIST}/members", auth=("anything", "nope-us6"))
    assert _members(chimp).status_code == bearer.status_code == 200
    assert wrong.status_code == 401
    assert wrong.json()["title"] == "API Key Invalid"


def test_mailchimp_members_look_like_real_responses(chimp):
    body = _members(chimp, count=1000).json()
    assert body["total_items"] == len(body["members"]) == 120
    member = body["members"][0]
    assert set(member["merge_fields"]) == {"FNAME", "LNAME", "ADDRESS", "PHONE", "BIRTHDAY", "COMPANY"}
    assert member["merge_fields"]["COMPANY"] == ""
    addresses = [m["merge_fields"]["ADDRESS"] for m in body["members"]]
    assert "" in addresses and any(isinstance(a, dict) and a["addr1"] for a in addresses)
    assert datetime.fromisoformat(member["last_changed"]).utcoffset() == timedelta(0)
    assert {"email_address", "status", "tags", "member_rating", "unique_email_id", "web_id", "location"} <= set(member)


def test_mailchimp_pages_filters_and_projects(chimp):
    assert _members(chimp).json()["members"].__len__() == 10  # count defaults to 10
    assert _members(chimp, count=1001).status_code == 400
    cleaned = _members(chimp, count=1000, status="cleaned").json()
    assert cleaned["total_items"] == chimp.emulator.audience.truth()["cleaned"]
    assert {m["status"] for m in cleaned["members"]} == {"cleaned"}
    pages = [_members(chimp, count=50, offset=offset).json()["members"] for offset in (0, 50, 100)]
    emails = [m["email_address"] for page in pages for m in page]
    assert len(emails) == len(set(emails)) == 120
    only = _members(chimp, count=2, fields="members.email_address,total_items").json()
    assert only == {"members": [{"email_address": emails[0]}, {"email_address": emails[1]}], "total_items": 120}
    slim = _members(chimp, count=1, exclude_fields="members.location.latitude").json()["members"][0]
    assert "latitude" not in slim["location"] and "longitude" in slim["location"]
    assert "latitude" in _members(chimp, count=1).json()["members"][0]["location"]


def test_mailchimp_since_last_changed(chimp):
    latest = max(datetime.fromisoformat(m["last_changed"]) for m in chimp.emulator.audience.members)
    assert _members(chimp, since_last_changed=latest.isoformat()).json()["total_items"] == 0
    before = (latest - timedelta(seconds=1)).isoformat()
    assert _members(chimp, since_last_changed=before).json()["total_items"] >= 1


def test_mailchimp_refuses_an_eleventh_simultaneous_connection():
    with mailchimp(members=5, response_delay=1.0) as server:
        answers: list[int] = []
        clients = [httpx.Client(auth=("anything", server.settings.api_key)) for _ in range(12)]
        start = threading.Barrier(len(clients))

        def call(client: httpx.Client) -> None:
            start.wait()
            answers.append(client.get(f"{server.api_url}/lists/{LIST}/members").status_code)

        threads = [threading.Thread(target=call, args=(client,)) for client in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(answers) == [200] * 10 + [429] * 2
        assert server.emulator.in_flight.peak == 10
        assert server.emulator.in_flight.refused == 2


def test_mailchimp_counts_overlapping_requests_and_fails_the_offsets_it_is_told_to():
    with mailchimp(members=30, response_delay=0.5, failing_offsets=frozenset({10})) as server:
        statuses: list[int] = []
        start = threading.Barrier(3)

        def call(offset: int) -> None:
            start.wait()
            statuses.append(_members(server, count=10, offset=offset).status_code)

        threads = [threading.Thread(target=call, args=(offset,)) for offset in (0, 10, 20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [200, 200, 503]
        failed = _members(server, count=10, offset=10)
        assert (failed.status_code, failed.json()["title"]) == (503, "Service Unavailable")
        assert server.emulator.in_flight.peak > 1 and server.emulator.requests == 4
        server.emulator.reset_counters()
        assert (server.emulator.requests, server.emulator.in_flight.peak, server.emulator.in_flight.refused) == (0, 0, 0)


@pytest.fixture
def cc():
    with constant_contact(contacts=130) as server:
        yield server


def _get(server, path: str, **params) -> httpx.Response:
    return httpx.get(server.url + path, params=params or None, headers={"Authorization": f"Bearer {server.settings.token}"})


def test_constant_contact_needs_its_bearer_token(cc):
    assert httpx.get(cc.api_url + "/contacts").status_code == 401
    response = httpx.get(cc.api_url + "/contacts", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401 and response.json()[0]["error_key"] == "unauthorized"


def test_constant_contact_pages_through_next_links_without_overlap(cc):
    response = _get(cc, "/v3/contacts", status="all", limit=50, include="custom_fields,phone_numbers")
    contacts = []
    while True:
        time.sleep(0.26)  # 4 requests a second
        body = response.json()
        contacts += body["contacts"]
        href = body["_links"].get("next", {}).get("href")
        if href is None:
            break
        assert href.startswith("/v3/contacts?cursor=")
        response = _get(cc, href)
    assert len(contacts) == len({c["contact_id"] for c in contacts}) == 130
    assert all("custom_fields" in c and "list_memberships" not in c for c in contacts)
    assert _get(cc, "/v3/contacts", limit=501).status_code == 400


def test_constant_contact_status_and_updated_after(cc):
    truth = cc.emulator.account.truth()
    default = _get(cc, "/v3/contacts", limit=500).json()["contacts"]
    assert len(default) == 130 - truth.get("deleted", 0)  # deleted contacts only when asked
    time.sleep(1)
    unsubscribed = _get(cc, "/v3/contacts", limit=500, status="unsubscribed").json()["contacts"]
    assert len(unsubscribed) == truth["unsubscribed"]
    cc.emulator.account.touch(3, datetime.now(UTC))
    after = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert len(_get(cc, "/v3/contacts", limit=500, status="all", updated_after=after).json()["contacts"]) == 3


def test_constant_contact_throttles_beyond_its_requests_per_window():
    # A wide window: the fifth request is "at once" with the first four however slow the machine.
    with constant_contact(contacts=3, throttle_window_seconds=600) as server:
        keys = [(_get(server, "/v3/contacts").json() or [{}]) for _ in range(5)]
        assert [k[0].get("error_key") if isinstance(k, list) else None for k in keys] == [None] * 4 + ["throttled"]


def test_constant_contact_refuses_requests_beyond_the_daily_quota():
    with constant_contact(contacts=3, daily_quota=6, requests_per_second=1000) as server:
        statuses = [_get(server, "/v3/contact_tags") for _ in range(7)]
        assert [s.status_code for s in statuses] == [200] * 6 + [429]
        assert statuses[6].json()[0]["error_key"] == "quota_exceeded"


def test_cursors_are_opaque_base64_of_the_query(cc):
    href = _get(cc, "/v3/contacts", limit=10).json()["_links"]["next"]["href"]
    state = json.loads(base64.urlsafe_b64decode(href.split("cursor=")[1]))
    assert state["next"] == 10 and state["limit"] == 10


def test_constant_contact_token_endpoint_refreshes_rotates_and_expires_tokens():
    with constant_contact(contacts=3, access_token_lifetime_requests=1, requests_per_second=1000) as server:
        settings = server.settings
        client = (settings.client_id, settings.client_secret)
        grant = {"grant_type": "refresh_token", "refresh_token": settings.refresh_token}
        assert httpx.post(server.token_url, data=grant, auth=(settings.client_id, "wrong")).json()["error"] == "invalid_client"
        wrong_grant = httpx.post(server.token_url, data={**grant, "grant_type": "password"}, auth=client)
        assert (wrong_grant.status_code, wrong_grant.json()["error"]) == (400, "unsupported_grant_type")
        # The access token the account started with admits one request, then it has expired.
        assert _get(server, "/v3/contacts").status_code == 200
        assert _get(server, "/v3/contacts").status_code == 401
        issued = httpx.post(server.token_url, data=grant, auth=client).json()
        assert issued["token_type"] == "Bearer" and issued["expires_in"] == 86_400
        assert issued["refresh_token"] != settings.refresh_token  # rotated: the old one is void
        headers = {"Authorization": f"Bearer {issued['access_token']}"}
        assert httpx.get(server.api_url + "/contacts", headers=headers).status_code == 200
        assert httpx.post(server.token_url, data=grant, auth=client).json()["error"] == "invalid_grant"
        server.emulator.tokens.revoke()
        again = httpx.post(server.token_url, data={**grant, "refresh_token": issued["refresh_token"]}, auth=client)
        assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
        assert server.emulator.tokens.refreshes == 1
