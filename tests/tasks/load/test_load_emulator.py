"""The load against the HubSpot emulator over real HTTP, read back through hubspot-api-client."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
import requests
from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId, SimplePublicObjectId

from tasks import stopping
from tasks.errors import LoadError
from tasks.load import (
    HubSpotPortal,
    apply_opt_outs,
    ensure_properties,
    import_contacts_files,
    load_plan,
    read_plan,
)
from tasks.load.upsert import upsert_contacts_file
from tests.reliability.portal import wait_for
from tests.tasks.load.conftest import TOKEN, count_requests
from tests.tasks.load.plans import write_plan

POLL = 0.02
SOURCE = "file:///exports/audience.zip"
RATING = {
    "name": "mailchimp_member_rating",
    "label": "Member rating (Mailchimp)",
    "type": "number",
    "fieldType": "number",
    "groupName": "mailchimp",
    "description": "Mailchimp's 1-5 star engagement rating",
}
TAGS = {
    "name": "mailchimp_tags",
    "label": "Tags (Mailchimp)",
    "type": "string",
    "fieldType": "text",
    "groupName": "mailchimp",
}
GROUP = {"name": "mailchimp", "label": "Mailchimp"}
MARKETING = "hubspot/contacts-marketing-001.csv"
NON_MARKETING = "hubspot/contacts-non-marketing-001.csv"
UNSUBSCRIBED = "hubspot/opt-out-unsubscribed.csv"
CLEANED = "hubspot/opt-out-cleaned.csv"


def migration(tmp_path, **overrides):
    """A plan like a small Mailchimp audience's: marketing, non-marketing, two opt-out files."""
    spec = {
        "contacts": {
            MARKETING: (
                {"outcome": "marketing", "marketable": True, "create_list": True, "name": "Onramp test marketing 001"},
                ["email", "firstname", "mailchimp_member_rating", "mailchimp_tags"],
                [
                    ["ann@example.com", "Ann", "4", "vip"],
                    ["ben@example.com", "Ben", "2", ""],
                    ["not-an-email", "Broken", "1", ""],
                    ["cat@example.com", "Cat", "five", "new"],
                ],
            ),
            NON_MARKETING: (
                {"outcome": "non_marketing", "marketable": False, "create_list": False, "name": "Onramp test non-marketing 001"},
                ["email", "firstname"],
                [["dan@example.com", "Dan"], ["eve@example.com", "Eve"]],
            ),
        },
        "opt_outs": {
            UNSUBSCRIBED: ("unsubscribed", ["gone@example.com", "left+news@example.com"]),
            CLEANED: ("cleaned", ["bounced@example.com"]),
        },
        "properties": [RATING, TAGS],
        "group": GROUP,
        "source": SOURCE,
    }
    spec.update(overrides)
    return read_plan(write_plan(tmp_path, **spec))


def read_contacts(client, emails, properties=("email", "hs_marketable_status", "firstname")):
    response = client.crm.contacts.batch_api.read(
        batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
            id_property="email",
            inputs=[SimplePublicObjectId(id=email) for email in emails],
            properties=list(properties),
            properties_with_history=[],
        )
    )
    return {result.properties["email"]: result for result in response.results}


def opted_out(hub, email):
    response = requests.get(
        f"{hub.url}/communication-preferences/v4/statuses/{quote(email, safe='@')}/unsubscribe-all",
        params={"channel": "EMAIL"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    response.raise_for_status()
    return any(status["status"] == "UNSUBSCRIBED" for status in response.json()["results"])


def test_properties_are_created_once(portal, emulator, client, tmp_path):
    plan = migration(tmp_path)

    first = ensure_properties(portal, plan)
    second = ensure_properties(portal, plan)

    assert first["group"] == {"name": "mailchimp", "created": True}
    assert first["created"] == ["mailchimp_member_rating", "mailchimp_tags"]
    assert second["group"] == {"name": "mailchimp", "created": False}
    assert second["created"] == [] and second["existing"] == ["mailchimp_member_rating", "mailchimp_tags"]
    assert count_requests(emulator, "POST", "/batch/create") == 1
    rating = client.crm.properties.core_api.get_by_name("contacts", "mailchimp_member_rating")
    assert (rating.type, rating.field_type, rating.group_name) == ("number", "number", "mailchimp")


def test_existing_property_of_another_type_is_reported_not_changed(portal, tmp_path):
    ensure_properties(portal, migration(tmp_path / "a", properties=[{**RATING, "type": "string", "fieldType": "text"}]))

    report = ensure_properties(portal, migration(tmp_path / "b"))

    assert report["type_mismatches"] == [{"name": "mailchimp_member_rating", "planned": "number", "existing": "string"}]


def test_opt_outs_go_through_the_batch_endpoint_and_create_no_contact(hub, portal, emulator, client, tmp_path):
    report = apply_opt_outs(portal, migration(tmp_path))

    assert [(f["file"], f["addresses"], f["unsubscribed"], f["mode"]) for f in report["files"]] == [
        (UNSUBSCRIBED, 2, 2, "batch"),
        (CLEANED, 1, 1, "batch"),
    ]
    assert report["failed"] == 0 and report["errors"] == []
    for email in ("gone@example.com", "left+news@example.com", "bounced@example.com"):
        assert opted_out(hub, email)
    assert read_contacts(client, ["gone@example.com", "bounced@example.com"]) == {}
    assert count_requests(emulator, "POST", "/{subscriber}/unsubscribe-all") == 0


def test_opt_outs_fall_back_to_one_call_per_address_without_enterprise(hub, portal, emulator, tmp_path):
    emulator.configure(batch_comm_prefs_allowed=False)

    report = apply_opt_outs(portal, migration(tmp_path))

    assert [(f["unsubscribed"], f["mode"]) for f in report["files"]] == [(2, "single"), (1, "single")]
    assert report["errors"] == []
    # The 403 is learnt once; the second file goes straight to single calls.
    assert count_requests(emulator, "POST", "/batch/unsubscribe-all", 403) == 1
    assert count_requests(emulator, "POST", "/{subscriber}/unsubscribe-all", 200) == 3
    for email in ("gone@example.com", "left+news@example.com", "bounced@example.com"):
        assert opted_out(hub, email)


@pytest.mark.parametrize("batch_allowed", [True, False], ids=["batch", "single"])
def test_an_internationalised_address_is_opted_out_under_both_its_spellings(hub, portal, emulator, tmp_path, batch_allowed):
    emulator.configure(batch_comm_prefs_allowed=batch_allowed)
    plan = migration(tmp_path, opt_outs={UNSUBSCRIBED: ("unsubscribed", ["jane@bücher.de", "ok@example.com"])})

    report = apply_opt_outs(portal, plan)

    # The ledger counts the file's addresses; the xn-- spelling goes over and above them.
    assert [(f["addresses"], f["unsubscribed"], f["failed"]) for f in report["files"]] == [(2, 2, 0)]
    for email in ("jane@bücher.de", "jane@xn--bcher-kva.de", "ok@example.com"):
        assert opted_out(hub, email), email


@pytest.mark.parametrize("batch_allowed", [True, False], ids=["batch", "single"])
def test_an_address_hubspot_refuses_is_tied_back_to_its_source_row(portal, emulator, tmp_path, batch_allowed):
    emulator.configure(batch_comm_prefs_allowed=batch_allowed)
    plan = migration(tmp_path, opt_outs={UNSUBSCRIBED: ("unsubscribed", ["ok@example.com", "not an address"])})

    report = apply_opt_outs(portal, plan)

    assert report["unsubscribed"] == 1 and report["failed"] == 1
    [error] = report["errors"]
    assert (error["file"], error["line"], error["error_type"]) == (UNSUBSCRIBED, 3, "OPT_OUT_FAILED")
    # Lineage rows are numbered across the plan: 6 contacts rows, then the opt-outs.
    assert error["sources"] == [f"{SOURCE}:9"]


def test_load_plan_end_to_end(hub, portal, client, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="tasks.load")
    report = load_plan(portal, migration(tmp_path).directory, poll_interval=POLL)

    assert (report["portal"], report["portal_id"], report["account_type"]) == (hub.url, 123456, "STANDARD")
    assert f"loading into HubSpot portal 123456 (STANDARD) at {hub.url}: 2 contacts files and 2 opt-out files" in caplog.messages
    assert [(i["file"], i["state"], i["rows_failed"], i["rows_with_value_errors"]) for i in report["imports"]] == [
        (MARKETING, "DONE", 1, 1),
        (NON_MARKETING, "DONE", 0, 0),
    ]
    assert report["opt_outs"]["unsubscribed"] == 3
    assert report["rows_failed"] == 1 and report["rows_with_value_errors"] == 1

    contacts = read_contacts(
        client, ["ann@example.com", "ben@example.com", "cat@example.com", "dan@example.com", "eve@example.com"]
    )
    assert {email: c.properties["hs_marketable_status"] for email, c in contacts.items()} == {
        "ann@example.com": "true",
        "ben@example.com": "true",
        "cat@example.com": "true",
        "dan@example.com": "false",
        "eve@example.com": "false",
    }
    assert read_contacts(client, ["gone@example.com", "left+news@example.com", "bounced@example.com"]) == {}
    assert all(opted_out(hub, email) for email in ("gone@example.com", "left+news@example.com", "bounced@example.com"))

    [created_list] = report["lists"]
    assert created_list["file"] == MARKETING
    members = client.crm.lists.memberships_api.get_page(created_list["list_id"])
    marketing_ids = {contacts[email].id for email in ("ann@example.com", "ben@example.com", "cat@example.com")}
    assert {str(member.record_id) for member in members.results} == marketing_ids


def test_import_errors_are_tied_back_through_lineage(portal, tmp_path):
    report = load_plan(portal, migration(tmp_path).directory, poll_interval=POLL)

    by_line = {(e["file"], e["line"]): e for e in report["errors"]}
    bad_email = by_line[(MARKETING, 4)]
    assert (bad_email["error_type"], bad_email["scope"], bad_email["column"]) == ("INVALID_EMAIL", "row", "email")
    assert bad_email["sources"] == [f"{SOURCE}:4"]
    bad_number = by_line[(MARKETING, 5)]
    assert (bad_number["scope"], bad_number["column"]) == ("value", "mailchimp_member_rating")
    assert bad_number["sources"] == [f"{SOURCE}:5"]


def test_a_rerun_loads_the_same_portal_state(portal, client, tmp_path):
    plan = migration(tmp_path)
    load_plan(portal, plan.directory, poll_interval=POLL)

    report = load_plan(portal, plan.directory, poll_interval=POLL)

    assert report["properties"]["created"] == []
    assert [i["counters"].get("CREATED_OBJECTS") for i in report["imports"]] == [0, 0]
    assert len(read_contacts(client, ["ann@example.com", "dan@example.com"])) == 2


def test_more_files_than_hubspot_processes_at_once_all_finish(portal, emulator, tmp_path):
    emulator.configure(row_delay=0.002)
    files = {
        f"hubspot/contacts-non-marketing-00{n}.csv": (
            {"outcome": "non_marketing", "marketable": False, "name": f"batch {n}"},
            ["email"],
            [[f"p{n}-{i}@example.com"] for i in range(20)],
        )
        for n in range(1, 6)
    }
    plan = migration(tmp_path, contacts=files, opt_outs={}, properties=[], group=None)

    results = import_contacts_files(portal, plan, poll_interval=POLL)

    assert [r["file"] for r in results] == list(files)
    assert {r["state"] for r in results} == {"DONE"}
    assert sum(r["counters"]["CREATED_OBJECTS"] for r in results) == 100


def test_a_failed_import_is_submitted_once_more(portal, emulator, tmp_path):
    plan = migration(tmp_path, opt_outs={}, properties=[], group=None)
    emulator.fail_next_imports(1)

    [first, second] = import_contacts_files(portal, plan, plan.imports, poll_interval=POLL)

    assert (first["state"], first["attempts"], len(first["previous_import_ids"])) == ("DONE", 2, 1)
    assert second["attempts"] == 1


def test_an_import_failing_twice_counts_all_its_rows_failed(portal, emulator, tmp_path):
    plan = migration(tmp_path, opt_outs={}, properties=[], group=None)
    emulator.fail_next_imports(2)

    [result] = import_contacts_files(portal, plan, plan.imports[:1], poll_interval=POLL)

    assert (result["state"], result["attempts"], result["rows_failed"]) == ("FAILED", 2, 4)
    # Every row is named, with its source row and why, not only counted.
    assert [error["line"] for error in result["errors"]] == [2, 3, 4, 5]
    for error in result["errors"]:
        assert (error["error_type"], error["scope"]) == ("IMPORT_FAILED", "row")
        assert error["sources"][0].startswith(f"{SOURCE}:")
        assert error["message"] == f"not loaded: its file's import failed (import {result['import_id']}, FAILED)"


def test_a_429_from_a_client_outside_the_budget_is_waited_out_by_all(hub, emulator):
    emulator.configure(tier="starter")
    # 429s are answered before routing, so they are counted by path, not by route template.
    route = "/groups"
    # Another tool with the same token, whose requests this machine's budget cannot see,
    # spends the window in a burst.
    with requests.Session() as outsider:
        outsider.headers["Authorization"] = f"Bearer {TOKEN}"
        for _ in range(emulator.settings.burst_limit):
            outsider.get(f"{hub.url}/crm/v3/properties/contacts/groups", timeout=10).raise_for_status()
    assert count_requests(emulator, "GET", route, 429) == 0

    # The load's own client meets the 429 and pauses the shared budget for the window...
    late = HubSpotPortal(hub.url, TOKEN)
    assert late.request("GET", "/crm/v3/properties/contacts/groups")["results"] is not None
    assert count_requests(emulator, "GET", route, 429) == 1
    # ...so another client sharing it goes on without a 429 of its own.
    other = HubSpotPortal(hub.url, TOKEN)
    other.call(other.sdk.crm.properties.groups_api.get_all_with_http_info, "contacts", what="GET groups")
    assert count_requests(emulator, "GET", route, 429) == 1


def test_daily_quota_stops_the_load_with_a_load_error(portal, emulator, tmp_path):
    plan = migration(tmp_path)
    # Two requests left today: which portal (account-info), the property group read, then the quota is spent.
    emulator.configure(daily_limit=2, time_zone="Asia/Tokyo")

    # The portal's time zone (account-info) gives the exact reset: Tokyo's next midnight, 15:00 UTC.
    with pytest.raises(LoadError, match=r"daily HubSpot API quota is spent.*time zone \(Asia/Tokyo\): \S+ 15:00 UTC;") as spent:
        load_plan(portal, plan.directory, poll_interval=POLL)
    assert spent.value.resume_by.hour == 15


def test_a_refused_token_is_a_load_error_that_does_not_show_it(hub, emulator, tmp_path):
    emulator.configure(allowed_tokens=frozenset({"pat-the-right-one"}))
    portal = HubSpotPortal(hub.url, "pat-the-wrong-one")

    with pytest.raises(LoadError, match="refused the access token") as raised:
        load_plan(portal, migration(tmp_path).directory, poll_interval=POLL)

    assert "pat-the-wrong-one" not in str(raised.value)


def test_the_load_rides_out_server_errors_and_dropped_connections(portal, emulator, client, tmp_path, caplog):
    plan = migration(tmp_path)
    emulator.configure(fault_seed=7, error_rate=0.15, error_statuses=(500, 502, 503, 504), drop_rate=0.05)

    report = load_plan(portal, plan.directory, poll_interval=POLL)

    emulator.configure(error_rate=0.0, drop_rate=0.0)
    retried = [record.getMessage() for record in caplog.records if "transient" in record.getMessage()]
    assert any("HTTP 5" in message for message in retried)
    assert any("Error" in message for message in retried)  # a dropped connection
    assert [i["state"] for i in report["imports"]] == ["DONE", "DONE"]
    assert report["opt_outs"]["unsubscribed"] == 3
    assert report["rows_failed"] == 1
    assert len(read_contacts(client, ["ann@example.com", "dan@example.com", "eve@example.com"])) == 3


def test_every_page_of_import_errors_is_read(portal, tmp_path):
    rows = [[f"broken-{n}"] for n in range(150)] + [["fine@example.com"]]
    contacts = {NON_MARKETING: ({"outcome": "non_marketing", "marketable": False}, ["email"], rows)}
    plan = migration(tmp_path, contacts=contacts, opt_outs={}, properties=[], group=None)

    [result] = import_contacts_files(portal, plan, poll_interval=POLL)

    assert result["rows_failed"] == 150
    assert sorted(error["line"] for error in result["errors"]) == list(range(2, 152))
    assert result["errors"][0]["sources"] == [f"{SOURCE}:{result['errors'][0]['line']}"]


def test_a_property_hubspot_will_not_create_stops_the_load(portal, tmp_path):
    broken = {"name": "mailchimp_broken", "label": "Broken", "type": "no-such-type", "fieldType": "text", "groupName": "mailchimp"}

    with pytest.raises(LoadError, match="cannot create HubSpot properties mailchimp_broken"):
        ensure_properties(portal, migration(tmp_path, properties=[RATING, broken]))


def test_a_file_hubspot_refuses_to_start_is_reported_and_the_others_go_on(portal, emulator, tmp_path):
    emulator.configure(max_import_rows=3)
    plan = migration(tmp_path, opt_outs={}, properties=[], group=None)

    [too_long, fine] = import_contacts_files(portal, plan, poll_interval=POLL)

    assert (too_long["state"], too_long["import_id"], too_long["rows_failed"]) == ("REJECTED", None, 4)
    [error, *rows] = too_long["errors"]
    assert (error["error_type"], error["scope"]) == ("IMPORT_REJECTED", "file")
    assert "HTTP 429" in error["message"]
    assert [(row["line"], row["scope"]) for row in rows] == [(line, "row") for line in (2, 3, 4, 5)]
    assert all(error["message"] in row["message"] and row["sources"] for row in rows)
    assert fine["state"] == "DONE"


def write_lines(path, *lines):
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return str(path)


def test_a_mixed_run_s_provenance_reaches_hubspot_by_imports_and_by_upsert(portal, client, tmp_path):
    from tests.plain_plan import plan as plan_sources

    sources = [
        write_lines(tmp_path / "subscribed_members_export_ab.csv", "Email Address,First Name", "fran@x.com,Fran", "new@x.com,New", "both@x.com,Bo"),
        write_lines(
            tmp_path / "cc.csv",
            "Email address,First name,Email status,Email permission status",
            "FRAN@x.com,Françoise,Active,Permission to send",
            "cc@x.com,Cee,Active,Permission to send",
            "both@x.com,,Active,Permission to send",
        ),
        write_lines(tmp_path / "sf.csv", "Email,FirstName,HasOptedOutOfEmail", " fran@x.com ,Fran S,true", "cc@x.com,Cee S,false"),
    ]
    report = plan_sources(sources, tmp_path / "out")

    cc, mc, sf = "constantcontact-export:active", "mailchimp-export:subscribed", "salesforce-export"
    assert report["provenance"] == {
        "several_sources": 3,
        "combinations": [
            {"provenance": f"{cc}; {mc}", "outcome": "marketing", "contacts": 1},
            {"provenance": f"{cc}; {mc}; {sf}:opted_out_of_email", "outcome": "opted_out", "contacts": 1},
            {"provenance": f"{cc}; {sf}:no_consent", "outcome": "non_marketing", "contacts": 1},
            {"provenance": mc, "outcome": "marketing", "contacts": 1},
        ],
    }
    plan = read_plan(tmp_path / "out")
    assert {"name": "onramp", "label": "Onramp"} in plan.property_groups
    marketing, non_marketing = plan.imports
    ensure_properties(portal, plan)
    import_contacts_files(portal, plan, [marketing], poll_interval=POLL)
    upserted = upsert_contacts_file(portal, plan, non_marketing, poll_interval=POLL)

    assert upserted["rows_failed"] == 0
    contacts = read_contacts(client, ["new@x.com", "both@x.com", "cc@x.com", "fran@x.com"], properties=("email", "onramp_provenance"))
    assert {email: c.properties["onramp_provenance"] for email, c in contacts.items()} == {
        "new@x.com": mc,
        "both@x.com": f"{cc}; {mc}",
        "cc@x.com": f"{cc}; {sf}:no_consent",
    }
    prop = client.crm.properties.core_api.get_by_name("contacts", "onramp_provenance")
    assert (prop.type, prop.field_type, prop.group_name) == ("string", "textarea", "onramp")


def test_cells_neutralised_for_spreadsheets_reach_hubspot_as_their_values_by_imports_and_by_upsert(portal, client, tmp_path):
    from tests.plain_plan import plan as plan_sources

    header = "Email Address,First Name,NOTES"
    rows = ["a@x.com,-Bo,- call back", 'b@x.com,Bea,"=HYPERLINK(""https://example.com"")"', "c@x.com,@cee,+1 619 305 8111"]
    plan_sources([write_lines(tmp_path / "subscribed_members_export_ab.csv", header, *rows)], tmp_path / "imported")
    plan_sources([write_lines(tmp_path / "nonsubscribed_members_export_ab.csv", header, *rows)], tmp_path / "upserted")
    imported, upserted = read_plan(tmp_path / "imported"), read_plan(tmp_path / "upserted")
    # The files keep the apostrophe for the people who open them.
    assert "'- call back" in imported.path(imported.imports[0]["file"]).read_text(encoding="utf-8")
    ensure_properties(portal, imported)

    import_contacts_files(portal, imported, imported.imports, poll_interval=POLL)
    by_import = read_contacts(client, ["a@x.com", "b@x.com", "c@x.com"], properties=("email", "firstname", "mailchimp_notes"))
    upsert_contacts_file(portal, upserted, upserted.imports[0], poll_interval=POLL)
    by_upsert = read_contacts(client, ["a@x.com", "b@x.com", "c@x.com"], properties=("email", "firstname", "mailchimp_notes"))

    expected = {
        "a@x.com": ("-Bo", "- call back"),
        "b@x.com": ("Bea", '=HYPERLINK("https://example.com")'),
        "c@x.com": ("@cee", "+1 619 305 8111"),
    }
    for contacts in (by_import, by_upsert):
        assert {email: (c.properties["firstname"], c.properties["mailchimp_notes"]) for email, c in contacts.items()} == expected
    # Nothing of the copy is left beside the plan.
    assert not list((tmp_path / "imported").glob(".onramp-upload-*"))


def test_a_stop_ends_the_wait_on_an_import_hubspot_is_still_processing(portal, emulator, tmp_path):
    plan = migration(tmp_path, opt_outs={}, properties=[], group=None)
    emulator.imports.hold()
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            # Polled once a minute, as if HubSpot were slow: the stop must not wait for the poll.
            waiting = pool.submit(import_contacts_files, portal, plan, plan.imports, poll_interval=60)
            wait_for(lambda: len(emulator.portal.imports) == len(plan.imports))
            stopping.request_stop()
            with pytest.raises(stopping.Stopping):
                waiting.result(timeout=30)
        finally:
            emulator.imports.release()
    assert count_requests(emulator, "POST", "/crm/v3/imports") == len(plan.imports)
    assert count_requests(emulator, "GET", "/crm/v3/imports") == 0


def test_once_stopping_no_request_starts_not_even_from_the_opt_out_pool(portal, emulator, tmp_path):
    stopping.request_stop()

    with pytest.raises(stopping.Stopping):
        apply_opt_outs(portal, migration(tmp_path))

    assert sum(emulator.request_counts.values()) == 0
