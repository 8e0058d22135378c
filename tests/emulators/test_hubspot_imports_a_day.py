"""The emulator's imports a day (``max_imports_per_day``): import creation over HTTP, refused
past the limit with the 429 its README documents as assumed, over a rolling 24 hours."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hubspot.crm.imports import ApiException

from emulators.hubspot import EmulatorSettings
from emulators.hubspot.values import format_datetime
from tests.emulators.conftest import import_request, write_csv

COLUMNS = [("Email", "email")]


def create(client, tmp_path, name: str):
    """Create a one-row import of ``name``; returns HubSpot's answer."""
    path = write_csv(tmp_path, name, f"Email\n{name.removesuffix('.csv')}@example.com\n")
    return client.crm.imports.core_api.create(files=path, import_request=import_request(name, COLUMNS))


def refused(client, tmp_path, name: str) -> ApiException:
    with pytest.raises(ApiException) as raised:
        create(client, tmp_path, name)
    return raised.value


def test_an_import_past_the_days_limit_is_refused_with_the_assumed_429(hub, client, tmp_path):
    hub.emulator.configure(max_imports_per_day=2)
    create(client, tmp_path, "a.csv")
    create(client, tmp_path, "b.csv")

    refusal = refused(client, tmp_path, "c.csv")

    assert refusal.status == 429
    body = json.loads(refusal.body)
    # No policyName (no request-rate window) and no subCategory (no limit of the file).
    assert {key: body[key] for key in ("status", "category")} == {"status": "error", "category": "RATE_LIMITS"}
    assert "policyName" not in body and "subCategory" not in body
    assert body["message"] == "You have reached the limit of 2 imports in a rolling 24 hours for this portal."
    assert len(hub.emulator.portal.imports) == 2


def test_imports_older_than_24_hours_leave_the_count(hub, client, tmp_path):
    hub.emulator.configure(max_imports_per_day=1)
    first = create(client, tmp_path, "a.csv")
    refused(client, tmp_path, "b.csv")
    # The first import was created a day and a minute ago.
    day_ago = datetime.now(timezone.utc) - timedelta(hours=24, minutes=1)
    hub.emulator.portal.imports[str(first.id)].created_at = format_datetime(day_ago)

    assert create(client, tmp_path, "c.csv").state in ("STARTED", "DEFERRED")


def test_no_limit_is_modelled_by_default_and_a_reset_restarts_the_count(hub, client, tmp_path):
    assert EmulatorSettings().max_imports_per_day is None
    for number in range(4):
        create(client, tmp_path, f"n{number}.csv")
    hub.emulator.configure(max_imports_per_day=4)
    refused(client, tmp_path, "over.csv")

    hub.emulator.reset()

    assert create(client, tmp_path, "after-reset.csv").state in ("STARTED", "DEFERRED")


def test_a_negative_limit_is_refused():
    with pytest.raises(ValueError, match="max_imports_per_day must be 0 or more"):
        EmulatorSettings(max_imports_per_day=-1)
