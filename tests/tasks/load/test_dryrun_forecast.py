"""The dry run forecasts what the load then does, on either load path: run both against one seeded
emulated portal over real HTTP and compare the forecast with the portal before and after."""

from __future__ import annotations

import json

import pytest
from prefect import flow

from tasks.load.client import HubSpotPortal
from tasks.load.dryrun import dry_run
from tasks.load.opted_out import REPORT_KEY
from tasks.load.plan import read_plan
from tasks.load.run import AUTO, load_steps
from tasks.load.settings import CONTACT_OBJECT_TYPE_ID as CONTACTS
from tasks.load.settings import UPSERT_MAX_ROWS
from tasks.load.upsert import IMPORTS, UPSERT
from tests.tasks.load.conftest import count_requests
from tests.tasks.load.test_opted_out import POLL, plan_dir

NEW = "ann@example.com"
UNSUBSCRIBED_BY_ADDRESS = "ben@example.com"
UNSUBSCRIBED_CONTACT = "cy@example.com"
EXISTING = "dee@example.com"
STATUS_BATCH_READ = "/communication-preferences/v4/statuses/batch/unsubscribe-all/read"
STATUS_SINGLE_READ = "/communication-preferences/v4/statuses/{subscriber}/unsubscribe-all"


@flow(validate_parameters=False)
def load(portal: HubSpotPortal, plan: str, state: str, load_path: str) -> dict:
    return load_steps(portal, plan, state_dir=state, load_path=load_path, poll_interval=POLL)


def seeded(portal: HubSpotPortal) -> None:
    """An address unsubscribed with no contact (an earlier migration's opt-out file), a contact
    unsubscribed from all email, and a subscribed contact, none of them marketing."""
    portal.request("POST", f"/communication-preferences/v4/statuses/{UNSUBSCRIBED_BY_ADDRESS}/unsubscribe-all", params={"channel": "EMAIL"})
    for email in (UNSUBSCRIBED_CONTACT, EXISTING):
        portal.request("POST", "/crm/v3/objects/contacts", json={"properties": {"email": email, "firstname": "Old"}})
    portal.request("POST", f"/communication-preferences/v4/statuses/{UNSUBSCRIBED_CONTACT}/unsubscribe-all", params={"channel": "EMAIL"})


def portal_counts(emulator) -> tuple[int, int]:
    """The portal's contacts and, of them, its marketing contacts."""
    contacts = emulator.portal.live(CONTACTS)
    return len(contacts), sum(contact.properties.get("hs_marketable_status") == "true" for contact in contacts)


@pytest.mark.parametrize(
    ("load_path", "billed", "kept", "made_marketing"),
    [
        # As the flows ask it: small files go by upsert, which keeps the address unsubscribed
        # before its contact existed non-marketing once it has created it.
        (None, 2, 2, 0),
        (UPSERT, 2, 2, 0),
        # A marketing import makes that address a marketing contact before anything can read it.
        (IMPORTS, 3, 1, 1),
    ],
)
def test_the_forecast_is_what_the_load_then_does(prefect_api_url, portal, emulator, tmp_path, load_path, billed, kept, made_marketing):
    plan = plan_dir(tmp_path / "plan", [NEW, UNSUBSCRIBED_BY_ADDRESS, UNSUBSCRIBED_CONTACT, EXISTING])
    seeded(portal)
    contacts_before, marketing_before = portal_counts(emulator)

    forecast = dry_run(portal, read_plan(plan)) if load_path is None else dry_run(portal, read_plan(plan), load_path=load_path)
    report = load(portal, str(plan), str(tmp_path / "state"), load_path or AUTO)

    contacts_after, marketing_after = portal_counts(emulator)
    assert (forecast["billing_delta"], forecast["marketing_opted_out"]) == (billed, kept)
    assert forecast["billing_delta"] == marketing_after - marketing_before
    assert forecast["marketing_opted_out"] == report[REPORT_KEY]["count"]
    # The marketing file's new two and the non-marketing file's one created; the seeded two updated.
    assert forecast["contacts"] == {"create": 3, "update": 2, "unchanged": 0}
    assert forecast["contacts"]["create"] == contacts_after - contacts_before
    assert forecast["contacts"]["update"] == sum(result["counters"]["UPDATED_OBJECTS"] for result in report["imports"])
    assert {file["path"] for file in forecast["files"]} == {load_path or UPSERT}
    assert report["rows_failed"] == 0
    assert report["reconciliation"]["by_check"]["opted-out-made-marketing"] == made_marketing


def test_the_upsert_forecast_reads_new_addresses_statuses_a_hundred_a_request(portal, emulator, tmp_path):
    new = [f"new{n:03}@example.com" for n in range(150)]
    plan = read_plan(plan_dir(tmp_path / "plan", [*new, UNSUBSCRIBED_BY_ADDRESS, EXISTING]))
    seeded(portal)

    assert dry_run(portal, plan, load_path=UPSERT)["marketing_opted_out"] == 1
    # 151 addresses without a contact (Dee has one): two batch reads, none one by one.
    assert count_requests(emulator, "POST", STATUS_BATCH_READ) == 2
    assert count_requests(emulator, "GET", STATUS_SINGLE_READ) == 0


def test_the_imports_forecast_reads_no_status(portal, emulator, tmp_path):
    plan = read_plan(plan_dir(tmp_path / "plan", [NEW, UNSUBSCRIBED_BY_ADDRESS]))
    seeded(portal)

    assert dry_run(portal, plan, load_path=IMPORTS)["marketing_opted_out"] == 0
    assert count_requests(emulator, "POST", STATUS_BATCH_READ) == count_requests(emulator, "GET", "/communication-preferences") == 0


def test_a_file_the_split_brings_within_the_upsert_limit_is_forecast_by_upsert(portal, tmp_path):
    plan_folder = plan_dir(tmp_path / "plan", [NEW, UNSUBSCRIBED_BY_ADDRESS, UNSUBSCRIBED_CONTACT])
    # The file holds one row over the limit; the load's split moves the unsubscribed contact's
    # row to a file of its own, and what it leaves goes by upsert (run.contacts_path).
    plan_json = plan_folder / "plan.json"
    data = json.loads(plan_json.read_text(encoding="utf-8"))
    data["imports"][0]["rows"] = UPSERT_MAX_ROWS + 1
    plan_json.write_text(json.dumps(data), encoding="utf-8")
    seeded(portal)

    [marketing, _] = [entry for entry in dry_run(portal, read_plan(plan_folder))["files"] if "path" in entry]

    assert marketing["path"] == UPSERT
    # The new address is billed; the one HubSpot holds unsubscribed is kept, as the upsert's read-back keeps it.
    assert (marketing["billing_delta"], marketing["marketing_opted_out"]) == (1, 2)
