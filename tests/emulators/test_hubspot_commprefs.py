"""Communication preferences in the emulator: opt-outs belong to addresses and are final."""

from __future__ import annotations

import pytest
import requests

from emulators.hubspot import serve_in_background
from tests.emulators.conftest import TOKEN, auth, run_import

V4 = "/communication-preferences/v4/statuses"
EMAIL = {"channel": "EMAIL"}


def post(hub, path, **kwargs):
    return requests.post(hub.url + path, headers=auth(), **kwargs)


def get(hub, path, **kwargs):
    return requests.get(hub.url + path, headers=auth(), **kwargs)


def test_opt_out_before_any_contact_exists(hub):
    assert get(hub, f"{V4}/Ann@X.com/unsubscribe-all", params=EMAIL).json()["results"] == []

    response = post(hub, f"{V4}/Ann@X.com/unsubscribe-all", params=EMAIL)
    assert response.status_code == 200
    assert {s["status"] for s in response.json()["results"]} == {"UNSUBSCRIBED"}

    wide = get(hub, f"{V4}/ann@x.com/unsubscribe-all", params=EMAIL).json()["results"]
    assert [(w["subscriberIdString"], w["status"], w["wideStatusType"]) for w in wide] == [
        ("ann@x.com", "UNSUBSCRIBED", "PORTAL_WIDE")
    ]
    statuses = get(hub, f"{V4}/ann@x.com", params=EMAIL).json()["results"]
    assert {s["status"] for s in statuses} == {"UNSUBSCRIBED"}
    v3 = get(hub, "/communication-preferences/v3/status/email/ann@x.com").json()
    assert {s["status"] for s in v3["subscriptionStatuses"]} == {"NOT_SUBSCRIBED"}
    assert hub.emulator.portal.live("0-1") == []


def test_opt_out_cannot_be_undone(hub):
    post(hub, f"{V4}/ann@x.com/unsubscribe-all", params=EMAIL).raise_for_status()
    resubscribe = post(hub, f"{V4}/ann@x.com", json={
        "subscriptionId": 1, "statusState": "SUBSCRIBED", "channel": "EMAIL",
        "legalBasis": "CONSENT_WITH_NOTICE", "legalBasisExplanation": "asked"})
    assert resubscribe.status_code == 400
    v3 = post(hub, "/communication-preferences/v3/subscribe",
              json={"emailAddress": "ann@x.com", "subscriptionId": "1"})
    assert v3.status_code == 400
    wide = get(hub, f"{V4}/ann@x.com/unsubscribe-all", params=EMAIL).json()["results"]
    assert wide[0]["status"] == "UNSUBSCRIBED"


def test_batch_unsubscribe_all_and_batch_read(hub):
    quiet = post(hub, f"{V4}/batch/unsubscribe-all", params=EMAIL,
                 json={"inputs": ["A@x.com", "b@x.com"]})
    assert quiet.status_code == 200 and quiet.content == b""
    verbose = post(hub, f"{V4}/batch/unsubscribe-all", params={**EMAIL, "verbose": "true"},
                   json={"inputs": ["b@x.com", "c@x.com"]}).json()
    assert [r["subscriberIdString"] for r in verbose["results"]] == ["b@x.com", "c@x.com"]

    read = post(hub, f"{V4}/batch/unsubscribe-all/read", params=EMAIL,
                json={"inputs": ["a@x.com", "d@x.com"]}).json()["results"]
    assert {r["subscriberIdString"]: len(r["wideStatuses"]) for r in read} == {"a@x.com": 1, "d@x.com": 0}
    statuses = post(hub, f"{V4}/batch/read", params=EMAIL, json={"inputs": ["c@x.com"]}).json()
    assert {s["status"] for s in statuses["results"][0]["statuses"]} == {"UNSUBSCRIBED"}


def test_contact_of_an_opted_out_address_reads_opted_out(hub, client, tmp_path):
    run_import(client, tmp_path, "c.csv", "Email\nann@x.com\n", [("Email", "email")])
    post(hub, f"{V4}/ann@x.com/unsubscribe-all", params=EMAIL).raise_for_status()
    contact = client.crm.contacts.basic_api.get_by_id(
        "ann@x.com", id_property="email", properties=["hs_email_optout"])
    assert contact.properties["hs_email_optout"] == "true"


def test_channel_is_required(hub):
    assert post(hub, f"{V4}/ann@x.com/unsubscribe-all").status_code == 400


def test_batch_endpoints_need_enterprise():
    with serve_in_background(batch_comm_prefs_allowed=False) as hub:
        for path in ("/batch/unsubscribe-all", "/batch/unsubscribe-all/read", "/batch/read"):
            response = requests.post(hub.url + V4 + path, params=EMAIL, json={"inputs": ["a@x.com"]},
                                     headers=auth())
            assert response.status_code == 403
            assert response.json()["category"] == "MISSING_SCOPES"
        single = requests.post(hub.url + V4 + "/a@x.com/unsubscribe-all", params=EMAIL, headers=auth())
        assert single.status_code == 200
        assert TOKEN not in single.text
