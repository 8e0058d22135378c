"""Contacts HubSpot would not take out of a list, loaded into the emulator over real HTTP: each
earlier list is cleaned once a load (not once per planned list), a refused contact counts once and
against the list that refused it, and a list a person turned DYNAMIC is left alone with a warning
naming it, failing no run."""

from __future__ import annotations

from emulators.hubspot.errors import validation_error
from tasks.load import load_plan, read_plan
from tasks.load.lists import add_file_members, ensure_lists
from tasks.report import lists_not_static, list_removals_failed, load_failed, load_lines
from tests.tasks.load.conftest import count_requests
from tests.tasks.load.plans import write_plan
from tests.tasks.load.test_list_opt_outs import GROUP, LIST_NAME, MARKETING, POLL, SOURCE, UNSUBSCRIBED, members, plan_dir

NON_MARKETING = "hubspot/contacts-non-marketing-001.csv"
OTHER_LIST = "Onramp — Mailchimp non-marketing contacts (plan 0123abcd)"


def two_list_plan(directory, marketing, non_marketing, opted_out):
    """A plan (another plan's files, so other list names than ``plan_dir``'s) of two lists and an
    opt-out file."""
    contacts = {
        MARKETING: ({"outcome": "marketing", "marketable": True, "create_list": False, "list": "marketing",
                     "name": f"Onramp test {directory.name}"}, ["email", "firstname"], [[email, "X"] for email in marketing]),
        NON_MARKETING: ({"outcome": "non_marketing", "marketable": False, "create_list": False, "list": "non_marketing",
                         "name": f"Onramp test {directory.name} nm"}, ["email", "firstname"], [[email, "X"] for email in non_marketing]),
    }  # fmt: skip
    lists = [
        {"key": "marketing", "name": f"{LIST_NAME} 2", "outcome": "marketing", "files": [MARKETING]},
        {"key": "non_marketing", "name": OTHER_LIST, "outcome": "non_marketing", "files": [NON_MARKETING]},
    ]
    opt_outs = {UNSUBSCRIBED: ("unsubscribed", list(opted_out))}
    return write_plan(directory, contacts=contacts, opt_outs=opt_outs, group=GROUP, lists=lists, source=SOURCE)


def removals_by_list(emulator, monkeypatch, refusing: str | None = None) -> list[str]:
    """The lists HubSpot is asked to take members out of, in order; ``refusing`` refuses them all
    (a static list refusing, as it might for a reason of its own)."""
    asked: list[str] = []
    remove = emulator.portal.remove_members

    def counted(list_id, record_ids):
        asked.append(list_id)
        if list_id == refusing:
            raise validation_error("memberships cannot be removed now")
        return remove(list_id, record_ids)

    monkeypatch.setattr(emulator.portal, "remove_members", counted)
    return asked


def test_each_earlier_list_is_cleaned_once_a_load_and_its_refusal_counted_once_against_it(portal, emulator, tmp_path, monkeypatch):
    state = tmp_path / "state"
    first = plan_dir(tmp_path / "first", ["ann@example.com", "ben@example.com"])
    load_plan(portal, first, poll_interval=POLL)
    earlier_id = ensure_lists(portal, read_plan(first), state)["marketing"]["list_id"]
    second = read_plan(two_list_plan(tmp_path / "second", ["ben@example.com"], ["cy@example.com"], ["ann@example.com"]))
    load_plan(portal, second.directory, poll_interval=POLL)
    ensure_lists(portal, second, state)  # the second plan's two lists, made and recorded
    asked = removals_by_list(emulator, monkeypatch, refusing=earlier_id)

    found = ensure_lists(portal, second, state)

    own = {found[key]["list_id"] for key in found}
    # Each list once: the plan's two (existing now) and the earlier one, by the first list's step.
    assert sorted(asked) == sorted([*own, earlier_id])
    assert [earlier["list_id"] for earlier in found["marketing"]["earlier_lists"]] == [earlier_id]
    assert found["non_marketing"]["earlier_lists"] == []
    [earlier] = found["marketing"]["earlier_lists"]
    assert (earlier["remove_failed"], found["marketing"]["remove_failed"], found["non_marketing"]["remove_failed"]) == (1, 0, 0)
    load = {
        "portal": portal.url, "imports": [], "opt_outs": {"unsubscribed": 1}, "rows_failed": 0,
        "lists": [{**{k: v for k, v in entry.items() if k != "errors"}, "added": 0} for entry in found.values()],
        "errors": [error for entry in found.values() for error in entry["errors"]],
    }  # fmt: skip
    assert list_removals_failed(load) == 1 and load_failed(load)
    said = load_lines(load)
    assert said[0].endswith("1 contact(s) HubSpot would not take out of a list (report.json load.errors)")
    assert f"    earlier list {LIST_NAME!r} (id {earlier_id}): 0 opted-out contact(s) removed, 1 contact(s) not removed (report.json load.errors)" in said
    assert not any(line.startswith("  list ") and "not removed" in line for line in said)


def test_a_list_turned_dynamic_is_left_alone_with_a_warning_naming_it_and_fails_nothing(portal, emulator, tmp_path, monkeypatch):
    [made] = load_plan(portal, plan_dir(tmp_path / "first", ["ann@example.com", "ben@example.com"]), poll_interval=POLL)["lists"]
    emulator.portal.lists[made["list_id"]].processing_type = "DYNAMIC"
    asked = removals_by_list(emulator, monkeypatch)

    report = load_plan(portal, plan_dir(tmp_path / "second", [], ["ann@example.com"], list_files=False), poll_interval=POLL)

    [found] = report["lists"]
    assert (found["not_static"], found["remove_failed"], found["removed_opted_out"], asked) == ("DYNAMIC", 0, 0, [])
    assert report["errors"] == [] and not load_failed(report)
    assert members(emulator, made["list_id"]) == {"ann@example.com", "ben@example.com"}
    warning = (
        f"list {LIST_NAME!r} (id {made['list_id']}) is DYNAMIC now, no longer a static list: its filters decide who is in it, "
        "so Onramp takes no opted-out or non-marketing contact out of it"
    )
    assert lists_not_static(report) == [warning]
    assert f"  warning: {warning}" in load_lines(report)
    # Nobody to take out of a list it may not edit: not even read back.
    assert count_requests(emulator, "POST", "/crm/v3/objects/{object_type_name}/batch/read") == 1


def test_a_static_list_refusing_a_removal_still_fails_the_load(portal, emulator, tmp_path, monkeypatch):
    [made] = load_plan(portal, plan_dir(tmp_path / "first", ["ann@example.com", "ben@example.com"]), poll_interval=POLL)["lists"]
    removals_by_list(emulator, monkeypatch, refusing=made["list_id"])

    report = load_plan(portal, plan_dir(tmp_path / "second", [], ["ann@example.com"], list_files=False), poll_interval=POLL)

    assert report["lists"][0]["remove_failed"] == 1 and list_removals_failed(report) == 1 and load_failed(report)
    assert lists_not_static(report) == []


def test_a_list_turned_dynamic_adds_nobody_with_a_warning_naming_it_and_fails_nothing(portal, emulator, tmp_path, caplog):
    [made] = load_plan(portal, plan_dir(tmp_path / "first", ["ann@example.com"]), poll_interval=POLL)["lists"]
    emulator.portal.lists[made["list_id"]].processing_type = "DYNAMIC"

    # New marketing contacts for the same list: HubSpot refuses to add anyone to it now.
    report = load_plan(portal, plan_dir(tmp_path / "second", ["ben@example.com", "cy@example.com"]), poll_interval=POLL)

    [found] = report["lists"]
    assert (found["list_id"], found["not_static"], found["added"]) == (made["list_id"], "DYNAMIC", 0)
    assert report["errors"] == [] and not load_failed(report)
    assert members(emulator, made["list_id"]) == {"ann@example.com"}
    # Both contacts are in HubSpot all the same; a read-back would not look for them in the list.
    assert {"ben@example.com", "cy@example.com"} <= {contact.properties["email"] for contact in emulator.portal.live("0-1")}
    assert [made["list_id"] not in result["list_ids"] for result in report["imports"]] == [True]
    warning = (
        f"list {LIST_NAME!r} (id {made['list_id']}) is DYNAMIC now, no longer a static list: its filters decide who is in it, "
        f"so Onramp adds none of the 2 contact(s) of {MARKETING} to it"
    )
    assert caplog.messages.count(warning) == 1


def test_a_file_s_contacts_refused_by_a_list_turned_dynamic_are_counted_not_added(portal, emulator, tmp_path):
    directory = plan_dir(tmp_path / "first", ["ann@example.com", "ben@example.com"])
    load_plan(portal, directory, poll_interval=POLL)
    plan = read_plan(directory)
    list_id = ensure_lists(portal, plan)["marketing"]["list_id"]
    emulator.portal.lists[list_id].processing_type = "DYNAMIC"
    [entry] = plan.imports

    result = add_file_members(portal, plan, entry, list_id)

    assert (result["added"], result["not_static"], result["not_added"], result["waiting"]) == (0, "DYNAMIC", 2, 0)
    assert result["waiting_reason"].startswith(f"list {LIST_NAME!r} (id {list_id}) is DYNAMIC now")
    # Made static again, the list takes them.
    emulator.portal.lists[list_id].processing_type = "MANUAL"
    assert add_file_members(portal, plan, entry, list_id)["not_static"] is None
    assert members(emulator, list_id) == {"ann@example.com", "ben@example.com"}
