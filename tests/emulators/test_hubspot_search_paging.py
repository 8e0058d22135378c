"""Paging a CRM search past its 10,000-result cap, as HubSpot allows: sorted by ``hs_object_id``
ascending, each query starting after the last id the one before it saw."""

from __future__ import annotations

import requests

from tests.emulators.conftest import auth

SEARCH = "/crm/v3/objects/contacts/search"


def search(hub, body):
    answer = requests.post(hub.url + SEARCH, json=body, headers=auth())
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_number_property_sorts_by_its_number_and_a_gt_filter_on_the_id_pages_on(hub):
    created = requests.post(
        hub.url + "/crm/v3/objects/contacts/batch/create",
        json={"inputs": [{"properties": {"email": f"u{n}@x.com"}} for n in range(12)]},
        headers=auth(),
    ).json()["results"]
    ids = sorted(int(contact["id"]) for contact in created)
    by_id = {"propertyName": "hs_object_id", "direction": "ASCENDING"}

    first = search(hub, {"sorts": [by_id], "limit": 5, "properties": ["email"]})
    above = first["results"][-1]["id"]
    rest = search(
        hub,
        {
            "filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": above}]}],
            "sorts": [by_id],
            "limit": 200,
        },
    )

    # Ids past 9 follow 9, not 1: as text, "10" would sort before "2".
    assert [int(r["id"]) for r in first["results"]] == ids[:5]
    assert [int(r["id"]) for r in rest["results"]] == ids[5:] and rest["total"] == 7
    descending = search(hub, {"sorts": [{**by_id, "direction": "DESCENDING"}], "limit": 3})
    assert [int(r["id"]) for r in descending["results"]] == ids[::-1][:3]
