"""The ``onramp`` command as a user runs it: exit statuses, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest

import flows.cli
from flows.cli import SAMPLE_EXPORT, _one_line, main
from schemas.params import MigrationParameters, SyncParameters
from tasks.load.resume import STATE_FOLDER, load_lock

ONRAMP = [sys.executable, "-m", "flows.cli"]


def run(args: list[str], env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("HUBSPOT_ACCESS_TOKEN", None)
    return subprocess.run([*ONRAMP, *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300)


def assert_one_line_error(result: subprocess.CompletedProcess, status: int, *fragments: str) -> None:
    assert result.returncode == status, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("onramp: error: ")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0]
    assert "Traceback" not in result.stderr + result.stdout
    # Said once: the engine's lines on the run that failed of it are not on the console.
    said = errors[0].removeprefix("onramp: error: ")
    assert sum(said in line for line in result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.parametrize(
    ("make_source", "fragments"),
    [
        (lambda d: d / "missing.zip", ("missing.zip", "no such file")),
        (lambda d: _write(d / "notes.zip", b"this is not a zip"), ("notes.zip",)),
        (lambda d: _zip(d / "empty.zip", {"readme.txt": "hello"}), ("empty.zip",)),
    ],
)
def test_unusable_sources_exit_2_with_one_line_naming_the_file(tmp_path, make_source, fragments, prefect_api_url):
    result = run(["plan", str(make_source(tmp_path)), "--out", str(tmp_path / "out")], env={"PREFECT_API_URL": prefect_api_url})
    assert_one_line_error(result, 2, *fragments)


def test_a_broken_csv_inside_an_export_names_the_file_and_line(tmp_path, prefect_api_url):
    member = "audience_export_ab12/subscribed_email_audience_export_ab12.csv"
    source = _zip(tmp_path / "export.zip", {member: 'Email Address,First Name\na@x.com,Ann\n"b@x.com,Bob\n'})
    result = run(["plan", str(source), "--out", str(tmp_path / "out")], env={"PREFECT_API_URL": prefect_api_url})
    assert_one_line_error(result, 2, f"{source}!{member}:3", "quote")


def test_an_opt_out_cannot_be_remapped_from_the_command_line(tmp_path):
    result = run(["plan", str(SAMPLE_EXPORT), "--out", str(tmp_path), "--consent", "unsubscribed=marketing"])
    assert_one_line_error(result, 2, "unsubscribed", "opt-out")


def test_a_plan_into_an_output_another_run_holds_exits_1_naming_that_run_not_a_load_failure(tmp_path, prefect_api_url):
    out = tmp_path / "out"
    with load_lock(out / STATE_FOLDER):
        result = run(["plan", str(SAMPLE_EXPORT), "--out", str(out)], env={"PREFECT_API_URL": prefect_api_url})
    assert_one_line_error(result, 1, "onramp: error: another run is loading into this output (process ")
    assert not (out / "plan.json").exists()


def test_usage_errors_exit_2(tmp_path):
    assert run(["plan", "--out", str(tmp_path)]).returncode == 2
    assert run(["frobnicate"]).returncode == 2


@pytest.mark.parametrize(("command", "parameters"), [("migrate", MigrationParameters), ("sync", SyncParameters)])
@pytest.mark.parametrize(("given", "portal_id"), [(["--portal-id", "4417281"], 4417281), ([], None)])
def test_the_portal_id_reaches_the_flow_parameters(tmp_path, monkeypatch, command, parameters, given, portal_id):
    started = []

    def engine(flow, params):
        started.append(params)
        return {"load": {"rows_failed": 0}}

    monkeypatch.setattr(flows.cli, "_in_engine", engine)
    monkeypatch.setattr(flows.cli, "_print_summary", lambda report, output: None)

    status = main([command, str(SAMPLE_EXPORT), "--out", str(tmp_path / "out"), *given])

    assert status == 0
    (params,) = started
    assert (type(params), params.portal_id) == (parameters, portal_id)


def test_a_portal_id_that_is_no_portal_id_exits_2(tmp_path, capsys):
    status = main(["migrate", str(SAMPLE_EXPORT), "--out", str(tmp_path / "out"), "--portal-id", "0"])

    assert status == 2
    assert capsys.readouterr().err == "onramp: error: --portal-id: Input should be greater than or equal to 1\n"


def test_plan_reads_and_writes_s3_through_a_local_s3_server(tmp_path, s3_server, prefect_api_url):
    s3 = boto3.client("s3", endpoint_url=s3_server.endpoint, aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    s3.upload_file(str(SAMPLE_EXPORT), s3_server.bucket, "exports/audience.zip")
    # An earlier, bigger plan's import file in the same output folder: gone once this run publishes.
    s3.put_object(Bucket=s3_server.bucket, Key="runs/1/hubspot/contacts-marketing-002.csv", Body=b"email\nold@example.com\n")
    env = {
        "PREFECT_API_URL": prefect_api_url,
        "AWS_ENDPOINT_URL": s3_server.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    result = run(["plan", f"s3://{s3_server.bucket}/exports/audience.zip", "--out", f"s3://{s3_server.bucket}/runs/1"], env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(s3.get_object(Bucket=s3_server.bucket, Key="runs/1/report.json")["Body"].read())
    assert report["rows_read"] == 60
    assert all(s["uri"].startswith(f"s3://{s3_server.bucket}/exports/audience.zip!") for s in report["sources"])
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=s3_server.bucket, Prefix="runs/1/")["Contents"]}
    assert {"runs/1/rejects.csv", "runs/1/hubspot/contacts-marketing-001.csv", "runs/1/hubspot/opt-out-unsubscribed.csv"} <= keys
    assert "runs/1/hubspot/contacts-marketing-002.csv" not in keys


def test_demo_migrates_the_bundled_sample_and_says_where_to_look(tmp_path, prefect_api_url):
    result = run(["demo", "--out", str(tmp_path / "demo")], env={"PREFECT_API_URL": prefect_api_url})
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "demo" / "report.json").read_text())
    assert report["load"]["rows_failed"] == 0
    c = report["contacts"]
    assert f"marketing {c['marketing']}  non-marketing {c['non_marketing']}  opted out {c['opted_out']}" in result.stdout
    assert "Where to look" in result.stdout
    # Every file named there exists.
    for name in ("report.json", "report.html", "rejects.csv", "lineage.csv"):
        assert f"{tmp_path / 'demo' / name} " in result.stdout
        assert (tmp_path / "demo" / name).is_file()
    # The load names the portal by the id HubSpot's account-info API gave (the emulator's default).
    assert "HubSpot portal 123456 (STANDARD) at http://127.0.0.1:" in result.stdout
    assert "@" not in result.stdout.replace(str(tmp_path), "") or "***@" in result.stdout


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


@pytest.mark.parametrize("output", ["exports", "exports/out", "exports/./acme/../out"])
def test_an_output_inside_a_source_folder_exits_2_before_anything_is_written(tmp_path, output, prefect_api_url):
    # Its import files, lineage.csv and rejects.csv would be read as contacts by the next run.
    (tmp_path / "exports").mkdir()
    shutil.copy(SAMPLE_EXPORT, tmp_path / "exports" / "audience.zip")

    result = run(["plan", "exports", "--out", output], cwd=tmp_path)

    assert_one_line_error(result, 2, f"{output}: the output folder is inside the source folder exports")
    assert sorted(path.name for path in (tmp_path / "exports").iterdir()) == ["audience.zip"]
    # A file as the source, and a folder beside it, are fine.
    assert run(["plan", "exports/audience.zip", "--out", "exports-plan"], env={"PREFECT_API_URL": prefect_api_url}, cwd=tmp_path).returncode == 0


def test_an_error_naming_a_file_with_a_newline_or_a_terminal_escape_is_printed_on_one_plain_line():
    # As an account's error in migrate-accounts' summary, and any command's error line.
    assert _one_line("bad\nname\x1b[31m.csv:2: unclosed quote") == "bad\\nname\\x1b[31m.csv:2: unclosed quote"
