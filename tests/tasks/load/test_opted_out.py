"""A marketing file's contacts HubSpot already holds as unsubscribed from all email are sent as
non-marketing: loaded into the emulator over real HTTP."""

from __future__ import annotations

import csv

import pytest
from prefect import flow

from emulators.hubspot import search as emulator_search
from flows.cli import _print_summary
from tasks.load import opted_out
from tasks.load.client import HubSpotPortal
from tasks.load.dryrun import dry_run
from tasks.load.opted_out import FOLDER, READ, REPORT_KEY, SEARCH, cheaper_lookup, portal_opted_out
from tasks.load.plan import read_plan
from tasks.load.reconcile import reconcile
from tasks.load.run import load_plan, load_steps
from tasks.load.settings import CONTACT_OBJECT_TYPE_ID as CONTACTS
from tests.tasks.load.conftest import count_requests
from tests.tasks.load.plans import write_plan

POLL = 0.02
SOURCE = "file:///exports/audience.zip"
MARKETING = "hubspot/contacts-marketing-001.csv"
MOVED = "hubspot/contacts-marketing-001-opted-out.csv"
NON_MARKETING = "hubspot/contacts-non-marketing-001.csv"
EMAILS = ["ann@example.com", "ben@example.com", "cy@example.com"]


def plan_dir(directory, emails=EMAILS):
    """A plan: a marketing file in the static list ``marketing`` and a non-marketing file.
    Lineage names source row ``n + 1`` for the marketing file's line ``n``."""
    contacts = {
        MARKETING: (
            {"outcome": "marketing", "marketable": True, "create_list": False, "list": "marketing", "name": f"Onramp test {directory.name}"},
            ["email", "firstname"],
            [[email, email[0].upper()] for email in emails],
        ),
        NON_MARKETING: ({"outcome": "non_marketing", "marketable": False}, ["email", "firstname"], [["dot@example.com", "Dot"]]),
    }
    lists = [{"key": "marketing", "name": f"Onramp — test marketing contacts ({directory.name})", "outcome": "marketing", "files": [MARKETING]}]
    return write_plan(directory, contacts=contacts, lists=lists, source=SOURCE)


def opted_out_in_hubspot(portal, *emails, contact=True):
    """Contacts HubSpot holds as unsubscribed from all email, as another tool left them."""
    for email in emails:
        if contact:
            portal.request("POST", "/crm/v3/objects/contacts", json={"properties": {"email": email, "firstname": "Old"}})
        portal.request("POST", f"/communication-preferences/v4/statuses/{email}/unsubscribe-all", params={"channel": "EMAIL"})


def contact(emulator, email):
    return emulator.portal.find(CONTACTS, "email", email)


def is_marketing(emulator, email) -> bool:
    return contact(emulator, email).properties.get("hs_marketable_status") == "true"


def list_members(emulator) -> set[str]:
    [made] = emulator.portal.lists.values()
    return {emulator.portal.get(CONTACTS, record_id).properties["email"] for record_id in made.members}


def csv_rows(path):
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_an_opted_out_contact_of_a_marketing_file_is_imported_non_marketing_and_left_out_of_the_list(portal, emulator, tmp_path, capsys):
    plan = plan_dir(tmp_path / "plan")
    opted_out_in_hubspot(portal, "ben@example.com", "zed@example.com")
    state = tmp_path / "state"

    report = load_plan(portal, plan, poll_interval=POLL, state_dir=state)

    # Ben is updated with the file's values, still unsubscribed, not marketing, not listed.
    ben = contact(emulator, "ben@example.com")
    assert ben.properties["firstname"] == "B" and "ben@example.com" in emulator.portal.opt_outs
    assert not is_marketing(emulator, "ben@example.com")
    assert all(is_marketing(emulator, email) for email in ("ann@example.com", "cy@example.com"))
    assert list_members(emulator) == {"ann@example.com", "cy@example.com"}
    # Accounted for: the moved row by its planned line and its source, never its email.
    kept = report[REPORT_KEY]
    assert kept["count"] == 1 and kept["folder"] == str(state / FOLDER)
    assert kept["rows"] == [{"file": MARKETING, "line": 3, "sent_file": MOVED, "sent_line": 2, "sources": [f"{SOURCE}:3"]}]
    assert kept["lookup"] == {"method": SEARCH, "requests": 1, "opted_out_in_portal": 2}
    assert "ben@" not in str(kept)
    sent = {result["file"]: (result["rows"], result["marketable"], result["state"]) for result in report["imports"]}
    assert sent == {MARKETING: (2, True, "DONE"), MOVED: (1, False, "DONE"), NON_MARKETING: (1, False, "DONE")}
    assert report["rows_failed"] == 0 and report["errors"] == []
    # The files sent are in the state folder, lineage following each row to its new line.
    folder = state / FOLDER
    assert csv_rows(folder / MARKETING) == [["email", "firstname"], ["ann@example.com", "A"], ["cy@example.com", "C"]]
    assert csv_rows(folder / MOVED) == [["email", "firstname"], ["ben@example.com", "B"]]
    lineage = {(row[2], row[3]): row[4] for row in csv_rows(folder / "lineage.csv")[1:]}
    assert lineage == {(MARKETING, "2"): f"{SOURCE}:2", (MARKETING, "3"): f"{SOURCE}:4", (MOVED, "2"): f"{SOURCE}:3"}
    assert not (tmp_path / "plan" / "hubspot" / "contacts-marketing-001-opted-out.csv").exists()
    # The console counts them.
    contacts = {"marketing": 3, "non_marketing": 1, "opted_out": 0}
    _print_summary({"rows_read": 4, "rows_rejected": 0, "duplicates_merged": 0, "contacts": contacts, "sources": [], "load": report}, "out")
    assert (
        "  1 contact(s) HubSpot holds as unsubscribed from all email sent as non-marketing (report.json load.kept_non_marketing_opted_out)"
    ) in capsys.readouterr().out.splitlines()


def test_an_address_hubspot_holds_opted_out_in_its_xn_spelling_is_kept_non_marketing_in_the_plans(portal, emulator, tmp_path):
    # The plan spells an internationalised domain in Unicode; HubSpot holds the xn-- spelling.
    opted_out_in_hubspot(portal, "fred@xn--bcher-kva.de")
    plan = plan_dir(tmp_path / "plan", ["ann@example.com", "fred@bücher.de"])

    report = load_plan(portal, plan, poll_interval=POLL, state_dir=tmp_path / "state")

    assert [(row["file"], row["line"]) for row in report[REPORT_KEY]["rows"]] == [(MARKETING, 3)]
    # Sent in HubSpot's spelling: its contact is updated, no second one is made.
    assert not is_marketing(emulator, "fred@xn--bcher-kva.de") and list_members(emulator) == {"ann@example.com"}
    assert contact(emulator, "fred@bücher.de") is None


def test_a_marketing_file_whose_every_contact_is_opted_out_is_sent_whole_as_non_marketing(portal, emulator, tmp_path):
    plan = plan_dir(tmp_path / "plan", ["ben@example.com"])
    opted_out_in_hubspot(portal, "ben@example.com")
    state = tmp_path / "state"

    report = load_plan(portal, plan, poll_interval=POLL, state_dir=state)

    assert [result["file"] for result in report["imports"]] == [MOVED, NON_MARKETING]
    assert not (state / FOLDER / MARKETING).exists()
    assert not is_marketing(emulator, "ben@example.com") and list_members(emulator) == set()
    assert report[REPORT_KEY]["count"] == 1 and report["rows_failed"] == 0


def test_an_import_error_in_a_split_file_names_its_planned_line_and_source(portal, emulator, tmp_path):
    plan = plan_dir(tmp_path / "plan", ["ann@example.com", "ben@example.com", "not an email"])
    opted_out_in_hubspot(portal, "ben@example.com")

    report = load_plan(portal, plan, poll_interval=POLL, state_dir=tmp_path / "state")

    [error] = report["errors"]
    assert (error["file"], error["line"], error["sources"]) == (MARKETING, 4, [f"{SOURCE}:4"])


def test_a_portal_with_no_opt_out_gets_the_planned_files_unchanged(portal, emulator, tmp_path):
    plan = plan_dir(tmp_path / "plan")
    state = tmp_path / "state"
    # A derived folder an earlier run left is not sent, nor left to mislead.
    (state / FOLDER / "hubspot").mkdir(parents=True)

    report = load_plan(portal, plan, poll_interval=POLL, state_dir=state)

    assert report[REPORT_KEY] == {
        "count": 0,
        "folder": None,
        "lookup": {"method": SEARCH, "requests": 1, "opted_out_in_portal": 0},
        "rows": [],
        "respelt": {"count": 0, "requests": 0, "rows": []},
        "sent_as_decided_before": [],
    }
    assert not (state / FOLDER).exists()
    assert [result["file"] for result in report["imports"]] == [MARKETING, NON_MARKETING]
    assert all(is_marketing(emulator, email) for email in EMAILS)
    assert list_members(emulator) == set(EMAILS)


def test_a_plan_without_marketing_files_asks_hubspot_nothing(portal, emulator, tmp_path):
    plan = write_plan(tmp_path / "plan", contacts={NON_MARKETING: ({"outcome": "non_marketing"}, ["email"], [["dot@example.com"]])})

    report = load_plan(portal, plan, poll_interval=POLL, state_dir=tmp_path / "state")

    assert report[REPORT_KEY]["lookup"] is None
    assert count_requests(emulator, "POST", "/search") == 0


def test_the_dry_run_says_the_opted_out_contact_will_not_be_billed(portal, emulator, tmp_path):
    plan = read_plan(plan_dir(tmp_path / "plan"))
    opted_out_in_hubspot(portal, "ben@example.com")

    found = dry_run(portal, plan)

    assert (found["marketing_opted_out"], found["billing_delta"]) == (1, 2)


def test_a_contact_an_earlier_load_made_marketing_is_left_to_the_read_back_not_counted_as_kept(portal, emulator, tmp_path):
    load_plan(portal, plan_dir(tmp_path / "first"), poll_interval=POLL, state_dir=tmp_path / "first-state")
    # Ben unsubscribes after the first load made him a marketing contact: no load can undo that.
    opted_out_in_hubspot(portal, "ben@example.com", contact=False)
    plan = plan_dir(tmp_path / "second")

    assert dry_run(portal, read_plan(plan))["marketing_opted_out"] == 0
    report = load_plan(portal, plan, poll_interval=POLL, state_dir=tmp_path / "second-state")

    assert (report[REPORT_KEY]["count"], report[REPORT_KEY]["lookup"]["opted_out_in_portal"]) == (0, 1)
    assert is_marketing(emulator, "ben@example.com")
    assert reconcile(portal, read_plan(plan), report)["by_check"]["opted-out-made-marketing"] == 1


@pytest.mark.parametrize(
    ("opted_out_in_portal", "marketing_rows", "method"),
    [(0, 10, SEARCH), (500, 500, SEARCH), (50_000, 1_000_000, SEARCH), (1_000_000, 245, READ)],
)
def test_the_lookup_is_the_cheaper_of_paging_the_portals_opt_outs_and_reading_the_files_addresses(opted_out_in_portal, marketing_rows, method):
    assert cheaper_lookup(opted_out_in_portal, marketing_rows) == method


@pytest.fixture
def small_search_pages(monkeypatch):
    """Search pages of 2 and a cap of 4 results a query, in the emulator and the load alike."""
    monkeypatch.setattr(opted_out, "SEARCH_PAGE_SIZE", 2)
    monkeypatch.setattr(opted_out, "SEARCH_MAX_RESULTS", 4)
    monkeypatch.setattr(emulator_search, "MAX_RESULTS", 4)


def test_search_pages_past_the_cap_by_record_id(portal, emulator, tmp_path, small_search_pages):
    # Twelve opt-outs: ids past 9 must sort as numbers for the GT paging to miss none.
    many = [f"u{n}@example.com" for n in range(12)]
    opted_out_in_hubspot(portal, *many)
    plan = read_plan(plan_dir(tmp_path / "plan", [*many, "new@example.com"]))

    emails, lookup = portal_opted_out(portal, plan, plan.imports[:1])

    assert emails == set(many)
    # 4 + 4 + 4 results: two pages a query, three queries.
    assert lookup == {"method": SEARCH, "requests": 6, "opted_out_in_portal": 12}


def test_a_portal_with_more_opt_outs_than_the_files_have_rows_is_read_by_address(portal, emulator, tmp_path, small_search_pages):
    opted_out_in_hubspot(portal, "ben@example.com", "x1@example.com", "x2@example.com", "x3@example.com")
    plan = read_plan(plan_dir(tmp_path / "plan"))

    emails, lookup = portal_opted_out(portal, plan, plan.imports[:1])

    assert emails == {"ben@example.com"}
    assert lookup == {"method": READ, "requests": 2, "opted_out_in_portal": 4}


@flow(validate_parameters=False)
def load_twice(portal: HubSpotPortal, plan: str, state: str) -> tuple[dict, dict]:
    first = load_steps(portal, plan, state_dir=state, poll_interval=POLL)
    again = load_steps(portal, plan, state_dir=state, poll_interval=POLL)
    return first, again


def test_by_upsert_in_a_flow_the_read_back_finds_no_opted_out_marketing_contact_and_a_rerun_sends_nothing(
    prefect_api_url, portal, emulator, tmp_path
):
    plan = plan_dir(tmp_path / "plan")
    opted_out_in_hubspot(portal, "ben@example.com")

    first, again = load_twice(portal, str(plan), str(tmp_path / "state"))

    # Small files go by upsert; the marketing-status import leaves Ben out.
    assert {result.get("path") for result in first["imports"]} == {"upsert"}
    assert not is_marketing(emulator, "ben@example.com")
    assert list_members(emulator) == {"ann@example.com", "cy@example.com"}
    assert first["reconciliation"]["mismatches"] == []
    assert first["reconciliation"]["contacts_checked"] == 4
    assert first[REPORT_KEY]["count"] == again[REPORT_KEY]["count"] == 1
    # The rerun derives the same files, so every step is found done: nothing is sent twice.
    assert all(step["already_done"] for step in again["steps"])
    # One upsert a file, one marketing-status import (the remainder's), one search: the rerun
    # sends the marketing file as the first run decided, its import being journalled.
    assert count_requests(emulator, "POST", "/batch/{operation}") == 3
    assert count_requests(emulator, "POST", "/search") == 1
    assert count_requests(emulator, "POST", "/crm/v3/imports") == 1


def test_the_read_path_and_the_dry_run_find_an_xn_spelling_too(portal, emulator, tmp_path, small_search_pages):
    # More opt-outs in the portal than rows in the files: the files' addresses are read.
    opted_out_in_hubspot(portal, "fred@xn--bcher-kva.de", "x1@example.com", "x2@example.com", "x3@example.com")
    plan = read_plan(plan_dir(tmp_path / "plan", ["ann@example.com", "fred@bücher.de"]))

    assert dry_run(portal, plan)["marketing_opted_out"] == 1
    report = load_plan(portal, plan.directory, poll_interval=POLL, state_dir=tmp_path / "state")

    assert report[REPORT_KEY]["lookup"]["method"] == READ
    assert [(row["file"], row["line"]) for row in report[REPORT_KEY]["rows"]] == [(MARKETING, 3)]
    assert list_members(emulator) == {"ann@example.com"}
