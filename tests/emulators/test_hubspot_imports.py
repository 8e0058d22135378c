"""The emulator's Imports API, driven through the official client over HTTP."""

from __future__ import annotations

import json

import pytest
import requests
from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId, SimplePublicObjectId
from hubspot.crm.imports import ApiException

from tests.emulators.conftest import (
    auth,
    import_request,
    run_import,
    wait_for_import,
    write_csv,
)

COLUMNS = [("Email", "email"), ("First Name", "firstname"), ("Stage", "lifecyclestage")]


def read_contacts(client, *emails, properties=("email", "firstname", "hs_marketable_status")):
    batch = BatchReadInputSimplePublicObjectId(
        id_property="email",
        inputs=[SimplePublicObjectId(id=email) for email in emails],
        properties=list(properties),
        properties_with_history=[],
    )
    return {r.properties["email"]: r.properties for r in client.crm.contacts.batch_api.read(batch).results}


def test_import_creates_contacts_with_counters_and_lowercased_email(client, tmp_path):
    done = run_import(
        client, tmp_path, "people.csv",
        "Email,First Name,Stage\n Ann@Example.COM ,Ann,lead\nbob@example.com,Bob,customer\n",
        COLUMNS,
    )

    assert done.state == "DONE"
    assert done.import_source == "API"
    assert done.mapped_object_type_ids == ["0-1"]
    assert done.metadata.counters == {
        "TOTAL_ROWS": 2, "CREATED_OBJECTS": 2, "UPDATED_OBJECTS": 0, "ERRORS": 0,
    }
    contacts = read_contacts(client, "ann@example.com", "BOB@example.com")
    assert contacts["ann@example.com"]["firstname"] == "Ann"
    assert set(contacts) == {"ann@example.com", "bob@example.com"}


def test_second_import_updates_and_blank_cells_do_not_clear(client, tmp_path):
    run_import(client, tmp_path, "a.csv", "Email,First Name,Stage\nann@x.com,Ann,lead\n", COLUMNS)
    again = run_import(client, tmp_path, "b.csv", "Email,First Name,Stage\nANN@x.com,,\n", COLUMNS)

    assert again.metadata.counters["UPDATED_OBJECTS"] == 1
    assert again.metadata.counters["CREATED_OBJECTS"] == 0
    contact = read_contacts(client, "ann@x.com", properties=("email", "firstname", "lifecyclestage"))
    assert contact["ann@x.com"]["firstname"] == "Ann"
    assert contact["ann@x.com"]["lifecyclestage"] == "lead"


def test_lifecycle_stage_is_never_moved_backwards_by_an_import(client, tmp_path):
    run_import(client, tmp_path, "a.csv", "Email,First Name,Stage\nann@x.com,Ann,customer\n", COLUMNS)
    run_import(client, tmp_path, "b.csv", "Email,First Name,Stage\nann@x.com,Ann,lead\n", COLUMNS)
    run_import(client, tmp_path, "c.csv", "Email,First Name,Stage\nann@x.com,Ann,evangelist\n", COLUMNS)

    contact = read_contacts(client, "ann@x.com", properties=("email", "lifecyclestage"))
    assert contact["ann@x.com"]["lifecyclestage"] == "evangelist"


def test_marketable_import_sets_status_and_non_marketing_never_downgrades(client, tmp_path):
    run_import(client, tmp_path, "m.csv", "Email,First Name,Stage\nann@x.com,Ann,\n", COLUMNS,
               marketableContactImport=True)
    run_import(client, tmp_path, "n.csv", "Email,First Name,Stage\nann@x.com,Ann,\nbob@x.com,Bob,\n",
               COLUMNS, marketableContactImport=False)

    contacts = read_contacts(client, "ann@x.com", "bob@x.com")
    assert contacts["ann@x.com"]["hs_marketable_status"] == "true"
    assert contacts["bob@x.com"]["hs_marketable_status"] == "false"


def test_row_errors_carry_types_line_numbers_row_data_and_messages(client, tmp_path):
    text = (
        "Email,First Name,Stage\n"
        "ok@x.com,Ok,lead\n"          # line 2
        "not-an-email,Bad,lead\n"     # line 3
        "short@x.com,Short\n"         # line 4
        "enum@x.com,Enum,wizard\n"    # line 5
    )
    done = run_import(client, tmp_path, "errs.csv", text, COLUMNS)

    assert done.state == "DONE"
    assert done.metadata.counters["ERRORS"] == 3
    # The enumeration error skips the value, not the row.
    assert done.metadata.counters["CREATED_OBJECTS"] == 2
    errors = client.crm.imports.public_imports_api.get_errors(
        int(done.id), include_error_message=True, include_row_data=True
    ).results
    found = {(e.error_type, e.source_data.line_number) for e in errors}
    assert found == {
        ("INVALID_EMAIL", 3), ("INCORRECT_NUMBER_OF_COLUMNS", 4), ("INVALID_ENUMERATION_OPTION", 5),
    }
    by_type = {e.error_type: e for e in errors}
    assert by_type["INVALID_EMAIL"].source_data.row_data == ["not-an-email", "Bad", "lead"]
    assert by_type["INVALID_ENUMERATION_OPTION"].known_column_number == 2
    assert by_type["INVALID_ENUMERATION_OPTION"].invalid_value == "wizard"
    assert all(e.error_message for e in errors)

    bare = client.crm.imports.public_imports_api.get_errors(int(done.id)).results
    assert all(e.error_message is None and e.source_data.row_data == [] for e in bare)


def test_bad_dates_and_unknown_properties_are_reported(client, tmp_path):
    client.crm.properties.core_api.create(
        "contacts",
        {"name": "joined", "label": "Joined", "type": "date", "fieldType": "date",
         "groupName": "contactinformation"},
    )
    text = "Email,Joined,Mystery\na@x.com,2024-02-30,1\nb@x.com,2024-02-03,2\n"
    done = run_import(
        client, tmp_path, "d.csv", text,
        [("Email", "email"), ("Joined", "joined"), ("Mystery", "no_such_property")],
        dateFormat="YEAR_MONTH_DAY",
    )

    errors = client.crm.imports.public_imports_api.get_errors(int(done.id)).results
    assert {(e.error_type, e.source_data.line_number) for e in errors} == {
        ("COULD_NOT_PARSE_DATE", 2), ("PROPERTY_DEFINITION_NOT_FOUND", 0),
    }
    contact = read_contacts(client, "b@x.com", properties=("email", "joined"))
    assert contact["b@x.com"]["joined"] == "2024-02-03"


def test_errors_are_paged(client, tmp_path):
    rows = "".join(f"bad{n},x,lead\n" for n in range(5))
    done = run_import(client, tmp_path, "p.csv", "Email,First Name,Stage\n" + rows, COLUMNS)
    api = client.crm.imports.public_imports_api

    first = api.get_errors(int(done.id), limit=2)
    second = api.get_errors(int(done.id), limit=2, after=first.paging.next.after)
    third = api.get_errors(int(done.id), limit=2, after=second.paging.next.after)

    lines = [e.source_data.line_number for page in (first, second, third) for e in page.results]
    assert lines == [2, 3, 4, 5, 6]
    assert third.paging is None


def test_list_from_import_holds_the_imported_contacts(client, tmp_path):
    done = run_import(
        client, tmp_path, "l.csv", "Email,First Name,Stage\na@x.com,A,\nbad,B,\nc@x.com,C,\n",
        COLUMNS, name="mailchimp-subscribed", createContactListFromImport=True,
    )

    [object_list] = done.metadata.object_lists
    members = client.crm.lists.memberships_api.get_page(object_list.list_id).results
    by_name = client.crm.lists.lists_api.get_by_name("mailchimp-subscribed", "0-1").list
    assert by_name.list_id == object_list.list_id
    assert by_name.processing_type == "MANUAL"
    ids = set(read_contacts(client, "a@x.com", "c@x.com", properties=("email", "hs_object_id")))
    assert len(members) == 2 and len(ids) == 2


def test_more_than_three_imports_are_deferred_until_a_slot_frees(hub, client, tmp_path):
    hub.emulator.imports.hold()
    created = []
    try:
        for n in range(5):
            path = write_csv(tmp_path, f"f{n}.csv", f"Email,First Name,Stage\nu{n}@x.com,U,\n")
            created.append(
                client.crm.imports.core_api.create(
                    files=path, import_request=import_request(f"f{n}.csv", COLUMNS)
                )
            )
        states = [c.state for c in created]
        assert states[:3] == ["STARTED"] * 3
        assert states[3:] == ["DEFERRED"] * 2
        for c in created[:3]:
            wait_for_import(client, c.id, states=("PROCESSING",))
        assert client.crm.imports.core_api.get_by_id(int(created[4].id)).state == "DEFERRED"
    finally:
        hub.emulator.imports.release()
    assert [wait_for_import(client, c.id).state for c in created] == ["DONE"] * 5


def test_cancel_stops_an_unfinished_import(hub, client, tmp_path):
    hub.emulator.imports.hold()
    try:
        path = write_csv(tmp_path, "c.csv", "Email,First Name,Stage\nu@x.com,U,\n")
        created = client.crm.imports.core_api.create(
            files=path, import_request=import_request("c.csv", COLUMNS)
        )
        action = client.crm.imports.core_api.cancel(int(created.id))
    finally:
        hub.emulator.imports.release()
    assert action.status == "COMPLETE"
    assert wait_for_import(client, created.id).state == "CANCELED"


def test_imports_are_listed(client, tmp_path):
    run_import(client, tmp_path, "a.csv", "Email,First Name,Stage\na@x.com,A,\n", COLUMNS)
    page = client.crm.imports.core_api.get_page()
    assert [i.import_name for i in page.results] == ["a.csv"]


@pytest.mark.parametrize(
    "file_name, columns, header, message",
    [
        ("other.csv", COLUMNS, "Email,First Name,Stage", "fileName"),
        ("x.csv", COLUMNS[:2], "Email,First Name,Stage", "must be mapped"),
        ("x.csv", [("Name", "firstname")], "Name", "email"),
    ],
)
def test_malformed_import_requests_are_refused_with_400(client, tmp_path, file_name, columns, header, message):
    path = write_csv(tmp_path, "x.csv", header + "\na@x.com,A,\n")
    with pytest.raises(ApiException) as raised:
        client.crm.imports.core_api.create(files=path, import_request=import_request(file_name, columns))
    assert raised.value.status == 400
    body = json.loads(raised.value.body)
    assert body["category"] == "VALIDATION_ERROR" and message in body["message"]


def test_unknown_import_is_404_with_hubspot_error_body(hub):
    response = requests.get(f"{hub.url}/crm/v3/imports/123", headers=auth())
    assert response.status_code == 404
    assert {"status", "message", "correlationId", "category"} <= response.json().keys()


def test_opted_out_email_is_imported_but_stays_opted_out(hub, client, tmp_path):
    requests.post(
        f"{hub.url}/communication-preferences/v4/statuses/gone@x.com/unsubscribe-all",
        params={"channel": "EMAIL"}, headers=auth(),
    ).raise_for_status()
    run_import(client, tmp_path, "g.csv", "Email,First Name,Stage\nGONE@x.com,G,\n", COLUMNS,
               marketableContactImport=True)

    contact = read_contacts(client, "gone@x.com", properties=("email", "hs_email_optout"))
    assert contact["gone@x.com"]["hs_email_optout"] == "true"
    wide = requests.get(
        f"{hub.url}/communication-preferences/v4/statuses/gone@x.com/unsubscribe-all",
        params={"channel": "EMAIL"}, headers=auth(),
    ).json()
    assert wide["results"][0]["status"] == "UNSUBSCRIBED"


@pytest.mark.parametrize("limit", [{"max_import_rows": 2}, {"max_import_bytes": 40}])
def test_file_over_the_per_file_limits_is_refused_with_429(hub, client, tmp_path, limit):
    hub.emulator.configure(**limit)
    path = write_csv(tmp_path, "big.csv", "Email,First Name,Stage\n" + "a@x.com,A,\n" * 3)
    with pytest.raises(ApiException) as raised:
        client.crm.imports.core_api.create(files=path, import_request=import_request("big.csv", COLUMNS))
    assert raised.value.status == 429
    assert "split" in json.loads(raised.value.body)["message"].lower()


def test_state_dump_shows_contacts_opt_outs_lists_and_imports(hub, client, tmp_path):
    run_import(client, tmp_path, "s.csv", "Email,First Name,Stage\na@x.com,A,\n", COLUMNS,
               createContactListFromImport=True, marketableContactImport=True)
    requests.post(f"{hub.url}/communication-preferences/v4/statuses/o@x.com/unsubscribe-all",
                  params={"channel": "EMAIL"}, headers=auth()).raise_for_status()
    state = requests.get(f"{hub.url}/_emulator/state").json()
    [contact] = state["contacts"]
    assert contact["properties"]["hs_marketable_status"] == "true"
    assert list(state["optOuts"]) == ["o@x.com"]
    assert state["lists"][0]["members"] == [contact["id"]]
    assert state["imports"][0]["state"] == "DONE"
