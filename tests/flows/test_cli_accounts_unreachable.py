"""``onramp migrate-accounts`` whose Dask scheduler or Prefect API does not answer ends in one line
naming the address, before any account runs (it ended in a traceback: the scheduler's at the first
account's submission, the API's as the flow started)."""

from __future__ import annotations

import socket

import dask.config
import pytest

from benchmarks.generate_mailchimp import write_export
from emulators.hubspot import serve_in_background
from flows.accounts import check_dask_scheduler
from tasks.errors import InputError
from tests.flows.test_accounts import write_manifest
from tests.flows.test_cli import assert_one_line_error, run

# Dask's connect timeout, shortened (it is 30 s unless configured): a refused connection is
# retried until it is up.
CONNECT_TIMEOUT = {"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}


def port_nothing_listens_on() -> int:
    """A loopback port that was free a moment ago: nothing listens there."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def test_a_dask_address_where_no_scheduler_answers_exits_2_in_one_line_before_any_account_runs(prefect_api_url, tmp_path):
    write_export(tmp_path / "acme.zip", rows=20, seed=1)
    address = f"tcp://127.0.0.1:{port_nothing_listens_on()}"
    with serve_in_background() as hub:
        manifest = write_manifest(tmp_path / "accounts.yaml", hub.url, {"acme": str(tmp_path / "acme.zip")})

        result = run(["migrate-accounts", manifest, "--out", str(tmp_path / "out"), "--task-runner", "dask", "--dask-address", address],
                     env={"PREFECT_API_URL": prefect_api_url, "ACME_TOKEN": "token-of-acme", **CONNECT_TIMEOUT})

        # Not even the pre-flight's question of the portal: the scheduler is checked first.
        assert hub.emulator.request_counts.total() == 0
    assert_one_line_error(result, 2, f"onramp: error: {address}: no Dask scheduler answered there within 2 s")
    assert not (tmp_path / "out" / "acme").exists()


def test_an_address_where_something_else_than_a_dask_scheduler_listens_is_refused():
    with serve_in_background() as hub, dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        address = hub.url.replace("http://", "tcp://")
        with pytest.raises(InputError) as refused:
            check_dask_scheduler(address)

    assert str(refused.value).startswith(f"{address}: no Dask scheduler answered there within 2 s")


def test_a_prefect_api_that_does_not_answer_exits_2_in_one_line_naming_it_without_its_credentials(tmp_path):
    port = port_nothing_listens_on()
    with serve_in_background() as hub:
        manifest = write_manifest(tmp_path / "accounts.yaml", hub.url, {"acme": str(tmp_path / "acme.zip")})

        result = run(["migrate-accounts", manifest, "--out", str(tmp_path / "out"), "--deployment", "onramp-migrate/backfill"],
                     env={"PREFECT_API_URL": f"http://admin:hunter2@127.0.0.1:{port}/api?key=hunter3", "ACME_TOKEN": "token-of-acme"})

        assert hub.emulator.request_counts.total() == 0
    assert_one_line_error(result, 2, f"onramp: error: http://***@127.0.0.1:{port}/api?***: no Prefect API answered there (PREFECT_API_URL)")
    assert "hunter2" not in result.stdout + result.stderr and "hunter3" not in result.stdout + result.stderr
    assert not (tmp_path / "out").exists()
