"""The recurring sync, run twice against the HubSpot emulator with a folder of exports, the
Mailchimp API and the Constant Contact API as its sources: the second run asks the providers
only for what changed since the first, sends only what changed, the opt-outs made at the
sources between the runs reach HubSpot, a person in both the folder and the Mailchimp audience
keeps the newer Mailchimp row, and the sync keeps filling one static list, even once a person
renamed it in HubSpot, taking out of it those who opted out since."""

from __future__ import annotations

import csv
import zipfile
from collections import Counter
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest

from emulators.constant_contact import serve_in_background as constant_contact
from emulators.mailchimp import serve_in_background as mailchimp
from flows.cli import SAMPLE_EXPORT, _print_summary
from flows.sync import sync_contacts
from schemas.params import SyncParameters
from tasks.errors import LoadError
from tasks.load.client import ACCOUNT_INFO_PATH
from tasks.sync import API_SOURCES, DELTA_FOLDER, GENERATION, SNAPSHOT_FILE, SYNC_FOLDER, sync_key

# The emulator counts requests by route template; batch upserts of contacts are the only batch writes a sync sends.
BATCH_ROUTE = ("POST", "/crm/v3/objects/{object_type_name}/batch/{operation}")
NEW_EMAIL = "new.person@example.org"
NEW_MEMBER = "new.member@example.net"
MARKETING_PERMISSIONS = ("explicit", "implicit")
FROM_MAILCHIMP = "Newer at Mailchimp"


@pytest.fixture
def providers(monkeypatch):
    """Small Mailchimp and Constant Contact accounts on loopback, reachable as a user's would be."""
    with mailchimp(members=40) as chimp, constant_contact(contacts=30) as cc:
        monkeypatch.setenv("MAILCHIMP_API_KEY", chimp.settings.api_key)
        monkeypatch.setenv("MAILCHIMP_BASE_URL", chimp.api_url)
        monkeypatch.setenv("CONSTANT_CONTACT_TOKEN", cc.settings.token)
        monkeypatch.setenv("CONSTANT_CONTACT_BASE_URL", cc.api_url)
        yield chimp, cc


def source_folder(tmp_path: Path) -> Path:
    """The bundled sample's subscribed and unsubscribed files, as a folder a sync can watch."""
    folder = tmp_path / "audience"
    folder.mkdir()
    with zipfile.ZipFile(SAMPLE_EXPORT) as archive:
        for member in archive.namelist():
            name = member.rsplit("/", 1)[-1]
            if name.startswith(("subscribed_", "unsubscribed_")):
                (folder / name).write_bytes(archive.read(member))
    return folder


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        header, *rows = list(csv.reader(handle))
    return header, rows


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])


def upserts(hubspot) -> int:
    return sum(n for (method, route, _), n in hubspot.emulator.request_counts.items() if (method, route) == BATCH_ROUTE)


def planned_emails(path: Path) -> list[str]:
    return [row[0] for row in read_csv(path)[1]] if path.exists() else []


def also_at_mailchimp(chimp, source: Path, changed: datetime) -> str:
    """Give the last person of the folder's subscribed file a newer row in the Mailchimp
    audience, under another first name; return the address."""
    _, rows = read_csv(sorted(source.glob("subscribed_*"))[0])
    email = rows[-1][0]
    members = chimp.emulator.audience.members
    member = deepcopy(next(m for m in members if m["status"] == "subscribed"))
    member.update(email_address=email, id="in-both", unique_email_id="in-both", contact_id="in-both", last_changed=changed.isoformat())
    member["merge_fields"]["FNAME"] = FROM_MAILCHIMP
    members.append(member)
    return email


def change_mailchimp(chimp, now: str) -> tuple[list[str], str]:
    """Rename one subscribed member, add one, unsubscribe another; return the contacts to send
    and the opt-out."""
    members = chimp.emulator.audience.members
    renamed, leaving = [m for m in members if m["status"] == "subscribed"][:2]
    renamed["merge_fields"]["FNAME"] = "Renamed"
    leaving["status"] = "unsubscribed"
    added = deepcopy(renamed)
    added.update(email_address=NEW_MEMBER, id="new-member", unique_email_id="new-member", contact_id="new-member")
    members.append(added)
    for member in (renamed, leaving, added):
        member["last_changed"] = now
    return [renamed["email_address"], NEW_MEMBER], leaving["email_address"]


def change_constant_contact(cc, now: str) -> tuple[str, str]:
    """Rename one contact with permission to send, unsubscribe another; return both addresses."""
    live = [c for c in cc.emulator.account.contacts if "deleted_at" not in c]
    renamed, leaving = [c for c in live if c["email_address"]["permission_to_send"] in MARKETING_PERMISSIONS][:2]
    renamed["first_name"] = "Renamed"
    leaving["email_address"].update(permission_to_send="unsubscribed", opt_out_source="Contact", opt_out_date=now)
    for contact in (renamed, leaving):
        contact["updated_at"] = contact["email_address"]["updated_at"] = now
    return renamed["email_address"]["address"], leaving["email_address"]["address"]


def sync_lists(hubspot) -> list[dict]:
    return [entry for entry in httpx.get(f"{hubspot.url}/_emulator/state").json()["lists"] if "(sync " in entry["name"]]


def portal_list(hubspot, list_id: str) -> dict:
    return next(entry for entry in httpx.get(f"{hubspot.url}/_emulator/state").json()["lists"] if entry["listId"] == list_id)


def rename_list(hubspot, list_id: str, name: str) -> None:
    """A person renames a list in HubSpot."""
    httpx.put(
        f"{hubspot.url}/crm/v3/lists/{list_id}/update-list-name",
        params={"listName": name},
        headers={"Authorization": "Bearer sync-token"},
    ).raise_for_status()


def test_the_second_sync_sends_only_the_changes_and_the_new_opt_outs(prefect_api_url, hubspot, providers, tmp_path, monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "sync-token")
    chimp, cc = providers
    source, out = source_folder(tmp_path), tmp_path / "out"
    sources = [str(source), f"mailchimp://{chimp.settings.list_id}", "constantcontact://contacts"]
    params = SyncParameters(sources=sources, output=str(out), portal_url=hubspot.url)
    # Changed at Mailchimp before the first run's watermark: the second run's API read skips it.
    in_both = also_at_mailchimp(chimp, source, datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))

    first = sync_contacts(params)

    assert first["sync"]["since"] is None
    assert first["sync"]["new_or_changed_contacts"] == first["contacts"]["marketing"] + first["contacts"]["non_marketing"]
    [first_list] = sync_lists(hubspot)
    assert sync_key(sources, hubspot.url) in first_list["name"]
    subscribed, unsubscribed = sorted(source.glob("subscribed_*")), sorted(source.glob("unsubscribed_*"))
    header, rows = read_csv(subscribed[0])
    seen = Counter(row[0].strip().lower() for row in rows)
    renamed, leaving = [i for i, row in enumerate(rows) if seen[row[0].strip().lower()] == 1 and row[0] == row[0].strip().lower()][:2]
    renamed_email, leaving_email = rows[renamed][0], rows[leaving][0]
    rows[renamed][header.index("First Name")] = "Renamed"
    added = list(rows[renamed])
    added[0] = NEW_EMAIL
    unsub_header, unsub_rows = read_csv(unsubscribed[0])
    unsub_rows.append([rows[leaving][header.index(name)] if name in header else "" for name in unsub_header])
    write_csv(subscribed[0], header, [row for i, row in enumerate(rows) if i != leaving] + [added])
    write_csv(unsubscribed[0], unsub_header, unsub_rows)
    now = datetime.now(UTC).replace(microsecond=0)
    chimp_changed, chimp_leaving = change_mailchimp(chimp, now.isoformat())
    cc_renamed, cc_leaving = change_constant_contact(cc, now.isoformat().replace("+00:00", "Z"))
    rename_list(hubspot, first_list["listId"], "Spring newsletter")
    upserts_before, pages_before = upserts(hubspot), chimp.emulator.requests
    # The portal's token rotated between the runs: the same portal, so the sync goes on from its snapshot.
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "sync-token-rotated")

    second = sync_contacts(params)

    # The providers were asked for what changed since the first run, and answered only that.
    assert second["sync"]["since"] is not None
    read = {entry["uri"].split("?")[0]: entry for entry in second["sources"] if "://" in entry["uri"]}
    assert all("?since=" in entry["uri"] for entry in read.values())
    assert read[sources[1]]["rows"] == 3 and read[sources[2]]["rows"] == 2
    assert chimp.emulator.requests - pages_before == 1
    # Only the changes were sent: one batch of upserts, the opt-outs first.
    assert second["sync"]["new_or_changed_contacts"] == 5
    assert second["sync"]["kept_newer_from_api"] == 1  # the person in both (below)
    assert second["sync"]["new_opt_outs"] == 3
    delta = out / DELTA_FOLDER / "hubspot"
    sent = [renamed_email, NEW_EMAIL, *chimp_changed, cc_renamed]
    assert sorted(planned_emails(delta / "contacts-marketing-001.csv")) == sorted(sent)
    opt_outs = [email for path in sorted(delta.glob("opt-out-*.csv")) for email in planned_emails(path)]
    assert sorted(opt_outs) == sorted([leaving_email, chimp_leaving, cc_leaving])
    assert upserts(hubspot) - upserts_before == 1
    assert second["load"]["rows_failed"] == 0
    portal = httpx.get(f"{hubspot.url}/_emulator/state").json()
    by_email = {c["properties"]["email"]: c["properties"] for c in portal["contacts"]}
    assert [by_email[email]["firstname"] for email in (renamed_email, chimp_changed[0], cc_renamed)] == ["Renamed"] * 3
    assert {NEW_EMAIL, NEW_MEMBER} <= set(by_email)
    # Not listed by Mailchimp again, the person in both was not sent the folder's older row.
    assert by_email[in_both]["firstname"] == FROM_MAILCHIMP
    for email in (leaving_email, chimp_leaving, cc_leaving):
        status = httpx.get(
            f"{hubspot.url}/communication-preferences/v4/statuses/{email}/unsubscribe-all",
            params={"channel": "EMAIL"},
            headers={"Authorization": "Bearer sync-token"},
        ).json()
        assert [s["status"] for s in status["results"]] == ["UNSUBSCRIBED"], email
    # The same static list, renamed by a person, filled with the new marketing contacts and
    # rid of those who opted out since the first run put them in it; none made anew.
    assert sync_lists(hubspot) == []
    second_list = portal_list(hubspot, first_list["listId"])
    assert second_list["name"] == "Spring newsletter"
    record_ids = {c["properties"]["email"]: c["id"] for c in portal["contacts"]}
    leavers = {record_ids[email] for email in (leaving_email, chimp_leaving, cc_leaving)}
    assert leavers <= set(first_list["members"])
    assert set(second_list["members"]) == (set(first_list["members"]) - leavers) | {record_ids[NEW_EMAIL], record_ids[NEW_MEMBER]}
    [static] = second["load"]["lists"]
    assert (static["removed_opted_out"], static["remove_failed"]) == (len(leavers), 0)

    # The same sync with another portal's token at the same URL: its snapshot is not that
    # portal's, so the run stops before comparing anything, having asked only which portal it is.
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "another-portal-token")
    portal_id = hubspot.emulator.settings.portal_id
    hubspot.emulator.configure(portal_id=7654321)
    requests_before = Counter(hubspot.emulator.request_counts)
    try:
        with pytest.raises(LoadError, match=f"holds the state of a load into HubSpot portal {portal_id} .* for portal 7654321"):
            sync_contacts(params)
    finally:
        hubspot.emulator.configure(portal_id=portal_id)
    assert Counter(hubspot.emulator.request_counts) - requests_before == Counter({("GET", ACCOUNT_INFO_PATH, 200): 1})


def test_a_sync_from_an_earlier_versions_snapshot_reads_both_providers_whole_once(
    prefect_api_url, hubspot, providers, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "sync-token")
    chimp, cc = providers
    out = tmp_path / "out"
    sources = [f"mailchimp://{chimp.settings.list_id}", "constantcontact://contacts"]
    params = SyncParameters(sources=sources, output=str(out), portal_url=hubspot.url)
    email, _ = in_both_without_permission_at_constant_contact(chimp, cc)
    member = next(m for m in chimp.emulator.audience.members if m["email_address"] == email)
    sync_contacts(params)
    assert contact_properties(hubspot, email)["hs_marketable_status"] == "false"
    # The snapshot as an earlier version kept it: without the providers that gave each contact.
    [snapshot] = out.glob(f"{SYNC_FOLDER}/*/{SNAPSHOT_FILE}")
    generation = {GENERATION: pl.read_parquet_metadata(snapshot)[GENERATION]}
    pl.read_parquet(snapshot).drop(API_SOURCES).write_parquet(snapshot, metadata=generation)
    # Mailchimp lists a change of the person's; Constant Contact, where nothing changed, does not.
    member["merge_fields"]["FNAME"] = "Renamed"
    member["last_changed"] = datetime.now(UTC).replace(microsecond=0).isoformat()

    upgraded = sync_contacts(params)

    # Read for Mailchimp's change alone, the person would have been sent marketing: both
    # providers were read whole instead, and the strictest outcome kept.
    properties = contact_properties(hubspot, email)
    assert (properties["firstname"], properties["hs_marketable_status"]) == ("Renamed", "false")
    assert "kept by an earlier version, does not say what each provider gave; this run reads every provider whole" in caplog.text
    assert upgraded["sync"]["since"] is None
    assert not any("since=" in entry["uri"] for entry in upgraded["sources"])
    # The snapshot now names the providers: the next run asks them for their changes only.
    assert all("?since=" in entry["uri"] for entry in sync_contacts(params)["sources"])


def test_a_contact_held_non_marketing_is_settled_by_every_providers_consent_the_next_run(
    prefect_api_url, hubspot, providers, tmp_path, monkeypatch, caplog, capsys
):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "sync-token")
    chimp, cc = providers
    params = SyncParameters(sources=[f"mailchimp://{chimp.settings.list_id}", "constantcontact://contacts"], output=str(tmp_path / "out"), portal_url=hubspot.url)
    email, contact = in_both_without_permission_at_constant_contact(chimp, cc)
    sync_contacts(params)
    # Constant Contact now has the person's permission to send; Mailchimp, where the person
    # was subscribed all along, lists no change.
    contact["email_address"]["permission_to_send"] = "explicit"
    contact["updated_at"] = contact["email_address"]["updated_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    held = sync_contacts(params)

    # Mailchimp's answer is not in this run: the person is held, not made marketing on Constant
    # Contact's word alone.
    assert held["sync"]["held_non_marketing"] == 1
    assert contact_properties(hubspot, email)["hs_marketable_status"] == "false"
    _print_summary(held, params.output)
    assert "sync: 1 of the 1 kept non-marketing were sent with their other changes; the next run reads every provider whole" in capsys.readouterr().out
    # Someone else is deleted at Mailchimp: only a whole read can tell.
    members = chimp.emulator.audience.members
    members.remove(next(m for m in members if m["email_address"] != email))

    settled = sync_contacts(params)

    # Read whole, both providers answer, and both say marketing.
    assert "the last run held 1 contact(s) non-marketing that a provider did not list" in caplog.text
    assert (settled["sync"]["since"], settled["sync"]["held_non_marketing"], settled["sync"]["left_source"]) == (None, 0, 1)
    assert contact_properties(hubspot, email)["hs_marketable_status"] == "true"
    assert all("?since=" in entry["uri"] for entry in sync_contacts(params)["sources"])


def in_both_without_permission_at_constant_contact(chimp, cc) -> tuple[str, dict]:
    """Give a Constant Contact contact with no permission set a subscribed Mailchimp member of
    its address, changed an hour ago; return the address and the Constant Contact contact."""
    live = [c for c in cc.emulator.account.contacts if "deleted_at" not in c]
    contact = next(c for c in live if c["email_address"]["permission_to_send"] == "not_set")
    email = contact["email_address"]["address"]
    members = chimp.emulator.audience.members
    member = deepcopy(next(m for m in members if m["status"] == "subscribed"))
    member.update(email_address=email, id="in-both", unique_email_id="in-both", contact_id="in-both")
    member["last_changed"] = (datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)).isoformat()
    members.append(member)
    return email, contact


def contact_properties(hubspot, email: str) -> dict:
    contacts = httpx.get(f"{hubspot.url}/_emulator/state").json()["contacts"]
    return next(contact["properties"] for contact in contacts if contact["properties"]["email"] == email)


def test_a_sync_given_another_portal_s_id_stops_before_its_state_is_claimed(hubspot, tmp_path, monkeypatch):
    # The flow's own function, without the engine: the check comes before any task runs.
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "client-b-token")
    params = SyncParameters(sources=[str(source_folder(tmp_path))], output=str(tmp_path / "out"), portal_url=hubspot.url, portal_id=111)
    requests_before = Counter(hubspot.emulator.request_counts)

    with pytest.raises(LoadError, match=r"^the token \(HUBSPOT_ACCESS_TOKEN\) is for HubSpot portal \d+ \(STANDARD\), not portal 111 "):
        sync_contacts.fn(params)

    assert Counter(hubspot.emulator.request_counts) - requests_before == Counter({("GET", ACCOUNT_INFO_PATH, 200): 1})
    assert not list((tmp_path / "out").rglob("*.json"))
