"""Fixtures shared by the whole suite."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
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
