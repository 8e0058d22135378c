"""HubSpot's limit of options per enumeration property: which values become options, and a load
whose tags do not all fit still finishing, its opt-outs sent and the values left out reported;
opt-outs sent before a properties step that stops the load. Against the emulator over real HTTP,
its limit lowered so the plans stay small."""

from __future__ import annotations

import csv

import polars as pl
import pytest
import requests

from emulators.hubspot.settings import MAX_PROPERTY_OPTIONS, EmulatorSettings
from tasks.csv_safety import restore_formulas, sink_safe_csv
from tasks.report import OPTIONS_OVER_LIMIT, load_lines, options_limit_warnings
from tasks.load import ensure_properties, load_plan, read_plan, settings
from tasks.load.properties import OPTION_LIMIT, _write_without, options_within_limit
from tasks.load.run import LoadStopped
from tests.tasks.load.conftest import TOKEN, count_requests
from tests.tasks.load.plans import write_plan
from tests.tasks.load.reruns import load_in_a_flow
from tests.tasks.load.test_opted_out import opted_out_in_hubspot
from tests.tasks.load.test_optouts import UNSUBSCRIBED, is_opted_out
from tests.tasks.load.test_tags_lists_companies import GROUP, MARKETING, POLL, options, stored_options, tags_property

ROWS = [["ann@example.com", "a;b;d"], ["ben@example.com", "b;c"], ["cat@example.com", "d"], ["dan@example.com", ""]]
"""b and d are on two rows each, a and c on one: with room for two more options, b and d are kept."""


def test_every_missing_option_is_added_while_they_fit():
    to_add, left_out = options_within_limit(options("a", "b", "c"), {"a", "x"}, {}, 4)

    assert [o["value"] for o in to_add] == ["b", "c"] and left_out == []


def test_past_the_limit_the_most_frequent_values_are_kept_and_the_portals_own_options_count():
    planned = options("a", "b", "c", "d", "e")
    counts = {"a": 9, "b": 1, "c": 5, "d": 5, "e": 2}

    to_add, left_out = options_within_limit(planned, {"a", "old"}, counts, 4)

    # Room for two beside the portal's two: c and d (five rows each, c before d by name), in the
    # plan's display order; the rest most frequent first.
    assert [o["value"] for o in to_add] == ["c", "d"]
    assert left_out == ["e", "b"]


def test_ties_go_by_value_case_insensitively_then_exactly_and_a_full_property_takes_none():
    to_add, left_out = options_within_limit(options("b", "B", "a"), set(), {"a": 1, "b": 1, "B": 1}, 2)
    full_add, full_left_out = options_within_limit(options("x", "y"), {"p", "q", "r"}, {"x": 3}, 3)

    assert [o["value"] for o in to_add] == ["B", "a"] and left_out == ["b"]
    # y is on no row sent (a sync's plan lists its sources' every option): nothing is left out of it.
    assert full_add == [] and full_left_out == ["x"]


def test_past_the_limit_a_value_no_row_sent_holds_is_neither_added_nor_left_out():
    to_add, left_out = options_within_limit(options("new", "unused", "other"), {"p"}, {"new": 1}, 2)

    assert [o["value"] for o in to_add] == ["new"] and left_out == []


def test_the_emulator_refuses_a_property_over_its_options_limit_as_a_validation_error(hub, emulator):
    assert EmulatorSettings().max_property_options == MAX_PROPERTY_OPTIONS == settings.MAX_OPTIONS_PER_PROPERTY == 5000
    emulator.configure(max_property_options=2)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    base = f"{hub.url}/crm/v3/properties/contacts"
    requests.post(f"{base}/groups", headers=headers, json=GROUP).raise_for_status()
    requests.post(base, headers=headers, json=tags_property("a", "b")).raise_for_status()

    created = requests.post(base, headers=headers, json={**tags_property("a", "b", "c"), "name": "other_tags"})
    patched = requests.patch(f"{base}/mailchimp_tags", headers=headers, json={"options": options("a", "b", "c")})

    for answer in (created, patched):
        assert answer.status_code == 400 and answer.json()["category"] == "VALIDATION_ERROR"
        assert "at most 2 options" in answer.json()["message"]
    assert [o["value"] for o in requests.get(f"{base}/mailchimp_tags", headers=headers).json()["options"]] == ["a", "b"]


def tags_plan(directory, planned=("a", "b", "c", "d")):
    return write_plan(
        directory,
        group=GROUP,
        properties=[tags_property(*planned)],
        contacts={MARKETING: ({"outcome": "marketing", "marketable": True}, ["email", "mailchimp_tags"], ROWS)},
        opt_outs={UNSUBSCRIBED: ("unsubscribed", ["zed@example.com"])},
    )


def tags_of(client, email):
    contact = client.crm.contacts.basic_api.get_by_id(email, id_property="email", properties=["mailchimp_tags"])
    return contact.properties.get("mailchimp_tags") or ""


def test_a_load_whose_tags_exceed_the_limit_finishes_sends_its_opt_outs_and_reports_the_values_left_out(
    portal, emulator, client, tmp_path, monkeypatch
):
    emulator.configure(max_property_options=3)
    monkeypatch.setattr(settings, "MAX_OPTIONS_PER_PROPERTY", 3)
    # Another migration made the property with one option the plan does not have.
    ensure_properties(portal, read_plan(write_plan(tmp_path / "earlier", group=GROUP, properties=[tags_property("old")])))
    plan = tags_plan(tmp_path / "plan")
    planned_file = (plan / MARKETING).read_text(encoding="utf-8")

    report = load_plan(portal, plan, poll_interval=POLL)

    assert report["properties"]["options_left_out"] == {"mailchimp_tags": ["a", "c"]}
    assert report["properties"]["options_added"] == {"mailchimp_tags": ["b", "d"]}
    assert stored_options(client) == ["old", "b", "d"]
    assert is_opted_out(portal, "zed@example.com") and report["opt_outs"]["unsubscribed"] == 1
    # Every row loaded, each without the values that could not be options, its other tags kept.
    assert [sorted(tags_of(client, row[0]).split(";")) for row in ROWS[:3]] == [["b", "d"], ["b"], ["d"]]
    assert report["rows_failed"] == 0 and report["rows_with_value_errors"] == 2
    left_out = [error for error in report["errors"] if error["error_type"] == OPTION_LIMIT]
    assert [(e["file"], e["line"], e["scope"], e["column"], e["sources"]) for e in left_out] == [
        (MARKETING, 2, "value", "mailchimp_tags", ["file:///exports/audience.zip:2"]),
        (MARKETING, 3, "value", "mailchimp_tags", ["file:///exports/audience.zip:3"]),
    ]
    assert left_out[0]["message"].startswith("not sent: a (") and left_out[1]["message"].startswith("not sent: c (")
    # The plan's own file is left as the planner wrote it.
    assert (plan / MARKETING).read_text(encoding="utf-8") == planned_file


def contact_and_property_writes(emulator):
    return sum(count_requests(emulator, method, route) for method, route in
               (("POST", "/crm/v3/objects/contacts"), ("POST", "/crm/v3/imports"), ("POST", "/crm/v3/properties"), ("PATCH", "/crm/v3/properties")))


def test_a_load_of_a_new_property_over_the_limit_resumes_with_the_same_files_and_sends_nothing_again(
    prefect_api_url, portal, emulator, client, tmp_path, monkeypatch
):
    emulator.configure(max_property_options=2)
    monkeypatch.setattr(settings, "MAX_OPTIONS_PER_PROPERTY", 2)
    plan = tags_plan(tmp_path / "plan")

    first = load_in_a_flow(portal, str(plan), str(tmp_path / "state"))
    writes_after_first = contact_and_property_writes(emulator)
    again = load_in_a_flow(portal, str(plan), str(tmp_path / "state"))

    assert first["properties"]["created"] == ["mailchimp_tags"] and stored_options(client) == ["b", "d"]
    assert [step["step"] for step in first["steps"]][:2] == ["opt-outs", "properties"]
    assert first["reconciliation"]["mismatches"] == [] and first["rows_with_value_errors"] == 2
    with open(tmp_path / "state" / "options-left-out" / MARKETING, newline="", encoding="utf-8") as handle:
        assert [row[1] for row in csv.reader(handle)][1:] == ["b;d", "b", "d", ""]
    # The rerun finds every step done: the derived file is written the same way each run.
    assert all(step["already_done"] for step in again["steps"])
    assert contact_and_property_writes(emulator) == writes_after_first > 0
    assert again["rows_with_value_errors"] == 2


def test_opt_outs_are_sent_before_a_properties_step_that_stops_the_load(prefect_api_url, portal, emulator, tmp_path):
    # A property HubSpot refuses (a field type it does not know): the properties step stops the load.
    refused = {"name": "mailchimp_rating", "label": "Rating", "type": "string", "fieldType": "no-such-field", "groupName": "mailchimp"}
    plan = write_plan(
        tmp_path / "plan",
        group=GROUP,
        properties=[refused],
        contacts={MARKETING: ({"outcome": "marketing", "marketable": True}, ["email"], [["ann@example.com"]])},
        opt_outs={UNSUBSCRIBED: ("unsubscribed", ["zed@example.com", "yan@example.com"])},
    )

    with pytest.raises(LoadStopped) as stopped:
        load_in_a_flow(portal, str(plan), str(tmp_path / "state"))

    assert "mailchimp_rating" in str(stopped.value.reason)
    assert [step["step"] for step in stopped.value.done["steps_done"]] == ["opt-outs"]
    assert stopped.value.done["opt_out_rows_sent"] == 2
    assert is_opted_out(portal, "zed@example.com") and is_opted_out(portal, "yan@example.com")
    assert str(stopped.value).endswith("(before the stop: done 1 opt-out file; 0 of 1 contacts sent)")


def test_the_plan_warns_of_a_property_with_more_values_than_options_in_one_line():
    warnings = options_limit_warnings({OPTIONS_OVER_LIMIT: {"mailchimp_tags": 6_001}})

    assert warnings == [
        "warning: property mailchimp_tags: 6,001 distinct values, more than the 5,000 options HubSpot holds: the load "
        "keeps the 5,000 most frequent (fewer if the portal's property has other options) and sends the rows without "
        "the rest, each in report.json load.errors"
    ]
    assert options_limit_warnings({OPTIONS_OVER_LIMIT: {}}) == options_limit_warnings({}) == []


def test_the_load_says_which_values_of_a_property_it_left_out():
    load = {
        "portal": "http://127.0.0.1:1", "portal_id": 1, "account_type": "STANDARD", "imports": [],
        "opt_outs": {"unsubscribed": 0}, "rows_failed": 0, "rows_with_value_errors": 2,
        "properties": {"options_left_out": {"mailchimp_tags": ["zeta", "eta"]}},
    }

    assert load_lines(load)[1] == (
        "  property mailchimp_tags: 2 value(s) left out of the rows sent, no room for them among the 5,000 options "
        "HubSpot holds (report.json load.properties.options_left_out)"
    )


def test_values_left_out_of_a_file_split_for_contacts_unsubscribed_in_hubspot_keep_their_planned_lines(
    portal, emulator, client, tmp_path, monkeypatch
):
    emulator.configure(max_property_options=2)
    monkeypatch.setattr(settings, "MAX_OPTIONS_PER_PROPERTY", 2)
    # ben is unsubscribed in HubSpot already: his row goes in a non-marketing file of its own.
    opted_out_in_hubspot(portal, "ben@example.com")
    plan = tags_plan(tmp_path / "plan")

    report = load_plan(portal, plan, poll_interval=POLL)

    moved = "hubspot/contacts-marketing-001-opted-out.csv"
    assert [(row["file"], row["sent_file"]) for row in report["kept_non_marketing_opted_out"]["rows"]] == [(MARKETING, moved)]
    assert [sorted(tags_of(client, row[0]).split(";")) for row in ROWS[:3]] == [["b", "d"], ["b"], ["d"]]
    left_out = [(e["file"], e["line"], e["sources"]) for e in report["errors"] if e["error_type"] == OPTION_LIMIT]
    # Each on the planned file and line the row came from, with its source row.
    assert left_out == [(MARKETING, 2, ["file:///exports/audience.zip:2"]), (MARKETING, 3, ["file:///exports/audience.zip:3"])]
    assert report["rows_failed"] == 0 and report["rows_with_value_errors"] == 2


def test_a_copy_without_left_out_values_holds_every_other_cell_as_planned(tmp_path):
    planned, copy = tmp_path / "contacts-marketing-001.csv", tmp_path / "copy.csv"
    values = {
        "Email": ["ann@x.com", "bob@x.com", "cy@x.com"],
        "firstname": ["'=Ann", "=Bob", "Cy"],
        "notes": ["-- regards", "", "plain"],
        "mailchimp_tags": ["=z;common", "gone;common", "gone"],
    }
    sink_safe_csv(pl.LazyFrame(values), planned)

    errors = _write_without(planned, copy, "hubspot/contacts-marketing-001.csv", {"mailchimp_tags": (frozenset({"gone"}), "checkbox")})

    sent = pl.read_csv(copy, infer_schema=False).select(restore_formulas(pl.all()))
    assert sent.to_dict(as_series=False) == values | {"mailchimp_tags": ["=z;common", "common", None]}
    assert [(e["line"], e["error_type"]) for e in errors] == [(3, OPTION_LIMIT), (4, OPTION_LIMIT)]
