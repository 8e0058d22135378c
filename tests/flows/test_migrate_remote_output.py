"""Runs with S3 sources and outputs, as a Prefect deployment runs them (credentials and endpoint
from the environment): an unusable output or source is refused in one line before any work, the
flow-run log says it without a traceback, and no copy of the plan is left on the worker.

The flows run in-process against the session's Prefect server; S3 is moto's server on 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import boto3
import pytest

from emulators.hubspot import serve_in_background
from flows.migrate import check_sources_reachable, migrate_contacts, plan_contacts
from schemas.params import MigrationParameters, PlanParameters
from tasks.errors import InputError
from tasks.load import lease
from tasks.load.lease import LEASE_FILE, output_lease
from tasks.load.run import LoadStopped
from tasks.load.client import HubSpotPortal
from tasks.load.resume import PORTAL_FILE, RECORDS, LoadInProgress, load_state, move_records_into_output
from tests.tasks.load.reruns import load_in_a_flow

SAMPLE_EXPORT = Path(__file__).resolve().parents[2] / "samples" / "mailchimp-audience-export.zip"
UNUSED_PORTAL = "http://127.0.0.1:9"
"""Nothing listens there: a run that reached HubSpot would fail otherwise than these tests say."""


@pytest.fixture
def s3(s3_server):
    client = boto3.client("s3", endpoint_url=s3_server.endpoint, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")  # fmt: skip
    client.upload_file(str(SAMPLE_EXPORT), s3_server.bucket, "exports/audience.zip")
    return client


def refused(flow, params, caplog) -> str:
    """What a flow run refused with; its log (the records Prefect's handlers, its API's among
    them, got) says it in one line, without a traceback."""
    state = flow(params, return_state=True)
    assert state.is_failed()
    with pytest.raises(InputError) as error:
        state.result()
    assert state.message == str(error.value)
    run_log = [record for record in caplog.records if record.name.startswith("prefect.flow_runs")]
    assert any(str(error.value) in record.getMessage() for record in run_log)
    assert not any(record.exc_info for record in run_log)
    assert "Traceback" not in caplog.text
    return str(error.value)


def buckets(s3) -> set[str]:
    return {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}


def test_a_missing_output_bucket_is_refused_before_any_work_and_never_created(prefect_api_url, caplog, aws_environment, s3, s3_server):
    params = MigrationParameters(sources=[f"s3://{s3_server.bucket}/exports/audience.zip"], output="s3://no-such-bucket/run-x",
                                 portal_url=UNUSED_PORTAL)  # fmt: skip

    said = refused(migrate_contacts, params, caplog)

    assert said == "s3://no-such-bucket/run-x: cannot write the output: no such bucket 'no-such-bucket': create it, or name an existing one"
    assert "no-such-bucket" not in buckets(s3)
    # Refused before the token is even looked for, the plan made or a local copy begun.
    assert list(aws_environment.iterdir()) == []


def test_a_published_run_leaves_no_copy_of_its_plan_on_the_worker(prefect_api_url, aws_environment, s3, s3_server):
    params = PlanParameters(sources=[f"s3://{s3_server.bucket}/exports/audience.zip"], output=f"s3://{s3_server.bucket}/runs/clean")

    report = plan_contacts(params)

    assert report["rows_read"] == 60
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=s3_server.bucket, Prefix="runs/clean/")["Contents"]}
    assert "runs/clean/hubspot/contacts-marketing-001.csv" in keys
    assert list(aws_environment.iterdir()) == []


def test_a_run_into_an_output_a_run_on_another_machine_holds_stops_before_it_plans(prefect_api_url, aws_environment, s3, s3_server):
    output = f"s3://{s3_server.bucket}/runs/leased"
    params = PlanParameters(sources=[f"s3://{s3_server.bucket}/exports/audience.zip"], output=output)

    def keys() -> set[str]:
        return {o["Key"] for o in s3.list_objects_v2(Bucket=s3_server.bucket, Prefix="runs/leased/").get("Contents", [])}

    # The other machine's run holds only the lease in the output: its state folder is its own.
    with output_lease(output):
        with pytest.raises(LoadInProgress, match="another run is loading into this output"):
            plan_contacts(params)
        assert keys() == {f"runs/leased/{LEASE_FILE}"}
        assert list(aws_environment.iterdir()) == []

    assert plan_contacts(params)["rows_read"] == 60
    assert "runs/leased/hubspot/contacts-marketing-001.csv" in keys()
    assert f"runs/leased/{LEASE_FILE}" not in keys()


def test_no_credentials_name_the_source(prefect_api_url, caplog, aws_environment, s3, s3_server, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    source = f"s3://{s3_server.bucket}/exports/audience.zip"

    said = refused(plan_contacts, PlanParameters(sources=[source], output=f"s3://{s3_server.bucket}/runs/nocreds"), caplog)

    assert said == (
        f"{source}: cannot read the source: no AWS credentials where the flow runs "
        "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile or a role)"
    )


def test_no_credentials_name_the_output(prefect_api_url, caplog, aws_environment, s3_server, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    said = refused(plan_contacts, PlanParameters(sources=[str(SAMPLE_EXPORT)], output=f"s3://{s3_server.bucket}/runs/nocreds"), caplog)

    assert said.startswith(f"s3://{s3_server.bucket}/runs/nocreds: cannot write the output: no AWS credentials where the flow runs")


def test_an_unreachable_storage_is_one_line(prefect_api_url, caplog, aws_environment, s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    source = f"s3://{s3_server.bucket}/exports/audience.zip"

    said = refused(plan_contacts, PlanParameters(sources=[source], output=f"s3://{s3_server.bucket}/runs/unreachable"), caplog)

    assert said == f"{source}: cannot read the source: cannot reach the storage (nothing answers at its endpoint)"


def test_all_of_s3_is_no_source(prefect_api_url, caplog, aws_environment, s3_server):
    said = refused(plan_contacts, PlanParameters(sources=["s3://"], output=f"s3://{s3_server.bucket}/runs/everything"), caplog)

    assert said == "s3://: names no bucket: give a file or folder in a bucket (s3://BUCKET/PATH)"


def test_a_workbook_sheet_is_looked_for_in_its_workbook(tmp_path):
    workbook = tmp_path / "export.xlsx"
    workbook.write_bytes(b"a workbook's bytes: only its presence is checked here")

    check_sources_reachable([f"{workbook}#Contacts"])
    with pytest.raises(InputError, match="no such file or folder"):
        check_sources_reachable([f"{tmp_path / 'missing.xlsx'}#Contacts"])


def writes(emulator) -> int:
    """The requests that changed the emulated portal (reads and searches aside)."""
    return sum(
        count
        for (method, route, status), count in emulator.request_counts.items()
        if method != "GET" and status < 300 and "read" not in route and "search" not in route
    )


def test_a_rerun_on_another_machine_finds_the_load_done_in_the_output(prefect_api_url, aws_environment, s3, s3_server, monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "token-remote")
    output = f"s3://{s3_server.bucket}/runs/resumed"
    with serve_in_background() as hub:
        params = MigrationParameters(
            sources=[f"s3://{s3_server.bucket}/exports/audience.zip"], output=output, portal_url=hub.url, import_companies=True
        )
        first = migrate_contacts(params)["load"]
        records = {o["Key"] for o in s3.list_objects_v2(Bucket=s3_server.bucket, Prefix="runs/resumed/.onramp-load/")["Contents"]}
        # The other machine is a new container: nothing of the first run's is on it.
        shutil.rmtree(load_state(output, Path()).work)
        before = writes(hub.emulator)
        again = migrate_contacts(params)["load"]

        assert writes(hub.emulator) == before
    assert first["rows_failed"] == 0 and first["imports"]
    assert {folder.split("/")[3] for folder in records} >= {"keys", "results", "imports", PORTAL_FILE}
    assert {step["step"] for step in again["steps"] if not step["already_done"]} == set()
    assert again["companies"] == first["companies"]


def test_a_load_an_earlier_version_kept_on_the_machine_is_found_done_once_moved_into_the_output(
    prefect_api_url, aws_environment, s3, s3_server, monkeypatch, tmp_path
):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "token-upgraded")
    output = f"s3://{s3_server.bucket}/runs/upgraded"
    source = f"s3://{s3_server.bucket}/exports/audience.zip"
    work = load_state(output, Path()).work
    with serve_in_background() as hub:
        # The earlier version: the same plan loaded with every record in the machine's folder.
        plan_contacts(PlanParameters(sources=[source], output=str(tmp_path / "plan")))
        earlier = load_in_a_flow(HubSpotPortal(hub.url, "token-upgraded"), str(tmp_path / "plan"), str(work))
        before = writes(hub.emulator)

        upgraded = migrate_contacts(MigrationParameters(sources=[source], output=output, portal_url=hub.url))["load"]

        assert writes(hub.emulator) == before
    assert earlier["rows_failed"] == 0 and all(step["already_done"] for step in upgraded["steps"])
    # Moved, not copied: what stays on the machine is the lock and the files derived each run.
    assert not {path.name for path in work.iterdir()} & set(RECORDS)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=s3_server.bucket, Prefix="runs/upgraded/.onramp-load/")["Contents"]}
    assert {key.split("/")[3] for key in keys} >= {"keys", "results", "imports", "lists", PORTAL_FILE}


def test_records_the_output_holds_win_over_what_a_machine_kept(aws_environment, s3, s3_server):
    output = f"s3://{s3_server.bucket}/runs/held-elsewhere"
    s3.put_object(Bucket=s3_server.bucket, Key=f"runs/held-elsewhere/.onramp-load/{PORTAL_FILE}", Body=b"{}")
    state = load_state(output, Path())
    (state.work / "keys").mkdir(parents=True)
    (state.work / "keys" / "stale").write_text("stale")

    move_records_into_output(state)

    assert not (state.work / "keys").exists()
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=s3_server.bucket, Prefix="runs/held-elsewhere/")["Contents"]}
    assert keys == {f"runs/held-elsewhere/.onramp-load/{PORTAL_FILE}"}


def test_a_syncs_unfinished_run_moves_its_records_alone_and_only_where_the_output_has_none(aws_environment, s3, s3_server):
    output = f"s3://{s3_server.bucket}/runs/synced"
    state = load_state(output, Path())
    for name in ["sync-2/keys/a", f"sync-2/{PORTAL_FILE}", "sync-2/opted-out-non-marketing/contacts-marketing-001.csv", "sync-3/keys/b"]:
        (state.work / name).parent.mkdir(parents=True, exist_ok=True)
        (state.work / name).write_text("{}")
    # sync-3's run went on elsewhere: its records in the output win.
    s3.put_object(Bucket=s3_server.bucket, Key=f"runs/synced/.onramp-load/sync-3/{PORTAL_FILE}", Body=b"{}")

    move_records_into_output(state)

    keys = {o["Key"].removeprefix("runs/synced/.onramp-load/") for o in s3.list_objects_v2(Bucket=s3_server.bucket, Prefix="runs/synced/")["Contents"]}
    # The files derived from the plan (addresses among them) are no record: they stay, unsent.
    assert keys == {"sync-2/keys/a", f"sync-2/{PORTAL_FILE}", f"sync-3/{PORTAL_FILE}"}
    assert sorted(path.relative_to(state.work).as_posix() for path in state.work.rglob("*") if path.is_file()) == [
        "sync-2/opted-out-non-marketing/contacts-marketing-001.csv"
    ]


def test_a_migration_whose_lease_another_run_takes_over_stops_sending(prefect_api_url, aws_environment, s3, s3_server, monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "token-overtaken")
    # Renewed five times a second, so its loss is found while the load waits on an import.
    monkeypatch.setattr(lease, "LEASE_RENEWAL_SECONDS", 0.2)
    output = f"s3://{s3_server.bucket}/runs/overtaken"
    newcomer = {"holder": "process 1 on another-worker, since 2026-01-01 00:00:00 UTC", "lease_seconds": 600}
    with serve_in_background() as hub:
        hub.emulator.imports.hold()

        def take_over_once_an_import_waits() -> None:
            while not hub.emulator.portal.imports:
                time.sleep(0.05)
            s3.put_object(Bucket=s3_server.bucket, Key=f"runs/overtaken/{LEASE_FILE}", Body=json.dumps(newcomer).encode())

        taker = threading.Thread(target=take_over_once_an_import_waits, daemon=True)
        taker.start()
        params = MigrationParameters(sources=[f"s3://{s3_server.bucket}/exports/audience.zip"], output=output, portal_url=hub.url)
        with pytest.raises(LoadStopped, match="took this load's lease over"):
            migrate_contacts(params)
        hub.emulator.imports.release()
        taker.join(timeout=10)

    report = json.loads(s3.get_object(Bucket=s3_server.bucket, Key="runs/overtaken/report.json")["Body"].read())
    assert "two runs may be loading into this output now; the load stopped" in report["load_stopped"]
    # The other run's lease is left to it.
    assert json.loads(s3.get_object(Bucket=s3_server.bucket, Key=f"runs/overtaken/{LEASE_FILE}")["Body"].read()) == newcomer
