"""The README's "Running on a Prefect server", done for real on 127.0.0.1.

A Prefect server, a process work pool, ``prefect deploy`` of ``deployments/prefect.yaml``, a
worker, and a backfill run through the deployment against a HubSpot emulator; beside it,
``onramp migrate-accounts --deployment`` runs two accounts as flow runs of the same deployment
on that worker (README: "Scale-out"). The only test
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

from benchmarks.generate_mailchimp import write_export
from emulators.hubspot import serve_in_background
from flows.cli import SAMPLE_EXPORT

REPO = Path(__file__).resolve().parents[2]
PREFECT = [sys.executable, "-m", "prefect"]
SERVER_START_TIMEOUT_SECONDS = 150
RUN_TIMEOUT_SECONDS = 240
TOKEN = "deployment-test-token"
ONRAMP = [sys.executable, "-m", "flows.cli"]
ACCOUNTS_MANIFEST = """\
accounts:
  - name: acme
    sources: [acme.zip]
    portal: {{url: "{portal}", token_env: AGENCY_HUBSPOT_TOKEN}}
  - name: initech
    sources: [initech.zip]
    portal: {{url: "{portal}", token_env: INITECH_HUBSPOT_TOKEN}}
"""

pytestmark = [pytest.mark.prefect_server, pytest.mark.timeout(SERVER_START_TIMEOUT_SECONDS + 2 * RUN_TIMEOUT_SECONDS)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def background(args: list[str], env: dict, log: Path, cwd: Path = REPO) -> Iterator[subprocess.Popen]:
    """A subprocess in its own process group, stopped with its children however the test ends."""
    with log.open("wb") as output:
        process = subprocess.Popen(args, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
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


def flow_runs(api_url: str, run_filter: dict) -> list[dict]:
    response = httpx.post(f"{api_url}/flow_runs/filter", json=run_filter, timeout=30)
    response.raise_for_status()
    return response.json()


def test_a_backfill_and_accounts_run_through_a_deployment_on_a_worker(tmp_path):
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
        "AGENCY_HUBSPOT_TOKEN": TOKEN,
        "INITECH_HUBSPOT_TOKEN": TOKEN,
    }
    # The accounts' parent runs in `onramp`, whose environment holds no token: the worker reads it.
    accounts_env = {k: v for k, v in env.items() if not k.endswith("_TOKEN")}
    out = tmp_path / "backfill"
    agency = tmp_path / "agency"
    write_export(agency / "acme.zip", rows=20, seed=1)
    (agency / "initech.zip").write_text("not a zip", encoding="utf-8")
    server_args = [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with serve_in_background() as hubspot, serve_in_background() as agency_portal, \
            background(server_args, env, tmp_path / "server.log") as server:
        wait_for_health(api_url, server, tmp_path / "server.log")
        prefect(["work-pool", "create", "onramp-local", "--type", "process"], env, timeout=120)
        worker_args = [*PREFECT, "worker", "start", "--pool", "onramp-local"]
        # The worker starts while the deployments are made: it finds work once there is some.
        with background(worker_args, env, tmp_path / "worker.log"):
            prefect(["--no-prompt", "deploy", "--all", "--prefect-file", "deployments/prefect.yaml"], env, timeout=180)
            (agency / "accounts.yaml").write_text(ACCOUNTS_MANIFEST.format(portal=agency_portal.url), encoding="utf-8")
            # Relative paths on purpose: the worker runs in the repository, the command here.
            accounts_args = [*ONRAMP, "migrate-accounts", "accounts.yaml", "--out", "out", "--deployment", "onramp-migrate/backfill"]
            # Beside the backfill, on the same worker: the test waits for both at once.
            with background(accounts_args, accounts_env, tmp_path / "accounts.log", cwd=agency) as accounts:
                parameters = {"params": {"sources": [str(SAMPLE_EXPORT)], "output": str(out), "portal_url": hubspot.url}}
                run = prefect(
                    ["deployment", "run", "onramp-migrate/backfill", "--params", json.dumps(parameters),
                     "--watch", "--watch-interval", "1", "--watch-timeout", str(RUN_TIMEOUT_SECONDS)],
                    env,
                    timeout=RUN_TIMEOUT_SECONDS + 60,
                )
                accounts_status = accounts.wait(timeout=RUN_TIMEOUT_SECONDS)
            backfill_id = httpx.get(f"{api_url}/deployments/name/onramp-migrate/backfill", timeout=30).json()["id"]
            (parent,) = flow_runs(api_url, {"flows": {"name": {"any_": ["onramp-migrate-accounts"]}}})
            children = flow_runs(api_url, {"flow_runs": {"parent_flow_run_id": {"any_": [parent["id"]]}}})
        portal = httpx.get(f"{hubspot.url}/_emulator/state").json()
        agency_state = httpx.get(f"{agency_portal.url}/_emulator/state").json()

    assert "Completed" in run.stdout, run.stdout[-3000:]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["load"]["rows_failed"] == 0
    contacts = report["contacts"]
    assert len(portal["contacts"]) == contacts["marketing"] + contacts["non_marketing"]
    assert len(portal["optOuts"]) == contacts["opted_out"]
    assert TOKEN not in (out / "report.json").read_text(encoding="utf-8") + run.stdout

    accounts_output = (tmp_path / "accounts.log").read_text(encoding="utf-8", errors="replace")
    assert accounts_status == 1, accounts_output[-3000:]
    assert {(c["name"], c["state"]["name"], c["deployment_id"]) for c in children} == {
        ("account-acme", "Completed", backfill_id),
        ("account-initech", "Failed", backfill_id),
    }
    assert len({c["parent_task_run_id"] for c in children}) == 2
    rollup = json.loads((agency / "out" / "rollup.json").read_text(encoding="utf-8"))
    acme, initech = rollup["accounts"]
    assert (acme["status"], initech["status"]) == ("migrated", "failed")
    assert initech["error"].startswith("flow run account-initech ended Failed: "), initech["error"]
    assert f"{agency / 'initech.zip'}: " in initech["error"]
    assert rollup["failed"] == ["initech"]
    acme_report = json.loads((agency / "out" / "acme" / "report.json").read_text(encoding="utf-8"))
    assert acme_report["load"]["rows_failed"] == 0
    assert rollup["totals"]["rows_read"] == acme_report["rows_read"] == 20
    acme_contacts = acme_report["contacts"]
    assert len(agency_state["contacts"]) == acme_contacts["marketing"] + acme_contacts["non_marketing"]
    assert TOKEN not in accounts_output + json.dumps(rollup)
    assert "Traceback" not in accounts_output
