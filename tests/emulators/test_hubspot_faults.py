"""Faults on demand, each observed by a client."""

from __future__ import annotations

import pytest
import requests
from hubspot.crm.properties import ApiException

from emulators.hubspot import serve_in_background
from tests.emulators.conftest import auth, import_request, run_import

PROPERTIES = "/crm/v3/properties/contacts"


def set_faults(hub, **faults):
    response = requests.post(hub.url + "/_emulator/faults", json=faults)
    response.raise_for_status()
    return response.json()


def statuses(hub, count):
    return [requests.get(hub.url + PROPERTIES, headers=auth()).status_code for _ in range(count)]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 423])
def test_injected_error_status_reaches_the_client(hub, client, status):
    set_faults(hub, error_rate=1.0, error_statuses=[status])
    with pytest.raises(ApiException) as raised:
        client.crm.properties.core_api.get_all("contacts")
    assert raised.value.status == status
    set_faults(hub, error_rate=0.0)
    assert statuses(hub, 1) == [200]


def test_fault_fraction_is_seeded_and_replays(hub):
    set_faults(hub, error_rate=0.5, fault_seed=7)
    first = statuses(hub, 20)
    set_faults(hub, error_rate=0.5, fault_seed=7)
    second = statuses(hub, 20)
    set_faults(hub, error_rate=0.0)
    assert first == second
    assert 200 in first and any(code >= 500 or code == 423 for code in first)


def test_dropped_connection_is_seen_as_a_broken_connection(hub):
    set_faults(hub, drop_rate=1.0)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(hub.url + PROPERTIES, headers=auth())
    set_faults(hub, drop_rate=0.0)
    assert statuses(hub, 1) == [200]


def test_latency_is_added(hub):
    # Seen as a client sees it: an answer delayed past the client's timeout never arrives.
    set_faults(hub, latency=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(hub.url + PROPERTIES, headers=auth(), timeout=0.1)
    set_faults(hub, latency=0.0)
    assert statuses(hub, 1) == [200]


def test_import_can_be_made_to_fail(hub, client, tmp_path):
    set_faults(hub, fail_imports=1)
    failed = run_import(client, tmp_path, "a.csv", "Email\na@x.com\n", [("Email", "email")])
    ok = run_import(client, tmp_path, "b.csv", "Email\nb@x.com\n", [("Email", "email")])
    assert (failed.state, ok.state) == ("FAILED", "DONE")


def test_an_error_after_write_answers_504_for_a_write_that_was_applied(hub):
    contacts = "/crm/v3/objects/contacts"
    set_faults(hub, error_after_write=1)
    # A search or a batch read is sent as POST but writes nothing: it neither fails nor uses up the count.
    search = requests.post(hub.url + contacts + "/search", headers=auth(), json={})
    statuses = requests.post(
        hub.url + "/communication-preferences/v4/statuses/batch/unsubscribe-all/read",
        headers=auth(),
        params={"channel": "EMAIL"},
        json={"inputs": ["kept@x.com"]},
    )
    answer = requests.post(hub.url + contacts, headers=auth(), json={"properties": {"email": "kept@x.com"}})
    after = requests.post(hub.url + contacts, headers=auth(), json={"properties": {"email": "next@x.com"}})

    assert (search.status_code, statuses.status_code, answer.status_code, after.status_code) == (200, 200, 504, 201)
    assert answer.json()["category"] == "GATEWAY_TIMEOUT"
    emails = sorted(c["properties"]["email"] for c in requests.get(hub.url + "/_emulator/state").json()["contacts"])
    assert emails == ["kept@x.com", "next@x.com"]
    assert set_faults(hub)["pendingErrorsAfterWrite"] == 0


def test_import_creations_can_be_answered_429_with_no_body_as_a_proxy_may(hub, client, tmp_path):
    assert set_faults(hub, bare_import_429s=2)["pendingBareImport429s"] == 2
    request = {"importRequest": import_request("a.csv", [("Email", "email")])}
    refused = [
        requests.post(hub.url + "/crm/v3/imports/", headers=auth(), data=request,
                      files={"files": ("a.csv", b"Email\na@x.com\n", "text/csv")})
        for _ in range(2)
    ]
    # Other requests are not counted down: only import creations are refused.
    assert statuses(hub, 1) == [200]
    done = run_import(client, tmp_path, "a.csv", "Email\na@x.com\n", [("Email", "email")])

    assert [(answer.status_code, answer.content) for answer in refused] == [(429, b"")] * 2
    assert not any(name.lower().startswith("x-hubspot-ratelimit") for answer in refused for name in answer.headers)
    assert done.state == "DONE"
    assert [job["id"] for job in requests.get(hub.url + "/_emulator/state").json()["imports"]] == [str(done.id)]
    assert set_faults(hub)["pendingBareImport429s"] == 0


def test_a_reset_forgets_the_import_creations_to_refuse(hub):
    set_faults(hub, bare_import_429s=3)
    requests.post(hub.url + "/_emulator/reset").raise_for_status()
    assert set_faults(hub)["pendingBareImport429s"] == 0


def test_daily_quota_reached_at_a_given_request():
    with serve_in_background() as hub:
        set_faults(hub, daily_quota_at=3)
        answers = [requests.get(hub.url + PROPERTIES, headers=auth()) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[2].json()["policyName"] == "DAILY"
        assert answers[1].headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"


def test_unknown_fault_setting_is_refused(hub):
    assert requests.post(hub.url + "/_emulator/faults", json={"explode": True}).status_code == 400
