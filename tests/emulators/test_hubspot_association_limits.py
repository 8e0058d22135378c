"""Association limits a portal's admin configures (HubSpot's association limits API): the emulator
refuses, per input of a batch, a new association that would take a record past its limit."""

from __future__ import annotations

import requests

from tests.emulators.conftest import auth

LIMITS = "/crm/associations/v4/definitions/configurations/contacts/companies/batch/create"
ASSOCIATE = "/crm/v4/associations/contacts/companies/batch/associate/default"
CONTACT_TO_COMPANY = 279


def post(hub, path: str, body: dict) -> requests.Response:
    return requests.post(hub.url + path, headers=auth(), json=body)


def created(hub, object_type: str, properties: dict) -> str:
    return post(hub, f"/crm/v3/objects/{object_type}", {"properties": properties}).json()["id"]


def associate(hub, contact: str, *companies: str) -> dict:
    answer = post(hub, ASSOCIATE, {"inputs": [{"from": {"id": contact}, "to": {"id": company}} for company in companies]})
    assert answer.status_code == 200
    return answer.json()


def test_a_contact_at_its_company_limit_is_refused_a_new_company_not_one_it_has(hub):
    contact = created(hub, "contacts", {"email": "ann@acme.io"})
    acme, beta = created(hub, "companies", {"domain": "acme.io"}), created(hub, "companies", {"domain": "beta.com"})
    limit = post(hub, LIMITS, {"inputs": [{"category": "HUBSPOT_DEFINED", "typeId": CONTACT_TO_COMPANY, "maxToObjectIds": 1}]})
    assert limit.json()["results"] == [
        {"category": "HUBSPOT_DEFINED", "typeId": CONTACT_TO_COMPANY, "label": None, "userEnforcedMaxToObjectIds": 1}
    ]

    answer = associate(hub, contact, acme, beta)
    again = associate(hub, contact, acme)

    assert [result["to"]["id"] for result in answer["results"]] == [acme]
    [refused] = answer["errors"]
    assert (refused["category"], refused["context"]) == ("VALIDATION_ERROR", {"fromObjectId": [contact], "toObjectId": [beta]})
    assert answer["numErrors"] == 1
    assert [result["to"]["id"] for result in again["results"]] == [acme] and "errors" not in again


def test_a_limit_is_for_the_default_type_only_and_a_reset_forgets_it(hub):
    labeled = post(hub, LIMITS, {"inputs": [{"typeId": 1, "maxToObjectIds": 1}]})
    assert labeled.status_code == 400
    assert post(hub, LIMITS, {"inputs": [{"typeId": CONTACT_TO_COMPANY, "maxToObjectIds": 0}]}).status_code == 400
    post(hub, LIMITS, {"inputs": [{"typeId": CONTACT_TO_COMPANY, "maxToObjectIds": 1}]})

    hub.emulator.reset()

    contact = created(hub, "contacts", {"email": "ann@acme.io"})
    companies = [created(hub, "companies", {"domain": domain}) for domain in ("acme.io", "beta.com")]
    assert len(associate(hub, contact, *companies)["results"]) == 2
