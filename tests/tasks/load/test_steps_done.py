"""A rerun's load report says which steps an earlier run had done (their counts are that run's)
and which it did now: load_steps twice on one state folder, in a Prefect flow, into the emulator."""

from __future__ import annotations

import shutil

import pytest
from prefect import flow

from tasks.load.client import HubSpotPortal
from tasks.load.ratelimit import DailyQuotaSpent
from tasks.load.run import LoadStopped, load_steps, resumed_note
from tasks.load.upsert import UPSERT
from tests.tasks.load.conftest import count_requests
from tests.tasks.load.reruns import load_in_a_flow
from tests.tasks.load.test_tags_lists_companies import plan_dir

MARKETING_ROWS = [["ann@acme.io", "Ann", "Acme", ""], ["ben@beta.com", "Ben", "", ""]]
NON_MARKETING_ROWS = [["cat@acme.io", "Cat", "", ""]]


@flow(validate_parameters=False)
def load_twice(portal: HubSpotPortal, plan: str, state: str) -> tuple[dict, dict]:
    first = load_steps(portal, plan, state_dir=state, poll_interval=0.02, import_companies=True)
    again = load_steps(portal, plan, state_dir=state, poll_interval=0.02, import_companies=True)
    return first, again


def test_a_rerun_says_every_step_was_already_done_and_that_its_counts_are_the_first_runs(prefect_api_url, portal, emulator, tmp_path):
    plan = plan_dir(tmp_path / "plan", MARKETING_ROWS, NON_MARKETING_ROWS)

    first, again = load_twice(portal, str(plan), str(tmp_path / "state"))

    steps = [(step["step"], step["subject"]) for step in first["steps"]]
    assert steps[0] == ("properties", None) and ("list", "marketing") in steps
    assert {step for step, _ in steps} >= {"properties", "list", "list-members", "companies"}
    assert again["steps"] == [{**step, "already_done": True} for step in first["steps"]]
    assert not any(step["already_done"] for step in first["steps"])
    assert resumed_note(first) is None
    # The rerun's counts are the first run's, and its summary says so.
    assert again["companies"]["created"] == first["companies"]["created"] == 2
    assert resumed_note(again) == (
        f"  already done in an earlier run, not sent again: {len(steps)} of {len(steps)} steps (properties, "
        "2 contacts files, 1 list, 1 file's list members, 2 files' companies); their counts above are from that run"
    )


def test_a_rerun_of_the_upsert_path_takes_up_the_marketing_status_import_an_earlier_run_submitted(prefect_api_url, portal, emulator, tmp_path):
    plan = plan_dir(tmp_path / "plan", MARKETING_ROWS, NON_MARKETING_ROWS)
    state = tmp_path / "state"
    first = load_in_a_flow(portal, str(plan), str(state), UPSERT)
    # As if killed once the marketing-status import was submitted: no step's result was kept
    # (Prefect writes it when the step ends), the import journal was.
    shutil.rmtree(state / "results")
    shutil.rmtree(state / "keys")

    again = load_in_a_flow(portal, str(plan), str(state), UPSERT)

    [first_marketing] = [result for result in first["imports"] if result["marketable"]]
    [marketing] = [result for result in again["imports"] if result["marketable"]]
    assert marketing["import_id"] == first_marketing["import_id"] is not None
    assert count_requests(emulator, "POST", "/crm/v3/imports", 200) == 1


def test_a_load_stopped_by_the_daily_quota_says_what_it_had_done(prefect_api_url, portal, emulator, tmp_path):
    rows = [[f"p{n}@example.com", f"P{n}", "", ""] for n in range(250)]
    plan = plan_dir(tmp_path / "plan", rows)
    # Which portal, the search for contacts opted out in HubSpot, then the properties (two
    # reads, a group, a batch): the quota runs out after the first upsert batches.
    emulator.configure(daily_quota_at=6)

    with pytest.raises(LoadStopped) as stopped:
        load_in_a_flow(portal, str(plan), str(tmp_path / "state"), UPSERT)

    done = stopped.value.done
    landed = len(emulator.portal.live("0-1"))
    assert 0 < done["contacts_sent"] == landed < 250 and done["contacts_planned"] == 250
    assert [step["step"] for step in done["steps_done"]] == ["properties"]
    assert isinstance(stopped.value.reason, DailyQuotaSpent)
    assert str(stopped.value).startswith(str(stopped.value.reason))
    assert str(stopped.value).endswith(f"(before the stop: done properties; {landed} of 250 contacts sent)")


def test_a_load_stopped_while_it_looks_for_contacts_opted_out_in_hubspot_says_it_had_done_nothing(prefect_api_url, portal, emulator, tmp_path):
    plan = plan_dir(tmp_path / "plan", MARKETING_ROWS, NON_MARKETING_ROWS)
    # Which portal, then the search for contacts opted out in HubSpot: the quota runs out there.
    emulator.configure(daily_quota_at=2)

    with pytest.raises(LoadStopped) as stopped:
        load_in_a_flow(portal, str(plan), str(tmp_path / "state"), UPSERT)

    assert stopped.value.done == {"steps_done": [], "contacts_sent": 0, "contacts_planned": 3, "opt_out_rows_sent": 0}
    assert "/search" in str(stopped.value.reason)
    assert str(stopped.value).endswith("(before the stop: done nothing; 0 of 3 contacts sent)")


def test_the_note_counts_only_the_steps_an_earlier_run_did():
    load = {
        "steps": [
            {"step": "properties", "subject": None, "already_done": True},
            {"step": "opt-outs", "subject": "hubspot/opt-out-unsubscribed.csv", "already_done": True},
            {"step": "opt-outs", "subject": "hubspot/opt-out-cleaned.csv", "already_done": True},
            {"step": "imports", "subject": "hubspot/contacts-marketing-001.csv", "already_done": True},
            {"step": "upsert", "subject": "hubspot/contacts-non-marketing-001.csv", "already_done": False},
        ]
    }
    assert resumed_note(load) == (
        "  already done in an earlier run, not sent again: 4 of 5 steps (properties, 2 opt-out files, 1 contacts file); "
        "their counts above are from that run"
    )
    assert resumed_note({"steps": [{**step, "already_done": False} for step in load["steps"]]}) is None
    assert resumed_note({}) is None  # a load without steps (load_plan)
