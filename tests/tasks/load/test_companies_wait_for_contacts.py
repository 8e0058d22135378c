"""Companies are made only for contacts HubSpot holds, and every row of a file is counted once in
load.companies: a file whose import did not finish sends nothing and counts its rows waiting,
with the reason, until the rerun that sends its contacts does its companies; a row that failed
in a finished import makes no company and is counted missing. Into the emulator over HTTP."""

from __future__ import annotations

from tasks.load import load_plan
from tasks.load.upsert import IMPORTS
from tasks.report import load_lines
from tests.tasks.load.conftest import count_requests
from tests.tasks.load.reruns import already_done, load_in_a_flow
from tests.tasks.load.test_tags_lists_companies import MARKETING, POLL, plan_dir

ROWS = [["ann@acme.io", "Ann", "Acme", ""], ["ben@beta.com", "Ben", "", ""], ["dan@gmail.com", "Dan", "Solo", ""]]
COUNTED = ("associated", "not_associated", "without_company", "missing", "waiting")


def company_domains(client) -> list[str]:
    return sorted(company.properties["domain"] for company in client.crm.companies.basic_api.get_page(limit=100, properties=["domain"]).results)


def counted(file: dict) -> dict[str, int]:
    """How a file's rows are counted in load.companies, the counts that are not zero."""
    return {key: file[key] for key in COUNTED if file[key]}


def test_a_file_hubspot_refused_to_import_gets_no_company_until_the_rerun_loads_it(prefect_api_url, portal, emulator, client, tmp_path):
    plan, state = str(plan_dir(tmp_path / "plan", ROWS)), str(tmp_path / "state")
    # The portal's imports a day used up: HubSpot refuses to start the file's import.
    emulator.configure(max_imports_per_day=0)

    first = load_in_a_flow(portal, plan, state, IMPORTS, import_companies=True)

    [result] = first["imports"]
    assert (result["state"], first["rows_failed"]) == ("REJECTED", 3)
    # Nothing asked of HubSpot for it: no company made for contacts that are not there.
    assert company_domains(client) == [] and count_requests(emulator, "POST", "/crm/v3/objects/companies") == 0
    [file] = first["companies"]["files"]
    assert counted(file) == {"waiting": 3} and first["companies"]["waiting"] == 3
    assert file["waiting_reason"].startswith("waiting for the rerun: its import ended REJECTED, its rows are counted failed")
    assert (file["domains"], file["created"], first["companies"]["created"]) == (0, 0, 0)
    assert (first["lists"][0]["added"], first["lists"][0]["waiting"]) == (0, 3)
    said = load_lines(first)
    assert any(line.startswith("  list ") and line.endswith(", 3 waiting for their file's import (the same command adds them)") for line in said)
    assert any(line.startswith("  companies: 0 created") and line.endswith(", 3 contact(s) waiting for their file's import (the same command does them)") for line in said)

    emulator.configure(max_imports_per_day=None)
    again = load_in_a_flow(portal, plan, state, IMPORTS, import_companies=True)

    [file] = again["companies"]["files"]
    assert ("companies", MARKETING) not in already_done(again)
    assert counted(file) == {"associated": 2, "without_company": 1} and file["waiting_reason"] is None
    assert company_domains(client) == ["acme.io", "beta.com"]
    assert (again["lists"][0]["added"], again["lists"][0]["waiting"]) == (3, 0)


def test_a_row_that_failed_in_a_finished_import_makes_no_company_and_is_counted_missing(portal, emulator, client, tmp_path):
    # HubSpot refuses the row with no valid email; its website names a company nobody else has.
    rows = [*ROWS, ["not-an-email", "Orphan", "Orphan Ltd", "https://orphan.example"]]

    report = load_plan(portal, plan_dir(tmp_path / "plan", rows), poll_interval=POLL, import_companies=True)

    [result] = report["imports"]
    assert (result["state"], result["rows_failed"]) == ("DONE", 1)
    assert company_domains(client) == ["acme.io", "beta.com"]
    [file] = report["companies"]["files"]
    assert counted(file) == {"associated": 2, "without_company": 1, "missing": 1}
    assert sum(counted(file).values()) == result["rows"]
    assert (file["domains"], file["created"], report["companies"]["missing"]) == (2, 2, 1)
    assert "  companies: 2 created, 0 existing, 2 contacts associated, 1 contact(s) not in HubSpot (their rows failed)" in load_lines(report)
