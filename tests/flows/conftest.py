"""Fixtures of the engine tests (the shared Prefect server is in ``tests/conftest.py``)."""

from __future__ import annotations

import pytest

from emulators.hubspot import serve_in_background


@pytest.fixture(scope="module")
def hubspot():
    """A local HubSpot portal on 127.0.0.1 for the module's tests."""
    with serve_in_background() as server:
        yield server
