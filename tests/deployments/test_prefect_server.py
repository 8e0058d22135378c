"""The README's "Running on a Prefect server", done for real on 127.0.0.1.

A Prefect server, a process work pool, ``prefect deploy`` of ``deployments/prefect.yaml``, a
worker, and a backfill run through the deployment against a HubSpot emulator. The only test
that starts its own server (the session's harness cannot serve a worker in another process);
it takes a minute or two, so it is marked ``prefect_server``: ``pytest -m "not prefect_server"``
leaves it out, and it is skipped, saying why, when the server does not come up in time.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from emulators.hubspot import serve_in_background
from flows.cli import SAMPLE_EXPORT

REPO = Path(__file__).resolve().parents[2]
PREFECT = [sys.executable, "-m", "prefect"]
SERVER_START_TIMEOUT_SECONDS = 150
RUN_TIMEOUT_SECONDS = 240
TOKEN = "deployment-test-token"

pytestmark = [pytest.mark.prefect_server, pytest.mark.timeout(SERVER_START_TIMEOUT_SECONDS + 2 * RUN_TIMEOUT_SECONDS)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def background(args: list[str], env: dict, log: Path) -> Iterator[subprocess.Popen]:
    """A subprocess in its own process group, stopped with its children however the test ends."""
    with log.open("wb") as output:
        process = subprocess.Popen(args, env=env, cwd=REPO, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield process
        finally:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(process.pid, sig)
                    process.wait(timeout=15)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue


def prefect(args: list[str], env: dict, timeout: int) -> subprocess.CompletedProcess:
    result = subprocess.run([*PREFECT, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"prefect {' '.join(args)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def wait_for_health(api_url: str, server: subprocess.Popen, log: Path) -> None:
    """Return once the server answers; skip the test, with the server's last words, if it does not."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-500:]
    pytest.skip(f"prefect server did not start on {api_url} within {SERVER_START_TIMEOUT_SECONDS} s: {tail}")


def test_a_backfill_runs_through_a_deployment_on_a_worker(tmp_path):
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")} | {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # prefect.yaml's pull step runs flows from {{ $PWD }} as deployed: the repository, wherever pytest started.
        "PWD": str(REPO),
        # The worker asks for work every second instead of every ten.
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        # The flow runs in the worker's child process, which reads the token from its environment.
        "HUBSPOT_ACCESS_TOKEN": TOKEN,
    }
    out = tmp_path / "backfill"
    server_args = [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with serve_in_background() as hubspot, background(server_args, env, tmp_path / "server.log") as server:
        wait_for_health(api_url, server, tmp_path / "server.log")
        prefect(["work-pool", "create", "onramp-local", "--type", "process"], env, timeout=120)
        worker_args = [*PREFECT, "worker", "start", "--pool", "onramp-local"]
        # The worker starts while the deployments are made: it finds work once there is some.
        with background(worker_args, env, tmp_path / "worker.log"):
            prefect(["--no-prompt", "deploy", "--all", "--prefect-file", "deployments/prefect.yaml"], env, timeout=180)
            parameters = {"params": {"sources": [str(SAMPLE_EXPORT)], "output": str(out), "portal_url": hubspot.url}}
            run = prefect(
                ["deployment", "run", "onramp-migrate/backfill", "--params", json.dumps(parameters),
                 "--watch", "--watch-interval", "1", "--watch-timeout", str(RUN_TIMEOUT_SECONDS)],
                env,
                timeout=RUN_TIMEOUT_SECONDS + 60,
            )
        portal = httpx.get(f"{hubspot.url}/_emulator/state").json()

    assert "Completed" in run.stdout, run.stdout[-3000:]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["load"]["rows_failed"] == 0
    contacts = report["contacts"]
    assert len(portal["contacts"]) == contacts["marketing"] + contacts["non_marketing"]
    assert len(portal["optOuts"]) == contacts["opted_out"]
    assert TOKEN not in (out / "report.json").read_text(encoding="utf-8") + run.stdout
