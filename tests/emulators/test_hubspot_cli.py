"""`onramp emulator` flags, through the real command in a subprocess."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from tests.emulators.conftest import auth

PROPERTIES = "/crm/v3/properties/contacts"
_START_SECONDS = 60


@contextmanager
def emulator(*flags: str) -> Iterator[str]:
    """Run ``onramp emulator --port 0 FLAGS`` until the block ends; yield its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "emulator", "--port", "0", *flags],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        # The first line names the port; it is printed just before the server listens.
        url = process.stdout.readline().split(" on ")[1].split()[0]
        deadline = time.monotonic() + _START_SECONDS
        while True:
            try:
                requests.get(url + "/_emulator/state", timeout=5)
                break
            except requests.ConnectionError:
                assert process.poll() is None and time.monotonic() < deadline, "emulator did not start"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(_START_SECONDS)


def test_tokens_tier_and_state_flags(tmp_path):
    state = str(tmp_path / "portal.pickle")
    with emulator("--token", "good", "--token", "other", "--tier", "starter", "--state", state) as url:
        assert requests.get(url + PROPERTIES, headers=auth("wrong")).status_code == 401
        answer = requests.get(url + PROPERTIES, headers=auth("other"))
        assert answer.status_code == 200
        assert answer.headers["X-HubSpot-RateLimit-Max"] == "100"
        requests.post(url + "/crm/v3/objects/contacts", headers=auth("good"),
                      json={"properties": {"email": "kept@x.com"}}).raise_for_status()
    with emulator("--state", state) as url:
        emails = [c["properties"]["email"] for c in requests.get(url + "/_emulator/state").json()["contacts"]]
        assert emails == ["kept@x.com"]


def test_portal_identity_flags():
    with emulator("--portal-id", "4417281", "--account-type", "SANDBOX", "--time-zone", "Asia/Tokyo") as url:
        details = requests.get(url + "/account-info/v3/details", headers=auth()).json()
    assert (details["portalId"], details["accountType"], details["timeZone"], details["utcOffset"]) == (4417281, "SANDBOX", "Asia/Tokyo", "+09:00")


def test_fault_flags():
    flags = (
        "--drop-rate", "1", "--error-rate", "0.5", "--fault-seed", "5", "--latency", "0.01",
        "--fail-imports", "2", "--error-after-write", "3", "--daily-limit", "1000", "--no-batch-opt-outs",
        "--missing-scope", "crm.import", "--missing-scope", "crm.lists.write",
        "--max-imports-per-day", "7", "--max-property-options", "9",
    )
    with emulator(*flags) as url:
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            requests.get(url + PROPERTIES, headers=auth())
        settings = requests.post(url + "/_emulator/faults", json={}).json()
    assert settings["error_rate"] == 0.5 and settings["fault_seed"] == 5
    assert settings["latency"] == 0.01 and settings["daily_limit"] == 1000
    assert settings["batch_comm_prefs_allowed"] is False
    assert settings["pendingImportFailures"] == 2 and settings["pendingErrorsAfterWrite"] == 3
    assert settings["missing_scopes"] == ["crm.import", "crm.lists.write"]
    assert (settings["max_imports_per_day"], settings["max_property_options"]) == (7, 9)


@pytest.mark.parametrize(
    ("flags", "message"),
    [(("--tier", "gold"), "unknown tier 'gold'"), (("--account-type", "GOLD"), "unknown account type 'GOLD'"), (("--time-zone", "Mars/Base"), "unknown time zone 'Mars/Base'"),
     (("--max-imports-per-day", "-1"), "max_imports_per_day must be 0 or more"),
     (("--max-property-options", "0"), "max_property_options must be 1 or more")],
)
def test_an_unknown_setting_is_a_usage_error(flags, message):
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "emulator", *flags],
        capture_output=True, text=True, timeout=_START_SECONDS,
    )
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
