"""A canary token never leaves the process that holds it; emails are masked in logs.

``onramp migrate`` runs as a user runs it, with its own PREFECT_HOME (so its own Prefect
database, where the engine keeps flow runs, task runs, logs and artifacts), once into the
emulator with success, once refused by it (401: the portal accepts only another token) and once
SIGKILLed mid-load with its engine (its resume state in ``.onramp-load/`` left behind).
Afterwards the canary is searched for, byte for byte, in stdout, stderr, the output folders
and every file under PREFECT_HOME; no email address of the sample reaches a log line unmasked.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from flows.cli import SAMPLE_EXPORT
from tasks.load.settings import TOKEN_ENV_VAR

CANARY = "pat-na1-CANARY-5f1e2d3c-0b9a-4e8f-a7d6-c5b4a3928170"
MARKER = b"CANARY-5f1e2d3c"
"""The canary's distinctive part: found even if a prefix is cut or the token re-quoted."""


@dataclass(frozen=True)
class Run:
    result: subprocess.CompletedProcess
    output: Path


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("prefect-home")


@pytest.fixture(scope="module")
def runs(hubspot, prefect_home, tmp_path_factory) -> dict[str, Run]:
    """A successful, a refused and a crashed (SIGKILL) migration of the bundled sample, with
    the canary as token."""
    env = {
        **os.environ,
        TOKEN_ENV_VAR: CANARY,
        "PREFECT_HOME": str(prefect_home),
        # The engine's own server creates its database on the first run; a busy CI box is slow.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
    }
    # Its own engine and database: nothing of the run may hide in the shared test server.
    for name in ("PREFECT_API_URL", "PREFECT_API_DATABASE_CONNECTION_URL"):
        env.pop(name, None)
    done = {}
    for name, allowed in (("success", None), ("refused", frozenset({"pat-na1-some-other-token"}))):
        hubspot.emulator.configure(allowed_tokens=allowed)
        output = tmp_path_factory.mktemp(f"out-{name}")
        command = [sys.executable, "-m", "flows.cli", "migrate", str(SAMPLE_EXPORT), "--out", str(output), "--portal-url", hubspot.url]
        done[name] = Run(subprocess.run(command, capture_output=True, text=True, env=env, timeout=400), output)
    hubspot.emulator.configure(allowed_tokens=None)
    done["crashed"] = _crashed_run(hubspot, command[:4], env, tmp_path_factory.mktemp("out-crashed"))
    return done


def _crashed_run(hubspot, start: list[str], env: dict, output: Path) -> Run:
    """The migration SIGKILLed mid-load (its engine's server with it, as a machine dying would):
    its import held PROCESSING, the opt-outs and contacts already sent with the token."""
    command = [*start, str(SAMPLE_EXPORT), "--out", str(output), "--portal-url", hubspot.url]
    hubspot.emulator.imports.hold()
    submitted = len(hubspot.emulator.portal.imports)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while len(hubspot.emulator.portal.imports) == submitted and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=60)
        hubspot.emulator.imports.release()
    return Run(subprocess.CompletedProcess(command, process.returncode, stdout, stderr), output)


def _sample_emails() -> set[str]:
    emails = set()
    with zipfile.ZipFile(SAMPLE_EXPORT) as archive:
        for name in archive.namelist():
            if name.endswith(".csv"):
                for record in csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig"))):
                    if record and "@" in record[0]:
                        emails.add(record[0].strip().lower())
    return emails - {"email address"}


def _files_holding(folder: Path, needle: bytes) -> list[str]:
    return [str(path) for path in folder.rglob("*") if path.is_file() and needle in path.read_bytes()]


def test_the_runs_end_as_expected(runs):
    assert runs["success"].result.returncode == 0, runs["success"].result.stderr
    refused = runs["refused"].result
    assert refused.returncode == 1, refused.stderr
    assert "401" in refused.stderr and "Traceback" not in refused.stderr
    crashed = runs["crashed"]
    assert crashed.result.returncode == -signal.SIGKILL, crashed.result.stderr
    # Killed mid-load: its resume state, where a leak would stay, is there to be searched.
    assert any((crashed.output / ".onramp-load").rglob("*")), crashed.result.stderr


@pytest.mark.parametrize("name", ["success", "refused", "crashed"])
def test_the_canary_is_not_in_stdout_stderr_or_the_output_folder(runs, name):
    run = runs[name]
    assert (run.output / ("hubspot" if name == "crashed" else "report.json")).exists(), run.result.stderr
    assert MARKER.decode() not in run.result.stdout
    assert MARKER.decode() not in run.result.stderr
    assert _files_holding(run.output, MARKER) == []


def test_the_canary_is_not_in_the_prefect_database_or_anywhere_under_prefect_home(runs, prefect_home):
    assert list(prefect_home.rglob("*.db")), "the runs kept no Prefect database"
    assert _files_holding(prefect_home, MARKER) == []


def test_the_runs_use_the_server_launched_early_and_their_last_logs_reach_it(runs, prefect_home):
    printed = {name: run.result.stdout + run.result.stderr for name, run in runs.items()}
    assert all("Prefect API: a temporary server at http://127.0.0.1:" in text for text in printed.values()), printed
    # Prefect launched no server of its own.
    assert not any("Starting temporary server" in text for text in printed.values()), printed
    (database,) = prefect_home.rglob("prefect.db")
    with sqlite3.connect(database) as connection:
        last_logs = connection.execute(
            "SELECT (SELECT message FROM log WHERE log.flow_run_id = flow_run.id ORDER BY timestamp DESC LIMIT 1)"
            " FROM flow_run WHERE parent_task_run_id IS NULL ORDER BY created"
        ).fetchall()
    # The two runs that ended on their own: their flows' closing lines were sent before the
    # server stopped at exit.
    assert [(row[0] or "").split("(")[0] for row in last_logs[:2]] == ["Finished in state Completed", "Finished in state Failed"], last_logs


def test_emails_are_masked_in_the_logs_of_both_runs(runs, prefect_home):
    (database,) = prefect_home.rglob("prefect.db")
    with sqlite3.connect(database) as connection:
        messages = [row[0] for row in connection.execute("SELECT message FROM log")]
    assert messages, "the runs logged nothing to the Prefect database"
    emails = _sample_emails()
    assert emails
    logged = "\n".join(messages).lower()
    printed = "\n".join(run.result.stdout + run.result.stderr for run in runs.values()).lower()
    assert [email for email in emails if email in logged] == []
    assert [email for email in emails if email in printed] == []
