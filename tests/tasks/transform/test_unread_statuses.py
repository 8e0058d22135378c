"""Consent values no status rule reads are counted per file and named in every report.

A Constant Contact ``Email status`` of ``Deleted`` or a Salesforce opt-out flag of ``maybe`` says
nothing of a row's consent: the row takes its other columns' reading or the profile's default,
which is never marketing by default, but a person must be told, since a mapping can read it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from schemas.lineage import SOURCE_STATUS
from tasks.extract.tables import ReadOptions, read_source
from tasks.output import OutputFolder
from tasks.plan import consent_profiles, plan_sources
from tasks.report import UNREAD_VALUES_SHOWN, markdown_report, source_warnings, unread_status_warnings
from tasks.report_html import render_report_html
from tasks.transform.catalog import FALSY, TRUTHY, reading_profile
from tasks.transform.mapping_file import UserMapping

CC_HEADERS = ["Email address", "First name", "Email status", "Email permission status"]
CC_ROWS = [
    ["a@example.com", "Ann", "Deleted", ""],
    ["b@example.com", "Bob", "Active", ""],
    ["c@example.com", "Cat", " DELETED ", "Unsubscribed"],
    ["d@example.com", "Dan", "deleted", ""],
    ["e@example.com", "Eve", "Active", "Maybe later"],
    ["not-an-address", "Fay", "Deleted", ""],
]


def write_csv(path: Path, headers: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def plan_file(path: Path, tmp_path: Path, options: ReadOptions = ReadOptions()) -> dict:
    [read] = read_source(str(path), tmp_path / "staging", options)
    profiles = consent_profiles([read.profile.profile], {})
    return plan_sources([read.raw], OutputFolder(str(tmp_path / "out")), profiles)


def test_the_values_a_profile_reads_are_known_per_consent_column():
    known = reading_profile("constantcontact").status_values(["Email address", "EMAIL STATUS", "Email permission status"])
    assert set(known) == {"EMAIL STATUS", "Email permission status"}
    assert {"active", "unsubscribed", "awaiting confirmation", "removed"} <= known["EMAIL STATUS"]
    assert "deleted" not in known["EMAIL STATUS"]

    salesforce = reading_profile("salesforce").status_values(["Email", "HasOptedOutOfEmail", "EmailBouncedDate"])
    # A flag's yes and no are both read; a column read "when present" reads every value.
    assert salesforce == {"HasOptedOutOfEmail": TRUTHY | FALSY}


def test_a_file_counts_each_unread_value_with_what_its_rows_were_read_as(tmp_path):
    report = plan_file(write_csv(tmp_path / "contacts.csv", CC_HEADERS, CC_ROWS), tmp_path)

    [source] = report["sources"]
    # Values are compared as the rules compare them: trimmed, lowercase. A rejected row's value
    # is counted too (the invalid address), with the status its row was read as.
    assert source["unread_status_values"] == [
        {"column": "Email status", "value": "deleted", "status": "unrecognised", "rows": 3, "outcome": "non_marketing"},
        {"column": "Email permission status", "value": "maybe later", "status": "unrecognised", "rows": 1, "outcome": "non_marketing"},
        {"column": "Email status", "value": "deleted", "status": "unsubscribed", "rows": 1, "outcome": "opted_out"},
    ]


def test_a_row_with_an_unrecognised_consent_value_is_never_marketing_but_keeps_an_opt_out(tmp_path):
    rows = [
        ["a@example.com", "Ann", "Active", "Opted out"],  # another column says marketing: not enough
        ["b@example.com", "Bob", "Unsubscribed", "Maybe"],  # an opt-out a rule reads still wins
        ["c@example.com", "Cat", "Active", ""],
    ]
    [read] = read_source(str(write_csv(tmp_path / "contacts.csv", CC_HEADERS, rows)), tmp_path / "staging", ReadOptions())
    statuses = dict(read.raw.frame.select("Email address", SOURCE_STATUS).collect().iter_rows())
    assert statuses == {"a@example.com": "unrecognised", "b@example.com": "unsubscribed", "c@example.com": "active"}


def test_an_opt_out_in_the_file_name_reads_empty_cells_and_disagrees_with_an_unrecognised_value(tmp_path):
    rows = [["a@example.com", "Ann", "Deleted", ""], ["b@example.com", "Bob", "", ""]]
    [read] = read_source(str(write_csv(tmp_path / "unsubscribed.csv", CC_HEADERS, rows)), tmp_path / "staging", ReadOptions())
    statuses = dict(read.raw.frame.select("Email address", SOURCE_STATUS).collect().iter_rows())
    assert statuses == {"a@example.com": "name_disagrees", "b@example.com": "unsubscribed"}


def test_a_flag_written_as_a_database_boolean_is_read(tmp_path):
    rows = [["a@example.com", "Ann", "T"], ["b@example.com", "Bob", "1.0"], ["c@example.com", "Cat", "f"], ["d@example.com", "Dan", "opted out"]]
    path = write_csv(tmp_path / "leads.csv", ["Email", "FirstName", "HasOptedOutOfEmail"], rows)
    [read] = read_source(str(path), tmp_path / "staging", ReadOptions())
    assert read.profile.name == "salesforce"
    statuses = dict(read.raw.frame.select("Email", SOURCE_STATUS).collect().iter_rows())
    assert statuses == {
        "a@example.com": "opted_out_of_email",
        "b@example.com": "opted_out_of_email",
        "c@example.com": "no_consent",
        "d@example.com": "unrecognised",
    }


def test_slices_of_a_file_add_up_to_the_whole(tmp_path, monkeypatch):
    path = write_csv(tmp_path / "contacts.csv", CC_HEADERS, CC_ROWS)
    whole = plan_file(path, tmp_path / "whole")
    monkeypatch.setattr("tasks.plan.ROWS_PER_SLICE", 2)
    assert plan_file(path, tmp_path / "sliced")["sources"] == whole["sources"]


def test_a_value_a_mapping_reads_is_no_longer_unread(tmp_path):
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('profile = "constantcontact"\n[[status.rules]]\ncolumns = ["Email status"]\nvalues = { deleted = "removed" }\n', encoding="utf-8")
    report = plan_file(write_csv(tmp_path / "contacts.csv", CC_HEADERS, CC_ROWS), tmp_path, ReadOptions(mapping=UserMapping.load(mapping)))

    assert [(u["column"], u["value"]) for u in report["sources"][0]["unread_status_values"]] == [("Email permission status", "maybe later")]


def test_a_file_whose_status_is_in_its_name_has_nothing_unread(tmp_path):
    report = plan_file(write_csv(tmp_path / "unsubscribed.csv", ["Email address", "First name"], [["a@example.com", "Ann"]]), tmp_path)
    assert report["sources"][0]["unread_status_values"] == []
    assert unread_status_warnings(report) == []


def _report_with(unread: list[dict]) -> dict:
    return {
        "rows_read": 9, "rows_rejected": 0, "duplicates_merged": 0,
        "contacts": {"marketing": 0, "non_marketing": 9, "opted_out": 0},
        "sources": [
            {"uri": "a.csv", "format": "constantcontact-export", "status": "per-row", "rows": 9, "rejected": 0, "unread_status_values": unread},
            {"uri": "b.csv", "format": "constantcontact-export", "status": "per-row", "rows": 0, "rejected": 0, "unread_status_values": [], "duplicate_headers": []},
        ],
        "files": {"imports": [], "opt_outs": [], "rejects": "rejects.csv", "lineage": "lineage.csv"},
    }


def test_the_warning_names_the_file_the_values_and_how_the_rows_were_read():
    report = _report_with([{"column": "Email status", "value": "deleted", "status": "blank", "rows": 3, "outcome": "non_marketing"}])
    assert unread_status_warnings(report) == [
        "warning: a.csv: 3 consent cell(s) hold a value no status rule reads: "
        "Email status='deleted' in 3 row(s), read as blank (non_marketing); read them with a mapping's [[status.rules]]"
    ]
    assert source_warnings(report)[0] == unread_status_warnings(report)[0]
    assert unread_status_warnings(report)[0] in markdown_report(report)


@pytest.mark.parametrize("values", [UNREAD_VALUES_SHOWN + 2])
def test_the_warning_names_the_commonest_values_and_counts_every_cell(values):
    unread = [{"column": "Email status", "value": f"v{n}", "status": "blank", "rows": 1, "outcome": "non_marketing"} for n in range(values)]
    [line] = unread_status_warnings(_report_with(unread))
    assert line.startswith(f"warning: a.csv: {values} consent cell(s)")
    assert "'v4'" in line and "'v5'" not in line
    assert "and 2 more" in line


def test_the_html_report_shows_the_warning_escaped():
    report = _report_with([{"column": "Email status", "value": "<b>x</b>", "status": "blank", "rows": 1, "outcome": "non_marketing"}])
    page = render_report_html(report)
    assert "source-warning" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
