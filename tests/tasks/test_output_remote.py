"""A remote output folder: refused before any work when it cannot be written, never a bucket
created, its local copy removed once published and kept (and named) only when publishing fails.

Everything talks HTTP to moto's S3 server on 127.0.0.1 (the ``s3_server`` fixture).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import fsspec
import pytest
import requests
import s3fs
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

import tasks.load.log  # noqa: F401 - imports Prefect, which sets logging up as it loads: before caplog's handler, not mid-test
from tasks.errors import InputError
from tasks.output import OutputFolder, check_output_location, storage_problem, written_whole

NO_AWS_CONFIGURATION = {
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(autouse=True)
def fresh_file_systems() -> Iterator[None]:
    """fsspec reuses a file system made with the same options: each test gets its own, so one
    test's credentials (or their absence) never carry into another's."""
    s3fs.S3FileSystem.clear_instance_cache()
    yield
    s3fs.S3FileSystem.clear_instance_cache()


def s3_client(s3_server, **credentials):
    return boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint,
        aws_access_key_id=credentials.get("key", "testing"),
        aws_secret_access_key=credentials.get("secret", "testing"),
        region_name="us-east-1",
    )


def buckets(s3_server) -> set[str]:
    return {bucket["Name"] for bucket in s3_client(s3_server).list_buckets()["Buckets"]}


def refusal(url: str, storage_options: dict) -> str:
    with pytest.raises(InputError) as error:
        check_output_location(url, storage_options)
    return str(error.value)


def test_a_usable_bucket_passes_and_keeps_no_test_object(s3_server):
    check_output_location(f"s3://{s3_server.bucket}/checked-run", s3_server.storage_options)

    listed = s3_client(s3_server).list_objects_v2(Bucket=s3_server.bucket, Prefix="checked-run/")
    assert listed["KeyCount"] == 0


def test_a_missing_bucket_is_refused_and_never_created(s3_server):
    said = refusal("s3://no-such-bucket/run-x", s3_server.storage_options)

    assert said == "s3://no-such-bucket/run-x: cannot write the output: no such bucket 'no-such-bucket': create it, or name an existing one"
    assert "no-such-bucket" not in buckets(s3_server)


def test_a_bucket_name_s3_refuses_is_no_such_bucket(s3_server):
    # "ab" is too short to be a bucket's name: s3fs would try to create it and fail at the end.
    said = refusal("s3://ab/run-y", s3_server.storage_options)

    assert said.startswith("s3://ab/run-y: cannot write the output: no such bucket 'ab'")


def test_an_output_naming_no_bucket_is_refused(s3_server):
    said = refusal("s3://", s3_server.storage_options)

    assert said == "s3://: the output names no bucket: give the bucket and a folder in it (s3://BUCKET/FOLDER)"


def test_no_credentials_are_named_as_such(s3_server, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in NO_AWS_CONFIGURATION.items():
        monkeypatch.setenv(name, value)

    said = refusal(f"s3://{s3_server.bucket}/run", {"client_kwargs": {"endpoint_url": s3_server.endpoint}})

    assert said == (
        f"s3://{s3_server.bucket}/run: cannot write the output: no AWS credentials where the flow runs "
        "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile or a role)"
    )


def test_an_unreachable_storage_is_named_as_such(s3_server):
    nowhere = {**s3_server.storage_options, "client_kwargs": {"endpoint_url": "http://127.0.0.1:9"}, "config_kwargs": {"retries": {"max_attempts": 1}}}

    said = refusal(f"s3://{s3_server.bucket}/run", nowhere)

    assert said == f"s3://{s3_server.bucket}/run: cannot write the output: cannot reach the storage (nothing answers at its endpoint)"


@contextmanager
def iam_user(s3_server, name: str, bucket: str, actions: list[str]) -> Iterator[dict]:
    """Credentials of an IAM user granted ``actions`` on ``bucket``, with moto enforcing IAM (its
    own switch, ``/moto-api/reset-auth``: the next requests named are free, then every one is checked)."""
    # Free: the bucket, the user and its key, and with actions the policy and its attachment.
    setup_requests = 3 + (2 if actions else 0)
    requests.post(f"{s3_server.endpoint}/moto-api/reset-auth", data=str(setup_requests), timeout=10).raise_for_status()
    try:
        s3_client(s3_server).create_bucket(Bucket=bucket)
        iam = boto3.client("iam", endpoint_url=s3_server.endpoint, aws_access_key_id="testing",
                           aws_secret_access_key="testing", region_name="us-east-1")  # fmt: skip
        iam.create_user(UserName=name)
        if actions:
            resources = [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
            policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}]}
            arn = iam.create_policy(PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))["Policy"]["Arn"]
            iam.attach_user_policy(UserName=name, PolicyArn=arn)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        yield {"key": key["AccessKeyId"], "secret": key["SecretAccessKey"], "client_kwargs": {"endpoint_url": s3_server.endpoint}}
    finally:
        requests.post(f"{s3_server.endpoint}/moto-api/reset-auth", data="inf", timeout=10).raise_for_status()


@pytest.fixture
def user_without_permissions(s3_server) -> Iterator[dict]:
    """Credentials of an IAM user granted nothing."""
    with iam_user(s3_server, "nobody", "locked-outputs", []) as credentials:
        yield credentials


def test_a_user_who_may_write_but_not_delete_passes_and_is_told_of_the_object_left(s3_server, caplog):
    caplog.set_level(logging.WARNING, logger="tasks.load")
    with iam_user(s3_server, "writer", "put-only-outputs", ["s3:PutObject", "s3:GetObject", "s3:ListBucket"]) as credentials:
        check_output_location("s3://put-only-outputs/run", credentials)

    [left] = [item["Key"] for item in s3_client(s3_server).list_objects_v2(Bucket="put-only-outputs")["Contents"]]
    assert left.startswith("run/.onramp-write-check-")
    assert f"the output's write check could not remove {left.rsplit('/', 1)[-1]} (access denied" in caplog.text


def test_access_denied_is_named_as_such(user_without_permissions):
    said = refusal("s3://locked-outputs/run", user_without_permissions)

    assert said == "s3://locked-outputs/run: cannot write the output: access denied to the bucket 'locked-outputs'"


def test_publishing_removes_the_local_copy(s3_server):
    out = OutputFolder(f"s3://{s3_server.bucket}/published-run", storage_options=s3_server.storage_options)
    out.path("hubspot/contacts-marketing-001.csv").write_text("email\nada@example.com\n", encoding="utf-8")

    out.publish()

    assert not out.local.exists()
    body = s3_client(s3_server).get_object(Bucket=s3_server.bucket, Key="published-run/hubspot/contacts-marketing-001.csv")["Body"]
    assert body.read() == b"email\nada@example.com\n"


def test_a_run_that_ends_before_publishing_leaves_no_local_copy(s3_server):
    with pytest.raises(InputError), OutputFolder(f"s3://{s3_server.bucket}/stopped-run", storage_options=s3_server.storage_options) as out:
        out.path("rejects.csv").write_text("email\nada@example.com\n", encoding="utf-8")
        raise InputError("export.csv", "unreadable")

    assert not out.local.exists()


def test_a_failed_publish_keeps_the_local_copy_says_where_and_creates_no_bucket(s3_server):
    out = OutputFolder("s3://bucket-gone-by-now/run", storage_options=s3_server.storage_options)
    out.path("hubspot/contacts-marketing-001.csv").write_text("email\nada@example.com\n", encoding="utf-8")

    with pytest.raises(InputError) as error, out:
        out.publish()

    assert str(error.value) == (
        "s3://bucket-gone-by-now/run: could not publish the output (no such bucket 'bucket-gone-by-now': "
        f"create it, or name an existing one); it is kept in {out.local}"
    )
    assert (out.local / "hubspot" / "contacts-marketing-001.csv").is_file()
    assert "bucket-gone-by-now" not in buckets(s3_server)


def test_a_local_output_folder_is_never_removed(tmp_path):
    with OutputFolder(str(tmp_path / "out")) as out:
        out.path("report.json").write_text("{}", encoding="utf-8")
        out.publish()

    assert (tmp_path / "out" / "report.json").is_file()


def test_a_whole_write_into_a_missing_bucket_fails_and_creates_none(s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    with pytest.raises(FileNotFoundError), written_whole("s3://never-made/.onramp-load/state.json") as handle:
        handle.write("{}")

    assert "never-made" not in buckets(s3_server)



def test_a_whole_write_to_a_bucket_lands_as_one_object_and_a_failed_one_leaves_the_last(aws_environment, s3_server, tmp_path):
    folder = f"s3://{s3_server.bucket}/{tmp_path.name}"
    with written_whole(f"{folder}/state.json") as handle:
        handle.write('{"generation": "é1"}')
    with written_whole(f"{folder}/snapshot.bin", "wb") as handle:
        handle.write(b"\x00\x01")

    with pytest.raises(RuntimeError), written_whole(f"{folder}/state.json") as handle:
        handle.write('{"generation": ')
        raise RuntimeError("the writer failed half way")

    fs = fsspec.filesystem("s3")
    assert fs.cat(f"{folder}/state.json").decode("utf-8") == '{"generation": "é1"}'
    assert fs.cat(f"{folder}/snapshot.bin") == b"\x00\x01"
    # Nothing written aside to be moved (and deleted) after.
    assert sorted(path.rsplit("/", 1)[1] for path in fs.ls(folder, refresh=True)) == ["snapshot.bin", "state.json"]


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (ReadTimeoutError(endpoint_url="http://10.0.0.7:9000/b/k?uploadId=x"), "the storage stopped answering (no answer in time)"),
        (ConnectTimeoutError(endpoint_url="http://10.0.0.7:9000"), "cannot reach the storage (its endpoint does not answer in time)"),
        (PermissionError("Access Denied"), "access denied to the bucket 'outputs'"),
    ],
)
def test_a_storage_problem_is_said_in_a_few_words_naming_no_endpoint(error, said):
    assert storage_problem(error, "outputs/run-1/report.json") == said


def test_every_spelling_of_a_remote_output_is_one_folder_and_a_local_url_is_left_as_it_is(aws_environment, s3_server, tmp_path):
    for spelling in (f"s3://{s3_server.bucket}//spelled/./run/", f"s3a://{s3_server.bucket}/spelled/run"):
        with OutputFolder(spelling) as out:
            out.path("report.json").write_text("{}", encoding="utf-8")
            out.publish()
        assert out.url == f"s3://{s3_server.bucket}/spelled/run"
    fs = fsspec.filesystem("s3")
    assert fs.find(f"{s3_server.bucket}/spelled", refresh=True) == [f"{s3_server.bucket}/spelled/run/report.json"]
    local = OutputFolder(f"file://{tmp_path}/out")
    assert (local.url, local.local) == (f"file://{tmp_path}/out", tmp_path / "out")
