"""Scopes a token's app was not granted (``missing_scopes``): every request needing one gets
HubSpot's 403 ``MISSING_SCOPES`` naming it, and nothing is done; other requests go through."""

from __future__ import annotations

import pytest
import requests

from emulators.hubspot import EmulatorSettings
from emulators.hubspot.scopes import required_scope
from tests.emulators.conftest import auth

CONTACT = {"properties": {"email": "ann@x.com"}}
LIST = {"name": "Rehearsal", "objectTypeId": "0-1", "processingType": "MANUAL"}
PROPERTY = {
    "name": "shoe_size", "label": "Shoe size", "type": "string", "fieldType": "text", "groupName": "contactinformation",
}
IMPORT_FILE = {"files": ("c.csv", b"email\nann@x.com\n", "text/csv")}


@pytest.mark.parametrize(
    ("scope", "method", "path", "body"),
    [
        ("crm.import", "POST", "/crm/v3/imports", {"files": IMPORT_FILE}),
        ("crm.import", "GET", "/crm/v3/imports", {}),
        ("crm.objects.contacts.write", "POST", "/crm/v3/objects/contacts/batch/upsert",
         {"json": {"inputs": [{"idProperty": "email", "id": "ann@x.com", "properties": {}}]}}),
        ("crm.objects.contacts.write", "POST", "/crm/v3/objects/0-1", {"json": CONTACT}),
        ("crm.objects.contacts.read", "POST", "/crm/v3/objects/contacts/search", {"json": {}}),
        ("crm.lists.write", "POST", "/crm/v3/lists", {"json": LIST}),
        ("crm.schemas.contacts.write", "POST", "/crm/v3/properties/contacts", {"json": PROPERTY}),
        ("crm.schemas.contacts.read", "GET", "/crm/v3/properties/contacts", {}),
        ("communication_preferences.write", "POST",
         "/communication-preferences/v4/statuses/ann@x.com/unsubscribe-all", {"params": {"channel": "EMAIL"}}),
    ],
)
def test_a_request_needing_a_missing_scope_is_refused_as_hubspot_does(hub, scope, method, path, body):
    hub.emulator.configure(missing_scopes=(scope,))

    answer = requests.request(method, hub.url + path, headers=auth(), timeout=30, **body)

    assert answer.status_code == 403
    error = answer.json()
    assert error["category"] == "MISSING_SCOPES"
    assert error["message"] == (
        "This app hasn't been granted all required scopes to make this call. Read more about "
        "required scopes here: https://developers.hubspot.com/scopes."
    )
    assert error["errors"][0]["context"]["requiredGranularScopes"] == [scope]
    state = requests.get(hub.url + "/_emulator/state", timeout=30).json()
    assert (state["contacts"], state["lists"], state["imports"], state["optOuts"]) == ([], [], [], {})
    assert state["properties"].get("0-1", []) == []


def test_requests_needing_other_scopes_go_through(hub):
    hub.emulator.configure(missing_scopes=("crm.import", "crm.lists.write"))

    created = requests.post(hub.url + "/crm/v3/objects/contacts", json=CONTACT, headers=auth(), timeout=30)
    read = requests.get(hub.url + "/crm/v3/lists/object-type-id/0-1/name/absent", headers=auth(), timeout=30)

    assert created.status_code == 201
    assert read.status_code == 404


def test_the_faults_route_sets_and_clears_missing_scopes(hub):
    faults = hub.url + "/_emulator/faults"

    assert requests.post(faults, json={"missing_scopes": ["crm.lists.write", "crm.import"]}, timeout=30).json()[
        "missing_scopes"] == ["crm.import", "crm.lists.write"]
    assert requests.post(hub.url + "/crm/v3/lists", json=LIST, headers=auth(), timeout=30).status_code == 403

    assert requests.post(faults, json={"missing_scopes": []}, timeout=30).json()["missing_scopes"] == []
    assert requests.post(hub.url + "/crm/v3/lists", json=LIST, headers=auth(), timeout=30).status_code == 200


def test_one_scope_given_as_a_string_is_one_scope():
    assert EmulatorSettings(missing_scopes="crm.import").missing_scopes == ("crm.import",)


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/crm/v3/imports/7/errors", "crm.import"),
        ("POST", "/crm/v3/objects/0-2/batch/read", "crm.objects.companies.read"),
        ("PATCH", "/crm/v3/properties/companies/industry", "crm.schemas.companies.write"),
        ("PUT", "/crm/v3/lists/4/memberships/add", "crm.lists.write"),
        ("POST", "/crm/v3/lists/search", "crm.lists.read"),
        ("PUT", "/crm/v4/objects/contacts/1/associations/default/companies/2", "crm.objects.contacts.write"),
        ("POST", "/communication-preferences/v4/statuses/batch/unsubscribe-all/read",
         "communication_preferences.statuses.batch.read"),
        ("POST", "/communication-preferences/v4/statuses/batch/write",
         "communication_preferences.statuses.batch.write"),
        ("GET", "/communication-preferences/v3/definitions", "communication_preferences.read"),
        ("GET", "/account-info/v3/details", "oauth"),
        ("GET", "/nowhere", None),
    ],
)
def test_the_scope_each_route_needs(method, path, scope):
    assert required_scope(method, path) == scope
