"""A run with no HubSpot token stops before it plans or asks HubSpot anything: a usage problem
(exit status 2) in one line naming the variable and the Secret block looked for."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from functools import partial

import pytest

from benchmarks.generate_mailchimp import write_export
from flows.accounts import migrate_accounts
from flows.cli import SAMPLE_EXPORT
from flows.migrate import migrate_contacts
from flows.sync import sync_contacts
from schemas.manifest import AccountsParameters
from schemas.params import MigrationParameters, SyncParameters
from tasks.errors import InputError
from tasks.load.settings import DEFAULT_SECRET_BLOCK, TOKEN_ENV_VAR


def test_migrate_without_a_token_exits_2_before_it_plans(tmp_path, hubspot, prefect_api_url):
    env = {name: value for name, value in os.environ.items() if name != TOKEN_ENV_VAR}
    out = tmp_path / "out"
    asked_before = hubspot.emulator.request_counts.total()

    result = subprocess.run(
        [sys.executable, "-m", "flows.cli", "migrate", str(SAMPLE_EXPORT), "--out", str(out), "--portal-url", hubspot.url],
        capture_output=True, text=True, env={**env, "PREFECT_API_URL": prefect_api_url}, timeout=300,
    )

    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("onramp: error: ")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(
        f"onramp: error: {hubspot.url}: no HubSpot access token: set {TOKEN_ENV_VAR} or create a Prefect Secret block "
        f"named {DEFAULT_SECRET_BLOCK!r} ("
    )
    assert "Traceback" not in result.stderr + result.stdout
    assert list(out.rglob("*")) == []  # not planned (the command may have made the folder)
    assert hubspot.emulator.request_counts.total() == asked_before


@pytest.mark.parametrize(
    ("flow", "parameters"),
    [(migrate_contacts, partial(MigrationParameters, dry_run=True)), (sync_contacts, SyncParameters)],
    ids=["migrate --dry-run", "sync"],
)
def test_a_dry_run_and_a_sync_need_the_token_too(flow, parameters, tmp_path, hubspot, prefect_api_url, monkeypatch):
    # A dry run reads the portal (which contacts exist, which are opted out): it needs the token as a load does.
    monkeypatch.delenv(TOKEN_ENV_VAR, raising=False)
    out = tmp_path / "out"

    with pytest.raises(InputError, match=f"^{re.escape(hubspot.url)}: no HubSpot access token: set {TOKEN_ENV_VAR} or create"):
        flow(parameters(sources=[str(SAMPLE_EXPORT)], output=str(out), portal_url=hubspot.url))

    assert not out.exists()


def test_an_account_without_a_token_fails_alone(tmp_path, hubspot, prefect_api_url, monkeypatch):
    for seed, name in ((1, "acme"), (2, "globex")):
        write_export(tmp_path / f"{name}.zip", rows=20, seed=seed)
    accounts = "".join(
        f"  - name: {name}\n    sources: [{tmp_path / name}.zip]\n"
        f"    portal: {{url: \"{hubspot.url}\", token_env: {name.upper()}_TOKEN}}\n"
        for name in ("acme", "globex")
    )
    (tmp_path / "accounts.yaml").write_text(f"accounts:\n{accounts}", encoding="utf-8")
    monkeypatch.setenv("ACME_TOKEN", "token-acme")
    monkeypatch.delenv("GLOBEX_TOKEN", raising=False)

    rollup = migrate_accounts(AccountsParameters(manifest=str(tmp_path / "accounts.yaml"), output=str(tmp_path / "out")))

    assert {account["name"]: account["status"] for account in rollup["accounts"]} == {"acme": "migrated", "globex": "failed"}
    # Its own variable is the only place read: no word of a Secret block, which may hold another client's token.
    assert rollup["accounts"][1]["error"] == f"{hubspot.url}: no HubSpot access token: set GLOBEX_TOKEN"
    assert not (tmp_path / "out" / "globex").exists()
