"""The token never travels in an exception: every LoadError path cheap to reach, with its chain.

Prefect keeps a failed task's exception (message and traceback) in its database and logs; the
CLI prints the message. So for each way a load can fail on the wire, the whole formatted
exception - message, causes and contexts, through both the SDK and the plain HTTP client - is
searched for the canary token.
"""

from __future__ import annotations

import socket
import traceback

import pytest

from emulators.hubspot import serve_in_background
from tasks.errors import LoadError
from tasks.load import settings as load_settings
from tasks.load.client import HubSpotPortal

CANARY = "pat-na1-CANARY-0d4e1f2a-9b8c-4d7e-a6f5-e4d3c2b1a090"
MARKER = "CANARY-0d4e1f2a"
GROUPS = "/crm/v3/properties/contacts/groups"


@pytest.fixture(autouse=True)
def fast_failures(tmp_path, monkeypatch):
    monkeypatch.setenv(load_settings.STATE_DIR_ENV_VAR, str(tmp_path / "budgets"))
    monkeypatch.setattr(load_settings, "MAX_ATTEMPTS", 2)
    monkeypatch.setattr(load_settings, "BACKOFF_BASE_SECONDS", 0.01)
    monkeypatch.setattr(load_settings, "BACKOFF_MAX_SECONDS", 0.02)
    monkeypatch.setattr(load_settings, "LOCKED_MIN_WAIT_SECONDS", 0.01)


@pytest.fixture(scope="module")
def hub():
    with serve_in_background(tier="enterprise") as server:
        yield server


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


FAILURES = {
    "refused-token-401": dict(allowed_tokens=frozenset({"pat-na1-another"})),
    "server-errors-until-retries-run-out": dict(error_rate=1.0, error_statuses=(500, 503)),
    "dropped-connections-until-retries-run-out": dict(drop_rate=1.0),
    "daily-quota-spent": dict(daily_quota_at=0),
}


def _formatted(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error) + repr(error.args)


@pytest.mark.parametrize("name", sorted(FAILURES))
@pytest.mark.parametrize("path", ["sdk", "http", "account-info"])
def test_a_failing_load_request_never_shows_the_token(hub, name, path):
    hub.emulator.reset()
    hub.emulator.configure(**FAILURES[name])
    try:
        portal = HubSpotPortal(hub.url, CANARY)
        with pytest.raises(LoadError) as raised:
            if path == "sdk":
                portal.call(portal.sdk.crm.properties.groups_api.get_all_with_http_info, "contacts", what="GET groups")
            elif path == "http":
                portal.request("GET", GROUPS)
            else:
                # The first request of a load: which portal the token is for.
                assert portal.details
    finally:
        hub.emulator.configure(allowed_tokens=None, error_rate=0.0, drop_rate=0.0, daily_quota_at=None)
    assert MARKER not in _formatted(raised.value)
    assert MARKER not in repr(portal)


def test_an_unreachable_portal_never_shows_the_token():
    portal = HubSpotPortal(_closed_port_url(), CANARY)
    with pytest.raises(LoadError) as raised:
        portal.request("GET", GROUPS)
    assert MARKER not in _formatted(raised.value)
