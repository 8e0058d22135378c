"""The emulator's admin route that sets a contact marketing or not as a person does in HubSpot's
UI (the API cannot), and what a marketing import then makes of such a contact: marketing again,
billed again, as HubSpot does."""

from __future__ import annotations

import requests

from tests.emulators.conftest import auth, run_import
from tests.emulators.test_hubspot_imports import COLUMNS, read_contacts

ROUTE = "/_emulator/contacts/marketing-status"
PROPERTIES = ("email", "hs_marketable_status", "hs_marketable_until_renewal")


def set_by_hand(hub, email, marketable, **more):
    return requests.post(f"{hub.url}{ROUTE}", json={"email": email, "marketable": marketable, **more}, timeout=10)


def test_a_contact_set_non_marketing_by_hand_reads_so_and_a_marketing_import_makes_it_marketing_again(hub, client, tmp_path):
    run_import(client, tmp_path, "m.csv", "Email,First Name,Stage\nann@x.com,Ann,\n", COLUMNS, marketableContactImport=True)

    answer = set_by_hand(hub, "ANN@x.com", False)

    assert answer.status_code == 200 and answer.json()["properties"]["hs_marketable_status"] == "false"
    assert read_contacts(client, "ann@x.com")["ann@x.com"]["hs_marketable_status"] == "false"
    # A non-marketing import leaves it so; a marketing import naming it makes it marketing.
    run_import(client, tmp_path, "n.csv", "Email,First Name,Stage\nann@x.com,Anne,\n", COLUMNS, marketableContactImport=False)
    assert read_contacts(client, "ann@x.com")["ann@x.com"]["hs_marketable_status"] == "false"
    run_import(client, tmp_path, "m2.csv", "Email,First Name,Stage\nann@x.com,Ann,\n", COLUMNS, marketableContactImport=True)
    assert read_contacts(client, "ann@x.com")["ann@x.com"]["hs_marketable_status"] == "true"


def test_a_marketing_contact_set_non_marketing_at_the_next_update_date_stays_marketing_until_then(hub, client, tmp_path):
    run_import(client, tmp_path, "m.csv", "Email,First Name,Stage\nann@x.com,Ann,\n", COLUMNS, marketableContactImport=True)

    answer = set_by_hand(hub, "ann@x.com", False, at_next_update=True)

    assert answer.status_code == 200
    read = read_contacts(client, "ann@x.com", properties=PROPERTIES)["ann@x.com"]
    assert (read["hs_marketable_status"], read["hs_marketable_until_renewal"]) == ("true", "true")
    # A marketing import naming it undoes the change waiting for the update date.
    run_import(client, tmp_path, "m2.csv", "Email,First Name,Stage\nann@x.com,Ann,\n", COLUMNS, marketableContactImport=True)
    read = read_contacts(client, "ann@x.com", properties=PROPERTIES)["ann@x.com"]
    assert (read["hs_marketable_status"], read["hs_marketable_until_renewal"]) == ("true", "false")
    assert set_by_hand(hub, "ann@x.com", False, at_next_update="soon").status_code == 400


def test_the_api_still_cannot_set_the_status_and_the_route_refuses_what_it_cannot_do(hub, client):
    created = requests.post(
        f"{hub.url}/crm/v3/objects/contacts", json={"properties": {"email": "bob@x.com"}}, headers=auth(), timeout=10
    ).json()

    patched = requests.patch(
        f"{hub.url}/crm/v3/objects/contacts/{created['id']}",
        json={"properties": {"hs_marketable_status": "true"}},
        headers=auth(),
        timeout=10,
    )

    assert patched.status_code == 400
    assert set_by_hand(hub, "nobody@x.com", False).status_code == 404
    assert set_by_hand(hub, "bob@x.com", "no").status_code == 400
    assert set_by_hand(hub, "bob@x.com", True).json()["properties"]["hs_marketable_status"] == "true"
