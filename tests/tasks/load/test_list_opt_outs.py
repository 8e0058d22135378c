"""Contacts an earlier run put in one of Onramp's static lists, opted out by a later plan, are
taken out of it: loaded into the emulator over real HTTP."""

from __future__ import annotations

import json

from tasks.load import load_plan, read_plan
from tasks.load.settings import CONTACT_OBJECT_TYPE_ID as CONTACTS
from tasks.load.lists import REMOVE_FAILED, SYNC_DELTA, ListJournal, ensure_list, ensure_lists, opted_out_members, remove_members
from tests.tasks.load.conftest import count_requests
from tests.tasks.load.plans import write_plan

POLL = 0.02
GROUP = {"name": "mailchimp", "label": "Mailchimp"}
MARKETING = "hubspot/contacts-marketing-001.csv"
UNSUBSCRIBED = "hubspot/opt-out-unsubscribed.csv"
LIST_NAME = "Onramp — Mailchimp marketing contacts (sync 0123456789abcdef)"
SOURCE = "file:///exports/audience.zip"
# Read-backs by email, as the emulator counts them (by route).
BATCH_READ = "/crm/v3/objects/{object_type_name}/batch/read"


def plan_dir(directory, marketing=(), opted_out=(), list_files=True):
    """A plan of marketing contacts in the list ``LIST_NAME`` (with no files when
    ``list_files`` is false, as a sync run that only opts people out) and an opt-out file."""
    contacts = {
        MARKETING: ({"outcome": "marketing", "marketable": True, "create_list": False, "list": "marketing",
                     "name": f"Onramp test {directory.name}"}, ["email", "firstname"], [[email, "X"] for email in marketing]),
    } if marketing else {}  # fmt: skip
    lists = [{"key": "marketing", "name": LIST_NAME, "outcome": "marketing", "files": [MARKETING] if list_files else []}]
    opt_outs = {UNSUBSCRIBED: ("unsubscribed", list(opted_out))} if opted_out else None
    return write_plan(directory, contacts=contacts, opt_outs=opt_outs, group=GROUP, lists=lists, source=SOURCE)


def members(emulator, list_id) -> set[str]:
    """The emails of a list's members, as the emulated portal holds them."""
    portal = emulator.portal
    return {portal.get(CONTACTS, record_id).properties["email"] for record_id in portal.lists[list_id].members}


def test_contacts_a_later_plan_opts_out_leave_the_list_an_earlier_load_put_them_in(portal, emulator, tmp_path):
    first = load_plan(portal, plan_dir(tmp_path / "first", ["ann@example.com", "ben@example.com", "cy@example.com"]), poll_interval=POLL)
    [made] = first["lists"]
    second_plan = plan_dir(tmp_path / "second", ["dan@example.com"], ["ann@example.com", "cy@example.com", "nobody@example.com"])

    second = load_plan(portal, second_plan, poll_interval=POLL)

    [found] = [entry for entry in second["lists"] if "name" in entry]
    assert (made["created"], made["removed_opted_out"]) == (True, 0)
    assert (found["list_id"], found["created"], found["removed_opted_out"], found["added"]) == (made["list_id"], False, 2, 1)
    # The opted-out contacts are out; the member not opted out stays, the new one joined.
    assert members(emulator, made["list_id"]) == {"ben@example.com", "dan@example.com"}
    assert (found["remove_failed"], second["errors"]) == (0, []) and second["opt_outs"]["unsubscribed"] == 3


def test_an_opt_out_spelt_in_unicode_takes_out_the_contact_hubspot_holds_under_its_xn_spelling(portal, emulator, tmp_path):
    # HubSpot holds the mailbox under its xn-- spelling (a form, another integration, or the load
    # respelling to it); the plan writes the Unicode one.
    first = load_plan(portal, plan_dir(tmp_path / "first", ["jane@xn--bcher-kva.de", "ben@example.com"]), poll_interval=POLL)
    [made] = first["lists"]

    second = load_plan(portal, plan_dir(tmp_path / "second", ["ben@example.com"], ["jane@bücher.de"]), poll_interval=POLL)

    [found] = [entry for entry in second["lists"] if "name" in entry]
    assert members(emulator, made["list_id"]) == {"ben@example.com"}
    assert (found["removed_opted_out"], found["remove_failed"], second["errors"]) == (1, 0, [])


def test_a_rerun_removes_nothing_twice_and_fails_nothing(portal, emulator, tmp_path):
    load_plan(portal, plan_dir(tmp_path / "first", ["ann@example.com", "ben@example.com"]), poll_interval=POLL)
    second_plan = plan_dir(tmp_path / "second", ["ben@example.com"], ["ann@example.com"])
    load_plan(portal, second_plan, poll_interval=POLL)

    again = load_plan(portal, second_plan, poll_interval=POLL)

    [found] = again["lists"]
    assert (found["removed_opted_out"], found["remove_failed"], again["errors"]) == (0, 0, [])
    assert members(emulator, found["list_id"]) == {"ben@example.com"}


def test_a_list_made_now_needs_no_read_back_of_the_opt_outs(portal, emulator, tmp_path):
    report = load_plan(portal, plan_dir(tmp_path, ["ben@example.com"], ["ann@example.com"]), poll_interval=POLL)

    [made] = report["lists"]
    assert (made["created"], made["removed_opted_out"]) == (True, 0)
    assert count_requests(emulator, "PUT", "memberships/remove") == 0
    # One read-back: the marketing file's members, none for the opt-outs.
    assert count_requests(emulator, "POST", BATCH_READ) == 1


def test_opted_out_contacts_are_read_back_a_hundred_a_request(portal, emulator, tmp_path):
    emails = [f"person{n}@example.com" for n in range(150)]
    [listed] = load_plan(portal, plan_dir(tmp_path / "first", emails), poll_interval=POLL)["lists"]
    reads = count_requests(emulator, "POST", BATCH_READ)

    second = read_plan(plan_dir(tmp_path / "second", opted_out=emails))
    result = remove_members(portal, second, listed["list_id"], LIST_NAME, opted_out_members(portal, second), "removed_opted_out")

    assert result == {"removed": 150, "errors": []}
    assert count_requests(emulator, "POST", BATCH_READ) - reads == 2
    assert count_requests(emulator, "PUT", "memberships/remove") == 1


def test_a_removal_hubspot_refuses_is_a_load_error_naming_the_opt_out_row(portal, emulator, tmp_path, monkeypatch):
    from tests.tasks.load.test_list_removal_failures import removals_by_list

    [made] = load_plan(portal, plan_dir(tmp_path / "first", ["ann@example.com", "ben@example.com"]), poll_interval=POLL)["lists"]
    removals_by_list(emulator, monkeypatch, refusing=made["list_id"])

    found = ensure_lists(portal, read_plan(plan_dir(tmp_path / "second", ["ben@example.com"], ["zed@example.com", "ann@example.com"])))

    [error] = found["marketing"]["errors"]
    assert (error["file"], error["line"], error["error_type"], error["scope"]) == (UNSUBSCRIBED, 3, REMOVE_FAILED, "row")
    assert error["message"].startswith(f"opted out, but HubSpot would not take the contact out of the list {LIST_NAME!r} (id {made['list_id']}): HTTP 400")
    assert (error["list_id"], error["record_id"]) == (made["list_id"], emulator.portal.find(CONTACTS, "email", "ann@example.com").id)
    assert error["sources"] == [f"{SOURCE}:4"] and "ann@example.com" not in error["message"]
    assert (found["marketing"]["removed_opted_out"], found["marketing"]["remove_failed"]) == (0, 1)


def test_a_sync_run_that_only_opts_people_out_takes_them_out_of_its_list_and_makes_none(portal, emulator, tmp_path):
    only_opt_outs = read_plan(plan_dir(tmp_path / "opt-outs", opted_out=["ann@example.com"], list_files=False))
    [entry] = only_opt_outs.lists
    journal = ListJournal(tmp_path / "sync-state", portal.url)

    before_any_list = ensure_list(portal, only_opt_outs, entry, journal)
    [made] = load_plan(portal, plan_dir(tmp_path / "first", ["ann@example.com", "ben@example.com"]), poll_interval=POLL)["lists"]
    after = ensure_list(portal, only_opt_outs, entry, journal)

    assert (before_any_list["list_id"], before_any_list["removed_opted_out"]) == (None, 0)
    assert count_requests(emulator, "POST", "/crm/v3/lists") == 1
    assert (after["list_id"], after["removed_opted_out"]) == (made["list_id"], 1)
    assert members(emulator, made["list_id"]) == {"ben@example.com"}


def test_a_refused_removal_is_among_the_load_errors_and_counted_on_the_console(portal, emulator, tmp_path, monkeypatch, capsys):
    from emulators.hubspot.errors import validation_error
    from flows.cli import _print_summary

    load_plan(portal, plan_dir(tmp_path / "first", ["ann@example.com", "ben@example.com", "cy@example.com"]), poll_interval=POLL)
    second = load_plan(portal, plan_dir(tmp_path / "second", ["ben@example.com"], ["ann@example.com"]), poll_interval=POLL)

    def refuse(list_id, record_ids):
        raise validation_error("memberships cannot be removed now")

    monkeypatch.setattr(emulator.portal, "remove_members", refuse)
    third = load_plan(portal, plan_dir(tmp_path / "third", ["ben@example.com"], ["cy@example.com"]), poll_interval=POLL)

    [error] = [error for error in third["errors"] if error["error_type"] == REMOVE_FAILED]
    assert (error["file"], error["line"]) == (UNSUBSCRIBED, 2)
    assert "errors" not in third["lists"][0] and third["lists"][0]["remove_failed"] == 1
    contacts = {"marketing": 1, "non_marketing": 0, "opted_out": 1}
    for load in (second, third):
        _print_summary({"rows_read": 2, "rows_rejected": 0, "duplicates_merged": 0, "contacts": contacts, "sources": [], "load": load}, "out")
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  list ")]
    assert printed == [
        f"  list {LIST_NAME!r} (id {second['lists'][0]['list_id']}): 0 contacts added, 1 opted-out contact(s) removed",
        f"  list {LIST_NAME!r} (id {second['lists'][0]['list_id']}): 0 contacts added, "
        "1 contact(s) not removed (report.json load.errors)",
    ]


def test_a_rerun_whose_plan_names_another_list_takes_its_opt_outs_out_of_the_earlier_runs_list(portal, emulator, tmp_path, capsys):
    from flows.cli import _print_summary

    journal = ListJournal(tmp_path / "state", portal.url)
    first = read_plan(plan_dir(tmp_path / "first", ["ann@example.com", "ben@example.com"]))
    load_plan(portal, first.directory, poll_interval=POLL)
    earlier = ensure_list(portal, first, first.lists[0], journal)
    # The rerun's files changed (Ann moved to the unsubscribed file), so its list has another name.
    second = read_plan(plan_dir(tmp_path / "second", ["ben@example.com"], ["ann@example.com"]))
    renamed = {**second.lists[0], "name": "Onramp — Mailchimp marketing contacts (plan 2b3c4d5e)"}
    second.data["lists"] = [renamed]

    found = ensure_list(portal, second, renamed, journal)

    assert found["created"] and found["list_id"] != earlier["list_id"]
    assert found["earlier_lists"] == [
        {"list_id": earlier["list_id"], "name": LIST_NAME, "removed_opted_out": 1, "remove_failed": 0, "not_static": None}
    ]
    assert members(emulator, earlier["list_id"]) == {"ben@example.com"}
    load = {"portal": portal.url, "imports": [], "opt_outs": {"unsubscribed": 1}, "rows_failed": 0, "lists": [{**found, "added": 0}]}
    _print_summary({"rows_read": 2, "rows_rejected": 0, "duplicates_merged": 0, "contacts": {"marketing": 1, "non_marketing": 0, "opted_out": 1}, "sources": [], "load": load}, "out")
    assert f"    earlier list {LIST_NAME!r} (id {earlier['list_id']}): 1 opted-out contact(s) removed" in capsys.readouterr().out.splitlines()
    # Both lists again (this run's now exists too): the opted-out contacts are read back once.
    reads = count_requests(emulator, "POST", BATCH_READ)
    again = ensure_list(portal, second, renamed, journal)
    assert (again["created"], [earlier_list["list_id"] for earlier_list in again["earlier_lists"]]) == (False, [earlier["list_id"]])
    assert count_requests(emulator, "POST", BATCH_READ) - reads == 1
    # An earlier list deleted since is passed over.
    emulator.portal.lists.pop(earlier["list_id"])
    assert ensure_list(portal, second, renamed, journal)["earlier_lists"] == []


NON_MARKETING = "hubspot/contacts-non-marketing-001.csv"


def delta_plan(directory, marketing, non_marketing, *, sync_delta):
    """A plan of marketing contacts in the list ``LIST_NAME`` and non-marketing contacts; a
    sync's delta when ``sync_delta``."""
    contacts = {
        MARKETING: ({"outcome": "marketing", "marketable": True, "create_list": False, "list": "marketing",
                     "name": f"Onramp test {directory.name}"}, ["email", "firstname"], [[email, "X"] for email in marketing]),
        NON_MARKETING: ({"outcome": "non_marketing", "marketable": False, "create_list": False,
                         "name": f"Onramp test {directory.name} non-marketing"}, ["email", "firstname"],
                        [[email, "X"] for email in non_marketing]),
    }  # fmt: skip
    lists = [{"key": "marketing", "name": LIST_NAME, "outcome": "marketing", "files": [MARKETING]}]
    write_plan(directory, contacts=contacts, group=GROUP, lists=lists, source=SOURCE)
    plan_file = directory / "plan.json"
    plan_file.write_text(json.dumps({**json.loads(plan_file.read_text()), **({SYNC_DELTA: True} if sync_delta else {})}))
    return directory


def test_a_sync_delta_takes_contacts_no_longer_marketing_out_of_its_list(portal, emulator, tmp_path, capsys):
    from flows.cli import _print_summary

    [made] = load_plan(portal, plan_dir(tmp_path / "first", ["ann@example.com", "ben@example.com"]), poll_interval=POLL)["lists"]
    # Ben is now transactional in the source: the next run's delta sends him as non-marketing.
    delta = load_plan(portal, delta_plan(tmp_path / "delta", ["dan@example.com"], ["ben@example.com", "eve@example.com"], sync_delta=True), poll_interval=POLL)

    [found] = delta["lists"]
    assert (found["list_id"], found["removed_non_marketing"], found["removed_opted_out"], found["remove_failed"]) == (made["list_id"], 1, 0, 0)
    assert members(emulator, made["list_id"]) == {"ann@example.com", "dan@example.com"}
    _print_summary({"rows_read": 3, "rows_rejected": 0, "duplicates_merged": 0, "contacts": {"marketing": 1, "non_marketing": 2, "opted_out": 0}, "sources": [], "load": delta}, "out")
    assert (
        f"  list {LIST_NAME!r} (id {made['list_id']}): 1 contacts added, 1 contact(s) no longer marketing in the source removed"
        in capsys.readouterr().out.splitlines()
    )


def test_a_migrations_list_keeps_its_members_and_reads_no_non_marketing_contact_back(portal, emulator, tmp_path):
    load_plan(portal, plan_dir(tmp_path / "first", ["ann@example.com", "ben@example.com"]), poll_interval=POLL)
    reads = count_requests(emulator, "POST", BATCH_READ)

    rerun = load_plan(portal, delta_plan(tmp_path / "rerun", ["ann@example.com"], ["ben@example.com"], sync_delta=False), poll_interval=POLL)

    [found] = rerun["lists"]
    assert found["removed_non_marketing"] == 0
    assert members(emulator, found["list_id"]) == {"ann@example.com", "ben@example.com"}
    # The one read-back adds the marketing file's members; nothing reads the non-marketing one.
    assert count_requests(emulator, "POST", BATCH_READ) - reads == 1


def test_a_refused_removal_of_a_contact_no_longer_marketing_names_its_row(portal, emulator, tmp_path, monkeypatch):
    from tests.tasks.load.test_list_removal_failures import removals_by_list

    [made] = load_plan(portal, plan_dir(tmp_path / "first", ["ann@example.com", "ben@example.com"]), poll_interval=POLL)["lists"]
    removals_by_list(emulator, monkeypatch, refusing=made["list_id"])

    found = ensure_lists(portal, read_plan(delta_plan(tmp_path / "delta", ["ann@example.com"], ["ben@example.com"], sync_delta=True)))

    [error] = found["marketing"]["errors"]
    assert (error["file"], error["line"], error["error_type"], error["scope"]) == (NON_MARKETING, 2, REMOVE_FAILED, "row")
    assert error["message"].startswith("no longer a marketing contact in the source, but HubSpot would not take the contact out of the list")
