"""Of a repeated consent header's copies, a row keeps the one that speaks most strongly for its
consent, whatever the copies' order: a copy saying nothing (a flag not set) never beats one saying
something (a value no rule reads, which keeps the row from being marketing)."""

from __future__ import annotations

import polars as pl
import pytest

from tasks.extract.tables import read_source
from tasks.transform.catalog import reading_profile
from tests.plain_plan import plan
from tests.tasks.extract.test_tables import outcomes, planned, write_csv


def ranks(cells: list[str | None]) -> list[int | None]:
    """How strongly each cell of the fallback profile's ``Unsubscribed`` flag speaks for its row."""
    frame = pl.DataFrame({"Unsubscribed": cells}, schema={"Unsubscribed": pl.String})
    return frame.select(reading_profile("generic").copy_rank("Unsubscribed")).to_series().to_list()


def test_a_copy_saying_something_outranks_one_saying_nothing_of_the_same_outcome():
    n_a, false, maybe, yes = ranks(["N/A", "false", "maybe", "yes"])
    # Non-marketing all but "yes": "maybe" is unrecognised, the others the default status.
    assert n_a < false < maybe < yes


def test_a_no_in_an_opt_in_flag_still_outranks_a_yes():
    frame = pl.DataFrame({"Subscribed": ["no", "yes"]})
    no, yes = frame.select(reading_profile("generic").copy_rank("Subscribed")).to_series().to_list()
    assert no > yes


COPIES = [
    # copies, the value kept, the outcome
    (("false", "maybe"), "maybe", "non_marketing"),
    (("", "maybe"), "maybe", "non_marketing"),
    (("no", "opted out"), "opted out", "opted_out"),
    (("false", "N/A"), "false", "marketing"),
]


@pytest.mark.parametrize(("copies", "kept", "outcome"), COPIES, ids=["-".join(c[0]) for c in COPIES])
def test_the_kept_copy_and_the_outcome_do_not_depend_on_the_copies_order(tmp_path, copies, kept, outcome):
    rows = [["ann@x.com", "subscribed", *copies], ["bob@x.com", "subscribed", *reversed(copies)]]
    path = write_csv(tmp_path / "contacts.csv", ["Email", "Email Status", "Unsubscribed", "Unsubscribed"], rows)
    [read] = read_source(str(path), tmp_path / "staging")
    assert read.raw.frame.select("Unsubscribed").collect().to_series().to_list() == [kept, kept]
    assert outcomes(read) == {"ann@x.com": outcome, "bob@x.com": outcome}


def test_a_flag_not_set_beside_an_empty_copy_contradicts_an_opt_out_name_in_either_order(tmp_path):
    # Only a row whose consent cells all hold nothing takes its file's opt-out name.
    rows = [["ann@x.com", "N/A", "false"], ["bob@x.com", "false", "N/A"], ["cy@x.com", "N/A", ""]]
    path = write_csv(tmp_path / "unsubscribes.csv", ["Email", "Unsubscribed", "Unsubscribed"], rows)
    [read] = read_source(str(path), tmp_path / "staging")
    assert outcomes(read) == {"ann@x.com": "non_marketing", "bob@x.com": "non_marketing", "cy@x.com": "opted_out"}


def test_a_value_no_rule_reads_in_either_copy_keeps_the_row_out_of_the_marketing_import(tmp_path):
    rows = [
        ["ann@example.com", "subscribed", "false", "maybe"],
        ["bob@example.com", "subscribed", "maybe", "false"],
        ["cy@example.com", "subscribed", "false", ""],
    ]
    path = write_csv(tmp_path / "contacts.csv", ["Email", "Email Status", "Unsubscribed", "Unsubscribed"], rows)
    report = plan([str(path)], tmp_path / "out")
    assert report["contacts"] == {"marketing": 1, "non_marketing": 2, "opted_out": 0}
    files = planned(tmp_path / "out")
    assert set(files["contacts-marketing-001.csv"]) == {"cy@example.com"}
    assert {email: row["imported_unsubscribed"] for email, row in files["contacts-non-marketing-001.csv"].items()} == {
        "ann@example.com": "maybe",
        "bob@example.com": "maybe",
    }
    [unread] = report["sources"][0]["unread_status_values"]
    assert (unread["column"], unread["value"], unread["rows"]) == ("Unsubscribed", "maybe", 2)
