"""An account of ``migrate-accounts`` whose load stops keeps the steps it finished, as a
single migration does: its rerun takes them up instead of sending them again."""

from __future__ import annotations

import json

from benchmarks.generate_mailchimp import write_export
from emulators.hubspot import serve_in_background
from flows.accounts import migrate_accounts
from schemas.manifest import AccountsParameters
from tests.flows.test_accounts import QUOTA_AMONG_UPSERTS


def test_an_account_whose_load_stopped_takes_up_its_finished_steps_on_the_rerun(prefect_api_url, tmp_path, monkeypatch):
    monkeypatch.setenv("ACME_TOKEN", "token-acme")
    monkeypatch.setenv("ONRAMP_STATE_DIR", str(tmp_path / "budgets"))
    write_export(tmp_path / "acme.zip", rows=250, seed=4)
    with serve_in_background() as hub:
        hub.emulator.configure(daily_quota_at=QUOTA_AMONG_UPSERTS)
        manifest = tmp_path / "accounts.yaml"
        manifest.write_text(
            f'accounts:\n  - name: acme\n    sources: ["{tmp_path / "acme.zip"}"]\n    portal: {{url: "{hub.url}", token_env: ACME_TOKEN}}\n',
            encoding="utf-8",
        )
        params = AccountsParameters(manifest=str(manifest), output=str(tmp_path / "out"))
        report_file = tmp_path / "out" / "acme" / "report.json"

        assert migrate_accounts(params)["failed"] == ["acme"]
        done = json.loads(report_file.read_text())["load_done"]["steps_done"]
        assert done, "the load stopped before any step finished: give it more quota"
        # The next day: HubSpot's quota has reset, and the budget's memory of it is stale.
        hub.emulator.configure(daily_quota_at=None)
        monkeypatch.setenv("ONRAMP_STATE_DIR", str(tmp_path / "next-day"))

        assert migrate_accounts(params)["failed"] == []

    steps = json.loads(report_file.read_text())["load"]["steps"]
    assert [(step["step"], step["subject"]) for step in steps if step["already_done"]] == [(step["step"], step["subject"]) for step in done]
