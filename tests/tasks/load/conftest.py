"""An emulated HubSpot portal on 127.0.0.1 for the load's integration tests."""

from __future__ import annotations

import dataclasses

import pytest
from hubspot import HubSpot

from emulators.hubspot import ratelimit as emulator_limits
from emulators.hubspot import serve_in_background
from tasks.load import settings
from tasks.load.client import HubSpotPortal

TOKEN = "pat-test-load-token"


@pytest.fixture(autouse=True)
def state_dir(tmp_path_factory, monkeypatch):
    """A fresh folder for rate budgets per test, so no test inherits another's spent window."""
    directory = tmp_path_factory.mktemp("state")
    monkeypatch.setenv(settings.STATE_DIR_ENV_VAR, str(directory))
    return directory


@pytest.fixture
def short_window(monkeypatch):
    """The emulator's 10-second burst window cut to one second (its headers say so too), so a
    test can spend several windows quickly. Returns the window in seconds."""
    monkeypatch.setattr(emulator_limits, "BURST_WINDOW_SECONDS", 1.0)
    return 1.0


@pytest.fixture(scope="module")
def hub():
    """One emulator per test module, served over real HTTP."""
    with serve_in_background(tier="enterprise") as server:
        yield server


@pytest.fixture
def emulator(hub):
    """The emulated portal, empty, with its module-wide settings restored after the test."""
    original = hub.emulator.settings
    hub.emulator.reset()
    yield hub.emulator
    hub.emulator.configure(**{field.name: getattr(original, field.name) for field in dataclasses.fields(original)})


@pytest.fixture
def portal(hub, emulator) -> HubSpotPortal:
    """The load's connection to the emulated portal."""
    return HubSpotPortal(hub.url, TOKEN)


@pytest.fixture
def client(hub) -> HubSpot:
    """hubspot-api-client pointed at the emulator, to read back what the load wrote."""
    return HubSpot(access_token=TOKEN, host=hub.url)


def count_requests(emulator, method: str, route_part: str, status: int | None = None) -> int:
    """Requests the emulator answered for routes containing ``route_part`` (and a status)."""
    return sum(
        count
        for (seen_method, route, seen_status), count in emulator.request_counts.items()
        if seen_method == method and route_part in route and (status is None or seen_status == status)
    )
