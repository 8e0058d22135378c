"""A rerun after a stop sends each marketing file as the stopped run split it when that run
submitted an import for it: the import still processing is taken up, not sent again beside a new
split, and a contact who unsubscribed in HubSpot meanwhile is reported as HubSpot holds it.
Loaded into the emulator over real HTTP, the first run stopped as Ctrl-C stops it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from tasks import stopping
from tasks.load import settings
from tasks.load.client import HubSpotPortal
from tasks.load.opted_out import REPORT_KEY
from tasks.load.run import load_steps
from tasks.load.upsert import IMPORTS
from tests.reliability.portal import wait_for
from tests.tasks.load.plans import write_plan
from tests.tasks.load.reruns import POLL
from tests.tasks.load.test_opted_out import SOURCE, contact, is_marketing, opted_out_in_hubspot

FIRST = "hubspot/contacts-marketing-001.csv"
SECOND = "hubspot/contacts-marketing-002.csv"
SECOND_MOVED = "hubspot/contacts-marketing-002-opted-out.csv"
PEOPLE = [f"s{n}@example.com" for n in range(5)]
S2 = "s2@example.com"


def marketing_plan(directory, files):
    """Marketing files (``{file: emails}``), none listed; source row ``n + 1`` for the first
    file's line ``n``."""
    contacts = {
        file: ({"outcome": "marketing", "marketable": True, "create_list": False, "name": f"Onramp {file} {directory.name}"}, ["email"], [[email] for email in emails])
        for file, emails in files.items()
    }
    return str(write_plan(directory, contacts=contacts, source=SOURCE))


@flow(validate_parameters=False, task_runner=ThreadPoolTaskRunner(max_workers=1))
def load_a_file_at_a_time(portal: HubSpotPortal, plan: str, state: str, load_path: str) -> dict:
    """The load as the CLI runs it, its steps one at a time: a stop during the first contacts
    file's step finds the later files unsent, whatever the timing."""
    return load_steps(portal, plan, state_dir=state, load_path=load_path, poll_interval=POLL)


def stopped_with_an_import_in_flight(portal, emulator, monkeypatch, plan: str, state: str, load_path: str) -> None:
    """Run the load until HubSpot holds its first import PROCESSING, then stop it as Ctrl-C
    does (the stop request every wait of the load honours); the import is left held."""
    emulator.imports.hold()
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(load_a_file_at_a_time, portal, plan, state, load_path)
        wait_for(lambda: len(emulator.portal.imports) == 1, timeout=60)
        stopping.request_stop()
        with pytest.raises(BaseException):  # noqa: B017,PT011 - the stop, as Prefect's flow engine raises it
            first.result(timeout=60)
    # A new command: the stop was the earlier process's.
    monkeypatch.setattr(stopping, "_stop_requested", threading.Event())


@pytest.fixture
def released_soon(emulator):
    """Let HubSpot finish the held imports a second after the rerun starts, as a long import does."""
    timer = threading.Timer(1.0, emulator.imports.release)
    yield timer.start
    timer.cancel()
    emulator.imports.release()


def test_a_rerun_takes_up_the_stopped_runs_import_and_reports_a_contact_unsubscribed_meanwhile(
    prefect_api_url, portal, emulator, tmp_path, monkeypatch, released_soon
):
    portal.request("POST", "/crm/v3/objects/contacts", json={"properties": {"email": S2}})
    plan, state = marketing_plan(tmp_path / "plan", {FIRST: PEOPLE}), str(tmp_path / "state")
    stopped_with_an_import_in_flight(portal, emulator, monkeypatch, plan, state, IMPORTS)
    [in_flight] = emulator.portal.imports
    # S2 unsubscribes in HubSpot while the stopped run's import, which names S2, still processes.
    opted_out_in_hubspot(portal, S2, contact=False)

    released_soon()
    again = load_a_file_at_a_time(portal, plan, state, IMPORTS)

    # The file is sent as the stopped run split it: its import is taken up, none other submitted.
    assert list(emulator.portal.imports) == [in_flight]
    [result] = again["imports"]
    assert (result["file"], str(result["import_id"]), result["state"]) == (FIRST, str(in_flight), "DONE")
    kept = again[REPORT_KEY]
    assert [row["file"] for row in kept["sent_as_decided_before"]] == [FIRST]
    # HubSpot made S2 marketing after it unsubscribed: said so, not counted as kept non-marketing.
    assert is_marketing(emulator, S2) and S2 in emulator.portal.opt_outs
    assert kept["count"] == 0
    assert [(m["check"], m["file"], m["line"], m["sources"]) for m in again["reconciliation"]["mismatches"]] == [
        ("opted-out-made-marketing", FIRST, 4, [f"{SOURCE}:4"])
    ]


def test_a_row_kept_non_marketing_that_an_import_in_flight_made_marketing_is_a_mismatch(
    prefect_api_url, portal, emulator, tmp_path, monkeypatch, released_soon
):
    portal.request("POST", "/crm/v3/objects/contacts", json={"properties": {"email": S2}})
    plan = marketing_plan(tmp_path / "plan", {FIRST: [S2, "x1@example.com"], SECOND: [S2, "x2@example.com"]})
    state = str(tmp_path / "state")
    stopped_with_an_import_in_flight(portal, emulator, monkeypatch, plan, state, IMPORTS)
    opted_out_in_hubspot(portal, S2, contact=False)

    released_soon()
    again = load_a_file_at_a_time(portal, plan, state, IMPORTS)

    # The first file is taken up as the stopped run split it; the second, never sent, is split
    # now: S2 is sent as non-marketing, yet the first file's import made it marketing: reported.
    kept = again[REPORT_KEY]
    assert [row["file"] for row in kept["sent_as_decided_before"]] == [FIRST]
    assert [(row["file"], row["line"], row["sent_file"]) for row in kept["rows"]] == [(SECOND, 2, SECOND_MOVED)]
    assert len(emulator.portal.imports) == 3 and is_marketing(emulator, S2)
    assert contact(emulator, "x2@example.com") is not None
    checks = sorted((m["check"], m["file"], m["line"]) for m in again["reconciliation"]["mismatches"])
    assert checks == [("kept-non-marketing-is-marketing", SECOND, 2), ("opted-out-made-marketing", FIRST, 2)]


@pytest.mark.parametrize("ended", ["never created", "FAILED"])
def test_a_rerun_after_an_import_that_did_no_work_decides_again_and_keeps_one_unsubscribed_since(
    prefect_api_url, portal, emulator, tmp_path, monkeypatch, ended
):
    portal.request("POST", "/crm/v3/objects/contacts", json={"properties": {"email": S2}})
    plan, state = marketing_plan(tmp_path / "plan", {FIRST: PEOPLE}), str(tmp_path / "state")
    if ended == "never created":
        # The day's imports used up: HubSpot refuses the import at creation, after its intent.
        emulator.configure(max_imports_per_day=0)
    else:
        # Every try of the import fails: the file ends FAILED.
        emulator.imports.fail_next = settings.IMPORT_FAILED_RETRIES + 1
    first = load_a_file_at_a_time(portal, plan, state, IMPORTS)
    assert first["rows_failed"] == len(PEOPLE)
    # S2 unsubscribes before the rerun: nothing of the first run's is in flight to take up.
    opted_out_in_hubspot(portal, S2, contact=False)
    emulator.configure(max_imports_per_day=None)

    again = load_a_file_at_a_time(portal, plan, state, IMPORTS)

    kept = again[REPORT_KEY]
    assert kept["sent_as_decided_before"] == []
    assert [(row["file"], row["line"]) for row in kept["rows"]] == [(FIRST, 4)]
    assert not is_marketing(emulator, S2) and again["reconciliation"]["mismatches"] == []
