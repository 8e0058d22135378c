"""A token whose app lacks a scope the load needs: ``onramp migrate`` stops in one line naming the
scope (exit 1, no traceback), and a rerun into the same folder with a token that has it finishes
the migration."""

from __future__ import annotations

import os
import subprocess
import sys

import requests

from flows.cli import SAMPLE_EXPORT
from tasks.load.settings import TOKEN_ENV_VAR

# What the sample export plans as marketing contacts (its subscribed members, deduplicated).
MARKETING_CONTACTS = 33


def _migrate(out, portal_url: str, prefect_api_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", "migrate", str(SAMPLE_EXPORT), "--out", str(out), "--portal-url", portal_url],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, TOKEN_ENV_VAR: "a-private-app-token", "PREFECT_API_URL": prefect_api_url},
    )


def _marketing_contacts(portal_url: str) -> int:
    contacts = requests.get(portal_url + "/_emulator/state", timeout=30).json()["contacts"]
    return sum(contact["properties"].get("hs_marketable_status") == "true" for contact in contacts)


def test_migrate_without_crm_import_stops_naming_the_scope_and_a_rerun_finishes(tmp_path, hubspot, prefect_api_url):
    requests.post(hubspot.url + "/_emulator/reset", timeout=30)
    out = tmp_path / "out"
    faults = requests.post(hubspot.url + "/_emulator/faults", json={"missing_scopes": ["crm.import"]}, timeout=30)
    assert faults.json()["missing_scopes"] == ["crm.import"]
    try:
        stopped = _migrate(out, hubspot.url, prefect_api_url)
    finally:
        requests.post(hubspot.url + "/_emulator/faults", json={"missing_scopes": []}, timeout=30)

    assert stopped.returncode == 1, stopped.stderr
    errors = [line for line in stopped.stderr.splitlines() if line.startswith("onramp: error: ")]
    assert len(errors) == 1, stopped.stderr
    assert errors[0].startswith(
        "onramp: error: load failed: POST /crm/v3/imports: the token's app lacks the HubSpot scope crm.import "
        "(403 MISSING_SCOPES): add it to the private app's scopes and rerun"
    )
    assert "Traceback" not in stopped.stderr + stopped.stdout
    assert _marketing_contacts(hubspot.url) == 0

    finished = _migrate(out, hubspot.url, prefect_api_url)

    assert finished.returncode == 0, finished.stderr
    assert _marketing_contacts(hubspot.url) == MARKETING_CONTACTS
