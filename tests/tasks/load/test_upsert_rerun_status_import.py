"""A rerun of the batch-upsert path after a stop takes up the marketing-status import the stopped
run submitted for the file, though its read-back now differs (someone unsubscribed meanwhile, or
a row sends now that did not then), and imports only the emails that import does not hold.
Loaded into the emulator over real HTTP, the first run stopped as Ctrl-C stops it."""

from __future__ import annotations

import csv
import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import fsspec
import pytest

from tasks import stopping
from tasks.load.opted_out import REPORT_KEY
from tasks.load.plan import read_plan
from tasks.load.resume import ImportJournal
from tasks.load.upsert import UPSERT, upsert_contacts_file
from tests.reliability.portal import wait_for
from tests.tasks.load.test_opted_out import SOURCE, contact, is_marketing, opted_out_in_hubspot
from tests.tasks.load.test_opted_out_rerun import (
    FIRST,
    PEOPLE,
    S2,
    load_a_file_at_a_time,
    marketing_plan,
    released_soon,  # noqa: F401 - the fixture, shared
    stopped_with_an_import_in_flight,
)

POLL = 0.02
DEE = "dee@example.com"


def imported_emails(emulator, import_id) -> list[str]:
    """The emails an import's file held, in its order."""
    [(_, data, _)] = emulator.portal.imports[import_id].files
    return [row[0] for row in list(csv.reader(io.StringIO(data.decode("utf-8"))))[1:]]


def mismatches(report) -> list[tuple[str, str, int]]:
    return sorted((m["check"], m["file"], m["line"]) for m in report["reconciliation"]["mismatches"])


def test_a_rerun_takes_up_the_stopped_status_import_though_someone_in_it_unsubscribed_meanwhile(
    prefect_api_url, portal, emulator, tmp_path, monkeypatch, released_soon  # noqa: F811 - the fixture
):
    portal.request("POST", "/crm/v3/objects/contacts", json={"properties": {"email": S2}})
    plan, state = marketing_plan(tmp_path / "plan", {FIRST: PEOPLE}), str(tmp_path / "state")
    stopped_with_an_import_in_flight(portal, emulator, monkeypatch, plan, state, UPSERT)
    [in_flight] = emulator.portal.imports
    assert imported_emails(emulator, in_flight) == PEOPLE
    # S2 unsubscribes in HubSpot while the stopped run's status import, which names S2, processes.
    opted_out_in_hubspot(portal, S2, contact=False)

    released_soon()
    again = load_a_file_at_a_time(portal, plan, state, UPSERT)

    # One import for the file, the stopped run's, taken up; none beside it.
    assert list(emulator.portal.imports) == [in_flight]
    [result] = again["imports"]
    assert (result["path"], str(result["import_id"]), result["earlier_import_ids"], result["state"]) == (UPSERT, str(in_flight), [], "DONE")
    # It made S2 marketing after S2 unsubscribed: not counted kept non-marketing, named by the read-back.
    assert is_marketing(emulator, S2) and S2 in emulator.portal.opt_outs
    assert again[REPORT_KEY]["count"] == 0 and result[REPORT_KEY] == []
    assert mismatches(again) == [("opted-out-made-marketing", FIRST, 4)]
    assert again["rows_failed"] == 0


def test_a_rerun_imports_only_the_emails_the_stopped_status_import_does_not_hold(
    prefect_api_url, portal, emulator, tmp_path, monkeypatch, released_soon  # noqa: F811 - the fixture
):
    # Dee is unsubscribed by address with no contact: the lookup cannot see her, the upsert
    # creates her, and the read-back keeps her out of the first run's status import.
    portal.request("POST", f"/communication-preferences/v4/statuses/{DEE}/unsubscribe-all", params={"channel": "EMAIL"})
    plan, state = marketing_plan(tmp_path / "plan", {FIRST: [*PEOPLE, DEE]}), str(tmp_path / "state")
    stopped_with_an_import_in_flight(portal, emulator, monkeypatch, plan, state, UPSERT)
    [in_flight] = emulator.portal.imports
    assert imported_emails(emulator, in_flight) == PEOPLE
    # Another tool makes Dee marketing before the rerun: the rerun's read-back no longer keeps her.
    contact(emulator, DEE).properties["hs_marketable_status"] = "true"

    released_soon()
    again = load_a_file_at_a_time(portal, plan, state, UPSERT)

    # The stopped run's import is taken up; a second one holds Dee alone, not the file again.
    first, second = emulator.portal.imports
    assert first == in_flight and imported_emails(emulator, second) == [DEE]
    [result] = again["imports"]
    assert (str(result["import_id"]), [str(i) for i in result["earlier_import_ids"]], result["state"]) == (str(second), [str(in_flight)], "DONE")
    assert all(is_marketing(emulator, email) for email in PEOPLE)
    assert again[REPORT_KEY]["count"] == 0 and again["rows_failed"] == 0
    assert mismatches(again) == [("opted-out-made-marketing", FIRST, 7)]


def stopped_while_the_status_import_processes(portal, emulator, monkeypatch, plan, journal) -> None:
    """Upsert the plan's file until HubSpot holds its status import PROCESSING, then stop as
    Ctrl-C does; the import is left held."""
    emulator.imports.hold()
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(upsert_contacts_file, portal, plan, plan.imports[0], poll_interval=POLL, journal=journal)
        wait_for(lambda: len(emulator.portal.imports) == 1, timeout=60)
        stopping.request_stop()
        with pytest.raises(BaseException):  # noqa: B017,PT011 - the stop
            first.result(timeout=60)
    monkeypatch.setattr(stopping, "_stop_requested", threading.Event())


def killed_before_the_import_id_was_written(journal: ImportJournal) -> None:
    """The journal as a run killed between HubSpot's creating the import and writing its id left it."""
    fs, folder = fsspec.core.url_to_fs(journal.directory)
    [location] = fs.ls(folder, detail=False)
    record = json.loads(fs.cat_file(location))
    record.pop("import_id")
    fs.pipe_file(location, json.dumps(record).encode())


@pytest.mark.parametrize("output", ["local", "remote"])
def test_a_status_import_created_before_a_kill_is_found_by_name_and_taken_up(
    portal, emulator, tmp_path, monkeypatch, released_soon, output  # noqa: F811 - the fixture
):
    portal.request("POST", "/crm/v3/objects/contacts", json={"properties": {"email": S2}})
    plan = read_plan(marketing_plan(tmp_path / "plan", {FIRST: PEOPLE}))
    records = str(tmp_path / "state") if output == "local" else f"memory://{tmp_path.name}/state"
    journal = ImportJournal(records, portal.url)
    stopped_while_the_status_import_processes(portal, emulator, monkeypatch, plan, journal)
    killed_before_the_import_id_was_written(journal)
    [in_flight] = emulator.portal.imports
    opted_out_in_hubspot(portal, S2, contact=False)

    released_soon()
    result = upsert_contacts_file(portal, plan, plan.imports[0], poll_interval=POLL, journal=journal)

    assert list(emulator.portal.imports) == [in_flight]
    assert (str(result["import_id"]), result["state"], result[REPORT_KEY]) == (str(in_flight), "DONE", [])
    assert is_marketing(emulator, S2)


def test_a_status_import_never_created_is_sent_afresh_and_keeps_one_unsubscribed_since(portal, emulator, tmp_path):
    portal.request("POST", "/crm/v3/objects/contacts", json={"properties": {"email": S2}})
    plan = read_plan(marketing_plan(tmp_path / "plan", {FIRST: PEOPLE}))
    journal = ImportJournal(tmp_path / "state", portal.url)
    # The day's imports used up: the intent is journalled, HubSpot refuses the import, as a run
    # killed between the two would leave it with no import in HubSpot.
    emulator.configure(max_imports_per_day=0)
    first = upsert_contacts_file(portal, plan, plan.imports[0], poll_interval=POLL, journal=journal)
    assert first["state"] == "REJECTED" and not emulator.portal.imports
    opted_out_in_hubspot(portal, S2, contact=False)
    emulator.configure(max_imports_per_day=None)

    result = upsert_contacts_file(portal, plan, plan.imports[0], poll_interval=POLL, journal=journal)

    [sent] = emulator.portal.imports
    assert imported_emails(emulator, sent) == [email for email in PEOPLE if email != S2]
    assert (str(result["import_id"]), result["earlier_import_ids"], result["state"]) == (str(sent), [], "DONE")
    assert [(row["line"], row["sources"]) for row in result[REPORT_KEY]] == [(4, [f"{SOURCE}:4"])]
    assert not is_marketing(emulator, S2)


def test_a_canceled_status_import_is_not_taken_up(portal, emulator, tmp_path, monkeypatch):
    portal.request("POST", "/crm/v3/objects/contacts", json={"properties": {"email": S2}})
    plan = read_plan(marketing_plan(tmp_path / "plan", {FIRST: PEOPLE}))
    journal = ImportJournal(tmp_path / "state", portal.url)
    stopped_while_the_status_import_processes(portal, emulator, monkeypatch, plan, journal)
    [canceled] = emulator.portal.imports
    portal.request("POST", f"/crm/v3/imports/{canceled}/cancel")
    emulator.imports.release()
    opted_out_in_hubspot(portal, S2, contact=False)

    result = upsert_contacts_file(portal, plan, plan.imports[0], poll_interval=POLL, journal=journal)

    _, sent = emulator.portal.imports
    assert imported_emails(emulator, sent) == [email for email in PEOPLE if email != S2]
    assert (str(result["import_id"]), result["earlier_import_ids"], result["state"]) == (str(sent), [], "DONE")
    assert [row["line"] for row in result[REPORT_KEY]] == [4] and not is_marketing(emulator, S2)
