"""Object writes, batches, search and associations in the emulator."""

from __future__ import annotations

import json

import pytest
import requests
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectInputForCreate,
)

from tests.emulators.conftest import auth, frozen_clock, mapping, wait_for_import

CONTACTS = "/crm/v3/objects/contacts"


def post(hub, path, body):
    return requests.post(hub.url + path, json=body, headers=auth())


def upsert(email, trace=None, **properties):
    entry = {"idProperty": "email", "id": email, "properties": properties}
    if trace:
        entry["objectWriteTraceId"] = trace
    return entry


def test_basic_create_update_archive(client, hub):
    created = client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(
        properties={"email": "Ann@X.com", "firstname": "Ann"}, associations=[]))
    assert created.properties["email"] == "ann@x.com"

    conflict = post(hub, CONTACTS, {"properties": {"email": "ann@x.com"}})
    assert conflict.status_code == 409
    assert conflict.json()["category"] == "CONFLICT"

    updated = requests.patch(f"{hub.url}{CONTACTS}/ann@x.com", params={"idProperty": "email"},
                             json={"properties": {"city": "Lyon"}}, headers=auth())
    assert updated.json()["properties"]["city"] == "Lyon"

    client.crm.contacts.basic_api.archive(created.id)
    assert requests.get(f"{hub.url}{CONTACTS}/{created.id}", headers=auth()).status_code == 404


@pytest.mark.parametrize(
    "properties, code",
    [
        ({"email": "not-an-email"}, "INVALID_EMAIL"),
        ({"email": "jane@gmail.con"}, "INVALID_EMAIL"),
        ({"email": "a@x.com", "lifecyclestage": "wizard"}, "INVALID_OPTION"),
        ({"email": "a@x.com", "no_such_property": "1"}, "PROPERTY_DOESNT_EXIST"),
        ({"email": "a@x.com", "hs_marketable_status": "true"}, "READ_ONLY_VALUE"),
        ({"email": "a@x.com", "createdate": "yesterday"}, "READ_ONLY_VALUE"),
    ],
)
def test_invalid_values_are_refused_with_hubspot_error_codes(hub, properties, code):
    response = post(hub, CONTACTS, {"properties": properties})
    assert response.status_code == 400
    body = response.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid")
    assert [error["code"] for error in body["errors"]] == [code]


@pytest.mark.parametrize("email", ["jane@bücher.de", "jane@email.삼성", "jane@email.xn--3e0b707e"])
def test_addresses_at_internationalised_domains_are_taken(hub, email):
    response = post(hub, CONTACTS, {"properties": {"email": email}})
    assert response.status_code == 201, response.text
    assert response.json()["properties"]["email"] == email


def test_bad_date_is_refused(client, hub):
    client.crm.properties.core_api.create("contacts", {
        "name": "joined", "label": "Joined", "type": "date", "fieldType": "date",
        "groupName": "contactinformation"})
    response = post(hub, CONTACTS, {"properties": {"email": "a@x.com", "joined": "31/31/2020"}})
    assert [error["code"] for error in response.json()["errors"]] == ["INVALID_DATE"]


def test_batch_upsert_by_email_creates_then_updates(client):
    api = client.crm.contacts.batch_api
    first = api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        SimplePublicObjectBatchInputUpsert(id_property="email", id="A@x.com",
                                           properties={"firstname": "A"}, object_write_trace_id="r1"),
    ]))
    second = api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        SimplePublicObjectBatchInputUpsert(id_property="email", id="a@x.com",
                                           properties={"lastname": "Z"}, object_write_trace_id="r2"),
    ]))
    assert first.results[0].new is True and second.results[0].new is False
    assert second.results[0].id == first.results[0].id
    assert second.results[0].object_write_trace_id == "r2"
    assert second.results[0].properties["firstname"] == "A"


def test_traced_batch_is_partial_success_207(hub):
    response = post(hub, f"{CONTACTS}/batch/upsert", {"inputs": [
        upsert("good@x.com", "t1", firstname="G"),
        upsert("bad@x.com", "t2", lifecyclestage="wizard"),
        upsert("nope", "t3"),
    ]})
    assert response.status_code == 207
    body = response.json()
    assert [r["objectWriteTraceId"] for r in body["results"]] == ["t1"]
    assert body["numErrors"] == 2
    assert sorted(e["context"]["objectWriteTraceId"][0] for e in body["errors"]) == ["t2", "t3"]
    assert [c.properties["email"] for c in hub.emulator.portal.live("0-1")] == ["good@x.com"]


def test_untraced_batch_with_a_bad_input_writes_nothing(hub):
    response = post(hub, f"{CONTACTS}/batch/upsert", {"inputs": [
        upsert("good@x.com", firstname="G"), upsert("bad@x.com", lifecyclestage="wizard"),
    ]})
    assert response.status_code == 400
    assert hub.emulator.portal.live("0-1") == []


def test_a_traced_batch_upsert_by_email_is_refused_whole_when_set_as_hubspot_may(hub):
    # "Partial upserts are not supported when using email as the idProperty" (contacts guide).
    settings = requests.post(f"{hub.url}/_emulator/faults", json={"whole_batch_email_upserts": True})
    by_email = post(hub, f"{CONTACTS}/batch/upsert", {"inputs": [
        upsert("good@x.com", "t1", firstname="G"), upsert("bad@x.com", "t2", lifecyclestage="wizard"),
    ]})
    created = post(hub, f"{CONTACTS}/batch/create", {"inputs": [
        {"properties": {"email": "c1@x.com"}, "objectWriteTraceId": "t1"},
        {"properties": {"email": "c2@x.com", "lifecyclestage": "wizard"}, "objectWriteTraceId": "t2"},
    ]})

    assert settings.json()["whole_batch_email_upserts"] is True
    assert by_email.status_code == 400
    assert [error["context"]["propertyName"] for error in by_email.json()["errors"]] == [["lifecyclestage"]]
    # A batch create still succeeds in part: 207 is documented for it.
    assert created.status_code == 207
    assert [c.properties["email"] for c in hub.emulator.portal.live("0-1")] == ["c1@x.com"]


def test_batches_over_100_and_duplicate_ids_are_refused(hub):
    big = post(hub, f"{CONTACTS}/batch/upsert",
               {"inputs": [upsert(f"u{n}@x.com", f"t{n}") for n in range(101)]})
    assert big.status_code == 400

    duplicate = post(hub, f"{CONTACTS}/batch/upsert",
                     {"inputs": [upsert("a@x.com", "t1"), upsert("A@x.com", "t2")]})
    assert duplicate.status_code == 400
    body = duplicate.json()
    assert body["message"] == "Duplicate IDs found in batch input: [a@x.com]. IDs must be unique"
    assert body["context"] == {"ids": ["a@x.com"]}
    assert hub.emulator.portal.live("0-1") == []


def test_batch_create_update_archive(hub):
    created = post(hub, f"{CONTACTS}/batch/create", {"inputs": [
        {"properties": {"email": "a@x.com"}, "associations": []},
        {"properties": {"email": "b@x.com"}, "associations": []},
    ]})
    assert created.status_code == 201
    ids = [r["id"] for r in created.json()["results"]]
    updated = post(hub, f"{CONTACTS}/batch/update", {"inputs": [
        {"id": ids[0], "properties": {"firstname": "A"}, "objectWriteTraceId": "u1"},
        {"id": "999999", "properties": {"firstname": "?"}, "objectWriteTraceId": "u2"},
    ]})
    assert updated.status_code == 207
    assert updated.json()["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    archived = post(hub, f"{CONTACTS}/batch/archive", {"inputs": [{"id": i} for i in ids]})
    assert archived.status_code == 204
    assert hub.emulator.portal.live("0-1") == []


def test_search_filters_sorts_and_pages(hub):
    post(hub, f"{CONTACTS}/batch/create", {"inputs": [
        {"properties": {"email": f"u{n}@x.com", "firstname": name, "lifecyclestage": stage}}
        for n, (name, stage) in enumerate([("Zed", "lead"), ("Amy", "lead"), ("Bob", "customer")])
    ]})
    body = {"filterGroups": [{"filters": [{"propertyName": "lifecyclestage", "operator": "EQ",
                                           "value": "lead"}]}],
            "sorts": [{"propertyName": "firstname", "direction": "ASCENDING"}],
            "properties": ["firstname"], "limit": 1}
    first = post(hub, f"{CONTACTS}/search", body)
    assert "X-HubSpot-RateLimit-Max" not in first.headers
    page = first.json()
    assert page["total"] == 2
    assert [r["properties"]["firstname"] for r in page["results"]] == ["Amy"]
    rest = post(hub, f"{CONTACTS}/search", {**body, "after": page["paging"]["next"]["after"]}).json()
    assert [r["properties"]["firstname"] for r in rest["results"]] == ["Zed"]
    assert post(hub, f"{CONTACTS}/search", {"query": "bob"}).json()["total"] == 1


def test_search_cannot_page_past_10000(hub):
    response = post(hub, f"{CONTACTS}/search", {"after": "9950", "limit": 100})
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_search_is_limited_to_5_a_second(hub):
    frozen_clock(hub)
    answers = [post(hub, f"{CONTACTS}/search", {}) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    body = answers[5].json()
    assert body["policyName"] == "SECONDLY"
    assert body["message"] == "You have reached your secondly limit."
    assert "X-HubSpot-RateLimit-Max" not in answers[5].headers


def test_company_columns_create_and_associate_companies(client, hub, tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("Email,Company,Domain\na@x.com,Acme,acme.com\nb@x.com,Acme Inc,acme.com\n")
    request = {
        "name": "multi", "marketableContactImport": True,
        "files": [{"fileName": "m.csv", "fileFormat": "CSV", "fileImportPage": {
            "hasHeader": True, "columnMappings": [
                mapping("Email", "email"),
                mapping("Company", "name", "0-2"),
                mapping("Domain", "domain", "0-2"),
            ]}}],
    }
    created = client.crm.imports.core_api.create(files=str(path), import_request=json.dumps(request))
    done = wait_for_import(client, created.id)
    assert done.mapped_object_type_ids == ["0-1", "0-2"]
    [company] = hub.emulator.portal.live("0-2")
    assert company.properties["name"] == "Acme Inc"
    contact_ids = [c.id for c in hub.emulator.portal.live("0-1")]
    listed = requests.get(f"{hub.url}/crm/v4/objects/companies/{company.id}/associations/contacts",
                          headers=auth()).json()
    assert sorted(r["toObjectId"] for r in listed["results"]) == sorted(contact_ids)
    # Multi-object imports are non-marketing in HubSpot.
    assert {c.properties["hs_marketable_status"] for c in hub.emulator.portal.live("0-1")} == {"false"}


def test_v4_default_associations(hub):
    contact = post(hub, CONTACTS, {"properties": {"email": "a@x.com"}}).json()["id"]
    company = post(hub, "/crm/v3/objects/companies", {"properties": {"name": "Acme"}}).json()["id"]
    put = requests.put(
        f"{hub.url}/crm/v4/objects/contacts/{contact}/associations/default/companies/{company}",
        headers=auth())
    assert put.json()["results"][0]["associationSpec"]["associationTypeId"] == 279
    read = post(hub, "/crm/v4/associations/contacts/companies/batch/read",
                {"inputs": [{"id": contact}]}).json()
    assert read["results"][0]["to"][0]["toObjectId"] == company
