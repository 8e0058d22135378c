"""The load through the Prefect engine: faults, a DAILY stop, a SIGKILL, reruns and dry runs.

Each test proves it with the emulator's own request counts and state dump: what was sent, how
often, and what the portal holds in the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from benchmarks.generate_mailchimp import write_export
from emulators.hubspot import serve_in_background
from flows.migrate import migrate_contacts
from schemas.params import MigrationParameters
from tasks.errors import LoadError
from tests.flows.test_migrate import expected_outcomes

TOKEN = "test-token"
# Reads sent as POST: everything else that is not a GET writes.
READ_ROUTES = ("batch/read", "unsubscribe-all/read", "/search")


@pytest.fixture(autouse=True)
def environment(tmp_path, monkeypatch):
    """The token, and a rate-budget folder of the test's own."""
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("ONRAMP_STATE_DIR", str(tmp_path / "budgets"))


def writes(hub) -> dict[tuple[str, str], int]:
    """Successful writes the emulator answered, by (method, route)."""
    counts: dict[tuple[str, str], int] = {}
    for (method, route, status), count in hub.emulator.request_counts.items():
        if method != "GET" and status < 300 and not any(part in route for part in READ_ROUTES):
            counts[(method, route)] = counts.get((method, route), 0) + count
    return counts


def portal_state(hub) -> dict:
    """What the portal holds, without ids and timestamps: contacts by email, opt-outs, lists."""
    state = requests.get(f"{hub.url}/_emulator/state", timeout=30).json()
    volatile = {"hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate"}
    contacts = {c["properties"]["email"]: {k: v for k, v in c["properties"].items() if k not in volatile} for c in state["contacts"]}
    emails = {c["id"]: c["properties"]["email"] for c in state["contacts"]}
    lists = {item["name"]: sorted(emails[m] for m in item["members"]) for item in state["lists"]}
    return {"contacts": contacts, "opt_outs": sorted(state["optOuts"]), "lists": lists}


def params(tmp_path: Path, hub, out: str = "out", **options) -> MigrationParameters:
    return MigrationParameters(sources=[str(tmp_path / "export.zip")], output=str(tmp_path / out), portal_url=hub.url, **options)


def assert_every_row_accounted_for(hub, report: dict, truth) -> None:
    """Every planned contact is in HubSpot (once) or in the ledger with HubSpot's error, and
    every opt-out is applied."""
    expected = expected_outcomes(truth)
    load = report["load"]
    state = portal_state(hub)
    failed = {(e["file"], e["line"]) for e in load["errors"] if e["scope"] == "row"}
    assert len(failed) == load["rows_failed"]
    contacts = expected["marketing"] | expected["non_marketing"]
    assert len(state["contacts"]) + load["rows_failed"] >= len(contacts)
    assert set(state["contacts"]) <= contacts
    assert set(state["opt_outs"]) >= expected["opted_out"]
    assert {e for e, c in state["contacts"].items() if c["hs_marketable_status"] == "true"} <= expected["marketing"]
    assert load["reconciliation"]["mismatches"] == []


def test_faults_and_a_daily_stop_end_with_every_row_loaded_once(prefect_api_url, tmp_path, monkeypatch):
    truth = write_export(tmp_path / "export.zip", rows=150, seed=5)
    with serve_in_background(tier="starter", error_rate=0.05, drop_rate=0.03, fault_seed=3) as hub:
        hub.emulator.fail_next_imports(1)
        # Properties and opt-outs take ~12 requests: the quota runs out among the imports.
        hub.emulator.configure(daily_quota_at=14)
        with pytest.raises(LoadError, match="daily"):
            migrate_contacts(params(tmp_path, hub, load_path="imports"))
        stopped = json.loads((tmp_path / "out" / "report.json").read_text())
        assert "daily" in stopped["load_stopped"] and "load" not in stopped
        before = writes(hub)

        # The next day: HubSpot's quota has reset, and the budget's memory of it is stale.
        hub.emulator.configure(daily_quota_at=None)
        monkeypatch.setenv("ONRAMP_STATE_DIR", str(tmp_path / "next-day"))
        report = migrate_contacts(params(tmp_path, hub, load_path="imports"))

        assert_every_row_accounted_for(hub, report, truth)
        after = writes(hub)
        # Properties and opt-outs finished before the stop: not one of them was sent again.
        # The static list comes after the imports: made once, by the run that got that far.
        for route in [r for r in after if "imports" not in r[1] and "lists" not in r[1]]:
            assert after[route] == before.get(route, 0), route
        assert after[("POST", "/crm/v3/lists")] == 1
        # Each file was submitted once, plus once more for the import HubSpot FAILED.
        assert after[("POST", "/crm/v3/imports")] == len(report["load"]["imports"]) + 1


def run_cli(tmp_path: Path, hub, prefect_api_url: str) -> subprocess.Popen:
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url, "HUBSPOT_ACCESS_TOKEN": TOKEN}
    command = [sys.executable, "-m", "flows.cli", "migrate", str(tmp_path / "export.zip"), "--out", str(tmp_path / "out"),
               "--portal-url", hub.url, "--load-path", "imports"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_load_killed_mid_way_resumes_without_resending_finished_steps(prefect_api_url, tmp_path):
    truth = write_export(tmp_path / "export.zip", rows=150, seed=5)
    # The uninterrupted run, into a portal of its own; a dry run first says what it will do.
    with serve_in_background() as reference:
        preview = migrate_contacts(params(tmp_path, reference, out="ref", dry_run=True))
        assert writes(reference) == {}
        expected = expected_outcomes(truth)
        assert preview["dry_run"]["contacts"]["create"] == len(expected["marketing"] | expected["non_marketing"])
        assert preview["dry_run"]["billing_delta"] == len(expected["marketing"])
        assert preview["dry_run"]["opt_outs"]["opt_out"] == len(expected["opted_out"])
        migrate_contacts(params(tmp_path, reference, out="ref", load_path="imports"))
        uninterrupted = portal_state(reference)

    with serve_in_background() as hub:
        hub.emulator.imports.hold()
        process = run_cli(tmp_path, hub, prefect_api_url)
        try:
            # Killed once both imports are submitted (and held PROCESSING): properties and
            # opt-outs are done, the imports are HubSpot's to finish.
            wait_for(lambda: len(hub.emulator.portal.imports) == 2)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(30)
        assert process.returncode == -signal.SIGKILL
        before = writes(hub)
        hub.emulator.imports.release()

        rerun = run_cli(tmp_path, hub, prefect_api_url)
        output, _ = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, output
        assert TOKEN not in output
        # The static list comes after the imports: the killed run never got to it, the rerun
        # made and filled it once; nothing the killed run had finished was sent again.
        finished = writes(hub)
        list_writes = {("POST", "/crm/v3/lists"): 1, ("PUT", "/crm/v3/lists/{list_id}/memberships/add"): 1}
        assert finished == {**before, **list_writes}, "the rerun sent something the killed run had finished"
        assert portal_state(hub) == uninterrupted

        # A finished migration run again writes nothing, and a dry run finds nothing to do.
        again = migrate_contacts(params(tmp_path, hub, load_path="imports"))
        assert writes(hub) == finished
        assert again["load"]["rows_failed"] == 0
        dry = migrate_contacts(params(tmp_path, hub, dry_run=True))["dry_run"]
        assert dry["contacts"]["create"] == dry["contacts"]["update"] == 0
        assert dry["opt_outs"]["opt_out"] == dry["billing_delta"] == 0
        assert writes(hub) == finished
