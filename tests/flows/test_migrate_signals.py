"""Ctrl-C and SIGTERM stop ``onramp migrate`` while it waits on a HubSpot import (Linux: the test
reads processes from /proc).

The command runs as a user runs it, with the temporary Prefect server it launches itself; the
emulator holds the imports PROCESSING, as a big import keeps real HubSpot busy for many minutes.
Before the fix the command went on until the imports ended: the signal never reached the steps
waiting in the task runner's threads.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from emulators.hubspot import serve_in_background
from tasks.load.run import INTERRUPTED
from tests.flows.test_ephemeral_signals import GONE_WITHIN_SECONDS, REPO, STARTUP_SECONDS, children, killed_if_left, running, stop
from tests.reliability.portal import TOKEN, run_cli, wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads processes from /proc")

SAMPLE = REPO / "samples" / "mailchimp-audience-export.zip"
# The sample plans a marketing and a non-marketing contacts file: two imports.
IMPORTS = 2
STOPPED = {
    signal.SIGINT: "onramp: stopped by Ctrl-C (SIGINT); run the same command again to resume where it stopped",
    signal.SIGTERM: "onramp: stopped by SIGTERM; run the same command again to resume where it stopped",
}


# Ctrl-C as a terminal sends it, to the command's whole process group (the temporary server
# has a session of its own, so it is not stopped under the command). Resuming does not depend
# on which signal stopped the run: one of them is rerun.
@pytest.mark.parametrize(("signum", "rerun"), [(signal.SIGTERM, True), (signal.SIGINT, False)], ids=["SIGTERM", "SIGINT-to-the-group"])
def test_a_signal_stops_a_migration_waiting_on_an_import_and_a_rerun_takes_it_up(signum, rerun, prefect_api_url, tmp_path):
    (tmp_path / "export.zip").symlink_to(SAMPLE)
    env = {
        **{name: value for name, value in os.environ.items() if name not in ("PREFECT_API_URL", "ONRAMP_DEBUG")},
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "HUBSPOT_ACCESS_TOKEN": TOKEN,
        "ONRAMP_STATE_DIR": str(tmp_path / "budgets"),
    }
    stderr, stdout = tmp_path / "stderr.txt", tmp_path / "stdout.txt"
    with serve_in_background() as hub:
        hub.emulator.imports.hold()
        # A file, not a pipe: a server left running would hold a pipe open after the command ended.
        with stderr.open("w") as stderr_file, stdout.open("w") as stdout_file:
            command = subprocess.Popen(
                [sys.executable, "-m", "flows.cli", "migrate", str(tmp_path / "export.zip"), "--out", str(tmp_path / "out"),
                 "--portal-url", hub.url, "--load-path", "imports"],
                cwd=REPO, env=env, stdout=stdout_file, stderr=stderr_file, start_new_session=True,
            )
        with killed_if_left(command):
            wait_for(lambda: len(hub.emulator.portal.imports) == IMPORTS, timeout=STARTUP_SECONDS)
            servers = [pid for pid, cmdline in children(command.pid) if "uvicorn" in cmdline]
            assert len(servers) == 1, children(command.pid)
            stop(command, signum)
        deadline = time.monotonic() + GONE_WITHIN_SECONDS
        while running(servers[0]) and time.monotonic() < deadline:
            time.sleep(0.2)
        said = stderr.read_text()
        assert command.returncode == 128 + signum, said
        assert STOPPED[signum] in said.splitlines(), said
        assert "Traceback" not in said, said
        assert not running(servers[0])
        # The report says the load stopped and what it had done; the console says where it is.
        report = json.loads((tmp_path / "out" / "report.json").read_text())
        assert report["load_stopped"].startswith(INTERRUPTED), report.get("load_stopped")
        assert report["load_done"]["contacts_planned"] > 0
        assert f"report: {tmp_path / 'out' / 'report.json'}" in stdout.read_text().splitlines()

        if not rerun:
            return
        hub.emulator.imports.release()
        rerun = run_cli(tmp_path, hub, prefect_api_url)
        output, _ = rerun.communicate(timeout=STARTUP_SECONDS)
        assert rerun.returncode == 0, output
        assert "taking up import" in output
        assert len(hub.emulator.portal.imports) == IMPORTS
