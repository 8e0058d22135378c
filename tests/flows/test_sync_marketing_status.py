"""The recurring sync against the HubSpot emulator when the import that makes its upserted
subscribers marketing contacts fails: those rows are counted failed (the run exits non-zero), stay
out of the snapshot, and the next run sends them again, until HubSpot holds them as marketing."""

from __future__ import annotations

import httpx

from flows.sync import sync_contacts
from schemas.params import SyncParameters
from tests.flows.test_sync_changes import OTHERS, write_export

SUBSCRIBERS = OTHERS + 1


def marketing_status(hubspot, prefix: str) -> dict[str, str]:
    contacts = httpx.get(f"{hubspot.url}/_emulator/state").json()["contacts"]
    return {
        contact["properties"]["email"]: contact["properties"].get("hs_marketable_status")
        for contact in contacts
        if contact["properties"]["email"].startswith(prefix)
    }


def test_subscribers_whose_marketing_status_import_failed_are_sent_again_next_run(prefect_api_url, hubspot, tmp_path, monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "sync-token")
    folder, out = tmp_path / "status", tmp_path / "out"
    write_export(folder, "status", "Boston")
    params = SyncParameters(sources=[str(folder)], output=str(out), portal_url=hubspot.url)
    # The marketing-status import FAILED, and FAILED again when submitted once more.
    hubspot.emulator.fail_next_imports(2)

    first = sync_contacts(params)

    assert first["sync"]["new_or_changed_contacts"] == SUBSCRIBERS
    # Failed rows, not values HubSpot refused: the command exits non-zero (flows/cli.py).
    assert (first["load"]["rows_failed"], first["load"]["rows_with_value_errors"]) == (SUBSCRIBERS, 0)
    assert {error["scope"] for error in first["load"]["errors"] if error["line"]} == {"row"}
    assert set(marketing_status(hubspot, "status").values()) == {"false"}

    again = sync_contacts(params)

    assert (again["sync"]["new_or_changed_contacts"], again["sync"]["unchanged"]) == (SUBSCRIBERS, 0)
    assert again["load"]["rows_failed"] == 0
    assert set(marketing_status(hubspot, "status").values()) == {"true"}
    assert sync_contacts(params)["sync"]["unchanged"] == SUBSCRIBERS
