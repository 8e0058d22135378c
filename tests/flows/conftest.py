"""One Prefect test server for every engine test of the session (its start costs ~12 s)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from prefect.settings import PREFECT_API_URL
from prefect.testing.utilities import prefect_test_harness

from emulators.hubspot import serve_in_background


@pytest.fixture(scope="session")
def prefect_api_url() -> Iterator[str]:
    """Run flows against a throwaway Prefect server; yields its API URL for subprocesses."""
    timeout = int(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90"))
    with prefect_test_harness(server_startup_timeout=timeout):
        yield PREFECT_API_URL.value()


@pytest.fixture(scope="module")
def hubspot():
    """A local HubSpot portal on 127.0.0.1 for the module's tests."""
    with serve_in_background() as server:
        yield server
