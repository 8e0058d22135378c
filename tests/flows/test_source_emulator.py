"""`onramp source-emulator` serves a provider's API that `onramp inspect` then reads, through
the environment it prints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

ONRAMP = [sys.executable, "-m", "flows.cli"]


@pytest.mark.parametrize(("provider", "records", "counted"), [("mailchimp", 40, "40 rows"), ("constantcontact", 30, "30 rows")])
def test_the_printed_environment_points_inspect_at_the_emulated_account(provider, records, counted):
    server = subprocess.Popen([*ONRAMP, "source-emulator", provider, "--records", str(records)], stdout=subprocess.PIPE, text=True)
    try:
        banner = server.stdout.readline()
        exports = server.stdout.readline().split()
        command = server.stdout.readline().split()
        assert banner.startswith(f"{provider} emulator on http://127.0.0.1:")
        assert exports[0] == "export" and command[:2] == ["onramp", "inspect"]
        env = {**os.environ, **dict(pair.split("=", 1) for pair in exports[1:])}
        inspected = subprocess.run([*ONRAMP, *command[1:]], env=env, capture_output=True, text=True, timeout=120)
        assert inspected.returncode == 0, inspected.stderr
        assert counted in inspected.stdout
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
