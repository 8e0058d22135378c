"""Enumeration options, static lists and companies, loaded into the emulator over real HTTP."""

from __future__ import annotations

import pytest
import requests

from tasks.errors import LoadError
from tasks.load import ensure_properties, load_plan, read_plan
from tasks.load.companies import CREATED, ORIGINS, companies_report, company_links, load_companies
from tasks.load.lists import ensure_lists
from tests.tasks.load.conftest import TOKEN, count_requests
from tests.tasks.load.plans import write_csv, write_plan

POLL = 0.02
GROUP = {"name": "mailchimp", "label": "Mailchimp"}
MARKETING = "hubspot/contacts-marketing-001.csv"
NON_MARKETING = "hubspot/contacts-non-marketing-001.csv"
LIST_NAME = "Onramp — Mailchimp marketing contacts (plan 0123abcd)"


def options(*values):
    return [{"label": v, "value": v, "hidden": False, "displayOrder": order} for order, v in enumerate(values)]


def tags_property(*values):
    return {"name": "mailchimp_tags", "label": "Tags", "type": "enumeration", "fieldType": "checkbox",
            "groupName": "mailchimp", "options": options(*values)}


def plan_dir(directory, marketing_rows, non_marketing_rows=(), header=("email", "firstname", "company", "website")):
    contacts = {
        MARKETING: ({"outcome": "marketing", "marketable": True, "create_list": False, "list": "marketing",
                     "name": "Onramp test marketing 001"}, list(header), [list(row) for row in marketing_rows]),
    }
    if non_marketing_rows:
        contacts[NON_MARKETING] = ({"outcome": "non_marketing", "marketable": False, "create_list": False,
                                    "name": "Onramp test non-marketing 001"}, list(header), [list(row) for row in non_marketing_rows])
    lists = [{"key": "marketing", "name": LIST_NAME, "outcome": "marketing", "files": [MARKETING]}]
    return write_plan(directory, contacts=contacts, group=GROUP, lists=lists)


def stored_options(client):
    return [o.value for o in client.crm.properties.core_api.get_by_name("contacts", "mailchimp_tags").options]


def test_missing_tag_options_are_added_to_an_existing_property_and_none_removed(portal, emulator, client, tmp_path):
    # A portal whose tags property another migration made, with an option this plan lacks.
    ensure_properties(portal, read_plan(write_plan(tmp_path / "earlier", group=GROUP, properties=[tags_property("Old", "vip")])))
    rows = [["ann@example.com", "vip;2025 waiver"], ["ben@example.com", "New"]]
    plan = write_plan(tmp_path / "now", group=GROUP, properties=[tags_property("2025 waiver", "New", "vip")],
                      contacts={MARKETING: ({"outcome": "marketing", "marketable": True}, ["email", "mailchimp_tags"], rows)})

    first = load_plan(portal, plan, poll_interval=POLL)
    again = ensure_properties(portal, read_plan(plan))

    assert first["properties"]["options_added"] == {"mailchimp_tags": ["2025 waiver", "New"]}
    assert stored_options(client) == ["Old", "vip", "2025 waiver", "New"]
    assert first["rows_failed"] == 0 and first["rows_with_value_errors"] == 0
    # Nothing missing the second time: no update sent.
    assert again["options_added"] == {} and count_requests(emulator, "PATCH", "/crm/v3/properties") == 1
    ann = client.crm.contacts.basic_api.get_by_id("ann@example.com", id_property="email", properties=["mailchimp_tags"])
    assert sorted(ann.properties["mailchimp_tags"].split(";")) == ["2025 waiver", "vip"]


def test_marketing_contacts_go_to_one_static_list_named_after_the_plan(portal, emulator, client, tmp_path):
    # A person's list with a similar name is left alone: the plan's name carries its hash.
    requests.post(f"{portal.url}/crm/v3/lists", headers={"Authorization": f"Bearer {TOKEN}"},
                  json={"name": "Onramp — Mailchimp marketing contacts", "objectTypeId": "0-1", "processingType": "MANUAL"}).raise_for_status()
    plan = plan_dir(tmp_path, [["ann@example.com", "Ann", "", ""], ["ben@example.com", "Ben", "", ""], ["broken", "X", "", ""]],
                    [["dan@example.com", "Dan", "", ""]])

    report = load_plan(portal, plan, poll_interval=POLL)

    [static] = report["lists"]
    assert (static["name"], static["created"], static["added"], static["missing"]) == (LIST_NAME, True, 2, 1)
    members = client.crm.lists.memberships_api.get_page(static["list_id"], limit=100).results
    ids = {client.crm.contacts.basic_api.get_by_id(email, id_property="email").id for email in ("ann@example.com", "ben@example.com")}
    assert {member.record_id for member in members} == ids


def test_a_list_already_made_for_the_plan_is_found_again_not_made_twice(portal, emulator, tmp_path):
    plan = read_plan(plan_dir(tmp_path / "plan", [["ann@example.com", "Ann", "", ""]]))
    state = tmp_path / "state"

    first = ensure_lists(portal, plan, state)
    # A rerun after a kill between the create and the cache: the journal knows the list.
    again = ensure_lists(portal, plan, state)

    assert first["marketing"]["created"] and not again["marketing"]["created"]
    assert again["marketing"]["list_id"] == first["marketing"]["list_id"]
    assert count_requests(emulator, "POST", "/crm/v3/lists") == 1


def test_a_list_renamed_in_hubspot_is_found_again_by_its_recorded_id(portal, emulator, tmp_path):
    plan = read_plan(plan_dir(tmp_path / "plan", [["ann@example.com", "Ann", "", ""]]))
    # A remote output's sync state: the journal is written through fsspec, like its snapshot.
    journal = f"memory://{tmp_path.name}/.onramp-sync/key"

    first = ensure_lists(portal, plan, journal)
    # A person renames it in HubSpot.
    portal.request("PUT", f"/crm/v3/lists/{first['marketing']['list_id']}/update-list-name", params={"listName": "Spring newsletter"})
    again = ensure_lists(portal, plan, journal)

    assert (again["marketing"]["list_id"], again["marketing"]["name"], again["marketing"]["created"]) == (
        first["marketing"]["list_id"], "Spring newsletter", False)
    assert count_requests(emulator, "POST", "/crm/v3/lists") == 1


def test_a_list_deleted_in_hubspot_is_made_again_under_the_planned_name(portal, emulator, tmp_path):
    plan = read_plan(plan_dir(tmp_path / "plan", [["ann@example.com", "Ann", "", ""]]))
    state = tmp_path / "state"

    first = ensure_lists(portal, plan, state)
    portal.request("DELETE", f"/crm/v3/lists/{first['marketing']['list_id']}")
    remade = ensure_lists(portal, plan, state)
    again = ensure_lists(portal, plan, state)

    assert remade["marketing"]["created"] and remade["marketing"]["name"] == LIST_NAME
    assert remade["marketing"]["list_id"] != first["marketing"]["list_id"]
    # The journal now points at the new list.
    assert (again["marketing"]["list_id"], again["marketing"]["created"]) == (remade["marketing"]["list_id"], False)
    assert count_requests(emulator, "POST", "/crm/v3/lists") == 2


def test_a_list_name_held_by_a_company_list_stops_the_step_in_one_line_not_a_loop(portal, emulator, tmp_path):
    # HubSpot's list names are unique across object types: the create is answered 409, and the
    # contacts' by-name lookup finds nothing, every time.
    portal.request("POST", "/crm/v3/lists", json={"name": LIST_NAME, "objectTypeId": "0-2", "processingType": "MANUAL"})
    plan = read_plan(plan_dir(tmp_path / "plan", [["ann@example.com", "Ann", "", ""]]))

    with pytest.raises(LoadError) as stopped:
        ensure_lists(portal, plan, tmp_path / "state")

    assert str(stopped.value) == (
        f"cannot create the HubSpot contact list {LIST_NAME!r}: another list in the portal, not a contact list, "
        "already has that name (HubSpot list names are unique across lists of every object type); "
        "rename or delete that list in HubSpot, then run the load again"
    )
    assert count_requests(emulator, "POST", "/crm/v3/lists", 409) == 1
    assert count_requests(emulator, "GET", "/name/") == 2


@pytest.mark.parametrize(
    ("row", "domain", "name"),
    [
        (["a@acme.io", "Acme", ""], "acme.io", "Acme"),
        (["b@gmail.com", "Acme", "https://www.Acme.io/about?x=1"], "acme.io", "Acme"),
        (["c@gmail.com", "Solo", ""], None, None),
        (["d@beta.co.uk", "", "not a website"], "beta.co.uk", None),
        (["'=e@gamma.com", "'-Gamma", ""], "gamma.com", "-Gamma"),
    ],
)
def test_a_contact_company_is_keyed_by_website_else_a_non_free_mail_domain(tmp_path, row, domain, name):
    path = tmp_path / "contacts.csv"
    write_csv(path, ["email", "company", "website"], [row])
    links = company_links(path).to_dicts()
    assert links == ([{"email": row[0].lstrip("'").lower(), "domain": domain, "name": name, "line": 2}] if domain else [])


def test_companies_are_created_once_across_runs_and_contacts_associated(portal, emulator, client, tmp_path):
    first_rows = [["ann@acme.io", "Ann", "Acme", ""], ["ben@acme.io", "Ben", "", ""], ["cat@gmail.com", "Cat", "Beta", "beta.com"],
                  ["dan@gmail.com", "Dan", "Solo", ""]]
    second_rows = [["eve@acme.io", "Eve", "Acme Inc", ""], ["fay@beta.com", "Fay", "", ""], ["gus@gamma.org", "Gus", "Gamma", ""]]

    first = load_plan(portal, plan_dir(tmp_path / "one", first_rows), poll_interval=POLL, import_companies=True)
    # Another migration (another plan, no shared state) into the same portal.
    second = load_plan(portal, plan_dir(tmp_path / "two", second_rows), poll_interval=POLL, import_companies=True)

    assert (first["companies"]["created"], first["companies"]["associated"], first["companies"]["without_company"]) == (2, 3, 1)
    assert (second["companies"]["created"], second["companies"]["existing"], second["companies"]["associated"]) == (1, 2, 3)
    companies = client.crm.companies.basic_api.get_page(limit=100, properties=["domain", "name"]).results
    by_domain = {company.properties["domain"]: company for company in companies}
    assert sorted(company.properties["domain"] for company in companies) == ["acme.io", "beta.com", "gamma.org"]
    assert by_domain["acme.io"].properties["name"] == "Acme"

    def company_of(email):
        contact = client.crm.contacts.basic_api.get_by_id(email, id_property="email").id
        answer = requests.get(f"{portal.url}/crm/v4/objects/contacts/{contact}/associations/companies",
                              headers={"Authorization": f"Bearer {TOKEN}"}).json()["results"]
        return [by_domain_id(by_domain, result["toObjectId"]) for result in answer]

    assert {email: company_of(email) for email in ("ann@acme.io", "cat@gmail.com", "dan@gmail.com", "eve@acme.io", "fay@beta.com")} == {
        "ann@acme.io": ["acme.io"], "cat@gmail.com": ["beta.com"], "dan@gmail.com": [], "eve@acme.io": ["acme.io"], "fay@beta.com": ["beta.com"],
    }


def by_domain_id(by_domain, company_id):
    return next(domain for domain, company in by_domain.items() if company.id == str(company_id))


def test_companies_whose_create_was_answered_504_after_it_landed_are_found_not_made_twice(portal, emulator, client, tmp_path):
    plan = plan_dir(tmp_path / "plan", [["ann@acme.io", "Ann", "Acme", ""], ["cat@gmail.com", "Cat", "Beta", "beta.com"]])
    load_plan(portal, plan, poll_interval=POLL)
    # HubSpot creates the batch, then its gateway times out: the answer with the ids is lost.
    emulator.write_faults.add(1)

    companies = load_companies(portal, read_plan(plan), tmp_path / "state")

    stored = client.crm.companies.basic_api.get_page(limit=100, properties=["domain"]).results
    assert sorted(company.properties["domain"] for company in stored) == ["acme.io", "beta.com"]
    assert (companies["created"], companies["associated"], companies["files"][0]["problems"]) == (2, 2, [])


def test_company_totals_count_each_company_once_across_the_files_that_share_it(portal, emulator, client, tmp_path):
    # gamma.org is in HubSpot before the migration; acme.io and beta.com are in both files.
    client.crm.companies.basic_api.create({"properties": {"domain": "gamma.org", "name": "Gamma"}})
    marketing = [["ann@acme.io", "Ann", "Acme", ""], ["cat@gmail.com", "Cat", "Beta", "beta.com"], ["gus@gamma.org", "Gus", "", ""]]
    non_marketing = [["eve@acme.io", "Eve", "", ""], ["fay@beta.com", "Fay", "", ""], ["hal@gamma.org", "Hal", "", ""]]

    report = load_plan(portal, plan_dir(tmp_path / "plan", marketing, non_marketing), poll_interval=POLL, import_companies=True)

    companies = report["companies"]
    assert len(client.crm.companies.basic_api.get_page(limit=100).results) == 3
    assert (companies["domains"], companies["created"], companies["existing"], companies["associated"]) == (3, 2, 1, 6)
    # Per file: the first created two and found one; the second created none and found the
    # same one (the other two are this migration's, not HubSpot's from before).
    assert [(file["created"], file["existing"]) for file in companies["files"]] == [(2, 1), (0, 1)]
    assert all("origins" not in file for file in companies["files"])


def test_company_totals_add_a_step_finished_by_an_older_onramp_as_it_counted_itself():
    legacy = {"file": "a.csv", "domains": 2, "created": 1, "existing": 1, "associated": 3, "without_company": 0, "problems": []}
    current = {**legacy, "file": "b.csv", "domains": 1, "created": 1, "existing": 0, "associated": 1, ORIGINS: {"beta.com": CREATED}}
    totals = companies_report([legacy, current])
    assert (totals["domains"], totals["created"], totals["existing"], totals["associated"]) == (3, 2, 1, 4)
