"""Fixtures for the HubSpot emulator tests: one emulator per test module, reset between tests."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hubspot import HubSpot

from emulators.hubspot import EmulatorSettings, serve_in_background
from emulators.hubspot.ratelimit import RateLimiter

TOKEN = "test-token"
FINAL = ("DONE", "FAILED", "CANCELED")


@pytest.fixture(scope="module")
def hub():
    """An emulator serving on loopback for the whole module."""
    with serve_in_background() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_portal(request):
    """Give each test an empty portal with default settings when its module uses the emulator."""
    if "hub" in request.fixturenames:
        emulator = request.getfixturevalue("hub").emulator
        emulator.configure(**vars(EmulatorSettings()))
        emulator.reset()
    yield


@pytest.fixture
def client(hub) -> HubSpot:
    """The official client pointed at the emulator."""
    return HubSpot(access_token=TOKEN, host=hub.url)


def auth(token: str = TOKEN) -> dict[str, str]:
    """Headers for plain-HTTP calls."""
    return {"Authorization": f"Bearer {token}"}


def write_csv(folder: Path, name: str, text: str) -> str:
    """Write an import file and return its path."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def mapping(column: str, prop: str | None, object_type: str = "0-1", **extra) -> dict:
    """One column mapping; ``email`` is mapped as the alternate id."""
    entry = {"columnObjectTypeId": object_type, "columnName": column, "propertyName": prop}
    if prop == "email":
        entry["columnType"] = "HUBSPOT_ALTERNATE_ID"
    entry.update(extra)
    return entry


def import_request(file_name: str, columns: list[tuple[str, str]], **options) -> str:
    """An ``importRequest`` JSON for one CSV file mapping ``(column, property)`` pairs."""
    request = {
        "name": options.pop("name", file_name),
        "importOperations": {"0-1": "UPSERT"},
        "files": [
            {
                "fileName": file_name,
                "fileFormat": "CSV",
                "fileImportPage": {
                    "hasHeader": True,
                    "columnMappings": [mapping(column, prop) for column, prop in columns],
                },
            }
        ],
        **options,
    }
    return json.dumps(request)


def wait_for_import(client: HubSpot, import_id: str, states=FINAL):
    """Poll an import until it reaches one of ``states`` and return it."""
    for _ in range(2000):
        current = client.crm.imports.core_api.get_by_id(int(import_id))
        if current.state in states:
            return current
        time.sleep(0.01)
    raise AssertionError(f"import {import_id} stayed {current.state}")


def run_import(client: HubSpot, folder: Path, file_name: str, text: str, columns, **options):
    """Create an import of one CSV and wait until it finishes."""
    path = write_csv(folder, file_name, text)
    created = client.crm.imports.core_api.create(
        files=path, import_request=import_request(file_name, columns, **options)
    )
    return wait_for_import(client, created.id)


def frozen_clock(hub) -> None:
    """Stop time for the emulator's rate limits, so every request falls in the same window."""
    settings = hub.emulator.settings
    hub.emulator.limiter = RateLimiter(
        settings.burst_limit, settings.daily_quota, settings.search_per_second, clock=lambda: 0.0
    )
