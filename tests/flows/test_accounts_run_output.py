"""A multi-account run's output as a whole: held for the run (a second run into it is refused
at once, each account's own hold apart), a roll-up written when the run is stopped, and an
account's ledger kept when its run fails for an unexpected reason after its plan."""

from __future__ import annotations

import datetime
import json
import os
import time

import pytest
from prefect.states import Completed, Crashed

import flows.migrate
from emulators.hubspot import serve_in_background
from flows.accounts import NOT_FINISHED, NOT_STARTED, account_result, migrate_accounts, roll_up, run_account, run_output_held, stopped_results
from flows.migrate import held
from schemas.manifest import AccountSpec, AccountsParameters
from tasks.load.resume import LoadInProgress
from tasks.output import OutputFolder
from tests.flows.test_accounts import REPORT, write_manifest

ACME = AccountSpec(name="acme", sources=["acme.zip"], portal={"token_env": "ACME_TOKEN"})
GLOBEX = AccountSpec(name="globex", sources=["globex.zip"], portal={"token_env": "GLOBEX_TOKEN"})
INITECH = AccountSpec(name="initech", sources=["initech.zip"], portal={"token_env": "INITECH_TOKEN"})
REFUSED = "another run is loading into this output"
PLANNED = {key: value for key, value in REPORT.items() if key != "load"}


def test_a_run_s_output_held_refuses_a_second_hold_and_a_migration_into_it_but_not_the_accounts_own_holds(tmp_path):
    out = tmp_path / "out"
    with run_output_held(str(out)):
        with pytest.raises(LoadInProgress, match=f"^{REFUSED}"), run_output_held(str(out)):
            pass
        # `onramp migrate --out OUT` holds its output so: refused too.
        with pytest.raises(LoadInProgress, match=f"^{REFUSED}"), held(OutputFolder(str(out))):
            pass
        with held(OutputFolder(str(out / "acme"))), held(OutputFolder(str(out / "globex"))):
            pass
    with run_output_held(str(out)):
        pass


def test_a_remote_run_output_held_leaves_each_account_s_own_hold_apart(aws_environment, s3_server):
    out = f"s3://{s3_server.bucket}/agency-run-{time.time_ns()}"
    with run_output_held(out):
        with held(OutputFolder(f"{out}/acme")):
            pass
        with pytest.raises(LoadInProgress, match=f"^{REFUSED}"), held(OutputFolder(out)):
            pass


def test_a_second_migrate_accounts_into_a_held_output_is_refused_before_any_portal_is_asked(prefect_api_url, tmp_path, monkeypatch):
    monkeypatch.setenv("ACME_TOKEN", "token-acme")
    out = tmp_path / "out"
    with serve_in_background() as hub:
        params = AccountsParameters(manifest=write_manifest(tmp_path / "accounts.yaml", hub.url, {"acme": str(tmp_path / "acme.zip")}),
                                    output=str(out))
        with run_output_held(str(out)), pytest.raises(LoadInProgress) as refused:
            migrate_accounts(params)

        assert hub.emulator.request_counts.total() == 0
    assert str(refused.value).startswith(REFUSED) and "\n" not in str(refused.value)
    assert not (out / "rollup.json").exists() and not (out / "acme").exists()


class TaskFuture:
    """An account's task as the run stopped: its final state, and the result it returned if any."""

    def __init__(self, state, returned: dict | None = None) -> None:
        self.state, self.returned = state, returned

    def result(self) -> dict | None:
        return self.returned


def write_report(folder, report: dict, age_seconds: float = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report), encoding="utf-8")
    if age_seconds:
        written = time.time() - age_seconds
        os.utime(folder / "report.json", (written, written))


def test_a_stopped_run_s_roll_up_keeps_what_ended_and_marks_every_other_account_stopped(tmp_path):
    started = datetime.datetime.now(datetime.UTC)
    done = {"steps_done": ["properties"], "contacts_sent": 1, "contacts_planned": 2}
    # globex's run published its report as the stop ended its load; initech's is an earlier run's.
    write_report(tmp_path / "globex", PLANNED | {"load_stopped": "stopped by a signal (Ctrl-C, SIGTERM)", "load_done": done})
    write_report(tmp_path / "initech", REPORT, age_seconds=3600)
    running = {TaskFuture(Crashed()): GLOBEX, TaskFuture(Crashed()): INITECH}

    lines = stopped_results([ACME, GLOBEX, INITECH], {"acme": account_result("acme", "migrated", REPORT)}, running, str(tmp_path), started)
    rollup = roll_up(lines)

    assert [(line["name"], line["status"], line["error"]) for line in lines] == [
        ("acme", "migrated", None), ("globex", "stopped", NOT_FINISHED), ("initech", "stopped", NOT_FINISHED)]
    assert lines[1]["ledger"]["stopped"] == done and lines[2]["ledger"] is None
    assert rollup["failed"] == ["globex", "initech"]
    assert rollup["totals"]["rows_read"] == 2 * REPORT["rows_read"] and rollup["totals"]["contacts_sent_before_stops"] == 1

    # An account never started is stopped before it started; one whose task ended as the run
    # stopped keeps the result it returned.
    ended = TaskFuture(Completed(), account_result("globex", "migrated", REPORT))
    lines = stopped_results([ACME, GLOBEX], {}, {ended: GLOBEX}, str(tmp_path), started)
    assert [(line["status"], line["error"]) for line in lines] == [("stopped", NOT_STARTED), ("migrated", None)]


@pytest.mark.parametrize(("age_seconds", "kept"), [(0, True), (3600, False)], ids=["its-own-report", "an-earlier-run-s-report"])
def test_an_account_failing_unexpectedly_after_its_plan_keeps_its_plan_s_ledger_never_an_earlier_run_s(tmp_path, monkeypatch, age_seconds, kept):
    out = tmp_path / "out" / "acme"
    if age_seconds:
        write_report(out, REPORT, age_seconds=age_seconds)

    def planned_then_broken(params):
        if not age_seconds:
            write_report(out, PLANNED)  # as the plan writes it, before the load
        raise RuntimeError("GET /crm/v3/imports/50000001: HTTP 404 for ann@example.com")

    monkeypatch.setattr(flows.migrate, "migrate_contacts", planned_then_broken)

    result = run_account(ACME, str(out), None)

    assert (result["status"], result["error"]) == ("failed", "RuntimeError: GET /crm/v3/imports/50000001: HTTP 404 for a***@example.com")
    assert (result["ledger"] is not None) == kept
    if kept:
        assert result["ledger"]["rows_read"] == REPORT["rows_read"] and result["ledger"]["contacts"] == REPORT["contacts"]
