"""``onramp migrate-accounts``: a manifest that cannot be used stops before any account runs; accounts on Dask."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from distributed import Client, LocalCluster

import flows.cli
from benchmarks.generate_mailchimp import write_export
from emulators.hubspot import serve_in_background
from flows.accounts import account_result, roll_up
from flows.cli import main
from tests.flows.test_accounts import write_manifest
from tests.flows.test_cli import assert_one_line_error, run


def manifest_of(folder, *account_lines: str):
    """``accounts.yaml`` in ``folder``: ``accounts:`` then these lines (line 2 onwards)."""
    manifest = folder / "accounts.yaml"
    manifest.write_text("\n".join(["accounts:", *account_lines]) + "\n", encoding="utf-8")
    return manifest


def test_a_bad_manifest_exits_2_with_one_line_naming_its_line(tmp_path):
    manifest = manifest_of(tmp_path, "  - name: acme", "    sources: [acme.zip]", "  - name: Not A Name", "    sources: [globex.zip]")

    result = run(["migrate-accounts", str(manifest), "--out", str(tmp_path / "out")])

    assert_one_line_error(result, 2, "accounts.yaml:4:", "accounts.1.name")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("account_lines", "line", "problem"),
    [
        (["  - name: brand-b", "    sources: [b.zip]", "    portal: {token_env: CLIENT_TOKEN}",
          "  - name: brand-a", "    sources: [a.zip]", "    portal: {token_env: CLIENT_TOKEN}"],
         7, "accounts.1.portal: accounts brand-b and brand-a load into one portal (https://api.hubapi.com, token_env CLIENT_TOKEN): "
            "list their sources under one account"),
        (["  - name: acme", "    sources: [acme.zip]", "    portal: {url: http://127.0.0.1:18401, token_env: ACME_TOKEN}",
          "    portal: {url: http://127.0.0.1:18402}"], 5, "key 'portal' given twice in one mapping"),
        (["  - name: acme", "    sources: [acme.zip]", '    portal: {url: "https://user:hunter2@api.hubapi.com", token_env: ACME_TOKEN}'],
         4, "accounts.0.portal.url: the URL carries user-info or a query"),
    ],
)
def test_a_manifest_refused_when_read_exits_2_in_one_line_before_the_engine_starts(tmp_path, capsys, monkeypatch, account_lines, line, problem):
    monkeypatch.setattr("flows.cli._in_engine", lambda *args: pytest.fail("the engine started"))
    manifest = manifest_of(tmp_path, *account_lines)

    status = main(["migrate-accounts", str(manifest), "--out", str(tmp_path / "out")])

    assert status == 2
    error = capsys.readouterr().err
    assert error.startswith(f"onramp: error: {manifest}:{line}: {problem}") and error.count("\n") == 1
    assert "hunter2" not in error
    assert not (tmp_path / "out").exists()


LOADED = {"rows_read": 60, "rows_rejected": 8, "duplicates_merged": 5, "contacts": {"marketing": 33, "non_marketing": 4, "opted_out": 10}}


@pytest.mark.parametrize(
    ("load", "status", "acme_counts", "total_counts"),
    [
        ({"rows_failed": 2, "rows_with_value_errors": 0, "reconciliation": {"by_check": {"contact-missing": 2, "not-marketing": 0}}}, 1,
         "60 rows read, 2 failed; read back from HubSpot: 2 contact-missing",
         "120 rows read, 2 failed; read back from HubSpot: 2 contact-missing"),
        ({"rows_failed": 0, "rows_with_value_errors": 33, "companies": {"not_associated": 3},
          "reconciliation": {"by_check": {"not-marketing": 33, "opted-out-made-marketing": 1}}}, 0,
         "60 rows read, 0 failed, 33 with values HubSpot refused, 3 not associated with their company; "
         "read back from HubSpot: 33 not-marketing, 1 opted-out-made-marketing",
         "120 rows read, 0 failed, 33 with values HubSpot refused, 3 not associated with their company; "
         "read back from HubSpot: 33 not-marketing, 1 opted-out-made-marketing"),
    ],
)
def test_the_summary_says_each_accounts_failed_rows_and_read_back_and_failed_rows_exit_1(
    tmp_path, capsys, monkeypatch, load, status, acme_counts, total_counts
):
    manifest = write_manifest(tmp_path / "accounts.yaml", "http://127.0.0.1:9", {"acme": "acme.zip", "globex": "globex.zip"})
    rollup = roll_up([account_result("acme", "migrated", LOADED | {"load": load}),
                      account_result("globex", "skipped", LOADED | {"load": {"rows_failed": 0}})])
    monkeypatch.setattr(flows.cli, "_in_engine", lambda flow, params: rollup)

    assert main(["migrate-accounts", manifest, "--out", str(tmp_path / "out")]) == status

    assert capsys.readouterr().out.splitlines() == [
        f"  acme                 migrated  {acme_counts}",
        "  globex               skipped   60 rows read, 0 failed",
        f"2 account(s), 0 failed; {total_counts}; roll-up: {tmp_path / 'out'}/rollup.json",
    ]


def test_a_dask_address_without_the_dask_runner_exits_2(tmp_path, capsys):
    status = main(["migrate-accounts", "accounts.yaml", "--out", str(tmp_path / "out"), "--dask-address", "tcp://127.0.0.1:8786"])

    assert status == 2
    assert capsys.readouterr().err == "onramp: error: parameters: dask_address needs task_runner 'dask'\n"


def test_a_work_queue_without_a_deployment_exits_2_before_the_engine_starts(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("flows.cli._in_engine", lambda *args: pytest.fail("the engine started"))
    manifest = manifest_of(tmp_path, "  - name: acme", "    sources: [acme.zip]", "    portal: {token_env: ACME_TOKEN, work_queue: portal-a}")

    status = main(["migrate-accounts", str(manifest), "--out", str(tmp_path / "out")])

    assert status == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "accounts.yaml:4:" in error and "a work queue needs account_deployment" in error
    assert not (tmp_path / "out").exists()


def test_accounts_on_a_local_dask_cluster_one_failing_does_not_stop_the_next(prefect_api_url, hubspot, tmp_path):
    write_export(tmp_path / "acme.zip", rows=20, seed=1)
    (tmp_path / "initech.zip").write_text("not a zip", encoding="utf-8")
    tokens = {"ACME_TOKEN": "token-acme", "INITECH_TOKEN": "token-initech"}
    # A portal of its own: two accounts whose tokens HubSpot says are for one portal are refused.
    with serve_in_background(portal_id=6631024) as initech_portal:
        manifest = write_manifest(tmp_path / "accounts.yaml", {"acme": hubspot.url, "initech": initech_portal.url},
                                  {"acme": str(tmp_path / "acme.zip"), "initech": str(tmp_path / "initech.zip")})
        result = run(["migrate-accounts", manifest, "--out", str(tmp_path / "out"), "--max-concurrent", "1", "--task-runner", "dask"],
                     env={"PREFECT_API_URL": prefect_api_url, **tokens})

    assert result.returncode == 1, result.stderr
    assert "Creating a new Dask cluster with `distributed.deploy.local.LocalCluster`" in result.stdout + result.stderr
    rollup = json.loads((tmp_path / "out" / "rollup.json").read_text())
    acme, initech = rollup["accounts"]
    assert (acme["status"], initech["status"]) == ("migrated", "failed")
    assert "initech.zip" in initech["error"]
    report = json.loads((tmp_path / "out" / "acme" / "report.json").read_text())
    assert report["load"]["rows_failed"] == 0
    assert rollup["totals"]["rows_read"] == report["rows_read"] == 20
    assert rollup["failed"] == ["initech"]
    assert "Traceback" not in result.stdout + result.stderr


@pytest.fixture
def running_dask_cluster() -> Iterator[LocalCluster]:
    """A Dask cluster on 127.0.0.1 that Onramp did not start: one single-threaded worker process.

    The account's token is in the worker's environment only, as on a cluster of its own: an
    account that ran in the command instead would fail for want of it.
    """
    with LocalCluster(host="127.0.0.1", n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                      env={"ACME_TOKEN": "token-acme"}) as cluster:
        yield cluster


def tasks_computed(dask_scheduler) -> dict[str, int]:
    """How many tasks of each prefix (their function's name) ran to a result on the scheduler's
    workers. A prefix's counts outlive its tasks, which the scheduler forgets once their client leaves."""
    return {name: prefix.state_counts["memory"] for name, prefix in dask_scheduler.task_prefixes.items()}


def test_accounts_on_a_running_dask_cluster_run_there(prefect_api_url, hubspot, running_dask_cluster, tmp_path):
    write_export(tmp_path / "acme.zip", rows=20, seed=1)
    manifest = write_manifest(tmp_path / "accounts.yaml", hubspot.url, {"acme": str(tmp_path / "acme.zip")})
    address = running_dask_cluster.scheduler_address

    result = run(["migrate-accounts", manifest, "--out", str(tmp_path / "out"), "--task-runner", "dask", "--dask-address", address],
                 env={"PREFECT_API_URL": prefect_api_url})

    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert f"Connecting to an existing Dask cluster at {address}" in output
    assert "Creating a new Dask cluster" not in output
    rollup = json.loads((tmp_path / "out" / "rollup.json").read_text())
    assert [(a["name"], a["status"]) for a in rollup["accounts"]] == [("acme", "migrated")]
    report = json.loads((tmp_path / "out" / "acme" / "report.json").read_text())
    assert report["load"]["rows_failed"] == 0
    assert rollup["totals"]["rows_read"] == report["rows_read"] == 20
    with Client(running_dask_cluster) as client:
        assert client.run_on_scheduler(tasks_computed) == {"migrate_account": 1}
    assert "Traceback" not in output


def test_a_deployment_with_the_dask_runner_exits_2(tmp_path, capsys):
    status = main(["migrate-accounts", "accounts.yaml", "--out", str(tmp_path / "out"),
                   "--deployment", "onramp-migrate/backfill", "--task-runner", "dask"])

    assert status == 2
    assert capsys.readouterr().err == (
        "onramp: error: parameters: account_deployment runs the accounts on the deployment's workers: "
        "leave task_runner 'threads'\n"
    )


def test_the_child_start_timeout_reaches_the_parameters(tmp_path, monkeypatch):
    manifest = write_manifest(tmp_path / "accounts.yaml", "http://127.0.0.1:9", {"acme": str(tmp_path / "acme.zip")})
    started = []

    def engine(flow, params):
        started.append(params)
        return roll_up([])

    monkeypatch.setattr(flows.cli, "_in_engine", engine)

    status = main(["migrate-accounts", manifest, "--out", str(tmp_path / "out"), "--deployment", "onramp-migrate/backfill",
                   "--child-start-timeout", "90"])

    assert status == 0
    (params,) = started
    assert (params.account_deployment, params.child_start_timeout_seconds) == ("onramp-migrate/backfill", 90)


def test_a_child_start_timeout_of_zero_exits_2(tmp_path, capsys):
    status = main(["migrate-accounts", "accounts.yaml", "--out", str(tmp_path / "out"),
                   "--deployment", "onramp-migrate/backfill", "--child-start-timeout", "0"])

    assert status == 2
    assert capsys.readouterr().err == "onramp: error: --child-start-timeout: Input should be greater than 0\n"
