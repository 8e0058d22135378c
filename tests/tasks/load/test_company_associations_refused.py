"""Contacts HubSpot will not associate with their company (an association limit the portal's admin
set, a company it will not create) are accounted for: each by its planned file, line, source rows
and why in report.json, counted on the console's load line and in report.html, and their step is
left unrecorded, so the same command associates them once the portal allows it. Into the emulator
over real HTTP."""

from __future__ import annotations

import requests

from flows.cli import _print_summary
from tasks.load import load_plan
from tasks.load.client import HubSpotPortal
from tasks.load.companies import ASSOCIATION_REFUSED, COMPANY_NOT_CREATED, Association, refusals
from tasks.report_html import render_report_html
from tests.tasks.load.conftest import TOKEN
from tests.tasks.load.reruns import already_done, load_in_a_flow
from tests.tasks.load.test_tags_lists_companies import MARKETING, POLL, plan_dir

# HubSpot's association limits API; 280 is the default (unlabeled) company-to-contact type.
LIMITS_PATH = "/crm/associations/v4/definitions/configurations/companies/contacts/batch/create"
COMPANY_TO_CONTACT = 280
SOURCE = "file:///exports/audience.zip"
# acme.io's second contact is one more than a limit of one contact per company allows.
ROWS = [["ann@acme.io", "Ann", "Acme", ""], ["ben@acme.io", "Ben", "", ""], ["cat@beta.com", "Cat", "", ""]]


def limit_contacts_per_company(portal: HubSpotPortal, most: int) -> None:
    """What a portal's admin does in HubSpot: at most ``most`` contacts per company."""
    answer = requests.post(
        portal.url + LIMITS_PATH,
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={"inputs": [{"category": "HUBSPOT_DEFINED", "typeId": COMPANY_TO_CONTACT, "maxToObjectIds": most}]},
    )
    assert answer.status_code == 200, answer.text


def companies_of(portal: HubSpotPortal, client, email: str) -> list[str]:
    contact = client.crm.contacts.basic_api.get_by_id(email, id_property="email").id
    answer = requests.get(f"{portal.url}/crm/v4/objects/contacts/{contact}/associations/companies",
                          headers={"Authorization": f"Bearer {TOKEN}"})
    return [client.crm.companies.basic_api.get_by_id(result["toObjectId"], properties=["domain"]).properties["domain"]
            for result in answer.json()["results"]]


def run_report(load: dict) -> dict:
    contacts = {"marketing": 3, "non_marketing": 0, "opted_out": 0}
    return {"rows_read": 3, "rows_rejected": 0, "duplicates_merged": 0, "contacts": contacts, "sources": [], "load": load}


def console_load_line(report: dict, capsys) -> str:
    _print_summary(report, "out")
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("HubSpot")]
    return line


def test_a_contact_over_the_portals_association_limit_is_reported_by_line_and_counted(portal, emulator, client, tmp_path, capsys):
    limit_contacts_per_company(portal, 1)

    load = load_plan(portal, plan_dir(tmp_path / "plan", ROWS), poll_interval=POLL, import_companies=True)

    companies = load["companies"]
    assert (load["rows_failed"], companies["associated"], companies["not_associated"]) == (0, 2, 1)
    [error] = companies["errors"]
    assert {key: error[key] for key in ("file", "line", "error_type", "scope", "domain", "sources")} == {
        "file": MARKETING, "line": 3, "error_type": ASSOCIATION_REFUSED, "scope": "association", "domain": "acme.io",
        "sources": [f"{SOURCE}:3"],
    }
    assert "the limit configured for this association type" in error["message"]
    assert "@" not in str(companies["errors"])
    assert companies_of(portal, client, "ben@acme.io") == [] and companies_of(portal, client, "cat@beta.com") == ["beta.com"]
    assert console_load_line(run_report(load), capsys).endswith(
        "0 row(s) failed, 1 row(s) not associated with their company (report.json load.companies.errors)"
    )
    page = render_report_html(run_report(load))
    assert "<p class='bad'>0 row(s) failed in HubSpot." in page
    assert "1 row(s) loaded but not associated with their company" in page


def test_a_contact_whose_company_hubspot_would_not_create_is_reported_too(portal, emulator, tmp_path):
    # A company name longer than a text property holds: HubSpot refuses to create the company.
    rows = [["ann@acme.io", "Ann", "A" * 70_000, ""], ["cat@beta.com", "Cat", "", ""]]

    load = load_plan(portal, plan_dir(tmp_path / "plan", rows), poll_interval=POLL, import_companies=True)

    companies = load["companies"]
    assert (companies["created"], companies["associated"], companies["not_associated"]) == (1, 1, 1)
    assert [(error["line"], error["error_type"], error["domain"]) for error in companies["errors"]] == [(2, COMPANY_NOT_CREATED, "acme.io")]
    assert len(companies["problems"]) == 1


def test_the_rerun_associates_the_contacts_refused_once_the_limit_is_raised(prefect_api_url, portal, emulator, client, tmp_path):
    plan, state = str(plan_dir(tmp_path / "plan", ROWS)), str(tmp_path / "state")
    limit_contacts_per_company(portal, 1)

    first = load_in_a_flow(portal, plan, state, import_companies=True)
    limit_contacts_per_company(portal, 5)
    second = load_in_a_flow(portal, plan, state, import_companies=True)
    third = load_in_a_flow(portal, plan, state, import_companies=True)

    assert first["companies"]["not_associated"] == 1 and ("companies", MARKETING) not in already_done(first)
    # Not recorded done: the rerun associated the contact refused, no company made twice.
    assert ("companies", MARKETING) not in already_done(second)
    assert (second["companies"]["not_associated"], second["companies"]["errors"]) == (0, [])
    assert companies_of(portal, client, "ben@acme.io") == ["acme.io"]
    assert len(client.crm.companies.basic_api.get_page(limit=100).results) == 2
    # Done without a refusal: recorded, not sent again.
    assert ("companies", MARKETING) in already_done(third)


def test_a_refusal_is_told_by_the_error_naming_its_contact_else_by_those_naming_none():
    batch = [Association("ann@acme.io", "11", "91"), Association("ben@acme.io", "12", "91"), Association("cat@beta.com", "13", "92")]
    answer = {
        "results": [{"from": {"id": "11"}, "to": {"id": "91"}}],
        "errors": [
            {"message": "contact 12 is at its limit", "context": {"fromObjectId": ["12"], "toObjectId": ["91"]}},
            {"message": "something else went wrong", "context": {}},
        ],
    }

    assert refusals(batch, answer) == {"ben@acme.io": "contact 12 is at its limit", "cat@beta.com": "something else went wrong"}
    assert refusals(batch, {"results": []}) == dict.fromkeys(["ann@acme.io", "ben@acme.io", "cat@beta.com"], "HubSpot gave no reason")
