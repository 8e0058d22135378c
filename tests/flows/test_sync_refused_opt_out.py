"""The recurring sync against the HubSpot emulator when HubSpot refuses an opt-out: the address
stays opted out in the sync's state and pending, and every later run sends it again until
HubSpot takes it, whether the person subscribed again at the source since or left it; someone who
left is counted gone once; nobody whose opt-out was refused is put back in the sync's list. One
HubSpot holds unsubscribed though it refuses it again is read back, and taken."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx

from flows.sync import sync_contacts
from schemas.params import SyncParameters

HEADER = ["Email Address", "First Name", "Last Name", "CITY"]
SUBSCRIBED = "subscribed_email_audience_export_r1.csv"
UNSUBSCRIBED = "unsubscribed_email_audience_export_r1.csv"
BACK, GONE = "refused1@example.com", "refused2@example.com"


def write_export(folder: Path, subscribed: dict[str, str], unsubscribed: list[str] = ()) -> None:
    """A Mailchimp export: ``subscribed`` (email → city) and ``unsubscribed`` members."""
    folder.mkdir(exist_ok=True)
    for name, rows in ((SUBSCRIBED, [[email, "R", "N", city] for email, city in subscribed.items()]), (UNSUBSCRIBED, [[email, "R", "N", ""] for email in unsubscribed])):
        if rows:
            with (folder / name).open("w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerows([HEADER, *rows])
        else:
            (folder / name).unlink(missing_ok=True)


def portal(hubspot) -> tuple[dict[str, str], set[str]]:
    """Each contact's city by email, and the emails in the sync's list."""
    state = httpx.get(f"{hubspot.url}/_emulator/state").json()
    emails = {contact["id"]: contact["properties"]["email"] for contact in state["contacts"]}
    cities = {contact["properties"]["email"]: contact["properties"].get("city") for contact in state["contacts"]}
    [members] = [entry["members"] for entry in state["lists"] if "(sync " in entry["name"]]
    return cities, {emails[str(member)] for member in members}


def pending(out: Path) -> dict[str, str]:
    files = list(out.glob(".onramp-sync/*/pending-opt-outs.json"))
    return json.loads(files[0].read_text()) if files else {}


def test_a_refused_opt_out_is_sent_by_every_run_until_hubspot_takes_it(prefect_api_url, hubspot, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "sync-token")
    folder, out = tmp_path / "refused", tmp_path / "out"
    everyone = {f"refused{n}@example.com": "Boston" for n in range(5)}
    staying = {email: city for email, city in everyone.items() if email not in (BACK, GONE)}
    params = SyncParameters(sources=[str(folder)], output=str(out), portal_url=hubspot.url)
    write_export(folder, everyone)
    sync_contacts(params)

    # Two people unsubscribe at the source; HubSpot refuses both opt-outs.
    hubspot.emulator.configure(refused_opt_outs=(BACK, GONE))
    write_export(folder, staying, [BACK, GONE])
    refused = sync_contacts(params)

    assert (refused["sync"]["new_opt_outs"], refused["sync"]["opt_outs_sent_again"], refused["load"]["rows_failed"]) == (2, 0, 2)
    assert refused["sync"]["opt_outs_still_pending"] == 2
    assert "sync: 2 contact(s) not taken by HubSpot are sent again next run" in caplog.messages
    assert pending(out) == {BACK: "unsubscribed", GONE: "unsubscribed"}
    assert not hubspot.emulator.portal.opt_outs.keys() & {BACK, GONE}
    # Out of the sync's marketing list all the same: they asked to receive no marketing email.
    assert not portal(hubspot)[1] & {BACK, GONE}

    # One subscribes again at the source (and moves), the other leaves it; HubSpot still refuses the latter.
    hubspot.emulator.configure(refused_opt_outs=(GONE,))
    write_export(folder, staying | {BACK: "Denver"})
    resent = sync_contacts(params)

    # Sent again, each counted once: no new opt-out.
    assert (resent["sync"]["new_opt_outs"], resent["sync"]["opt_outs_sent_again"], resent["sync"]["opt_outs_no_longer_in_sources"]) == (0, 2, 1)
    assert resent["sync"]["opt_outs_still_pending"] == 1
    assert (resent["sync"]["new_or_changed_contacts"], resent["sync"]["left_source"], resent["load"]["rows_failed"]) == (0, 1, 1)
    assert BACK in hubspot.emulator.portal.opt_outs and GONE not in hubspot.emulator.portal.opt_outs
    cities, listed = portal(hubspot)
    assert cities[BACK] == "Boston" and BACK not in listed
    assert pending(out) == {GONE: "unsubscribed"}

    # HubSpot comes to hold GONE unsubscribed (an answer lost, say), and answers 400 to its
    # unsubscribe all the same: read back, it is taken, and no longer pending.
    hubspot.emulator.configure(refused_opt_outs=())
    unsubscribe = f"{hubspot.url}/communication-preferences/v4/statuses/{GONE}/unsubscribe-all"
    httpx.post(unsubscribe, params={"channel": "EMAIL"}, headers={"Authorization": "Bearer sync-token"}).raise_for_status()
    hubspot.emulator.configure(refused_opt_outs=(GONE,))
    taken = sync_contacts(params)

    assert (taken["sync"]["new_opt_outs"], taken["sync"]["opt_outs_sent_again"], taken["sync"]["kept_opted_out"], taken["sync"]["left_source"]) == (0, 1, 1, 0)
    assert taken["sync"]["opt_outs_still_pending"] == 0
    assert taken["load"]["rows_failed"] == 0
    assert {BACK, GONE} <= hubspot.emulator.portal.opt_outs.keys()
    assert pending(out) == {}
    quiet = sync_contacts(params)
    assert (quiet["sync"]["new_opt_outs"], quiet["sync"]["kept_opted_out"], quiet["sync"]["left_source"], "load" in quiet) == (0, 1, 0, False)
