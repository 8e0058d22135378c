"""Prefect's temporary server, launched when an engine command starts and used as its API."""

from __future__ import annotations

import contextvars
import os
import subprocess
import sys
from unittest import mock

import prefect.context
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

    def popen(*args, **kwargs):
        processes.append(real_popen(*args, **kwargs))
        return processes[-1]

    monkeypatch.setattr(subprocess, "Popen", popen)
    # The command sets the API for the rest of its process: the environment and Prefect's
    # global settings are restored after. Those of a fresh process meanwhile: the session's test
    # harness puts its own server in the global settings.
    with mock.patch.dict(os.environ):
        for name in ("PREFECT_API_URL", "PREFECT_UI_URL"):
            os.environ.pop(name, None)
        monkeypatch.setattr(prefect.context, "GLOBAL_SETTINGS_CONTEXT", prefect.context.root_settings_context())
        yield processes
    for process in processes:
        process.kill()
        process.wait()


def as_a_fresh_process(argv: list[str]) -> int:
    """``onramp <argv>`` outside the test harness's settings, as a command starts."""
    return contextvars.Context().run(cli.main, argv)


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
    seen = {}

    def plan_contacts(params):
        assert len(launched) == 1 and launched[0].poll() is None
        with get_client(sync_client=True) as client:
            client.hello()
            seen["api"] = str(client.api_url)
        raise InputError("plan", "checked")

    monkeypatch.setattr("flows.migrate.plan_contacts", plan_contacts)
    assert as_a_fresh_process(["plan", str(cli.SAMPLE_EXPORT), "--out", str(tmp_path / "out")]) == cli.EXIT_BAD_INPUT
    port = launched[0].args[launched[0].args.index("--port") + 1]
    assert seen["api"].rstrip("/") == f"http://127.0.0.1:{port}/api"
    assert launched[0].poll() is None  # in use: stopped at exit, after Prefect's last logs


def test_a_server_that_did_not_come_up_is_stopped_and_left_to_prefect(launched, monkeypatch, tmp_path):
    # Its port taken meanwhile: uvicorn exits (with 3), and Prefect must launch its own.
    monkeypatch.setattr(ephemeral, "uvicorn_command", lambda port: [sys.executable, "-c", "raise SystemExit(3)"])
    seen = {}

    def plan_contacts(params):
        seen["api"] = PREFECT_API_URL.value()
        raise InputError("plan", "checked")

    monkeypatch.setattr("flows.migrate.plan_contacts", plan_contacts)
    assert as_a_fresh_process(["plan", str(cli.SAMPLE_EXPORT), "--out", str(tmp_path / "out")]) == cli.EXIT_BAD_INPUT
    assert seen == {"api": None} and len(launched) == 1 and launched[0].poll() == 3


def test_bad_input_found_before_the_engine_stops_the_early_server(launched, tmp_path):
    status = as_a_fresh_process(["plan", str(tmp_path / "missing.zip"), "--out", str(tmp_path / "out")])
    assert status == cli.EXIT_BAD_INPUT
    assert len(launched) == 1 and launched[0].poll() is not None


def test_nothing_is_launched_for_a_server_in_the_environment_or_a_command_without_a_flow(launched, monkeypatch, tmp_path):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:1/api")
    assert as_a_fresh_process(["plan", str(tmp_path / "missing.zip"), "--out", str(tmp_path / "out")]) == cli.EXIT_BAD_INPUT
    monkeypatch.delenv("PREFECT_API_URL")
    assert as_a_fresh_process(["profiles"]) == cli.EXIT_OK
    assert launched == []


def test_a_server_named_in_prefects_settings_stops_the_early_one_before_the_command_goes_on(launched, monkeypatch, tmp_path):
    def preflight(params):
        assert len(launched) == 1 and launched[0].poll() is not None
        raise InputError("preflight", "checked")

    monkeypatch.setattr(cli, "_preflight", preflight)
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:1/api"}):
        assert cli.main(["plan", str(cli.SAMPLE_EXPORT), "--out", str(tmp_path / "out")]) == cli.EXIT_BAD_INPUT
