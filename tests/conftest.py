"""Fixtures shared by the whole suite."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import s3fs
from moto.server import ThreadedMotoServer
from prefect.settings import PREFECT_API_URL
from prefect.testing.utilities import prefect_test_harness

from tasks import stopping

S3_BUCKET = "onramp-test"
S3_CREDENTIALS = {"key": "testing", "secret": "testing"}


@pytest.fixture(autouse=True)
def fresh_stop_request(monkeypatch):
    """Each test starts with no stop requested. The request is process-wide and never cleared
    (a command's process ends once it stops), so a test that interrupts a flow would otherwise
    stop every later test's load in the same worker."""
    monkeypatch.setattr(stopping, "_stop_requested", threading.Event())


@dataclass(frozen=True)
class S3Server:
    """A local S3 endpoint with one empty bucket.

    Attributes:
        endpoint: ``http://127.0.0.1:<port>``.
        bucket: The bucket created for the session.
        storage_options: What fsspec/s3fs needs to reach it, as passed to ``stage_files``.
    """

    endpoint: str
    bucket: str
    storage_options: dict


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's real S3 HTTP server on 127.0.0.1 (a free port), for the ``s3://`` code paths.

    The endpoint and credentials travel in s3fs ``storage_options`` (``key``, ``secret``,
    ``client_kwargs.endpoint_url``), not in ``AWS_*`` environment variables: nothing leaks into
    other tests and no request can reach AWS. Nothing is patched; s3fs speaks HTTP to the server.
    """
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_CREDENTIALS["key"],
        aws_secret_access_key=S3_CREDENTIALS["secret"],
        region_name="us-east-1",
    ).create_bucket(Bucket=S3_BUCKET)
    yield S3Server(
        endpoint=endpoint,
        bucket=S3_BUCKET,
        storage_options={**S3_CREDENTIALS, "client_kwargs": {"endpoint_url": endpoint}},
    )
    server.stop()


@pytest.fixture(scope="session")
def prefect_api_url() -> Iterator[str]:
    """One throwaway Prefect server for every engine test of the session (its start costs ~12 s).

    Flows in this process run against it; subprocesses (``onramp ...``) get its URL through
    ``PREFECT_API_URL`` so they do not start servers of their own.
    """
    timeout = int(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90"))
    with prefect_test_harness(server_startup_timeout=timeout):
        yield PREFECT_API_URL.value()


@pytest.fixture
def aws_environment(s3_server, monkeypatch, tmp_path) -> Path:
    """The worker's environment: S3 through ``AWS_*`` variables, and a temporary folder of its own
    (returned) in which a run's local copies of its output would be left."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    worker_tmp = tmp_path / "worker-tmp"
    worker_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(worker_tmp))
    # fsspec reuses a file system made with the same options, whatever the environment says now.
    s3fs.S3FileSystem.clear_instance_cache()
    yield worker_tmp
    s3fs.S3FileSystem.clear_instance_cache()
