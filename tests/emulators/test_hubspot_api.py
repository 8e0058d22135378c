"""The emulator's contacts, properties and lists APIs, through the official client and plain HTTP."""

from __future__ import annotations

import json

import pytest
import requests
from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId, SimplePublicObjectId
from hubspot.crm.lists import ListCreateRequest
from hubspot.crm.properties import (
    BatchInputPropertyCreate,
    BatchReadInputPropertyName,
    PropertyCreate,
    PropertyGroupCreate,
    PropertyName,
)

from tests.emulators.conftest import auth, run_import


@pytest.fixture
def contacts(client, tmp_path):
    """Three contacts made by an import; returns their ids by email."""
    run_import(
        client, tmp_path, "c.csv", "Email,First Name\na@x.com,A\nb@x.com,B\nc@x.com,C\n",
        [("Email", "email"), ("First Name", "firstname")],
    )
    page = client.crm.contacts.basic_api.get_page(limit=100, properties=["email"])
    return {c.properties["email"]: c.id for c in page.results}


def test_default_contact_properties_are_seeded(client):
    names = {p.name for p in client.crm.properties.core_api.get_all("contacts").results}
    assert {"email", "firstname", "lifecyclestage", "hs_marketable_status", "hs_email_optout",
            "createdate", "hs_object_id", "hs_lead_status"} <= names
    stage = client.crm.properties.core_api.get_by_name("contacts", "lifecyclestage")
    assert stage.group_name == "contactinformation"
    assert [o.value for o in stage.options][:2] == ["subscriber", "lead"]


def test_property_and_group_creation_and_conflict(client, hub):
    client.crm.properties.groups_api.create(
        "contacts", PropertyGroupCreate(name="mailchimp", label="Mailchimp")
    )
    created = client.crm.properties.core_api.create(
        "contacts",
        PropertyCreate(name="member_rating", label="Member rating", type="number",
                       field_type="number", group_name="mailchimp"),
    )
    assert created.group_name == "mailchimp"
    assert client.crm.properties.groups_api.get_by_name("contacts", "mailchimp").label == "Mailchimp"

    again = requests.post(
        f"{hub.url}/crm/v3/properties/contacts", headers=auth(),
        json={"name": "member_rating", "label": "x", "type": "number", "fieldType": "number",
              "groupName": "mailchimp"},
    )
    assert again.status_code == 409
    assert again.json()["category"] == "OBJECT_ALREADY_EXISTS"


def test_property_update_replaces_options_and_checks_them(client, hub):
    client.crm.properties.groups_api.create("contacts", PropertyGroupCreate(name="mc", label="Mailchimp"))
    url = f"{hub.url}/crm/v3/properties/contacts/mc_tags"
    created = requests.post(
        f"{hub.url}/crm/v3/properties/contacts", headers=auth(),
        json={"name": "mc_tags", "label": "Tags", "type": "enumeration", "fieldType": "checkbox",
              "groupName": "mc", "options": [{"label": "VIP", "value": "VIP", "hidden": False}]},
    )
    assert created.status_code == 201

    union = [{"label": "VIP", "value": "VIP", "hidden": False, "displayOrder": 0},
             {"label": "2025 waiver", "value": "2025 waiver", "hidden": False, "displayOrder": 1}]
    patched = requests.patch(url, headers=auth(), json={"options": union, "label": "Mailchimp tags"})
    assert patched.status_code == 200
    assert [o["value"] for o in patched.json()["options"]] == ["VIP", "2025 waiver"]
    stored = client.crm.properties.core_api.get_by_name("contacts", "mc_tags")
    assert (stored.label, stored.type, stored.field_type) == ("Mailchimp tags", "enumeration", "checkbox")

    # The options sent replace the stored ones: a client that wants to keep them sends them.
    only = requests.patch(url, headers=auth(), json={"options": union[1:]})
    assert [o["value"] for o in only.json()["options"]] == ["2025 waiver"]

    refused = {
        "repeated value": {"options": [union[0], union[0]]},
        "option without value": {"options": [{"label": "x", "hidden": False}]},
        "unknown field": {"name": "other"},
        "bad type": {"type": "colour"},
    }
    for why, body in refused.items():
        answer = requests.patch(url, headers=auth(), json=body)
        assert (why, answer.status_code, answer.json()["category"]) == (why, 400, "VALIDATION_ERROR")
    assert requests.patch(f"{hub.url}/crm/v3/properties/contacts/nope", headers=auth(), json={}).status_code == 404
    assert requests.patch(f"{hub.url}/crm/v3/properties/contacts/email", headers=auth(), json={"label": "x"}).status_code == 400


@pytest.mark.parametrize("name", ["Member_Rating", "1st_purchase", "_rating", "member-rating", "member rating", "é_rating"])
def test_a_property_name_breaking_hubspots_rules_is_refused(hub, name):
    definition = {"label": "x", "type": "string", "fieldType": "text", "groupName": "contactinformation"}
    refused = requests.post(f"{hub.url}/crm/v3/properties/contacts", headers=auth(), json={**definition, "name": name})
    batch = requests.post(f"{hub.url}/crm/v3/properties/contacts/batch/create", headers=auth(), json={"inputs": [
        {**definition, "name": name}, {**definition, "name": "member_rating_2"},
    ]})

    assert refused.status_code == 400
    assert (refused.json()["category"], refused.json()["context"]) == ("VALIDATION_ERROR", {"name": [name]})
    assert batch.status_code == 207
    assert [result["name"] for result in batch.json()["results"]] == ["member_rating_2"]
    assert batch.json()["errors"][0]["context"] == {"name": [name]}
    assert requests.get(f"{hub.url}/crm/v3/properties/contacts/{name}", headers=auth()).status_code == 404


def test_property_batch_create_and_read(client):
    batch = client.crm.properties.batch_api.create(
        "contacts",
        BatchInputPropertyCreate(inputs=[
            PropertyCreate(name="tags", label="Tags", type="string", field_type="text",
                           group_name="contactinformation"),
            PropertyCreate(name="leid", label="LEID", type="string", field_type="text",
                           group_name="contactinformation"),
        ]),
    )
    assert {p.name for p in batch.results} == {"tags", "leid"}
    read = client.crm.properties.batch_api.read(
        "contacts",
        BatchReadInputPropertyName(archived=False,
                                   inputs=[PropertyName(name="tags"), PropertyName(name="nope")]),
    )
    assert [p.name for p in read.results] == ["tags"]
    assert read.num_errors == 1


def test_contact_get_by_id_and_by_email(client, contacts):
    by_id = client.crm.contacts.basic_api.get_by_id(contacts["a@x.com"])
    by_email = client.crm.contacts.basic_api.get_by_id(
        "A@X.com", id_property="email", properties=["firstname", "hs_email_optout"]
    )
    assert by_id.id == by_email.id
    assert {"email", "hs_object_id", "createdate", "lastmodifieddate", "hs_marketable_status"} <= set(
        by_id.properties
    )
    assert by_email.properties == {"firstname": "A", "hs_email_optout": "false"}


def test_contact_list_paging(client, contacts):
    first = client.crm.contacts.basic_api.get_page(limit=2)
    second = client.crm.contacts.basic_api.get_page(limit=2, after=first.paging.next.after)
    ids = [c.id for c in first.results + second.results]
    assert ids == sorted(contacts.values(), key=int)
    assert second.paging is None


def test_batch_read_reports_missing_ids_as_207(client, hub, contacts):
    body = {"idProperty": "email", "inputs": [{"id": "a@x.com"}, {"id": "zz@x.com"}],
            "properties": ["email"], "propertiesWithHistory": []}
    response = requests.post(f"{hub.url}/crm/v3/objects/contacts/batch/read", json=body, headers=auth())
    assert response.status_code == 207
    payload = response.json()
    assert [r["properties"]["email"] for r in payload["results"]] == ["a@x.com"]
    assert payload["numErrors"] == 1
    assert payload["errors"][0]["context"] == {"ids": ["zz@x.com"]}

    complete = client.crm.contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=contacts["b@x.com"])], properties=["email"],
        properties_with_history=[],
    ))
    assert complete.results[0].properties["email"] == "b@x.com"


def test_unknown_contact_is_404(hub):
    response = requests.get(f"{hub.url}/crm/v3/objects/contacts/999", headers=auth())
    assert response.status_code == 404
    assert response.json()["category"] == "OBJECT_NOT_FOUND"


def test_lists_create_read_memberships_and_search(client, hub, contacts):
    lists = client.crm.lists.lists_api
    created = lists.create(ListCreateRequest(name="Newsletter", object_type_id="0-1",
                                             processing_type="MANUAL")).list
    added = client.crm.lists.memberships_api.add(
        created.list_id, [contacts["a@x.com"], contacts["b@x.com"], "424242"]
    )
    assert sorted(added.records_ids_added) == sorted([contacts["a@x.com"], contacts["b@x.com"]])
    assert added.record_ids_missing == ["424242"]

    removed = client.crm.lists.memberships_api.remove(created.list_id, [contacts["a@x.com"]])
    assert removed.record_ids_removed == [contacts["a@x.com"]]
    members = client.crm.lists.memberships_api.get_page(created.list_id).results
    assert [m.record_id for m in members] == [contacts["b@x.com"]]
    assert lists.get_by_id(created.list_id).list.size == 1

    found = requests.post(f"{hub.url}/crm/v3/lists/search", json={"query": "news", "offset": 0,
                                                                  "additionalProperties": []},
                          headers=auth()).json()
    assert [found_list["listId"] for found_list in found["lists"]] == [created.list_id]

    duplicate = requests.post(f"{hub.url}/crm/v3/lists/", headers=auth(), json={
        "name": "Newsletter", "objectTypeId": "0-1", "processingType": "MANUAL"})
    assert duplicate.status_code == 409
    assert json.loads(duplicate.text)["status"] == "error"


def test_a_list_is_renamed_and_deleted_as_a_person_does_in_hubspot(client, hub, contacts):
    lists = client.crm.lists.lists_api
    first = lists.create(ListCreateRequest(name="Spring", object_type_id="0-1", processing_type="MANUAL")).list
    lists.create(ListCreateRequest(name="Autumn", object_type_id="0-1", processing_type="MANUAL"))
    client.crm.lists.memberships_api.add(first.list_id, [contacts["a@x.com"]])

    rename = f"{hub.url}/crm/v3/lists/{first.list_id}/update-list-name"
    renamed = requests.put(rename, params={"listName": "Summer"}, headers=auth())
    taken = requests.put(rename, params={"listName": "autumn"}, headers=auth())

    assert renamed.status_code == 200 and renamed.json()["updatedList"]["name"] == "Summer"
    assert taken.status_code == 409
    by_name = requests.get(f"{hub.url}/crm/v3/lists/object-type-id/0-1/name/Summer", headers=auth()).json()
    assert (by_name["list"]["listId"], by_name["list"]["size"]) == (first.list_id, 1)
    assert requests.get(f"{hub.url}/crm/v3/lists/object-type-id/0-1/name/Spring", headers=auth()).status_code == 404

    deleted = requests.delete(f"{hub.url}/crm/v3/lists/{first.list_id}", headers=auth())
    assert deleted.status_code == 204
    assert requests.get(f"{hub.url}/crm/v3/lists/{first.list_id}", headers=auth()).status_code == 404
    assert requests.delete(f"{hub.url}/crm/v3/lists/{first.list_id}", headers=auth()).status_code == 404
    # The members are records still; only the list is gone.
    assert client.crm.contacts.basic_api.get_by_id(contacts["a@x.com"]).id == contacts["a@x.com"]


def test_a_list_name_is_unique_across_object_types(hub):
    # "The name of the list, which must be globally unique across all public lists in the
    # portal" (crm-lists-v3.json, POST /crm/v3/lists): a company list's name is taken for contacts.
    create = f"{hub.url}/crm/v3/lists"
    companies = requests.post(create, headers=auth(), json={"name": "Partners", "objectTypeId": "0-2", "processingType": "MANUAL"})
    same_kind = requests.post(create, headers=auth(), json={"name": "partners", "objectTypeId": "0-2", "processingType": "MANUAL"})
    contacts = requests.post(create, headers=auth(), json={"name": "Partners", "objectTypeId": "0-1", "processingType": "MANUAL"})
    other = requests.post(create, headers=auth(), json={"name": "Customers", "objectTypeId": "0-1", "processingType": "MANUAL"})
    renamed = requests.put(f"{create}/{other.json()['list']['listId']}/update-list-name", params={"listName": "PARTNERS"}, headers=auth())

    assert companies.status_code == 200
    assert (contacts.status_code, renamed.status_code) == (409, 409)
    bodies = [{k: v for k, v in answer.json().items() if k != "correlationId"} for answer in (same_kind, contacts)]
    assert bodies[0] == bodies[1] | {"message": "A list named 'partners' already exists."}
    assert (bodies[1]["category"], bodies[1]["subCategory"]) == ("CONFLICT", "ILS_LIST_NAME_ALREADY_EXISTS")
    # Looked up by name for contacts, the company list is not found.
    assert requests.get(f"{create}/object-type-id/0-1/name/Partners", headers=auth()).status_code == 404


def test_list_memberships_are_paged(client, contacts):
    list_id = client.crm.lists.lists_api.create(ListCreateRequest(
        name="All", object_type_id="0-1", processing_type="SNAPSHOT")).list.list_id
    client.crm.lists.memberships_api.add(list_id, list(contacts.values()))
    first = client.crm.lists.memberships_api.get_page(list_id, limit=2)
    rest = client.crm.lists.memberships_api.get_page(list_id, limit=2, after=first.paging.next.after)
    assert len(first.results) + len(rest.results) == 3
