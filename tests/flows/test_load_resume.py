"""The load through the Prefect engine: faults, a DAILY stop, a SIGKILL, reruns and dry runs.

Each test proves it with the emulator's own request counts and state dump: what was sent, how
often, and what the portal holds in the end.
"""

from __future__ import annotations

import json
import signal
from collections import Counter

import pytest

from benchmarks.generate_mailchimp import write_export
from emulators.hubspot import serve_in_background
from flows.migrate import migrate_contacts
from tasks.errors import LoadError
from tasks.load.client import ACCOUNT_INFO_PATH
from tasks.load.resume import PORTAL_FILE
from tests.flows.test_migrate import expected_outcomes
from tests.reliability.portal import (
    TOKEN,
    assert_every_row_accounted_for,
    FaultCounter,
    answered_429s,
    params,
    portal_state,
    record,
    rows_lost,
    run_cli,
    wait_for,
    writes,
)


@pytest.fixture(autouse=True)
def environment(tmp_path, monkeypatch):
    """The token, and a rate-budget folder of the test's own."""
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("ONRAMP_STATE_DIR", str(tmp_path / "budgets"))


def test_faults_and_a_daily_stop_end_with_every_row_loaded_once(prefect_api_url, tmp_path, monkeypatch):
    truth = write_export(tmp_path / "export.zip", rows=150, seed=5)
    faults = FaultCounter(monkeypatch)
    with serve_in_background(tier="starter", error_rate=0.05, drop_rate=0.03, fault_seed=3) as hub:
        hub.emulator.fail_next_imports(1)
        # Which portal (account-info), the opted-out search, properties and opt-outs take ~14 requests: the quota runs out among the imports.
        hub.emulator.configure(daily_quota_at=15)
        with pytest.raises(LoadError, match="daily"):
            migrate_contacts(params(tmp_path, hub, load_path="imports"))
        stopped = json.loads((tmp_path / "out" / "report.json").read_text())
        assert "daily" in stopped["load_stopped"] and "load" not in stopped
        # What was done before the stop, as data: the opt-outs first, then the properties, no contact yet.
        done = stopped["load_done"]
        steps = [step["step"] for step in done["steps_done"]]
        assert steps[0] == "opt-outs" and "properties" in steps
        assert done["contacts_planned"] == sum(i["rows"] for i in stopped["files"]["imports"])
        assert f"{done['contacts_sent']} of {done['contacts_planned']} contacts sent" in stopped["load_stopped"]
        before = writes(hub)

        # The next day: HubSpot's quota has reset, and the budget's memory of it is stale.
        hub.emulator.configure(daily_quota_at=None)
        monkeypatch.setenv("ONRAMP_STATE_DIR", str(tmp_path / "next-day"))
        report = migrate_contacts(params(tmp_path, hub, load_path="imports"))

        record(test="faults-failed-import-daily-stop", faults=faults.count + answered_429s(hub) + 1, crashes=0, rows_lost=rows_lost(hub, report, truth))
        assert_every_row_accounted_for(hub, report, truth)
        after = writes(hub)
        # Properties and opt-outs finished before the stop: not one of them was sent again.
        # The static list comes after the imports: made once, by the run that got that far.
        for route in [r for r in after if "imports" not in r[1] and "lists" not in r[1]]:
            assert after[route] == before.get(route, 0), route
        assert after[("POST", "/crm/v3/lists")] == 1
        # Each file was submitted once, plus once more for the import HubSpot FAILED.
        assert after[("POST", "/crm/v3/imports")] == len(report["load"]["imports"]) + 1


def test_a_rotated_token_resumes_and_another_portal_s_token_stops_before_sending(prefect_api_url, tmp_path, monkeypatch):
    write_export(tmp_path / "export.zip", rows=20, seed=5)
    with serve_in_background() as hub:
        migrate_contacts(params(tmp_path, hub, load_path="imports"))
        sent = writes(hub)
        # The same portal, its token rotated: every step is found done, nothing is sent again.
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-rotated-token")
        rotated = migrate_contacts(params(tmp_path, hub, load_path="imports"))
        assert writes(hub) == sent
        assert (rotated["load"]["portal_id"], rotated["load"]["account_type"]) == (123456, "STANDARD")

        # The same --out, the same URL, another portal's token: as after a sandbox rehearsal.
        hub.emulator.configure(portal_id=7654321)
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "production-token")
        before = Counter(hub.emulator.request_counts)
        with pytest.raises(LoadError, match="holds the state of a load into HubSpot portal 123456 .* for portal 7654321"):
            migrate_contacts(params(tmp_path, hub, load_path="imports"))

        assert Counter(hub.emulator.request_counts) - before == Counter({("GET", ACCOUNT_INFO_PATH, 200): 1})
        assert "portal 7654321" in json.loads((tmp_path / "out" / "report.json").read_text())["load_stopped"]


def test_a_run_given_another_portal_s_id_reads_and_sends_nothing(prefect_api_url, tmp_path):
    write_export(tmp_path / "export.zip", rows=20, seed=5)
    with serve_in_background() as hub:
        # The token in HUBSPOT_ACCESS_TOKEN is client B's sandbox; the run is for client A's portal.
        hub.emulator.configure(portal_id=222, account_type="SANDBOX")
        for dry_run in (True, False):
            with pytest.raises(LoadError, match=r"^the token \(HUBSPOT_ACCESS_TOKEN\) is for HubSpot portal 222 \(SANDBOX\), not portal 111 "):
                migrate_contacts(params(tmp_path, hub, portal_id=111, dry_run=dry_run))

        # Each run asked which portal the token is for, and nothing else, before it planned.
        assert Counter(hub.emulator.request_counts) == Counter({("GET", ACCOUNT_INFO_PATH, 200): 2})
    out = tmp_path / "out"
    assert not (out / "report.json").exists()
    assert not (out / ".onramp-load" / PORTAL_FILE).exists()


def test_a_load_killed_mid_way_resumes_without_resending_finished_steps(prefect_api_url, tmp_path):
    truth = write_export(tmp_path / "export.zip", rows=150, seed=5)
    # The uninterrupted run, into a portal of its own; a dry run first says what it will do.
    with serve_in_background() as reference:
        preview = migrate_contacts(params(tmp_path, reference, out="ref", dry_run=True, load_path="imports"))
        assert writes(reference) == {}
        # Forecast on the path the load is told to take (the plan's files are small: auto would upsert).
        assert {entry["path"] for entry in preview["dry_run"]["files"] if "path" in entry} == {"imports"}
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
        report = json.loads((tmp_path / "out" / "report.json").read_text())
        record(test="sigkill-imports-held", faults=0, crashes=1, rows_lost=rows_lost(hub, report, truth))
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
