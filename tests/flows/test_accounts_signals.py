"""Ctrl-C and SIGTERM stop ``onramp migrate-accounts`` while an account's portal holds a request
unanswered (Linux: the test reads processes from /proc).

The portal accepts connections and never answers: the pre-flight gives up on it within seconds
(tasks/load/portals.py), then the account's own run asks it which portal its token is for, with
the load's read timeout of minutes. Before the fix the signal stopped the command only once that
request timed out: the task runner's exit waited for the account's thread, blocked in it. Stopped,
the command writes its roll-up all the same, the account in flight ``stopped``, in place of the
earlier run's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from benchmarks.generate_mailchimp import write_export
from flows.accounts import NOT_FINISHED, NOT_STARTED, account_result, roll_up
from tasks.load.portals import ASK_ATTEMPTS
from tests.flows.test_accounts import write_manifest
from tests.flows.test_accounts_portals import silent_portal
from tests.flows.test_ephemeral_signals import REPO, STARTUP_SECONDS, killed_if_left, stop
from tests.flows.test_migrate_signals import STOPPED
from tests.reliability.portal import wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals as a terminal sends them")


# Stopped in the account's run (the pre-flight's attempts given up, the run's first request held),
# or in the pre-flight itself, before any account started: either way the roll-up is this run's.
@pytest.mark.parametrize(
    ("signum", "in_pre_flight"),
    [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGTERM, True)],
    ids=["SIGTERM", "SIGINT-to-the-group", "SIGTERM-in-the-pre-flight"],
)
def test_a_signal_stops_migrate_accounts_while_a_portal_never_answers(signum, in_pre_flight, prefect_api_url, tmp_path):
    write_export(tmp_path / "acme.zip", rows=20, seed=1)
    env = {
        **{name: value for name, value in os.environ.items() if name not in ("ONRAMP_DEBUG", "HUBSPOT_ACCESS_TOKEN")},
        "PREFECT_API_URL": prefect_api_url,
        "ACME_TOKEN": "token-of-acme",
        "ONRAMP_STATE_DIR": str(tmp_path / "budgets"),
    }
    stderr = tmp_path / "stderr.txt"
    # An earlier run's roll-up, which must not stand for this run once it is stopped.
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "rollup.json").write_text(json.dumps(roll_up([account_result("acme", "migrated")])), encoding="utf-8")
    with silent_portal() as silent:
        manifest = write_manifest(tmp_path / "accounts.yaml", silent.url, {"acme": str(tmp_path / "acme.zip")})
        with stderr.open("w") as stderr_file:
            command = subprocess.Popen(
                [sys.executable, "-m", "flows.cli", "migrate-accounts", manifest, "--out", str(tmp_path / "out")],
                cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr_file, start_new_session=True,
            )
        with killed_if_left(command):
            # The pre-flight's first attempt; or its attempts, then the account's run's first request, held.
            held = 1 if in_pre_flight else ASK_ATTEMPTS + 1
            wait_for(lambda: len(silent.connections) >= held, timeout=STARTUP_SECONDS)
            stop(command, signum)
    said = stderr.read_text()
    assert command.returncode == 128 + signum, said
    assert STOPPED[signum] in said.splitlines(), said
    assert "Traceback" not in said, said
    rollup = json.loads((tmp_path / "out" / "rollup.json").read_text(encoding="utf-8"))
    [acme] = rollup["accounts"]
    if in_pre_flight:
        # Nothing planned: acme never started, and the earlier run's roll-up is gone all the same.
        assert (acme["status"], acme["error"], acme["ledger"], rollup["failed"]) == ("stopped", NOT_STARTED, None, ["acme"])
        return
    # The stop's roll-up: acme was in flight, stopped before it finished, its plan's ledger kept
    # (its run planned, then asked the portal which it is).
    planned = json.loads((tmp_path / "out" / "acme" / "report.json").read_text(encoding="utf-8"))
    assert (acme["name"], acme["status"], acme["error"]) == ("acme", "stopped", NOT_FINISHED)
    assert acme["ledger"]["rows_read"] == planned["rows_read"] == rollup["totals"]["rows_read"] == 20
    assert rollup["failed"] == ["acme"]
