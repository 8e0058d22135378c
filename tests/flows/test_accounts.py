"""Multi-account migration: concurrency, a shared portal, one broken account, a rerun; the task runner; child runs of a deployment."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from uuid import uuid4

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.states import Cancelled, Completed, Crashed, Failed, Running
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner
from pydantic import ValidationError

from benchmarks.generate_mailchimp import write_export
from emulators.hubspot import serve_in_background
import flows.accounts
from flows.accounts import (
    ChildRuns,
    account_parameters,
    account_result,
    check_deployment,
    child_run_result,
    for_workers,
    manifest_entry,
    migrate_accounts,
    published_report,
    roll_up,
    run_on_a_worker,
    settled,
    task_runner_for,
    source_files,
    why_run_again,
    write_rollup,
)
from schemas.manifest import AccountSpec, AccountsParameters
from schemas.params import MigrationParameters
from tasks.errors import InputError


def write_manifest(path, portal_url: str | Mapping[str, str], sources: dict[str, str], work_queue: str | None = None) -> str:
    """A manifest of one account per name, each reading its source with the token in ``<NAME>_TOKEN``
    into ``portal_url`` (or the URL the mapping gives its name) and its portal's runs going to
    ``work_queue`` when given."""
    queue = f", work_queue: {work_queue}" if work_queue else ""
    urls = portal_url if isinstance(portal_url, Mapping) else dict.fromkeys(sources, portal_url)
    entries = "".join(
        f"  - name: {name}\n    sources: [{source}]\n    portal: {{url: \"{urls[name]}\", token_env: {name.upper()}_TOKEN{queue}}}\n"
        for name, source in sources.items()
    )
    path.write_text(f"accounts:\n{entries}", encoding="utf-8")
    return str(path)


def manifest(tmp_path, portal_urls: dict[str, str], broken_source: str) -> str:
    for seed, name in ((1, "acme"), (2, "globex")):
        write_export(tmp_path / f"{name}.zip", rows=40, seed=seed)
    sources = {"acme": str(tmp_path / "acme.zip"), "globex": str(tmp_path / "globex.zip"), "initech": broken_source}
    return write_manifest(tmp_path / "accounts.yaml", portal_urls, sources)


# A 250-row export's load: which portal, its properties and opt-outs come first (16 requests,
# the opted-out search among them, which may run beside the first upsert), then the quota runs
# out among the contacts' 3 upsert batches, whatever the order: at least one is sent.
QUOTA_AMONG_UPSERTS = 18


def writes(hubspot) -> int:
    return sum(n for (method, _, _), n in hubspot.emulator.request_counts.items() if method in {"POST", "PUT", "PATCH", "DELETE"})


def reports_of(out, *names: str) -> dict[str, dict]:
    return {n: json.loads((out / n / "report.json").read_text()) for n in names}


@pytest.fixture
def two_more_portals():
    """Two HubSpot portals besides the module's, each of its own portal id (the module's is the emulator's default)."""
    with serve_in_background(portal_id=5520913) as first, serve_in_background(portal_id=6631024) as second:
        yield first, second


def test_accounts_migrate_side_by_side_and_a_rerun_retries_only_the_failed_or_changed_ones(prefect_api_url, hubspot, two_more_portals, tmp_path, monkeypatch, caplog):
    for name in ("ACME_TOKEN", "GLOBEX_TOKEN", "INITECH_TOKEN"):
        monkeypatch.setenv(name, f"token-{name.lower()}")
    broken = tmp_path / "initech.zip"
    broken.write_text("not a zip", encoding="utf-8")
    out = tmp_path / "out"
    # A portal each: HubSpot's account-info answer tells them apart before any account runs.
    hubs = dict(zip(("acme", "globex", "initech"), (hubspot, *two_more_portals), strict=True))
    params = AccountsParameters(manifest=manifest(tmp_path, {name: hub.url for name, hub in hubs.items()}, str(broken)), output=str(out), max_concurrent_accounts=2)
    # Each account's marketing import fails (both its tries): its contacts' marketing status is
    # not set, and their rows fail.
    for name in ("acme", "globex"):
        hubs[name].emulator.fail_next_imports(2)

    first = migrate_accounts(params)

    assert {a["name"]: a["status"] for a in first["accounts"]} == {"acme": "migrated", "globex": "migrated", "initech": "failed"}
    assert "initech.zip" in first["accounts"][2]["error"]
    assert first["accounts"][2]["ledger"] is None
    assert first["failed"] == ["initech"]
    reports = reports_of(out, "acme", "globex")
    assert first["totals"]["rows_read"] == sum(r["rows_read"] for r in reports.values())
    assert first["totals"]["contacts"]["marketing"] == sum(r["contacts"]["marketing"] for r in reports.values())
    for account in first["accounts"][:2]:
        load = reports[account["name"]]["load"]
        assert account["ledger"]["rows_failed"] == load["rows_failed"] > 0
        assert account["ledger"]["read_back"] == {check: n for check, n in load["reconciliation"]["by_check"].items() if n}
    assert first["totals"]["rows_failed"] == sum(a["ledger"]["rows_failed"] for a in first["accounts"][:2]) > 0
    assert json.loads((out / "rollup.json").read_text()) == first
    assert not any(status == 429 for hub in hubs.values() for (_, _, status) in hub.emulator.request_counts)

    # initech's export is mended, but HubSpot refuses its token: its plan was made, so its rows
    # count; which portal it is cannot be asked, and the other accounts are compared without it.
    # acme and globex run again for their unfinished imports, and only those are sent.
    write_export(broken, rows=50, seed=3)
    hubs["initech"].emulator.configure(allowed_tokens=frozenset({"token-someone-else"}))
    second = migrate_accounts(params)

    assert {a["name"]: a["status"] for a in second["accounts"]} == {"acme": "migrated", "globex": "migrated", "initech": "failed"}
    assert "account acme finished in an earlier run, but 1 of its import(s) did not finish: migrated again" in caplog.messages
    for account in second["accounts"][:2]:
        assert account["ledger"]["rows_failed"] == 0 and "not-marketing" not in account["ledger"]["read_back"]
    finished_reports = {n: (out / n / "report.json").read_bytes() for n in ("acme", "globex")}
    initech = second["accounts"][2]
    assert "refused the access token (401)" in initech["error"]
    # Where the manifest names the token: initech's portal line (its third entry's).
    assert "(the token read from INITECH_TOKEN)" in initech["error"]
    assert initech["error"].endswith(f"; the manifest names this token at {params.manifest}:10")
    assert any(m.endswith(": initech (HubSpot refused its token, token_env INITECH_TOKEN (401): its run fails unless the token is "
                          "replaced); give each its portal_id in the manifest") for m in caplog.messages)
    assert initech["ledger"]["rows_read"] == reports_of(out, "initech")["initech"]["rows_read"] == 50
    assert second["totals"]["rows_read"] == first["totals"]["rows_read"] + 50

    # acme's manifest entry gains a source: a finished run of its old entry does not count.
    write_export(tmp_path / "acme-2.zip", rows=10, seed=5)
    hubs["initech"].emulator.configure(allowed_tokens=None)
    acme_entry = f"sources: [{tmp_path / 'acme.zip'}]"
    manifest_text = (tmp_path / "accounts.yaml").read_text()
    (tmp_path / "accounts.yaml").write_text(manifest_text.replace(acme_entry, f"sources: [{tmp_path / 'acme.zip'}, {tmp_path / 'acme-2.zip'}]"))
    writes_before = writes(hubs["acme"]) + writes(hubs["initech"])
    third = migrate_accounts(params)

    assert {a["name"]: a["status"] for a in third["accounts"]} == {"acme": "migrated", "globex": "skipped", "initech": "migrated"}
    assert "account acme finished in an earlier run, but its sources and source files changed since: migrated again" in caplog.messages
    assert (out / "globex" / "report.json").read_bytes() == finished_reports["globex"]
    third_reports = reports_of(out, "acme", "initech")
    assert third_reports["acme"]["rows_read"] == 50
    imports_and_opt_outs = sum(len(r["load"]["imports"]) + len(r["load"]["opt_outs"]["files"]) for r in third_reports.values())
    assert writes(hubs["acme"]) + writes(hubs["initech"]) - writes_before >= imports_and_opt_outs
    assert third["failed"] == []
    assert third["totals"]["rows_read"] == 50 + reports["globex"]["rows_read"] + 50

    # A fresh export dropped at globex's path (someone unsubscribed since): another migration,
    # though its manifest entry did not change.
    write_export(tmp_path / "globex.zip", rows=45, seed=9)
    fourth = migrate_accounts(params)

    assert {a["name"]: a["status"] for a in fourth["accounts"]} == {"acme": "skipped", "globex": "migrated", "initech": "skipped"}
    assert "account globex finished in an earlier run, but its source files changed since: migrated again" in caplog.messages
    assert reports_of(out, "globex")["globex"]["rows_read"] == 45


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


def test_a_deployment_with_the_dask_runner_is_refused():
    with pytest.raises(ValidationError, match="account_deployment runs the accounts on the deployment's workers"):
        AccountsParameters(manifest="m.yaml", output="out", task_runner="dask", account_deployment="onramp-migrate/backfill")


@pytest.mark.parametrize("seconds", [0, -5])
def test_a_child_start_timeout_must_be_positive(seconds):
    with pytest.raises(ValidationError, match="child_start_timeout_seconds"):
        AccountsParameters(manifest="m.yaml", output="out", account_deployment="onramp-migrate/backfill", child_start_timeout_seconds=seconds)


def test_a_deployment_is_named_flow_slash_deployment():
    with pytest.raises(ValidationError, match="account_deployment"):
        AccountsParameters(manifest="m.yaml", output="out", account_deployment="backfill")


def flow_run(state) -> FlowRun:
    return FlowRun(flow_id=uuid4(), name="account-acme", state=state)


REPORT = {"rows_read": 3, "rows_rejected": 1, "duplicates_merged": 0,
          "contacts": {"marketing": 1, "non_marketing": 0, "opted_out": 1}, "load": {"rows_failed": 0}}


def test_a_completed_child_run_is_its_account_migrated_with_the_report_from_its_folder():
    result = child_run_result("acme", flow_run(Completed()), REPORT, "/data/out/acme")

    assert result == {"name": "acme", "status": "migrated", "error": None, "ledger": {
        "rows_read": 3, "rows_rejected": 1, "duplicates_merged": 0,
        "contacts": {"marketing": 1, "non_marketing": 0, "opted_out": 1}, "rows_failed": 0, "rows_with_value_errors": 0, "list_removals_failed": 0, "not_associated": 0, "read_back": {}}}


@pytest.mark.parametrize("state, ended", [
    (Failed(message="Flow run encountered an exception: InputError: /data/acme.zip: not a zip archive\n(owner@example.com)"),
     "ended Failed: Flow run encountered an exception: InputError: /data/acme.zip: not a zip archive (o***@example.com)"),
    (Crashed(message="Flow run infrastructure exited with non-zero status code -9."),
     "ended Crashed: Flow run infrastructure exited with non-zero status code -9."),
    (Cancelled(), "ended Cancelled"),
    (None, "has no state"),
])
def test_a_child_run_that_did_not_complete_is_its_accounts_failure_in_one_masked_line(state, ended):
    result = child_run_result("acme", flow_run(state), None, "/data/out/acme")

    assert result == {"name": "acme", "status": "failed", "error": f"flow run account-acme {ended}", "ledger": None}


def test_a_completed_child_run_without_a_report_where_the_parent_reads_is_a_failure_naming_the_folder():
    result = child_run_result("acme", flow_run(Completed()), None, "/data/out/acme")

    assert result["status"] == "failed"
    assert result["error"] == "flow run account-acme completed but no finished report is at /data/out/acme (can every worker reach it?)"


def test_workers_get_urls_as_they_are_and_local_paths_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    params = MigrationParameters(sources=["s3://exports/acme.zip", "mailchimp://a1b2c3d4e5", "exports/crm.csv", "/data/cc.csv"], output="out/acme")

    sent = for_workers(params)

    assert sent.sources == ["s3://exports/acme.zip", "mailchimp://a1b2c3d4e5", str(tmp_path / "exports" / "crm.csv"), "/data/cc.csv"]
    assert sent.output == str(tmp_path / "out" / "acme")
    assert for_workers(MigrationParameters(sources=["a.zip"], output="s3://agency/run-1/acme")).output == "s3://agency/run-1/acme"


def test_a_deployment_the_api_does_not_know_is_refused_before_any_account_runs(prefect_api_url):
    with pytest.raises(InputError, match=r"^onramp-migrate/nowhere: no such deployment on the Prefect API at http://127\.0\.0\.1"):
        check_deployment("onramp-migrate/nowhere")


@pytest.fixture
def unpolled_deployment(prefect_api_url) -> str:
    """A deployment on the test server whose work pool no worker polls: its flow runs stay Scheduled."""
    name = f"unpolled-{uuid4().hex[:8]}"
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=name, type="process"))
        client.create_deployment(flow_id=client.create_flow_from_name("onramp-migrate"), name=name, work_pool_name=name)
    return f"onramp-migrate/{name}"


def child_runs_of(deployment: str) -> list[FlowRun]:
    """The deployment's flow runs as the API has them now."""
    with get_client(sync_client=True) as client:
        deployment_id = client.read_deployment_by_name(deployment).id
        return client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))


def set_child_state(deployment: str, state) -> None:
    """Put the deployment's one flow run in ``state``, as its worker would."""
    (child,) = child_runs_of(deployment)
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(child.id, state, force=True)


class ScriptedPolls(threading.Event):
    """The pauses between a waiting thread's polls, each one a step of the script instead (the
    parent never tells it to stop)."""

    def __init__(self, *steps: Callable[[], None]):
        super().__init__()
        self.steps = list(steps)

    def wait(self, timeout: float | None = None) -> bool:
        self.steps.pop(0)()
        return False


def interrupt() -> None:
    raise KeyboardInterrupt


def one_account(tmp_path, work_queue: str | None = None) -> str:
    """A manifest of one account; no test here gets as far as reading its source or portal."""
    return write_manifest(tmp_path / "accounts.yaml", "http://127.0.0.1:9", {"acme": str(tmp_path / "acme.zip")}, work_queue)


def test_an_account_no_worker_picks_up_fails_in_one_line_and_its_run_is_cancelled(unpolled_deployment, tmp_path, monkeypatch):
    monkeypatch.setattr(flows.accounts, "CHILD_RUN_POLL_SECONDS", 0.1)
    pool = unpolled_deployment.split("/")[1]
    params = AccountsParameters(manifest=one_account(tmp_path), output=str(tmp_path / "out"),
                                account_deployment=unpolled_deployment, child_start_timeout_seconds=1)

    rollup = migrate_accounts(params)

    (acme,) = rollup["accounts"]
    assert (acme["status"], acme["ledger"]) == ("failed", None)
    assert acme["error"] == (f"flow run account-acme of {unpolled_deployment} was not picked up within 1 s: "
                             f"is a worker polling work pool '{pool}'?")
    (child,) = child_runs_of(unpolled_deployment)
    assert child.state.is_cancelled()


def test_a_child_run_once_started_is_waited_for_past_the_start_timeout(unpolled_deployment, tmp_path, monkeypatch):
    # The waiting thread's clock, moved by the script: a slow first poll cannot pass the timeout.
    clock = [0.0]
    monkeypatch.setattr(flows.accounts, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    child_runs = ChildRuns(unpolled_deployment, start_timeout_seconds=0.1, stop_waiting=ScriptedPolls(
        lambda: set_child_state(unpolled_deployment, Running()),
        lambda: clock.__setitem__(0, 1.0),  # the start timeout passes while it runs
        lambda: set_child_state(unpolled_deployment, Completed()),
    ))
    params = MigrationParameters(sources=[str(tmp_path / "acme.zip")], output=str(tmp_path / "out" / "acme"))

    result = run_on_a_worker(child_runs, "acme", params)

    assert result["error"] == f"flow run account-acme completed but no finished report is at {tmp_path / 'out' / 'acme'} (can every worker reach it?)"
    (child,) = child_runs_of(unpolled_deployment)
    assert child.state.is_completed()


def test_an_interrupted_wait_cancels_the_child_run_and_goes_on_up(unpolled_deployment, tmp_path):
    child_runs = ChildRuns(unpolled_deployment, start_timeout_seconds=600, stop_waiting=ScriptedPolls(interrupt))
    params = MigrationParameters(sources=[str(tmp_path / "acme.zip")], output=str(tmp_path / "out" / "acme"))

    with pytest.raises(KeyboardInterrupt):
        run_on_a_worker(child_runs, "acme", params)

    (child,) = child_runs_of(unpolled_deployment)
    assert child.state.is_cancelled()


def test_a_parent_interrupted_while_its_children_wait_cancels_them(unpolled_deployment, tmp_path, monkeypatch):
    monkeypatch.setattr(flows.accounts, "CHILD_RUN_POLL_SECONDS", 0.1)

    def interrupted_once_the_child_exists(futures):
        while not child_runs_of(unpolled_deployment):
            threading.Event().wait(0.1)
        raise KeyboardInterrupt

    monkeypatch.setattr(flows.accounts, "as_completed", interrupted_once_the_child_exists)
    params = AccountsParameters(manifest=one_account(tmp_path), output=str(tmp_path / "out"), account_deployment=unpolled_deployment)

    with pytest.raises(KeyboardInterrupt):
        migrate_accounts(params)

    (child,) = child_runs_of(unpolled_deployment)
    assert child.state.is_cancelled()


def test_an_account_whose_portal_names_a_work_queue_is_a_run_on_that_queue_and_its_timeout_names_it(unpolled_deployment, tmp_path, monkeypatch):
    monkeypatch.setattr(flows.accounts, "CHILD_RUN_POLL_SECONDS", 0.1)
    pool = unpolled_deployment.split("/")[1]
    params = AccountsParameters(manifest=one_account(tmp_path, work_queue="portal-a"), output=str(tmp_path / "out"),
                                account_deployment=unpolled_deployment, child_start_timeout_seconds=1)

    (acme,) = migrate_accounts(params)["accounts"]

    assert acme["error"] == (f"flow run account-acme of {unpolled_deployment} was not picked up within 1 s: "
                             f"is a worker polling work queue 'portal-a' of work pool '{pool}'?")
    (child,) = child_runs_of(unpolled_deployment)
    assert (child.work_pool_name, child.work_queue_name) == (pool, "portal-a")


def test_work_queues_the_pool_lacks_are_one_warning_before_any_account_runs(unpolled_deployment, caplog):
    pool = unpolled_deployment.split("/")[1]
    with get_client(sync_client=True) as client:
        client.create_work_queue("portal-a", work_pool_name=pool)

    check_deployment(unpolled_deployment, {"portal-a", "portal-b", "portal-c"})

    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning.startswith(f"work queue(s) 'portal-b', 'portal-c' not in work pool '{pool}' yet: Prefect creates each")


def test_work_queues_with_a_deployment_without_a_work_pool_are_refused(prefect_api_url):
    name = f"no-pool-{uuid4().hex[:8]}"
    with get_client(sync_client=True) as client:
        client.create_deployment(flow_id=client.create_flow_from_name("onramp-migrate"), name=name)

    check_deployment(f"onramp-migrate/{name}")
    with pytest.raises(InputError, match=rf"^onramp-migrate/{name}: has no work pool, so the manifest's work queues \(portal-a\) cannot"):
        check_deployment(f"onramp-migrate/{name}", {"portal-a"})


def test_an_accounts_portal_id_travels_with_its_parameters_to_a_worker(tmp_path):
    acme = AccountSpec(name="acme", sources=["acme.zip"], portal={"token_env": "ACME_TOKEN", "portal_id": 4417281})

    params = account_parameters(acme, str(tmp_path / "out" / "acme"))

    assert (params.token_env, params.portal_id) == ("ACME_TOKEN", 4417281)
    # What run_on_a_worker sends, as the worker's flow reads it back.
    sent = for_workers(params).model_dump(mode="json")
    assert MigrationParameters.model_validate(sent).portal_id == 4417281
    assert account_parameters(AccountSpec(name="globex", sources=["globex.zip"]), "out/globex").portal_id is None


def test_an_account_whose_load_stopped_brings_its_ledger_and_what_it_sent_to_the_totals(prefect_api_url, tmp_path, monkeypatch):
    monkeypatch.setenv("ACME_TOKEN", "token-acme")
    monkeypatch.setenv("ONRAMP_STATE_DIR", str(tmp_path / "budgets"))
    write_export(tmp_path / "acme.zip", rows=250, seed=4)
    with serve_in_background() as hub:
        # The quota runs out among the contacts' upsert batches.
        hub.emulator.configure(daily_quota_at=QUOTA_AMONG_UPSERTS)
        params = AccountsParameters(manifest=write_manifest(tmp_path / "accounts.yaml", hub.url, {"acme": str(tmp_path / "acme.zip")}), output=str(tmp_path / "out"))

        rollup = migrate_accounts(params)
        landed = len(hub.emulator.portal.live("0-1"))

    report = json.loads((tmp_path / "out" / "acme" / "report.json").read_text())
    [account] = rollup["accounts"]
    assert account["status"] == "failed" and "daily" in account["error"]
    ledger = account["ledger"]
    assert ledger["rows_read"] == report["rows_read"] == rollup["totals"]["rows_read"] > 0
    assert ledger["contacts"] == report["contacts"] == rollup["totals"]["contacts"]
    assert 0 < ledger["stopped"]["contacts_sent"] == landed == rollup["totals"]["contacts_sent_before_stops"]
    assert ledger["stopped"]["contacts_planned"] == report["contacts"]["marketing"] + report["contacts"]["non_marketing"]
    assert f"{landed} of {ledger['stopped']['contacts_planned']} contacts sent" in report["load_stopped"]


def test_a_child_run_whose_load_stopped_brings_its_ledger_but_never_an_older_runs(tmp_path):
    stop = "daily quota spent (before the stop: done properties; 100 of 245 contacts sent)"
    # What a run whose load stopped publishes: the plan's ledger and why, no load.
    stopped_report = {key: value for key, value in REPORT.items() if key != "load"} | {"load_stopped": stop}
    (tmp_path / "report.json").write_text(json.dumps(stopped_report), encoding="utf-8")

    stopped = child_run_result("acme", flow_run(Failed(message=f"Flow run encountered an exception: LoadStopped: {stop}")), None, str(tmp_path))
    older = child_run_result("acme", flow_run(Failed(message="Flow run encountered an exception: InputError: a.zip: not a zip")), None, str(tmp_path))

    assert stopped["ledger"] == {k: REPORT[k] for k in ("rows_read", "rows_rejected", "duplicates_merged", "contacts")} | {
        "rows_failed": 0, "rows_with_value_errors": 0, "list_removals_failed": 0, "not_associated": 0, "read_back": {}, "stopped": None}
    assert older["ledger"] is None


ACME_ENTRY = {"name": "acme", "sources": ["/data/acme.zip"], "portal": {"url": "https://api.hubapi.com", "token_env": "ACME_TOKEN", "portal_id": 4417281}}
ACME = AccountSpec(**ACME_ENTRY)


@pytest.mark.parametrize(("changed", "why"), [
    ({"sources": ["/data/acme.zip", "/data/acme-2023.csv"]}, "its sources changed since"),
    ({"portal": {"url": "http://127.0.0.1:18402", "token_env": "ACME_TOKEN", "portal_id": 4417281}}, "its portal changed since"),
    ({"portal": {"token_env": "GLOBEX_TOKEN", "portal_id": 4417281}}, "its portal changed since"),
    ({"portal": {"token_env": "ACME_TOKEN", "portal_id": 5520913}}, "its portal changed since"),
    ({"portal": {"token_secret": "acme-token", "portal_id": 4417281}}, "its portal changed since"),
    ({"sources": ["/data/acme-new.zip"], "consent_overrides": {"cleaned": "non_marketing"}}, "its sources and consent overrides changed since"),
    ({"sources": ["/data/acme-new.zip"], "consent_overrides": {"cleaned": "non_marketing"}, "portal": {"token_env": "GLOBEX_TOKEN"}},
     "its sources, portal and consent overrides changed since"),
])
def test_an_account_finished_for_another_entry_runs_again_saying_what_changed(changed, why):
    assert why_run_again(manifest_entry(ACME), manifest_entry(AccountSpec(**(ACME_ENTRY | changed)))) == why


def test_an_account_finished_for_its_entry_is_not_run_again_whatever_only_changes_where_it_runs():
    # The same portal written otherwise, and a work queue (where the run goes, not what it sends).
    same = AccountSpec(name="acme", sources=["/data/acme.zip"],
                       portal={"url": "HTTPS://API.hubapi.com:443/", "token_env": "ACME_TOKEN", "portal_id": 4417281, "work_queue": "portal-a"})

    assert why_run_again(manifest_entry(ACME), manifest_entry(same)) is None
    assert why_run_again(json.loads(json.dumps(manifest_entry(ACME))), manifest_entry(ACME)) is None
    assert why_run_again(None, manifest_entry(ACME)) == "no record says which sources and portal it was for"


def test_an_account_whose_source_files_cannot_be_looked_at_runs_again(tmp_path):
    export = tmp_path / "acme.zip"
    export.write_bytes(b"PK")
    entry = manifest_entry(ACME) | {"source_files": source_files([str(export)])}
    assert entry["source_files"] == source_files([str(tmp_path)]) is not None
    assert why_run_again(entry, entry) is None
    unseen = manifest_entry(ACME) | {"source_files": source_files([str(tmp_path / "gone.zip")])}
    assert why_run_again(unseen, unseen) == "its source files cannot be looked at from here"
    # A provider API's contacts are no files: its account is compared by its entry alone.
    assert source_files(["mailchimp://a1b2"]) == source_files([])


FAILED_ROWS_REPORT = REPORT | {"load": {"rows_failed": 3, "rows_with_value_errors": 33, "companies": {"not_associated": 2},
                                         "reconciliation": {"by_check": {"not-marketing": 33, "contact-missing": 0, "opted-out-made-marketing": 1}}}}


def test_rows_failed_and_read_back_mismatches_are_in_the_ledger_and_the_totals():
    rollup = roll_up([account_result("acme", "migrated", FAILED_ROWS_REPORT), account_result("globex", "skipped", FAILED_ROWS_REPORT),
                      account_result("initech", "migrated", REPORT)])

    acme = rollup["accounts"][0]["ledger"]
    assert (acme["rows_failed"], acme["rows_with_value_errors"], acme["not_associated"]) == (3, 33, 2)
    assert acme["read_back"] == {"not-marketing": 33, "opted-out-made-marketing": 1}
    totals = rollup["totals"]
    assert (totals["rows_failed"], totals["rows_with_value_errors"], totals["not_associated"]) == (6, 66, 4)
    assert totals["read_back"] == {"not-marketing": 66, "opted-out-made-marketing": 2}
    assert rollup["failed"] == []


def test_an_account_record_the_storage_will_not_give_is_read_as_none_and_named_in_a_warning(tmp_path, caplog):
    # A folder path through a file fails as an unreachable bucket does: neither missing nor cut short.
    blocker = tmp_path / "output"
    blocker.write_text("not a folder", encoding="utf-8")

    assert published_report(str(blocker / "acme")) is None
    assert f"cannot read {blocker}/acme/report.json" in caplog.text


def test_a_rollup_the_storage_will_not_take_is_a_warning_not_a_crash(tmp_path, caplog):
    blocker = tmp_path / "output"
    blocker.write_text("not a folder", encoding="utf-8")

    write_rollup({"accounts": []}, str(blocker / "run-1"))

    assert f"cannot write {blocker}/run-1/rollup.json" in caplog.text
    assert blocker.read_text(encoding="utf-8") == "not a folder"
