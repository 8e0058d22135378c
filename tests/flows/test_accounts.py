"""Multi-account migration: concurrency, a shared portal, one broken account, a rerun; the task runner."""

from __future__ import annotations

import json

from benchmarks.generate_mailchimp import write_export
import pytest
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner
from pydantic import ValidationError

from flows.accounts import migrate_accounts, settled, task_runner_for
from schemas.manifest import AccountSpec, AccountsParameters


def write_manifest(path, portal_url: str, sources: dict[str, str]) -> str:
    """A manifest of one account per name, each reading its source with the token in ``<NAME>_TOKEN``."""
    entries = "".join(
        f"  - name: {name}\n    sources: [{source}]\n    portal: {{url: \"{portal_url}\", token_env: {name.upper()}_TOKEN}}\n"
        for name, source in sources.items()
    )
    path.write_text(f"accounts:\n{entries}", encoding="utf-8")
    return str(path)


def manifest(tmp_path, portal_url: str, broken_source: str) -> str:
    for seed, name in ((1, "acme"), (2, "globex")):
        write_export(tmp_path / f"{name}.zip", rows=40, seed=seed)
    sources = {"acme": str(tmp_path / "acme.zip"), "globex": str(tmp_path / "globex.zip"), "initech": broken_source}
    return write_manifest(tmp_path / "accounts.yaml", portal_url, sources)


def writes(hubspot) -> int:
    return sum(n for (method, _, _), n in hubspot.emulator.request_counts.items() if method in {"POST", "PUT", "PATCH", "DELETE"})


def test_accounts_migrate_side_by_side_and_a_rerun_retries_only_the_failed_one(prefect_api_url, hubspot, tmp_path, monkeypatch):
    for name in ("ACME_TOKEN", "GLOBEX_TOKEN", "INITECH_TOKEN"):
        monkeypatch.setenv(name, f"token-{name.lower()}")
    broken = tmp_path / "initech.zip"
    broken.write_text("not a zip", encoding="utf-8")
    params = AccountsParameters(manifest=manifest(tmp_path, hubspot.url, str(broken)), output=str(tmp_path / "out"), max_concurrent_accounts=2)

    first = migrate_accounts(params)

    assert {a["name"]: a["status"] for a in first["accounts"]} == {"acme": "migrated", "globex": "migrated", "initech": "failed"}
    assert "initech.zip" in first["accounts"][2]["error"]
    assert first["failed"] == ["initech"]
    reports = {n: json.loads((tmp_path / "out" / n / "report.json").read_text()) for n in ("acme", "globex")}
    assert first["totals"]["rows_read"] == sum(r["rows_read"] for r in reports.values())
    assert first["totals"]["contacts"]["marketing"] == sum(r["contacts"]["marketing"] for r in reports.values())
    assert json.loads((tmp_path / "out" / "rollup.json").read_text()) == first
    assert not any(status == 429 for (_, _, status) in hubspot.emulator.request_counts)

    write_export(broken, rows=50, seed=3)
    writes_before = writes(hubspot)
    finished_reports = {n: (tmp_path / "out" / n / "report.json").read_bytes() for n in ("acme", "globex")}
    second = migrate_accounts(params)

    assert {a["name"]: a["status"] for a in second["accounts"]} == {"acme": "skipped", "globex": "skipped", "initech": "migrated"}
    assert second["failed"] == []
    assert {n: (tmp_path / "out" / n / "report.json").read_bytes() for n in ("acme", "globex")} == finished_reports
    initech = json.loads((tmp_path / "out" / "initech" / "report.json").read_text())
    imports_and_opt_outs = len(initech["load"]["imports"]) + len(initech["load"]["opt_outs"]["files"])
    assert writes(hubspot) - writes_before >= imports_and_opt_outs
    assert second["totals"]["rows_read"] == first["totals"]["rows_read"] + initech["rows_read"]


def test_threads_run_as_many_accounts_at_once_as_allowed():
    runner = task_runner_for(AccountsParameters(manifest="m.yaml", output="out", max_concurrent_accounts=4))

    assert runner == ThreadPoolTaskRunner(max_workers=4)


def test_dask_starts_a_local_cluster_of_one_single_threaded_process_per_account_at_once():
    runner = task_runner_for(AccountsParameters(manifest="m.yaml", output="out", max_concurrent_accounts=4, task_runner="dask"))

    assert runner == DaskTaskRunner(cluster_kwargs={"n_workers": 4, "threads_per_worker": 1, "processes": True, "dashboard_address": None})


def test_dask_with_an_address_joins_that_cluster():
    params = AccountsParameters(manifest="m.yaml", output="out", task_runner="dask", dask_address="tcp://10.0.0.5:8786")

    runner = task_runner_for(params)

    assert runner == DaskTaskRunner(address="tcp://10.0.0.5:8786")


def test_a_dask_address_without_the_dask_runner_is_refused():
    with pytest.raises(ValidationError, match="dask_address needs task_runner 'dask'"):
        AccountsParameters(manifest="m.yaml", output="out", dask_address="tcp://10.0.0.5:8786")


class LostWorkerFuture:
    """A task whose Dask worker process died before it could report (as ``distributed`` raises it)."""

    def result(self):
        raise RuntimeError("worker died while running the account of owner@example.com")


def test_a_task_that_could_not_report_is_its_accounts_failure_with_emails_masked():
    result = settled(LostWorkerFuture(), AccountSpec(name="acme", sources=["acme.zip"]))

    assert result == {
        "name": "acme",
        "status": "failed",
        "error": "RuntimeError: worker died while running the account of o***@example.com",
        "ledger": None,
    }
