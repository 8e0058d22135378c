"""A sync's delta plan naming the contacts an earlier run already made marketing, loaded into the
emulator over real HTTP: those HubSpot holds as set non-marketing by hand are sent as
non-marketing (updated, not billed again), counted and named masked; those it lacks or holds as
marketing are made marketing as ever, as are the newly marketing; the same plan naming none (a
migration's) makes them all marketing as before. The dry run forecasts it."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from tasks.import_files import MARKETING_ALREADY_SET, MARKETING_ALREADY_SET_FILE
from tasks.load.dryrun import dry_run
from tasks.load.opted_out import AS_SET_REPORT_KEY, REPORT_KEY
from tasks.load.plan import read_plan
from tasks.load.run import load_plan
from tests.tasks.load.plans import write_csv, write_plan
from tests.tasks.load.test_opted_out import contact, is_marketing, list_members, opted_out_in_hubspot

POLL = 0.02
SOURCE = "file:///exports/audience.zip"
MARKETING = "hubspot/contacts-marketing-001.csv"
AS_SET = "hubspot/contacts-marketing-001-non-marketing-in-hubspot.csv"
# Made marketing by an earlier run: ann, set non-marketing by hand since; ben, still marketing;
# cy, deleted from HubSpot since; dee, unsubscribed in HubSpot (kept non-marketing as such, not
# counted twice). eve: newly marketing, a non-marketing contact in HubSpot.
ALREADY_MARKETING = ["ann@example.com", "ben@example.com", "cy@example.com", "dee@example.com"]
ROWS = [["ann@example.com", "Ann2"], ["ben@example.com", "Ben2"], ["cy@example.com", "Cy2"], ["dee@example.com", "Dee2"], ["eve@example.com", "Eve"]]


def set_marketing_by_hand(hub, email: str, marketable: bool, at_next_update: bool = False) -> None:
    """As a person does in HubSpot's UI: the emulator's admin route (``at_next_update``: made
    non-marketing only at the portal's next update date, as HubSpot does)."""
    body = {"email": email, "marketable": marketable, "at_next_update": at_next_update}
    httpx.post(f"{hub.url}/_emulator/contacts/marketing-status", json=body).raise_for_status()


def earlier_sync_made_marketing(portal, hub, *emails: str) -> None:
    for email in emails:
        portal.request("POST", "/crm/v3/objects/contacts", json={"properties": {"email": email, "firstname": "Old"}})
        set_marketing_by_hand(hub, email, True)


def plan_dir(directory, named: bool = True):
    """A plan of one marketing file, in a static list; as a sync's delta writes it when
    ``named``: ``plan.json`` names the contacts an earlier run already made marketing."""
    entry = {"outcome": "marketing", "marketable": True, "list": "marketing", "name": f"Onramp test {directory.name}"}
    write_plan(
        directory,
        contacts={MARKETING: (entry, ["email", "firstname"], ROWS)},
        lists=[{"key": "marketing", "name": f"Onramp — test ({directory.name})", "outcome": "marketing", "files": [MARKETING]}],
        source=SOURCE,
    )
    if named:
        write_csv(directory / MARKETING_ALREADY_SET_FILE, ["email"], [[email] for email in ALREADY_MARKETING])
        data = json.loads((directory / "plan.json").read_text())
        (directory / "plan.json").write_text(json.dumps({**data, MARKETING_ALREADY_SET: MARKETING_ALREADY_SET_FILE}))
    return directory


def hubspot_as_left_by_earlier_runs(portal, hub, at_next_update: bool = False) -> None:
    earlier_sync_made_marketing(portal, hub, "ann@example.com", "ben@example.com")
    set_marketing_by_hand(hub, "ann@example.com", False, at_next_update)
    opted_out_in_hubspot(portal, "dee@example.com")
    # eve exists, non-marketing: newly marketing in the plan, so made marketing.
    portal.request("POST", "/crm/v3/objects/contacts", json={"properties": {"email": "eve@example.com"}})


# HubSpot makes a marketing contact set non-marketing so only at the portal's next update date:
# until then it reads marketing, hs_marketable_until_renewal true, and a marketing import would
# undo the change.
@pytest.mark.parametrize("at_next_update", [False, True], ids=["at-once", "at-the-next-update-date"])
def test_a_contact_set_non_marketing_by_hand_stays_so_and_the_others_are_made_marketing(
    portal, hub, emulator, tmp_path, caplog, at_next_update
):
    hubspot_as_left_by_earlier_runs(portal, hub, at_next_update)
    plan = plan_dir(tmp_path / "plan")
    caplog.set_level(logging.WARNING, logger="tasks.load")

    forecast = dry_run(portal, read_plan(plan))
    report = load_plan(portal, plan, poll_interval=POLL, state_dir=tmp_path / "state")

    # Forecast: ann kept non-marketing, not billed; cy (created) and eve (made marketing) billed.
    assert (forecast[AS_SET_REPORT_KEY], forecast["marketing_opted_out"], forecast["billing_delta"]) == (1, 1, 2)
    # Loaded: ann updated, still non-marketing, not in the sync's list; ben, cy (created again)
    # and eve marketing; dee non-marketing as HubSpot holds it unsubscribed.
    assert contact(emulator, "ann@example.com").properties["firstname"] == "Ann2"
    marketing = {name: is_marketing(emulator, f"{name}@example.com") for name in ("ann", "ben", "cy", "dee", "eve")}
    assert marketing == {"ann": at_next_update, "ben": True, "cy": True, "dee": False, "eve": True}
    # Still set to be non-marketing at the next update date: no marketing import undid it.
    assert contact(emulator, "ann@example.com").properties["hs_marketable_until_renewal"] == str(at_next_update).lower()
    assert list_members(emulator) == {"ben@example.com", "cy@example.com", "eve@example.com"}
    kept = report[AS_SET_REPORT_KEY]
    assert (kept["count"], kept["requests"]) == (1, 1)
    assert kept["rows"] == [{"file": MARKETING, "line": 2, "sent_file": AS_SET, "sent_line": 2, "sources": [f"{SOURCE}:2"]}]
    assert report[REPORT_KEY]["count"] == 1 and report[REPORT_KEY]["rows"][0]["line"] == 5
    assert report["rows_failed"] == 0 and report["errors"] == []
    assert "ann@" not in str(report)
    [warning] = [record.getMessage() for record in caplog.records if "set so by hand" in record.getMessage()]
    assert warning.startswith("1 contact(s) an earlier sync run made marketing") and f"{MARKETING}:2 a***@example.com" in warning
    assert "ann@" not in warning


def test_a_plan_naming_none_makes_a_non_marketing_contact_marketing_as_before(portal, hub, emulator, tmp_path):
    hubspot_as_left_by_earlier_runs(portal, hub)

    report = load_plan(portal, plan_dir(tmp_path / "plan", named=False), poll_interval=POLL, state_dir=tmp_path / "state")

    assert is_marketing(emulator, "ann@example.com")
    assert report[AS_SET_REPORT_KEY] == {"count": 0, "requests": 0, "rows": []}
