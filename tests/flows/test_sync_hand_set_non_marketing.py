"""The recurring sync against the HubSpot emulator, on the batch-upsert path (the Imports path's
split is tested at the load, tests/tasks/load/test_sync_hand_set_non_marketing_load.py): a contact an earlier run
made marketing that a person then set non-marketing by hand in HubSpot (a billing choice: they
never unsubscribed) is not made marketing again by the next run that sends it, run after run,
while its changes still land; one deleted from HubSpot since is created again as marketing; an
opt-out of a contact set non-marketing by hand is still sent."""

from __future__ import annotations

import csv
from pathlib import Path

import httpx

from flows.sync import sync_contacts
from schemas.params import SyncParameters
from tasks.load.opted_out import AS_SET_REPORT_KEY

TOKEN = "sync-token"
SUBSCRIBED = "subscribed_email_audience_export_a1.csv"
UNSUBSCRIBED = "unsubscribed_email_audience_export_a1.csv"


def write_exports(folder: Path, subscribed: dict[str, str], unsubscribed: dict[str, str] | None = None) -> None:
    """A Mailchimp export folder: its subscribed and (when given) unsubscribed members, email → first name."""
    folder.mkdir(exist_ok=True)
    for name, people in ((SUBSCRIBED, subscribed), (UNSUBSCRIBED, unsubscribed)):
        if people:
            with (folder / name).open("w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerows([["Email Address", "First Name", "Last Name"], *([email, first, "Doe"] for email, first in people.items())])


def portal_state(hubspot) -> dict:
    return httpx.get(f"{hubspot.url}/_emulator/state").json()


def name_and_status(hubspot, prefix: str) -> dict[str, tuple[str, str]]:
    return {
        contact["properties"]["email"]: (contact["properties"].get("firstname"), contact["properties"]["hs_marketable_status"])
        for contact in portal_state(hubspot)["contacts"]
        if contact["properties"]["email"].startswith(prefix)
    }


def set_non_marketing_by_hand(hubspot, email: str) -> None:
    response = httpx.post(f"{hubspot.url}/_emulator/contacts/marketing-status", json={"email": email, "marketable": False})
    response.raise_for_status()


def delete_contact(hubspot, email: str) -> None:
    [found] = [contact["id"] for contact in portal_state(hubspot)["contacts"] if contact["properties"]["email"] == email]
    httpx.delete(f"{hubspot.url}/crm/v3/objects/contacts/{found}", headers={"Authorization": f"Bearer {TOKEN}"}).raise_for_status()


def test_a_contact_set_non_marketing_by_hand_stays_so_run_after_run(prefect_api_url, hubspot, tmp_path, monkeypatch):
    load_path = "upsert"
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    prefix = f"hand-{load_path}-"
    ann, ben, cy, dee = (f"{prefix}{name}@example.com" for name in ("ann", "ben", "cy", "dee"))
    folder = tmp_path / "audience"
    params = SyncParameters(sources=[str(folder)], output=str(tmp_path / "out"), portal_url=hubspot.url, load_path=load_path)
    write_exports(folder, {ann: "Ann", ben: "Ben", cy: "Cy", dee: "Dee"})

    first = sync_contacts(params)

    assert first["sync"]["changed_already_marketing"] == 0
    assert {status for _, status in name_and_status(hubspot, prefix).values()} == {"true"}

    # In HubSpot: ann and dee set non-marketing by hand, cy deleted. At the source: ann, ben and
    # cy renamed, dee unsubscribed.
    set_non_marketing_by_hand(hubspot, ann)
    set_non_marketing_by_hand(hubspot, dee)
    delete_contact(hubspot, cy)
    write_exports(folder, {ann: "Anna", ben: "Benny", cy: "Cyrus"}, {dee: "Dee"})

    forecast = sync_contacts(params.model_copy(update={"dry_run": True}))
    second = sync_contacts(params)

    assert forecast["dry_run"][AS_SET_REPORT_KEY] == 1
    assert (second["sync"]["new_or_changed_contacts"], second["sync"]["changed_already_marketing"], second["sync"]["new_opt_outs"]) == (3, 3, 1)
    assert second["load"][AS_SET_REPORT_KEY]["count"] == 1
    assert second["load"]["rows_failed"] == 0
    assert name_and_status(hubspot, prefix) == {ann: ("Anna", "false"), ben: ("Benny", "true"), cy: ("Cyrus", "true"), dee: ("Dee", "false")}
    assert dee in portal_state(hubspot)["optOuts"]

    write_exports(folder, {ann: "Annie", ben: "Benny", cy: "Cyrus"}, {dee: "Dee"})
    third = sync_contacts(params)

    assert (third["sync"]["new_or_changed_contacts"], third["sync"]["changed_already_marketing"]) == (1, 1)
    assert third["load"][AS_SET_REPORT_KEY]["count"] == 1
    assert name_and_status(hubspot, prefix)[ann] == ("Annie", "false")
