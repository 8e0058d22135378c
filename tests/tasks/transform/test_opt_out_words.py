"""Clear opt-out words in a generic opt-out flag's cell (``opted out``, ``suppressed``, a date
with AM/PM) are read as opt-outs, never as values no rule reads; a file's name naming people or
events (``reactivated_unsubscribers.csv``) is no opt-out."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from tasks.report import source_warnings
from tasks.transform.catalog import reading_profile
from tests.plain_plan import plan

NAMES = [
    # A file's name is weak evidence and an opt-out sent to HubSpot cannot be undone: words that
    # name people or events, not the list itself, say nothing (a second audit found each of these
    # on files that were no opt-out lists).
    "resubscribed_former_unsubscribers.csv",
    "reactivated_unsubscribers.csv",
    "unsub_survey_responses.csv",
    "never_complained_customers.csv",
    "complainers_resolved_2024.csv",
    "blacklists_reviewed.csv",
    "contacts_cleaned.csv",
]


@pytest.mark.parametrize("name", NAMES)
def test_a_file_name_naming_people_or_events_is_no_opt_out(name):
    assert reading_profile("generic").name_status(name) is None
    assert reading_profile("constantcontact").name_status(name) is None


FLAG_CELLS = {
    # an "Opted Out" cell → its status; a "Bounced" cell → its status
    "opted out": ("unsubscribed", "unrecognised"),
    "Opted-Out": ("unsubscribed", "unrecognised"),
    "Opt Out": ("unsubscribed", "unrecognised"),
    "do not email": ("unsubscribed", "unrecognised"),
    "Blocklisted": ("unsubscribed", "unrecognised"),
    "hardbounce": ("unrecognised", "bounced"),
    "Unsubscribed": ("unsubscribed", "unrecognised"),
    "SUPPRESSED": ("unsubscribed", "bounced"),
    "hard bounce": ("unrecognised", "bounced"),
    "Bounced": ("unrecognised", "bounced"),
    "3/4/2024 1:05 PM": ("unsubscribed", "bounced"),
    "03/04/2024 01:05:09 am": ("unsubscribed", "bounced"),
    "2024-03-04 1:05pm": ("unsubscribed", "bounced"),
    # True in some databases' exports, nowhere documented as an export's: not an opt-out on a guess.
    "-1": ("unrecognised", "unrecognised"),
    "1:05 PM": ("unrecognised", "unrecognised"),
    "no": ("no_consent", "no_consent"),
    "": ("no_consent", "no_consent"),
}


@pytest.mark.parametrize(("header", "index"), [("Opted Out", 0), ("Bounced", 1)])
def test_a_generic_opt_out_flag_reads_the_words_naming_its_opt_out(header, index):
    profile = reading_profile("generic")
    frame = pl.DataFrame({"Email": [f"r{n}@x.com" for n in range(len(FLAG_CELLS))], header: list(FLAG_CELLS)})
    statuses = frame.select(profile.status_expr(["Email", header]).alias("status"))["status"].to_list()
    assert dict(zip(FLAG_CELLS, statuses, strict=True)) == {cell: expected[index] for cell, expected in FLAG_CELLS.items()}


def test_the_opt_out_words_of_a_flag_are_no_longer_values_no_rule_reads():
    known = reading_profile("generic").status_values(["Email", "Unsubscribed", "Bounced"])
    assert {"opted out", "opted-out", "unsubscribed", "suppressed"} <= known["Unsubscribed"]
    assert {"bounced", "hard bounce", "hard bounced", "suppressed"} <= known["Bounced"]
    assert "-1" not in known["Unsubscribed"] | known["Bounced"]


def write_csv(path: Path, headers: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([headers, *rows])


def test_a_plan_opts_out_the_rows_of_flags_saying_so_and_not_of_files_named_for_people(tmp_path):
    folder = tmp_path / "crm"
    folder.mkdir()
    write_csv(folder / "reactivated_unsubscribers.csv", ["Email", "First Name"], [["u1@x.com", "Una"]])
    write_csv(folder / "unsubscribes.csv", ["Email", "First Name"], [["c1@x.com", "Cal"]])
    write_csv(folder / "contacts_cleaned.csv", ["Email", "First Name"], [["b1@x.com", "Bea"]])
    flags = [["f1@x.com", "opted out"], ["f2@x.com", "Suppressed"], ["f3@x.com", "3/4/2024 1:05 PM"], ["f4@x.com", "-1"], ["f5@x.com", "no"]]
    write_csv(folder / "people.csv", ["Email", "Opted Out"], flags)

    report = plan([str(folder)], tmp_path / "out")

    opted_out = {entry["status"]: set(pl.read_csv(tmp_path / "out" / entry["file"])["Email"]) for entry in report["files"]["opt_outs"]}
    assert opted_out == {"unsubscribed": {"c1@x.com", "f1@x.com", "f2@x.com", "f3@x.com"}}
    assert report["contacts"] == {"marketing": 0, "non_marketing": 4, "opted_out": 4}
    [people] = [source for source in report["sources"] if source["uri"].endswith("people.csv")]
    assert people["unread_status_values"] == [
        {"column": "Opted Out", "value": "-1", "status": "unrecognised", "rows": 1, "outcome": "non_marketing"}
    ]
    # An opt-out read from a name alone is said, file by file.
    warnings = source_warnings(report)
    assert any("unsubscribes.csv: its name says unsubscribed: 1 row(s)" in line for line in warnings)
    assert not any("unsubscribers.csv" in line or "cleaned.csv" in line for line in warnings)


@pytest.mark.parametrize(
    ("cell", "status"),
    [
        ("Opted-Out", "unsubscribed"),
        ("opted out", "unsubscribed"),
        ("Opt Out", "unsubscribed"),
        ("OPTOUT", "unsubscribed"),
        ("Unsubscribe", "unsubscribed"),
        ("Do Not Email", "unsubscribed"),
        ("do not contact", "unsubscribed"),
        ("Blacklisted", "unsubscribed"),
        ("Hard Bounced", "bounced"),
        ("hard bounce", "bounced"),
        ("Bounce", "bounced"),
        ("Lapsed", "unrecognised"),
        ("Spam", "unrecognised"),
    ],
)
def test_a_status_column_reads_the_words_a_flag_reads_as_its_opt_out(cell, status):
    # The flags read "opted-out" and "hard bounced"; a Status column saying them says as much.
    frame = pl.DataFrame({"Email": ["a@x.com"], "Status": [cell]})
    assert frame.select(reading_profile("generic").status_expr(["Email", "Status"]))[0, 0] == status


def test_a_status_reads_every_opt_out_word_the_flags_read():
    # The words are listed twice in generic.toml (a flag's rule and Status's): kept in step.
    rules = {rule.columns[0]: rule.values for rule in reading_profile("generic").rules}
    status = rules["Status"]
    assert rules["Unsubscribed"].items() <= status.items()
    assert {word: "bounced" for word in rules["Bounced"] if word != "suppressed"}.items() <= status.items()
