"""A contacts file whose import did not finish is not recorded done, so a rerun on the same state
folder sends it again (and the steps that need its contacts with it), while an import that did
finish is never sent twice: load_steps in a Prefect flow, and the imports as plain calls, into the
emulator over HTTP."""

from __future__ import annotations

import pytest

from tasks.load.imports import import_contacts_file
from tasks.load.resume import ImportJournal, step_finished
from tasks.load.upsert import IMPORTS, UPSERT
from tests.tasks.load.reruns import already_done, load_in_a_flow
from tests.tasks.load.test_load_emulator import read_contacts
from tests.tasks.load.test_resume import small_plan
from tests.tasks.load.test_tags_lists_companies import MARKETING, NON_MARKETING, plan_dir

MARKETING_ROWS = [["ann@acme.io", "Ann", "", ""], ["ben@beta.com", "Ben", "", ""]]
NON_MARKETING_ROWS = [["cat@acme.io", "Cat", "", ""]]
EMAILS = ["ann@acme.io", "ben@beta.com", "cat@acme.io"]
POLL = 0.02
IMPORT_CREATED = ("POST", "/crm/v3/imports", 200)


def by_file(report: dict) -> dict[str, dict]:
    return {result["file"]: result for result in report["imports"]}


def marketing_status(client) -> dict[str, str | None]:
    contacts = read_contacts(client, EMAILS)
    return {email: contacts[email].properties.get("hs_marketable_status") if email in contacts else None for email in EMAILS}


def list_members(client, list_id: str) -> set[str]:
    return {member.record_id for member in client.crm.lists.memberships_api.get_page(list_id, limit=100).results}


def imports_created(emulator) -> int:
    """Imports HubSpot created (not a cancel, also a POST under the same path)."""
    return emulator.request_counts[IMPORT_CREATED]


def test_imports_that_failed_are_sent_again_by_the_rerun_with_their_list_members(prefect_api_url, portal, emulator, client, tmp_path):
    plan, state = str(plan_dir(tmp_path / "plan", MARKETING_ROWS, NON_MARKETING_ROWS)), str(tmp_path / "state")
    # Each file's import FAILED, and FAILED again when submitted once more.
    emulator.fail_next_imports(4)

    first = load_in_a_flow(portal, plan, state, IMPORTS)

    assert [result["state"] for result in first["imports"]] == ["FAILED", "FAILED"]
    assert first["rows_failed"] == 3 and not emulator.portal.live("0-1")
    assert (first["lists"][0]["added"], first["lists"][0]["waiting"]) == (0, 2)

    again = load_in_a_flow(portal, plan, state, IMPORTS)

    # Only what finished was found done: the properties and the list itself.
    assert already_done(again) == [("properties", None), ("list", "marketing")]
    assert [result["state"] for result in again["imports"]] == ["DONE", "DONE"] and again["rows_failed"] == 0
    assert marketing_status(client) == {"ann@acme.io": "true", "ben@beta.com": "true", "cat@acme.io": "false"}
    assert again["lists"][0]["added"] == 2
    assert again["reconciliation"]["contacts_checked"] == 3 and again["reconciliation"]["mismatches"] == []
    created = imports_created(emulator)

    third = load_in_a_flow(portal, plan, state, IMPORTS)

    assert all(step["already_done"] for step in third["steps"])
    assert imports_created(emulator) == created == 6


def test_a_failed_marketing_status_import_fails_its_rows_and_the_rerun_sets_the_status(prefect_api_url, portal, emulator, client, tmp_path):
    plan, state = str(plan_dir(tmp_path / "plan", MARKETING_ROWS, NON_MARKETING_ROWS)), str(tmp_path / "state")
    # The marketing file's marketing-status import FAILED, and FAILED again when submitted once more.
    emulator.fail_next_imports(2)

    first = load_in_a_flow(portal, plan, state, UPSERT)

    marketing = by_file(first)[MARKETING]
    assert (marketing["state"], marketing["rows_failed"], marketing["rows_with_value_errors"]) == ("FAILED", 2, 0)
    assert first["rows_failed"] == 2 and first["rows_with_value_errors"] == 0
    assert {(error["line"], error["scope"]) for error in first["errors"] if error["line"]} == {(2, "row"), (3, "row")}
    # Upserted, but not marketing contacts: not the load of a marketing file, nor in its list.
    assert marketing_status(client) == {"ann@acme.io": "false", "ben@beta.com": "false", "cat@acme.io": "false"}
    [static] = first["lists"]
    assert list_members(client, static["list_id"]) == set()
    assert (static["added"], static["missing"], static["waiting"]) == (0, 0, 2)
    assert static["list_id"] not in marketing["list_ids"]

    again = load_in_a_flow(portal, plan, state, UPSERT)

    assert already_done(again) == [("properties", None), (UPSERT, NON_MARKETING), ("list", "marketing")]
    assert by_file(again)[MARKETING]["state"] == "DONE" and again["rows_failed"] == 0
    assert marketing_status(client) == {"ann@acme.io": "true", "ben@beta.com": "true", "cat@acme.io": "false"}
    # Marketing contacts now: the rerun put them in the list.
    assert (again["lists"][0]["added"], again["lists"][0]["missing"], again["lists"][0]["waiting"]) == (2, 0, 0)
    assert len(list_members(client, static["list_id"])) == 2


def test_an_import_hubspot_refused_to_start_is_submitted_again(portal, emulator, tmp_path):
    plan = small_plan(tmp_path)
    journal = ImportJournal(tmp_path / "state", portal.url)
    # Over the file's row limit: refused at creation (a 429 naming the limit).
    limit = emulator.settings.max_import_rows
    emulator.configure(max_import_rows=1)

    refused = import_contacts_file(portal, plan, plan.imports[0], poll_interval=POLL, journal=journal)
    emulator.configure(max_import_rows=limit)
    again = import_contacts_file(portal, plan, plan.imports[0], poll_interval=POLL, journal=journal)

    assert (refused["state"], refused["import_id"], refused["rows_failed"]) == ("REJECTED", None, 2)
    assert not step_finished(refused)
    assert step_finished(again) and again["rows_failed"] == 0
    assert imports_created(emulator) == 1


def test_an_import_left_running_is_taken_up_once_done_and_never_submitted_twice(portal, emulator, tmp_path):
    plan = small_plan(tmp_path)
    journal = ImportJournal(tmp_path / "state", portal.url)
    emulator.imports.hold()
    try:
        unfinished = import_contacts_file(portal, plan, plan.imports[0], poll_interval=POLL, timeout=0.2, journal=journal)
    finally:
        emulator.imports.release()

    again = import_contacts_file(portal, plan, plan.imports[0], poll_interval=POLL, journal=journal)

    assert unfinished["state"] == "PROCESSING" and not step_finished(unfinished)
    assert {error["error_type"] for error in unfinished["errors"]} == {"IMPORT_NOT_FINISHED"}
    assert again["import_id"] == unfinished["import_id"] and step_finished(again)
    assert imports_created(emulator) == 1


def test_an_import_canceled_after_the_load_stopped_waiting_is_submitted_again(portal, emulator, client, tmp_path):
    plan = small_plan(tmp_path)
    journal = ImportJournal(tmp_path / "state", portal.url)
    emulator.imports.hold()
    try:
        unfinished = import_contacts_file(portal, plan, plan.imports[0], poll_interval=POLL, timeout=0.2, journal=journal)
        # Someone canceled it in HubSpot before the rerun.
        client.crm.imports.core_api.cancel(int(unfinished["import_id"]))
    finally:
        emulator.imports.release()

    again = import_contacts_file(portal, plan, plan.imports[0], poll_interval=POLL, journal=journal)

    assert again["import_id"] != unfinished["import_id"] and step_finished(again)
    assert again["counters"]["CREATED_OBJECTS"] == 2
    assert imports_created(emulator) == 2


@pytest.mark.parametrize(
    ("state", "finished"),
    [("DONE", True), ("FAILED", False), ("CANCELED", False), ("REVERTED", False), ("REJECTED", False), ("PROCESSING", False)],
)
def test_only_an_import_that_ended_done_finishes_its_step(state, finished):
    assert step_finished({"state": state, "rows_failed": 1}) is finished
