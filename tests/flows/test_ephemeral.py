"""Prefect's temporary server, launched when an engine command starts and adopted by Prefect."""

from __future__ import annotations

import subprocess
from unittest import mock

import pytest
from prefect.client.orchestration import get_client
from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows import cli, ephemeral
from tasks.errors import InputError


@pytest.fixture
def launched(monkeypatch) -> list[subprocess.Popen]:
    """Every process launched, for real, with no Prefect server set."""
    processes, real_popen = [], subprocess.Popen
    # As in a fresh process: no temporary server yet. The session's test harness registers its
    # own as the default one, which Prefect would otherwise find running and use.
    monkeypatch.delitem(SubprocessASGIServer._instances, None, raising=False)

    def popen(*args, **kwargs):
        processes.append(real_popen(*args, **kwargs))
        return processes[-1]

    monkeypatch.setattr(subprocess, "Popen", popen)
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        yield processes
    SubprocessASGIServer().stop()
    for process in processes:
        process.kill()
        process.wait()


def test_the_early_server_runs_what_prefect_would_run():
    server = SubprocessASGIServer(port=8123)
    try:
        with mock.patch("prefect.server.api.server.subprocess.Popen") as popen:
            server._run_uvicorn_command()
    finally:
        server.stop()
    assert popen.call_args.kwargs["args"] == ephemeral.uvicorn_command(8123)
    assert ephemeral.SERVER_ENV.items() <= popen.call_args.kwargs["env"].items()
    assert ephemeral._PORTS == SubprocessASGIServer._port_range


def test_the_flow_runs_on_the_server_launched_when_the_command_started(launched, monkeypatch, tmp_path):
    def plan_contacts(params):
        assert len(launched) == 1 and launched[0].poll() is None
        with get_client(sync_client=True) as client:
            client.hello()
        assert SubprocessASGIServer().server_process is launched[0]
        raise InputError("plan", "checked")

    monkeypatch.setattr("flows.migrate.plan_contacts", plan_contacts)
    assert cli.main(["plan", str(cli.SAMPLE_EXPORT), "--out", str(tmp_path / "out")]) == cli.EXIT_BAD_INPUT
    assert len(launched) == 1 and launched[0].poll() is None  # Prefect's now, stopped at exit


def test_bad_input_found_before_the_engine_stops_the_early_server(launched, tmp_path):
    status = cli.main(["plan", str(tmp_path / "missing.zip"), "--out", str(tmp_path / "out")])
    assert status == cli.EXIT_BAD_INPUT
    assert len(launched) == 1 and launched[0].poll() is not None


def test_nothing_is_launched_for_a_server_in_the_environment_or_a_command_without_a_flow(launched, monkeypatch, tmp_path):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:1/api")
    assert cli.main(["plan", str(tmp_path / "missing.zip"), "--out", str(tmp_path / "out")]) == cli.EXIT_BAD_INPUT
    monkeypatch.delenv("PREFECT_API_URL")
    assert cli.main(["profiles"]) == cli.EXIT_OK
    assert launched == []


def test_a_server_named_in_prefects_settings_stops_the_early_one_before_the_command_goes_on(launched, monkeypatch, tmp_path):
    def preflight(params):
        assert len(launched) == 1 and launched[0].poll() is not None
        raise InputError("preflight", "checked")

    monkeypatch.setattr(cli, "_preflight", preflight)
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:1/api"}):
        assert cli.main(["plan", str(cli.SAMPLE_EXPORT), "--out", str(tmp_path / "out")]) == cli.EXIT_BAD_INPUT
