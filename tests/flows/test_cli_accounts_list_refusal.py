"""`onramp migrate-accounts` in-process against the HubSpot emulator when HubSpot will not take an
opted-out contact out of the list an earlier migration of the account filled: it exits 1 as
`onramp migrate` does, the account's ledger and the totals saying how many; the next run, HubSpot
taking removals again, migrates the account again and takes the contact out."""

from __future__ import annotations

import json

from flows.cli import EXIT_LOAD_FAILED, EXIT_OK, main
from tests.flows.test_sync_refused_opt_out import write_export
from tests.tasks.load.test_list_removal_failures import removals_by_list

LEAVER = "leaver@example.com"


def test_a_refused_list_removal_fails_migrate_accounts_as_it_fails_migrate(prefect_api_url, hubspot, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "accounts-token")
    out = tmp_path / "out"
    write_export(tmp_path / "before", {LEAVER: "Denver", "stays@example.com": "Boston"})
    assert main(["migrate", str(tmp_path / "before"), "--out", str(out / "acme"), "--portal-url", hubspot.url]) == EXIT_OK
    [made] = hubspot.emulator.portal.lists.values()
    removals_by_list(hubspot.emulator, monkeypatch, refusing=made.list_id)
    write_export(tmp_path / "after", {"stays@example.com": "Boston"}, [LEAVER])
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(f"accounts:\n  - name: acme\n    sources: [{tmp_path / 'after'}]\n    portal:\n      url: {hubspot.url}\n")
    capsys.readouterr()

    exit_status = main(["migrate-accounts", str(manifest), "--out", str(out)])
    printed = capsys.readouterr().out

    assert exit_status == EXIT_LOAD_FAILED
    rollup = json.loads((out / "rollup.json").read_text())
    [acme] = rollup["accounts"]
    assert (acme["status"], acme["ledger"]["rows_failed"], acme["ledger"]["list_removals_failed"]) == ("migrated", 0, 1)
    assert rollup["totals"]["list_removals_failed"] == 1
    assert "acme                 migrated  2 rows read, 0 failed, 1 contact(s) HubSpot would not take out of a list" in printed
    assert LEAVER in {hubspot.emulator.portal.get("0-1", record_id).properties["email"] for record_id in made.members}

    # HubSpot takes removals again: the account is run again for them (its other steps done),
    # the contact taken out, and the command ends well.
    monkeypatch.undo()
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "accounts-token")

    assert main(["migrate-accounts", str(manifest), "--out", str(out)]) == EXIT_OK
    [acme] = json.loads((out / "rollup.json").read_text())["accounts"]
    assert (acme["status"], acme["ledger"]["list_removals_failed"]) == ("migrated", 0)
    assert LEAVER not in {hubspot.emulator.portal.get("0-1", record_id).properties["email"] for record_id in made.members}
